"""Registry data is outside input: whatever a registry answers, reading it,
choosing from it and building an entry either succeed or refuse with the
module's own error, and an entry built is an argv list whose program and
package spec are fixed, that the gateway's config loader takes, with no
C{${} reference the registry wrote and no control character."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.config import servers as config
from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.config.wrappers import parseWrapper
from mcpgateway.core.environment import isGatewayOwn
from mcpgateway.registry.choose import (
    NPM_NAME,
    PEP440,
    PYPI_NAME,
    SEMVER,
    InstallError,
    choose,
    parseImage,
)
from mcpgateway.registry.dockerrun import readDockerRun
from mcpgateway.registry.entries import (
    DOCKER_RUN,
    Built,
    badCharacter,
    buildEntry,
    describeEntry,
    promptsOf,
)
from mcpgateway.registry.schema import RegistryDataError, readServer
from mcpgateway.secrets.references import SECRET_NAME

NASTY = [
    "",
    "-y",
    "--privileged",
    "${HOME}",
    "${keyring:other}",
    "a;rm -rf ~",
    "$(id)",
    "`id`",
    "a b",
    "x\ny",
    "\x1b[2J",
    "\u202e",
    "{var}",
    "{var}-{other}",
    "host",
    "/",
    "/var/run/docker.sock:/x",
    "type=bind,src=/,dst=/h",
    "latest",
    "1.0.0",
    "@scope/name",
    "name",
    "ghcr.io/a/b:1",
    "a/b",
    "https://x.example/mcp",
    "http://[::1]:99999/",
    "{var}.example/mcp",
    "NODE_OPTIONS",
    "LD_PRELOAD",
    "API_KEY",
    "-e",
    "--mount",
    "--network",
]
texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=24))
maybe = st.one_of(st.none(), texts)
flags = st.one_of(st.none(), st.booleans())
FORMATS = ["string", "number", "boolean", "filepath"]


def some(*valid: Any) -> st.SearchStrategy[Any]:
    """One of C{valid} (often), or any text."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), texts)


values = st.one_of(st.none(), some("8080", "/data", "eu", "{var}", "{var}-{other}", "a=b"))


def inputs(withVariables: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, Any] = {
        "description": maybe,
        "isRequired": flags,
        "isSecret": flags,
        "format": st.one_of(
            st.none(), st.sampled_from(["string", "number", "boolean", "filepath"])
        ),
        "value": values,
        "default": values,
        "choices": st.one_of(st.none(), st.lists(texts, max_size=3)),
    }
    if withVariables:
        fields["variables"] = st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["var", "other", "x"]), inputs(False), max_size=2),
        )
    return st.fixed_dictionaries({}, optional=fields)


def arguments() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda base, kind, name, hint: {
            **base,
            **({"type": kind} if kind is not None else {}),
            **({"name": name} if name is not None else {}),
            **({"valueHint": hint} if hint is not None else {}),
        },
        inputs(),
        st.one_of(st.sampled_from(["positional", "named"]), st.sampled_from([None, "flag"])),
        st.one_of(some("--port", "-e", "--mount", "--network", "--x", "-v"), st.none()),
        st.one_of(some("name", "y", "x"), st.none()),
    )


def keyValues() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda base, name: {**base, "name": name},
        inputs(),
        some("API_KEY", "TOKEN", "X-Api-Key", "Authorization", "NODE_OPTIONS", "PATH"),
    )


