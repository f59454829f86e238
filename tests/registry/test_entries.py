"""The gateway entry an install writes, the values it asks for, and what
of the registry's data it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.config import servers as config
from mcpgateway.registry.choose import Choice, InstallError, choose
from mcpgateway.registry.entries import (
    MissingValue,
    Prompt,
    buildEntry,
    commandLine,
    defaultName,
    describeEntry,
    dockerRefusal,
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
    )
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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("--privileged", "true"),
        ("--cap-add", "SYS_ADMIN"),
        ("--network", "host"),
        ("--net", "container:db"),
        ("-v", "/var/run/docker.sock:/var/run/docker.sock"),
        ("--mount", "type=bind,src=/,dst=/host"),
        ("-v", "/:/host"),
        ("-v", "/.:/h"),
        ("-v", "//:/h"),
        ("--volume", "/var/run:/var/run"),
        ("-v", "/run/user/1000:/r"),
        ("--mount", "type=bind,source=/.,target=/h"),
        ("--mount", "type=bind,source=/etc/../etc,target=/h"),
        ("--env-file", "/home/u/.ssh/id_rsa"),
        ("-d", "true"),
    ],
)
def test_docker_options_that_give_the_host_away(name: str, value: str) -> None:
    assert dockerRefusal(name, value) is not None
    with pytest.raises(InstallError):
        buildEntry(ociChoice({"type": "named", "name": name, "value": value}), "x")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("-v", "data:/data"),
        ("-v", "/srv/app/data:/data:ro"),
        ("--mount", "type=volume,src=v,dst=/d"),
    ],
)
def test_docker_mounts_of_volumes_and_project_directories_pass(name: str, value: str) -> None:
    assert dockerRefusal(name, value) is None


def test_docker_options_stay_one_item_each() -> None:
    built = buildEntry(
        ociChoice(
            {"type": "named", "name": "--init", "value": "evil/image"},
            {"type": "named", "name": "-e", "value": "MODE=ro"},
        ),
        "x",
    )
    # "--init evil/image" would make evil/image the image; "--init=evil/image" cannot.
    assert built.entry["args"] == [
        "run",
        "-i",
        "--rm",
        "--init=evil/image",
        "-e=MODE=ro",
        "docker.io/acme/x:1",
    ]
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
