"""The gateway entry an install writes, the values it asks for, and what
of the registry's data it refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mcpgateway.config import servers as config
from mcpgateway.registry.choose import Choice, InstallError, choose
from mcpgateway.registry.entries import (
    HostMount,
    HostPathNeeded,
    MissingValue,
    Prompt,
    buildEntry,
    commandLine,
    defaultName,
    describeEntry,
    promptsOf,
)
from mcpgateway.registry.schema import readServer
from tests.registry.support import document, recorded


def npmChoice(**package: Any) -> Choice:
    """The choice of a server with one npm package (C{package}'s fields)."""
    server = readServer(
        document(
            packages=[
                {
                    "registryType": "npm",
                    "identifier": "@test/server",
                    "version": "1.0.0",
                    "transport": {"type": "stdio"},
                    **package,
                }
            ]
        )
    )
    return choose(server)


def test_npm_runs_with_npx_and_its_secret_is_a_reference() -> None:
    choice = choose(recorded("io.github.acme/weather"))
    assert promptsOf(choice) == [
        Prompt(
            "WEATHER_API_KEY",
            env=True,
            description="Your Acme weather API key",
            required=True,
            secret=True,
        ),
        Prompt(
            "WEATHER_UNITS",
            env=True,
            description="Temperature units",
            default="celsius",
            choices=("celsius", "fahrenheit"),
        ),
    ]
    built = buildEntry(choice, "weather", envValues={"WEATHER_API_KEY": "k-123"})
    assert built.entry == {
        "command": "npx",
        "args": ["-y", "@acme/weather-mcp@1.4.2"],
        "env": {
            "WEATHER_API_KEY": "${keyring:weather.WEATHER_API_KEY}",
            "WEATHER_UNITS": "celsius",
        },
    }
    assert built.secrets == (("weather.WEATHER_API_KEY", "k-123"),)
    assert "k-123" not in str(built.entry) and "k-123" not in "\n".join(describeEntry(built))
    config.parseEntry("weather", built.entry, {}, strict=True)  # the API would take it


def test_a_required_value_not_given_is_missing() -> None:
    choice = choose(recorded("io.github.acme/weather"))
    with pytest.raises(MissingValue) as caught:
        buildEntry(choice, "weather")
    assert caught.value.prompt.key == "WEATHER_API_KEY"
    assert str(caught.value) == "WEATHER_API_KEY needs a value (--env WEATHER_API_KEY=VALUE)"


def test_pypi_runs_with_uvx_at_its_exact_version() -> None:
    choice = choose(recorded("io.github.acme/time"))
    [prompt] = promptsOf(choice)
    assert (prompt.key, prompt.env, prompt.required) == ("local-timezone", False, False)
    assert buildEntry(choice, "time").entry == {"command": "uvx", "args": ["mcp-server-time@0.6.2"]}
    named = buildEntry(choice, "time", {"local-timezone": "Europe/Paris"})
    assert named.entry["args"] == ["mcp-server-time@0.6.2", "--local-timezone=Europe/Paris"]


def test_oci_runs_docker_with_its_variables_passed_by_name() -> None:
    choice = choose(recorded("io.github.acme/postgres"))
    assert [(p.key, p.env, p.required, p.secret) for p in promptsOf(choice)] == [
        ("DATABASE_URL", True, True, True),
        ("PG_STATEMENT_TIMEOUT", True, False, False),
        ("results_dir", False, True, False),
    ]
    built = buildEntry(
        choice,
        "pg",
        {"results_dir": "/srv/results"},
        {"DATABASE_URL": "postgres://u:p@h/db"},
        hostPaths=["/srv/results"],
    )
    assert built.mounts == (HostMount("/srv/results", "/results", False, "--mount"),)
    assert built.entry == {
        "command": "docker",
        "args": [
            "run",
            "-i",
            "--rm",
            "--mount=type=bind,src=/srv/results,dst=/results",
            "-e",
            "DATABASE_URL",
            "-e",
            "PG_STATEMENT_TIMEOUT",
            "ghcr.io/acme/postgres-mcp:2.1.0",
            "/results",
        ],
        "env": {"DATABASE_URL": "${keyring:pg.DATABASE_URL}", "PG_STATEMENT_TIMEOUT": "30000"},
    }
    assert "postgres://" not in " ".join(built.entry["args"])


def test_a_remote_with_a_url_variable_and_a_secret_header() -> None:
    choice = choose(recorded("com.example/search"))
    built = buildEntry(choice, "search", {"tenant": "acme", "X-API-Key": "s3cret"})
    assert built.entry == {
        "type": "http",
        "url": "https://acme.search.example.com/mcp",
        "headers": {"X-API-Key": "${keyring:search.X-API-Key}"},
    }
    assert built.secrets == (("search.X-API-Key", "s3cret"),)
    assert commandLine(built.entry) == "http https://acme.search.example.com/mcp"


def test_a_header_with_a_secret_part_is_kept_whole() -> None:
    choice = choose(recorded("io.github.acme/weather"), remote=True)
    assert [p.key for p in promptsOf(choice)] == ["api_key"]
    built = buildEntry(choice, "weather", {"api_key": "abc"})
    assert built.entry["headers"] == {"Authorization": "${keyring:weather.Authorization}"}
    assert built.secrets == (("weather.Authorization", "Bearer abc"),)


def test_a_url_variable_given_a_host_is_checked() -> None:
    choice = choose(recorded("com.example/search"))
    with pytest.raises(InstallError, match="printable ASCII without spaces"):
        buildEntry(choice, "s", {"tenant": "a b", "X-API-Key": "k"})


def test_named_arguments_and_positional_ones() -> None:
    choice = npmChoice(
        packageArguments=[
            {"type": "positional", "value": "serve"},
            {"type": "named", "name": "--port", "default": "8080", "format": "number"},
            {"type": "named", "name": "-c", "valueHint": "config", "isRequired": True},
            {"type": "named", "name": "--token", "isRequired": True, "isSecret": True},
            {"type": "positional", "valueHint": "root", "format": "filepath"},
            {"type": "named", "name": "--verbose", "format": "boolean"},
        ]
    )
    built = buildEntry(
        choice, "t", {"c": "/etc/t.yml", "token": "tok", "root": "~/data", "verbose": "TRUE"}
    )
    home = __import__("os").path.expanduser("~")
    assert built.entry["args"] == [
        "-y",
        "@test/server@1.0.0",
        "serve",
        "--port=8080",
        "-c",
        "/etc/t.yml",
        "--token",
        "${keyring:t.token}",
        f"{home}/data",
        "--verbose=true",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "fast"}, "must be one of safe, slow"),
        ({"count": "many"}, "must be a number"),
        ({"flag": "yes"}, "must be true or false"),
        ({"mode": "a\x00b"}, "NUL"),
    ],
)
def test_a_value_given_is_checked(values: dict[str, str], message: str) -> None:
    choice = npmChoice(
        packageArguments=[
            {"type": "named", "name": "--mode", "choices": ["safe", "slow"]},
            {"type": "named", "name": "--count", "format": "number"},
            {"type": "named", "name": "--flag", "format": "boolean"},
        ]
    )
    with pytest.raises(InstallError, match=message):
        buildEntry(choice, "t", values)


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ({"environmentVariables": [{"name": "LD_PRELOAD", "value": "/x.so"}]}, "steers"),
        ({"environmentVariables": [{"name": "NODE_OPTIONS", "default": "-r x"}]}, "steers"),
        ({"environmentVariables": [{"name": "PATH", "value": "/tmp"}]}, "steers"),
        ({"environmentVariables": [{"name": "MCPGATEWAY_API_TOKEN"}]}, "steers"),
        ({"environmentVariables": [{"name": "A-B", "value": "x"}]}, "not an environment"),
        ({"environmentVariables": [{"name": "T", "value": "${HOME}"}]}, "would expand"),
        ({"environmentVariables": [{"name": "T", "default": "${keyring:other}"}]}, "expand"),
        ({"packageArguments": [{"type": "positional", "value": "a\nb"}]}, "U\\+000A"),
        ({"packageArguments": [{"type": "positional", "value": "\x1b[2J"}]}, "U\\+001B"),
        ({"packageArguments": [{"type": "positional", "value": "\u202eevil"}]}, "U\\+202E"),
        ({"packageArguments": [{"type": "named", "name": "x y", "value": "1"}]}, "not an option"),
        ({"packageArguments": [{"type": "named", "name": "", "value": "1"}]}, "not an option"),
    ],
)
def test_registry_data_that_is_refused(package: dict[str, Any], message: str) -> None:
    with pytest.raises(InstallError, match=message):
        promptsOf(npmChoice(**package))


