"""Router: one child's id space shared by many client sessions."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock

from mcpgateway.core import router
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import SessionRegistry
from mcpgateway.core.streamwaits import STREAM_WAIT
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs, scheduled
from tests.support.core.router import ALL_CAPS, Message, RouterCase, note, ok, req


def cancelled(childId: Any, reason: str | None = None) -> Message:
    params: dict[str, Any] = {"requestId": childId}
    if reason is not None:
        params["reason"] = reason
    return note("notifications/cancelled", params)


class IdRewritingTests(RouterCase):
    def test_same_client_id_two_sessions(self) -> None:
        """Pitfall: clients reuse small ids; each must get its own answer."""
        a, b = self.session("a"), self.session("b")
        sinkA, sinkB = RecordingSink(), RecordingSink()
        dA = self.router.request(a, req(1, "tools/call", {"name": "secret"}), sinkA)
        dB = self.router.request(b, req(1, "tools/call", {"name": "public"}), sinkB)
        self.assertEqual(
            self.take(),
            [req(1, "tools/call", {"name": "secret"}), req(2, "tools/call", {"name": "public"})],
        )
        self.router.childMessage(ok(2, {"content": "for B"}))
        self.assertNoResult(dA)
        self.assertEqual(self.successResultOf(dB), ok(1, {"content": "for B"}))
        self.router.childMessage(ok(1, {"content": "for A"}))
        self.assertEqual(self.successResultOf(dA), ok(1, {"content": "for A"}))
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(scheduled(self.clock), [])
        self.assertEqual((sinkA.messages, sinkB.messages), ([], []))
        self.assertEqual(self.router.served, 2)

    def test_string_and_int_id_keep_their_type(self) -> None:
        a, b = self.session("a"), self.session("b")
        dA = self.router.request(a, req("1"), None)
        dB = self.router.request(b, req(1), None)
        dA2 = self.router.request(a, req(0), None)
        sentIds = [m["id"] for m in self.take()]
        self.assertEqual(len(set(sentIds)), 3, "the child saw duplicate ids")
        self.router.childMessage(ok(sentIds[1], "b"))
        self.router.childMessage(ok(sentIds[0], "a"))
        self.router.childMessage(ok(sentIds[2], "a2"))
        rA, rB, rA2 = (self.successResultOf(d) for d in (dA, dB, dA2))
        self.assertEqual((rA["id"], rA["result"]), ("1", "a"))
        self.assertIs(type(rA["id"]), str)
        self.assertEqual((rB["id"], rB["result"]), (1, "b"))
        self.assertIs(type(rB["id"]), int)
        self.assertEqual((rA2["id"], rA2["result"]), (0, "a2"))

    def test_child_never_sees_duplicate_ids(self) -> None:
        sessions = [self.session(f"s{i}") for i in range(5)]
        for s in sessions:
            for _ in range(3):
                self.router.request(s, req(1), None)
        ids = [m["id"] for m in self.take()]
        self.assertEqual(len(ids), 15)
        self.assertEqual(len(set(ids)), 15)
        self.assertEqual(self.router.inFlightFor(sessions[0]), 3)
        self.assertEqual(self.router.inFlight, 15)

    def test_error_response_restores_client_id(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req("x-9"), None)
        [out] = self.take()
        self.router.childMessage(jsonrpc.errorResponse(out["id"], -32602, "bad"))
        self.assertEqual(self.successResultOf(d), jsonrpc.errorResponse("x-9", -32602, "bad"))

    def test_child_line_with_method_and_pending_id_is_a_request(self) -> None:
        """Pitfall: server-everything numbers its own requests (roots/list id 0):
        a line with `method` is never a reply, whatever its id."""
        a = self.session("a")
        sink = RecordingSink()
        d = self.router.request(a, req(0, "tools/call"), sink)
        [out] = self.take()
        self.router.childMessage(req(out["id"], "roots/list"))
        self.assertNoResult(d)
        self.assertEqual(self.router.inFlight, 1)
        [asked] = sink.messages
        self.assertEqual(asked["method"], "roots/list")
        self.assertNotEqual(asked["id"], out["id"])
        self.assertTrue(self.router.clientResponse(a, ok(asked["id"], {"roots": []})))
        self.assertEqual(self.take(), [ok(out["id"], {"roots": []})])
        self.router.childMessage(ok(out["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d), ok(0, {"content": []}))

    def test_bool_id_from_child_is_not_a_reply(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req("mine"), None)
        self.take()
        self.router.childMessage({"jsonrpc": "2.0", "id": True, "result": {"bogus": 1}})
        self.assertNoResult(d)
        self.assertEqual(self.router.inFlight, 1)

    def test_invalid_child_message_dropped(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req(1), None)
        self.take()
        with capturedGatewayLogs() as events:
            self.router.childMessage({"id": 1, "result": {}})  # no "jsonrpc"
        self.assertNoResult(d)
        self.assertTrue(any("invalid" in e.get("log_format", "") for e in events))

    def test_unknown_reply_counted_as_late(self) -> None:
        self.router.childMessage(ok(99, {}))
        self.router.childMessage(ok("str", {}))
        self.assertEqual(self.router.lateReplies, 2)

    def test_no_child_attached(self) -> None:
        router = Router("srv", self.clock, 1.0, SharedFanout())
        self.assertRaises(RuntimeError, router.request, self.session("a"), req(1), None)


class HurryTests(RouterCase):
    """C=1 latency: a request that is the only one in flight is
    hurried to its child (the child is idle: it may start before the turn
    ends); one sent while others wait is not (it joins the turn's other
    lines)."""

    def setUp(self) -> None:
        super().setUp()
        self.hurried: list[int] = []
        self.router.attachChild(self.sent.append, lambda: self.hurried.append(len(self.sent)))

    def test_only_a_request_alone_in_flight_is_hurried(self) -> None:
        a, b = self.session("a"), self.session("b")
        dA = self.router.request(a, req(1), None)
        self.assertEqual(self.hurried, [1])  # after its line was written
        dB = self.router.request(b, req(1), None)
        self.assertEqual(self.hurried, [1])
        outA, outB = self.take()
        self.router.childMessage(ok(outA["id"], {}))
        self.router.childMessage(ok(outB["id"], {}))
        self.successResultOf(dA)
        self.successResultOf(dB)
        self.router.request(a, req(2), None)
        self.assertEqual(self.hurried, [1, 1])

    def test_a_detached_child_is_not_hurried(self) -> None:
        self.router.detachChild()
        self.router.request(self.session("a"), req(1), None)
        self.assertEqual(self.hurried, [])


class ProgressTests(RouterCase):
    def test_progress_token_rewritten_and_restored(self) -> None:
        a, b = self.session("a"), self.session("b")
        sinkA, sinkB = RecordingSink(), RecordingSink()
        meta = {"name": "t", "_meta": {"progressToken": "tok"}}
        self.router.request(a, req(1, "tools/call", meta), sinkA)
        self.router.request(b, req(1, "tools/call", meta), sinkB)
        outA, outB = self.take()
        self.assertEqual(outA["params"], {"name": "t", "_meta": {"progressToken": outA["id"]}})
        self.assertEqual(outB["params"], {"name": "t", "_meta": {"progressToken": outB["id"]}})
        progress = note(
            "notifications/progress", {"progressToken": outB["id"], "progress": 1, "total": 2}
        )
        self.router.childMessage(progress)
        self.assertEqual(
            sinkB.messages,
            [note("notifications/progress", {"progressToken": "tok", "progress": 1, "total": 2})],
        )
        self.assertEqual(sinkA.messages, [])
        self.assertEqual((a.delivered, b.delivered), ([], []))
        self.assertEqual(self.take(), [])

    def test_int_token_keeps_type(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        self.router.request(a, req(1, "tools/call", {"_meta": {"progressToken": 0}}), sink)
        [out] = self.take()
        self.router.childMessage(
            note("notifications/progress", {"progressToken": out["id"], "progress": 5})
        )
        self.assertEqual(sink.messages[0]["params"], {"progressToken": 0, "progress": 5})

    def test_progress_for_unknown_token_dropped(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        self.router.request(a, req(1, "tools/call", {"_meta": {"progressToken": "t"}}), sink)
        [out] = self.take()
        for token in (out["id"] + 100, "t", str(out["id"])):
            self.router.childMessage(
                note("notifications/progress", {"progressToken": token, "progress": 1})
            )
        self.assertEqual(sink.messages, [])
        self.assertEqual(a.delivered, [])

    def test_progress_after_completion_dropped(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        self.router.request(a, req(1, "tools/call", {"_meta": {"progressToken": "t"}}), sink)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {}))
        self.router.childMessage(
            note("notifications/progress", {"progressToken": out["id"], "progress": 1})
        )
        self.assertEqual(sink.messages, [])

    def test_progress_without_client_token_dropped(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        self.router.request(a, req(1), sink)
        [out] = self.take()
        self.assertNotIn("params", out)
        self.router.childMessage(
            note("notifications/progress", {"progressToken": out["id"], "progress": 1})
        )
        self.assertEqual(sink.messages, [])


class CancelTimeoutExitTests(RouterCase):
    def test_client_cancel_mapped_to_child_id(self) -> None:
        a, b = self.session("a"), self.session("b")
        dB = self.router.request(b, req(7), None)
        dA = self.router.request(a, req(7), None)
        outB, outA = self.take()
        self.router.clientNotification(a, cancelled(7, "user gave up"))
        self.assertEqual(self.take(), [cancelled(outA["id"], "user gave up")])
        self.failureResultOf(dA, CancelledError)
        self.assertNoResult(dB)
        self.assertEqual(self.router.inFlight, 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)  # only B's timer
        self.router.childMessage(ok(outA["id"], {"late": True}))
        self.assertEqual(self.router.lateReplies, 1)
        self.assertNoResult(dB)
        self.router.childMessage(ok(outB["id"], {"for": "B"}))
        self.assertEqual(self.successResultOf(dB), ok(7, {"for": "B"}))

    def test_cancel_of_other_type_or_session_ignored(self) -> None:
        a, b = self.session("a"), self.session("b")
        d = self.router.request(a, req(1), None)
        self.take()
        self.router.clientNotification(a, cancelled("1"))
        self.router.clientNotification(a, cancelled(True))
        self.router.clientNotification(a, cancelled(1.0))
        self.router.clientNotification(b, cancelled(1))
        self.router.clientNotification(a, cancelled(2))
        self.router.clientNotification(a, note("notifications/cancelled"))
        self.assertEqual(self.take(), [])
        self.assertNoResult(d)

    def test_cancel_without_reason(self) -> None:
        a = self.session("a")
        self.router.request(a, req(1), None).addErrback(lambda f: f.trap(CancelledError))
        [out] = self.take()
        self.router.clientNotification(a, cancelled(1))
        self.assertEqual(self.take(), [cancelled(out["id"])])

    def test_a_held_request_of_a_session_has_no_timeout(self) -> None:
        a, b = self.session("a"), self.session("b")
        held = self.router.request(a, req(7), None)
        timed = self.router.request(b, req(7), None)
        self.assertTrue(self.router.holdRequest(a, 7))
        self.assertFalse(self.router.holdRequest(a, 8))
        self.clock.advance(self.timeout * 10)
        self.assertNoResult(held)
        self.assertEqual(self.successResultOf(timed)["error"]["code"], jsonrpc.REQUEST_TIMEOUT)

    def test_timeout(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req("q", "tools/call"), None)
        [out] = self.take()
        self.clock.advance(self.timeout - 0.001)
        self.assertNoResult(d)
        self.clock.advance(0.001)
        self.assertEqual(
            self.successResultOf(d),
            jsonrpc.errorResponse(
                "q", jsonrpc.REQUEST_TIMEOUT, "server 'srv' did not answer tools/call within 10 s"
            ),
        )
        self.assertEqual(self.take(), [cancelled(out["id"], "request timed out in the gateway")])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.router.inFlight, 0)
        self.router.childMessage(ok(out["id"], {}))
        self.assertEqual(self.router.lateReplies, 1)

    def test_requests_in_flight_share_one_timer_and_each_times_out_on_time(self) -> None:
        """No timer per request: eight calls in flight, one
        DelayedCall; the ones answered never time out, the others each at
        their own time (times in binary-exact steps)."""
        a = self.session("a")
        answers: list[Message] = []
        for n in range(8):  # sent at 0.0, 0.5, ... 3.5
            self.router.request(a, req(n, "tools/call"), None).addCallback(answers.append)
            self.clock.advance(0.5)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        for out in self.take()[:4]:
            self.router.childMessage(ok(out["id"], {}))
        self.assertEqual([m["id"] for m in answers], [0, 1, 2, 3])
        self.clock.advance(self.timeout - 2.25)  # 11.75: the 5th (sent at 2.0) is due at 12.0
        self.assertEqual(len(answers), 4)
        self.clock.advance(0.25)
        self.assertEqual(answers[4]["id"], 4)
        self.assertEqual(answers[4]["error"]["code"], jsonrpc.REQUEST_TIMEOUT)
        self.clock.advance(0.25)
        self.assertEqual(len(answers), 5)
        self.clock.advance(0.25)
        self.assertEqual([m["id"] for m in answers[4:]], [4, 5])
        self.clock.advance(self.timeout)
        self.assertEqual(len(answers), 8)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_answer_cancels_timer(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req(1), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {}))
        self.successResultOf(d)
        self.assertEqual(scheduled(self.clock), [])
        self.clock.advance(100)
        self.assertEqual(self.take(), [])

    def test_child_exited_fails_every_pending_at_once(self) -> None:
        a, b = self.session("a"), self.session("b")
        dA = self.router.request(a, req(1), None)
        dB = self.router.request(b, req("z", "resources/read"), None)
        self.take()
        self.router.childExited("exited with code 1")
        self.assertEqual(
            self.successResultOf(dA),
            jsonrpc.errorResponse(1, jsonrpc.CHILD_EXITED, "server 'srv' exited with code 1"),
        )
        self.assertEqual(
            self.successResultOf(dB),
            jsonrpc.errorResponse("z", jsonrpc.CHILD_EXITED, "server 'srv' exited with code 1"),
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(self.take(), [])  # nothing written to a dead child

    def test_child_exit_forgets_its_requests_to_clients(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        self.router.request(a, req(1), sink)
        self.router.childMessage(req(40, "roots/list"))
        gatewayId = sink.messages[0]["id"]
        self.take()
        self.router.childExited("exited with code 1")
        self.assertFalse(self.router.clientResponse(a, ok(gatewayId, {"roots": []})))
        self.assertEqual(self.take(), [])

    def test_cancelling_the_deferred_cancels_on_the_child(self) -> None:
        a = self.session("a")
        d = self.router.request(a, req(1), None)
        [out] = self.take()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.take(), [cancelled(out["id"])])
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(scheduled(self.clock), [])


class ServerRequestTests(RouterCase):
    def inFlight(
        self, session: FakeSession, method: str = "tools/call", sink: RecordingSink | None = None
    ) -> tuple[Deferred[Message], RecordingSink]:
        sink = RecordingSink() if sink is None else sink
        d = self.router.request(session, req(1, method), sink)
        self.take()
        return d, sink

    def test_ping_answered_directly(self) -> None:
        a = self.session("a")
        _, sink = self.inFlight(a)
        self.router.childMessage(req("p1", "ping"))
        self.assertEqual(self.take(), [ok("p1", {})])
        self.assertEqual((sink.messages, a.delivered), ([], []))

    def test_sampling_goes_to_the_only_attached_session(self) -> None:
        a, b = self.session("a"), self.session("b", attach=False)
        _, sink = self.inFlight(a)
        params = {"messages": [], "maxTokens": 5}
        self.router.childMessage(req(7, "sampling/createMessage", params))
        [asked] = sink.messages
        gatewayId = asked["id"]
        self.assertEqual(asked, req(gatewayId, "sampling/createMessage", params))
        self.assertIsInstance(gatewayId, int)
        self.assertEqual((a.delivered, b.delivered), ([], []))
        self.assertEqual(self.take(), [])
        # Another session cannot answer it.
        self.assertFalse(self.router.clientResponse(b, ok(gatewayId, {"role": "x"})))
        self.assertEqual(self.take(), [])
        answer = ok(gatewayId, {"role": "assistant", "content": {"type": "text", "text": "hi"}})
        self.assertTrue(self.router.clientResponse(a, answer))
        self.assertEqual(self.take(), [ok(7, answer["result"])])
        # The same answer again is unknown now.
        self.assertFalse(self.router.clientResponse(a, answer))
        self.assertEqual(self.take(), [])

    def test_client_error_answer_passed_back(self) -> None:
        a = self.session("a")
        _, sink = self.inFlight(a)
        self.router.childMessage(req("s-1", "elicitation/create", {"message": "?"}))
        gatewayId = sink.messages[0]["id"]
        self.assertTrue(
            self.router.clientResponse(a, jsonrpc.errorResponse(gatewayId, -1, "declined"))
        )
        self.assertEqual(self.take(), [jsonrpc.errorResponse("s-1", -1, "declined")])

    def test_answer_with_unknown_id_dropped(self) -> None:
        a = self.session("a")
        self.assertFalse(self.router.clientResponse(a, ok(12345, {})))
        self.assertFalse(self.router.clientResponse(a, ok("1", {})))
        self.assertEqual(self.take(), [])

    def test_two_sessions_in_flight_is_refused_not_guessed(self) -> None:
        """With two sessions in flight on a shared child, no
        session can be proven to be the requester: the child gets an error,
        no session sees the request."""
        a, b = self.session("a"), self.session("b")
        _, sinkA1 = self.inFlight(a, "tools/call")
        _, sinkB = self.inFlight(b, "tools/call")
        _, sinkA2 = self.inFlight(a, "resources/read")
        with capturedGatewayLogs() as events:
            self.router.childMessage(req(3, "sampling/createMessage", {"messages": []}))
        self.assertEqual((sinkA1.messages, sinkA2.messages, sinkB.messages), ([], [], []))
        self.assertEqual((a.delivered, b.delivered), ([], []))
        [refusal] = self.take()
        self.assertEqual(refusal["id"], 3)
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIn("ambiguous", refusal["error"]["message"])
        self.assertIn("the server keeps its share", refusal["error"]["message"])
        self.assertEqual(self.router.ambiguousServerRequests, 1)
        self.assertEqual(self.router.stats.ambiguousServerRequests, 1)
        self.assertTrue(any("ambiguous" in str(e.get("why")) for e in events))

    def test_concurrent_sampling_never_reaches_another_session(self) -> None:
        """Five sessions attached sample one after the other: every child
        request is refused, even the first, made while one session alone
        had a call in flight; none reaches a session."""
        sessions = [self.session(f"s{i}") for i in range(5)]
        sinks = {}
        refused = []
        for i, s in enumerate(sessions):
            _, sinks[s.id] = self.inFlight(s, "tools/call")
            self.router.childMessage(req(100 + i, "sampling/createMessage", {"messages": []}))
            refused += [m for m in self.take() if "error" in m]
        self.assertEqual([len(sinks[s.id].messages) for s in sessions], [0] * 5)
        self.assertEqual([s.delivered for s in sessions], [[]] * 5)
        self.assertEqual(sorted(m["id"] for m in refused), [100, 101, 102, 103, 104])
        self.assertEqual(self.router.ambiguousServerRequests, 5)

    def test_one_call_in_flight_proves_nothing_while_another_session_is_attached(
        self,
    ) -> None:
        """A and B attached, only B has a call in flight, and the
        child asks roots/list on its own (server-everything does, 350 ms
        after it is initialized): answered with no roots by the gateway,
        nobody asked, nothing counted, the pool not told."""
        told: list[tuple[str, int]] = []
        self.router.onAmbiguous = lambda method, inflight: told.append((method, inflight))
        a, b = self.session("a"), self.session("b")
        _, sinkB = self.inFlight(b, "tools/call")
        with capturedGatewayLogs() as events:
            self.router.childMessage(req(3, "roots/list"))
        self.assertEqual((sinkB.messages, a.delivered, b.delivered), ([], [], []))
        self.assertEqual(self.take(), [jsonrpc.resultResponse(3, {"roots": []})])
        self.assertEqual(self.router.ambiguousServerRequests, 0)
        self.assertEqual(self.router.stats.ambiguousServerRequests, 0)
        self.assertEqual(told, [])
        self.assertTrue(any("ambiguous" in str(e.get("why")) for e in events))

    def test_a_era2026_call_and_an_idle_attached_session_are_ambiguous(self) -> None:
        a = self.session("a")
        call = FakeSession("m-1", capabilities=ALL_CAPS)
        call.era2026 = True  # a 2026 call: never attached, in flight only
        _, sink = self.inFlight(call)
        self.router.childMessage(req(3, "sampling/createMessage", {"messages": []}))
        self.assertEqual((sink.messages, a.delivered), ([], []))
        [refusal] = self.take()
        self.assertIn("1 2026 call(s)", refusal["error"]["message"])

    def test_an_idle_listen_stream_does_not_count(self) -> None:
        """A listen stream is never asked anything: with nothing in flight
        it is no client the request could be for."""
        a = self.session("a")
        listening = FakeSession("l-1", capabilities=ALL_CAPS)
        listening.era2026 = True
        self.router.attach(listening)
        self.router.childMessage(req(3, "roots/list"))
        self.assertEqual([m["method"] for m in a.delivered], ["roots/list"])
        self.assertEqual((listening.delivered, self.take()), ([], []))

    def assertLatestRequestGetsIt(self, first: str, second: str) -> None:
        """A C{roots/list} from the child while one session has a C{first}
        and then a C{second} request in flight goes to the second."""
        a = self.session("a")
        _, sink1 = self.inFlight(a, first)
        _, sink2 = self.inFlight(a, second)
        self.router.childMessage(req(3, "roots/list"))
        self.assertEqual((len(sink1.messages), len(sink2.messages)), (0, 1))

    def test_one_session_several_requests_is_not_ambiguous(self) -> None:
        self.assertLatestRequestGetsIt("tools/call", "tools/call")
        self.assertEqual(self.router.ambiguousServerRequests, 0)

    def test_one_session_no_tools_call_goes_to_its_latest_request(self) -> None:
        self.assertLatestRequestGetsIt("prompts/get", "resources/read")

    def test_refusals(self) -> None:
        cases: list[tuple[dict[str, Any], Message, int]] = [
            ({}, req(1, "roots/list"), jsonrpc.METHOD_NOT_FOUND),
            ({"roots": {}}, req(2, "sampling/createMessage", {}), jsonrpc.METHOD_NOT_FOUND),
            (
                {"elicitation": {"form": {}}},
                req(3, "elicitation/create", {"mode": "url", "url": "https://x"}),
                jsonrpc.INVALID_PARAMS,
            ),
            (
                {"elicitation": {}},
                req(4, "elicitation/create", {"mode": "url"}),
                jsonrpc.INVALID_PARAMS,
            ),
            ({}, req(5, "elicitation/create", {"message": "?"}), jsonrpc.INVALID_PARAMS),
        ]
        for caps, message, code in cases:
            s = self.session(f"s{message['id']}", caps=caps)
            d, sink = self.inFlight(s)
            self.router.childMessage(message)
            [error] = self.take()
            self.assertEqual(error["id"], message["id"])
            self.assertEqual(error["error"]["code"], code, message)
            self.assertEqual((sink.messages, s.delivered), ([], []))
            self.router.detach(s)
            d.addErrback(lambda f: f.trap(CancelledError))
            self.take()

    def test_elicitation_form_accepted(self) -> None:
        formCaps: list[dict[str, Any]] = [{"elicitation": {}}, {"elicitation": {"form": {}}}]
        for caps in formCaps:
            s = self.session("e", caps=caps)
            d, sink = self.inFlight(s)
            self.router.childMessage(req(9, "elicitation/create", {"message": "name?"}))
            self.assertEqual(len(sink.messages), 1)
            self.assertEqual(self.take(), [])
            self.router.detach(s)
            d.addErrback(lambda f: f.trap(CancelledError))
            self.take()

    def test_elicitation_url_accepted(self) -> None:
        s = self.session("e", caps={"elicitation": {"url": {}}})
        _, sink = self.inFlight(s)
        self.router.childMessage(req(9, "elicitation/create", {"mode": "url", "url": "u"}))
        self.assertEqual(len(sink.messages), 1)

    def test_the_only_attached_session_gets_it_without_a_request_in_flight(self) -> None:
        """The child asks on its own (at start-up, on a timer) while one
        session alone is attached: it can only be that session's, on its
        own stream."""
        a = self.session("a")
        self.router.call("resources/list")  # the gateway's own request does not count
        self.take()
        self.router.childMessage(req(5, "roots/list"))
        [asked] = a.delivered
        self.assertEqual(asked["method"], "roots/list")
        self.assertEqual(self.take(), [])
        self.assertTrue(self.router.clientResponse(a, ok(asked["id"], {"roots": []})))
        self.assertEqual(self.take(), [ok(5, {"roots": []})])
        self.assertEqual(self.router.ambiguousServerRequests, 0)

    def test_no_attached_session_error_to_child(self) -> None:
        self.router.call("resources/list")  # the gateway's own request does not count
        self.take()
        self.router.childMessage(req(5, "sampling/createMessage", {}))
        [error] = self.take()
        self.assertEqual(error["id"], 5)
        self.assertEqual(error["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIn("no client session is attached", error["error"]["message"])
        self.assertEqual(self.router.ambiguousServerRequests, 0)

    def test_related_closed_falls_back_to_get_stream(self) -> None:
        a = self.session("a")
        _, sink = self.inFlight(a, sink=RecordingSink(accept=False))
        self.router.childMessage(req(5, "roots/list"))
        self.assertEqual(len(sink.refused), 1)
        self.assertEqual([m["method"] for m in a.delivered], ["roots/list"])
        self.assertEqual(self.take(), [])

    def test_no_stream_at_all_error_to_child(self) -> None:
        """No stream of the session opens within the wait: the child gets
        the refusal (tests/core/test_router_streamwait.py: the wait)."""
        a = self.session("a")
        a.accept = False
        _, sink = self.inFlight(a, sink=RecordingSink(accept=False))
        self.router.childMessage(req(5, "roots/list"))
        self.assertEqual(self.take(), [])
        self.clock.advance(STREAM_WAIT)
        [error] = self.take()
        self.assertEqual((error["id"], error["error"]["code"]), (5, jsonrpc.INTERNAL_ERROR))
        gatewayId = sink.refused[0]["id"]
        self.assertFalse(self.router.clientResponse(a, ok(gatewayId, {"roots": []})))

    def test_child_cancels_its_request_on_the_stream_it_went_on(self) -> None:
        """A client with no GET stream must hear it too."""
        a = self.session("a")
        _, sink = self.inFlight(a)
        self.router.childMessage(req(5, "sampling/createMessage", {}))
        gatewayId = sink.messages[0]["id"]
        self.router.childMessage(cancelled(5, "no longer needed"))
        self.assertEqual(sink.messages[1:], [cancelled(gatewayId, "no longer needed")])
        self.assertEqual(a.delivered, [])
        self.assertFalse(self.router.clientResponse(a, ok(gatewayId, {})))
        self.assertEqual(self.take(), [])

    def test_child_cancels_its_request_on_the_sessions_stream_once_that_one_closed(self) -> None:
        a = self.session("a")
        _, sink = self.inFlight(a)
        self.router.childMessage(req(5, "sampling/createMessage", {}))
        gatewayId = sink.messages[0]["id"]
        sink.accept = False  # the call's stream ended
        self.router.childMessage(cancelled(5, "no longer needed"))
        self.assertEqual(a.delivered, [cancelled(gatewayId, "no longer needed")])

    def test_a_request_that_went_on_the_sessions_stream_is_cancelled_there(self) -> None:
        a = self.session("a")
        self.router.childMessage(req(5, "roots/list"))
        [asked] = a.delivered
        self.router.childMessage(cancelled(5, "no longer needed"))
        self.assertEqual(a.delivered[1:], [cancelled(asked["id"], "no longer needed")])


class NotificationTests(RouterCase):
    def test_list_changed_to_every_attached_session(self) -> None:
        a, b = self.session("a"), self.session("b")
        stranger = self.session("c", attach=False)
        _, sink = self.inFlightRequest(a)
        for method in (
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
        ):
            self.router.childMessage(note(method))
        expected = [
            note("notifications/tools/list_changed"),
            note("notifications/prompts/list_changed"),
            note("notifications/resources/list_changed"),
        ]
        self.assertEqual(a.delivered, expected)
        self.assertEqual(b.delivered, expected)
        self.assertEqual(stranger.delivered, [])
        self.assertEqual(sink.messages, [])
        self.assertEqual(self.take(), [])

    def inFlightRequest(self, session: FakeSession) -> tuple[Deferred[Message], RecordingSink]:
        sink = RecordingSink()
        d = self.router.request(session, req(1), sink)
        self.take()
        return d, sink

    def test_unknown_notification_dropped(self) -> None:
        a = self.session("a")
        self.router.childMessage(note("notifications/whatever", {}))
        self.assertEqual(a.delivered, [])

    def test_resources_updated_only_to_subscribers(self) -> None:
        a, b, c = self.session("a"), self.session("b"), self.session("c")
        d = self.router.request(a, req(1, "resources/subscribe", {"uri": "file:///x"}), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {}))
        self.successResultOf(d)
        dB = self.router.request(b, req(1, "resources/subscribe", {"uri": "file:///y"}), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {}))
        self.successResultOf(dB)
        updated = note("notifications/resources/updated", {"uri": "file:///x"})
        self.router.childMessage(updated)
        self.assertEqual(a.delivered, [updated])
        self.assertEqual((b.delivered, c.delivered), ([], []))

    def test_log_message_by_level(self) -> None:
        a = self.session("a", logLevel="warning")
        for level in ("debug", "warning", "error", "emergency"):
            self.router.childMessage(note("notifications/message", {"level": level, "data": level}))
        self.assertEqual(
            [m["params"]["level"] for m in a.delivered], ["warning", "error", "emergency"]
        )

    def test_no_level_asked_no_log_line_on_the_sessions_stream(self) -> None:
        a = self.session("a")
        self.router.childMessage(note("notifications/message", {"level": "error", "data": "x"}))
        self.assertEqual(a.delivered, [])

    def test_a_log_line_of_a_child_serving_several_sessions_goes_to_none(self) -> None:
        """A log line names no session (it may quote any of them:
        a URI, an argument), so with several principals' sessions attached
        the gateway cannot tell whose it is, whoever has a call in flight or
        asked for log lines (one principal's: tests/core/test_fanout_loglines.py)."""
        a = self.session("a", logLevel="debug")
        b = self.session("b", logLevel="debug")
        a.principal, b.principal = "alice", "bob"  # type: ignore[attr-defined]
        _, sink = self.inFlightRequest(b)  # the only request in flight proves nothing
        with capturedGatewayLogs() as events:
            self.router.childMessage(
                note("notifications/message", {"level": "error", "data": "A's file:///x"})
            )
        self.assertEqual((a.delivered, b.delivered, sink.messages), ([], [], []))
        [said] = [e for e in events if "names none of them" in e["log_format"]]
        self.assertEqual(said["count"], 2)

    def test_log_message_with_one_request_in_flight_goes_to_its_stream(self) -> None:
        a = self.session("a", logLevel="debug")
        _, sink = self.inFlightRequest(a)
        message = note("notifications/message", {"level": "info", "data": "working"})
        self.router.childMessage(message)
        self.assertEqual(sink.messages, [message])
        self.assertEqual(a.delivered, [])

    def test_a_era2026_call_in_flight_is_another_client_for_log_lines(self) -> None:
        """A 2026-07-28 client counts by its calls in flight (as for the
        child's requests); its idle listen stream alone does not."""
        a = self.session("a", logLevel="debug")
        listener = FakeSession("listen")
        listener.era2026 = True
        self.router.attach(listener)
        line = note("notifications/message", {"level": "error", "data": "x"})
        self.router.childMessage(line)
        self.assertEqual((a.delivered, listener.delivered), ([line], []))
        call = FakeSession("era2026-call")
        call.era2026 = True
        self.router.request(call, req(1), RecordingSink())
        self.router.childMessage(line)
        self.assertEqual(a.delivered, [line])  # two clients now: no one's

    def test_log_message_honours_levels_with_one_request_in_flight(self) -> None:
        a = self.session("a", logLevel="error")
        _, sink = self.inFlightRequest(a)
        message = note("notifications/message", {"level": "debug", "data": "noise"})
        self.router.childMessage(message)
        self.assertEqual(sink.messages, [])  # A asked for error and above
        self.assertEqual(a.delivered, [])
        loud = note("notifications/message", {"level": "error", "data": "failed"})
        self.router.childMessage(loud)
        self.assertEqual(sink.messages, [loud])

    def test_initialized_absorbed_for_shared_child(self) -> None:
        a = self.session("a")
        self.router.clientNotification(a, note("notifications/initialized"))
        self.assertEqual(self.take(), [])
        self.router.clientNotification(a, note("notifications/roots/list_changed"))
        self.assertEqual(self.take(), [note("notifications/roots/list_changed")])


class SubscriptionTests(RouterCase):
    def subscribe(
        self, s: FakeSession, uri: str, rid: Any = 1, method: str = "resources/subscribe"
    ) -> Deferred[Message]:
        return self.router.request(s, req(rid, method, {"uri": uri}), None)

    def test_refcount(self) -> None:
        a, b = self.session("a"), self.session("b")
        dA = self.subscribe(a, "u", rid=10)
        [out] = self.take()
        self.assertEqual(out, req(out["id"], "resources/subscribe", {"uri": "u"}))
        self.router.childMessage(ok(out["id"], {}))
        self.assertEqual(self.successResultOf(dA), ok(10, {}))
        # Second session: answered locally, nothing to the child.
        self.assertEqual(self.successResultOf(self.subscribe(b, "u", rid=20)), ok(20, {}))
        self.assertEqual(self.take(), [])
        # Same session again: local.
        self.assertEqual(self.successResultOf(self.subscribe(a, "u", rid=11)), ok(11, {}))
        self.assertEqual(self.take(), [])
        self.assertEqual((a.subscriptions, b.subscriptions), ({"u"}, {"u"}))
        # First unsubscribe: local.
        dU = self.subscribe(a, "u", rid=12, method="resources/unsubscribe")
        self.assertEqual(self.successResultOf(dU), ok(12, {}))
        self.assertEqual(self.take(), [])
        # Last unsubscribe: forwarded.
        dU = self.subscribe(b, "u", rid=21, method="resources/unsubscribe")
        [out] = self.take()
        self.assertEqual(out, req(out["id"], "resources/unsubscribe", {"uri": "u"}))
        self.router.childMessage(ok(out["id"], {}))
        self.assertEqual(self.successResultOf(dU), ok(21, {}))
        self.assertEqual((a.subscriptions, b.subscriptions), (set(), set()))
        # Unsubscribing again is answered locally.
        self.assertEqual(
            self.successResultOf(self.subscribe(b, "u", rid=22, method="resources/unsubscribe")),
            ok(22, {}),
        )
        self.assertEqual(self.take(), [])

    def test_refused_subscribe_undone(self) -> None:
        a, b = self.session("a"), self.session("b")
        d = self.subscribe(a, "u")
        [out] = self.take()
        self.router.childMessage(jsonrpc.errorResponse(out["id"], -32601, "no subscriptions"))
        self.assertEqual(self.successResultOf(d)["error"]["code"], -32601)
        self.assertEqual(a.subscriptions, set())
        self.subscribe(b, "u")
        self.assertEqual(len(self.take()), 1)  # forwarded again: nobody holds it

    def test_subscribe_failed_by_child_exit_is_undone(self) -> None:
        a = self.session("a")
        d = self.subscribe(a, "u")
        self.take()
        self.router.childExited("exited with code 1")
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.CHILD_EXITED)
        self.assertEqual(a.subscriptions, set())
        self.router.resubscribe()
        self.assertEqual(self.take(), [])

    def test_subscribe_without_uri_forwarded(self) -> None:
        a = self.session("a")
        self.router.request(a, req(1, "resources/subscribe", {}), None)
        self.assertEqual(len(self.take()), 1)

    def test_resubscribe_after_restart(self) -> None:
        a = self.session("a")
        self.subscribe(a, "u1")
        self.subscribe(a, "u2")
        self.router.request(a, req(3, "logging/setLevel", {"level": "info"}), None)
        for m in self.take():
            self.router.childMessage(ok(m["id"], {}))
        self.router.childExited("exited with code 1")
        self.router.resubscribe()
        sent = self.take()
        self.assertEqual(
            [(m["method"], m["params"]) for m in sent],
            [
                ("resources/subscribe", {"uri": "u1"}),
                ("resources/subscribe", {"uri": "u2"}),
                ("logging/setLevel", {"level": "info"}),
            ],
        )


