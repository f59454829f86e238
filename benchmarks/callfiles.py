#!/usr/bin/env python3
"""The gateway's own source files a warm C{tools/call} runs through, on the
README's command as a user runs it.

Starts C{twistd -n mcpgateway --port P} (under C{calltrace.py}, which is
twistd with a tracer a signal turns on) with its defaults on a fresh HOME:
no C{--config}, so it serves the bundled C{demo} stdio server, sandboxed,
with pins and tasks as shipped. One keep-alive client initializes a
session, makes C{--warmup} calls of C{echo}, then C{--calls} more under the
tracer, C{--windows} times, and prints, per runtime (C{MCPGATEWAY_TWISTED=tuned} and
C{stock}), the files of C{mcpgateway/} whose code ran (C{files}) and the
files a reader of the call opens (C{readerFiles}: those and the files
defining the classes of the gateway's objects the calls touched, see
C{calltrace.py}): what every window ran, so that a timer of the gateway's
coming due in one window is not taken for the call's (C{background}); and
the gateway's modules the process held after the last window (C{loaded}).

Usage: callfiles.py [--twisted stock|tuned] [--warmup N] [--calls N] [--windows N]
(prints one JSON line per runtime)
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


def options() -> argparse.Namespace:
    """The command line: which runtimes, and how many calls warm up and are traced."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--calls", type=int, default=5, help="calls in each traced window")
    ap.add_argument("--windows", type=int, default=3, help="traced windows")
    ap.add_argument(
        "--twisted",
        choices=("stock", "tuned"),
        help="one runtime (default: both, tuned then stock)",
    )
    return ap.parse_args()


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
        "background": sorted(set.union(*(set(t["ran"]) for t in traces)) - ran),
        "loaded": traces[-1]["loaded"],
    }


def main() -> None:
    args = options()
    for twisted in [args.twisted] if args.twisted else ["tuned", "stock"]:
        report = filesPerCall(twisted, args.warmup, args.calls, args.windows)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
