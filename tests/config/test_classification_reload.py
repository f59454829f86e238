"""The running gateway picks up an edit of C{<state-dir>/classification.json}
as it does one of the config file (docs/guide/scopes.md: pinning a scope there is
how a promotion is undone), logs what changed, and keeps the last good
classification while the file cannot be used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config import classification
from mcpgateway.config.classification import Override
from mcpgateway.config.configservice import ConfigSettings
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import Sharing
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.reloading import write
from tests.support.config.executables import scripts
from tests.support.config.polling import pollingService


class Running:
    """A config service watching its files (by polling) and the gateway it
    reloads."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        exe = scripts(tmp_path, "evg-server") / "evg-server"
        self.stateDir = tmp_path / "state"
        self.stateDir.mkdir()
        self.config = tmp_path / "servers.json"
        self.config.write_text(
            json.dumps({"mcpServers": {"evg": {"command": str(exe)}, "fs": {"command": str(exe)}}})
        )
        self.classification = self.stateDir / "classification.json"
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.reloads = 0
        self.service = pollingService(
            self.config,
            self.stateDir,
            self.clock,
            self.reload,
            ConfigSettings(environ={"PATH": ""}),
            monkeypatch,
        )
        self.loads = 0
        realLoad = self.service.source.load

        def counting() -> Any:
            self.loads += 1
            return realLoad()

        monkeypatch.setattr(self.service.source, "load", counting)

    def reload(self, specs: Any) -> Deferred[Any]:
        self.reloads += 1
        return self.gateway.reconfigurer.reconfigure(specs)

    def start(self) -> Gateway:
        specs = self.service.specs(self.service.source.load())
        self.gateway = Gateway(specs, fakeSpawner(self.reactor))
        self.gateway.start()
        self.service.startService()
        return self.gateway

    def settle(self) -> None:
        """The file poll sees a change, then the debounce passes."""
        self.clock.advance(2.0)
        self.clock.advance(1.0)


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Running:
    """The service and gateway of a test, not started yet."""
    return Running(tmp_path, monkeypatch)


def sharingOf(gateway: Gateway, server: str) -> Sharing:
    return gateway.pools[server].spec.sharing


def changedLines(events: list[Any]) -> list[Any]:
    return [e for e in events if e.get("log_format") == "config: {path} changed: {changes}"]


def test_pinning_a_promoted_server_applies_without_another_reload(running: Running) -> None:
    """The reported path: evg promoted (promotions.json); the user
    writes the documented undo; the gateway serves evg shared again."""
    (running.stateDir / "promotions.json").write_text(
        json.dumps(
            {"version": 1, "servers": {"evg": {"share": "session", "at": 1, "why": "sampled"}}}
        )
    )
    gateway = running.start()
    assert gateway.readModel.server("evg").promoted == "sampled"
    loadsBefore = running.loads
    with capturedGatewayLogs() as events:
        write(running.classification, '{"evg": {"share": "global"}}')
        running.settle()
    assert running.reloads == 1
    assert running.loads == loadsBefore  # the config file is not read again for it
    pool = gateway.pools["evg"]
    assert pool.spec.sharing is Sharing.GLOBAL and pool.spec.pinned
    assert pool.promoted is None and not pool.ownsChildren()
    assert gateway.readModel.server("evg").promoted is None
    [line] = changedLines(events)
    assert line["path"] == str(running.classification)
    assert line["changes"] == "evg: share=global (was not listed)"


def test_every_edit_is_applied_and_said(running: Running) -> None:
    gateway = running.start()
    write(running.classification, '{"fs": {"share": "session", "maxChildren": 3}}')
    running.settle()
    assert sharingOf(gateway, "fs") is Sharing.SESSION
    with capturedGatewayLogs() as events:
        write(running.classification, '{"evg": {"requestTimeout": 5000, "perUser": false}}')
        running.settle()
    assert sharingOf(gateway, "fs") is Sharing.GLOBAL
    assert gateway.pools["evg"].spec.requestTimeout == 5.0
    [line] = changedLines(events)
    assert line["changes"] == (
        "evg: requestTimeout=5000, perUser=false (was not listed);"
        " fs: removed (was share=session, maxChildren=3)"
    )
    with capturedGatewayLogs() as events:
        write(running.classification, '{"evg": {"perUser": false, "requestTimeout": 5000}}')
        running.settle()
    assert changedLines(events) == []  # rewritten, the same lines: nothing to say


def test_a_malformed_file_keeps_the_last_good_classification(running: Running) -> None:
    gateway = running.start()
    write(running.classification, '{"evg": {"share": "session"}}')
    running.settle()
    pool = gateway.pools["evg"]
    assert pool.spec.sharing is Sharing.SESSION
    with capturedGatewayLogs() as events:
        write(running.classification, '{"evg": {"share": "glob')  # half written, or a typo
        running.settle()
        write(running.classification, '["not", "an", "object"]')
        running.settle()
        write(running.classification, '["not", "an", "object"]  ')
        running.settle()
    assert gateway.pools["evg"] is pool and pool.spec.sharing is Sharing.SESSION
    warnings = [str(e["warning"]) for e in events if "warning" in e]
    assert len(warnings) == 2  # one per problem, not one per look
    assert all(
        w.startswith(f"{running.classification} is invalid: ")
        and w.endswith("; keeping the classification it gave before")
        for w in warnings
    )
    assert "must hold a JSON object" in warnings[1]
    assert changedLines(events) == []
    # Fixed: applied, and the change is said against the last good one.
    with capturedGatewayLogs() as events:
        write(running.classification, '{"evg": {"share": "session"}, "fs": {"share": "session"}}')
        running.settle()
    assert gateway.pools["fs"].spec.sharing is Sharing.SESSION
    [line] = changedLines(events)
    assert line["changes"] == "fs: share=session (was not listed)"


def test_a_config_reload_says_a_classification_change_too(running: Running) -> None:
    running.start()
    running.classification.write_text('{"fs": {"share": "session"}}')
    with capturedGatewayLogs() as events:
        running.service.reload()
    [line] = changedLines(events)
    assert line["changes"] == "fs: share=session (was not listed)"


def test_stop_cancels_a_pending_reclassification(running: Running) -> None:
    running.start()
    write(running.classification, '{"fs": {"share": "session"}}')
    running.clock.advance(2.0)  # seen: the reload waits for the debounce
    running.service.stopService()
    running.clock.advance(5.0)
    assert running.reloads == 0
    assert running.clock.getDelayedCalls() == []


OVERRIDES = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.builds(
        Override,
        share=st.sampled_from([None, "global", "session"]),
        maxChildren=st.sampled_from([None, 1, 4]),
        perUser=st.sampled_from([None, True]),
    ),
)


@settings(max_examples=50)
@given(OVERRIDES, OVERRIDES)
def test_changes_name_exactly_the_servers_that_differ(
    before: dict[str, Override], after: dict[str, Override]
) -> None:
    said = classification.changes(before, after)
    differ = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    assert [line.split(":", 1)[0] for line in said] == differ
    assert classification.changes(after, after) == []