class DetachTests(RouterCase):
    def test_detach_cancels_and_unsubscribes(self) -> None:
        a, b = self.session("a"), self.session("b")
        self.router.request(a, req(1, "resources/subscribe", {"uri": "only-a"}), None)
        self.router.request(a, req(2, "resources/subscribe", {"uri": "shared"}), None)
        self.router.request(b, req(1, "resources/subscribe", {"uri": "shared"}), None)
        for m in self.take():
            self.router.childMessage(ok(m["id"], {}))
        dA = self.router.request(a, req(3, "tools/call"), RecordingSink())
        dB = self.router.request(b, req(3, "tools/call"), RecordingSink())
        outA, _ = self.take()
        self.router.detach(a)
        sent = self.take()
        self.assertEqual(sent[0], cancelled(outA["id"], "session ended"))
        self.assertEqual(
            [(m["method"], m.get("params")) for m in sent[1:]],
            [("resources/unsubscribe", {"uri": "only-a"})],
        )
        self.failureResultOf(dA, CancelledError)
        self.assertNoResult(dB)
        self.assertEqual(a.subscriptions, set())
        self.assertEqual(b.subscriptions, {"shared"})
        self.assertNotIn(a, self.router.sessions)
        self.router.childMessage(note("notifications/tools/list_changed"))
        self.assertEqual(a.delivered, [])
        self.assertEqual(len(b.delivered), 1)
        # B's unsubscribe of "shared" is now the last one: forwarded.
        self.router.request(b, req(4, "resources/unsubscribe", {"uri": "shared"}), None)
        self.assertEqual([m["method"] for m in self.take()], ["resources/unsubscribe"])

    def test_detach_answers_child_requests_waiting_on_session(self) -> None:
        a = self.session("a")
        sink = RecordingSink()
        d = self.router.request(a, req(1), sink)
        d.addErrback(lambda f: f.trap(CancelledError))
        [out] = self.take()
        self.router.childMessage(req(50, "roots/list"))
        self.router.detach(a, "client went away")
        sent = self.take()
        self.assertEqual(sent[0], cancelled(out["id"], "client went away"))
        self.assertEqual(
            sent[1],
            jsonrpc.errorResponse(
                50, jsonrpc.INTERNAL_ERROR, "roots/list: no client to answer it (client went away)"
            ),
        )
        self.assertFalse(self.router.clientResponse(a, ok(sink.messages[0]["id"], {})))

    def test_detach_idle_session_sends_nothing(self) -> None:
        a = self.session("a")
        self.router.detach(a)
        self.assertEqual(self.take(), [])
        self.assertEqual(self.router.sessions, set())


