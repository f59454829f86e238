# -*- test-case-name: tests.core.test_fanout_roots -*-
"""A shared child's C{roots/list} among one principal's sessions: it goes
to the one session with a call in flight, on that call's stream, as a
sampling or an elicitation does (L{mcpgateway.core.fanout._soleCaller});
with no call in flight, or across principals, nobody is asked and the
gateway answers with no roots (L{mcpgateway.core.unproven})."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.streamwaits import STREAM_WAIT
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs
from tests.support.core.shared_router import SharedRouterCase

Message = dict[str, Any]
CAPS = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {"form": {}}}
ROOTS_LIST = jsonrpc.request(0, "roots/list")


def person(sid: str, principal: str = "", caps: dict[str, Any] | None = None) -> FakeSession:
    s = FakeSession(sid, capabilities=CAPS if caps is None else caps)
    s.principal = principal  # type: ignore[attr-defined]
    return s


class SoleCallerRootsTests(SharedRouterCase):
    def attached(self, *sessions: FakeSession) -> tuple[FakeSession, ...]:
        """C{sessions}, each attached to the router."""
        for s in sessions:
            self.router.attach(s)
        return sessions

    def call(
        self, s: FakeSession, method: str = "tools/call", sink: RecordingSink | None = None
    ) -> tuple[Deferred[Message], RecordingSink]:
        sink = RecordingSink() if sink is None else sink
        d = self.router.request(s, jsonrpc.request(1, method, {"name": "get-roots-list"}), sink)
        self.take()
        return d, sink

    def test_the_one_calling_window_gets_the_roots_request_on_its_calls_stream(self) -> None:
        """Two windows of one user on a shared server-everything; one calls
        get-roots-list, the other sits idle: the child's roots/list goes to
        the caller, and its answer back to the child; nothing refused,
        counted or promoted."""
        idle, caller = self.attached(person("idle"), person("caller"))
        self.call(caller, "resources/read")
        _, stream = self.call(caller)
        with capturedGatewayLogs() as events:
            self.router.childMessage(ROOTS_LIST)
        [asked] = stream.messages
        self.assertEqual(asked["method"], "roots/list")
        self.assertEqual((idle.delivered, caller.delivered), ([], []))
        self.assertEqual(self.take(), [])
        answer = jsonrpc.resultResponse(asked["id"], {"roots": [{"uri": "file:///w"}]})
        self.assertTrue(self.router.clientResponse(caller, answer))
        self.assertEqual(
            self.take(), [jsonrpc.resultResponse(0, {"roots": [{"uri": "file:///w"}]})]
        )
        self.assertEqual((self.router.ambiguousServerRequests, self.told), (0, []))
        [said] = [e for e in events if "the only one with" in e.get("log_format", "")]
        self.assertEqual((said["method"], said["count"]), ("roots/list", 2))

    def test_one_authenticated_principal_is_one_person(self) -> None:
        _, b = self.attached(person("a", "alice"), person("b", "alice"))
        _, stream = self.call(b)
        self.router.childMessage(ROOTS_LIST)
        self.assertEqual([m["method"] for m in stream.messages], ["roots/list"])

    def test_with_no_call_in_flight_it_gets_no_roots_and_the_pool_is_not_told(self) -> None:
        """The child asks on its own (at start-up, after a list change):
        no caller, no proof; the gateway's own empty list, nobody's roots."""
        a, b = self.attached(person("a"), person("b"))
        self.router.childMessage(ROOTS_LIST)
        self.assertEqual(self.take(), [jsonrpc.resultResponse(0, {"roots": []})])
        self.assertEqual(self.told, [])
        self.assertEqual((a.delivered, b.delivered), ([], []))

    def test_two_principals_get_no_roots(self) -> None:
        _, b = self.attached(person("a", "alice"), person("b", "bob"))
        _, stream = self.call(b)
        self.router.childMessage(ROOTS_LIST)
        self.assertEqual(stream.messages, [])
        self.assertEqual(self.take(), [jsonrpc.resultResponse(0, {"roots": []})])
        self.assertEqual(self.told, [])

    def test_two_callers_get_no_roots(self) -> None:
        a, b = self.attached(person("a"), person("b"))
        _, streamA = self.call(a)
        _, streamB = self.call(b)
        self.router.childMessage(ROOTS_LIST)
        self.assertEqual((streamA.messages, streamB.messages), ([], []))
        self.assertEqual(self.take(), [jsonrpc.resultResponse(0, {"roots": []})])
        self.assertEqual(self.told, [])

    def test_a_caller_that_did_not_declare_roots_is_refused_as_the_spec_says(self) -> None:
        _, caller = self.attached(person("idle"), person("caller", caps={"sampling": {}}))
        _, stream = self.call(caller)
        self.router.childMessage(ROOTS_LIST)
        [refusal] = self.take()
        self.assertEqual(refusal["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertEqual((stream.messages, self.told), ([], []))

    def test_the_callers_stream_gone_it_waits_for_the_caller_only(self) -> None:
        """The call's stream closed and the caller has no GET stream: the
        request waits for the caller's next stream, never the idle one's."""
        idle, caller = person("idle"), person("caller")
        caller.accept = False
        for s in (idle, caller):
            self.router.attach(s)
        self.call(caller, sink=RecordingSink(accept=False))
        self.router.childMessage(ROOTS_LIST)
        self.assertEqual(self.take(), [])
        _, idleStream = self.call(idle)
        _, next = self.call(caller)
        self.assertEqual(idleStream.messages, [])
        self.assertEqual([m["method"] for m in next.messages], ["roots/list"])
        self.clock.advance(STREAM_WAIT)
        self.assertEqual(self.take(), [])
