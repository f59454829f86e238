"""What a credential let in lives no longer than the credential
(L{mcpgateway.web.plumbing.holds}): the holds alone, with a fake
authenticator and requests on in-memory transports; then the real gate over
a real tokens table in front of the real site, where a removed or expired
token's GET stream, its calls in flight and its 2026-07-28 listen stream
are ended, and a resumable stream resumes only with a token that stands."""

from __future__ import annotations

from typing import Any
from weakref import WeakMethod

from twisted.internet.error import ConnectionAborted
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from mcpgateway.auth.bearer import JwtVerifier, OAuthSettings
from mcpgateway.auth.jwks import KeySet
from mcpgateway.auth.tokens import TokenEntry, TokenTable, newToken, tokenHash
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import VIA_TOKEN, Principal
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.era2026 import listenEnded
from mcpgateway.web.plumbing.auth import AuthGate
from mcpgateway.web.plumbing.holds import CredentialHolds, Standing
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.fixtures.jwt_issuer import IssuerKey, jwks
from tests.http import Harness, Response, initializeMessage, spec
from tests.support.auth.jwks import FakeFetch
from tests.support.web.contextrequest import ContextRequest
from tests.support.web.fakeera2026 import FakeEra2026, headersFor, meta, sseEvents
from tests.support.web.team_web import TeamHarness

# -- the holds alone -------------------------------------------------------------------


class FakeStanding:
    """Credentials by name: C{ended} says which no longer stand and why,
    C{ends} when each expires; C{changed} is what L{watch} was given."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.ended: dict[str, str] = {}
        self.ends: dict[str, float] = {}
        self.changed: list[Any] = []

    def standing(self, principal: Principal) -> str | None:
        why = self.ended.get(principal.credential)
        if why is not None:
            return why
        until = self.ends.get(principal.credential)
        if until is not None and self.clock.seconds() >= until:
            return "expired"
        return None

    def endsAt(self, principal: Principal) -> float | None:
        return self.ends.get(principal.credential)

    def watch(self, changed: Any) -> None:
        self.changed.append(changed)


class FakeChannel:
    """A connection's channel: its transport, which records an abort."""

    def __init__(self) -> None:
        self.transport = StringTransport()


