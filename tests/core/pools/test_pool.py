"""ServerPool and Upstream: spawning, the shared handshake, restarts, per-session children."""

from __future__ import annotations

import dataclasses
import signal
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway import __version__
from mcpgateway.core.fanout import OwnerFanout
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.pool import Idle, NoSharedChild, SessionGone
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.spec import DEFAULT_START_TIMEOUT
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc, versions
from tests.fakes import (
    FakeProcess,
    FakeProcessReactor,
    FakeSession,
    RecordingSink,
    capturedGatewayLogs,
    fakeSpawner,
    scheduled,
)
from tests.support.core.era2026.no_traffic import NO_ERA2026_TRAFFIC
from tests.support.core.pools.pool import (
    ENVIRON,
    EXE,
    INIT_RESULT,
    INITIALIZED,
    SPEC,
    Message,
    PoolCase,
    clientInitialize,
    describe,
    ok,
    placementOf,
    sharedOf,
)
from tests.support.core.pools.replay import replayedTo

GATEWAY_INITIALIZE_PARAMS = {
    "protocolVersion": versions.LATEST,
    "capabilities": {
        "sampling": {},
        "elicitation": {"form": {}, "url": {}},
        "roots": {"listChanged": True},
    },
    "clientInfo": {"name": "mcpgateway", "version": __version__},
}


QUIET_POOL = {
    "maxChildren": 16,
    "requests": 0,
    "lateReplies": 0,
    "restarts": 0,
    "failures": 0,
    "circuit": "closed",
    "ambiguousServerRequests": 0,
    "poolWaits": 0,
    "poolTimeouts": 0,
    "evictions": 0,
    "promoted": None,
    "catalogStartups": 0,
    "catalogAnswers": 0,
    **NO_ERA2026_TRAFFIC,
}
"""What L{describe} says of a pool of 16 children at most that has
answered nothing, failed nothing and promoted nothing."""