def ociChoice(*runtime: dict[str, Any]) -> Choice:
    server = readServer(
        document(
            packages=[
                {
                    "registryType": "oci",
                    "identifier": "docker.io/acme/x:1",
                    "transport": {"type": "stdio"},
                    "runtimeArguments": list(runtime),
                }
            ]
        )
    )
    return choose(server)


def test_a_host_path_is_mounted_only_when_that_exact_path_is_approved() -> None:
    choice = choose(recorded("io.github.acme/postgres"))
    values, env = {"results_dir": "/srv/results"}, {"DATABASE_URL": "x"}
    for approved in ([], ["/srv"], ["/srv/results/sub"], ["srv/results"]):
        with pytest.raises(HostPathNeeded) as caught:
            buildEntry(choice, "pg", values, env, hostPaths=approved)
        assert caught.value.mounts == (HostMount("/srv/results", "/results", False, "--mount"),)
        assert "/srv/results (read-write, at /results in the container)" in str(caught.value)
    for approved in (["/srv/results"], ["/srv/results/"], ["/srv/./results"]):
        built = buildEntry(choice, "pg", values, env, hostPaths=approved)
        assert [m.path for m in built.mounts] == ["/srv/results"]
    built = buildEntry(choice, "pg", {"results_dir": "/srv//results/."}, env, ["/srv/results"])
    assert built.mounts[0].path == "/srv/results"
    assert "host path: /srv/results (read-write, at /results in the container)" in (
        describeEntry(built)
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("--privileged", "true", "--privileged gives the container the host's devices"),
        ("--cap-add", "SYS_ADMIN", "--cap-add gives"),
        ("--network", "host", "--network=host shares the host's network"),
        ("--net", "container:db", "shares another container's network"),
        ("--pid", "host", "--pid=host shares the host's process namespace"),
        ("--security-opt", "seccomp=unconfined", "lifts the container's confinement"),
        ("-v", "/var/run/docker.sock:/var/run/docker.sock", "/var/run/docker.sock"),
        ("--mount", "type=bind,src=/,dst=/host", "root directory"),
        ("-v", "/:/host", "root directory"),
        ("-v", "/.:/h", "root directory"),
        ("-v", "//:/h", "root directory"),
        ("--volume", "/var/run:/var/run", "/var/run"),
        ("-v", "/run/user/1000:/r", "/run/user/1000"),
        ("-v", "../../..:/h", "relative"),
        ("--mount", "type=bind,source=/etc/../etc,target=/h", "'..'"),
        ("--volumes-from", "db", "--volumes-from gives the container another container's"),
        ("--env-file", "/home/u/.ssh/id_rsa", "--env-file passes variables"),
        ("-e", "LD_PRELOAD=/x.so", "-e LD_PRELOAD: the variable steers a loader"),
        ("-e", "GITHUB_TOKEN", "would pass the gateway's own GITHUB_TOKEN"),
        ("-d", "true", "-d detaches"),
        ("--add-host", "x:1.2.3.4", "--add-host is not one the gateway knows"),
    ],
)
def test_docker_options_that_give_the_host_away(name: str, value: str, message: str) -> None:
    choice = ociChoice({"type": "named", "name": name, "value": value})
    with pytest.raises(InstallError, match=re.escape(message)):
        promptsOf(choice)
    with pytest.raises(InstallError, match=re.escape(message)) as caught:
        buildEntry(choice, "x", hostPaths=["/", "/etc", "/var/run", "/run/user/1000"])
    assert not isinstance(caught.value, HostPathNeeded)


