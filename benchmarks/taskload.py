"""The load side of C{benchmarks/tasks.py}: the clients (stateless
2026-07-28 requests on one keep-alive C{http.client} connection; the
conformance fixture driven straight down its stdio pipe), the level runner
(C{concurrency} connections, a thread each, one request in flight each) and
what a level measures: latencies, and the CPU of the gateway, its child, this
client and everything else on the machine."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.core.tasks.model import EXTENSION

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"
ERA2026 = "2026-07-28"
HANDSHAKE = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
SERVER = "conformance"
Op = Callable[[int], bool]
"""One measured request (its index): whether its answer was the right one."""


# -- measuring ---------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The C{q} quantile (0..1) of C{values}, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary(us: list[float]) -> dict[str, float]:
    """Median, p99 and max of samples in µs."""
    return {
        "median": round(statistics.median(us), 2),
        "p99": round(pct(us, 0.99), 2),
        "max": round(max(us), 2),
        "n": len(us),
    }


def cpuSeconds(pid: int | None) -> float:
    """The time every live thread of C{pid} has spent on a CPU (schedstat,
    nanoseconds: for the gateway, whose threads live as long as it)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task") if pid is not None else ():
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            continue
    return total / 1e9


def processCpu(pid: int | None) -> float:
    """The CPU time of C{pid} with its exited threads (C{/proc/<pid>/stat},
    clock ticks: for the SDK fixture, which runs sync tools on short-lived
    worker threads)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machineBusy() -> float:
    """CPU seconds the whole machine has spent busy (C{/proc/stat})."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def quiet(budget: float, below: float = 0.25) -> dict[str, float]:
    """Wait (at most C{budget} seconds) for a quarter second in which the
    machine keeps fewer than C{below} cores busy; how long it waited and how
    busy it was last."""
    started, busy = time.monotonic(), 0.0
    while True:
        before = machineBusy()
        time.sleep(0.25)
        busy = (machineBusy() - before) / 0.25
        if busy < below or time.monotonic() - started >= budget:
            return {"waited": round(time.monotonic() - started, 2), "busy": round(busy, 2)}