class LogLevelTests(RouterCase):
    def setLevel(self, s: FakeSession, level: str, rid: Any = 1) -> Deferred[Message]:
        return self.router.request(s, req(rid, "logging/setLevel", {"level": level}), None)

    def test_child_gets_lowest_level(self) -> None:
        a, b, c = self.session("a"), self.session("b"), self.session("c")
        dA = self.setLevel(a, "warning", rid="a1")
        [out] = self.take()
        self.assertEqual(out["params"], {"level": "warning"})
        self.router.childMessage(ok(out["id"], {}))
        self.assertEqual(self.successResultOf(dA), ok("a1", {}))
        # A higher level from another session: answered locally.
        self.assertEqual(self.successResultOf(self.setLevel(b, "error", rid="b1")), ok("b1", {}))
        self.assertEqual(self.take(), [])
        # A lower level: the child goes down to it.
        dC = self.setLevel(c, "debug", rid="c1")
        [out] = self.take()
        self.assertEqual(out, req(out["id"], "logging/setLevel", {"level": "debug"}))
        self.router.childMessage(ok(out["id"], {}))
        self.assertEqual(self.successResultOf(dC), ok("c1", {}))
        self.assertEqual((a.logLevel, b.logLevel, c.logLevel), ("warning", "error", "debug"))
        # Same lowest level again: local.
        self.successResultOf(self.setLevel(a, "info"))
        self.assertEqual(self.take(), [])

    def test_unknown_level_refused_locally(self) -> None:
        a = self.session("a")
        r = self.successResultOf(self.setLevel(a, "loud", rid=4))
        self.assertEqual((r["id"], r["error"]["code"]), (4, jsonrpc.INVALID_PARAMS))
        self.assertIsNone(a.logLevel)
        self.assertEqual(self.take(), [])


