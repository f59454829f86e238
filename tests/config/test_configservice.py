"""The config service builds every server's routes, and reloads when a .env
file a child uses yields other values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config.aggregate import AggregateSettings
from mcpgateway.config.configservice import ENV_POLL, ConfigSettings
from mcpgateway.config.envfiles import readWorkspaceEnv
from mcpgateway.config.promotions import Promoter, PromotionStore
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys
from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings
from mcpgateway.core.spec import ServerSpec, ToolFilter
from mcpgateway.runtime import paths
from tests.fakes import capturedGatewayLogs
from tests.reloading import inline, write
from tests.support.config.polling import pollingService

SECRET = bytes(range(32))


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        document: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        runInThread: Any = inline,
        keys: Any = None,
        readWorkspace: Any = readWorkspaceEnv,
        onAggregate: Any = None,
    ) -> None:
        self.stateDir = tmp_path / "state"
        self.stateDir.mkdir()
        self.config = tmp_path / "config.json"
        self.config.write_text(json.dumps(document))
        self.clock = Clock()
        self.reloads: list[dict[str, ServerSpec]] = []
        self.aggregates: list[AggregateSettings] = []
        self.service = pollingService(
            self.config,
            self.stateDir,
            self.clock,
            self.reloads.append,
            ConfigSettings(
                environ={"PATH": ""},
                keys=keys or (lambda: WorkspaceKeys(SECRET)),
                readWorkspace=readWorkspace,
                onAggregate=onAggregate or self.aggregates.append,
            ),
            monkeypatch,
            runInThread,
        )
        self.aggregateFile = self.stateDir / paths.AGGREGATE_FILE

    def start(self) -> dict[str, ServerSpec]:
        specs = self.service.specs(self.service.source.load())
        self.service.startService()
        return specs

    def poll(self) -> None:
        self.clock.advance(ENV_POLL)

    def settle(self) -> None:
        """The file poll sees a change, then the debounce passes."""
        self.clock.advance(2.0)
        self.clock.advance(1.0)


def workspaceIn(tmp_path: Path, dotenv: str | None = None) -> Path:
    """The project directory C{p}, with C{dotenv} as its C{.env} if given."""
    workspace = tmp_path / "p"
    workspace.mkdir()
    if dotenv is not None:
        (workspace / ".env").write_text(dotenv)
    return workspace


def projectDoc(workspace: Path) -> dict[str, Any]:
    return {
        "mcpServers": {"u": {"command": "user-srv"}},
        "projects": {
            str(workspace): {"mcpServers": {"x": {"command": "srv", "args": ["${TOKEN}"]}}}
        },
    }


def test_specs_have_the_routes_of_the_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = workspaceIn(tmp_path, "TOKEN=abc\n")
    harness = Harness(tmp_path, projectDoc(workspace), monkeypatch)
    specs = harness.start()
    assert specs["u"].variants == () and specs["u"].mode == "global"
    [variant] = specs["x"].variants
    assert variant.key == WorkspaceKeys(SECRET).key(workspace)
    assert variant.launch.args == ("abc",) and variant.launch.cwd == str(workspace)


def test_a_gateway_env_change_reloads_only_when_its_values_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "srv"}}}, monkeypatch)
    assert harness.start()["u"].env == ()
    harness.poll()
    assert harness.reloads == []  # no file yet, none now
    envFile = harness.stateDir / ".env"
    with capturedGatewayLogs() as events:
        write(envFile, "API_TOKEN=s3cret-value\n")
        harness.poll()
    [specs] = harness.reloads
    assert dict(specs["u"].env) == {"API_TOKEN": "s3cret-value"}
    [event] = [e for e in events if "changed (it sets" in e["log_format"]]
    assert (event["path"], event["names"]) == (str(envFile), "API_TOKEN")
    assert not any("s3cret" in repr(e) for e in events)  # never a value in a log event
    assert harness.service.envWarnings == []
    write(envFile, "# a comment, the same values\nAPI_TOKEN=s3cret-value\n")
    harness.poll()
    harness.poll()
    assert len(harness.reloads) == 1  # the stamp changed, the digest did not
    write(envFile, "API_TOKEN=another\n")
    harness.poll()
    assert len(harness.reloads) == 2
    assert dict(harness.reloads[-1]["u"].env) == {"API_TOKEN": "another"}
    with capturedGatewayLogs() as events:
        write(envFile, "API_TOKEN=another\nbad line without equals sign = ?\x00\n")
        harness.poll()
        harness.poll()
    assert harness.service.envWarnings == [str(envFile)]
    assert len([e for e in events if str(envFile) in str(e.get("warning"))]) == 1


def test_a_workspace_env_change_rebuilds_that_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = workspaceIn(tmp_path, "TOKEN=one\n")
    harness = Harness(tmp_path, projectDoc(workspace), monkeypatch)
    before = harness.start()["x"].variants[0]
    loads = 0
    realLoad = harness.service.source.load

    def counting() -> Any:
        nonlocal loads
        loads += 1
        return realLoad()

    monkeypatch.setattr(harness.service.source, "load", counting)
    write(workspace / ".env", "TOKEN=two\n")
    harness.poll()
    [specs] = harness.reloads
    after = specs["x"].variants[0]
    assert after.launch.args == ("two",) and dict(after.launch.env) == {"TOKEN": "two"}
    assert after.childKey != before.childKey and after.key == before.key
    assert loads == 0  # rebuilt from the config already loaded: not read (nor adopted) again


def test_no_second_look_while_one_is_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending: list[tuple[Deferred[Any], Any]] = []

    def later(f: Any, *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        pending.append((d, lambda: f(*args)))
        return d

    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "srv"}}}, monkeypatch, later)
    harness.start()
    harness.poll()
    harness.poll()
    assert len(pending) == 1  # the first look is still running: the second tick skips
    d, f = pending.pop()
    d.callback(f())
    harness.poll()
    assert len(pending) == 1


def test_workspace_key_trouble_serves_the_users_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = workspaceIn(tmp_path)

    def broken() -> WorkspaceKeys:
        raise WorkspaceKeyError("the workspace key file /s/workspace.key is not a regular file")

    harness = Harness(tmp_path, projectDoc(workspace), monkeypatch, keys=broken)
    with capturedGatewayLogs() as events:
        specs = harness.start()
    assert list(specs) == ["u"]
    warnings = [e["warning"] for e in events if "warning" in e]
    assert any("is not a regular file" in w for w in warnings)


def test_keys_are_only_made_when_there_are_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unexpected() -> WorkspaceKeys:
        raise AssertionError("no project: no key file needed")

    harness = Harness(
        tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch, keys=unexpected
    )
    assert list(harness.start()) == ["u"]


def test_promotions_and_their_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    (harness.stateDir / "promotions.json").write_text(
        '{"version": 1, "servers": {"u": {"share": "session", "at": 1, "why": "sampled"}}}'
    )
    specs = harness.start()
    assert (specs["u"].mode, specs["u"].promoted) == ("session", "sampled")
    (harness.stateDir / "promotions.json").write_text("{broken")
    with capturedGatewayLogs() as events:
        harness.service.reload()
        harness.service.reload()
    assert harness.reloads[-1]["u"].mode == "global"
    found = [e for e in events if "promotions.json" in str(e.get("warning"))]
    assert len(found) == 1  # said once


def test_stop_ends_the_env_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.start()
    assert harness.clock.getDelayedCalls() != []
    harness.service.stopService()
    assert harness.clock.getDelayedCalls() == []


def test_a_promotion_is_recorded_and_served_without_reading_the_config_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    assert harness.start()["u"].mode == "global"
    monkeypatch.setattr(harness.service.source, "load", lambda: pytest.fail("read again"))
    promoter = Promoter(
        PromotionStore(harness.stateDir), harness.clock, inline, harness.service.rebuild
    )
    promoter.promote("u", "it sampled with 2 sessions in flight")
    [specs] = harness.reloads
    assert (specs["u"].mode, specs["u"].promoted) == (
        "session",
        "it sampled with 2 sessions in flight",
    )


# -- aggregate.json -------------------------------------------------------

WINDSURF = {"endpoints": {"windsurf": {"toolBudget": 100, "tools": {"u": {"toolBudget": 5}}}}}


def warningsAbout(events: list[Any], text: str) -> list[Any]:
    return [e for e in events if e.get("log_level") is not None and text in str(e)]


def test_aggregate_json_is_read_at_start_and_handed_over_when_the_service_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.aggregateFile.write_text(json.dumps({"separator": "-", **WINDSURF}))
    harness.service.specs(harness.service.source.load())
    assert harness.aggregates == []  # the gateway may not exist yet: not before start
    assert harness.service.aggregate.names == NameSettings("-", 48)
    harness.service.startService()
    [settings] = harness.aggregates
    assert settings.names == NameSettings("-", 48)
    assert settings.endpoints["windsurf"] == EndpointSpec(
        name="windsurf", toolBudget=100, tools={"u": ToolFilter(budget=5)}
    )
    harness.settle()
    assert len(harness.aggregates) == 1 and harness.reloads == []


def test_a_change_of_aggregate_json_is_handed_over_without_reloading_the_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.start()
    assert harness.aggregates == [AggregateSettings()]  # no file: the defaults
    monkeypatch.setattr(harness.service.source, "load", lambda: pytest.fail("read again"))
    with capturedGatewayLogs() as events:
        write(harness.aggregateFile, json.dumps(WINDSURF))
        harness.settle()
    assert harness.reloads == []
    assert list(harness.aggregates[-1].endpoints) == ["windsurf"]
    assert harness.service.aggregate is harness.aggregates[-1]
    [info] = [e for e in events if "aggregate settings from" in e["log_format"]]
    assert info["endpoints"] == "windsurf"
    write(harness.aggregateFile, json.dumps(WINDSURF, indent=4))  # the same settings
    harness.settle()
    assert len(harness.aggregates) == 2
    harness.aggregateFile.unlink()  # gone: the defaults again
    harness.settle()
    assert harness.aggregates[-1] == AggregateSettings() and len(harness.aggregates) == 3


def test_an_invalid_aggregate_json_at_a_reload_keeps_the_old_settings_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.aggregateFile.write_text(json.dumps(WINDSURF))
    harness.start()
    good = harness.service.aggregate
    assert list(good.endpoints) == ["windsurf"]
    bad = {"endpoints": {"windsurf": {"toolBudget": 2}}}
    with capturedGatewayLogs() as events:
        write(harness.aggregateFile, json.dumps(bad))
        harness.settle()
        write(harness.aggregateFile, json.dumps(bad, indent=2))
        harness.settle()
        harness.service.reload()  # a reload of the config reads it too
    assert harness.service.aggregate is good and harness.aggregates == [good]
    [warning] = warningsAbout(events, "is invalid")
    assert warning["why"] == "endpoints.windsurf.toolBudget: must be an integer >= 4"
    assert warning["kept"] == "keeping the aggregate settings as they were"
    assert warning["path"] == str(harness.aggregateFile)
    write(harness.aggregateFile, json.dumps({"endpoints": {"windsurf": {"toolBudget": 4}}}))
    harness.settle()
    assert harness.aggregates[-1].endpoints["windsurf"].toolBudget == 4


def test_an_invalid_aggregate_json_at_start_is_the_defaults_and_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.aggregateFile.write_text("{not json")
    with capturedGatewayLogs() as events:
        harness.start()
        harness.service.reload()
        harness.poll()
    assert harness.aggregates == [AggregateSettings()]
    [warning] = warningsAbout(events, "is invalid")
    assert warning["kept"] == "the aggregate endpoints use the defaults"
    assert warning["why"].startswith("not valid JSON")


def test_unknown_keys_of_aggregate_json_are_logged_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.aggregateFile.write_text(json.dumps({"endpoint": {}}))
    with capturedGatewayLogs() as events:
        harness.start()
        harness.service.reload()
        write(harness.aggregateFile, json.dumps({"endpoint": {}, "colour": 1}))
        harness.settle()
    found = [e for e in events if "unknown key" in str(e.get("warning"))]
    assert [e["warning"] for e in found] == [
        "endpoint: unknown key; ignored",
        "colour: unknown key; ignored",
    ]
    assert harness.aggregates == [AggregateSettings()]  # nothing else changed


def test_the_inotify_event_of_aggregate_json_reads_only_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twisted.python.filepath import FilePath

    harness = Harness(tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch)
    harness.start()
    harness.aggregateFile.write_text(json.dumps(WINDSURF))
    harness.service.files.inotifyEvent(None, FilePath(os.fsencode(str(harness.aggregateFile))), 0)
    assert not harness.service.serversChanges.pending  # not a reload of the servers
    harness.clock.advance(1.0)
    assert harness.reloads == [] and list(harness.aggregates[-1].endpoints) == ["windsurf"]


def test_a_failing_aggregate_callback_is_logged_and_the_service_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: AggregateSettings) -> None:
        raise RuntimeError("boom")

    harness = Harness(
        tmp_path, {"mcpServers": {"u": {"command": "s"}}}, monkeypatch, onAggregate=broken
    )
    with capturedGatewayLogs() as events:
        harness.start()
        write(harness.aggregateFile, json.dumps(WINDSURF))
        harness.settle()
    failures = [e for e in events if "applying the aggregate settings" in e["log_format"]]
    assert len(failures) == 2
    assert list(harness.service.aggregate.endpoints) == ["windsurf"]
    harness.service.stopService()
    assert harness.clock.getDelayedCalls() == []