@pytest.mark.parametrize(
    ("name", "value", "mounts"),
    [
        ("-v", "data:/data", []),
        ("--mount", "type=volume,src=v,dst=/d", []),
        ("--mount", "type=tmpfs,dst=/t", []),
        ("-v", "/srv/app/data:/data:ro", ["/srv/app/data"]),
        ("-v", "/etc/cron.d:/c", ["/etc/cron.d"]),
        ("--volume", "/root/.ssh:/s", ["/root/.ssh"]),
        (
            "--mount",
            "type=volume,dst=/d,volume-opt=o=bind,volume-opt=device=/usr/bin",
            ["/usr/bin"],
        ),
    ],
)
def test_docker_mounts_of_volumes_pass_and_host_paths_need_approval(
    name: str, value: str, mounts: list[str]
) -> None:
    choice = ociChoice({"type": "named", "name": name, "value": value})
    if mounts:
        with pytest.raises(HostPathNeeded) as caught:
            buildEntry(choice, "x")
        assert [m.path for m in caught.value.mounts] == mounts
    built = buildEntry(choice, "x", hostPaths=mounts)
    assert [m.path for m in built.mounts] == mounts


def test_docker_options_stay_one_item_each() -> None:
    built = buildEntry(
        ociChoice(
            {"type": "named", "name": "--entrypoint", "value": "evil/image"},
            {"type": "named", "name": "-e", "value": "MODE=ro"},
        ),
        "x",
    )
    # "--entrypoint evil/image" would be read the same, but "--user evil/image" made of
    # two items would not: each option is one item, whatever its value.
    assert built.entry["args"] == [
        "run",
        "-i",
        "--rm",
        "--entrypoint=evil/image",
        "-e=MODE=ro",
        "docker.io/acme/x:1",
    ]
    with pytest.raises(InstallError, match="--init='evil/image': not true or false"):
        buildEntry(ociChoice({"type": "named", "name": "--init", "value": "evil/image"}), "x")
    with pytest.raises(InstallError, match="read as the image"):
        buildEntry(ociChoice({"type": "positional", "value": "evil/image"}), "x")
    with pytest.raises(InstallError, match="secret on a command line"):
        buildEntry(
            ociChoice(
                {
                    "type": "named",
                    "name": "-e",
                    "value": "K={k}",
                    "variables": {"k": {"isSecret": True}},
                }
            ),
            "x",
            {"k": "v"},
        )


