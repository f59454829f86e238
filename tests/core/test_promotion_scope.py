# -*- test-case-name: tests.core.test_promotion_scope -*-
"""A promotion narrows a server's share only as far as makes the refused
request provable: a C{roots/list} of a global child whose sessions all came
through workspace routes of their own promotes the server to C{workspace}
(each workspace's child runs in it and the gateway answers its roots with
it); anything else, to C{session}. A later ambiguous sampling narrows a
workspace promotion to C{session}."""

from __future__ import annotations

import dataclasses
from typing import Any

from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.protocol import jsonrpc
from tests.core.test_promotion import INIT_RESULT, SAMPLING, SPEC, PromotionCase
from tests.fakes import capturedGatewayLogs

W1, W2 = "a" * 16, "b" * 16
ROOTS_LIST = {"jsonrpc": "2.0", "id": "child-r", "method": "roots/list"}
PROJECTS = dataclasses.replace(
    SPEC,
    variants=(Variant(W1, SPEC, "child:g"), Variant(W2, SPEC, "child:g")),
)
"""A global server two projects define alike (no user's entry): one child
for both workspace routes."""


def workspaceScoped(why: str) -> ServerSpec:
    """L{PROJECTS} as config serves it once promoted to C{workspace}: each
    project's entry runs in its workspace (L{mcpgateway.config.scopes})."""
    return dataclasses.replace(
        SPEC,
        mode="workspace",
        promoted=why,
        variants=(
            Variant(W1, dataclasses.replace(SPEC, cwd="/ws/a", mode="workspace"), "child:a"),
            Variant(W2, dataclasses.replace(SPEC, cwd="/ws/b", mode="workspace"), "child:b"),
        ),
    )


class WorkspacePromotionTests(PromotionCase):
    spec = PROJECTS

    def rootsCapable(self, *scopes: str) -> list[Any]:
        sessions = [self.open(scope) for scope in scopes]
        for session in sessions:
            session.capabilities = {"roots": {}, "sampling": {}}
        return sessions

    def test_roots_with_no_call_of_two_workspaces_promote_to_workspace(self) -> None:
        s1, s2 = self.rootsCapable(W1, W2)
        shared = self.reactor.lastProcess
        with capturedGatewayLogs() as events:
            shared.reply(ROOTS_LIST)
        self.assertIn("ambiguous", shared.takeMessages()[0]["error"]["message"])
        self.assertEqual(self.sink.shares, ["workspace"])
        self.assertIn("roots/list while 2 sessions", self.pool.promoted or "")
        [said] = [e for e in events if "promoted to share" in e["log_format"]]
        self.assertIn("'workspace'", said["log_format"])
        self.assertEqual(said["undo"], 'classification.json {"srv": {"share": "global"}}')
        # No child per session: a new session of a workspace shares the child
        # until the reload brings each workspace its own.
        spawned = len(self.reactor.processes)
        self.open(W1)
        self.assertEqual(len(self.reactor.processes), spawned)
        # Asked again before the reload: refused, not promoted again.
        shared.reply({**ROOTS_LIST, "id": "child-r2"})
        self.assertEqual(self.sink.shares, ["workspace"])
        del s1, s2

    def test_an_ambiguous_sampling_after_it_narrows_to_session(self) -> None:
        s1, s2 = self.rootsCapable(W1, W2)
        shared = self.reactor.lastProcess
        shared.reply(ROOTS_LIST)
        shared.takeMessages()
        self.inFlight(s1, shared)
        self.inFlight(s2, shared)
        shared.reply(SAMPLING)
        self.assertEqual(self.sink.shares, ["workspace", "session"])
        self.assertIn("sampling/createMessage", self.pool.promoted or "")

    def test_a_sampling_of_two_workspaces_promotes_to_session(self) -> None:
        """A sampling is a person's, not a workspace's: only a child per
        session proves whose."""
        s1, s2 = self.rootsCapable(W1, W2)
        shared = self.reactor.lastProcess
        self.inFlight(s1, shared)
        self.inFlight(s2, shared)
        shared.reply(SAMPLING)
        self.assertEqual(self.sink.shares, ["session"])

    def test_the_reload_gives_each_workspace_its_child_which_answers_its_roots(self) -> None:
        s1, s2, s3 = self.rootsCapable(W1, W1, W2)
        shared = self.reactor.lastProcess
        shared.reply(ROOTS_LIST)
        shared.takeMessages()
        why = self.sink.promoted[0][1]
        self.gateway.reconfigure({"srv": workspaceScoped(why)})
        self.assertIs(self.gateway.pools["srv"], self.pool)  # no session ends
        self.assertEqual({s.id for s in self.gateway.sessions}, {s1.id, s2.id, s3.id})
        moved = self.pool.forward(s1, jsonrpc.request(5, "tools/list"), None)
        own = self.reactor.lastProcess
        self.assertIsNot(own, shared)
        self.assertEqual(own.path, "/ws/a")
        [init] = own.takeMessages()
        own.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        [*_, listed] = own.takeMessages()
        own.reply(jsonrpc.resultResponse(listed["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(moved)["id"], 5)
        also = self.pool.forward(s2, jsonrpc.request(6, "tools/list"), None)
        [listed] = [m for m in own.takeMessages() if m.get("method") == "tools/list"]
        own.reply(jsonrpc.resultResponse(listed["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(also)["id"], 6)
        self.assertIs(self.reactor.lastProcess, own)  # s2 joined its workspace's child
        # Two sessions of the workspace, nobody calling: the gateway answers
        # with the workspace, nothing refused, nothing promoted further.
        own.reply(ROOTS_LIST)
        [answer] = own.takeMessages()
        self.assertEqual(answer["result"]["roots"][0]["uri"], "file:///ws/a")
        self.assertEqual(self.sink.shares, ["workspace"])
        del s3


class UsersChildTests(PromotionCase):
    """Workspace routes whose entry is the user's share the user's child at
    any scope: a child per workspace would not separate them."""

    spec = dataclasses.replace(
        SPEC,
        variants=(Variant("", SPEC, "child:u"), Variant(W1, SPEC, "child:u")),
    )

    def test_roots_of_the_users_child_promote_to_session(self) -> None:
        s1, s2 = self.open(W1), self.open("")
        for session in (s1, s2):
            session.capabilities = {"roots": {}}
        self.reactor.lastProcess.reply(ROOTS_LIST)
        self.assertEqual(self.sink.shares, ["session"])

    def test_roots_of_one_workspace_route_of_the_users_entry_promote_to_session(self) -> None:
        s1, s2 = self.open(W1), self.open(W1)
        for session in (s1, s2):
            session.capabilities = {"roots": {}}
        self.reactor.lastProcess.reply(ROOTS_LIST)
        self.assertEqual(self.sink.shares, ["session"])
