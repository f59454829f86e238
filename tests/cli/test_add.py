"""C{mcpgateway add NAME}: from the recorded registry (a fake fetch) to the
running gateway's API (a fake opener) or to C{servers.json} (a temporary
state directory), with a fake terminal and a fake secret store."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.add import AddSeams, cmdAdd, runAdd
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.main import makeParser
from mcpgateway.cli.output import CliError, Output
from mcpgateway.ops.gatewayprobe import GatewayProbe
from tests.fixtures.registry_server import RecordedRegistry
from tests.registry.support import ROOT, recordedFetch

EVERYTHING = "io.github.modelcontextprotocol/everything"


class FakeResponse(io.BytesIO):
    status = 200


class FakeApi:
    """The running gateway's management API: records each request and
    answers the summary of the server added."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []

    def open(self, request: Any, timeout: float) -> FakeResponse:
        body: dict[str, Any] = json.loads(request.data)
        self.requests.append((request.get_method(), request.full_url, body))
        return FakeResponse(json.dumps({"name": body["name"], "share": "session"}).encode())


class Person:
    """A fake terminal: the answers it gives, and what it was asked."""

    def __init__(self, *answers: str, interactive: bool = True) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, bool]] = []
        self.interactive = interactive

    def ask(self, prompt: str) -> str:
        self.asked.append((prompt, False))
        return self.answers.pop(0)

    def askSecret(self, prompt: str) -> str:
        self.asked.append((prompt, True))
        return self.answers.pop(0)


class Add:
    """Runs C{mcpgateway add ...} with fakes: a running gateway when
    C{running}, else a state directory of its own; C{npx}, C{uvx} and
    C{docker} on its C{PATH}."""

    def __init__(self, tmp_path: Path, running: bool = False, person: Person | None = None) -> None:
        self.stateDir = tmp_path / "state"
        bin = tmp_path / "bin"
        bin.mkdir(exist_ok=True)
        for program in ("npx", "uvx", "docker"):
            (bin / program).write_text("#!/bin/sh\n")
            (bin / program).chmod(0o755)
        self.api = FakeApi()
        self.person = person or Person(interactive=False)
        self.secrets: list[tuple[str, str]] = []
        self.stores: list[Path] = []
        state = {"pid": os.getpid(), "port": 9100, "interface": "127.0.0.1"}
        probe = GatewayProbe(self.stateDir, state, alive=running, locked=running)
        self.ctx = CliContext(http=GatewayClient(self.api, environ={}), probe=lambda path: probe)

        def store(stateDir: Path) -> Any:
            self.stores.append(stateDir)
            return lambda name, value: self.secrets.append((name, value))

        self.seams = AddSeams(
            fetch=recordedFetch(RecordedRegistry.fromDirectory()),
            environ={"PATH": str(bin), "MY_KEY": "from-the-shell"},
            interactive=lambda: self.person.interactive,
            ask=self.person.ask,
            askSecret=self.person.askSecret,
            storeSecret=store,
        )
        self.stdout, self.stderr = io.StringIO(), io.StringIO()

    def __call__(self, *argv: str) -> int:
        args = makeParser().parse_args(
            ["add", *argv, "--registry", ROOT, "--state-dir", str(self.stateDir)]
        )
        assert args.handler is cmdAdd
        return runAdd(args, Output(args.json, self.stdout, self.stderr), self.ctx, self.seams)

    def servers(self) -> dict[str, Any]:
        data: dict[str, dict[str, Any]] = json.loads((self.stateDir / "servers.json").read_text())
        return data["mcpServers"]


def test_add_through_the_running_gateway(tmp_path: Path) -> None:
    add = Add(tmp_path, running=True)
    assert add(EVERYTHING, "--yes") == 0
    assert add.api.requests == [
        (
            "POST",
            "http://127.0.0.1:9100/api/v1/servers",
            {
                "name": "everything",
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31", "stdio"],
            },
        )
    ]
    assert add.stdout.getvalue() == (
        "added everything (share: session): http://127.0.0.1:9100/everything/mcp\n"
    )
    assert add.stderr.getvalue().splitlines() == [
        f"{EVERYTHING} 2026.8.31 (npm) as everything:",
        "  runs: npx -y @modelcontextprotocol/server-everything@2026.8.31 stdio",
    ]
    assert not (add.stateDir / "servers.json").exists()


