"""The gateway a bridge starts: what the bridge says on stderr once it
runs (its pid and port, what it serves, that no client's file was touched
and how to have them adopted), and the cause of a start that failed, read
from C{mcpgateway start --json}'s answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure

from mcpgateway.bridge import main as bridge_main
from mcpgateway.bridge.main import startedLine, startFailure, startOutput
from mcpgateway.bridge.options import BridgeOptions

STARTED = {"ok": True, "alreadyRunning": False, "pid": 4242, "port": 9100, "servers": ["demo"]}
HOW = (
    "(to have the gateway adopt your clients' servers: `mcpgateway stop`, then `mcpgateway start`)"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


def test_the_claude_config_served_as_it_is(home: Path) -> None:
    state = {"config": str(home / ".claude.json"), "rewriteConfig": False}
    assert startedLine(STARTED, state) == (
        "started a gateway (pid 4242, port 9100) serving ~/.claude.json as it is;"
        f" no client's config file was changed {HOW}"
    )


def test_the_demo_served(home: Path) -> None:
    assert startedLine(STARTED, {"config": None, "rewriteConfig": False}) == (
        "started a gateway (pid 4242, port 9100) serving the bundled demo;"
        f" no client's config file was changed {HOW}"
    )
    assert startedLine(STARTED, None) == startedLine(STARTED, {"config": None})


def test_a_config_outside_home_is_named_in_full(home: Path, tmp_path: Path) -> None:
    line = startedLine(STARTED, {"config": str(tmp_path / "c.json"), "rewriteConfig": False})
    assert line is not None and f"serving {tmp_path / 'c.json'} as it is;" in line


def test_an_adoption_carried_on_is_said(home: Path) -> None:
    state = {"config": str(home / ".claude.json"), "rewriteConfig": True}
    assert startedLine(STARTED, state) == (
        "started a gateway (pid 4242, port 9100) serving ~/.claude.json, keeping the adoption"
        " an earlier `mcpgateway start` left in place (`mcpgateway stop` puts the client files"
        " back)"
    )


@pytest.mark.parametrize("document", [None, {**STARTED, "alreadyRunning": True}, {"ok": True}])
def test_nothing_is_said_of_a_gateway_another_start_made(document: dict[str, Any] | None) -> None:
    assert startedLine(document, {"config": None, "rewriteConfig": False}) is None


def test_the_start_answers_in_json() -> None:
    argv = bridge_main.startCommand(BridgeOptions("demo", Path("/s"), port=9200))
    assert argv[argv.index("start") :] == ["start", "--json", "--port", "9200"]


def process(stateDir: Path | None, stdout: bytes, stderr: bytes = b"") -> Any:
    started = bridge_main._StartProcess(stateDir)
    if stderr:
        started.errReceived(stderr)
    started.outReceived(stdout)
    return started


def test_a_start_that_ran_is_said_in_one_line(home: Path, tmp_path: Path) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    state = {"pid": 4242, "port": 9100, "config": str(home / ".claude.json")}
    (stateDir / "state.json").write_text(json.dumps({**state, "rewriteConfig": False}))
    started = process(stateDir, json.dumps(STARTED).encode(), b"mcpgateway: a note\n")
    results: list[str | None] = []
    started.done.addCallback(results.append)
    with capturedLogs() as events:
        started.processEnded(Failure(ProcessDone(0)))
    assert results == [None]
    assert [formatEvent(e) for e in events] == [
        "started a gateway (pid 4242, port 9100) serving ~/.claude.json as it is;"
        f" no client's config file was changed {HOW}"
    ]
    assert events[0]["log_level"] == LogLevel.info


def test_a_start_that_found_one_running_says_nothing(tmp_path: Path) -> None:
    answer = {"ok": True, "alreadyRunning": True, "pid": 1, "port": 9100}
    started = process(tmp_path, json.dumps(answer).encode())
    with capturedLogs() as events:
        started.processEnded(Failure(ProcessDone(0)))
    assert events == []


def test_a_port_in_use_reaches_the_client_as_its_one_line() -> None:
    answer = {
        "ok": False,
        "error": "port 9100 is in use (by pid 77); stop that process,"
        " or pick another port with --port",
        "port": 9100,
        "pid": 77,
    }
    started = process(None, json.dumps(answer).encode())
    results: list[str | None] = []
    started.done.addCallback(results.append)
    with capturedLogs() as events:
        started.processEnded(Failure(ProcessTerminated(exitCode=1)))
    assert results == [
        "`mcpgateway start` failed (exit status 1): mcpgateway: port 9100 is in use (by pid 77);"
        " stop that process, or pick another port with --port"
    ]
    assert events == []  # the finder says it once, as the client's error does


def test_a_failed_starts_log_lines_give_the_cause() -> None:
    answer = {
        "ok": False,
        "error": "the gateway exited while starting",
        "output": [],
        "log": [
            "2026 [mcpgateway.tap#info] config: watching f",
            "2026 [mcpgateway.tap#critical] cannot adopt ~/.claude.json: broken",
        ],
    }
    text = startOutput(json.dumps(answer).encode(), b"mcpgateway: warning: mode 0755\n", b"")
    assert text.splitlines() == [
        "mcpgateway: warning: mode 0755",
        "mcpgateway: the gateway exited while starting",
        "the gateway's log said:",
        "  2026 [mcpgateway.tap#info] config: watching f",
        "  2026 [mcpgateway.tap#critical] cannot adopt ~/.claude.json: broken",
    ]
    assert startFailure(1, text) == (
        "`mcpgateway start` failed (exit status 1): cannot adopt ~/.claude.json: broken"
    )


def test_a_start_that_printed_no_answer_is_shown_as_it_wrote() -> None:
    both = b"Traceback (most recent call last):\nboom\n"
    assert startOutput(b"", both, both) == "Traceback (most recent call last):\nboom"
    assert startOutput(b"[1]", b"", b"[1]") == "[1]"  # JSON, but not an answer
