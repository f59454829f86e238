"""Upstream against misbehaving children: a child that closes its stdout and
lives on, odd initialize answers, failing spawns, listeners and ledgers that
raise. Fake processes and a fake clock; nothing may raise out of a callback and
no request may wait its full timeout for a child that is gone."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.child import OUTPUT_GRACE, ChildProtocol
from mcpgateway.core.era2026.lazysupport import ERA2026_SUPPORT
from mcpgateway.core.fanout import OwnerFanout, SharedFanout
from mcpgateway.core.status import Circuit
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc
from tests.fakes import (
    FakeProcess,
    FakeProcessReactor,
    FakeSession,
    capturedGatewayLogs,
    fakeSpawner,
)
from tests.http import spec
from tests.support.core.upstream import INIT_RESULT, Message, UpstreamCase


def closeStdout(proc: FakeProcess) -> None:
    """The child closes its stdout (os.close(1)); its process runs on."""
    proc.proto.childConnectionLost(1)


class StdoutClosedTests(UpstreamCase):
    """A child that closes its stdout but keeps running."""

    def test_pending_calls_fail_at_once_the_child_is_stopped_and_replaced(self) -> None:
        proc = self.start()
        pending = self.call()
        closeStdout(proc)
        self.reactor.advance(OUTPUT_GRACE)
        # Answered now, not after the 60 s request timeout.
        response = self.successResultOf(pending)
        self.assertEqual(response["id"], 7)
        self.assertEqual(response["error"]["code"], jsonrpc.CHILD_EXITED)
        self.assertIn("closed its stdout", response["error"]["message"])
        # The gateway let go of it, and the state says so.
        self.assertIsNone(self.up.child)
        self.assertEqual(self.up.state, "stopped")
        assert self.up.lastExit is not None
        self.assertIn("closed its stdout", self.up.lastExit)
        self.assertEqual([e["kind"] for e in self.up.events.recent()][-1], "exited")
        # It is stopped as every child is: stdin EOF, TERM 2 s later, KILL 3 s after that.
        self.assertTrue(proc.stdinClosed)
        self.reactor.advance(2.0)
        self.assertEqual(proc.signals, ["TERM"])
        self.assertNotIn(("exited", 1000), self.watcher.calls)  # still running
        self.reactor.advance(3.0)
        self.assertEqual(proc.signals, ["TERM", "KILL"])
        self.assertEqual(self.watcher.calls[-1], ("exited", 1000))
        # The next request starts a fresh child.
        d = self.up.ensure()
        self.assertEqual(len(self.reactor.processes), 2)
        self.answerInitialize(self.reactor.lastProcess)
        self.successResultOf(d)
        self.assertEqual(self.up.state, "running")

    def test_nothing_more_is_written_to_the_abandoned_child(self) -> None:
        proc = self.start()
        closeStdout(proc)
        self.reactor.advance(OUTPUT_GRACE)
        proc.written.clear()
        self.up.router.clientNotification(self.session, jsonrpc.notification("notifications/x"))
        self.assertEqual(proc.written, [])

    def test_with_sessions_attached_a_serving_child_comes_back_at_once(self) -> None:
        self.up.router.attach(self.session)
        proc = self.start()
        self.call()
        self.answerLast(proc)  # it served a request
        closeStdout(proc)
        self.reactor.advance(OUTPUT_GRACE)
        self.assertEqual(len(self.reactor.processes), 2)
        self.assertEqual(self.up.state, "starting")
        self.answerInitialize(self.reactor.lastProcess)
        self.assertEqual(self.up.state, "running")
        self.assertEqual(self.up.breaker.crashes, 0)

    def test_one_that_never_served_restarts_after_the_backoff(self) -> None:
        self.up.router.attach(self.session)
        proc = self.start()
        closeStdout(proc)
        self.reactor.advance(OUTPUT_GRACE)
        self.assertEqual(self.up.state, "restarting")
        self.assertEqual(self.up.breaker.crashes, 1)
        self.reactor.advance(0.99)
        self.assertEqual(len(self.reactor.processes), 1)
        self.reactor.advance(0.01)
        self.assertEqual(len(self.reactor.processes), 2)

    def test_closing_stdout_at_once_again_and_again_opens_the_circuit(self) -> None:
        for attempt in range(5):
            d = self.up.ensure()
            self.assertEqual(len(self.reactor.processes), attempt + 1)
            closeStdout(self.reactor.lastProcess)  # before its initialize answer
            self.reactor.advance(OUTPUT_GRACE)
            failure = self.failureResultOf(d, ServerUnavailable)
            self.assertIn("closed its stdout", str(failure.value))
            self.reactor.advance(self.up.breaker.delay())
        self.assertEqual(self.up.breaker.state, Circuit.OPEN)
        failure = self.failureResultOf(self.up.ensure(), ServerUnavailable)
        self.assertIn("is failing: 5 failure(s)", str(failure.value))
        self.assertIn("closed its stdout", str(failure.value))

    def test_an_exit_right_after_the_end_of_stdout_keeps_its_own_reason(self) -> None:
        proc = self.start()
        pending = self.call()
        closeStdout(proc)
        proc.stderr(b"panic: out of cheese\n")
        proc.exit(2)
        message = self.successResultOf(pending)["error"]["message"]
        self.assertIn("exited with code 2", message)
        self.assertIn("panic: out of cheese", message)
        self.assertNotIn("stdout", message)
        self.reactor.advance(10)
        self.assertEqual(proc.signals, [])
        self.assertFalse(proc.stdinClosed)

    def test_stop_waits_for_a_child_still_being_stopped(self) -> None:
        proc = self.start()
        closeStdout(proc)
        self.reactor.advance(OUTPUT_GRACE)
        self.assertIsNone(self.up.child)
        done = self.up.stop()
        self.assertNoResult(done)
        self.reactor.advance(5.0)  # TERM, then KILL ends it
        self.successResultOf(done)

    def test_stop_waits_for_both_the_leaving_and_the_current_child(self) -> None:
        self.up.router.attach(self.session)
        first = self.start()
        self.call()
        self.answerLast(first)
        closeStdout(first)
        self.reactor.advance(OUTPUT_GRACE)
        second = self.reactor.lastProcess
        self.answerInitialize(second)
        self.reactor.termEnds = True
        second.termEnds = True
        done = self.up.stop(graceTime=1.0, termTime=10.0)
        self.reactor.advance(1.0)
        self.assertTrue(second.ended)
        self.assertNoResult(done)  # the first one ignores TERM and is killed later
        self.reactor.advance(10.0)
        self.successResultOf(done)


class InitializeAnswerTests(UpstreamCase):
    """Whatever a child answers to initialize, the waiters get an outcome."""

    def test_an_error_that_is_not_an_object(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, {"error": "nope"})
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("refused initialize: nope", str(failure.value))
        self.assertEqual(proc.signals, ["KILL"])

    def test_a_server_info_that_is_not_an_object(self) -> None:
        d = self.up.ensure()
        self.answerInitialize(
            self.reactor.lastProcess, {"result": {**INIT_RESULT, "serverInfo": "child 9"}}
        )
        self.successResultOf(d)
        self.assertEqual(self.up.state, "running")

    def test_an_answer_that_breaks_the_handshake_fails_the_waiters(self) -> None:
        def broken() -> None:
            raise RuntimeError("resubscribe bug")

        self.patch(self.up.router, "resubscribe", broken)
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc)
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("resubscribe bug", str(failure.value))
        self.assertEqual(proc.signals, ["KILL"])
        self.flushLoggedErrors(RuntimeError)


class NothingRaisesTests(UpstreamCase):
    def test_a_spawn_that_raises_anything_fails_the_waiters(self) -> None:
        self.reactor.spawnError = RuntimeError("fork bomb guard")
        failure = self.failureResultOf(self.up.ensure(), ServerUnavailable)
        self.assertIn("fork bomb guard", str(failure.value))
        self.assertEqual(self.up.state, "stopped")
        self.flushLoggedErrors(RuntimeError)

    def test_a_restart_timer_whose_spawn_raises_fails_the_waiters(self) -> None:
        self.up.router.attach(self.session)
        proc = self.start()
        proc.exit(1)  # a crash: the restart waits 1 s
        self.assertEqual(self.up.state, "restarting")
        waiting = self.up.ensure()
        self.reactor.spawnError = RuntimeError("no more processes")
        self.reactor.advance(1.0)  # the timer runs _start: nothing may escape it
        failure = self.failureResultOf(waiting, ServerUnavailable)
        self.assertIn("no more processes", str(failure.value))
        self.flushLoggedErrors(RuntimeError)

    def test_a_failing_ledger_and_event_listener_do_not_stop_the_exit_handling(self) -> None:
        proc = self.start()
        self.watcher.broken = True

        def listener(event: dict[str, Any]) -> None:
            raise RuntimeError("stream gone")

        self.up.events.listen(listener)
        pending = self.call()
        with capturedGatewayLogs():
            proc.exit(1)
        self.assertEqual(self.successResultOf(pending)["error"]["code"], jsonrpc.CHILD_EXITED)
        self.assertEqual(self.up.state, "stopped")
        assert isinstance(proc.proto, ChildProtocol)
        self.assertIsNone(proc.proto.ended.result)  # no failure left in the Deferred
        d = self.up.ensure()  # the ledger still fails: the spawn goes on (after the backoff)
        self.reactor.advance(self.up.breaker.delay())
        self.assertEqual(len(self.reactor.processes), 2)
        self.assertNoResult(d)
        self.flushLoggedErrors(RuntimeError, OSError)

    def test_death_by_any_signal_is_detected(self) -> None:
        for sig in (1, 2, 9, 15):
            proc = self.start()
            pending = self.call()
            proc.exit(signal=sig)
            message = self.successResultOf(pending)["error"]["message"]
            self.assertIn(f"killed by signal {sig}", message)
            self.assertEqual(self.up.state, "stopped")
            self.reactor.advance(60)
        self.assertEqual(self.up.breaker.state, Circuit.CLOSED)  # four crashes 60 s apart


ERA2026_ENVELOPE_KEYS = {
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
}
DISCOVER_RESULT = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {"tools": {"listChanged": True}, "extensions": {"x": {}}},
    "instructions": "era2026 only",
    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "era2026-child", "version": "2"}},
    "ttlMs": 0,
    "cacheScope": "public",
}


def era2026Refusal(supported: list[str]) -> Message:
    return {
        "error": {
            "code": jsonrpc.UNSUPPORTED_VERSION,
            "message": "Unsupported protocol version",
            "data": {"supported": supported, "requested": "2025-11-25"},
        }
    }


class Era2026ChildTests(UpstreamCase):
    """Children that speak only 2026-07-28: found out by their -32022 to
    initialize (or configured so), discovered on the same process."""

    def discover(self, proc: FakeProcess, answer: Message | None = None) -> Message:
        """Answer the discover the child was sent; that request."""
        [request] = [m for m in proc.takeMessages() if m.get("method") == "server/discover"]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": request["id"],
                **(answer if answer is not None else {"result": DISCOVER_RESULT}),
            }
        )
        return request  # type: ignore[no-any-return]

    def test_a_era2026_only_refusal_switches_that_process_to_discover(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28"]))
        self.assertNoResult(d)
        self.assertEqual(self.up.era, "era2026")
        request = self.discover(proc)
        self.assertEqual(set(request["params"]["_meta"]), ERA2026_ENVELOPE_KEYS)
        self.assertEqual(
            request["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28"
        )
        self.successResultOf(d)
        self.assertEqual(self.up.state, "running")
        self.assertEqual(len(self.reactor.processes), 1)  # the same process
        self.assertEqual(self.up.discoverResult, DISCOVER_RESULT)
        # Handshake sessions are told what 2025 has of it.
        self.assertEqual(
            self.up.initializeResult,
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "era2026-child", "version": "2"},
                "instructions": "era2026 only",
            },
        )
        sent = proc.takeMessages()
        self.assertNotIn("notifications/initialized", [m.get("method") for m in sent])
        # The upstream listen follows the tool list.
        self.reactor.advance(0)
        [listen] = proc.takeMessages()
        self.assertEqual(listen["method"], "subscriptions/listen")
        self.assertEqual(listen["params"]["notifications"], {"toolsListChanged": True})
        last = self.up.events.recent()[-1]
        self.assertEqual(
            (last["kind"], last["text"]), ("initialized", "discovered (speaks 2026-07-28)")
        )

    def test_a_refusal_that_lists_a_handshake_revision_is_refused_as_before(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28", "2025-06-18"]))
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("refused initialize: Unsupported protocol version", str(failure.value))
        self.assertEqual(proc.signals, ["KILL"])
        self.assertEqual(self.up.era, "handshake")
        self.assertNotIn("server/discover", [m.get("method") for m in proc.sentMessages()])

    def test_a_refusal_that_lists_only_unknown_revisions_says_so(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2099-01-01"]))
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn(
            "speaks only protocol revisions the gateway does not (2099-01-01)", str(failure.value)
        )
        self.assertEqual(proc.signals, ["KILL"])

    def test_era_era2026_in_the_entry_never_sends_initialize(self) -> None:
        up = Upstream(
            dataclasses.replace(spec("srv"), era="era2026"),
            fakeSpawner(self.reactor),
            SharedFanout(),
            era2026=ERA2026_SUPPORT,
        )
        d = up.ensure()
        proc = self.reactor.lastProcess
        [request] = proc.sentMessages()
        self.assertEqual(request["method"], "server/discover")
        self.discover(proc)
        self.successResultOf(d)
        self.assertEqual((up.era, up.state), ("era2026", "running"))
        self.assertNotIn("initialize", [m.get("method") for m in proc.sentMessages()])

    def test_a_refused_discover_fails_the_waiters(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28"]))
        self.discover(proc, {"error": {"code": -32603, "message": "broken"}})
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("refused server/discover: broken", str(failure.value))
        self.assertEqual(proc.signals, ["KILL"])

    def test_a_discover_without_a_revision_we_speak_fails_the_waiters(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28"]))
        self.discover(proc, {"result": {**DISCOVER_RESULT, "supportedVersions": ["2099-01-01"]}})
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertIn("supports none of the revisions", str(failure.value))

    def calledOnEra2026(self) -> FakeProcess:
        """The child, started for an attached session, refuses initialize and
        answers discover; the session's call is sent to it."""
        self.up.router.attach(self.session)
        d = self.up.ensure()
        first = self.reactor.lastProcess
        self.answerInitialize(first, era2026Refusal(["2026-07-28"]))
        self.discover(first)
        self.successResultOf(d)
        self.call()
        return first

    def test_the_next_process_is_asked_to_initialize_again(self) -> None:
        first = self.calledOnEra2026()
        [call] = [m for m in first.takeMessages() if m.get("method") == "tools/call"]
        first.reply(jsonrpc.resultResponse(call["id"], {"resultType": "complete", "content": []}))
        first.exit(0)
        self.assertIsNone(self.up.adapter)
        second = self.reactor.lastProcess
        self.assertIsNot(second, first)
        self.assertEqual(second.sentMessages()[0]["method"], "initialize")
        self.answerInitialize(second)  # this one speaks the handshake after all
        self.assertEqual((self.up.era, self.up.state), ("handshake", "running"))

    def test_nothing_of_a_child_that_left_reaches_the_next_ones_adapter(self) -> None:
        first = self.calledOnEra2026()
        self.answerLast(first)
        closeStdout(first)
        self.reactor.advance(OUTPUT_GRACE)
        second = self.reactor.lastProcess
        self.answerInitialize(second, era2026Refusal(["2026-07-28"]))
        self.discover(second)
        second.takeMessages()
        first.reply(jsonrpc.request(99, "roots/list", {}))  # the old child, on its way out
        self.assertEqual(second.takeMessages(), [])

    def test_a_health_ping_of_a_era2026_child_is_a_discover(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28"]))
        self.discover(proc)
        self.successResultOf(d)
        self.reactor.advance(0)
        proc.takeMessages()
        answered = self.up.router.call("ping")
        [probe] = proc.takeMessages()
        self.assertEqual(probe["method"], "server/discover")
        self.assertEqual(set(probe["params"]["_meta"]), ERA2026_ENVELOPE_KEYS)
        proc.reply(jsonrpc.resultResponse(probe["id"], DISCOVER_RESULT))
        self.assertIn("result", self.successResultOf(answered))


class Era2026ChildOfOneSessionTests(SynchronousTestCase):
    """A child of one session: the gateway does not initialize it, its
    client does; a 2026-only child refuses that, and is switched."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.session = FakeSession("owner", protocolVersion="2025-06-18")
        self.up = Upstream(
            spec("srv", mode="session"),
            fakeSpawner(self.reactor),
            OwnerFanout(self.session),
            era2026=ERA2026_SUPPORT,
        )
        self.up.router.attach(self.session)

    def test_the_clients_refused_initialize_is_answered_from_discover(self) -> None:
        self.successResultOf(self.up.ensure())
        proc = self.reactor.lastProcess
        answer = self.up.router.request(
            self.session,
            jsonrpc.request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}}),
            None,
        )
        [init] = proc.takeMessages()
        proc.reply({"jsonrpc": "2.0", "id": init["id"], **era2026Refusal(["2026-07-28"])})
        self.assertNoResult(answer)
        [request] = proc.takeMessages()
        self.assertEqual(request["method"], "server/discover")
        proc.reply(jsonrpc.resultResponse(request["id"], DISCOVER_RESULT))
        response = self.successResultOf(answer)
        self.assertEqual(response["id"], 0)
        self.assertEqual(response["result"]["protocolVersion"], "2025-06-18")
        self.assertEqual(response["result"]["serverInfo"]["name"], "era2026-child")
        self.assertEqual(self.up.era, "era2026")
        # The client's own notifications/initialized goes nowhere.
        self.up.router.clientNotification(
            self.session, jsonrpc.notification("notifications/initialized")
        )
        self.assertEqual(proc.takeMessages(), [])

    def test_era_era2026_answers_the_clients_initialize_itself(self) -> None:
        up = Upstream(
            dataclasses.replace(spec("srv", mode="session"), era="era2026"),
            fakeSpawner(self.reactor),
            OwnerFanout(self.session),
            era2026=ERA2026_SUPPORT,
        )
        d = up.ensure()
        proc = self.reactor.lastProcess
        [request] = proc.takeMessages()
        self.assertEqual(request["method"], "server/discover")
        proc.reply(jsonrpc.resultResponse(request["id"], DISCOVER_RESULT))
        self.successResultOf(d)
        answer = up.router.request(
            self.session, jsonrpc.request(0, "initialize", {"protocolVersion": "2025-11-25"}), None
        )
        self.assertEqual(self.successResultOf(answer)["result"]["protocolVersion"], "2025-11-25")
        self.assertEqual(proc.takeMessages(), [])


class WithoutEra2026WireTests(UpstreamCase):
    """An upstream given no 2026-07-28 wire drives every child in the
    handshake era: the kernel alone never speaks the newer revision."""

    def setUp(self) -> None:
        super().setUp()
        self.up = Upstream(spec("srv"), fakeSpawner(self.reactor), SharedFanout())

    def test_a_era2026_only_refusal_is_a_failed_handshake(self) -> None:
        d = self.up.ensure()
        proc = self.reactor.lastProcess
        self.answerInitialize(proc, era2026Refusal(["2026-07-28"]))
        self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(self.up.era, "handshake")
        self.assertNotIn("server/discover", [m.get("method") for m in proc.sentMessages()])

    def test_era_era2026_in_the_entry_is_refused(self) -> None:
        up = Upstream(
            dataclasses.replace(spec("srv"), era="era2026"),
            fakeSpawner(self.reactor),
            SharedFanout(),
        )
        failure = self.failureResultOf(up.ensure(), ServerUnavailable)
        self.assertIn("no wire", str(failure.value))
        self.assertEqual(self.reactor.lastProcess.sentMessages(), [])


class RootsAppliedTests(UpstreamCase):
    def test_a_stderr_line_after_roots_says_the_child_applied_them(self) -> None:
        """A shared child given roots (here the gateway's empty list) that
        writes a line on stderr is seen to say a word once it has applied
        roots: the next time, a call waits for that word."""
        proc = self.start()
        for sid in ("a", "b"):
            self.up.router.attach(FakeSession(sid, capabilities={"roots": {}}))
        for n in range(2):
            proc.reply(jsonrpc.request(100 + n, "roots/list"))
            [answer] = [m for m in proc.sentMessages() if m.get("id") == 100 + n]
            self.assertEqual(answer["result"], {"roots": []})
            if n == 0:
                proc.stderr(b"No valid root directories provided by client\n")
        pending = self.call()
        self.reactor.advance(1.0 / 2)
        self.assertEqual([m for m in proc.sentMessages() if m.get("method") == "tools/call"], [])
        proc.stderr(b"Updated allowed directories\n")
        self.answerLast(proc)
        self.assertEqual(self.successResultOf(pending)["id"], 7)
