# -*- test-case-name: tests.core.pools.test_promotion_scope -*-
"""Workspace routes and promotion: a C{roots/list} no session can be proven
to have asked never promotes, whether the sessions came through workspace
routes or the user's (the gateway answers it with no roots); another
request promotes to C{session}. A C{workspace} promotion kept in
C{promotions.json} still gives each workspace its child, which the gateway
answers roots/list for with its workspace."""

from __future__ import annotations

import dataclasses
from typing import Any

from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.protocol import jsonrpc
from tests.support.core.promotion import INIT_RESULT, PER_SESSION, SPEC, PromotionCase

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

    def test_roots_with_no_call_of_two_workspaces_get_no_roots_and_no_promotion(self) -> None:
        s1, s2 = self.rootsCapable(W1, W2)
        shared = self.reactor.lastProcess
        shared.reply(ROOTS_LIST)
        self.assertEqual(shared.takeMessages(), [jsonrpc.resultResponse("child-r", {"roots": []})])
        self.assertEqual((self.sink.shares, self.pool.promoted), ([], None))
        spawned = len(self.reactor.processes)
        self.open(W1)
        self.assertEqual(len(self.reactor.processes), spawned)  # still the shared child
        del s1, s2

    def test_another_request_of_two_workspaces_promotes_to_session(self) -> None:
        s1, s2 = self.rootsCapable(W1, W2)
        shared = self.reactor.lastProcess
        self.inFlight(s1, shared)
        self.inFlight(s2, shared)
        shared.reply(PER_SESSION)
        self.assertEqual(self.sink.shares, ["session"])

    def test_a_kept_workspace_promotion_gives_each_workspace_its_child(self) -> None:
        """C{promotions.json} read back with C{"share": "workspace"}: the
        reconfigure ends no session, each workspace's sessions move to its
        child, and that child's roots/list is answered with the workspace."""
        s1, s2, s3 = self.rootsCapable(W1, W1, W2)
        shared = self.reactor.lastProcess
        self.gateway.reconfigurer.reconfigure({"srv": workspaceScoped("kept")})
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
        # with the workspace, nothing refused, nothing promoted.
        own.reply(ROOTS_LIST)
        [answer] = own.takeMessages()
        self.assertEqual(answer["result"]["roots"][0]["uri"], "file:///ws/a")
        self.assertEqual(self.sink.shares, [])
        del s3


class UsersChildTests(PromotionCase):
    """Workspace routes whose entry is the user's share the user's child:
    their roots/list with no proven asker gets no roots, and no promotion."""

    spec = dataclasses.replace(
        SPEC,
        variants=(Variant("", SPEC, "child:u"), Variant(W1, SPEC, "child:u")),
    )

    def test_roots_of_the_users_child_promote_nothing(self) -> None:
        for scopes in [(W1, ""), (W1, W1)]:
            for scope in scopes:
                self.open(scope).capabilities = {"roots": {}}
            shared = self.reactor.lastProcess
            shared.reply(ROOTS_LIST)
            self.assertEqual(shared.takeMessages()[0]["result"], {"roots": []})
            self.assertEqual(self.sink.shares, [])
