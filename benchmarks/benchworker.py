"""A worker subprocess printing JSON lines (C{mcpload.py} and the client
kinds that speak its protocol), read by threads: the orchestrator waits for
its events (L{Worker.expect}) and tells it when to go (L{Worker.say}).

L{mcpload} builds a worker's argv; C{peers.py}'s client kinds swap it (see
C{peerclients.loadgen}), so L{benchlevels.runLevel} looks it up here at each call.
"""

from __future__ import annotations

import collections
import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from benchenv import MCPLOAD, PY


class Worker:
    """A subprocess printing JSON lines (mcpload.py), read by a thread."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=40)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._readErr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                self.stderr.append(raw.decode(errors="replace").rstrip())
        self.lines.put(None)

    def _readErr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode(errors="replace").rstrip())

    def expect(self, event: str | tuple[str, ...], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                item = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                item = None
                if left > 0:
                    continue
            if item is None:
                self.kill()
                raise RuntimeError(
                    f"{Path(self.argv[1]).name} {self.argv[2]}: no '{event}' "
                    f"within {timeout:g}s; stderr:\n" + "\n".join(self.stderr)
                )
            if item.get("event") == "failed":
                self.kill()
                raise RuntimeError(f"{self.argv[2]} failed: {item.get('error')}")
            if item.get("event") in ((event,) if isinstance(event, str) else event):
                return item

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def mcpload(*args: str) -> list[str]:
    return [PY, str(MCPLOAD), *args]
