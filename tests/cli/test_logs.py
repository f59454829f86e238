"""C{mcpgateway logs}: recent events, following the SSE stream, and Ctrl-C."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from twisted.logger import LogLevel, textFileLogObserver

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.logs import readEvents
from mcpgateway.cli.output import Output
from mcpgateway.runtime.paths import LOG_FILE
from tests.cli.support import EVENTS, Cli, FakeGateway, api, lastCall, sse


def stamp(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def test_logs_no_follow_prints_the_recent_events(running: FakeGateway, cli: Cli) -> None:
    api(
        running, "GET", "/servers/demo/logs?follow=false", 200, {"server": "demo", "events": EVENTS}
    )
    code, out, err = cli("logs", "demo", "--no-follow")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{stamp(EVENTS[0]['time'])} started       child pid 7 started",
        f"{stamp(EVENTS[1]['time'])} stderr        listening on stdio",
    ]
    code, out, _ = cli("logs", "demo", "--no-follow", "--json")
    assert [json.loads(line) for line in out.splitlines()] == EVENTS
    api(running, "GET", "/servers/demo/logs?follow=false", 200, {"server": "demo", "events": []})
    code, out, err = cli("logs", "demo", "--no-follow")
    assert (code, out, err) == (0, "", "mcpgateway: no events for demo yet\n")


def test_logs_follow_the_stream(
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "tok-123")
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS, removed))
    code, out, err = cli("logs", "demo")
    assert (code, err) == (0, "")
    assert [line.split(None, 2)[1] for line in out.splitlines()] == ["started", "stderr", "removed"]
    headers = lastCall(running)[2]
    assert headers["accept"] == "text/event-stream"
    assert headers["authorization"] == "Bearer tok-123"
    code, out, _ = cli("logs", "demo", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [*EVENTS, removed]


def test_logs_say_they_follow_when_a_person_reads_stderr(
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    """A server with no events yet prints nothing while followed: on a
    terminal, a note says the command is following (not hung)."""
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    api(running, "GET", "/servers/demo/logs", 200, sse(removed))
    code, out, err = cli("logs", "demo")  # stderr is no terminal: no note
    assert (code, err) == (0, "")
    monkeypatch.setattr("mcpgateway.cli.logs.isTerminal", lambda stream: True)
    code, out, err = cli("logs", "demo")
    assert (code, err) == (0, "mcpgateway: following the events of demo (Ctrl-C to stop)\n")
    assert out.split(None, 2)[1] == "removed"  # the events still go to stdout
    code, out, err = cli("logs", "demo", "--json")
    assert (code, err, json.loads(out)) == (0, "", removed)


def test_logs_say_when_the_gateway_ends_the_stream(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    code, out, err = cli("logs", "demo")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err == "mcpgateway: the gateway ended the log stream of demo\n"


def test_logs_refusals(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers/demo/logs", 503, {"error": "too many log streams: 20 are open"})
    api(running, "GET", "/servers/nope/logs", 404, {"error": "no server named 'nope'"})
    api(running, "GET", "/servers/nope/logs?follow=false", 404, {"error": "no server named 'nope'"})
    assert cli("logs", "demo")[2] == ("mcpgateway: too many log streams: 20 are open\n")
    assert cli("logs", "nope")[2] == "mcpgateway: no server named 'nope'\n"
    assert cli("logs", "nope", "--no-follow")[2] == ("mcpgateway: no server named 'nope'\n")


def test_logs_stop_quietly_on_ctrl_c(running: FakeGateway, ctx: CliContext, cli: Cli) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    printed: list[dict[str, Any]] = []

    def interrupt(out: Output, event: dict[str, Any]) -> None:
        printed.append(event)
        raise KeyboardInterrupt

    ctx.printEvent = interrupt
    code, out, err = cli("logs", "demo")
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


def logLine(text: str, when: float, level: LogLevel = LogLevel.info, **fields: Any) -> str:
    """One event as the gateway's C{--log-file} observer writes it."""
    buffer = io.StringIO()
    textFileLogObserver(buffer)(
        {
            "log_format": text,
            "log_time": when,
            "log_namespace": "mcpgateway.core.child",
            "log_level": level,
            **fields,
        }
    )
    return buffer.getvalue()


def test_logs_no_follow_reads_the_log_file_when_the_gateway_is_stopped(
    stateDir: Path, cli: Cli
) -> None:
    (stateDir / LOG_FILE).write_text(
        logLine("[{server}] {line}", 1700000000.0, server="demo", line="listening on stdio")
        + logLine("[{server}] {line}", 1700000001.0, server="demo2", line="another server")
        + logLine("server {server} child pid {pid} exited", 1700000002.0, server="demo", pid=7)
        + logLine("server demo2: starting", 1700000003.0)
        + logLine("Main loop terminated.", 1700000004.0)
        + logLine("server 'demo' was removed", 1700000005.0, LogLevel.warn)
    )

    code, out, err = cli("logs", "demo", "--no-follow")

    assert code == 0
    assert err == (
        "mcpgateway: the gateway is not running; the latest lines about demo in"
        f" {stateDir / LOG_FILE}\n"
    )
    assert out.splitlines() == [
        f"{stamp(1700000000.0)} stderr        listening on stdio",
        f"{stamp(1700000002.0)} log           server demo child pid 7 exited",
        f"{stamp(1700000005.0)} log           server 'demo' was removed",
    ]
    code, out, err = cli("logs", "demo", "--no-follow", "--json")
    assert (code, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()][-1] == {
        "time": 1700000005.0,
        "kind": "log",
        "text": "server 'demo' was removed",
        "level": "warn",
    }
    code, out, err = cli("logs", "nope", "--no-follow")
    assert (code, out) == (0, "")
    assert err.endswith(f"mcpgateway: no lines about nope in the end of {stateDir / LOG_FILE}\n")


def test_logs_of_a_stopped_gateway_say_what_can_be_read(stateDir: Path, cli: Cli) -> None:
    assert cli("logs", "demo", "--no-follow") == (
        1,
        "",
        f"mcpgateway: the gateway is not running, and there is no {stateDir / LOG_FILE} to read\n",
    )
    code, out, err = cli("logs", "demo")
    assert (code, out) == (1, "")
    assert err == (
        "mcpgateway: the gateway is not running; `mcpgateway start` starts it"
        " (`mcpgateway logs demo --no-follow` reads the latest lines about it from"
        f" {stateDir / LOG_FILE})\n"
    )
