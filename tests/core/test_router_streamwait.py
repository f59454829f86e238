# -*- test-case-name: tests.core.test_router_streamwait -*-
"""A child's request proven to be for a session that has no stream open yet
waits for one (L{mcpgateway.core.streamwaits.StreamWaits}): the session's GET
stream opening, or the stream of its next request, whichever comes first;
for at most L{STREAM_WAIT} seconds, then the child gets the refusal it got
at once before. Nothing held ever reaches another session."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.session import AggregateSession, ChildRelay, MemberSession
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session, StreamAwaiting
from mcpgateway.core.streamwaits import STREAM_WAIT, StreamWaits
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs

Message = dict[str, Any]
ROOTS = {"roots": {"listChanged": True}, "sampling": {}}


class FakeStream:
    """A session's GET stream (L{mcpgateway.core.sessions.Stream})."""

    def __init__(self) -> None:
        self.open = True
        self.sent: list[Message] = []

    def send(self, message: Message) -> bool:
        if self.open:
            self.sent.append(message)
        return self.open

    def close(self) -> None:
        self.open = False

    def suspend(self) -> None:
        """Nothing to suspend."""


def session(sid: str, caps: dict[str, Any] | None = None) -> Session:
    """A real session (it says when its GET stream opens), with no stream."""
    return Session(sid, "srv", "2025-11-25", ROOTS if caps is None else caps, {}, 0.0)


def openStream(s: Session) -> FakeStream:
    """What the web layer does on a GET: the stream, then the word."""
    stream = FakeStream()
    s.getStream = stream
    s.streamOpened()
    return stream


def childRequest(childId: Any, method: str = "roots/list") -> Message:
    return jsonrpc.request(childId, method, None if method == "roots/list" else {"messages": []})


class StreamWaitCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.router = Router("srv", self.clock, 60.0, SharedFanout())
        self.sent: list[Message] = []
        self.router.attachChild(self.sent.append)

    def take(self) -> list[Message]:
        out, self.sent[:] = list(self.sent), []
        return out

    def attach(self, s: Session | FakeSession) -> Session | FakeSession:
        self.router.attach(s)
        return s

    def waiting(self, childId: int) -> Session:
        """Session C{a}, attached with no GET stream open, and the child's
        C{roots/list} C{childId} waiting for one: the session."""
        a = self.attach(session("a"))
        assert isinstance(a, Session)
        self.router.childMessage(childRequest(childId))
        return a

    def call(self, s: Session | FakeSession, sink: RecordingSink | None = None) -> RecordingSink:
        """A request of C{s} forwarded to the child (which gets it at once, or
        once it has the caller's roots: L{mcpgateway.core.unproven.ChildRoots});
        its stream. What the child got so far is taken."""
        sink = RecordingSink() if sink is None else sink
        d = self.router.request(s, jsonrpc.request(1, "tools/call", {"name": "t"}), sink)
        d.addErrback(lambda f: f.trap(CancelledError))
        self.take()
        return sink


