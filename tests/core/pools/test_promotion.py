"""Promotion: a shared child that asks a client something no session can be
proven to have caused (several sessions with requests in flight, or several
principals attached) is refused; unless it is a question (sampling,
elicitation, roots: L{mcpgateway.core.unproven}), its server gives each session a child of
its own from then on (told to the promotion sink once): new sessions at their
C{initialize}, the sessions open then at their next request, their
C{initialize} replayed; pinned servers are not promoted; the promotion read
back by a reconfigure ends no session. On a child all of whose sessions are
one principal's, a sampling, elicitation or roots request goes to the one
session with a call in flight."""

from __future__ import annotations

import dataclasses

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.protocol import jsonrpc
from tests.fakes import (
    FakeProcess,
    FakeProcessReactor,
    RecordingSink,
    capturedGatewayLogs,
    fakeSpawner,
)
from tests.support.core.pools.keyedplacement import initialize
from tests.support.core.pools.pool import serverPoolOf
from tests.support.core.pools.replay import replayedTo
from tests.support.core.promotion import INIT_RESULT, PER_SESSION, SPEC, PromotionCase

SAMPLING = {
    "jsonrpc": "2.0",
    "id": "child-1",
    "method": "sampling/createMessage",
    "params": {"messages": [], "maxTokens": 5},
}
WS = "w" * 16


def askedAlone(case: PromotionCase, stream: RecordingSink, shared: FakeProcess) -> jsonrpc.Message:
    """The child's sampling request reached C{stream} and nothing was
    refused, promoted or counted as ambiguous; the request."""
    [asked] = stream.messages
    case.assertEqual(asked["method"], "sampling/createMessage")
    case.assertEqual(shared.takeMessages(), [])  # no refusal
    case.assertEqual((case.sink.promoted, case.pool.promoted), ([], None))
    case.assertEqual(case.gateway.readModel.server("srv").requests.ambiguousServerRequests, 0)
    return asked


