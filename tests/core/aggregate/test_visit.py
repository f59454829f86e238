"""Sessions of a cluster: ids made from a session's facts, and visiting sessions.

A gateway given a L{SessionIds} makes each new session's id from the
session's facts (known before the id: server, route, principal, credential
key, protocol version, the client capabilities routing reads, whether it
gets a child of its own). Another gateway process that is handed those
facts (a cluster replica whose owner does not answer) serves the session
I{visiting}: rebuilt and attached to its shared child like a session
restored from a previous process, never saved. A session with a child of
its own cannot visit (its child is gone with its owner).
"""

from __future__ import annotations

import secrets
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.exchange import refusalFor
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import (
    ROUTED_CAPABILITIES,
    Session,
    SessionFacts,
    SessionRegistry,
    routedCapabilities,
)
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.core.aggregate.visit import facts
from tests.support.core.kept_records import KeptRecords, openAs
from tests.support.core.opt_specs import optSpec

Message = dict[str, Any]
ALICE = "mfrggzdfmztwq2lk"
SHARED = optSpec("fs")
STATEFUL = optSpec("st", mode="stateful")
PER_USER = optSpec("gh", perUser=True)
CREDENTIAL = optSpec("db", mode="credential", credentialEnv=("TOKEN",))
SPECS = {"fs": SHARED, "st": STATEFUL, "gh": PER_USER, "db": CREDENTIAL}
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "child", "version": "1"},
}
CAPABILITIES = {"sampling": {}, "elicitation": {}, "roots": {"listChanged": True}}


class CountingIds:
    """A L{mcpgateway.core.sessions.SessionIds} that says which facts it was given."""

    def __init__(self) -> None:
        self.facts: list[SessionFacts] = []

    def newId(self, facts: SessionFacts) -> str:
        self.facts.append(facts)
        return f"r1.sealed-{len(self.facts)}"


def initialize(capabilities: dict[str, Any] | None = None) -> Message:
    return jsonrpc.request(
        0,
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": CAPABILITIES if capabilities is None else capabilities,
            "clientInfo": {"name": "client", "version": "1"},
        },
    )


def handshake(reactor: FakeProcessReactor) -> list[Message]:
    """The last child answers the gateway's initialize; what it got after."""
    proc = reactor.lastProcess
    [init, *_] = proc.takeMessages()
    assert init["method"] == "initialize"
    proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
    return list(proc.takeMessages())


