"""A per-session (or promoted) server's start-up answered from the catalog
of the session's scope: no child for C{initialize} and the lists once a
catalog of that scope key is known; one probe per scope key (the first
session's own C{initialize} replayed), shared by the sessions that wait
for it; a failed probe falls back to a child at C{initialize}; the first
call starts exactly that session's child, its own C{initialize} replayed
before the call, and tells it which lists differ. Fake children on a fake
reactor."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.pools.scopecatalog import PROBE_TIMEOUT
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import RemoteEndpoint, ServerSpec, Sharing
from mcpgateway.core.status import ServerState
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner
from tests.support.core.pools import scopecatalogs
from tests.support.core.pools.own_server import OWN
from tests.support.core.pools.scopecatalogs import LISTS, ListeningSession, initialize

Message = dict[str, Any]

SPEC = OWN
CAPS = {**scopecatalogs.CAPS, "logging": {}}


class Host:
    """The gateway as a L{CatalogServe} reads it."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


def answer(proc: FakeProcess, lists: dict[str, Message] | None = None) -> list[Message]:
    """Answer what the gateway wrote to C{proc} as a child that also
    offers logging; what it was sent."""
    return scopecatalogs.answer(proc, lists, CAPS)


def listening(sid: str, capabilities: Message | None = None) -> ListeningSession:
    """A session of server own whose GET stream records what it is given."""
    return ListeningSession(sid, "own", capabilities)


class ScopeCase(SynchronousTestCase):
    spec = SPEC
    enabled = True

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.catalogs = Catalogs(self.reactor)
        self.serve = CatalogServe(Host(self.catalogs), self.enabled)
        self.pool = self.makePool(self.spec)

    def makePool(self, spec: ServerSpec) -> PoolLike:
        pool = makePool(spec, fakeSpawner(self.reactor))
        pool.catalogSource = self.serve
        return pool

    def open(self, session: Session) -> Any:
        return self.pool.open(session, initialize(session))

    def forward(self, session: Session, method: str, params: Message | None = None) -> Any:
        return self.pool.forward(session, jsonrpc.request(7, method, params or {}), None)

    def base(self) -> ServerPool:
        pool = self.pool
        assert isinstance(pool, ServerPool)
        return pool

    def running(self) -> int:
        """The children that run now (a probe's included)."""
        return sum(1 for proc in self.reactor.processes if not proc.ended)

    def probed(self, session: Session) -> Message:
        """Open C{session} through a probe its scope key needs; the answer."""
        spawned = len(self.reactor.spawned)
        opened = self.open(session)
        self.assertEqual(len(self.reactor.spawned), spawned + 1)  # the probe
        self.probe = answer(self.reactor.lastProcess)
        self.reactor.advance(10)  # the probe's child is stopped
        result: Message = self.successResultOf(opened)
        return result


