# -*- test-case-name: tests.cli.test_logs -*-
"""C{mcpgateway logs NAME}: print a server's recent events (its children's
stderr lines, starts, exits, restarts) from the management API, then follow
its event stream (SSE) until Ctrl-C, or, with C{--no-follow}, exit.

With no gateway running, C{--no-follow} reads the recent lines about the
server from the state directory's C{gateway.log} instead (L{logFileEvents}).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import threading
import urllib.error
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP, reason, serverPath
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, isTerminal, runningGateway
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.runtime.paths import API_PREFIX, LOG_FILE

LOG_WINDOW = 1024 * 1024
"""How much of the end of C{gateway.log} L{logFileEvents} reads."""
LOG_EVENTS = 100
"""At most this many lines of the log file are printed (the latest), as the
gateway keeps its last 100 events of a server."""
_LOG_LINE = re.compile(r"(?P<time>\S+) \[[^\]#]*#(?P<level>\w+)\] (?P<text>.*)")


def readEvents(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE stream, one per C{data:} frame."""
    data: list[bytes] = []
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if line:
            if line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
            continue
        if data:
            try:
                event = json.loads(b"\n".join(data))
            except ValueError:
                event = None
            data = []
            if isinstance(event, dict):
                yield event


def logFileEvents(path: Path, name: str, limit: int = LOG_EVENTS) -> list[dict[str, Any]] | None:
    """The latest C{limit} lines of the log file C{path} (of its last
    L{LOG_WINDOW} bytes) about server C{name}: its children's stderr lines
    (C{[NAME] ...}, kind C{stderr}) and the gateway's lines naming it
    (C{server NAME ...}: starts, exits, restarts, failures; kind C{log}),
    as events C{{"time", "kind", "text", "level"}}; C{None} when the file
    cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - LOG_WINDOW))
            data = f.read()
    except OSError:
        return None
    stderr = f"[{name}] "
    named = re.compile(rf"\bserver '?{re.escape(name)}'?(?=[\s:,;)]|$)")
    events: list[dict[str, Any]] = []
    for line in data.decode("utf-8", "replace").splitlines():
        match = _LOG_LINE.fullmatch(line)
        if match is None:
            continue  # a continuation line (a traceback), or cut by the window
        text = match["text"]
        if text.startswith(stderr):
            kind, text = "stderr", text[len(stderr) :]
        elif named.search(text):
            kind = "log"
        else:
            continue
        try:
            when: float | None = datetime.strptime(match["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            when = None
        events.append({"time": when, "kind": kind, "text": text, "level": match["level"]})
    return events[-limit:] if limit else []


def _fromLogFile(args: argparse.Namespace, out: Output, ctx: CliContext, stateDir: Path) -> int:
    """C{logs NAME --no-follow} with no gateway running: the lines about
    the server in the state directory's log file."""
    path = stateDir / LOG_FILE
    events = logFileEvents(path, args.name)
    if events is None:
        raise CliError(f"the gateway is not running, and there is no {path} to read")
    if not out.json:
        out.note(
            f"mcpgateway: the gateway is not running; the latest lines about {args.name} in {path}"
        )
    for event in events:
        ctx.printEvent(out, event)
    if not events and not out.json:
        out.note(f"mcpgateway: no lines about {args.name} in the end of {path}")
    return 0


def cmdLogs(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    if not found.running and args.no_follow:
        return _fromLogFile(args, out, ctx, stateDir)
    try:
        found = runningGateway(found)
    except CliError as e:
        raise CliError(
            f"{e.message} (`mcpgateway logs {args.name} --no-follow` reads the latest lines"
            f" about it from {stateDir / LOG_FILE})"
        ) from None
    path = serverPath(args.name, "/logs")
    if args.no_follow:
        answer = ctx.http.api(found, "GET", path + "?follow=false", timeout=ctx.timeouts.http)
        events = answer.get("events") if isinstance(answer, dict) else None
        if not isinstance(events, list):
            raise CliError(f"{found.baseUrl()}{API_PREFIX}{path} did not answer events")
        if out.json and not events:
            return 0
        for event in events:
            if isinstance(event, dict):
                ctx.printEvent(out, event)
        if not events and not out.json:
            out.note(f"mcpgateway: no events for {args.name} yet")
        return 0
    url = found.baseUrl() + API_PREFIX + path
    headers = {**ctx.http.headers(), "Accept": "text/event-stream"}
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C (SIGINT) is how one stops following, also when the command was
        # started from a shell that ignores SIGINT for its background jobs:
        # Python then installs no handler of its own and SIGINT would do nothing.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    last: dict[str, Any] = {}
    if not out.json and isTerminal(out.stderr):
        # A server with no events yet prints nothing until it has some.
        out.note(f"mcpgateway: following the events of {args.name} (Ctrl-C to stop)")
    try:
        with ctx.http.open(url, headers, ctx.timeouts.logStream) as response:
            for event in readEvents(_watching(out, iter(response.readline, b""))):
                ctx.printEvent(out, event)
                last = event
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how one stops following
    except urllib.error.HTTPError as e:
        raise CliError(ctx.http.refused(url, e)) from None
    except urllib.error.URLError as e:
        raise CliError(f"no answer from {url}: {reason(e.reason)}") from None
    except (OSError, http.client.HTTPException) as e:
        raise CliError(f"the log stream of {args.name} broke off: {reason(e)}") from None
    if last.get("kind") == "removed":
        return 0
    raise CliError(f"the gateway ended the log stream of {args.name}")


def _watching(out: Output, lines: Iterator[bytes]) -> Iterator[bytes]:
    """C{lines}, checking before each one (an event's, or the keep-alive the
    gateway sends every 15 s) that stdout still has a reader: C{logs | head
    -3} ends at most a keep-alive after C{head}, not at the next event."""
    for line in lines:
        out.checkReader()
        yield line


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    logs = commands.add_parser(
        "logs",
        parents=common,
        help="follow one server's stderr and lifecycle events",
        description="Print the recent events of server NAME (its children's stderr lines,"
        " starts, exits, restarts), then follow new ones until Ctrl-C; this needs a running"
        " gateway. With --no-follow, print the recent events and exit; with no gateway"
        " running, it prints the latest lines about NAME from the state directory's"
        " gateway.log instead. The gateway's whole log is gateway.log in the state"
        " directory. With --json, each event is printed as a JSON object on a line of its"
        f" own (JSON Lines). {TOKEN_HELP}",
    )
    logs.add_argument("name", metavar="NAME", help="the server (as `mcpgateway servers list`)")
    logs.add_argument(
        "--no-follow",
        action="store_true",
        help="print the recent events and exit (from gateway.log when no gateway runs)",
    )
    logs.set_defaults(handler=cmdLogs)