class OwnerRouterTests(RouterCase):
    """A per-session (stateful) child: everything goes to its one owner."""

    def makeOwner(self) -> FakeSession:
        return FakeSession("owner", capabilities=ALL_CAPS)

    def test_initialized_forwarded(self) -> None:
        assert self.owner is not None
        self.router.clientNotification(self.owner, note("notifications/initialized"))
        self.assertEqual(self.take(), [note("notifications/initialized")])

    def test_all_notifications_to_owner(self) -> None:
        assert self.owner is not None
        messages = [
            note("notifications/tools/list_changed"),
            note("notifications/resources/updated", {"uri": "never-subscribed"}),
            note("notifications/message", {"level": "debug", "data": "x"}),
            note("notifications/custom", {"a": 1}),
        ]
        for m in messages:
            self.router.childMessage(m)
        self.assertEqual(self.owner.delivered, messages)

    def test_notifications_prefer_latest_request_stream(self) -> None:
        assert self.owner is not None
        sink = RecordingSink()
        self.router.request(self.owner, req(1), sink)
        self.take()
        m = note("notifications/message", {"level": "info", "data": "x"})
        self.router.childMessage(m)
        self.assertEqual((sink.messages, self.owner.delivered), ([m], []))

    def test_subscribe_and_set_level_forwarded_as_is(self) -> None:
        assert self.owner is not None
        for _ in range(2):
            self.router.request(self.owner, req(1, "resources/subscribe", {"uri": "u"}), None)
        self.router.request(self.owner, req(2, "logging/setLevel", {"level": "error"}), None)
        self.assertEqual(
            [m["method"] for m in self.take()],
            ["resources/subscribe", "resources/subscribe", "logging/setLevel"],
        )

    def test_server_request_to_owner_without_in_flight(self) -> None:
        assert self.owner is not None
        self.router.childMessage(req(0, "roots/list"))
        [asked] = self.owner.delivered
        self.assertEqual(asked["method"], "roots/list")
        self.assertTrue(self.router.clientResponse(self.owner, ok(asked["id"], {"roots": []})))
        self.assertEqual(self.take(), [ok(0, {"roots": []})])

    def test_initialize_forwarded_with_rewritten_id(self) -> None:
        assert self.owner is not None
        init = req(
            0,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "c", "version": "1"},
            },
        )
        d = self.router.request(self.owner, init, None)
        [out] = self.take()
        self.assertEqual(out, {**init, "id": out["id"]})
        self.assertNotEqual(out["id"], 0)
        self.router.childMessage(ok(out["id"], {"protocolVersion": "2025-06-18"}))
        self.assertEqual(self.successResultOf(d), ok(0, {"protocolVersion": "2025-06-18"}))