def test_add_without_a_gateway_writes_servers_json(tmp_path: Path) -> None:
    add = Add(tmp_path)
    assert add(EVERYTHING, "--yes", "--as", "ref") == 0
    assert add.servers() == {
        "ref": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31", "stdio"],
        }
    }
    assert (add.stateDir.stat().st_mode & 0o777) == 0o700
    assert add.stdout.getvalue().startswith(f"added ref to {add.stateDir / 'servers.json'}")
    with pytest.raises(CliError, match="has a server named ref: choose another --as NAME"):
        add(EVERYTHING, "--yes", "--as", "ref")
    assert add(EVERYTHING, "--yes") == 0
    assert sorted(add.servers()) == ["everything", "ref"]


def test_without_a_gateway_the_entry_is_checked_as_the_api_would(tmp_path: Path) -> None:
    add = Add(tmp_path)
    add.seams.environ = {"PATH": str(tmp_path / "empty")}
    with pytest.raises(CliError, match="'npx' was not found on PATH"):
        add(EVERYTHING, "--yes")
    (add.stateDir / "servers.json").write_text("[1]")
    with pytest.raises(CliError, match="must hold a JSON object"):
        Add(tmp_path)(EVERYTHING, "--yes")


def test_a_secret_is_stored_and_referenced(tmp_path: Path) -> None:
    add = Add(tmp_path)
    assert add("io.github.acme/weather", "--yes", "--env", "WEATHER_API_KEY=k-1") == 0
    assert add.secrets == [("weather.WEATHER_API_KEY", "k-1")]
    assert add.stores == [add.stateDir]
    assert add.servers()["weather"] == {
        "command": "npx",
        "args": ["-y", "@acme/weather-mcp@1.4.2"],
        "env": {
            "WEATHER_API_KEY": "${keyring:weather.WEATHER_API_KEY}",
            "WEATHER_UNITS": "celsius",
        },
    }
    assert "k-1" not in (add.stateDir / "servers.json").read_text()
    assert "k-1" not in add.stderr.getvalue() + add.stdout.getvalue()


def test_a_value_from_the_shell(tmp_path: Path) -> None:
    add = Add(tmp_path)
    add("io.github.acme/weather", "--yes", "--env", "WEATHER_API_KEY=x", "--dry-run")
    assert not add.secrets
    add = Add(tmp_path)
    add.seams.environ = {**add.seams.environ, "WEATHER_API_KEY": "shell-key"}
    add("io.github.acme/weather", "-y", "--env", "WEATHER_API_KEY")
    assert add.secrets == [("weather.WEATHER_API_KEY", "shell-key")]
    with pytest.raises(CliError, match="NOPE is not set in this shell"):
        Add(tmp_path)("io.github.acme/weather", "-y", "--env", "NOPE")


def test_a_terminal_is_asked_for_every_value_and_to_confirm(tmp_path: Path) -> None:
    person = Person("k-2", "", "y")
    add = Add(tmp_path, person=person)
    assert add("io.github.acme/weather") == 0
    assert person.asked == [
        ("  WEATHER_API_KEY: ", True),
        ("  WEATHER_UNITS [celsius]: ", False),
        ("Add it as weather? [y/N] ", False),
    ]
    assert "WEATHER_API_KEY (required, secret): Your Acme weather API key" in add.stderr.getvalue()
    assert add.secrets == [("weather.WEATHER_API_KEY", "k-2")]
    assert add.servers()["weather"]["env"]["WEATHER_UNITS"] == "celsius"


def test_with_yes_a_terminal_is_asked_only_what_is_required(tmp_path: Path) -> None:
    person = Person("k-3")
    add = Add(tmp_path, person=person)
    add("io.github.acme/weather", "--yes")
    assert person.asked == [("  WEATHER_API_KEY: ", True)]


def test_no_is_nothing_added_and_nothing_stored(tmp_path: Path) -> None:
    add = Add(tmp_path, person=Person("k", "fahrenheit", "n"))
    with pytest.raises(CliError, match=r"^nothing added$"):
        add("io.github.acme/weather")
    assert not add.secrets and not (add.stateDir / "servers.json").exists()