transports = st.one_of(
    st.just({"type": "stdio"}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["stdio", "sse", "streamable-http", "ws"])},
        optional={"url": texts, "headers": st.lists(keyValues(), max_size=2)},
    ),
)
packages = st.fixed_dictionaries(
    {
        "registryType": st.sampled_from(["npm", "pypi", "oci", "npm", "pypi", "oci", "nuget"]),
        "identifier": some(
            "@scope/name",
            "name",
            "mcp-server-time",
            "ghcr.io/a/b:1",
            "a/b",
            "a/b@sha256:" + "a" * 64,
        ),
        "version": st.one_of(some("1.0.0", "2.1.0-rc.1", "0.6.2", "1!2.0.post1"), st.none()),
    },
    optional={
        "registryBaseUrl": st.sampled_from(
            [
                "https://registry.npmjs.org",
                "https://pypi.org",
                "https://ghcr.io",
                "https://x.example",
            ]
        ),
        "transport": transports,
        "runtimeArguments": st.lists(arguments(), max_size=3),
        "packageArguments": st.lists(arguments(), max_size=3),
        "environmentVariables": st.lists(keyValues(), max_size=3),
    },
)
remotes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["sse", "streamable-http", "streamable-http", "stdio"]),
        "url": some(
            "https://x.example/mcp", "https://{var}.example/mcp", "{var}/mcp", "http://h:1/"
        ),
    },
    optional={
        "headers": st.lists(keyValues(), max_size=2),
        "variables": st.dictionaries(st.sampled_from(["var", "other"]), inputs(False), max_size=2),
    },
)
servers = st.fixed_dictionaries(
    {"name": st.sampled_from(["io.github.a/b", "com.example/x y"]), "description": texts},
    optional={
        "version": maybe,
        "packages": st.lists(packages, max_size=3),
        "remotes": st.lists(remotes, max_size=2),
    },
)
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
PERSON_VALUES = st.dictionaries(
    st.sampled_from(
        [
            "var",
            "other",
            "x",
            "y",
            "name",
            "API_KEY",
            "TOKEN",
            "port",
            "X-Api-Key",
            "A",
            "e",
            "init",
        ]
    ),
    st.one_of(
        st.sampled_from(["https://h.example", "8080", "true", "v", ""]),
        st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co")),
            max_size=12,
        ),
    ).filter(lambda v: "${" not in v),
    max_size=5,
)


def everyString(entry: dict[str, Any]) -> list[str]:
    found = [entry.get("command", ""), entry.get("url", ""), *entry.get("args", [])]
    for key in ("env", "headers"):
        found += [*entry.get(key, {}).keys(), *entry.get(key, {}).values()]
    return [str(s) for s in found]


def checkBuilt(built: Built) -> None:
    entry = built.entry
    secretNames = {name for name, _ in built.secrets}
    for name, value in built.secrets:
        assert SECRET_NAME.fullmatch(name) and value
    for text in everyString(entry):
        assert badCharacter(text) is None, text
        for reference in re.findall(r"\$\{[^}]*\}?", text):
            assert reference[len("${keyring:") : -1] in secretNames, (reference, entry)
    for name in entry.get("env", {}):
        assert ENV_NAME.fullmatch(name) and not isDenied(name) and not isGatewayOwn(name)
    config.parseEntry(built.name, entry, {}, strict=True)  # the gateway takes it as it is
    assert describeEntry(built)
    if "url" in entry:
        assert set(entry) <= {"type", "url", "headers"} and entry["type"] in ("http", "sse")
        return
    command, args = entry["command"], entry["args"]
    assert command in ("npx", "uvx", "docker") and all(isinstance(a, str) for a in args)
    if command == "npx":
        assert args[0] == "-y"
        name, _, version = args[1].rpartition("@")
        assert NPM_NAME.fullmatch(name) and SEMVER.fullmatch(version)
        wrapper = parseWrapper(config.parseEntry(built.name, entry, {}))
        assert wrapper is not None and wrapper.package == args[1]
    elif command == "uvx":
        name, _, version = args[0].rpartition("@")
        assert PYPI_NAME.fullmatch(name) and PEP440.fullmatch(version)
        wrapper = parseWrapper(config.parseEntry(built.name, entry, {}))
        assert wrapper is not None and wrapper.package == args[0]
    else:
        assert tuple(args[:3]) == DOCKER_RUN
        i = 3
        while args[i].startswith("-"):  # each option one item, or -e NAME
            if args[i] == "-e":
                assert args[i + 1] in entry["env"]
                i += 2
            else:
                assert "=" in args[i]
                i += 1
        assert parseImage(args[i]) is not None
        run = readDockerRun(args, passable=entry.get("env", {}))  # as Docker reads it
        assert run.image == args[i] and run.mounts == built.mounts == ()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(server=servers, values=PERSON_VALUES, env=PERSON_VALUES, remote=st.booleans())