class SharedHandshakeTests(PoolCase):
    def test_concurrent_opens_share_one_child_and_one_handshake(self) -> None:
        """Pitfall: concurrent first initializes wait behind one handshake."""
        a = FakeSession("a", protocolVersion="2025-03-26")
        b = FakeSession("b", protocolVersion="2025-06-18")
        c = FakeSession("c", protocolVersion="2024-11-05")
        dA = self.pool.open(a, clientInitialize(0, "2025-03-26"))
        dB = self.pool.open(b, clientInitialize(1, "2025-06-18"))
        dC = self.pool.open(c, clientInitialize("init-c", "2024-11-05"))
        self.assertEqual(
            self.reactor.spawned,
            [
                (
                    EXE,
                    [EXE, "--flag"],
                    {"PATH": "/usr/bin", "HOME": "/home/u", "TOKEN": "t"},
                    "/work/dir",
                )
            ],
        )
        proc = self.reactor.lastProcess
        self.assertEqual(
            proc.takeMessages(), [jsonrpc.request(1, "initialize", GATEWAY_INITIALIZE_PARAMS)]
        )
        for d in (dA, dB, dC):
            self.assertNoResult(d)
        self.assertEqual(self.pool.status(0).state, "starting")
        proc.reply(ok(1, INIT_RESULT))
        self.assertEqual(proc.takeMessages(), [INITIALIZED])
        self.assertEqual(
            self.successResultOf(dA), ok(0, {**INIT_RESULT, "protocolVersion": "2025-03-26"})
        )
        self.assertEqual(
            self.successResultOf(dB), ok(1, {**INIT_RESULT, "protocolVersion": "2025-06-18"})
        )
        self.assertEqual(
            self.successResultOf(dC), ok("init-c", {**INIT_RESULT, "protocolVersion": "2024-11-05"})
        )
        shared = sharedOf(self.pool).shared
        assert shared is not None
        self.assertEqual(shared.router.sessions, {a, b, c})
        self.assertEqual(self.pool.status(0).state, "running")
        self.assertEqual(len(self.reactor.processes), 1)
        self.assertEqual(scheduled(self.reactor), [])

    def test_later_open_answered_from_cache(self) -> None:
        self.openRunning(FakeSession("a"))
        proc = self.reactor.lastProcess
        late = FakeSession("late", protocolVersion="2025-06-18")
        d = self.pool.open(late, clientInitialize(9, "2025-06-18"))
        self.assertEqual(
            self.successResultOf(d), ok(9, {**INIT_RESULT, "protocolVersion": "2025-06-18"})
        )
        self.assertEqual(proc.sentMessages(), [])
        self.assertEqual(len(self.reactor.processes), 1)

    def test_env_passed_explicitly(self) -> None:
        """spawnProcess without env gives an empty environment on POSIX: always pass it."""
        self.pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        [(_, _, env, _)] = self.reactor.spawned
        self.assertEqual(env, {"PATH": "/usr/bin", "HOME": "/home/u", "TOKEN": "t"})

    def test_initialize_error_fails_open_and_kills_child(self) -> None:
        d = self.pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(jsonrpc.errorResponse(init["id"], -32602, "unsupported protocol"))
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(
            str(failure.value), "server 'srv' refused initialize: unsupported protocol"
        )
        self.assertEqual(proc.signals, ["KILL"])
        self.assertEqual(proc.takeMessages(), [])  # no notifications/initialized
        self.assertEqual(self.pool.status(0).state, "stopped")
        # The next open starts afresh, after the 1 s restart backoff.
        d2 = self.pool.open(FakeSession("b"), clientInitialize(0, versions.LATEST))
        self.assertEqual(len(self.reactor.processes), 1)
        self.reactor.advance(1.0)
        self.assertEqual(len(self.reactor.processes), 2)
        self.answerInitialize(self.reactor.lastProcess)
        self.successResultOf(d2)

    def test_initialize_timeout_fails_open(self) -> None:
        """The handshake has the start timeout (longer than the 10 s request
        timeout: a confined child's start takes longer than a call)."""
        d = self.pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        proc = self.reactor.lastProcess
        self.reactor.advance(DEFAULT_START_TIMEOUT - 0.1)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn(
            f"did not answer initialize within {DEFAULT_START_TIMEOUT:g} s", str(failure.value)
        )
        self.assertEqual(proc.signals, ["KILL"])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_child_dies_during_handshake(self) -> None:
        d = self.pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        proc = self.reactor.lastProcess
        proc.stderr(b"Error: Cannot find module 'x'\n")
        proc.exit(1)
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(
            str(failure.value),
            "server 'srv' exited with code 1; last stderr: Error: Cannot find module 'x'",
        )
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_executable_not_found(self) -> None:
        pool = self.makePool(dataclasses.replace(self.spec, executable=None, command="nosuch"))
        d = pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("not found", str(failure.value))
        self.assertIn("'nosuch'", str(failure.value))
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(pool.status(0).state, "error")
        described = describe(pool)
        self.assertEqual(described["state"], "error")
        self.assertEqual(described["error"], "command 'nosuch' was not found on PATH")

    def test_a_wrapper_missing_from_path_but_resolved_is_not_an_error(self) -> None:
        """C{npx} is not on the gateway's PATH, but its package
        was resolved to the program it runs (the launch spec): the server
        answers, so it is not shown as an error."""
        pool = self.makePool(dataclasses.replace(self.spec, executable=None, command="npx"))
        resolved = dataclasses.replace(self.spec, command="node")
        pool.launchAfter(succeed(resolved), "npx to resolve the command")
        self.assertEqual(pool.status(0).state, "stopped")
        self.assertNotIn("error", describe(pool))
        self.openRunningOn(pool, FakeSession("a"))
        self.assertEqual(pool.status(0).state, "running")

    def test_spawn_os_error(self) -> None:
        self.reactor.spawnError = OSError(13, "Permission denied")
        d = self.pool.open(FakeSession("a"), clientInitialize(0, versions.LATEST))
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("cannot start", str(failure.value))
        self.assertIn("Permission denied", str(failure.value))
        self.assertEqual(self.pool.status(0).state, "stopped")