def test_without_a_terminal_a_missing_value_or_yes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CliError) as caught:
        Add(tmp_path)("io.github.acme/weather")
    assert caught.value.message == (
        "WEATHER_API_KEY needs a value: give it with --env WEATHER_API_KEY=VALUE"
        " (or --env WEATHER_API_KEY, from this shell)"
    )
    with pytest.raises(CliError, match="confirm with --yes"):
        Add(tmp_path)(EVERYTHING)
    with pytest.raises(CliError, match=r"results_dir needs a value: give it with --set"):
        Add(tmp_path)("io.github.acme/postgres", "--yes", "--env", "DATABASE_URL=x")


def test_a_value_it_does_not_ask_for_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CliError) as caught:
        Add(tmp_path)("io.github.acme/weather", "-y", "--env", "OTHER=1")
    assert caught.value.message == (
        "--env OTHER: the server asks for no such value (WEATHER_API_KEY, WEATHER_UNITS)"
    )
    with pytest.raises(CliError, match=r"--set x: the server asks for no such value \(none\)"):
        Add(tmp_path)(EVERYTHING, "-y", "--set", "x=1")
    with pytest.raises(CliError, match="must be one of celsius, fahrenheit"):
        Add(tmp_path)("io.github.acme/weather", "-y", "--env", "WEATHER_API_KEY=k",
                      "--env", "WEATHER_UNITS=kelvin")  # fmt: skip


def test_a_remote_on_request(tmp_path: Path) -> None:
    add = Add(tmp_path, running=True)
    add("io.github.acme/weather", "--remote", "-y", "--set", "api_key=abc", "--as", "w")
    [(_, _, body)] = add.api.requests
    assert body == {
        "name": "w",
        "type": "http",
        "url": "https://mcp.acme.example/weather/mcp",
        "headers": {"Authorization": "${keyring:w.Authorization}"},
    }
    assert add.secrets == [("w.Authorization", "Bearer abc")]


def test_no_secret_store_is_refused_before_anything_is_added(tmp_path: Path) -> None:
    add = Add(tmp_path, running=True)
    add.seams.storeSecret = lambda stateDir: None
    with pytest.raises(CliError, match="no secret store"):
        add("io.github.acme/weather", "-y", "--env", "WEATHER_API_KEY=k")
    assert add.api.requests == []


def test_workspace_scope_adds_it_for_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API (C{workspace} in the body), or into servers.json's
    C{projects} when no gateway runs; the same name twice in one workspace
    is refused."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    running = Add(tmp_path, running=True)
    running(EVERYTHING, "--scope", "workspace", "-y")
    [(_, _, body)] = running.api.requests
    assert body["workspace"] == str(project) and body["name"] == "everything"
    add = Add(tmp_path)
    add(EVERYTHING, "--scope", "workspace", "-y")
    written = json.loads((add.stateDir / "servers.json").read_text())
    assert written["mcpServers"] == {}
    assert list(written["projects"][str(project)]["mcpServers"]) == ["everything"]
    with pytest.raises(CliError, match=r"for workspace .*: choose another --as NAME"):
        add(EVERYTHING, "--scope", "workspace", "-y")
    add(EVERYTHING, "-y")  # the same name for every workspace is another entry
    assert list(json.loads((add.stateDir / "servers.json").read_text())["mcpServers"]) == [
        "everything"
    ]


def test_what_cannot_be_installed_says_why(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="registry type 'nuget' is not installed"):
        Add(tmp_path)("io.github.acme/dotnet-tools", "-y")
    with pytest.raises(CliError, match=r"no server named 'io\.github\.acme/x'"):
        Add(tmp_path)("io.github.acme/x", "-y")
    with pytest.raises(CliError, match="as its oci package"):
        Add(tmp_path)("io.github.acme/time", "-y", "--type", "oci")


