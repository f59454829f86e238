"""A shared child's roots stay each session's own without costing its share
(L{mcpgateway.core.unproven}): a C{roots/list} no session can be proven to
have asked gets the gateway's empty list, and the child is told
C{notifications/roots/list_changed} just before a call of a session that
declared roots when it holds another's (or the gateway's) roots, once per
switch of caller; its question inside that call goes to the caller."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink
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


class ChildRootsTests(SharedRouterCase):
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

    def answered(self, s: FakeSession, sink: RecordingSink, roots: dict[str, Any]) -> None:
        """C{s} is asked on its call's stream, and answers C{roots}."""
        [asked] = [m for m in sink.messages if m.get("method") == "roots/list"]
        self.assertTrue(self.router.clientResponse(s, jsonrpc.resultResponse(asked["id"], roots)))
        [back] = self.take()
        self.assertEqual(back["result"], roots)

    def test_the_start_up_question_gets_no_roots_and_the_first_caller_gives_its_own(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 0))
        _, sink = self.call(a)
        sent = self.take()
        self.assertEqual([m.get("method") for m in sent], [ROOTS_CHANGED, "tools/call"])
        self.assertNotIn("id", sent[0])  # a notification
        self.childAsks()  # inside a's call: a is the only caller
        self.answered(a, sink, rootsOf("a"))
        self.assertEqual(b.delivered, [])
        # a calls again: the child holds a's roots; nothing more is sent.
        self.finish(sent[1])
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call"])

    def test_a_switch_of_caller_tells_the_child_once(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        _, sinkA = self.call(a)
        [_, callA] = self.take()
        self.childAsks()
        self.answered(a, sinkA, rootsOf("a"))
        self.finish(callA)
        _, sinkB = self.call(b)
        [changed, callB] = self.take()
        self.assertEqual(changed["method"], ROOTS_CHANGED)
        self.childAsks()
        self.answered(b, sinkB, rootsOf("b"))
        self.assertEqual([m for m in sinkA.messages if m.get("method") == "roots/list"][1:], [])
        self.finish(callB)
        for _ in range(3):
            self.call(b)
        self.assertEqual(self.methods(), ["tools/call"] * 3)
        self.call(a)  # b's calls still in flight: a's question would be unproven
        self.assertEqual(self.methods(), ["tools/call"])

    def test_requests_before_the_childs_question_tell_it_once(self) -> None:
        a, b = person("a"), person("b")
        self.startUp(a, b)
        self.call(a)
        self.call(a, "resources/read")
        self.assertEqual(self.methods(), [ROOTS_CHANGED, "tools/call", "resources/read"])

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

    def test_the_holder_gone_the_one_left_gets_its_own_roots(self) -> None:
        """The child holds a's roots; a ends; b, now alone, calls: the child
        is told, and asks b."""
        a, b = person("a", "alice"), person("b", "bob")
        self.attach(a)
        childId = self.childAsks()  # a alone: proven a's
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.assertEqual(self.take()[0]["id"], childId)
        self.attach(b)
        self.router.detach(a)
        _, sink = self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED, "tools/call"])
        self.childAsks()
        self.answered(b, sink, rootsOf("b"))

    def test_across_principals_anothers_roots_are_taken_out_once(self) -> None:
        """The child holds alice's roots, bob calls while alice is attached:
        bob cannot be proven the asker, so the child is told once, its
        question gets no roots, and nothing is sent again after."""
        a, b = person("a", "alice"), person("b", "bob")
        self.attach(a)
        self.childAsks()
        [asked] = a.delivered
        self.router.clientResponse(a, jsonrpc.resultResponse(asked["id"], rootsOf("a")))
        self.take()
        self.attach(b)
        _, sink = self.call(b)
        self.assertEqual(self.methods(), [ROOTS_CHANGED, "tools/call"])
        childId = self.childAsks()
        self.assertEqual(sink.messages, [])
        self.assertEqual(self.take(), [jsonrpc.resultResponse(childId, {"roots": []})])
        self.call(b)
        self.call(a)
        self.assertEqual(self.methods(), ["tools/call", "tools/call"])
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 0))