class SharedRestartTests(PoolCase):
    def test_child_death_fails_pending_and_restart_reinitializes_first(self) -> None:
        """Pitfall: a restarted shared child is initialized again before any request."""
        a = FakeSession("a")
        self.openRunning(a)
        proc1 = self.reactor.lastProcess
        up = self.successResultOf(self.pool.ready(a))
        sink = RecordingSink()
        d1 = up.router.request(a, jsonrpc.request(5, "tools/call", {"name": "t"}), sink)
        [out] = proc1.takeMessages()
        self.assertEqual(out["method"], "tools/call")
        proc1.stderr(b"panic: oops\n")
        proc1.exit(2)
        self.assertEqual(
            self.successResultOf(d1),
            jsonrpc.errorResponse(
                5, jsonrpc.CHILD_EXITED, "server 'srv' exited with code 2; last stderr: panic: oops"
            ),
        )
        # A session is attached: the child comes back by itself, after the 1 s backoff.
        self.assertEqual(self.pool.status(0).state, "restarting")
        self.assertEqual(
            describe(self.pool)["lastExit"], "exited with code 2; last stderr: panic: oops"
        )

        # The next request: the web layer waits for ready(), then forwards.
        ready = self.pool.ready(a)
        self.assertEqual(len(self.reactor.processes), 1)
        self.reactor.advance(1.0)
        self.assertEqual(len(self.reactor.processes), 2)
        proc2 = self.reactor.lastProcess
        forwarded: Deferred[Message] = ready.addCallback(
            lambda u: u.router.request(a, jsonrpc.request(6, "tools/call", {"name": "t"}), sink)
        )
        self.assertNoResult(forwarded)
        [init] = proc2.sentMessages()
        self.assertEqual(init["method"], "initialize")
        self.assertEqual(init["params"], GATEWAY_INITIALIZE_PARAMS)
        proc2.reply(ok(init["id"], INIT_RESULT))
        sent = proc2.sentMessages()
        self.assertEqual(
            [m.get("method") for m in sent],
            ["initialize", "notifications/initialized", "tools/call"],
        )
        proc2.reply(ok(sent[2]["id"], {"content": []}))
        self.assertEqual(self.successResultOf(forwarded), ok(6, {"content": []}))
        described = describe(self.pool)
        self.assertEqual(
            (described["children"], described["pids"], described["restarts"]), (1, [1001], 1)
        )
        self.assertEqual(self.pool.status(0).state, "degraded")  # up again, failure recent

    def test_restart_restores_subscriptions(self) -> None:
        a = FakeSession("a")
        self.openRunning(a)
        proc1 = self.reactor.lastProcess
        up = self.successResultOf(self.pool.ready(a))
        d = up.router.request(
            a, jsonrpc.request(1, "resources/subscribe", {"uri": "file:///x"}), None
        )
        [out] = proc1.takeMessages()
        proc1.reply(ok(out["id"], {}))
        self.successResultOf(d)
        proc1.exit(signal=9)
        ready = self.pool.ready(a)
        self.reactor.advance(1.0)  # restart backoff
        proc2 = self.reactor.lastProcess
        self.answerInitialize(proc2)
        self.successResultOf(ready)
        sent = proc2.sentMessages()
        self.assertEqual(sent[0], INITIALIZED)
        self.assertEqual(
            sent[1], jsonrpc.request(sent[1]["id"], "resources/subscribe", {"uri": "file:///x"})
        )

    def test_concurrent_ready_after_death_one_restart(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        self.openRunning(a)
        self.openRunning(b, requestId=1)
        self.reactor.lastProcess.exit(1)
        rA, rB = self.pool.ready(a), self.pool.ready(b)
        self.reactor.advance(1.0)  # restart backoff
        self.assertEqual(len(self.reactor.processes), 2)
        self.answerInitialize(self.reactor.lastProcess)
        self.assertIs(self.successResultOf(rA), self.successResultOf(rB))

    def test_close_shared_session_detaches_only(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        self.openRunning(a)
        self.openRunning(b, requestId=1)
        proc = self.reactor.lastProcess
        up = self.successResultOf(self.pool.ready(a))
        d = up.router.request(a, jsonrpc.request(3, "tools/call"), None)
        d.addErrback(lambda f: f.trap(CancelledError))
        [out] = proc.takeMessages()
        self.successResultOf(self.pool.close(a))
        self.assertEqual(
            proc.takeMessages(),
            [
                jsonrpc.notification(
                    "notifications/cancelled", {"requestId": out["id"], "reason": "session ended"}
                )
            ],
        )
        self.assertFalse(proc.stdinClosed)
        self.assertEqual(up.router.sessions, {b})
        self.assertEqual(self.pool.status(0).state, "running")

    def test_stop_all(self) -> None:
        self.openRunning(FakeSession("a"))
        proc = self.reactor.lastProcess
        d = self.pool.stopAll()
        self.assertTrue(proc.stdinClosed)
        self.assertNoResult(d)
        self.reactor.advance(2.0)
        self.assertEqual(proc.signals, ["TERM"])
        self.reactor.advance(3.0)
        self.assertEqual(proc.signals, ["TERM", "KILL"])
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_describe_shared(self) -> None:
        self.assertEqual(
            describe(self.pool),
            {
                "mode": "stateless",
                "share": "global",
                "state": "stopped",
                "children": 0,
                "pids": [],
                "scopes": {},
                "inFlight": 0,
                **QUIET_POOL,
                "era2026": True,
            },
        )
        a = FakeSession("a")
        self.openRunning(a)
        up = self.successResultOf(self.pool.ready(a))
        up.router.request(a, jsonrpc.request(1, "tools/call"), None)
        self.assertEqual(
            describe(self.pool),
            {
                "mode": "stateless",
                "share": "global",
                "state": "running",
                "children": 1,
                "pids": [1000],
                "scopes": {"global": {"pid": 1000, "sessions": 1, "children": 1}},
                "inFlight": 1,
                **QUIET_POOL,
                "era2026": True,
            },
        )
        self.reactor.lastProcess.reply(
            jsonrpc.resultResponse(self.reactor.lastProcess.sentMessages()[-1]["id"], {})
        )
        self.assertEqual((describe(self.pool)["requests"], describe(self.pool)["inFlight"]), (1, 0))

    def test_describe_warns_about_ambiguous_requests(self) -> None:
        a = FakeSession("a", capabilities={"sampling": {}})
        b = FakeSession("b", capabilities={"sampling": {}})
        self.openRunning(a)
        self.openRunning(b, requestId=1)
        up = self.successResultOf(self.pool.ready(a))
        up.router.request(a, jsonrpc.request(1, "tools/call"), RecordingSink())
        up.router.request(b, jsonrpc.request(1, "tools/call"), RecordingSink())
        self.reactor.lastProcess.reply(jsonrpc.request(0, "sampling/createMessage"))
        described = describe(self.pool)
        self.assertEqual(described["ambiguousServerRequests"], 1)
        self.assertIn("1 sampling/elicitation request(s)", described["warning"])
        self.assertIn("per session", described["warning"])


class ProcessGroupTests(PoolCase):
    def test_spawn_through_setsid_and_signal_group(self) -> None:
        """Pitfall: npx / sh -c wrappers: spawn in a new group, signal the group."""
        killed: list[tuple[int, int]] = []
        spawner = fakeSpawner(
            self.reactor,
            environ=ENVIRON,
            setsid="/fake/setsid",
            killGroup=lambda pid, sig: killed.append((pid, sig)),
        )
        up = Upstream(self.spec, spawner, OwnerFanout(FakeSession("o")))
        self.successResultOf(up.ensure())
        [(executable, args, _, _)] = self.reactor.spawned
        self.assertEqual((executable, args), ("/fake/setsid", ["/fake/setsid", EXE, "--flag"]))
        d = up.stop(1.0, 1.0)
        self.reactor.advance(2.0)
        self.assertEqual(killed, [(1000, signal.SIGTERM), (1000, signal.SIGKILL)])
        self.assertEqual(self.reactor.lastProcess.signals, [])
        self.reactor.lastProcess.exit(signal=9)
        self.successResultOf(d)


class StatefulTests(PoolCase):
    mode = "stateful"

    def open(
        self, session: FakeSession, requestId: Any = 0
    ) -> tuple[Deferred[Message], FakeProcess]:
        d = self.pool.open(session, clientInitialize(requestId, session.protocolVersion))
        return d, self.reactor.lastProcess

    def openAnswered(self, session: FakeSession) -> FakeProcess:
        """Open C{session}'s own child and let it answer the initialize."""
        d, proc = self.open(session)
        self.answerInitialize(proc)
        self.successResultOf(d)
        return proc

    def test_each_session_its_own_child_and_its_own_initialize(self) -> None:
        a = FakeSession("a", protocolVersion="2025-06-18")
        b = FakeSession("b", protocolVersion="2025-03-26")
        dA, procA = self.open(a, requestId=0)
        dB, procB = self.open(b, requestId=0)
        self.assertIsNot(procA, procB)
        self.assertEqual(len(self.reactor.spawned), 2)
        [initA] = procA.takeMessages()
        [initB] = procB.takeMessages()
        # The client's own initialize, with a child-side id.
        self.assertEqual(initA, {**clientInitialize(0, "2025-06-18"), "id": initA["id"]})
        self.assertEqual(initB, {**clientInitialize(0, "2025-03-26"), "id": initB["id"]})
        self.assertNoResult(dA)
        procA.reply(ok(initA["id"], {**INIT_RESULT, "protocolVersion": "2025-06-18"}))
        self.assertEqual(
            self.successResultOf(dA), ok(0, {**INIT_RESULT, "protocolVersion": "2025-06-18"})
        )
        # No gateway-made notifications/initialized: the client sends its own.
        self.assertEqual(procA.takeMessages(), [])
        upA = self.pool.upstreamFor(a)
        assert upA is not None
        upA.router.clientNotification(a, INITIALIZED)
        self.assertEqual(procA.takeMessages(), [INITIALIZED])
        self.assertEqual(procB.takeMessages(), [])
        self.assertNoResult(dB)
        procB.reply(ok(initB["id"], {**INIT_RESULT, "protocolVersion": "2025-03-26"}))
        self.assertEqual(
            self.successResultOf(dB), ok(0, {**INIT_RESULT, "protocolVersion": "2025-03-26"})
        )
        self.assertEqual(procA.takeMessages(), [])
        self.assertIsNot(self.pool.upstreamFor(a), self.pool.upstreamFor(b))
        self.assertIs(upA.router.fanout.owner, a)

    def test_close_stops_only_that_child(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        procA = self.openAnswered(a)
        procB = self.openAnswered(b)
        upA = self.pool.upstreamFor(a)
        assert upA is not None
        pending = upA.router.request(a, jsonrpc.request(4, "tools/call"), None)
        pending.addErrback(lambda f: f.trap(CancelledError))
        procA.takeMessages()
        procB.takeMessages()
        d = self.pool.close(a)
        [cancel] = procA.takeMessages()
        self.assertEqual(
            cancel,
            jsonrpc.notification(
                "notifications/cancelled", {"requestId": 2, "reason": "session ended"}
            ),
        )
        self.assertTrue(procA.stdinClosed)
        self.assertEqual(procA.signals, [])
        self.reactor.advance(2.0)
        self.assertEqual(procA.signals, ["TERM"])
        self.assertNoResult(d)
        self.reactor.advance(3.0)
        self.assertEqual(procA.signals, ["TERM", "KILL"])
        self.successResultOf(d)
        self.assertFalse(procB.stdinClosed)
        self.assertEqual(procB.signals, [])
        self.assertIsNone(self.pool.upstreamFor(a))
        self.assertEqual(self.pool.owned.closed, 1)
        self.assertEqual(scheduled(self.reactor), [])
        self.successResultOf(self.pool.close(a))  # closing twice is harmless

    def test_close_stops_early_when_child_obeys_eof(self) -> None:
        a = FakeSession("a")
        procA = self.openAnswered(a)
        d = self.pool.close(a)
        procA.exit(0)
        self.successResultOf(d)
        self.assertEqual(procA.signals, [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_close_during_initialize_cancels_it(self) -> None:
        a = FakeSession("a")
        d, procA = self.open(a)
        [init] = procA.takeMessages()
        stopped = self.pool.close(a)
        self.failureResultOf(d, CancelledError)
        self.assertEqual(
            procA.takeMessages(),
            [
                jsonrpc.notification(
                    "notifications/cancelled", {"requestId": init["id"], "reason": "session ended"}
                )
            ],
        )
        self.assertTrue(procA.stdinClosed)
        procA.exit(0)
        self.successResultOf(stopped)

    def test_ready_running_and_gone(self) -> None:
        a = FakeSession("a")
        _, procA = self.open(a)
        upA = self.pool.upstreamFor(a)
        self.assertIs(self.successResultOf(self.pool.ready(a)), upA)
        pending = upA.router.request(a, jsonrpc.request(2, "tools/call"), None)
        procA.exit(1)
        self.assertEqual(self.successResultOf(pending)["error"]["code"], jsonrpc.CHILD_EXITED)
        self.assertRaises(SessionGone, self.pool.ready, a)
        self.assertEqual(len(self.reactor.processes), 1)  # no silent respawn
        self.assertRaises(SessionGone, self.pool.ready, FakeSession("never-opened"))

    def test_describe_stateful(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        self.open(a)
        self.open(b)
        self.assertEqual(
            describe(self.pool),
            {
                "mode": "stateful",
                "share": "session",
                "state": "running",
                "children": 2,
                "pids": [1000, 1001],
                "scopes": {},
                "inFlight": 2,
                **QUIET_POOL,
                "era2026": "server 'srv' runs a child per session (share: session), and an MCP"
                " 2026-07-28 client has no session to own one",
            },
        )
        self.reactor.processes[0].exit(3)
        described = describe(self.pool)
        self.assertEqual((described["children"], described["pids"]), (1, [1001]))
        self.assertEqual(described["lastExit"], "exited with code 3")

    def test_stateful_executable_not_found(self) -> None:
        pool = self.makePool(dataclasses.replace(self.spec, executable=None))
        a = FakeSession("a")
        failure = self.failureResultOf(
            pool.open(a, clientInitialize(0, versions.LATEST)), ServerUnavailable
        )
        self.assertIn("not found", str(failure.value))
        self.assertEqual(self.reactor.spawned, [])

    def test_session_adopts_the_protocol_version_its_child_answers(self) -> None:
        a = FakeSession("a", protocolVersion="2025-11-25")
        d, procA = self.open(a)
        [init] = procA.takeMessages()
        procA.reply(ok(init["id"], {**INIT_RESULT, "protocolVersion": "2025-03-26"}))
        self.successResultOf(d)
        self.assertEqual(a.protocolVersion, "2025-03-26")

    def test_what_only_a_shared_child_has(self) -> None:
        """A session's own child is never idle-stopped or pinged; closing
        its session stops it."""
        a = FakeSession("a")
        procA = self.openAnswered(a)
        self.assertIsNone(self.pool.idle(self.reactor.seconds() + 10**6))
        self.pool.healthPing()
        self.assertEqual(procA.sentMessages(), [])
        self.assertRaises(NoSharedChild, self.pool.stopShared)
        self.assertEqual(self.pool.ownChildPids(a), [procA.pid])
        self.assertEqual(self.pool.gone(a), None)
        self.pool.close(a)
        self.assertTrue(procA.stdinClosed)
        self.assertIn("for this session is gone", self.pool.gone(a) or "")
        self.assertRaises(SessionGone, self.pool.forward, a, jsonrpc.request(1, "tools/list"), None)

    def test_a_session_whose_child_crashed_goes_on_on_a_new_one(self) -> None:
        """The call in flight gets its error; the session's next request
        starts a new child, replays the session's own initialize (and
        initialized notification, log level and subscriptions) to it, then
        goes through: the client's session id keeps working."""
        a = FakeSession("a", capabilities={"sampling": {}}, logLevel="info")
        a.subscriptions.add("file:///x")
        procA = self.openAnswered(a)
        procA.takeMessages()
        inFlight = self.pool.forward(a, jsonrpc.request(1, "tools/call", {"name": "t"}), None)
        [call] = procA.takeMessages()
        with capturedGatewayLogs() as events:
            procA.exit(9)
            failed = self.successResultOf(inFlight)
            self.assertEqual(failed["error"]["code"], jsonrpc.CHILD_EXITED)
            self.assertIsNone(self.pool.gone(a))
            after = self.pool.forward(a, jsonrpc.request(2, "tools/list"), None)
            self.reactor.advance(2)  # the breaker's backoff after a crash
            procB = self.reactor.lastProcess
            self.assertIsNot(procB, procA)
            self.assertEqual(a.capabilities, {"sampling": {}})
            sent = replayedTo(self, procB, a, INIT_RESULT, "tools/list")
        self.assertNoResult(after)
        procB.reply(ok(sent[-1]["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(after)["id"], 2)
        self.assertEqual(self.pool.ownChildPids(a), [procB.pid])
        said = [e.get("why", "") for e in events if "replays the session" in e["log_format"]]
        self.assertEqual(len(said), 1)
        self.assertTrue(any("goes on on a fresh child" in e["log_format"] for e in events))
        del call

    def test_the_reaper_leaves_a_session_whose_child_crashed(self) -> None:
        """A sweep finding the child gone counts it and ends no session."""
        a = FakeSession("a")
        procA = self.openAnswered(a)
        procA.exit(1)
        found = self.pool.sweep(lambda pid: False)
        self.assertEqual(found.orphaned, [])
        self.assertIsNone(self.pool.gone(a))


class SharedOnlyTests(PoolCase):
    def test_idle_after_traffic_and_after_the_last_session_left(self) -> None:
        a = FakeSession("a")
        self.assertIsNone(self.pool.idle(0.0))  # no child
        self.openRunning(a)
        self.reactor.advance(30)
        self.assertEqual(self.pool.idle(self.reactor.seconds()), Idle(quiet=30.0, unused=None))
        d = self.pool.forward(a, jsonrpc.request(1, "tools/call"), None)
        self.assertIsNone(self.pool.idle(self.reactor.seconds()))  # a request in flight
        [call] = self.reactor.lastProcess.takeMessages()
        self.reactor.lastProcess.reply(ok(call["id"], {}))
        self.successResultOf(d)
        self.reactor.advance(5)
        self.successResultOf(self.pool.close(a))
        self.reactor.advance(7)
        self.assertEqual(self.pool.idle(self.reactor.seconds()), Idle(quiet=12.0, unused=7.0))
        self.assertEqual(self.pool.ownChildPids(a), [])


class TimeoutReloadTests(PoolCase):
    """A reloaded C{requestTimeout} applies to the children
    running now (their requests in flight included, counted from when each
    was sent) and to the children started later, as docs/guide/scopes.md says,
    and is logged."""

    def test_a_shorter_timeout_applies_to_the_request_in_flight(self) -> None:
        a = FakeSession("a")
        self.openRunning(a)
        d = self.pool.forward(a, jsonrpc.request(1, "tools/call"), None)
        self.reactor.advance(1.0)
        with capturedGatewayLogs() as events:
            self.assertEqual(
                self.pool.useSpec(dataclasses.replace(self.spec, requestTimeout=3.0)), []
            )
        [said] = [e for e in events if "request timeout is now" in e["log_format"]]
        self.assertEqual((said["timeout"], said["before"]), (3.0, 10.0))
        self.reactor.advance(1.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)  # 3 s after it was sent
        answer = self.successResultOf(d)
        self.assertEqual(answer["error"]["code"], jsonrpc.REQUEST_TIMEOUT)
        self.assertIn("within 3 s", answer["error"]["message"])

    def test_a_timeout_shortened_past_a_request_says_how_long_it_waited(self) -> None:
        """Shortened to 3 s while a call waited 6.3 s, it is
        answered at once; the log says both (the client: the timeout)."""
        a = FakeSession("a")
        self.openRunning(a)
        d = self.pool.forward(a, jsonrpc.request(1, "tools/call"), None)
        self.reactor.advance(6.3)
        self.pool.useSpec(dataclasses.replace(self.spec, requestTimeout=3.0))
        with capturedGatewayLogs() as events:
            self.reactor.advance(0)
        self.assertIn("within 3 s", self.successResultOf(d)["error"]["message"])
        [said] = [e for e in events if "timed out (its timeout" in e["log_format"]]
        self.assertEqual((said["waited"], said["timeout"]), (6.3, 3.0))

    def test_a_longer_one_too_and_the_next_request_gets_it(self) -> None:
        a = FakeSession("a")
        self.openRunning(a)
        d = self.pool.forward(a, jsonrpc.request(1, "tools/call"), None)
        self.pool.useSpec(dataclasses.replace(self.spec, requestTimeout=30.0))
        self.reactor.advance(29.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        self.assertIn("within 30 s", self.successResultOf(d)["error"]["message"])
        d2 = self.pool.forward(a, jsonrpc.request(2, "tools/call"), None)
        self.reactor.advance(29.9)
        self.assertNoResult(d2)
        self.reactor.advance(0.1)
        self.assertIn("within 30 s", self.successResultOf(d2)["error"]["message"])


class StatefulTimeoutReloadTests(PoolCase):
    mode = "stateful"

    def test_a_child_started_after_the_reload_gets_the_new_timeout(self) -> None:
        self.pool.useSpec(dataclasses.replace(self.spec, requestTimeout=4.0))
        a = FakeSession("a")
        d = self.pool.open(a, clientInitialize(0, a.protocolVersion))
        self.answerInitialize(self.reactor.lastProcess)
        self.successResultOf(d)
        upstream = self.pool.upstreamFor(a)
        assert upstream is not None
        self.assertEqual(upstream.router.timeout, 4.0)


class MakePoolTests(SynchronousTestCase):
    def test_the_specs_sharing_picks_the_pool(self) -> None:
        spawner = fakeSpawner(FakeProcessReactor())
        self.assertIsInstance(placementOf(makePool(SPEC, spawner)), SharedPlacement)
        self.assertIsInstance(
            placementOf(makePool(dataclasses.replace(SPEC, mode="stateful"), spawner)),
            SessionPlacement,
        )

    def test_an_unknown_mode_is_refused(self) -> None:
        self.assertRaises(
            ValueError,
            makePool,
            dataclasses.replace(SPEC, mode="sometimes"),
            fakeSpawner(FakeProcessReactor()),
        )