def childOf(pid: int) -> int | None:
    """The first child process of C{pid} (the gateway's stdio child)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            found = f.read().split()
    except OSError:
        return None
    return int(found[0]) if found else None


# -- the clients ------------------------------------------------------------------------


def answerOf(data: bytes) -> Any:
    """The JSON-RPC answer of a JSON or SSE body (the last message with an id)."""
    if data.lstrip().startswith(b"{"):
        return json.loads(data)
    events = [line[5:].strip() for line in data.splitlines() if line.startswith(b"data:")]
    return [json.loads(e) for e in events if e and b'"id"' in e][-1]


class Http2026:
    """Stateless 2026-07-28 requests on one keep-alive connection."""

    def __init__(self, port: int, declared: bool) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        capabilities: dict[str, Any] = {"extensions": {EXTENSION: {}}} if declared else {}
        self.meta = {
            "io.modelcontextprotocol/protocolVersion": ERA2026,
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        }
        self.ids = 0

    def request(self, method: str, params: dict[str, Any], name: str) -> Any:
        self.ids += 1
        body = {
            "jsonrpc": "2.0",
            "id": self.ids,
            "method": method,
            "params": {**params, "_meta": self.meta},
        }
        headers = {
            "Content-Type": "application/json",
            "Accept": ACCEPT,
            "MCP-Protocol-Version": ERA2026,
            "Mcp-Method": method,
            "Mcp-Name": name,
        }
        self.conn.request("POST", f"/{SERVER}/mcp", json.dumps(body).encode(), headers)
        answer = answerOf(self.conn.getresponse().read())
        return answer.get("result") if answer.get("id") == self.ids else None

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return self.request("tools/call", {"name": tool, "arguments": arguments}, tool)

    def get(self, taskId: str) -> Any:
        return self.request("tasks/get", {"taskId": taskId}, taskId)

    def close(self) -> None:
        self.conn.close()


def textOf(result: Any) -> str:
    try:
        return str(result["content"][0]["text"])
    except (KeyError, IndexError, TypeError):
        return ""


def callOp(port: int, declared: bool, tool: str) -> Op:
    """A client calling C{tool} (greet or slow_compute(0)), each call checked."""
    client = Http2026(port, declared)
    tag = secrets.token_hex(3)

    def op(i: int) -> bool:
        if tool == "greet":
            return textOf(client.call("greet", {"name": f"{tag}{i}"})) == f"Hello, {tag}{i}!"
        said = textOf(client.call("slow_compute", {"seconds": 0, "label": f"{tag}{i}"}))
        return said.startswith(f"computed {tag}{i} ")

    return op


def pollOp(port: int, taskId: str, status: str) -> Op:
    client = Http2026(port, declared=True)

    def op(i: int) -> bool:
        shown = client.get(taskId)
        return isinstance(shown, dict) and shown.get("status") == status

    return op


class Direct:
    """The fixture on a stdio pipe of this process: the floor under a call."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(FIXTURE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self.process.pid
        init = {
            "protocolVersion": HANDSHAKE,
            "capabilities": {},
            "clientInfo": {"name": "tasks-bench", "version": "1"},
        }
        self.send(0, "initialize", init)
        while self.read().get("id") != 0:
            pass
        self.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.ids = itertools.count(1)

    def write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def send(self, n: int, method: str, params: dict[str, Any]) -> None:
        self.write({"jsonrpc": "2.0", "id": n, "method": method, "params": params})

    def read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise EOFError("the fixture exited")
        return json.loads(line)

    def level(self, tool: str, concurrency: int, calls: int, deadline: float) -> Level:
        """C{calls} calls, C{concurrency} in flight, on this one pipe."""
        arguments = (lambda n: {"name": f"d{n}"}) if tool == "greet" else (lambda n: {"seconds": 0})
        sent: dict[int, float] = {}
        level = Level()

        def one() -> None:
            n = next(self.ids)
            sent[n] = time.perf_counter()
            self.send(n, "tools/call", {"name": tool, "arguments": arguments(n)})

        level.begin(None, self.pid)
        for _ in range(min(concurrency, calls)):
            one()
        left = calls - min(concurrency, calls)
        while sent:
            answer = self.read()
            started = sent.pop(answer.get("id"), None)
            if started is None:
                continue
            level.latUs.append((time.perf_counter() - started) * 1e6)
            ok = "result" in answer and not answer["result"].get("isError")
            level.ok, level.errors = level.ok + ok, level.errors + (not ok)
            if left > 0 and time.monotonic() < deadline:
                left -= 1
                one()
        level.end()
        return level

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Level:
    """One level's run: answers, latencies, the CPU of each side."""

    ok: int = 0
    errors: int = 0
    latUs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    _marks: tuple[float, ...] = ()
    _pids: tuple[int | None, int | None] = (None, None)

    def begin(self, server: int | None, child: int | None) -> None:
        self._pids = (server, child)
        self._marks = (
            time.perf_counter(),
            cpuSeconds(server),
            processCpu(child),
            time.process_time(),
            machineBusy(),
        )

    def end(self) -> None:
        now = (
            time.perf_counter(),
            cpuSeconds(self._pids[0]),
            processCpu(self._pids[1]),
            time.process_time(),
            machineBusy(),
        )
        spent = [b - a for a, b in zip(self._marks, now, strict=True)]
        self.seconds = spent[0]
        self.cpu = {"server": spent[1], "child": spent[2], "client": spent[3]}
        self.cpu["others"] = max(0.0, spent[4] - sum(self.cpu.values()))


def runLevel(
    makeOp: Callable[[], Op],
    concurrency: int,
    calls: int,
    deadline: float,
    pids: tuple[int | None, int | None],
) -> Level:
    """C{calls} requests over C{concurrency} connections (a thread each, one
    request in flight each), timed from the moment every connection is open
    and warm."""
    level, lock = Level(), threading.Lock()
    counter = itertools.count()
    ready = threading.Barrier(concurrency + 1)

    def worker() -> None:
        op = makeOp()
        op(-1)  # opens the connection
        ready.wait()
        ok = errors = 0
        lat: list[float] = []
        while (i := next(counter)) < calls and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                good = op(i)
            except (OSError, http.client.HTTPException, ValueError, IndexError):
                good, op = False, makeOp()
            lat.append((time.perf_counter() - started) * 1e6)
            ok, errors = ok + good, errors + (not good)
        with lock:
            level.ok, level.errors = level.ok + ok, level.errors + errors
            level.latUs += lat

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    level.begin(*pids)
    for thread in threads:
        thread.join()
    level.end()
    return level
