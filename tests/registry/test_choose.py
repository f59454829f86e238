"""Which package or remote an install chooses, and the identifiers,
versions and package registries it refuses."""

from __future__ import annotations

import pytest

from mcpgateway.registry.choose import InstallError, choose, packageSpec, refusal
from mcpgateway.registry.schema import Package, Transport, readServer
from tests.registry.support import document, recorded

STDIO = Transport("stdio")


def package(kind: str, identifier: str, version: str | None = "1.0.0", **more: object) -> Package:
    return Package(kind, identifier, more.pop("transport", STDIO), version, **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "spec"),
    [
        (package("npm", "@scope/name"), "@scope/name@1.0.0"),
        (package("npm", "name", "2.0.0-rc.1+b5"), "name@2.0.0-rc.1+b5"),
        (package("pypi", "mcp-server-time", "0.6.2"), "mcp-server-time@0.6.2"),
        (package("pypi", "Some_Name", "1!2.0.post1.dev3"), "Some_Name@1!2.0.post1.dev3"),
        (package("oci", "ghcr.io/acme/pg:2.1.0", None), "ghcr.io/acme/pg:2.1.0"),
        (package("oci", "acme/pg", "2.1.0"), "acme/pg:2.1.0"),
        (
            package("oci", "acme/pg", "2.1.0", registryBaseUrl="https://ghcr.io"),
            "ghcr.io/acme/pg:2.1.0",
        ),
        (
            package("oci", "acme/pg", "2.1.0", registryBaseUrl="https://docker.io"),
            "acme/pg:2.1.0",
        ),
        (package("oci", "localhost:5000/a/b@sha256:" + "a" * 64, None), None),
    ],
)
def test_the_spec_a_runner_is_given(given: Package, spec: str | None) -> None:
    assert packageSpec(given) == (spec or given.identifier)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (package("npm", "-y"), "not an npm package name"),
        (package("npm", "a b"), "not an npm package name"),
        (package("npm", "x;rm -rf ~"), "not an npm package name"),
        (package("npm", "name", "^1.2.3"), "not an exact version"),
        (package("npm", "name", "latest"), "not an exact version"),
        (package("npm", "name", None), "not an exact version"),
        (package("npm", "git+https://github.com/a/b"), "not an npm package name"),
        (package("pypi", "--with=evil"), "not a Python package name"),
        (package("pypi", "name", ">=1.0"), "not an exact version"),
        (package("oci", "acme/pg", None), "no tag or digest"),
        (package("oci", "acme/pg", "latest"), "no tag or digest"),
        (package("oci", "--privileged", "1"), "not an image reference"),
        (package("oci", "Acme/PG:1", None), "not an image reference"),
        (package("nuget", "Acme.Tool"), "registry type 'nuget' is not installed"),
        (package("mcpb", "https://github.com/a/b/releases/x.mcpb"), "'mcpb' is not installed"),
        (
            package("npm", "name", transport=Transport("streamable-http", "http://localhost:3000")),
            "runs an HTTP server of its own",
        ),
        (package("npm", "name", registryBaseUrl="https://npm.evil.example"), "other package"),
        (package("pypi", "name", registryBaseUrl="https://test.pypi.org"), "other package"),
        (
            package("npm", "name", runtimeArguments=(object(),)),
            "gives npx options of its own",
        ),
        (package("npm", "a" * 300), "longer than 255"),
    ],
)
def test_what_is_refused_and_why(given: Package, why: str) -> None:
    reason = refusal(given)
    assert reason is not None and why in reason


def test_the_defaults_of_the_registries_are_accepted() -> None:
    assert refusal(package("npm", "x", registryBaseUrl="https://registry.npmjs.org/")) is None
    assert refusal(package("pypi", "x", registryBaseUrl="https://pypi.org")) is None


def test_a_stdio_package_is_preferred_over_a_remote() -> None:
    server = recorded("io.github.acme/weather")
    assert choose(server).kind == "npm"
    assert choose(server, remote=True).kind == "remote"
    assert choose(server, kind="remote").remote is server.remotes[0]


def test_a_package_whose_program_is_here_comes_first() -> None:
    server = readServer(
        document(
            packages=[
                {"registryType": "oci", "identifier": "a/b:1", "transport": {"type": "stdio"}},
                {"registryType": "pypi", "identifier": "b", "version": "1.0"},
                {"registryType": "npm", "identifier": "c", "version": "1.0.0"},
            ]
        )
    )
    assert choose(server, isAvailable=lambda program: True).kind == "npm"
    assert choose(server, isAvailable=lambda program: program == "docker").kind == "oci"
    assert choose(server, isAvailable=lambda program: program != "npx").kind == "pypi"
    assert choose(server, kind="oci", isAvailable=lambda program: True).kind == "oci"


def test_a_remote_is_chosen_when_no_package_can_be() -> None:
    server = recorded("com.example/search")
    choice = choose(server)
    assert choice.kind == "remote" and choice.remote is server.remotes[0]


def test_nothing_installable_lists_every_reason() -> None:
    with pytest.raises(InstallError) as caught:
        choose(recorded("io.github.acme/dotnet-tools"))
    lines = str(caught.value).splitlines()
    assert lines[0] == "io.github.acme/dotnet-tools cannot be installed:"
    assert "registry type 'nuget'" in lines[1] and "registry type 'mcpb'" in lines[2]


def test_asking_for_a_kind_it_does_not_have() -> None:
    with pytest.raises(InstallError, match=r"as its pypi package:\n  it lists nothing"):
        choose(recorded("io.github.acme/weather"), kind="pypi")
    with pytest.raises(InstallError, match="as a remote"):
        choose(recorded("io.github.acme/time"), remote=True)
    broken = readServer(document(remotes=[{"type": "websocket", "url": "wss://x"}, {"x": 1}]))
    with pytest.raises(InstallError) as caught:
        choose(broken)
    assert "remotes[1]: 'type' is missing" in str(caught.value)
    assert "'websocket' is not streamable-http or sse" in str(caught.value)