class PromotionTests(PromotionCase):
    def test_an_ambiguous_request_promotes_the_server_once(self) -> None:
        with capturedGatewayLogs() as events:
            shared, _, _, r1, r2 = self.ambiguous()
        # Neither session gets the request; the child gets an error.
        self.assertEqual((r1.messages, r2.messages), ([], []))
        [refusal] = shared.takeMessages()
        self.assertEqual(refusal["id"], "child-1")
        self.assertIn(
            "the gateway gives this server a child per session from the next session on",
            refusal["error"]["message"],
        )
        [(server, why)] = self.sink.promoted
        self.assertEqual(server, "srv")
        self.assertIn("tasks/get while 2 sessions", why)
        self.assertEqual(self.pool.promoted, why)
        self.assertEqual(self.gateway.readModel.server("srv").promoted, why)
        [said] = [e for e in events if "promoted" in e["log_format"]]
        self.assertEqual(said["undo"], 'classification.json {"srv": {"share": "global"}}')
        # Again: refused again, not promoted twice.
        shared.reply({**PER_SESSION, "id": "child-2"})
        self.assertEqual(len(self.sink.promoted), 1)
        self.assertEqual(shared.takeMessages()[0]["id"], "child-2")

    def test_a_call_refused_for_anothers_roots_promotes_saying_so(self) -> None:
        """The roots barrier tells of a call it refused because the child
        may hold another session's roots (as C{roots/list}): the promotion
        says that, not that the child asked something."""
        serverPoolOf(self.pool).promotion.ambiguous("roots/list", 2)
        [(server, why)] = self.sink.promoted
        self.assertEqual(server, "srv")
        self.assertIn("its child may hold the roots one of the 2 sessions using it gave", why)
        self.assertNotIn("sent roots/list", why)

    def test_a_request_of_the_child_while_one_of_two_principals_calls_promotes(self) -> None:
        """Two principals' sessions attached, only the second has a call in
        flight, and the child asks something of a client: it may be
        asking on its own, for the other principal's session, so that call
        proves nothing; the request is refused, counted, and the server
        promoted."""
        s1, s2 = self.open(principal="alice"), self.open(principal="bob")
        shared = self.reactor.lastProcess
        r2 = self.inFlight(s2, shared)
        shared.reply({**PER_SESSION, "id": "child-s"})
        self.assertEqual(r2.messages, [])
        [refusal] = shared.takeMessages()
        self.assertEqual(refusal["id"], "child-s")
        self.assertIn("ambiguous: 2 client sessions use", refusal["error"]["message"])
        self.assertEqual(self.gateway.readModel.server("srv").requests.ambiguousServerRequests, 1)
        [(server, why)] = self.sink.promoted
        self.assertEqual((server, self.pool.promoted), ("srv", why))
        self.assertIn("tasks/get", why)
        del s1

    def test_a_request_no_attached_client_could_answer_is_refused_without_promoting(
        self,
    ) -> None:
        """The child asks roots/list while two sessions are
        attached and neither declared roots: whichever it was for, the answer
        is the same refusal, so nothing is ambiguous and the share is kept."""
        s1, s2 = self.open(), self.open()
        shared = self.reactor.lastProcess
        r2 = self.inFlight(s2, shared)
        shared.reply({"jsonrpc": "2.0", "id": "child-r", "method": "roots/list"})
        self.assertEqual(r2.messages, [])
        [refusal] = shared.takeMessages()
        self.assertEqual(refusal["id"], "child-r")
        self.assertEqual(refusal["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertIn("did not declare the roots capability", refusal["error"]["message"])
        self.assertEqual(self.gateway.readModel.server("srv").requests.ambiguousServerRequests, 0)
        self.assertEqual(self.sink.promoted, [])
        self.assertIsNone(self.pool.promoted)
        del s1

    def test_the_next_session_gets_its_own_child_where_sampling_works(self) -> None:
        shared, s1, s2, _, _ = self.ambiguous()
        shared.takeMessages()
        s3, opened = self.gateway.opener.openSession("srv", initialize(7), "2025-11-25")
        own = self.reactor.lastProcess
        self.assertIsNot(own, shared)
        [init] = own.takeMessages()  # the client's own initialize, forwarded
        self.assertEqual(
            (init["method"], init["params"]["clientInfo"]["name"]), ("initialize", "client")
        )
        own.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        self.assertEqual(self.successResultOf(opened)["id"], 7)
        self.assertEqual(self.pool.childPid(s3), own.pid)
        self.assertEqual(self.pool.ownChildPids(s3), [own.pid])
        stream = self.inFlight(s3, own)
        own.reply(SAMPLING)
        [asked] = stream.messages
        self.assertEqual(asked["method"], "sampling/createMessage")
        # Its child stops with it.
        self.gateway.endSession(s3)
        self.assertTrue(own.stdinClosed)
        self.assertFalse(shared.stdinClosed)
        del s1, s2

    def test_the_sessions_open_move_to_their_own_child_at_their_next_request(self) -> None:
        """A session open before the promotion stays on the shared child while
        a request of it is in flight there; its next request after that
        starts its own child, replays its initialize (and log level and
        subscriptions), and goes there: same session id, no 404, nothing
        asked of the client."""
        s1, s2 = self.open(principal="alice"), self.open(principal="bob")
        shared = self.reactor.lastProcess
        for n, (method, params) in enumerate(
            [
                ("logging/setLevel", {"level": "debug"}),
                ("resources/subscribe", {"uri": "file:///a"}),
            ]
        ):
            told = self.pool.forward(s1, jsonrpc.request(10 + n, method, params), None)
            [asked] = shared.takeMessages()
            shared.reply(jsonrpc.resultResponse(asked["id"], {}))
            self.successResultOf(told)
        call1 = self.pool.forward(s1, jsonrpc.request(1, "tools/call", {"name": "x"}), None)
        [sent1] = shared.takeMessages()
        r2 = self.inFlight(s2, shared)
        shared.reply(PER_SESSION)
        self.assertEqual(r2.messages, [])
        shared.takeMessages()  # the refusal
        self.assertIsNotNone(self.pool.promoted)
        spawned = len(self.reactor.processes)
        # s1's call is still in flight on the shared child: s1 stays there.
        listing = self.pool.forward(s1, jsonrpc.request(2, "tools/list"), None)
        self.assertEqual(len(self.reactor.processes), spawned)
        [listed] = shared.takeMessages()
        self.assertEqual(listed["method"], "tools/list")
        shared.reply(jsonrpc.resultResponse(sent1["id"], {"content": []}))
        shared.reply(jsonrpc.resultResponse(listed["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(call1)["id"], 1)
        self.assertEqual(self.successResultOf(listing)["id"], 2)
        # Nothing of s1 in flight: its next request moves it.
        with capturedGatewayLogs() as events:
            moved = self.pool.forward(s1, jsonrpc.request(3, "prompts/list"), None)
            own = self.reactor.lastProcess
            self.assertIsNot(own, shared)
            sent = replayedTo(self, own, s1, INIT_RESULT, "prompts/list")
        own.reply(jsonrpc.resultResponse(sent[-1]["id"], {"prompts": []}))
        self.assertEqual(self.successResultOf(moved)["id"], 3)
        self.assertEqual(self.pool.ownChildPids(s1), [own.pid])
        self.assertEqual(s1.subscriptions, {"file:///a"})
        self.assertIsNone(self.pool.gone(s1))
        self.assertTrue(any("moved to a child of its own" in str(e.get("why")) for e in events))
        # The shared child heard s1 leave: its subscription is given back.
        self.assertEqual([m["method"] for m in shared.takeMessages()], ["resources/unsubscribe"])
        self.assertFalse(shared.stdinClosed)

    def test_the_promotion_read_back_by_a_reconfigure_ends_no_session(self) -> None:
        shared, s1, s2, _, _ = self.ambiguous()
        s3 = self.open()
        why = self.sink.promoted[0][1]
        self.gateway.reconfigurer.reconfigure(
            {"srv": dataclasses.replace(SPEC, mode="session", promoted=why)}
        )
        self.assertIs(self.gateway.pools["srv"], self.pool)
        self.assertEqual({s.id for s in self.gateway.sessions}, {s1.id, s2.id, s3.id})
        self.assertFalse(shared.stdinClosed)
        # Without the promotion, a change of scope still replaces the server.
        self.gateway.reconfigurer.reconfigure({"srv": dataclasses.replace(SPEC, mode="session")})
        self.assertEqual(len(self.gateway.sessions), 3)  # same spec as now: kept
        other = Gateway({"srv": SPEC}, fakeSpawner(FakeProcessReactor()), lazyStart=False)
        _, opening = other.opener.openSession("srv", initialize(), "2025-11-25")
        other.reconfigurer.reconfigure({"srv": dataclasses.replace(SPEC, mode="session")})
        self.assertEqual(len(other.sessions), 0)
        self.failureResultOf(opening)  # its child was stopped with the old server


class PinnedTests(PromotionCase):
    spec = dataclasses.replace(SPEC, pinned=True)

    def test_a_pinned_server_is_not_promoted(self) -> None:
        with capturedGatewayLogs() as events:
            shared, *_ = self.ambiguous()
        self.assertEqual(self.sink.promoted, [])
        self.assertIsNone(self.pool.promoted)
        self.assertTrue(any("not promoted" in e["log_format"] for e in events))
        self.assertIn("error", shared.takeMessages()[0])
        self.open()
        self.assertEqual(len(self.reactor.processes), 1)  # still the shared child

    def test_a_pinned_server_only_refuses_while_one_of_two_principals_calls(self) -> None:
        s1, s2 = self.open(principal="alice"), self.open(principal="bob")
        shared = self.reactor.lastProcess
        r2 = self.inFlight(s2, shared)
        with capturedGatewayLogs() as events:
            shared.reply(PER_SESSION)
            shared.reply({**PER_SESSION, "id": "child-2"})
        self.assertEqual(r2.messages, [])
        self.assertEqual([m["id"] for m in shared.takeMessages()], ["child-1", "child-2"])
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))
        self.assertEqual(len([e for e in events if "not promoted" in e["log_format"]]), 1)
        del s1


class ScopedPromotionTests(PromotionCase):
    spec = dataclasses.replace(
        SPEC,
        mode="workspace",
        variants=(Variant(WS, dataclasses.replace(SPEC, cwd="/ws/w"), "child:w"),),
    )

    def test_a_promoted_scoped_server_gives_new_sessions_their_own_child_in_their_workspace(
        self,
    ) -> None:
        s1, s2 = self.open(WS), self.open(WS)
        shared = self.reactor.lastProcess
        self.assertEqual(shared.path, "/ws/w")
        self.inFlight(s1, shared)
        self.inFlight(s2, shared)
        shared.reply(PER_SESSION)
        self.assertEqual(len(self.sink.promoted), 1)
        s3, _ = self.gateway.opener.openSession("srv", initialize(), "2025-11-25", scope=WS)
        own = self.reactor.lastProcess
        self.assertIsNot(own, shared)
        self.assertEqual(own.path, "/ws/w")
        self.assertEqual(self.pool.ownChildPids(s3), [own.pid])

    def test_a_workspace_session_open_before_moves_to_its_own_child_in_its_workspace(
        self,
    ) -> None:
        s1, s2 = self.open(WS), self.open(WS)
        shared = self.reactor.lastProcess
        for session in (s1, s2):
            self.pool.forward(session, jsonrpc.request(1, "tools/call", {"name": "x"}), None)
        calls = shared.takeMessages()
        shared.reply(PER_SESSION)
        for call in calls:
            shared.reply(jsonrpc.resultResponse(call["id"], {"content": []}))
        self.assertEqual(len(self.sink.promoted), 1)
        moved = self.pool.forward(s1, jsonrpc.request(5, "tools/list"), None)
        own = self.reactor.lastProcess
        self.assertIsNot(own, shared)
        self.assertEqual(own.path, "/ws/w")
        [init] = own.takeMessages()
        self.assertEqual(init["method"], "initialize")
        own.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        sent = own.takeMessages()
        self.assertEqual([m["method"] for m in sent], ["notifications/initialized", "tools/list"])
        own.reply(jsonrpc.resultResponse(sent[-1]["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(moved)["id"], 5)
        self.assertEqual(self.pool.ownChildPids(s1), [own.pid])


class ExitedClientTests(PromotionCase):
    """A session whose client process has exited (not reaped yet: clients
    rarely end their sessions) does not count as attached when the child
    asks something of a client: a client restarted is not two clients."""

    def setUp(self) -> None:
        super().setUp()
        self.running = {100, 200, 300}
        self.probed: list[int] = []
        serverPoolOf(self.pool).clientAlive = self.alive

    def alive(self, pid: int) -> bool:
        self.probed.append(pid)
        return pid in self.running

    def refusedWithAnUnknownPid(self) -> None:
        """alice's pid is unknown and probing bob's fails: both count, so
        bob's call meets a per-session request refused as ambiguous, and the
        failed probe is logged."""
        serverPoolOf(self.pool).clientAlive = lambda pid: 1 // 0 > 0
        self.openFor(None, "alice")
        s2 = self.openFor(100, "bob")  # probing it fails: counted
        shared = self.reactor.lastProcess
        r2 = self.inFlight(s2, shared)
        with capturedGatewayLogs() as events:
            shared.reply(PER_SESSION)
        self.assertEqual(r2.messages, [])
        self.assertIn("ambiguous", shared.takeMessages()[0]["error"]["message"])
        self.assertTrue(any("probing client pid" in e["log_format"] for e in events))
        self.flushLoggedErrors(ZeroDivisionError)

    def openFor(self, pid: int | None, principal: str = "") -> Session:
        session = self.open(principal=principal)
        session.clientPid = pid
        return session

    def test_the_live_session_is_asked_and_no_promotion(self) -> None:
        """The old session of a restarted client, still attached, is left
        out: the new one is asked, nothing is refused or promoted."""
        self.openFor(999)  # its client exited
        live = self.openFor(100)
        shared = self.reactor.lastProcess
        stream = self.inFlight(live, shared)
        shared.reply(SAMPLING)
        askedAlone(self, stream, shared)
        self.assertEqual(sorted(self.probed), [100, 999])

    def test_a_calling_session_whose_client_exited_is_not_asked(self) -> None:
        """Its call still in flight proves nothing: its client cannot answer."""
        gone = self.openFor(999)
        live = self.openFor(100)
        shared = self.reactor.lastProcess
        goneStream = self.inFlight(gone, shared)
        stream = self.inFlight(live, shared)
        shared.reply(SAMPLING)
        self.assertEqual(goneStream.messages, [])
        self.assertEqual([m["method"] for m in stream.messages], ["sampling/createMessage"])
        self.assertEqual(self.sink.promoted, [])

    def test_two_live_sessions_are_refused_and_promote(self) -> None:
        self.openFor(999)
        s1, s2 = self.openFor(100, "alice"), self.openFor(200, "bob")
        shared = self.reactor.lastProcess
        r2 = self.inFlight(s2, shared)
        shared.reply(PER_SESSION)
        self.assertEqual(r2.messages, [])
        [refusal] = shared.takeMessages()
        self.assertIn("ambiguous: 2 client sessions use", refusal["error"]["message"])
        [(_, why)] = self.sink.promoted
        self.assertIn("while 2 sessions", why)  # the exited one is not counted
        del s1

    def test_sessions_whose_pid_is_unknown_count(self) -> None:
        """Behind a proxy or in a cluster no pid is known: such sessions
        count, as do those whose probe fails."""
        self.refusedWithAnUnknownPid()
        self.assertEqual(len(self.sink.promoted), 1)

    def test_a_session_whose_client_exited_alone_is_not_asked(self) -> None:
        gone = self.openFor(999)
        shared = self.reactor.lastProcess
        stream = self.inFlight(gone, shared)
        shared.reply(SAMPLING)
        self.assertEqual(stream.messages, [])
        [refusal] = shared.takeMessages()
        self.assertEqual(refusal["id"], "child-1")
        self.assertIn("no client session is attached", refusal["error"]["message"])
        self.assertEqual(self.sink.promoted, [])


class PinnedExitedClientTests(ExitedClientTests):
    spec = dataclasses.replace(SPEC, pinned=True)

    def test_two_live_sessions_are_refused_and_promote(self) -> None:
        """Pinned: refused, never promoted."""
        s1, s2 = self.openFor(100, "alice"), self.openFor(200, "bob")
        shared = self.reactor.lastProcess
        self.inFlight(s2, shared)
        shared.reply(PER_SESSION)
        self.assertIn("ambiguous", shared.takeMessages()[0]["error"]["message"])
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))
        del s1

    def test_sessions_whose_pid_is_unknown_count(self) -> None:
        """Pinned: sessions whose pid is unknown count as well (the request
        is ambiguous, so refused), and nothing is promoted."""
        self.refusedWithAnUnknownPid()
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))


class OnePrincipalTests(PromotionCase):
    """Every session attached is one principal's (a loopback gateway's user,
    or one authenticated caller): a sampling or elicitation request of the
    child goes to the one session with a call in flight, on that call's
    stream, whatever other windows are open."""

    def test_the_one_calling_session_is_asked_on_its_calls_stream(self) -> None:
        s1, s2, s3 = self.open(), self.open(), self.open()
        shared = self.reactor.lastProcess
        stream = self.inFlight(s2, shared)
        with capturedGatewayLogs() as events:
            shared.reply(SAMPLING)
        asked = askedAlone(self, stream, shared)
        [said] = [e for e in events if "the only one with a call in flight" in e["log_format"]]
        self.assertEqual((said["sid"], said["count"]), (s2.shortId, 3))
        # The client's answer reaches the child under the child's own id.
        self.assertTrue(
            self.pool.answer(s2, jsonrpc.resultResponse(asked["id"], {"role": "assistant"}))
        )
        [answer] = shared.takeMessages()
        self.assertEqual(answer["id"], "child-1")
        del s1, s3

    def test_one_authenticated_principal_is_one_person(self) -> None:
        s1, s2 = self.open(principal="alice"), self.open(principal="alice")
        s1.capabilities = {"elicitation": {}}
        shared = self.reactor.lastProcess
        stream = self.inFlight(s1, shared)
        shared.reply({**SAMPLING, "method": "elicitation/create", "params": {"message": "?"}})
        self.assertEqual([m["method"] for m in stream.messages], ["elicitation/create"])
        self.assertEqual(self.sink.promoted, [])
        del s2

    def test_two_calling_sessions_are_still_ambiguous(self) -> None:
        """Refused (a person's question is never guessed), counted, and the
        server keeps its share."""
        shared, _, _, r1, r2 = self.ambiguous(SAMPLING)
        self.assertEqual((r1.messages, r2.messages), ([], []))
        message = shared.takeMessages()[0]["error"]["message"]
        self.assertIn("ambiguous: 2 client sessions use", message)
        self.assertIn("refused, and the server keeps its share", message)
        self.assertNotIn("child per session", message)
        self.assertEqual(self.gateway.readModel.server("srv").requests.ambiguousServerRequests, 1)
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))

    def test_a_request_with_no_call_in_flight_is_still_ambiguous(self) -> None:
        """The child asks on its own while nobody calls: nobody to give it to."""
        s1, s2 = self.open(), self.open()
        shared = self.reactor.lastProcess
        shared.reply(SAMPLING)
        self.assertIn("ambiguous", shared.takeMessages()[0]["error"]["message"])
        del s1, s2

    def test_a_roots_request_goes_to_the_one_calling_session(self) -> None:
        """A tool that needs the roots (server-everything's get-roots-list)
        asks while serving the call: the caller's roots, on its call's
        stream; nothing refused, nothing promoted."""
        s1, s2 = self.open(), self.open()
        for session in (s1, s2):
            session.capabilities = {"roots": {}}
        shared = self.reactor.lastProcess
        stream = self.inFlight(s1, shared)
        shared.reply({"jsonrpc": "2.0", "id": "child-r", "method": "roots/list"})
        [asked] = stream.messages
        self.assertEqual(asked["method"], "roots/list")
        self.assertEqual(shared.takeMessages(), [])
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))
        del s2

    def test_roots_with_no_call_in_flight_get_no_roots_and_no_promotion(self) -> None:
        """The child asks for roots on its own while nobody calls: the
        gateway answers with no roots (nobody's), counts nothing as refused,
        and the server keeps its share."""
        s1, s2 = self.open(), self.open()
        for session in (s1, s2):
            session.capabilities = {"roots": {}}
        shared = self.reactor.lastProcess
        shared.reply({"jsonrpc": "2.0", "id": "child-r", "method": "roots/list"})
        self.assertEqual(shared.takeMessages(), [jsonrpc.resultResponse("child-r", {"roots": []})])
        self.assertEqual(self.gateway.readModel.server("srv").requests.ambiguousServerRequests, 0)
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))
        del s1, s2

    def test_no_question_without_a_proven_asker_promotes(self) -> None:
        """Sampling, elicitation and roots, with two sessions calling (two
        principals too): the questions are refused, the roots answered with
        none, and the server is never promoted."""
        s1, s2 = self.open(principal="alice"), self.open(principal="bob")
        for session in (s1, s2):
            session.capabilities = {"roots": {}, "sampling": {}, "elicitation": {}}
        shared = self.reactor.lastProcess
        self.inFlight(s1, shared)
        self.inFlight(s2, shared)
        for n, method in enumerate(["sampling/createMessage", "elicitation/create", "roots/list"]):
            shared.reply({"jsonrpc": "2.0", "id": n, "method": method, "params": {}})
        [sampling, elicitation, roots] = shared.takeMessages()
        self.assertEqual(
            (sampling["error"]["code"], elicitation["error"]["code"]),
            (jsonrpc.INTERNAL_ERROR, jsonrpc.INTERNAL_ERROR),
        )
        self.assertEqual(roots, jsonrpc.resultResponse(2, {"roots": []}))
        self.assertEqual((self.sink.promoted, self.pool.promoted), ([], None))
        self.open()
        self.assertEqual(len(self.reactor.processes), 1)  # still the shared child