def test_a_deleted_server_is_refused_and_a_deprecated_one_noted(tmp_path: Path) -> None:
    registry = RecordedRegistry.fromDirectory()
    for _, response in registry.responses:
        if response["server"]["name"] == EVERYTHING:
            response["_meta"]["io.modelcontextprotocol.registry/official"]["status"] = "deleted"
    add = Add(tmp_path)
    add.seams.fetch = recordedFetch(registry)
    with pytest.raises(CliError, match="deleted from the registry"):
        add(EVERYTHING, "-y")
    for _, response in registry.responses:
        official = response.get("_meta", {}).get("io.modelcontextprotocol.registry/official", {})
        official.update(status="deprecated", statusMessage="use the new one")
    add(EVERYTHING, "-y")
    assert "is deprecated: use the new one" in add.stderr.getvalue()


def test_add_as_json(tmp_path: Path) -> None:
    add = Add(tmp_path, running=True)
    add("io.github.acme/time", "-y", "--json", "--set", "local-timezone=UTC")
    document = json.loads(add.stdout.getvalue())
    assert document == {
        "ok": True,
        "name": "time",
        "registry": {"name": "io.github.acme/time", "version": "0.6.2", "kind": "pypi"},
        "entry": {"command": "uvx", "args": ["mcp-server-time@0.6.2", "--local-timezone=UTC"]},
        "secrets": [],
        "hostPaths": [],
        "url": "http://127.0.0.1:9100/time/mcp",
        "server": {"name": "time", "share": "session"},
    }


PG = ("io.github.acme/postgres", "--as", "pg", "--env", "DATABASE_URL=postgres://h/db")
PG_MOUNT = "/srv/results (read-write, at /results in the container)"


def test_a_host_path_is_added_only_once_that_exact_path_is_approved(tmp_path: Path) -> None:
    add = Add(tmp_path, running=True)
    with pytest.raises(CliError) as caught:
        add(*PG, "--set", "results_dir=/srv/results", "--yes")
    assert caught.value.message == (
        f"nothing added: the container would get paths of this machine ({PG_MOUNT});"
        " approve each exact path with --allow-host-path /srv/results"
    )
    for other in ("/srv", "/srv/results/x"):
        with pytest.raises(CliError, match=r"--allow-host-path /srv/results$"):
            add(*PG, "--set", "results_dir=/srv/results", "-y", "--allow-host-path", other)
    assert add.api.requests == [] and add.secrets == []
    add(*PG, "--set", "results_dir=/srv/results", "-y", "--allow-host-path", "/srv/results/")
    [(_, _, body)] = add.api.requests
    assert "--mount=type=bind,src=/srv/results,dst=/results" in body["args"]
    assert f"  host path: {PG_MOUNT}" in add.stderr.getvalue().splitlines()


def test_a_terminal_is_asked_for_each_host_path(tmp_path: Path) -> None:
    person = Person("", "/srv/results", "y", "y")
    add = Add(tmp_path, person=person)
    assert add(*PG) == 0
    assert person.asked == [
        ("  PG_STATEMENT_TIMEOUT [30000]: ", False),
        ("  results_dir: ", False),
        (f"Give the container this path of your machine: {PG_MOUNT}? [y/N] ", False),
        ("Add it as pg? [y/N] ", False),
    ]
    assert "--mount=type=bind,src=/srv/results,dst=/results" in add.servers()["pg"]["args"]
    add = Add(tmp_path, person=Person("", "/srv/results", "n"))
    with pytest.raises(CliError, match=r"^nothing added: /srv/results was not approved$"):
        add(*PG, "--as", "pg2")
    assert "pg2" not in add.servers() and not add.secrets


def test_a_dry_run_names_the_approvals_it_would_need(tmp_path: Path) -> None:
    add = Add(tmp_path)
    assert add(*PG, "--set", "results_dir=/srv/results", "--dry-run", "--json") == 0
    document = json.loads(add.stdout.getvalue())
    assert document["hostPaths"] == ["/srv/results"] and document["dryRun"] is True
    assert "  (not approved: --allow-host-path /srv/results)" in add.stderr.getvalue()
    assert not (add.stateDir / "servers.json").exists()


def test_a_refused_docker_option_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="relative"):
        Add(tmp_path)(*PG, "--set", "results_dir=../..", "-y", "--allow-host-path", "../..")
    with pytest.raises(CliError, match="root directory"):
        Add(tmp_path)(*PG, "--set", "results_dir=/", "-y", "--allow-host-path", "/")