class GetStreamTests(StreamWaitCase):
    def test_a_request_of_the_child_waits_for_the_sessions_get_stream(self) -> None:
        """server-everything asks for roots 350 ms after it is initialized,
        before the client opened its GET stream: the request goes out on
        that stream when it opens, and the answer reaches the child."""
        a = self.waiting(0)
        self.assertEqual(self.take(), [])  # no refusal: it waits
        self.clock.advance(STREAM_WAIT / 2)
        stream = openStream(a)
        [asked] = stream.sent
        self.assertEqual(asked["method"], "roots/list")
        self.assertTrue(self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], {})))
        self.assertEqual(self.take(), [jsonrpc.resultResponse(0, {})])
        self.clock.advance(STREAM_WAIT)
        self.assertEqual(self.take(), [])  # no late refusal

    def test_several_wait_and_go_out_in_order(self) -> None:
        a = self.waiting(0)
        self.router.childMessage(childRequest(1, "sampling/createMessage"))
        stream = openStream(a)
        self.assertEqual(
            [m["method"] for m in stream.sent], ["roots/list", "sampling/createMessage"]
        )
        self.assertEqual(self.take(), [])

    def test_the_wait_runs_out_the_child_is_refused_and_the_log_says_so(self) -> None:
        a = self.waiting(7)
        with capturedGatewayLogs() as events:
            self.clock.advance(STREAM_WAIT)
        [error] = self.take()
        self.assertEqual((error["id"], error["error"]["code"]), (7, jsonrpc.INTERNAL_ERROR))
        self.assertIn("no open stream to receive it", error["error"]["message"])
        [said] = [e for e in events if "opened no stream" in e.get("log_format", "")]
        self.assertEqual((said["method"], said["wait"]), ("roots/list", STREAM_WAIT))
        self.assertEqual(said["sid"], a.shortId)
        # A stream opened later gets nothing; nothing waits on the session.
        stream = openStream(a)
        self.assertEqual(stream.sent, [])
        self.assertIsNone(a._streamWaiters)

    def test_a_stream_that_closes_at_once_is_waited_past(self) -> None:
        """A GET stream gone before the request could be written: it waits
        on, within its time, for the next one."""
        a = self.waiting(0)
        closed = FakeStream()
        closed.open = False
        a.getStream = closed
        a.streamOpened()
        self.assertEqual(self.take(), [])
        stream = openStream(a)
        self.assertEqual([m["method"] for m in stream.sent], ["roots/list"])

    def test_the_session_ends_while_it_waits(self) -> None:
        a = self.waiting(3)
        self.router.detach(a, "session deleted by the client")
        [error] = self.take()
        self.assertEqual(error["id"], 3)
        self.assertIn("no client to answer it (session deleted", error["error"]["message"])
        self.assertIsNone(a._streamWaiters)
        self.clock.advance(STREAM_WAIT)
        self.assertEqual(self.take(), [])

    def test_the_child_cancels_a_request_that_waits(self) -> None:
        """Its session never saw it: nothing to tell, nothing to deliver."""
        a = self.waiting(3)
        self.router.childMessage(jsonrpc.notification("notifications/cancelled", {"requestId": 3}))
        stream = openStream(a)
        self.assertEqual(stream.sent, [])
        self.clock.advance(STREAM_WAIT)
        self.assertEqual(self.take(), [])

    def test_the_child_exits_while_a_request_waits(self) -> None:
        a = self.waiting(3)
        self.router.childExited("exited with code 1")
        self.assertIsNone(a._streamWaiters)
        self.assertEqual(openStream(a).sent, [])

    def test_a_era2026_call_without_a_stream_is_refused_at_once(self) -> None:
        """A 2026 call's own code answers the child; there is no GET
        stream to wait for."""
        call = FakeSession("m-1", capabilities=ROOTS, accept=False)
        call.era2026 = True
        self.call(call, RecordingSink(accept=False))
        self.router.childMessage(childRequest(4))
        [error] = self.take()
        self.assertIn("no open stream", error["error"]["message"])


class NextRequestTests(StreamWaitCase):
    def test_the_sessions_next_request_carries_it_first(self) -> None:
        a = self.attach(session("a"))
        self.router.childMessage(childRequest(0))
        sink = self.call(a)
        [asked] = sink.messages
        self.assertEqual(asked["method"], "roots/list")
        assert isinstance(a, Session)
        self.assertEqual(openStream(a).sent, [])  # given once, on the first stream
        self.assertIsNone(a._streamWaiters)
        # The child's cancellation follows it on that request's stream.
        self.router.childMessage(jsonrpc.notification("notifications/cancelled", {"requestId": 0}))
        self.assertEqual(sink.messages[1]["params"]["requestId"], asked["id"])

    def test_a_request_without_a_stream_leaves_it_waiting(self) -> None:
        a = self.attach(FakeSession("a", capabilities=ROOTS, accept=False))
        self.router.childMessage(childRequest(0))
        closed = self.call(a, RecordingSink(accept=False))
        self.assertEqual(len(closed.refused), 1)
        sink = self.call(a)
        self.assertEqual([m["method"] for m in sink.messages], ["roots/list"])
        self.clock.advance(STREAM_WAIT)
        self.assertEqual([m for m in self.take() if m.get("id") == 0], [])  # never refused

    def test_another_sessions_request_never_carries_it(self) -> None:
        """B's request, B's GET stream: nothing of A's ever reaches B."""
        a = self.attach(FakeSession("a", capabilities=ROOTS, accept=False))
        self.router.childMessage(childRequest(0))  # A alone: proven A's
        b = self.attach(session("b"))
        assert isinstance(b, Session)
        sink = self.call(b)
        stream = openStream(b)
        self.assertEqual((sink.messages, stream.sent), ([], []))
        self.clock.advance(STREAM_WAIT)
        [error] = self.take()
        self.assertEqual(error["id"], 0)
        del a


