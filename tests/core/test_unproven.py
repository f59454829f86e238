"""A shared child's roots stay each session's own without costing its share
(L{mcpgateway.core.unproven}): a C{roots/list} no session can be proven to
have asked gets the gateway's empty list, and the child is told
C{notifications/roots/list_changed} just before a call of a session that
declared roots when it holds another's (or the gateway's) roots, once per
switch of caller; its question inside that call goes to the caller, and
the call reaches the child only after the caller's answer (the switch is a
barrier, bounded: L{ASK_WAIT}, L{ASKER_WAIT})."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.era2026.mrtr import Era2026Call
from mcpgateway.core.fanout import OwnerFanout, SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import shortId
from mcpgateway.core.unproven import ASK_WAIT, ASKER_WAIT, DRAIN_WAIT, SETTLE, SPEAK_WAIT
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs
from tests.support.core.shared_router import SharedRouterCase

Message = dict[str, Any]
ROOTS_CAPS = {"roots": {"listChanged": True}}
ROOTS_CHANGED = "notifications/roots/list_changed"


def person(sid: str, principal: str = "", caps: dict[str, Any] | None = None) -> FakeSession:
    s = FakeSession(sid, capabilities=ROOTS_CAPS if caps is None else caps)
    s.principal = principal  # type: ignore[attr-defined]
    return s


def rootsOf(name: str) -> dict[str, Any]:
    return {"roots": [{"uri": f"file:///{name}", "name": name}]}


class RootsCase(SharedRouterCase):
    """A shared child's router, and sessions that call it and answer its
    C{roots/list}."""

    def setUp(self) -> None:
        super().setUp()
        self.childIds = iter(range(100, 10_000))

    def methods(self) -> list[str | None]:
        return [m.get("method") for m in self.take()]

    def attach(self, *sessions: FakeSession) -> None:
        for s in sessions:
            self.router.attach(s)

    def call(
        self, s: FakeSession, method: str = "tools/call"
    ) -> tuple[Deferred[Message], RecordingSink]:
        sink = RecordingSink()
        d = self.router.request(s, jsonrpc.request(1, method, {"name": "get-roots-list"}), sink)
        return d, sink

    def finish(self, call: Message) -> None:
        """The child answers the call C{call} (as it was written to it)."""
        self.router.childMessage(jsonrpc.resultResponse(call["id"], {"content": []}))

    def childAsks(self) -> int:
        """The child asks for the roots; its request id."""
        childId = next(self.childIds)
        self.router.childMessage(jsonrpc.request(childId, "roots/list"))
        return childId

    def startUp(self, *sessions: FakeSession) -> None:
        """The child's own roots/list while C{sessions} are attached and
        nobody calls: answered with no roots."""
        self.attach(*sessions)
        childId = self.childAsks()
        self.assertEqual(self.take(), [jsonrpc.resultResponse(childId, {"roots": []})])
        self.assertEqual(self.settled(), [])

    def answered(self, s: FakeSession, sink: RecordingSink, roots: dict[str, Any]) -> list[Message]:
        """C{s} is asked on its call's stream, and answers C{roots}: the
        answer reaches the child first; what was held for it, after (returned)."""
        [asked] = [m for m in sink.messages if m.get("method") == "roots/list"]
        self.assertTrue(self.router.clientResponse(s, jsonrpc.resultResponse(asked["id"], roots)))
        [back] = self.take()
        self.assertEqual(back["result"], roots)
        return self.settled()

    def settled(self) -> list[Message]:
        """What the child gets once it had L{SETTLE} to apply its roots (and
        nothing before)."""
        self.clock.advance(SETTLE * 0.9)
        self.assertEqual(self.take(), [])
        self.clock.advance(SETTLE * 0.2)
        return self.take()


class ChildRootsTests(RootsCase):
    def test_the_start_up_question_gets_no_roots_and_the_first_caller_gives_its_own(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 0))
        _, sink = self.call(a)
        [changed] = self.take()  # the call waits for the child's question
        self.assertEqual(changed, jsonrpc.notification(ROOTS_CHANGED))
        self.childAsks()  # inside a's call: a is the only caller
        [call] = self.answered(a, sink, rootsOf("a"))
        self.assertEqual(call["method"], "tools/call")
        self.assertEqual(b.delivered, [])
        # a calls again: the child holds a's roots; nothing more is sent.
        self.finish(call)
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_switch_of_caller_tells_the_child_once(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        _, sinkA = self.call(a)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [callA] = self.answered(a, sinkA, rootsOf("a"))
        self.finish(callA)
        _, sinkB = self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [callB] = self.answered(b, sinkB, rootsOf("b"))
        self.assertEqual([m for m in sinkA.messages if m.get("method") == "roots/list"][1:], [])
        self.finish(callB)
        calls = []
        for _ in range(3):
            self.call(b)
            calls += self.take()
        self.assertEqual([m["method"] for m in calls], ["tools/call"] * 3)
        # b's calls in flight: a's question would be unproven, so a's call
        # waits for them to end (never written into b's roots), then switches.
        self.call(a)
        self.call(b)  # behind a's: in order
        self.assertEqual(self.take(), [])
        for call in calls:
            self.finish(call)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])

    def test_requests_before_the_childs_question_wait_behind_it_in_order(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        _, sink = self.call(a)
        self.call(a, "resources/read")
        self.call(a, "tools/list")
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        after = self.answered(a, sink, rootsOf("a"))
        self.assertEqual(
            [m["method"] for m in after], ["tools/call", "resources/read", "tools/list"]
        )

    def test_lists_and_other_requests_tell_it_nothing(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        for method in ("tools/list", "resources/list", "prompts/list", "ping"):
            self.call(a, method)
        self.assertEqual(self.methods(), ["tools/list", "resources/list", "prompts/list", "ping"])

    def test_a_session_that_declared_no_roots_is_never_the_reason(self) -> None:
        a, b = person("a", caps={"sampling": {}}), person("b")
        self.startUp(a, b)
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_child_that_never_asked_for_roots_is_told_nothing(self) -> None:
        a, b = person("a"), person("b")
        self.attach(a, b)
        self.call(a)
        self.call(b)
        self.assertEqual(self.methods(), ["tools/call", "tools/call"])

    def test_a_new_child_is_told_nothing_until_it_asks(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        d, _ = self.call(a)
        self.take()
        self.router.childExited("exited")
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.CHILD_EXITED)
        self.call(b)
        self.assertEqual(self.methods(), ["tools/call"])
        self.clock.advance(ASKER_WAIT)
        self.assertEqual(self.take(), [])  # the old child's held call went nowhere

    def test_the_holder_gone_the_one_left_gets_its_own_roots(self) -> None:
        """The child holds a's roots; a ends; b, now alone, calls: the child
        is told, and asks b."""
        a, b = person("a", "alice"), person("b", "bob")
        self.attach(a)
        childId = self.childAsks()  # a alone: proven a's
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.assertEqual(self.take()[0]["id"], childId)
        self.assertEqual(self.settled(), [])
        self.attach(b)
        self.router.detach(a)
        _, sink = self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        self.assertEqual(
            [m["method"] for m in self.answered(b, sink, rootsOf("b"))], ["tools/call"]
        )

    def aliceGave(self) -> tuple[FakeSession, FakeSession]:
        """alice alone gives the child her roots; bob attaches. (a, b)."""
        a, b = person("a", "alice"), person("b", "bob")
        self.attach(a)
        self.childAsks()
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.assertEqual(self.settled(), [])
        self.attach(b)
        return a, b

    def test_another_principals_call_never_runs_on_the_roots_the_child_holds(self) -> None:
        """The child holds alice's roots, bob calls while alice is attached:
        bob cannot be proven the asker of a question, and the empty list
        would not take alice's roots out of a child that keeps them: bob's
        call is refused (naming the fix), never written, and the pool is
        told (it gives each session a child of its own). alice's calls go."""
        a, b = self.aliceGave()
        with capturedGatewayLogs() as events:
            d, _ = self.call(b)
        self.assertEqual(self.take(), [])
        error = self.successResultOf(d)["error"]
        self.assertEqual(error["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIn('{"everything": {"share": "session"}}', error["message"])
        self.assertIn("another principal's", error["message"])
        refused = "server {server}: refused"
        [said] = [e for e in events if e.get("log_format", "").startswith(refused)]
        self.assertEqual((said["sid"], said["holder"]), (shortId(b.id), shortId(a.id)))
        self.assertEqual(self.told, [("roots/list", 2)])
        self.assertEqual(self.router.inFlight, 0)
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_session_without_roots_of_another_principal_is_refused_too(self) -> None:
        _a, b = self.aliceGave()
        b.capabilities = {}
        d, _ = self.call(b)
        self.assertEqual(self.take(), [])
        self.assertIn("declared no roots", self.successResultOf(d)["error"]["message"])

    def test_an_empty_answer_does_not_take_the_roots_out(self) -> None:
        """The child's own question while alice and bob are attached gets the
        empty list, which a child may ignore: it may still hold alice's
        roots, and bob's call is refused all the same."""
        _a, b = self.aliceGave()
        childId = self.childAsks()
        self.assertEqual(self.take(), [jsonrpc.resultResponse(childId, {"roots": []})])
        self.assertEqual(self.settled(), [])
        d, _ = self.call(b)
        self.assertEqual(self.take(), [])
        self.assertIn("error", self.successResultOf(d))

    def test_a_list_of_another_principal_goes_at_once(self) -> None:
        _a, b = self.aliceGave()
        self.call(b, "tools/list")
        self.assertEqual(self.methods(), ["tools/list"])

    def test_across_principals_a_child_that_holds_nobodys_roots_runs_the_call(self) -> None:
        """alice and bob attached, the child given no one's roots: bob's
        call cannot be given his, and runs on the roots the server was
        configured with, as before (no one else's)."""
        a, b = person("a", "alice"), person("b", "bob")
        self.startUp(a, b)
        self.call(b)
        self.assertEqual(self.methods(), ["tools/call"])
        self.assertEqual(self.told, [])

    def test_a_session_of_the_same_principal_without_roots_runs_on_its_roots(self) -> None:
        """One person's windows: one that gives no roots runs on the roots
        the child holds (that person's), and the log says so once."""
        a = person("a")
        self.attach(a)
        self.childAsks()
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.settled()
        n = person("n", caps={})
        self.attach(n)
        with capturedGatewayLogs() as events:
            self.call(n)
            self.call(n)
        self.assertEqual(self.methods(), ["tools/call", "tools/call"])
        said = [e for e in events if "gives no roots" in e.get("log_format", "")]
        self.assertEqual([(e["sid"], e["holder"]) for e in said], [(shortId(n.id), shortId(a.id))])


class BarrierTests(RootsCase):
    """How long a call waits behind a C{list_changed}, and what the router
    learns of a child that does or does not ask."""

    def switched(self) -> tuple[FakeSession, FakeSession, RecordingSink]:
        """a and b attached, the child holding the gateway's empty roots; a
        calls: told, held. (a, b, a's call's stream)."""
        a, b = person("a"), person("b")
        self.startUp(a, b)
        _, sink = self.call(a)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        return a, b, sink

    def test_a_call_without_a_switch_goes_at_once_and_starts_no_timer(self) -> None:
        a, _b, sink = self.switched()
        self.childAsks()
        self.answered(a, sink, rootsOf("a"))
        timers = len(self.clock.getDelayedCalls())
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])
        self.assertEqual(len(self.clock.getDelayedCalls()), timers)

    def test_a_child_that_does_not_ask_is_waited_on_briefly_then_not_at_all(self) -> None:
        a, b, _ = self.switched()
        with capturedGatewayLogs() as events:
            self.clock.advance(ASK_WAIT - 0.01)
            self.assertEqual(self.take(), [])
            self.clock.advance(0.01)
        [call] = self.take()
        self.assertEqual(call["method"], "tools/call")
        self.finish(call)
        [said] = [e for e in events if "did not ask" in e.get("what", "")]
        self.assertEqual((said["wait"], said["sid"]), (ASK_WAIT, shortId(a.id)))
        self.assertIn("not waited on again", said["after"])
        # b's call: the child is told, and the call goes at once.
        self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED, "tools/call"])

    def test_a_child_seen_to_ask_late_is_waited_on_again_longer(self) -> None:
        _a, b, _ = self.switched()
        self.clock.advance(ASK_WAIT)  # no question in time: the call went on
        [call] = self.take()
        self.childAsks()  # late, still for a (its call in flight)
        self.finish(call)
        self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.clock.advance(ASKER_WAIT - 0.01)
        self.assertEqual(self.take(), [])  # a child known to ask: waited on longer
        self.clock.advance(0.01)
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_child_known_to_ask_that_does_not_is_waited_on_briefly_next(self) -> None:
        a, b, sink = self.switched()
        self.childAsks()
        [call] = self.answered(a, sink, rootsOf("a"))  # it asks: known to
        self.finish(call)
        d, _ = self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        with capturedGatewayLogs() as events:
            self.clock.advance(ASKER_WAIT)
        self.assertEqual(self.take(), [])  # never written into a's roots
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.INTERNAL_ERROR)
        [said] = [e for e in events if "did not ask" in e.get("what", "")]
        self.assertEqual((said["wait"], said["after"]), (ASKER_WAIT, ""))
        # The child still holds a's roots: a's call needs no switch; c's does,
        # and (the child known to ask no more) is refused rather than run on a's.
        self.call(a)
        [call] = self.take()
        self.finish(call)
        c = person("c")
        self.attach(c)
        d, _ = self.call(c)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.clock.advance(ASK_WAIT)
        self.assertEqual(self.take(), [])
        self.assertIn("could not be given", self.successResultOf(d)["error"]["message"])

    def test_once_the_child_asked_its_client_gets_asker_wait_to_answer(self) -> None:
        self.switched()
        self.clock.advance(ASK_WAIT - 0.01)
        self.childAsks()  # just in time
        self.clock.advance(ASKER_WAIT - 0.01)
        self.assertEqual(self.take(), [])
        with capturedGatewayLogs() as events:
            self.clock.advance(0.01)
        self.assertEqual(self.methods(), ["tools/call"])
        [said] = [e for e in events if "not answered" in e.get("what", "")]
        self.assertEqual(said["wait"], ASKER_WAIT)
        self.assertEqual(said["after"], "")  # it asks: it is waited on next time

    def test_another_sessions_call_waits_for_a_switch_of_its_own(self) -> None:
        """b calls while a's call waits: b's waits as well. b's has not
        reached the child, so the child's question is a's; a's call goes
        in a's roots, and b's waits for it to end (the child's question
        would have two callers before), then the child is told again, asks
        b, and b's call goes in b's roots. a's next call waits behind."""
        a, b, sinkA = self.switched()
        _, sinkB = self.call(b)
        self.assertEqual(self.take(), [])
        self.childAsks()
        [callA] = self.answered(a, sinkA, rootsOf("a"))
        self.assertEqual(callA["method"], "tools/call")
        self.call(a)  # behind b's
        self.clock.advance(ASKER_WAIT)
        self.assertEqual(self.take(), [])
        self.finish(callA)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [callB] = self.answered(b, sinkB, rootsOf("b"))
        self.assertEqual(callB["method"], "tools/call")
        self.finish(callB)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])  # a's next call: a's roots again
        self.assertEqual(b.delivered, [])

    def test_a_call_waiting_for_the_others_is_refused_when_they_do_not_end(self) -> None:
        a, b, sinkA = self.switched()
        self.childAsks()
        [callA] = self.answered(a, sinkA, rootsOf("a"))
        d, _ = self.call(b)
        with capturedGatewayLogs() as events:
            self.clock.advance(DRAIN_WAIT - 0.01)
            self.assertNoResult(d)
            self.clock.advance(0.01)
        self.assertEqual(self.take(), [])
        self.assertIn("could not be given", self.successResultOf(d)["error"]["message"])
        [said] = [e for e in events if "waited" in e.get("log_format", "")]
        self.assertEqual((said["sid"], said["wait"]), (shortId(b.id), DRAIN_WAIT))
        self.finish(callA)
        self.call(a)  # nothing waits any more
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_held_call_of_another_session_is_no_caller_of_the_childs_question(self) -> None:
        """The fanout counts only calls written to the child (or the one the
        child was told of): b's call held behind a's switch does not make
        the child's question ambiguous."""
        _a, b, sinkA = self.switched()
        self.call(b)
        self.childAsks()
        self.assertEqual([m["method"] for m in sinkA.messages], ["roots/list"])
        self.assertEqual(self.router.ambiguousServerRequests, 0)

    def test_a_held_request_cancelled_meanwhile_never_reaches_the_child(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        d, _ = self.call(a)
        _, sink = self.call(a, "resources/read")
        self.take()
        d.cancel()
        self.failureResultOf(d)
        self.take()  # the cancel's notice: an id the child never saw, which it ignores
        self.childAsks()
        [read] = self.answered(a, sink, rootsOf("a"))
        self.assertEqual(read["method"], "resources/read")

    def test_an_error_answer_lets_the_call_go_and_tells_the_child_no_more(self) -> None:
        a, _b, sink = self.switched()
        self.childAsks()
        [asked] = [m for m in sink.messages if m.get("method") == "roots/list"]
        refusal = jsonrpc.errorResponse(asked["id"], jsonrpc.INTERNAL_ERROR, "no")
        self.assertTrue(self.router.clientResponse(a, refusal))
        back, call = self.take()
        self.assertEqual((back["error"]["message"], call["method"]), ("no", "tools/call"))
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])
        self.clock.advance(ASKER_WAIT)
        self.assertEqual(self.take(), [])

    def test_a_workspace_childs_question_answered_with_its_workspace_lets_it_go(self) -> None:
        """Across principals, a workspace child's question gets its
        workspace; the held call goes after that answer."""
        workspace = {"uri": "file:///ws", "name": "ws"}
        self.router = Router(self.server, self.clock, self.timeout, SharedFanout((workspace,)))
        self.router.attachChild(self.sent.append)
        a, b = person("a", "alice"), person("b", "bob")
        self.attach(a)
        self.childAsks()
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.assertEqual(self.settled(), [])
        self.attach(b)
        self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        childId = self.childAsks()
        self.assertEqual(self.take(), [jsonrpc.resultResponse(childId, {"roots": [workspace]})])
        [call] = self.settled()
        self.assertEqual(call["method"], "tools/call")

    def test_a_request_coming_while_the_child_applies_its_roots_waits_too(self) -> None:
        a, _b, sink = self.switched()
        self.childAsks()
        [asked] = [m for m in sink.messages if m.get("method") == "roots/list"]
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.call(a, "resources/read")
        self.assertEqual(self.take(), [])
        self.assertEqual([m["method"] for m in self.settled()], ["tools/call", "resources/read"])

    def test_another_principals_call_behind_the_barrier_is_never_written_in_hers(self) -> None:
        """bob calls while alice's call waits for her roots: when the child
        has them, alice's call goes; bob's is not written into her roots
        (bob cannot be proven the asker of a question beside alice): it is
        refused."""
        a1, a2 = person("a1", "alice"), person("a2", "alice")
        self.startUp(a1, a2)
        _, sink = self.call(a1)
        self.childAsks()  # alice's windows only: a1's, on its call's stream
        bob = person("b", "bob")
        self.attach(bob)
        d, _ = self.call(bob)
        [asked] = [m for m in sink.messages if m.get("method") == "roots/list"]
        self.router.clientResponse(a1, jsonrpc.resultResponse(asked["id"], rootsOf("a1")))
        self.take()
        [callA] = self.settled()
        self.assertEqual(callA["method"], "tools/call")
        self.assertIn("error", self.successResultOf(d))
        self.assertEqual(bob.delivered, [])

    def test_a_call_right_after_the_child_got_roots_waits_for_it_to_apply_them(self) -> None:
        """The child's own question, answered by its one session: that
        session's call just after needs no switch, and still reaches the
        child only once it had time to apply the roots."""
        a = person("a")
        self.attach(a)
        self.childAsks()
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.call(a)
        self.assertEqual(self.take(), [])
        [call] = self.settled()
        self.assertEqual(call["method"], "tools/call")
        self.call(a)  # the roots applied: at once
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_child_of_one_session_never_holds_anything(self) -> None:
        """A per-session child is its session's as a direct connection is."""
        owner = person("owner")
        self.router = Router(self.server, self.clock, self.timeout, OwnerFanout(owner))
        self.router.attachChild(self.sent.append)
        self.childAsks()
        [asked] = owner.delivered
        self.router.clientResponse(owner, jsonrpc.resultResponse(asked["id"], rootsOf("o")))
        self.take()
        self.call(owner)
        self.assertEqual(self.methods(), ["tools/call"])