class FromTheCatalogTests(ScopeCase):
    def test_sessions_of_a_known_scope_start_no_child(self) -> None:
        first = listening("s0")
        answered = self.probed(first)
        self.assertEqual(self.running(), 0)
        self.assertEqual(answered["result"]["serverInfo"], {"name": "own", "version": "1"})
        self.assertEqual(answered["result"]["protocolVersion"], "2025-06-18")
        sessions = [listening(f"s{n}") for n in range(1, 11)]
        for session in [first, *sessions]:
            if session is not first:
                self.assertEqual(self.successResultOf(self.open(session)), answered)
            self.pool.notify(session, jsonrpc.notification("notifications/initialized"))
            tools = self.successResultOf(self.forward(session, "tools/list"))
            self.assertEqual([t["name"] for t in tools["result"]["tools"]], ["echo"])
            self.successResultOf(self.forward(session, "resources/list"))
            self.successResultOf(self.forward(session, "logging/setLevel", {"level": "info"}))
        self.assertEqual(len(self.reactor.spawned), 1)  # the probe only
        self.assertEqual(self.pool.status(0).state, ServerState.CATALOG)
        counts = self.base().catalogCounts()
        self.assertEqual((counts.startups, counts.answers), (11, 44))

    def test_the_probe_replays_the_first_session_s_own_initialize(self) -> None:
        session = listening("s0", {"roots": {}})
        self.probed(session)
        [init] = [m for m in self.probe if m.get("method") == "initialize"]
        self.assertEqual(
            init["params"],
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {"roots": {}},
                "clientInfo": {"name": "c-s0", "version": "1"},
            },
        )
        self.assertIn("notifications/initialized", [m.get("method") for m in self.probe])

    def test_another_capability_set_gets_a_catalog_of_its_own(self) -> None:
        plain, roots = listening("plain"), listening("roots", {"roots": {}})
        self.probed(plain)
        self.probed(roots)  # a second probe: its own capabilities
        self.assertEqual(len(self.reactor.spawned), 2)
        for session, tools in ((plain, ["echo"]), (roots, ["echo", "get-roots-list"])):
            listed = self.successResultOf(self.forward(session, "tools/list"))
            self.assertEqual([t["name"] for t in listed["result"]["tools"]], tools)
        again = listening("again", {"roots": {}})
        self.successResultOf(self.open(again))
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_another_protocol_version_gets_a_catalog_of_its_own(self) -> None:
        self.probed(listening("old"))
        newer = listening("new")
        newer.protocolVersion = "2025-11-25"
        answered = self.probed(newer)
        self.assertEqual(answered["result"]["protocolVersion"], "2025-11-25")
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_sessions_that_open_during_the_probe_wait_for_it(self) -> None:
        sessions = [listening(f"s{n}") for n in range(5)]
        opened = [self.open(session) for session in sessions]
        self.assertEqual(len(self.reactor.spawned), 1)
        for waiting in opened:
            self.assertNoResult(waiting)
        answer(self.reactor.lastProcess)
        for waiting in opened:
            self.assertIn("result", self.successResultOf(waiting))
        self.reactor.advance(10)
        self.assertEqual((len(self.reactor.spawned), self.running()), (1, 0))


class TheChildStartsTests(ScopeCase):
    def test_a_call_starts_only_that_session_s_child_its_initialize_first(self) -> None:
        caller = listening("caller", {"roots": {}})
        caller.clientInfo = {"name": "mine", "version": "7"}
        self.probed(listening("first", {"roots": {}}))
        quiet = listening("quiet", {"roots": {}})
        for session in (caller, quiet):
            self.successResultOf(self.open(session))
        self.successResultOf(self.forward(caller, "logging/setLevel", {"level": "debug"}))
        called = self.forward(caller, "tools/call", {"name": "echo", "arguments": {}})
        self.assertEqual(len(self.reactor.spawned), 2)  # the probe, then the caller's
        seen = answer(self.reactor.lastProcess)
        methods = [m.get("method") for m in seen]
        self.assertEqual(
            methods[:3], ["initialize", "notifications/initialized", "logging/setLevel"]
        )
        self.assertLess(methods.index("logging/setLevel"), methods.index("tools/call"))
        self.assertEqual(
            seen[0]["params"],
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {"roots": {}},
                "clientInfo": {"name": "mine", "version": "7"},
            },
        )
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")
        self.assertEqual(self.running(), 1)
        self.assertEqual(self.pool.status(0).state, ServerState.RUNNING)

    def test_a_child_that_lists_differently_tells_its_session(self) -> None:
        session = listening("s1")
        self.probed(session)
        self.successResultOf(self.forward(session, "tools/list"))
        self.successResultOf(self.forward(session, "resources/list"))
        called = self.forward(session, "tools/call", {"name": "echo", "arguments": {}})
        changed: dict[str, Message] = {
            **LISTS,
            "tools/list": {"tools": [{"name": "echo"}, {"name": "new"}]},
        }
        answer(self.reactor.lastProcess, changed)
        self.successResultOf(called)
        self.assertEqual(
            [m["method"] for m in session.messages], ["notifications/tools/list_changed"]
        )
        later = listening("later")
        self.successResultOf(self.open(later))  # the catalog keeps what the child listed
        listed = self.successResultOf(self.forward(later, "tools/list"))
        self.assertEqual([t["name"] for t in listed["result"]["tools"]], ["echo", "new"])

    def test_what_the_catalog_cannot_answer_starts_the_child(self) -> None:
        for method, params in (
            ("prompts/get", {"name": "p"}),
            ("resources/read", {"uri": "file:///x"}),
            ("resources/subscribe", {"uri": "file:///x"}),
            ("completion/complete", {}),
            ("tools/list", {"cursor": "2"}),
            ("prompts/list", {}),  # not declared: the child's to refuse
        ):
            self.setUp()
            self.probed(listening("first"))
            session = listening("s1")
            self.successResultOf(self.open(session))
            self.forward(session, method, params)
            self.assertEqual(len(self.reactor.spawned), 2, method)