class LogLevelOnDetachTests(RouterCase):
    def setLevel(self, session: FakeSession, level: str) -> None:
        d = self.router.request(session, req(1, "logging/setLevel", {"level": level}), None)
        for sent in self.take():
            self.router.childMessage(ok(sent["id"], {}))
        self.successResultOf(d)

    def test_child_level_rises_when_the_chattiest_session_leaves(self) -> None:
        a, b = self.session("a"), self.session("b")
        self.setLevel(b, "warning")
        self.setLevel(a, "debug")
        self.router.detach(a)
        [again] = self.take()
        self.assertEqual(
            (again["method"], again["params"]), ("logging/setLevel", {"level": "warning"})
        )


class InvalidMessageLogTests(RouterCase):
    """A child writing invalid JSON-RPC forever costs a bounded log."""

    def test_invalid_messages_are_logged_within_a_budget(self) -> None:
        with capturedGatewayLogs() as events:
            for _ in range(1000):
                self.router.childMessage({"jsonrpc": "2.0"})
            self.clock.advance(10)
        lines = [e for e in events if "invalid JSON-RPC" in e.get("log_format", "")]
        self.assertEqual(len(lines), 11)  # the burst, then one summary
        self.assertEqual(lines[-1]["count"], 990)


class ServedTests(RouterCase):
    def test_a_sessions_first_request_to_the_child_is_told_once(self) -> None:
        served: list[str] = []
        self.router.onServed = lambda session: served.append(session.id)
        a = self.session("a")
        assert not a.called
        self.router.request(a, req(1, "tools/call"), RecordingSink())
        self.router.request(a, req(2, "tools/call"), RecordingSink())
        assert a.called and served == ["a"]


