# -*- test-case-name: tests.cli.test_logs -*-
"""C{mcpgateway logs NAME}: print a server's recent events (its children's
stderr lines, starts, exits, restarts) from the management API, then follow
its event stream (SSE) until Ctrl-C, or, with C{--no-follow}, exit."""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import threading
import urllib.error
from collections.abc import Iterator
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP, reason, serverPath
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, isTerminal
from mcpgateway.cli.probe import resolveStateDir, runningGateway
from mcpgateway.paths import API_PREFIX


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


def cmdLogs(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
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
        help="follow a server's stderr and lifecycle events",
        description="Print the recent events of server NAME (its children's stderr lines,"
        " starts, exits, restarts), then follow new ones until Ctrl-C."
        f" With --json, one JSON object per line. {TOKEN_HELP}",
    )
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--no-follow", action="store_true", help="print the recent events and exit")
    logs.set_defaults(handler=cmdLogs)
