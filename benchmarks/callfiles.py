#!/usr/bin/env python3
"""The gateway's own source files a warm C{tools/call} runs through, or
(C{--instructions}) the machine instructions it spends, on the README's
command as a user runs it.

Starts C{twistd -n mcpgateway --port P} (under C{calltrace.py}, which is
twistd with a tracer a signal turns on) with its defaults on a fresh HOME:
no C{--config}, so it serves the bundled C{demo} stdio server, sandboxed,
with pins and tasks as shipped. One keep-alive client initializes a
session, makes C{--warmup} calls of C{echo}, then C{--calls} more under the
tracer, C{--windows} times, and prints, per runtime (C{MCPGATEWAY_TWISTED=tuned} and
C{stock}), the files of C{mcpgateway/} whose code ran (C{files}) and the
files a reader of the call opens (C{readerFiles}: those and the files
defining the classes of the gateway's objects the calls touched, see
C{calltrace.py}) and the functions of those files called (C{functions}):
what every window ran, so that a timer of the gateway's
coming due in one window is not taken for the call's (C{background}); and
the gateway's modules the process held after the last window (C{loaded}).

With C{--instructions}, the same command runs under valgrind's callgrind
instead, instrumentation off until the warm-up is done, and the figure is
the machine instructions the gateway's process spends per warm call: the
count is dumped after each of C{--windows} windows of C{--calls} calls and
the least per call is the figure (C{instructionsPerCall}). Only the
gateway's process is counted: the client is this process, the demo child
is not traced. A count moves less with what else the machine runs than
time does (about 50 times slower than a plain run: a thousand calls take a
minute), but not nothing: the gateway's own timers coming due fall in one
window, which the least leaves out, and the tuned reactor polls a little
before it sleeps, as long as the next request takes to come (windows
differ by a tenth). For a change of a few instructions per call,
C{hotpath.py --instructions} (in process, no reactor) is exact.

Usage: callfiles.py [--instructions] [--twisted stock|tuned] [--warmup N] [--calls N]
[--windows N] (prints one JSON line per runtime; the defaults: 50 warm-up calls, 3
windows of 5 calls, and with C{--instructions} 100, 5 of 200)
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE)]

from calltrace import TRACE_OFF, TRACE_ON  # noqa: E402

PORT_LINE = re.compile(r"listening on \S*:(\d+)\s*$")
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)

DEFAULTS = {False: (50, 5, 3), True: (100, 200, 5)}
"""The warm-up, the calls of a window and the windows: tracing the files,
and counting the instructions (C{--instructions})."""


def options() -> argparse.Namespace:
    """The command line: what is measured, which runtimes, and how many
    calls warm up and are traced or counted."""
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="count the machine instructions per call under callgrind instead of the files",
    )
    ap.add_argument("--warmup", type=int, help="warm-up calls (default: 50; 100 counted)")
    ap.add_argument("--calls", type=int, help="calls in each window (default: 5; 200 counted)")
    ap.add_argument("--windows", type=int, help="windows (default: 3; 5 counted)")
    ap.add_argument(
        "--twisted",
        choices=("stock", "tuned"),
        help="one runtime (default: both, tuned then stock)",
    )
    args = ap.parse_args()
    warmup, calls, windows = DEFAULTS[args.instructions]
    args.warmup = warmup if args.warmup is None else args.warmup
    args.calls = calls if args.calls is None else args.calls
    args.windows = windows if args.windows is None else args.windows
    return args


class TracedGateway:
    """The README's command, C{twistd -n mcpgateway}, on a fresh HOME under
    C{home}, on an OS-chosen loopback port, under C{calltrace.py}."""

    environment: dict[str, str] = {}
    """More of the gateway's environment."""

    def __init__(self, home: Path, twisted: str, timeout: float = 120.0) -> None:
        self.home = home
        self.out = home / "trace.json"
        env = {
            **os.environ,
            "HOME": str(home),
            "MCPGATEWAY_HOME": str(home / "state"),
            "MCPGATEWAY_TWISTED": twisted,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **self.environment,
        }
        self.proc = subprocess.Popen(
            self.command(),
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output: list[str] = []
        self.port = 0
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(timeout):
            self.stop()
            raise RuntimeError("gateway did not start:\n" + "\n".join(self.output))

    def twistdArguments(self) -> list[str]:
        """The README's command after C{twistd}: in the foreground, no
        pidfile, its log on stdout, an OS-chosen loopback port."""
        return [
            "-n",
            "--pidfile=",
            "--logfile=-",
            "mcpgateway",
            "--port",
            "tcp:0:interface=127.0.0.1",
        ]

    def command(self) -> list[str]:
        """C{twistd} under the tracer."""
        return [sys.executable, str(HERE / "calltrace.py"), str(self.out), *self.twistdArguments()]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            match = PORT_LINE.search(line)
            if match and not self._found.is_set():
                self.port = int(match.group(1))
                self._found.set()

    def signal(self, signum: int, written: Path, timeout: float = 60.0) -> None:
        """Send C{signum} and wait for the tracer to write C{written}."""
        written.unlink(missing_ok=True)
        self.proc.send_signal(signum)
        deadline = time.monotonic() + timeout
        while not written.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the tracer did not answer:\n" + "\n".join(self.output))
            time.sleep(0.01)

    def trace(self, during: Any) -> dict[str, list[str]]:
        """What the tracer saw while C{during()} ran."""
        self.signal(TRACE_ON, Path(str(self.out) + ".on"))
        during()
        self.signal(TRACE_OFF, self.out)
        report: dict[str, list[str]] = json.loads(self.out.read_text())
        return report

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Session:
    """One MCP session on C{/demo/mcp}, over one keep-alive connection."""

    def __init__(self, port: int, server: str = "demo", timeout: float = 60.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.path = f"/{server}/mcp"
        self.sid = ""
        status, headers, _ = self.post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "callfiles", "version": "1"},
                },
            }
        )
        self.sid = headers.get("mcp-session-id", "")
        if status != 200 or not self.sid:
            raise RuntimeError(f"initialize: HTTP {status}")
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, body: dict[str, Any]) -> tuple[int, dict[str, str], list[Any]]:
        headers = dict(HEADERS, **({"Mcp-Session-Id": self.sid} if self.sid else {}))
        self.conn.request("POST", self.path, json.dumps(body), headers)
        response = self.conn.getresponse()
        data = response.read()
        found = {k.lower(): v for k, v in response.getheaders()}
        messages: list[Any] = []
        if found.get("content-type", "").startswith("text/event-stream"):
            messages = [json.loads(line[5:]) for line in data.split(b"\n") if line[:5] == b"data:"]
        elif data:
            messages = [json.loads(data)]
        return response.status, found, messages

    def echo(self, n: int) -> None:
        """Call C{echo} once; raises unless the answer is this call's."""
        message = f"callfiles-{n}"
        status, _, messages = self.post(
            {
                "jsonrpc": "2.0",
                "id": n + 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": message}},
            }
        )
        texts = [m.get("result", {}).get("content", [{}])[0].get("text") for m in messages]
        if status != 200 or texts != [message]:
            raise RuntimeError(f"call {n}: HTTP {status} {messages}")

    def close(self) -> None:
        self.conn.close()