def test_a_variable_asked_in_two_places_is_one_prompt() -> None:
    variable = {"region": {"description": "Region", "isRequired": True}}
    choice = npmChoice(
        packageArguments=[
            {"type": "named", "name": "--a", "value": "{region}-a", "variables": variable},
            {"type": "named", "name": "--b", "value": "{region}-b", "variables": variable},
            {"type": "named", "name": "--c", "value": "{unknown}"},
        ]
    )
    assert [p.key for p in promptsOf(choice)] == ["region"]
    built = buildEntry(choice, "x", {"region": "eu"})
    assert built.entry["args"][2:] == ["--a=eu-a", "--b=eu-b", "--c={unknown}"]


def test_a_remote_url_with_a_secret_is_refused() -> None:
    server = readServer(
        document(
            remotes=[
                {
                    "type": "sse",
                    "url": "https://x.example/{key}/sse",
                    "variables": {"key": {"isSecret": True, "isRequired": True}},
                }
            ]
        )
    )
    with pytest.raises(InstallError, match="URL needs a secret"):
        buildEntry(choose(server), "x", {"key": "k"})


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("io.github.acme/weather", "weather"),
        ("com.example/My Server!", "My-Server"),
        ("a.b/---", "server"),
        ("a.b/" + "x" * 100, "x" * 64),
    ],
)
def test_the_default_local_name(name: str, local: str) -> None:
    assert defaultName(name) == local


def test_a_local_name_is_checked() -> None:
    with pytest.raises(InstallError, match="1-64 letters"):
        buildEntry(choose(recorded("io.github.acme/time")), "a/b")


def test_the_lines_a_person_confirms_escape_what_a_terminal_would_run() -> None:
    built = buildEntry(
        npmChoice(packageArguments=[{"type": "named", "name": "--x", "isRequired": True}]),
        "t",
        {"x": "a b;$(rm -rf ~)\x1b[2J"},
    )
    lines = describeEntry(built)
    assert lines == ["runs: npx -y @test/server@1.0.0 '--x=a b;$(rm -rf ~)\\x1b[2J'"]