class ProbeFailureTests(ScopeCase):
    def test_a_probe_refused_starts_the_session_s_own_child(self) -> None:
        session = listening("s1")
        opened = self.open(session)
        probe = self.reactor.lastProcess
        [init] = probe.takeMessages()
        probe.reply(jsonrpc.errorResponse(init["id"], jsonrpc.INTERNAL_ERROR, "no"))
        self.assertEqual(len(self.reactor.spawned), 2)  # the session's own, at initialize
        answer(self.reactor.lastProcess)
        self.assertEqual(self.successResultOf(opened)["result"]["serverInfo"]["name"], "own")
        self.assertFalse(self.base().scopeStartup.pending(session))

    def test_a_probe_that_takes_too_long_starts_the_waiters_own_children(self) -> None:
        sessions = [listening("s1"), listening("s2")]
        opened = [self.open(session) for session in sessions]
        self.reactor.advance(PROBE_TIMEOUT)
        self.assertEqual(len(self.reactor.spawned), 3)  # the probe, then one each
        for proc in self.reactor.processes[1:]:
            answer(proc)
        for waiting in opened:
            self.assertIn("result", self.successResultOf(waiting))


class SwitchedOffTests(ScopeCase):
    def test_an_entry_that_says_lazy_false_starts_a_child_at_initialize(self) -> None:
        self.pool = self.makePool(dataclasses.replace(SPEC, lazy=False))
        self.assertStartsAtInitialize()

    def test_the_gateway_s_switch_starts_a_child_at_initialize(self) -> None:
        self.serve.enabled = False
        self.assertStartsAtInitialize()

    def assertStartsAtInitialize(self) -> None:
        session = listening("s1")
        opened = self.open(session)
        self.assertEqual(len(self.reactor.spawned), 1)
        seen = answer(self.reactor.lastProcess)
        self.assertEqual([m.get("method") for m in seen], ["initialize"])  # the client's own
        self.assertIn("result", self.successResultOf(opened))
        self.assertFalse(self.base().scopeStartup.pending(session))
        self.assertEqual(self.running(), 1)


class PromotedTests(ScopeCase):
    spec = dataclasses.replace(SPEC, mode="global")

    def test_the_sessions_of_a_promoted_server_start_lazily(self) -> None:
        pool = self.pool
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, SharedPlacement)
        pool.promotion.ambiguous("sampling/createMessage", 2)
        self.assertTrue(pool.ownsChildren())
        self.assertIs(pool.spec.sharing, Sharing.GLOBAL)
        session = listening("s1")
        self.probed(session)
        for n in range(3):
            self.successResultOf(self.open(listening(f"more{n}")))
        self.assertEqual((len(self.reactor.spawned), self.running()), (1, 0))
        called = self.forward(session, "tools/call", {"name": "echo", "arguments": {}})
        answer(self.reactor.lastProcess)
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")
        self.assertEqual((len(self.reactor.spawned), self.running()), (2, 1))