def filesPerCall(
    twisted: str, warmup: int = 50, calls: int = 5, windows: int = 3
) -> dict[str, Any]:
    """The files run and read by C{calls} warm calls of C{echo} on the
    README's command with runtime C{twisted} (C{tuned} or C{stock}), in
    each of C{windows} traced windows: a call's files are those of every
    window (C{files}, C{readerFiles}); what ran in some windows only is the
    gateway's own timers coming due meanwhile (C{background})."""
    traces: list[dict[str, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="callfiles-") as tmp:
        gateway = TracedGateway(Path(tmp), twisted)
        try:
            session = Session(gateway.port)
            numbers = itertools.count()

            def echoes(count: int) -> None:
                for _ in range(count):
                    session.echo(next(numbers))

            for _ in range(windows):
                echoes(warmup)
                traces.append(gateway.trace(lambda: echoes(calls)))
            session.close()
        finally:
            gateway.stop()
    ran = set.intersection(*(set(t["ran"]) for t in traces))
    read = set.intersection(*(set(t["read"]) for t in traces))
    return {
        "twisted": twisted,
        "filesPerCall": len(ran),
        "readerFiles": len(read),
        "files": sorted(ran),
        "readOnly": sorted(read - ran),
        "functions": sorted(set.intersection(*(set(t["functions"]) for t in traces))),
        "background": sorted(set.union(*(set(t["ran"]) for t in traces)) - ran),
        "loaded": traces[-1]["loaded"],
    }


class CountedGateway(TracedGateway):
    """The README's command under callgrind, instrumentation off, its
    hashes seeded (the same dict layouts in every run)."""

    environment = {"PYTHONHASHSEED": "0"}

    def command(self) -> list[str]:
        return [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={self.home / 'callgrind.out.%p'}",
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            *self.twistdArguments(),
        ]

    def control(self, *flags: str) -> None:
        subprocess.run(
            ["callgrind_control", *flags, str(self.proc.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def dumped(self) -> int:
        """Instructions since instrumentation went on, dumped now."""
        before = set(self.home.glob("callgrind.out.*"))
        self.control("-d")
        [dump] = set(self.home.glob("callgrind.out.*")) - before
        found = TOTALS.search(dump.read_bytes())
        assert found is not None, dump
        return int(found.group(1))


def instructionsPerCall(
    twisted: str, warmup: int = 100, calls: int = 200, windows: int = 5
) -> dict[str, Any]:
    """Instructions per warm call of C{echo} on the README's command with
    runtime C{twisted}, in each of C{windows} windows of C{calls} calls;
    the least is the call's figure (a window a timer or a collection of
    the gateway's came due in counts more)."""
    perCall: list[int] = []
    with tempfile.TemporaryDirectory(prefix="callfiles-counted-") as tmp:
        gateway = CountedGateway(Path(tmp), twisted, timeout=600.0)
        try:
            session = Session(gateway.port, timeout=600.0)
            numbers = itertools.count()
            for _ in range(warmup):
                session.echo(next(numbers))
            gateway.control("-i", "on")
            gateway.dumped()
            for _ in range(windows):
                for _ in range(calls):
                    session.echo(next(numbers))
                perCall.append(gateway.dumped() // calls)
            gateway.control("-i", "off")
            session.close()
        finally:
            gateway.stop(timeout=120.0)
    return {
        "twisted": twisted,
        "calls": calls,
        "instructionsPerCall": min(perCall),
        "windows": perCall,
    }


def main() -> None:
    args = options()
    measure = instructionsPerCall if args.instructions else filesPerCall
    if args.instructions:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for twisted in [args.twisted] if args.twisted else ["tuned", "stock"]:
        report = measure(twisted, args.warmup, args.calls, args.windows)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