class FakeStream(FakeChannel):
    """An HTTP/2 stream as a request's channel: it aborts itself."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = 0

    def abortConnection(self) -> None:
        self.aborted += 1


def principal(name: str, credential: str) -> Principal:
    return Principal(name, "key-" + name, VIA_TOKEN, credential=credential)


class OpenRequest(ContextRequest):
    """A request in progress over C{channel}; C{_disconnected} as Twisted's
    request says its connection went away."""

    def __init__(self, channel: Any) -> None:
        super().__init__([b""])
        self.channel: Any = channel
        self._disconnected = False


def openRequest(channel: Any = None) -> OpenRequest:
    """A request in progress over a connection of its own (held weakly:
    a test keeps it, as its connection does)."""
    return OpenRequest(channel if channel is not None else FakeChannel())


def aborted(request: OpenRequest) -> bool:
    return bool(request.channel.transport.disconnecting)


def holdsWith(clock: Clock | None = None) -> tuple[CredentialHolds, FakeStanding, Clock]:
    clock = clock if clock is not None else Clock()
    standing = FakeStanding(clock)
    return CredentialHolds(standing, clock), standing, clock


def test_the_fake_stands_for_what_the_holds_ask_and_they_watch_it() -> None:
    holds, standing, _ = holdsWith()
    assert isinstance(standing, Standing)
    assert standing.changed == [holds.check]


def test_a_removed_token_closes_what_it_let_in_and_nothing_else() -> None:
    holds, standing, _ = holdsWith()
    alice = principal("alice", "cred-alice-1")
    alice2, bob = principal("alice", "cred-alice-2"), principal("bob", "cred-bob")
    stream, call, other, bobs = openRequest(), openRequest(), openRequest(), openRequest()
    holds.hold(stream, alice)
    holds.hold(call, alice)
    holds.hold(other, alice2)
    holds.hold(bobs, bob)
    assert len(holds) == 4
    standing.ended["cred-alice-1"] = "was removed from the tokens file"
    with capturedGatewayLogs() as events:
        holds.check()
    assert aborted(stream) and aborted(call)
    assert not aborted(other) and not aborted(bobs)  # alice's other token, bob's
    assert len(holds) == 2 and holds.ended == 2
    [line] = [e for e in events if e.get("principal") is not None]
    assert (line["principal"], line["count"], line["credentials"], line["why"]) == (
        "key-alice",
        2,
        1,
        "was removed from the tokens file",
    )
    text = formatEvent(line)
    assert text == (
        "auth: principal key-alice: 1 of its tokens was removed from the tokens file;"
        " closed the 2 request(s) still open with it (streams, calls)"
    )
    assert all("cred-alice" not in str(value) for value in line.values())
    assert "alice" not in line.values()  # its key only, never its name
    holds.check()  # ended once: nothing more, no second line
    assert holds.ended == 2


def test_one_line_per_principal_whose_tokens_ended() -> None:
    holds, standing, _ = holdsWith()
    requests = [openRequest() for _ in range(3)]
    for request, (name, credential) in zip(
        requests, (("alice", "a1"), ("alice", "a2"), ("bob", "b")), strict=True
    ):
        holds.hold(request, principal(name, credential))
    standing.ended.update({"a1": "was removed", "a2": "was changed", "b": "was removed"})
    with capturedGatewayLogs() as events:
        holds.check()
    lines = {e["principal"]: e for e in events if e.get("principal") is not None}
    assert set(lines) == {"key-alice", "key-bob"}
    assert (lines["key-alice"]["credentials"], lines["key-alice"]["count"]) == (2, 2)
    assert lines["key-alice"]["why"] == "was changed / was removed"


def test_what_ended_before_its_token_is_not_touched_nor_named() -> None:
    holds, standing, _ = holdsWith()
    finished, lost = openRequest(), openRequest()
    holds.hold(finished, principal("alice", "a"))
    holds.hold(lost, principal("alice", "a"))
    finished.finished = True
    lost._disconnected = True
    assert len(holds) == 0
    standing.ended["a"] = "was removed"
    with capturedGatewayLogs() as events:
        holds.check()
    assert not aborted(finished) and not aborted(lost)
    assert [e for e in events if e.get("principal") is not None] == [] and holds.ended == 0


def test_a_request_without_a_credential_that_ends_is_not_held() -> None:
    holds, _, clock = holdsWith()
    holds.hold(openRequest(), Principal("peer", "key-peer", "peer"))
    assert len(holds) == 0 and clock.getDelayedCalls() == []


def test_an_expiring_token_closes_what_it_let_in_when_it_expires() -> None:
    holds, standing, clock = holdsWith()
    standing.ends.update({"late": 100.0, "early": 40.0})
    late, early, never = openRequest(), openRequest(), openRequest()
    holds.hold(late, principal("alice", "late"))
    holds.hold(early, principal("bob", "early"))
    holds.hold(never, principal("carol", "never"))
    [timer] = clock.getDelayedCalls()  # one timer, at the earliest expiry
    assert timer.getTime() == 40.0
    clock.advance(39.9)
    assert not aborted(early)
    with capturedGatewayLogs() as events:
        clock.advance(0.1)
    assert aborted(early) and not aborted(late)
    [line] = [e for e in events if e.get("principal") is not None]
    assert (line["principal"], line["why"]) == ("key-bob", "expired")
    [timer] = clock.getDelayedCalls()
    assert timer.getTime() == 100.0
    clock.advance(60)
    assert aborted(late) and not aborted(never)
    assert clock.getDelayedCalls() == []  # nothing held expires any more


def test_a_token_whose_expiry_moved_later_is_closed_then() -> None:
    holds, standing, clock = holdsWith()
    standing.ends["a"] = 10.0
    request = openRequest()
    holds.hold(request, principal("alice", "a"))
    standing.ends["a"] = 50.0  # its entry now says later
    clock.advance(10)
    assert not aborted(request)
    [timer] = clock.getDelayedCalls()
    assert timer.getTime() == 50.0
    clock.advance(40)
    assert aborted(request)


def test_an_earlier_expiry_held_later_moves_the_timer() -> None:
    holds, standing, clock = holdsWith()
    standing.ends.update({"late": 100.0, "early": 5.0})
    late, early = openRequest(), openRequest()
    holds.hold(late, principal("alice", "late"))
    [timer] = clock.getDelayedCalls()
    assert timer.getTime() == 100.0
    holds.hold(early, principal("bob", "early"))
    [timer] = clock.getDelayedCalls()
    assert timer.getTime() == 5.0


def test_a_credential_that_holds_nothing_open_is_forgotten() -> None:
    holds, standing, clock = holdsWith()
    standing.ends["a"] = 100.0
    request = openRequest()
    holds.hold(request, principal("alice", "a"))
    request.finished = True
    holds.check()
    assert holds._held == {} and clock.getDelayedCalls() == []


class Ending:
    """What a request's context may name to end it (a listen stream)."""

    def __init__(self) -> None:
        self.ended = 0

    def end(self) -> None:
        self.ended += 1


