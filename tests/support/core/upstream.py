"""What tests/core/test_upstream.py shares with the other tests:
RecordingWatcher, UpstreamCase."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.lazysupport import ERA2026_SUPPORT
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, fakeSpawner
from tests.http import spec

Message = dict[str, Any]
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "child", "version": "9"},
}


class RecordingWatcher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.broken = False

    def spawned(self, server: str, pid: int) -> None:
        self.calls.append(("spawned", pid))
        if self.broken:
            raise OSError(28, "No space left on device")

    def exited(self, pid: int) -> None:
        self.calls.append(("exited", pid))
        if self.broken:
            raise OSError(28, "No space left on device")


class UpstreamCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.watcher = RecordingWatcher()
        self.up = Upstream(
            spec("srv", timeout=60.0),
            fakeSpawner(self.reactor, watcher=self.watcher),
            SharedFanout(),
            era2026=ERA2026_SUPPORT,
        )
        self.session = FakeSession("a")

    def start(self) -> FakeProcess:
        """Start the shared child and answer its handshake."""
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc)
        self.successResultOf(d)
        self.assertEqual(self.up.state, "running")
        return proc

    def answerInitialize(self, proc: FakeProcess, answer: Message | None = None) -> None:
        [init] = [m for m in proc.sentMessages() if m.get("method") == "initialize"]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": init["id"],
                **(answer if answer is not None else {"result": INIT_RESULT}),
            }
        )

    def call(self, requestId: Any = 7) -> Deferred[Message]:
        return self.up.router.request(
            self.session, jsonrpc.request(requestId, "tools/call", {"name": "x"}), None
        )

    def answerLast(self, proc: FakeProcess) -> None:
        last = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
        proc.reply({"jsonrpc": "2.0", "id": last["id"], "result": {"content": []}})