class SessionHookTests(SynchronousTestCase):
    def test_a_session_tells_its_waiters_once(self) -> None:
        s = session("s")
        self.assertIsInstance(s, StreamAwaiting)
        told: list[str] = []
        s.awaitStream(lambda: told.append("one"))
        s.awaitStream(lambda: told.append("two"))
        s.streamOpened()
        s.streamOpened()
        self.assertEqual(told, ["one", "two"])
        self.assertIsNone(s._streamWaiters)

    def test_unawaited_is_not_told(self) -> None:
        s = session("s")
        told: list[str] = []

        def waiter() -> None:
            told.append("x")

        s.awaitStream(waiter)
        s.unawaitStream(waiter)
        s.unawaitStream(waiter)  # twice: nothing
        self.assertIsNone(s._streamWaiters)
        s.streamOpened()
        self.assertEqual(told, [])

    def test_an_aggregate_member_awaits_its_aggregate_sessions_stream(self) -> None:
        """A member session of C{/mcp} reaches its client on the aggregate
        session's GET stream: that is the one it waits for."""
        parent = AggregateSession("p", "mcp", "2025-11-25", ROOTS, {}, 0.0)
        pool = cast(PoolLike, SimpleNamespace(spec=SimpleNamespace(name="srv")))
        member = MemberSession(parent, pool, cast(ChildRelay, None), "", 0.0)
        told: list[str] = []
        member.awaitStream(lambda: told.append("member"))
        parent.streamOpened()
        self.assertEqual(told, ["member"])

        def waiter() -> None:
            told.append("again")

        member.awaitStream(waiter)
        member.unawaitStream(waiter)
        parent.streamOpened()
        self.assertEqual(told, ["member"])

    def test_a_fake_session_is_not_awaited(self) -> None:
        """A session that cannot say when its stream opens: only its next
        request, or the time, ends the wait."""
        waits = StreamWaits("srv", Clock(), lambda gatewayId: None)
        fake = FakeSession("f", accept=False)
        waits.hold(1, fake, childRequest(1))
        self.assertNotIsInstance(fake, StreamAwaiting)
        self.assertEqual(len(waits), 1)
        self.assertIn(1, waits)


EVENTS = st.lists(
    st.sampled_from(["a-get", "b-get", "a-call", "b-call", "a-call-closed", "tick", "a-ends"]),
    max_size=12,
)


class NeverAnotherSessionTests(SynchronousTestCase):
    @settings(max_examples=150, deadline=None)
    @given(EVENTS)
    def test_a_held_request_reaches_its_session_at_most_once_or_the_child_is_refused(
        self, events: list[str]
    ) -> None:
        """Whatever happens after the child asked A (alone then): B never
        sees the request, A sees it at most once, and the child is refused
        exactly when A never got it, once the wait ran out or A ended."""
        clock = Clock()
        router = Router("srv", clock, 600.0, SharedFanout())
        toChild: list[Message] = []
        router.attachChild(toChild.append)
        a, b = session("a"), session("b")
        router.attach(a)
        router.childMessage(childRequest("asked"))
        router.attach(b)
        seen: dict[str, list[Message]] = {"a": [], "b": []}
        streams: dict[str, list[FakeStream]] = {"a": [], "b": []}
        for event in events:
            who = event[0]
            s = a if who == "a" else b
            if event == "tick":
                clock.advance(1.0)
            elif event == "a-ends":
                router.detach(a)
            elif event.endswith("-get"):
                streams[who].append(openStream(s))
            else:
                sink = RecordingSink(accept=not event.endswith("closed"))
                d = router.request(s, jsonrpc.request(1, "tools/call", {}), sink)
                d.addErrback(lambda f: None)
                seen[who] += sink.messages
        clock.advance(STREAM_WAIT)
        for who in ("a", "b"):
            for stream in streams[who]:
                seen[who] += stream.sent
        asked = [m for m in seen["a"] if m.get("method") == "roots/list"]
        refused = [m for m in toChild if m.get("id") == "asked" and "error" in m]
        self.assertEqual([m for m in seen["b"] if m.get("method") == "roots/list"], [])
        self.assertLessEqual(len(asked), 1)
        self.assertEqual(len(refused), 0 if asked and "a-ends" not in events else 1)
