"""Reading a registry's C{ServerResponse}: the recorded servers, and what is
left out (with its reason) or refused."""

from __future__ import annotations

import pytest

from mcpgateway.registry.schema import (
    MAX_ITEMS,
    MAX_TEXT,
    RegistryDataError,
    readServer,
    readSummary,
)
from tests.registry.support import document, recorded


def test_an_npm_server_with_a_secret_variable_and_a_remote() -> None:
    server = recorded("io.github.acme/weather")
    assert (server.name, server.version, server.status) == (
        "io.github.acme/weather",
        "1.4.2",
        "active",
    )
    assert server.kinds == ("npm", "remote")
    [package] = server.packages
    assert (package.registryType, package.identifier, package.version) == (
        "npm",
        "@acme/weather-mcp",
        "1.4.2",
    )
    key, units = package.environmentVariables
    assert (key.name, key.input.isRequired, key.input.isSecret) == ("WEATHER_API_KEY", True, True)
    assert (units.input.default, units.input.choices) == ("celsius", ("celsius", "fahrenheit"))
    [remote] = server.remotes
    [header] = remote.headers
    assert header.input.value == "Bearer {api_key}"
    assert dict(header.input.variables)["api_key"].isSecret
    assert server.repositoryUrl == "https://github.com/acme/weather-mcp"


def test_an_older_version_and_an_oci_package_with_a_variable() -> None:
    assert recorded("io.github.acme/weather", "1.3.0").version == "1.3.0"
    [package] = recorded("io.github.acme/postgres").packages
    [mount] = package.runtimeArguments
    assert (mount.type, mount.name) == ("named", "--mount")
    assert dict(mount.input.variables)["results_dir"].format == "filepath"
    [results] = package.packageArguments
    assert (results.type, results.valueHint, results.input.value) == (
        "positional",
        "results_path",
        "/results",
    )


def test_a_bare_server_json_is_read_too() -> None:
    bare = document()["server"]
    assert readServer(bare).name == "io.github.test/server"


def test_a_package_that_cannot_be_read_is_left_out_with_its_reason() -> None:
    server = readServer(
        document(
            packages=[
                {"registryType": "npm", "identifier": 7, "version": "1.0.0"},
                {"registryType": "npm", "identifier": "ok", "version": "1.0.0"},
                "nonsense",
            ],
            remotes=[{"type": "sse"}],
        )
    )
    assert [p.identifier for p in server.packages] == ["ok"]
    assert server.packages[0].transport.type == "stdio"  # none given: stdio
    assert server.problems == (
        "packages[0]: 'identifier' must be a string",
        "packages[2] must be an object",
        "remotes[0]: 'url' is missing",
    )
    assert server.remotes == ()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "the answer must be an object"),
        ({"server": 3}, "'server' must be an object"),
        ({"server": {"description": "x"}}, "'name' is missing"),
        (document(packages={"a": 1}), "'packages' must be a list"),
        (document(packages=[{}] * (MAX_ITEMS + 1)), f"more than {MAX_ITEMS} items"),
        (document(description="x" * (MAX_TEXT + 1)), "longer than"),
    ],
)
def test_a_server_that_cannot_be_read_is_refused(answer: object, message: str) -> None:
    with pytest.raises(RegistryDataError, match=message):
        readServer(answer)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"type": "flag", "value": "x"}, "'type' must be"),
        ({"type": "named"}, "'name' is missing"),
        ({"type": "positional", "isRequired": "yes", "value": "x"}, "true or false"),
        ({"type": "positional", "value": "x", "choices": [1]}, "list of strings"),
        ({"type": "positional", "value": "x", "variables": []}, "must be an object"),
    ],
)
def test_an_argument_of_the_wrong_shape_is_noted(argument: object, message: str) -> None:
    server = readServer(
        document(
            packages=[{"registryType": "npm", "identifier": "x", "packageArguments": [argument]}]
        )
    )
    assert server.packages == ()
    [problem] = server.problems
    assert problem.startswith("packages[0].packageArguments[0]") and message in problem


def test_the_registry_status_is_read_from_its_metadata() -> None:
    answer = document()
    answer["_meta"] = {
        "io.modelcontextprotocol.registry/official": {
            "status": "deprecated",
            "statusMessage": "use io.github.test/other",
        }
    }
    server = readServer(answer)
    assert (server.status, server.statusMessage) == ("deprecated", "use io.github.test/other")
    answer["_meta"] = {"io.modelcontextprotocol.registry/official": {"status": 3}}
    assert readServer(answer).status is None


def test_a_summary_is_read_leniently() -> None:
    summary = readSummary(
        document(
            description=5,
            packages=[{"registryType": "npm"}, {"registryType": "npm"}, "x", {"registryType": 2}],
            remotes=[{"type": "sse"}],
        )
    )
    assert (summary.description, summary.kinds) == ("", ("npm", "remote"))
    with pytest.raises(RegistryDataError):
        readSummary({"server": {"description": "no name"}})