class Replica(KeptRecords, SynchronousTestCase):
    """One gateway process of a cluster, with its sessions file in memory."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.reactor.advance(1000)
        self.ids = CountingIds()
        self.records: list[dict[str, Any]] = []
        self.gateway = Gateway(
            SPECS, fakeSpawner(self.reactor), persistence=self, sessionIds=self.ids, lazyStart=False
        )
        self.gateway.start()

    def open(self, server: str, principal: str = "", **credentials: str) -> Session:
        spawned = len(self.reactor.processes)
        session, opened = openAs(
            self.gateway, server, initialize(), "2025-06-18", principal, credentials
        )
        if len(self.reactor.processes) > spawned:
            handshake(self.reactor)
        self.assertIn("result", self.successResultOf(opened))
        return session

    def call(self, session: Session) -> Message:
        """A tools/call of C{session}, answered by its child."""
        pool = self.gateway.pools[session.server]
        spawned = len(self.reactor.processes)
        answer = pool.forward(session, jsonrpc.request(7, "tools/call", {"name": "x"}), None)
        got = handshake(self.reactor) if len(self.reactor.processes) > spawned else []
        proc = next(p for p in self.reactor.processes if p.pid == pool.childPid(session))
        [sent] = [m for m in got + proc.takeMessages() if m.get("method") == "tools/call"]
        proc.reply(jsonrpc.resultResponse(sent["id"], {"content": []}))
        return self.successResultOf(answer)


class SessionIdsTests(Replica):
    def test_the_id_is_made_from_the_facts(self) -> None:
        session = self.open("fs", principal=ALICE)
        self.assertEqual(session.id, "r1.sealed-1")
        self.assertIs(self.gateway.sessions.get("r1.sealed-1"), session)
        self.assertEqual(
            self.ids.facts,
            [
                SessionFacts(
                    server="fs",
                    scope="",
                    principal=ALICE,
                    credential="",
                    protocolVersion="2025-06-18",
                    capabilities=frozenset(
                        {"sampling", "elicitation.form", "roots", "roots.listChanged"}
                    ),
                    owned=False,
                    created=1000.0,
                )
            ],
        )
        self.assertEqual(self.ids.facts[0], SessionFacts.of(session, owned=False))

    def test_a_session_scoped_server_owns_its_childrens_sessions(self) -> None:
        self.open("st")
        self.assertEqual([f.owned for f in self.ids.facts], [True])

    def test_a_promoted_server_owns_the_sessions_opened_after(self) -> None:
        self.open("fs")
        pool = self.gateway.pools["fs"]
        self.assertFalse(pool.ownsChildren())
        pool.promotion.ambiguous("sampling/createMessage", 2)  # type: ignore[attr-defined]
        self.assertTrue(pool.ownsChildren())
        self.open("fs")
        self.assertEqual([f.owned for f in self.ids.facts], [False, True])

    def test_the_credential_key_is_a_fact_of_credential_servers_only(self) -> None:
        self.open("db", key="abcdefghijklmnop", TOKEN="t1")
        self.open("fs", key="abcdefghijklmnop", TOKEN="t1")
        self.assertEqual([f.credential for f in self.ids.facts], ["abcdefghijklmnop", ""])

    def test_without_ids_sessions_get_192_random_bits(self) -> None:
        registry = SessionRegistry(self.reactor)
        session = registry.create("fs", "2025-06-18", {}, {}, facts("fs"))
        self.assertEqual(len(session.id), len(secrets.token_urlsafe(24)))
        self.assertNotIn(".", session.id)
        plain = Gateway(SPECS, fakeSpawner(self.reactor), lazyStart=False)
        opened, _ = plain.opener.openSession("fs", initialize(), "2025-06-18")
        self.assertEqual(len(opened.id), 32)

    def test_ids_given_no_facts_are_random(self) -> None:
        registry = SessionRegistry(self.reactor, self.ids)
        self.assertEqual(len(registry.create("fs", "2025-06-18", {}, {}).id), 32)
        self.assertEqual(self.ids.facts, [])


class VisitTests(Replica):
    def test_a_shared_server_session_visits_on_the_shared_child(self) -> None:
        own = self.open("fs")
        sealed = facts("fs", capabilities=frozenset({"sampling", "elicitation.url"}))
        visiting = self.gateway.foreignSessions.rebuild("r2.elsewhere", sealed)
        assert visiting is not None
        self.assertTrue(visiting.visiting and visiting.restored)
        self.assertFalse(own.visiting)
        self.assertIs(self.gateway.sessions.get("r2.elsewhere"), visiting)
        self.assertEqual(
            (visiting.server, visiting.protocolVersion, visiting.created),
            ("fs", "2025-06-18", 100.0),
        )
        self.assertEqual(visiting.lastActivity, 1000.0)
        self.assertEqual(visiting.capabilities, {"sampling": {}, "elicitation": {"url": {}}})
        pool = self.gateway.pools["fs"]
        self.assertEqual(pool.childPid(visiting), pool.childPid(own))
        self.assertEqual(self.call(visiting)["result"], {"content": []})
        self.assertEqual(len(self.reactor.processes), 1)
        [status] = [s for s in self.gateway.readModel.status().sessions if s.id == "r2.elsewhere"]
        self.assertTrue(status.visiting)

    def test_a_visit_with_no_child_running_starts_the_shared_one(self) -> None:
        visiting = self.gateway.foreignSessions.rebuild("r2.x", facts("fs"))
        assert visiting is not None
        # Whether its owner's child held anything of it is not known here
        # (its facts do not say it called): it is not told of a new child.
        self.assertEqual(self.call(visiting)["result"], {"content": []})

    def test_a_per_user_session_visits_on_its_principals_child(self) -> None:
        alices = self.open("gh", principal=ALICE)
        visiting = self.gateway.foreignSessions.rebuild("r2.x", facts("gh", principal=ALICE))
        assert visiting is not None
        self.assertEqual(visiting.principal, ALICE)
        pool = self.gateway.pools["gh"]
        self.call(visiting)
        self.assertEqual(pool.childPid(visiting), pool.childPid(alices))

    def test_a_credential_session_waits_for_its_credentials(self) -> None:
        sealed = facts("db", credential="abcdefghijklmnop")
        visiting = self.gateway.foreignSessions.rebuild("r2.x", sealed)
        assert visiting is not None
        self.assertIsNone(visiting.variant)
        self.assertEqual(visiting.credential, "abcdefghijklmnop")
        self.assertFalse(self.gateway.foreignSessions.rebind(visiting, "other", (("TOKEN", "t2"),)))
        self.assertTrue(
            self.gateway.foreignSessions.rebind(visiting, "abcdefghijklmnop", (("TOKEN", "t1"),))
        )
        self.assertEqual(self.call(visiting)["result"], {"content": []})

    def test_an_owned_child_session_does_not_visit(self) -> None:
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r2.x", facts("fs", owned=True)))
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r2.x", facts("st", owned=True)))
        self.assertIsNone(self.gateway.sessions.get("r2.x"))
        self.assertEqual(self.reactor.processes, [])

    def test_a_server_with_a_child_per_session_here_does_not_take_visitors(self) -> None:
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r2.x", facts("st")))

    def test_an_unknown_server_or_route_does_not_visit(self) -> None:
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r2.x", facts("nope")))
        self.assertIsNone(
            self.gateway.foreignSessions.rebuild("r2.x", facts("fs", scope="abcdefghijklmnop"))
        )
        self.assertEqual(len(self.gateway.sessions), 0)

    def test_a_session_held_already_is_returned(self) -> None:
        own = self.open("fs")
        self.assertIs(self.gateway.foreignSessions.rebuild(own.id, facts("fs")), own)
        self.assertIsNone(self.gateway.foreignSessions.rebuild(own.id, facts("gh")))
        self.assertIsNone(
            self.gateway.foreignSessions.rebuild(own.id, facts("fs", principal=ALICE))
        )

    def test_visiting_sessions_are_never_saved(self) -> None:
        own = self.open("fs")
        self.gateway.foreignSessions.rebuild("r2.x", facts("fs"))
        self.reactor.advance(1.0)  # the batched save
        self.assertEqual([r["id"] for r in self.records], [own.id])
        self.gateway.stop()  # saves a last time, then ends every session
        self.assertEqual([r["id"] for r in self.records], [own.id])

    def test_taken_back_by_its_owner_it_is_saved(self) -> None:
        session = self.gateway.foreignSessions.rebuild("r1.lost", facts("fs"), owner=True)
        assert session is not None
        self.assertFalse(session.visiting)
        self.reactor.advance(1.0)
        self.assertEqual([r["id"] for r in self.records], ["r1.lost"])

    def test_a_visiting_session_ends_like_any_other(self) -> None:
        visiting = self.gateway.foreignSessions.rebuild("r2.x", facts("fs"))
        assert visiting is not None
        self.gateway.endSession(visiting)
        self.assertIsNone(self.gateway.sessions.get("r2.x"))


class FactsTests(SynchronousTestCase):
    def test_capabilities_dict_as_an_initialize_declares_them(self) -> None:
        every = facts(capabilities=frozenset(ROUTED_CAPABILITIES))
        self.assertEqual(
            every.capabilitiesDict(),
            {
                "sampling": {"tools": {}},
                "elicitation": {"form": {}, "url": {}},
                "roots": {"listChanged": True},
            },
        )
        self.assertEqual(facts(capabilities=frozenset()).capabilitiesDict(), {})

    def test_routed_capabilities(self) -> None:
        self.assertEqual(routedCapabilities({"elicitation": {}}), {"elicitation.form"})
        self.assertEqual(routedCapabilities({"elicitation": {"url": {}}}), {"elicitation.url"})
        self.assertEqual(routedCapabilities({"roots": {"listChanged": "yes"}}), {"roots"})
        self.assertEqual(routedCapabilities({"sampling": None, "tools": {}}), {"sampling"})

    @settings(max_examples=60, deadline=None)
    @given(st.frozensets(st.sampled_from(ROUTED_CAPABILITIES)))
    def test_capabilities_round_trip(self, names: frozenset[str]) -> None:
        consistent = set(names)
        for name in names:
            if "." in name and name.split(".")[0] in ("sampling", "roots"):
                consistent.add(name.split(".")[0])
        made = facts(capabilities=frozenset(consistent))
        self.assertEqual(routedCapabilities(made.capabilitiesDict()), made.capabilities)

    @settings(max_examples=100, deadline=None)
    @given(
        st.dictionaries(
            st.sampled_from(["sampling", "elicitation", "roots", "experimental"]),
            st.one_of(
                st.none(),
                st.just({}),
                st.dictionaries(
                    st.sampled_from(["form", "url", "tools", "listChanged", "other"]),
                    st.one_of(st.just({}), st.booleans()),
                ),
            ),
        )
    )
    def test_a_rebuilt_session_is_refused_what_the_original_is(
        self, capabilities: dict[str, Any]
    ) -> None:
        original = Session("a", "fs", "2025-06-18", capabilities, {}, 0.0)
        rebuilt = Session(
            "a", "fs", "2025-06-18", SessionFacts.of(original, False).capabilitiesDict(), {}, 0.0
        )
        for message in (
            jsonrpc.request(1, "sampling/createMessage", {}),
            jsonrpc.request(1, "roots/list", {}),
            jsonrpc.request(1, "elicitation/create", {}),
            jsonrpc.request(1, "elicitation/create", {"mode": "form"}),
            jsonrpc.request(1, "elicitation/create", {"mode": "url"}),
        ):
            self.assertEqual(refusalFor(rebuilt, message), refusalFor(original, message), message)


class AggregateVisitTests(Replica):
    """A session of C{/mcp} carries its facts too: another replica rebuilds
    it with no members (they open there at their next use), unless its
    mode is not its endpoint's (the id cannot say it)."""

    def test_an_aggregate_session_is_made_from_its_facts(self) -> None:
        session, _ = self.gateway.opener.openAggregate(
            "default", "full", initialize(), "2025-06-18"
        )
        made = self.ids.facts[-1]
        self.assertEqual((made.server, made.owned), ("/mcp", False))
        self.assertEqual(session.id, f"r1.sealed-{len(self.ids.facts)}")
        self.gateway.opener.openAggregate("default", "search", initialize(), "2025-06-18")
        self.assertTrue(self.ids.facts[-1].owned)  # ?mode=search on /mcp
        self.gateway.opener.openAggregate("search", "search", initialize(), "2025-06-18")
        self.assertEqual(
            (self.ids.facts[-1].server, self.ids.facts[-1].owned), ("/mcp/search", False)
        )

    def test_another_replica_rebuilds_it_without_members(self) -> None:
        from mcpgateway.core.aggregate.session import AggregateSession

        visited = self.gateway.foreignSessions.rebuild(
            "r9.other", facts("/mcp/search", principal=ALICE)
        )
        assert isinstance(visited, AggregateSession)
        self.assertEqual((visited.endpoint, visited.mode), ("search", "search"))
        self.assertTrue(visited.visiting)
        self.assertEqual(visited.principal, ALICE)
        self.assertEqual(visited.members, {})
        self.assertIs(self.gateway.sessions.get("r9.other"), visited)
        self.assertIn(visited, self.gateway.aggregateSide.aggregator.sessions)
        # Not saved: the session is the owner's.
        self.gateway.continuity.save(always=True)
        self.assertNotIn("r9.other", [r["id"] for r in self.records])

    def test_a_session_whose_mode_was_chosen_at_initialize_is_not_rebuilt(self) -> None:
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r9.x", facts("/mcp", owned=True)))

    def test_an_unknown_endpoint_is_not_rebuilt(self) -> None:
        self.assertIsNone(self.gateway.foreignSessions.rebuild("r9.y", facts("/mcp/nope")))
