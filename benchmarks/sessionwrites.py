#!/usr/bin/env python3
"""What the reactor thread spends per save of C{sessions.json} and per new
session's journal line, in process, on the real disk.

A L{mcpgateway.ops.sessionstore.SessionStore} in a temp directory (next to
the checkout by default: a real file system, where C{fsync} costs what it
costs; C{/tmp} may be a tmpfs) is driven as the gateway drives it: C{save}
with every session's record (one session active each time, so each save
writes), and C{remember} with one new record (what an C{initialize} waits
for). Only the call itself is timed, on this thread (C{time.perf_counter}:
wall time, as a write and an C{fsync} block the thread without using CPU).
The jobs the store hands over run in a worker thread that this thread waits
for outside the timing, then hands the result back, as the reactor would;
with C{--inline}, they run at once on this thread, as every write did before
the store took a thread runner (the figure to compare with).

Usage: sessionwrites.py [--sessions N] [--rounds R] [--dir PATH] [--inline]
(prints one JSON line: medians and 90th percentiles in milliseconds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE)]

from twisted.internet.defer import Deferred  # noqa: E402

from mcpgateway.ops.sessionstore import SessionStore  # noqa: E402


class Handed:
    """A thread runner: each job runs in a worker thread; L{settle} waits
    for them and fires their Deferreds here (the reactor's part)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1)
        self.waiting: list[tuple[Future[Any], Deferred[Any]]] = []

    def __call__(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.waiting.append((self.pool.submit(f, *args), done))
        return done

    def settle(self) -> None:
        while self.waiting:
            future, done = self.waiting.pop(0)
            done.callback(future.result())


def record(n: int, now: float) -> dict[str, Any]:
    return {
        "id": f"session-{n:08d}-{'x' * 24}",
        "server": "search",
        "protocolVersion": "2025-11-25",
        "capabilities": {"roots": {"listChanged": True}, "sampling": {}},
        "clientInfo": {"name": "claude-code", "version": "2.1.0"},
        "logLevel": None,
        "subscriptions": [],
        "clientPid": 1000 + n,
        "created": now,
        "lastActivity": now,
        "scope": "",
        "credential": "",
        "principal": "",
    }


def makeStore(directory: str, inline: bool) -> tuple[SessionStore, Handed | None]:
    path = Path(directory) / "sessions.json"
    if inline:
        return SessionStore(path), None
    runner = Handed()
    return SessionStore(path, runInThread=runner), runner


def measure(directory: str, sessions: int, rounds: int, inline: bool) -> dict[str, Any]:
    store, runner = makeStore(directory, inline)
    records = [record(n, 1000.0) for n in range(sessions)]
    saves: list[float] = []
    remembers: list[float] = []
    for i in range(rounds):
        records[i % sessions]["lastActivity"] = 2000.0 + i
        started = time.perf_counter()
        store.save(records)
        saves.append(time.perf_counter() - started)
        if runner is not None:
            runner.settle()
        started = time.perf_counter()
        store.remember(record(sessions + i, 3000.0 + i))
        remembers.append(time.perf_counter() - started)
        if runner is not None:
            runner.settle()
    if runner is not None:
        runner.pool.shutdown()

    def summary(times: list[float]) -> dict[str, float]:
        ordered = sorted(times)
        return {
            "median_ms": round(statistics.median(ordered) * 1000, 3),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3),
        }

    return {
        "threaded": runner is not None,
        "sessions": sessions,
        "rounds": rounds,
        "save": summary(saves),
        "remember": summary(remembers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--dir", default=os.path.dirname(HERE))
    parser.add_argument("--inline", action="store_true", help="every write on this thread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".sessionwrites-") as where:
        print(json.dumps(measure(where, args.sessions, args.rounds, args.inline)))


if __name__ == "__main__":
    main()
