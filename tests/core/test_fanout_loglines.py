"""A shared child's log line among one principal's sessions
(L{mcpgateway.core.fanout.SharedFanout._logMessage}): while exactly one of
them has requests in flight it goes on that session's latest request's
stream, its level admitting it, as a direct connection would put it, and
never on a GET stream; with several sessions in flight, across principals,
or beside a 2026 call, it goes to none."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs
from tests.support.core.shared_router import SharedRouterCase

Message = dict[str, Any]


def person(sid: str, principal: str = "", logLevel: str | None = None) -> FakeSession:
    s = FakeSession(sid, logLevel=logLevel)
    s.principal = principal  # type: ignore[attr-defined]
    return s


def line(level: str = "info", data: str = "Received Subscribe for demo://x") -> Message:
    return jsonrpc.notification("notifications/message", {"level": level, "data": data})


class OnePrincipalLogLineTests(SharedRouterCase):
    def attached(self, *sessions: FakeSession) -> tuple[FakeSession, ...]:
        for s in sessions:
            self.router.attach(s)
        return sessions

    def call(
        self, s: FakeSession, method: str = "resources/read", sink: RecordingSink | None = None
    ) -> tuple[Deferred[Message], RecordingSink]:
        sink = RecordingSink() if sink is None else sink
        d = self.router.request(s, jsonrpc.request(1, method, {"uri": "demo://x"}), sink)
        return d, sink

    def test_the_one_session_in_flight_gets_it_on_its_requests_stream(self) -> None:
        a, idle = self.attached(person("a"), person("idle", logLevel="debug"))
        self.call(a)
        _, sink = self.call(a, "tools/call")  # its latest request
        said = line()
        self.router.childMessage(said)
        self.assertEqual(sink.messages, [said])
        self.assertEqual((a.delivered, idle.delivered), ([], []))

    def test_its_level_decides(self) -> None:
        a, _ = self.attached(person("a", logLevel="warning"), person("idle"))
        _, sink = self.call(a)
        self.router.childMessage(line("info"))
        self.assertEqual(sink.messages, [])
        loud = line("error")
        self.router.childMessage(loud)
        self.assertEqual(sink.messages, [loud])

    def test_never_on_a_get_stream(self) -> None:
        """Its request's stream closed: the line is dropped, not given to
        its GET stream (another session's line it might be, for all the
        gateway knows of a session with nothing in flight)."""
        a, idle = self.attached(person("a", logLevel="debug"), person("idle", logLevel="debug"))
        _, closed = self.call(a, sink=RecordingSink(accept=False))
        self.router.childMessage(line())
        self.assertEqual((a.delivered, idle.delivered), ([], []))
        self.assertEqual(len(closed.refused), 1)

    def test_nobody_in_flight_it_goes_to_none(self) -> None:
        a, b = self.attached(person("a", logLevel="debug"), person("b", logLevel="debug"))
        d, sink = self.call(a)
        [out] = self.take()
        self.router.childMessage(jsonrpc.resultResponse(out["id"], {"contents": []}))
        self.successResultOf(d)
        self.router.childMessage(line())
        self.assertEqual((sink.messages, a.delivered, b.delivered), ([], [], []))

    def test_two_sessions_in_flight_it_goes_to_none(self) -> None:
        a, b = self.attached(person("a"), person("b"))
        _, sinkA = self.call(a)
        _, sinkB = self.call(b)
        with capturedGatewayLogs() as events:
            self.router.childMessage(line())
        self.assertEqual((sinkA.messages, sinkB.messages), ([], []))
        [said] = [e for e in events if "names none of them" in e["log_format"]]
        self.assertEqual(said["count"], 2)

    def test_across_principals_it_goes_to_none(self) -> None:
        """alice's call is the only one in flight, bob sits idle: the line
        may quote bob's URI (a subscription of his the child serves on its
        own), and bob is another person."""
        alice, bob = self.attached(person("a", "alice"), person("b", "bob", logLevel="debug"))
        _, sink = self.call(alice)
        self.router.childMessage(line())
        self.assertEqual((sink.messages, alice.delivered, bob.delivered), ([], [], []))

    def test_beside_a_2026_call_it_goes_to_none(self) -> None:
        a, _ = self.attached(person("a"), person("idle"))
        _, sink = self.call(a)
        era2026 = person("m-1")
        era2026.era2026 = True
        _, theirs = self.call(era2026)
        self.router.childMessage(line())
        self.assertEqual((sink.messages, theirs.messages), ([], []))

    def test_a_session_of_no_known_principal_is_not_one_principals(self) -> None:
        a, stranger = self.attached(person("a"), FakeSession("s"))
        _, sink = self.call(a)
        self.router.childMessage(line())
        self.assertEqual((sink.messages, stranger.delivered), ([], []))
