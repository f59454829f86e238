"""A workspace child's C{roots/list} is answered by the gateway with its
workspace when no session provably asked (several sessions use the
child): every session on that route shares the workspace, so nothing is
guessed; the global route's child still gets the refusal, and a proven
requester (the only session attached) is still asked itself."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.pools.routechildren import workspaceRoots
from mcpgateway.protocol import jsonrpc
from tests.support.core.pools.keyedplacement import A, ScopedCase, variant

ROOTS_LIST = {"jsonrpc": "2.0", "id": "r1", "method": "roots/list"}


class WorkspaceRootsTests(ScopedCase):
    def rootsAnswer(self, proc: Any) -> dict[str, Any]:
        proc.reply(ROOTS_LIST)
        [answer] = proc.takeMessages()
        self.assertEqual(answer["id"], "r1")
        return answer  # type: ignore[no-any-return]

    def test_a_workspace_child_is_answered_with_its_workspace(self) -> None:
        one, two = self.session(A), self.session(A)
        proc = self.opened(one)
        self.successResultOf(self.pool.open(two, jsonrpc.request(9, "initialize", {})))
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["result"], {"roots": [{"uri": "file:///ws/a", "name": "a"}]})
        self.assertIsNone(self.pool.promoted)

    def test_the_only_session_without_roots_gets_the_workspace_answered(self) -> None:
        """One session attached is the proven requester, in flight or not;
        it declared no roots, so the gateway answers with the workspace."""
        proc = self.opened(self.session(A))
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["result"]["roots"][0]["uri"], "file:///ws/a")

    def test_the_only_session_of_the_global_route_without_roots_is_refused(self) -> None:
        """No workspace to answer with: the proven session is asked, and one
        that declared no roots gets the error the specification names."""
        proc = self.opened(self.session(""))
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["error"]["code"], jsonrpc.METHOD_NOT_FOUND)

    def test_with_two_sessions_in_flight_still_no_guess_and_no_promotion(self) -> None:
        one, two = self.session(A), self.session(A)
        proc = self.opened(one)
        self.successResultOf(self.pool.open(two, jsonrpc.request(9, "initialize", {})))
        d1 = self.pool.forward(one, jsonrpc.request(101, "tools/call"), None)
        d2 = self.pool.forward(two, jsonrpc.request(102, "tools/call"), None)
        proc.takeMessages()
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["result"]["roots"][0]["uri"], "file:///ws/a")
        self.assertIsNone(self.pool.promoted)
        self.assertNoResult(d1)
        self.assertNoResult(d2)

    def test_the_global_route_child_gets_no_roots(self) -> None:
        """Its sessions' roots are their own: with no proven asker the
        gateway answers with none (nobody's), never a workspace."""
        one, two = self.session(""), self.session("")
        for session in (one, two):  # either could answer: which one is unproven
            session.capabilities["roots"] = {}
        proc = self.opened(one)
        self.successResultOf(self.pool.open(two, jsonrpc.request(9, "initialize", {})))
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["result"], {"roots": []})
        self.assertIsNone(self.pool.promoted)

    def test_the_global_route_child_is_told_no_when_no_session_declared_roots(self) -> None:
        one, two = self.session(""), self.session("")
        proc = self.opened(one)
        self.successResultOf(self.pool.open(two, jsonrpc.request(9, "initialize", {})))
        answer = self.rootsAnswer(proc)
        self.assertEqual(answer["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertIn("did not declare the roots capability", answer["error"]["message"])


def test_roots_only_for_a_workspace_route_with_an_absolute_directory() -> None:
    assert workspaceRoots(variant("", "/ws/g")) == ()
    assert workspaceRoots(variant(A, None)) == ()
    assert workspaceRoots(variant(A, "relative/dir")) == ()
    assert workspaceRoots(variant(A, "/home/me/my project/")) == (
        {"uri": "file:///home/me/my%20project", "name": "my project"},
    )