def test_a_request_whose_context_says_how_it_ends_ends_so() -> None:
    holds, standing, _ = holdsWith()
    request, gone = openRequest(), openRequest()
    ending = Ending()
    contextOf(request).credentialEnded = WeakMethod(ending.end)
    contextOf(gone).credentialEnded = WeakMethod(Ending().end)  # its listen is gone
    holds.hold(request, principal("alice", "a"))
    holds.hold(gone, principal("alice", "a"))
    standing.ended["a"] = "was removed"
    holds.check()
    assert ending.ended == 1 and not aborted(request)
    assert aborted(gone)


def test_an_http2_request_has_its_stream_reset_not_its_connection() -> None:
    holds, standing, _ = holdsWith()
    stream = FakeStream()
    request = openRequest(stream)
    holds.hold(request, principal("alice", "a"))
    standing.ended["a"] = "was removed"
    holds.check()
    assert stream.aborted == 1


def test_a_gate_over_an_authenticator_whose_tokens_end_holds() -> None:
    clock = Clock()
    table = TokenTable((), lambda n: "key-" + n, clock)
    assert AuthGate(table, clock, None, None, lambda: []).holds is not None
    gate = AuthGate(None, clock, None, None, lambda: [])
    assert gate.holds is None
    gate.hold(openRequest(), principal("alice", "a"))  # nothing to hold it: nothing done


# -- the real gate, a real tokens table, the real site ------------------------------


class TokensHarness(Harness):
    """A team gateway whose door is the real gate over a tokens table; the
    tokens are C{tokens[name]}."""

    def __init__(self, *names: str, expires: dict[str, float] | None = None) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor))
        self.tokens = {name: newToken() for name in names}
        self.expires = dict(expires or {})
        self.table = TokenTable(
            self.entries(), lambda n: "key-" + n.partition("#")[0], self.reactor
        )
        self.gate = AuthGate(self.table, self.reactor, None, None, lambda: [])
        self.era2026 = FakeEra2026()
        self.site = makeSite(
            self.gateway,
            self.reactor,
            loopbackOnly=False,
            team=TeamServices(self.gate),
            era2026=self.era2026,
        )

    def entries(self) -> list[TokenEntry]:
        """The table's entries: a name C{alice#2} is a second token of alice."""
        return [
            TokenEntry(tokenHash(token), name.partition("#")[0], expires=self.expires.get(name))
            for name, token in self.tokens.items()
        ]

    def revoke(self, name: str) -> None:
        """Remove C{name}'s token, as a tokens file reloaded without it."""
        del self.tokens[name]
        self.table.replace(self.entries())

    def as_(self, who: str, method: str, body: Any = None, **kw: Any) -> Response:
        headers = {"authorization": f"Bearer {self.tokens.get(who, 'mcpgw_gone')}"}
        headers.update(kw.pop("headers", {}))
        return self.request(method, "/srv/mcp", body, headers=headers, **kw)

    def openSession(self, who: str, version: str = "2025-06-18") -> str:
        response = self.as_(who, "POST", initializeMessage(version))
        if not response.complete:
            self.answerHandshake()
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]

    def listen(self, who: str, session: str, version: str = "2025-06-18", **kw: Any) -> Response:
        headers = {"mcp-protocol-version": version, **kw.pop("headers", {})}
        return self.as_(
            who, "GET", session=session, accept="text/event-stream", headers=headers, **kw
        )


def connectionGone(response: Response) -> None:
    """The reactor's part of an abort: the connection is lost."""
    response.protocol.connectionLost(Failure(ConnectionAborted()))  # type: ignore[attr-defined]


def slow(h: TokensHarness, who: str, session: str) -> Response:
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}}
    response = h.as_(who, "POST", call, session=session)
    assert not response.complete
    return response


def test_a_removed_tokens_get_stream_and_call_are_closed_and_its_session_idles_out() -> None:
    h = TokensHarness("alice", "bob")
    alices, bobs = h.openSession("alice"), h.openSession("bob")
    stream, bobStream = h.listen("alice", alices), h.listen("bob", bobs)
    assert stream.status == 200 and bobStream.status == 200
    call = slow(h, "alice", alices)
    with capturedGatewayLogs() as events:
        h.revoke("alice")
    assert stream.transport.disconnecting and call.transport.disconnecting
    assert not bobStream.transport.disconnecting
    [line] = [e for e in events if e.get("principal") is not None]
    assert (line["principal"], line["count"], line["why"]) == (
        "key-alice",
        2,
        "was removed from the tokens file",
    )
    connectionGone(stream)
    connectionGone(call)
    session = h.gateway.sessions.get(alices)
    assert session is not None and session.getStream is None  # no stream keeps it from idling out
    note = {"jsonrpc": "2.0", "method": "notifications/message"}
    session.deliver(note)  # waits for the session's next stream, which only its principal opens
    assert session.getStream is None and session.backlog == [note]
    again = h.listen("alice", alices)
    assert again.status == 401  # the stream cannot be opened again with that token
    assert session.backlog == [note]
    assert h.gateway.sessions.get(bobs).getStream is not None  # type: ignore[union-attr]