class PerUserTests(ScopeCase):
    """A per-user server: a child per principal, which the gateway
    initializes; its catalog is the principal's (its child key and
    principal in the scope key), whatever the client declares."""

    spec = dataclasses.replace(SPEC, mode="global", perUser=True)

    def session(self, sid: str, principal: str, capabilities: Message | None = None) -> Session:
        session = listening(sid, capabilities)
        session.principal = principal
        variant = self.pool.variantFor("", "", (), principal)
        assert variant is not None
        session.variant = variant
        return session

    def test_each_principal_gets_one_probe_and_no_child_until_it_calls(self) -> None:
        alice = self.session("a1", "alice")
        answered = self.probed(alice)
        self.assertEqual(answered["result"]["protocolVersion"], "2025-06-18")
        self.assertEqual(
            [m.get("method") for m in self.probe][:2], ["initialize", "notifications/initialized"]
        )
        self.successResultOf(self.open(self.session("a2", "alice", {"roots": {}})))
        self.assertEqual(len(self.reactor.spawned), 1)  # the same key: no probe
        bob = self.session("b1", "bob")
        self.probed(bob)
        self.assertEqual((len(self.reactor.spawned), self.running()), (2, 0))
        listed = self.successResultOf(self.forward(alice, "tools/list"))
        tools = [t["name"] for t in listed["result"]["tools"]]
        self.assertEqual(tools, ["echo", "get-roots-list"])  # the gateway's roots, not alice's
        self.assertEqual(self.pool.status(0).state, ServerState.CATALOG)
        called = self.forward(alice, "tools/call", {"name": "echo", "arguments": {}})
        self.assertEqual(len(self.reactor.spawned), 3)  # alice's child
        answer(self.reactor.lastProcess)
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")
        self.assertEqual(self.running(), 1)
        self.assertTrue(self.base().scopeStartup.pending(bob))

    def test_a_call_on_a_child_started_otherwise_ends_the_wait_of_its_sessions(self) -> None:
        """A principal's child started for something else (the gateway's
        prewarm): the call of a session answered from its catalog still
        goes the catalog's way, which tells its sessions the child runs."""
        alice = self.session("a1", "alice")
        self.probed(alice)
        startup = self.base().scopeStartup
        self.assertTrue(startup.pending(alice))
        warming = self.pool.prewarm()
        answer(self.reactor.lastProcess)
        self.successResultOf(warming)
        self.assertEqual(self.running(), 1)
        called = self.forward(alice, "tools/call", {"name": "echo", "arguments": {}})
        answer(self.reactor.lastProcess)
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")
        self.assertFalse(startup.pending(alice))


class RemoteTests(ScopeCase):
    def test_a_remote_servers_start_up_is_never_answered_by_a_probe(self) -> None:
        """A remote server's "child" is a connection: a probe would only make
        a second one (and a second token exchange) with the session's
        credentials."""
        startup = self.base().scopeStartup
        session = listening("s1")
        self.assertTrue(startup.allowed(session))
        self.base().spec = dataclasses.replace(SPEC, remote=RemoteEndpoint("https://x.test/mcp"))
        self.assertFalse(startup.allowed(session))


def test_a_probes_roots_question_is_taken_even_once_its_child_is_stopped() -> None:
    """A probe's child may ask for roots as the probe ends: answered with
    none while the child runs, and taken either way, so that it never waits
    for a stream the probe's session never opens (which ended, 5 s later,
    in a warning naming a session no client has)."""
    from mcpgateway.core.pools.scopecatalog import ScopeProbeSession

    answers: list[jsonrpc.Message] = []
    running = [True]

    def answer(message: jsonrpc.Message) -> bool:
        answers.append(message)
        return running[0]

    probe = ScopeProbeSession(
        Session("s", "own", "2025-11-25", {"roots": {}}, {}, 0.0), 0.0, answer
    )
    assert probe.deliver(jsonrpc.request(1, "roots/list", {}))
    running[0] = False
    assert probe.deliver(jsonrpc.request(2, "roots/list", {}))
    assert [a["result"] for a in answers] == [{"roots": []}, {"roots": []}]
    assert not probe.deliver(jsonrpc.request(3, "sampling/createMessage", {}))
    assert len(answers) == 2
