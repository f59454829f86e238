"""C{mcpgateway logs}: recent events, following the SSE stream, and Ctrl-C."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.logs import readEvents
from mcpgateway.cli.output import Output
from tests.cli.support import EVENTS, FakeGateway, api, lastCall, run, sse


def stamp(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def test_logs_no_follow_prints_the_recent_events(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(
        running, "GET", "/servers/demo/logs?follow=false", 200, {"server": "demo", "events": EVENTS}
    )
    code, out, err = run(capsys, stateDir, "logs", "demo", "--no-follow")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{stamp(EVENTS[0]['time'])} started       child pid 7 started",
        f"{stamp(EVENTS[1]['time'])} stderr        listening on stdio",
    ]
    code, out, _ = run(capsys, stateDir, "logs", "demo", "--no-follow", "--json")
    assert [json.loads(line) for line in out.splitlines()] == EVENTS
    api(running, "GET", "/servers/demo/logs?follow=false", 200, {"server": "demo", "events": []})
    code, out, err = run(capsys, stateDir, "logs", "demo", "--no-follow")
    assert (code, out, err) == (0, "", "mcpgateway: no events for demo yet\n")


def test_logs_follow_the_stream(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "tok-123")
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS, removed))
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert (code, err) == (0, "")
    assert [line.split(None, 2)[1] for line in out.splitlines()] == ["started", "stderr", "removed"]
    headers = lastCall(running)[2]
    assert headers["accept"] == "text/event-stream"
    assert headers["authorization"] == "Bearer tok-123"
    code, out, _ = run(capsys, stateDir, "logs", "demo", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [*EVENTS, removed]


def test_logs_say_they_follow_when_a_person_reads_stderr(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server with no events yet prints nothing while followed: on a
    terminal, a note says the command is following (not hung)."""
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    api(running, "GET", "/servers/demo/logs", 200, sse(removed))
    code, out, err = run(capsys, stateDir, "logs", "demo")  # stderr is no terminal: no note
    assert (code, err) == (0, "")
    monkeypatch.setattr("mcpgateway.cli.logs.isTerminal", lambda stream: True)
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert (code, err) == (0, "mcpgateway: following the events of demo (Ctrl-C to stop)\n")
    assert out.split(None, 2)[1] == "removed"  # the events still go to stdout
    code, out, err = run(capsys, stateDir, "logs", "demo", "--json")
    assert (code, err, json.loads(out)) == (0, "", removed)


def test_logs_say_when_the_gateway_ends_the_stream(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err == "mcpgateway: the gateway ended the log stream of demo\n"


def test_logs_refusals(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(running, "GET", "/servers/demo/logs", 503, {"error": "too many log streams: 20 are open"})
    api(running, "GET", "/servers/nope/logs", 404, {"error": "no server named 'nope'"})
    api(running, "GET", "/servers/nope/logs?follow=false", 404, {"error": "no server named 'nope'"})
    assert run(capsys, stateDir, "logs", "demo")[2] == (
        "mcpgateway: too many log streams: 20 are open\n"
    )
    assert run(capsys, stateDir, "logs", "nope")[2] == "mcpgateway: no server named 'nope'\n"
    assert run(capsys, stateDir, "logs", "nope", "--no-follow")[2] == (
        "mcpgateway: no server named 'nope'\n"
    )


def test_logs_stop_quietly_on_ctrl_c(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, ctx: CliContext
) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    printed: list[dict[str, Any]] = []

    def interrupt(out: Output, event: dict[str, Any]) -> None:
        printed.append(event)
        raise KeyboardInterrupt

    ctx.printEvent = interrupt
    code, out, err = run(capsys, stateDir, "logs", "demo", ctx=ctx)
    assert (code, out, err) == (0, "", "")
    assert printed == EVENTS[:1]


def test_read_events_parses_sse_frames() -> None:
    lines = iter(
        [
            b": keep-alive\n",
            b"\n",
            b"event: message\n",
            b'data: {"a":\n',
            b"data: 1}\n",
            b"\n",
            b"data: not json\n",
            b"\n",
            b"data: [1]\n",
            b"\n",
            b'data:{"b": 2}\r\n',
            b"\r\n",
            b'data: {"c": 3}\n',
        ]
    )
    assert list(readEvents(lines)) == [{"a": 1}, {"b": 2}]