def test_an_expired_tokens_get_stream_is_closed_when_it_expires() -> None:
    h = TokensHarness("frank", expires={"frank": 60.0})
    sid = h.openSession("frank")
    stream = h.listen("frank", sid)
    assert stream.status == 200
    h.reactor.advance(59.5)
    assert not stream.transport.disconnecting
    h.reactor.advance(0.5)
    assert stream.transport.disconnecting
    assert (
        h.as_("frank", "POST", {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid).status
        == 401
    )


def test_a_resumable_stream_resumes_only_with_a_token_that_stands() -> None:
    h = TokensHarness("alice", "alice#2")
    sid = h.openSession("alice", "2025-11-25")
    stream = h.listen("alice", sid, "2025-11-25")
    [priming] = [f for f in stream.body.split(b"\n") if f.startswith(b"id: ")]
    lastEventId = priming[4:].decode()
    h.revoke("alice")
    assert stream.transport.disconnecting
    connectionGone(stream)
    session = h.gateway.sessions.get(sid)
    assert session is not None
    session.deliver({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": 1}})
    resume = {"last-event-id": lastEventId}
    refused = h.listen("alice", sid, "2025-11-25", headers=resume)
    assert refused.status == 401 and b"notifications/message" not in refused.body
    resumed = h.listen("alice#2", sid, "2025-11-25", headers=resume)
    assert resumed.status == 200
    assert [e["params"] for e in resumed.events()] == [{"n": 1}]


def test_a_removed_tokens_listen_stream_ends_with_its_graceful_result() -> None:
    h = TokensHarness("alice")
    message = {
        "jsonrpc": "2.0",
        "id": "listen-1",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": meta()},
    }
    response = h.as_("alice", "POST", message, headers=headersFor(message))
    [listen] = h.era2026.listens
    handle = listen.open()
    h.revoke("alice")
    assert response.complete and not response.transport.disconnecting
    assert sseEvents(response)[-1] == listenEnded("listen-1")
    assert handle.closed == 1


ISSUER = "https://idp.example.com"
RESOURCE = "https://mcp.example.com"


def test_an_access_tokens_get_stream_is_closed_once_the_token_is_refused() -> None:
    """An OAuth access token is refused after C{exp} plus the leeway: its
    stream is closed then, not a moment before."""
    key = IssuerKey("ES256", "e1")
    h = TokensHarness()
    h.reactor.advance(1_800_000_000)
    fetch = FakeFetch()
    keys = KeySet(fetch, h.reactor, ISSUER, ISSUER + "/jwks")
    keys.start()
    fetch.answer(jwks(key))
    verifier = JwtVerifier(OAuthSettings(ISSUER, RESOURCE), keys, lambda n: "key-" + n, h.reactor)
    gate = AuthGate(verifier, h.reactor, RESOURCE, ISSUER, lambda: [])
    h.site = makeSite(h.gateway, h.reactor, loopbackOnly=False, team=TeamServices(gate))
    now = int(h.reactor.seconds())
    h.tokens["alice"] = key.sign(
        {"iss": ISSUER, "sub": "alice", "aud": RESOURCE, "iat": now, "exp": now + 300}
    )
    stream = h.listen("alice", h.openSession("alice"))
    assert stream.status == 200
    h.reactor.advance(359.5)
    assert not stream.transport.disconnecting  # inside the leeway, as its requests are
    with capturedGatewayLogs() as events:
        h.reactor.advance(0.5)
    assert stream.transport.disconnecting
    [line] = [e for e in events if e.get("principal") is not None]
    assert (line["principal"], line["why"]) == ("key-alice", "expired")


def test_the_management_door_holds_a_log_stream_it_let_in() -> None:
    h = TeamHarness()
    stream = h.as_("root", "GET", "/status/events", accept="text/event-stream")
    assert stream.status == 200
    [(request, who)] = h.gate.held
    assert who.name == "root" and not getattr(request, "finished", True)