def test_any_server_json_installs_safely_or_is_refused(
    server: dict[str, Any], values: dict[str, str], env: dict[str, str], remote: bool
) -> None:
    try:
        detail = readServer({"server": server})
    except RegistryDataError:
        return
    try:
        choice = choose(detail, remote=remote, isAvailable=lambda program: True)
        promptsOf(choice)
        built = buildEntry(choice, "srv", values, env)
    except InstallError:
        return
    checkBuilt(built)


DANGEROUS = ["${HOME}", "${keyring:other}", "a\nb", "\x1b[2J", "\u202eevil", "x;$(id)", "-rf /"]
ARGUMENT_VALUES = st.one_of(
    st.sampled_from(DANGEROUS), st.sampled_from(["v", "8080", "{var}"]), texts
)


def wellFormedArguments(*kinds: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Arguments of C{kinds} whose shape is right, whatever their values."""
    return st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(kinds),
                "name": st.sampled_from(["--port", "-e", "--init", "--x", "-p"]),
                "valueHint": st.sampled_from(["x", "y"]),
            },
            optional={
                "value": ARGUMENT_VALUES,
                "default": ARGUMENT_VALUES,
                "isRequired": st.booleans(),
                "isSecret": st.booleans(),
                "variables": st.fixed_dictionaries({"var": inputs(False)}),
            },
        ),
        min_size=1,
        max_size=4,
    )


GOOD_ENVIRONMENT = st.lists(
    st.builds(lambda base, name: {**base, "name": name}, inputs(), st.sampled_from(["A", "B"])),
    max_size=2,
)
WELL_FORMED_PACKAGES = st.one_of(
    st.fixed_dictionaries(
        {
            "registryType": st.sampled_from(["npm", "pypi"]),
            "identifier": st.just("name"),
            "version": st.just("1.0.0"),
            "packageArguments": wellFormedArguments("positional", "named"),
            "environmentVariables": GOOD_ENVIRONMENT,
        }
    ),
    st.fixed_dictionaries(
        {
            "registryType": st.just("oci"),
            "identifier": st.just("ghcr.io/a/b:1"),
            "runtimeArguments": wellFormedArguments("named"),
            "packageArguments": wellFormedArguments("positional", "named"),
            "environmentVariables": GOOD_ENVIRONMENT,
        }
    ),
)


@settings(max_examples=300, deadline=None)
@given(package=WELL_FORMED_PACKAGES, values=PERSON_VALUES, env=PERSON_VALUES)
def test_arguments_stay_arguments(
    package: dict[str, Any], values: dict[str, str], env: dict[str, str]
) -> None:
    """Packages whose arguments are well formed and whose values are not:
    an argument never becomes an option of the runner or the image."""
    detail = readServer({"server": {"name": "a.b/c", "description": "", "packages": [package]}})
    try:
        built = buildEntry(choose(detail, isAvailable=lambda p: True), "srv", values, env)
    except InstallError:
        return
    checkBuilt(built)


server_shaped = st.fixed_dictionaries(
    {"name": st.text(max_size=20)},
    optional={
        key: junk
        for key in ("description", "version", "title", "packages", "remotes", "repository")
    },
)


@settings(max_examples=200, deadline=None)
@given(answer=junk | server_shaped)
def test_any_answer_is_read_or_refused(answer: Any) -> None:
    """Any answer is refused with L{RegistryDataError}, or read as a server
    with a name, a description and a version that are text."""
    for document in (answer, {"server": answer}):
        try:
            server = readServer(document)
        except RegistryDataError:
            continue
        assert all(isinstance(x, str) for x in (server.name, server.description, server.version))
