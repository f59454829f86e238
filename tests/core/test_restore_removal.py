"""Sessions of servers the configuration brings only after start survive a
restart; removing or replacing a server answers its requests
in flight with a JSON-RPC error; a client's name is logged
trimmed and escaped."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.core.gateway.continuity import CONFIG_WAIT
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, initializeMessage, spec
from tests.support.config.configservice_clients import FakeSource, service
from tests.support.core.continuity import PersistentHarness, answerLast, call
from tests.support.core.restore_removal import CLAUDE, EVERY, savedOn

RESTORED = "restored {count} session(s) of the previous gateway process"


def restoredLines(events: list[Any]) -> list[Any]:
    return [e for e in events if str(e.get("log_format", "")).startswith(RESTORED)]


# -- sessions of servers adopted after start ---------------------------------------


def test_a_session_of_a_server_the_first_config_pass_brings_survives() -> None:
    store, (claude, cursor) = savedOn(EVERY, "srv", "cur")
    with capturedGatewayLogs() as events:
        second = PersistentHarness(store, CLAUDE)
        assert second.gateway.sessions.get(claude) is not None
        assert second.gateway.sessions.get(cursor) is None  # held: its server is not known yet
        assert restoredLines(events) == []  # said once the configuration is complete
        second.answerHandshake()  # srv's shared child, for the restored session
        second.reactor.advance(1.0)  # a save meanwhile keeps the held session
        assert {r["id"] for r in store.load()} == {claude, cursor}

        waiting = second.gateway.continuity.waitFor()  # an unknown session's request waits
        assert waiting is not None and not waiting.called
        second.gateway.reconfigurer.reconfigure(EVERY)  # the config service's first pass
        assert waiting.called
        [line] = restoredLines(events)
    assert (line["count"], line["dropped"], line["gone"]) == (2, 0, 0)
    assert second.gateway.sessions.get(cursor) is not None
    response = call(second, "cur", cursor)
    second.answerHandshake()  # cur's shared child, started for it
    answerLast(second, "tools/call", {"content": []})
    assert response.status == 200
    assert response.events()[-1]["result"] == {"content": []}
    assert second.gateway.continuity.waitFor() is None


def test_a_session_whose_server_is_really_gone_is_dropped_after_the_pass() -> None:
    store, (claude, gone) = savedOn(EVERY, "srv", "cur")
    with capturedGatewayLogs() as events:
        second = PersistentHarness(store, CLAUDE)
        assert restoredLines(events) == []
        second.gateway.reconfigurer.reconfigure(CLAUDE)  # the pass: cur is not configured
        [line] = restoredLines(events)
    assert (line["count"], line["dropped"], line["gone"]) == (1, 1, 0)
    assert second.gateway.sessions.get(gone) is None
    second.reactor.advance(1.0)
    assert [r["id"] for r in store.load()] == [claude]  # no longer saved


def test_with_no_config_pass_the_held_sessions_are_dropped_after_the_wait() -> None:
    store, (gone,) = savedOn(EVERY, "cur")
    with capturedGatewayLogs() as events:
        second = PersistentHarness(store, CLAUDE)
        second.reactor.advance(CONFIG_WAIT - 1)
        assert restoredLines(events) == []
        second.reactor.advance(1)
        [line] = restoredLines(events)
    assert (line["count"], line["dropped"]) == (0, 1)
    assert call(second, "cur", gone).status == 404
    assert second.gateway.continuity.waitFor() is None


def test_a_stop_before_the_pass_saves_the_held_sessions_for_the_next_process() -> None:
    store, (cursor,) = savedOn(EVERY, "cur")
    second = PersistentHarness(store, CLAUDE)
    second.gateway.stop()
    assert [r["id"] for r in store.load()] == [cursor]
    third = PersistentHarness(store, CLAUDE)
    third.gateway.reconfigurer.reconfigure(EVERY)
    assert third.gateway.sessions.get(cursor) is not None


class Adopted(FakeSource):
    """A source whose files were all adopted already (nothing new when the
    gateway listens)."""

    def listening(self, port: int) -> list[str]:
        return []


def test_listening_serves_the_adopted_entries_before_the_reactor_turns(tmp_path: Path) -> None:
    """No request can come between the adoption and the gateway serving
    it: the load is not left to a thread."""
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    source, reloads = FakeSource(tmp_path / "c.json", []), list[Any]()
    never: Deferred[Any] = Deferred()
    configService = ConfigService(
        source,
        stateDir,
        Clock(),
        None,
        lambda *args, **kwargs: never,
        reloads.append,
        ConfigSettings(environ={"PATH": ""}),
    )
    configService.listening(9100)  # FakeSource adopts: a reload is needed
    assert source.loads == 1 and len(reloads) == 1


def test_listening_with_nothing_adopted_serves_the_servers_again(tmp_path: Path) -> None:
    """The gateway learns the configuration is complete from a pass, adopted
    or not."""
    source, reloads = Adopted(tmp_path / "c.json", []), list[Any]()
    configService = service(tmp_path, source, Clock(), reloads)
    served = configService.specs(LoadedConfig(source="fake", servers={}))
    configService.listening(9100)
    assert source.loads == 0  # nothing read again
    assert reloads == [served]


# -- a server removed or replaced with a call in flight ------------------------------


def inFlight(h: Harness) -> tuple[Any, Any]:
    """A session on C{srv} and the response of its call in flight."""
    sid = h.initialize("srv")
    response = call(h, "srv", sid)
    assert not response.complete
    return sid, response


def test_removing_a_server_answers_its_calls_in_flight_with_an_error() -> None:
    h = Harness()
    sid, response = inFlight(h)
    h.gateway.reconfigurer.reconfigure({})
    assert response.complete
    error = response.events()[-1]["error"]
    assert error["code"] == jsonrpc.CHILD_EXITED
    assert "'srv'" in error["message"] and "removed" in error["message"]
    sent = h.process().sentMessages()
    assert any(m.get("method") == "notifications/cancelled" for m in sent)
    assert h.gateway.sessions.get(sid) is None


def test_replacing_a_server_answers_its_calls_in_flight_with_an_error() -> None:
    h = Harness()
    _, response = inFlight(h)
    h.gateway.reconfigurer.reconfigure(
        {"srv": dataclasses.replace(spec("srv"), command="other-server")}
    )
    error = response.events()[-1]["error"]
    assert error["code"] == jsonrpc.CHILD_EXITED
    assert "'srv'" in error["message"] and "replaced" in error["message"]


def test_disabling_a_server_answers_its_calls_in_flight_with_an_error() -> None:
    h = Harness()
    _, response = inFlight(h)
    h.gateway.reconfigurer.reconfigure({"srv": dataclasses.replace(spec("srv"), disabled=True)})
    error = response.events()[-1]["error"]
    assert error["code"] == jsonrpc.CHILD_EXITED
    assert "disabled" in error["message"]


# -- client text in the log ----------------------------------------------------------


def test_client_text_is_escaped_and_trimmed() -> None:
    assert logs.clientText("Claude Code") == "Claude Code"
    assert logs.clientText("a\nb\x1b[31m\\c") == "a\\nb\\x1b[31m\\\\c"
    assert logs.clientText("é\u2028") == "é\\u2028"
    assert logs.clientText(None) == "None"
    long = logs.clientText("x" * 2000)
    assert long == "x" * logs.CLIENT_TEXT_LIMIT + "\u2026"
    assert logs.clientText("\n" * 40, limit=5) == "\\n\\n\u2026"


def test_the_session_opened_line_carries_the_client_name_escaped() -> None:
    h = Harness()
    name = "INJ\n2026 [mcpgateway#critical] FAKE \x1b[31mred\x1b[0m" + "y" * 2000
    with capturedGatewayLogs() as events:
        response = h.request(
            "POST", "/srv/mcp", initializeMessage(clientInfo={"name": name, "version": "1"})
        )
        h.answerHandshake()
        assert response.status == 200
    [opened] = [e for e in events if "opened on" in str(e.get("log_format", ""))]
    client = opened["client"]
    assert client.startswith("INJ\\n2026 [mcpgateway#critical] FAKE \\x1b[31mred")
    assert client.endswith("\u2026") and len(client) <= logs.CLIENT_TEXT_LIMIT + 1
    assert client.isprintable()