class AppliedTests(RootsCase):
    """After a shared child is given roots, what waits goes once it has
    applied them: at its next word when it says one, else after L{SETTLE}
    (a listing here: no switch of caller of its own)."""

    def given(self) -> None:
        """The child asks while two sessions are attached and nobody calls:
        it gets no roots, and its next word is awaited."""
        childId = self.childAsks()
        self.assertEqual(self.take(), [jsonrpc.resultResponse(childId, {"roots": []})])

    def went(self, messages: list[Message]) -> None:
        """C{messages} is the listing held, written: the child answers it."""
        [listing] = messages
        self.assertEqual(listing["method"], "tools/list")
        self.finish(listing)

    def word(self) -> None:
        """A notification of the child (a stderr line does the same:
        L{mcpgateway.core.upstream.Upstream})."""
        self.router.childMessage(
            jsonrpc.notification("notifications/message", {"level": "info", "data": "roots: 0"})
        )

    def test_a_child_that_speaks_is_waited_on_for_its_word(self) -> None:
        a, b = person("a"), person("b")
        self.attach(a, b)
        self.given()
        self.word()  # seen: it says a word once it has roots
        self.given()
        self.call(a, "tools/list")
        self.clock.advance(SETTLE)
        self.assertEqual(self.take(), [])  # its word is awaited, not SETTLE
        self.word()
        self.went(self.take())

    def test_a_speaker_that_stays_silent_is_waited_on_settle_next(self) -> None:
        a, b = person("a"), person("b")
        self.attach(a, b)
        self.given()
        self.word()
        self.given()
        self.call(a, "tools/list")
        with capturedGatewayLogs() as events:
            self.clock.advance(SPEAK_WAIT)
        self.went(self.take())
        [said] = [e for e in events if "said nothing" in e.get("log_format", "")]
        self.assertEqual(said["wait"], SPEAK_WAIT)
        self.given()
        self.call(a, "tools/list")
        self.went(self.settled())

    def test_a_late_word_teaches_it(self) -> None:
        a, b = person("a"), person("b")
        self.attach(a, b)
        self.given()
        self.call(a, "tools/list")
        self.went(self.settled())
        self.clock.advance(SPEAK_WAIT - SETTLE - 0.01)
        self.word()  # within SPEAK_WAIT of the roots: its word
        self.given()
        self.call(a, "tools/list")
        self.clock.advance(SETTLE)
        self.assertEqual(self.take(), [])
        self.word()
        self.went(self.take())

    def test_a_word_long_after_says_nothing_of_the_roots(self) -> None:
        a, b = person("a"), person("b")
        self.attach(a, b)
        self.given()
        self.clock.advance(SPEAK_WAIT + 0.01)
        self.word()
        self.given()
        self.call(a, "tools/list")
        self.went(self.settled())