def test_a_served_session_is_saved_again_without_being_active() -> None:
    clock = Clock()
    registry = SessionRegistry(clock)
    session = registry.create("srv", "2025-11-25", {}, {})
    registry.trackChanges(True)
    clock.advance(5)
    registry.served(session)
    assert registry.takeChanged() == {session.id}
    assert session.lastActivity == 0  # served is not activity: the reaper's clock is kept
    session.called = True
    assert session.record()["called"] is True
    assert type(session).fromRecord(session.record()).called


class CallPathTests(RouterCase):
    def test_a_client_request_goes_to_open_without_forward(self) -> None:
        """A client's request is one frame from its exchange: C{request}
        calls C{open} itself (C{forward} is the fanout's way in)."""
        a = self.session("a")
        self.router.request(a, req(1, "tools/call", {"name": "x"}), RecordingSink())
        self.take()
        frames: list[str] = []

        def profiler(frame: FrameType, event: str, arg: object) -> None:
            if event == "call" and frame.f_code.co_filename == router.__file__:
                frames.append(frame.f_code.co_name)

        sys.setprofile(profiler)
        try:
            d = self.router.request(a, req(2, "tools/call", {"name": "x"}), RecordingSink())
        finally:
            sys.setprofile(None)
        assert frames[:2] == ["request", "open"]
        assert "forward" not in frames
        (sent,) = self.take()
        self.router.childMessage(ok(sent["id"], "done"))
        self.assertEqual(self.successResultOf(d), ok(2, "done"))