class Era2026CallerTests(RootsCase):
    """A call of an MCP 2026-07-28 client is a caller of its own: its
    client's roots reach the child through a round of that call."""

    def test_a_2026_call_whose_client_declares_roots_gives_the_child_its_roots(self) -> None:
        self.startUp()
        first = Era2026Call(ROOTS_CAPS, None)
        _, sink = self.call(first)  # type: ignore[arg-type]
        self.assertEqual(self.methods(), [ROOTS_CHANGED])  # the call waits for the question
        self.childAsks()  # inside the call: it reaches the call's client as a round
        [call] = self.answered(first, sink, rootsOf("first"))  # type: ignore[arg-type]
        self.assertEqual(call["method"], "tools/call")
        self.finish(call)
        # Another call is another caller: the child is told again, and asks it.
        second = Era2026Call(ROOTS_CAPS, None)
        _, sink = self.call(second)  # type: ignore[arg-type]
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [call] = self.answered(second, sink, rootsOf("second"))  # type: ignore[arg-type]
        self.assertEqual(call["method"], "tools/call")

    def test_a_2026_call_whose_client_declares_no_roots_goes_at_once(self) -> None:
        self.startUp()
        self.call(Era2026Call({}, None))  # type: ignore[arg-type]
        self.assertEqual(self.methods(), ["tools/call"])

    def test_an_idle_window_of_the_same_person_does_not_keep_a_2026_calls_roots_out(
        self,
    ) -> None:
        self.startUp()
        idle = person("idle")
        self.attach(idle)
        call = Era2026Call(ROOTS_CAPS, None)
        _, sink = self.call(call)  # type: ignore[arg-type]
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [written] = self.answered(call, sink, rootsOf("call"))  # type: ignore[arg-type]
        self.assertEqual((written["method"], idle.delivered), ("tools/call", []))

    def test_concurrent_2026_calls_each_run_in_their_own_roots(self) -> None:
        """Two 2026 calls at once, each its own caller: the second waits
        for the first to end, then the child is told again and asks it."""
        self.startUp()
        x, y = Era2026Call(ROOTS_CAPS, None), Era2026Call(ROOTS_CAPS, None)
        _, sinkX = self.call(x)  # type: ignore[arg-type]
        _, sinkY = self.call(y)  # type: ignore[arg-type]
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()  # y's call has not reached the child: x's question
        [callX] = self.answered(x, sinkX, rootsOf("x"))  # type: ignore[arg-type]
        self.assertEqual(self.take(), [])  # y's waits for x's call to end
        self.finish(callX)
        self.assertEqual(self.methods(), [ROOTS_CHANGED])
        self.childAsks()
        [callY] = self.answered(y, sinkY, rootsOf("y"))  # type: ignore[arg-type]
        self.assertEqual(callY["method"], "tools/call")
