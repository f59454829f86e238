# -*- test-case-name: tests.core.test_unproven -*-
"""A shared child's request that no session can be proven to have caused.

stdio carries no link between a child's request to its client and the call
that caused it, and a child asks on its own too (server-everything asks for
the roots 350 ms after it is initialized, whoever is attached then). When
the fanout cannot prove whose a request is (L{mcpgateway.core.fanout}),
L{answerUnproven} decides what the child gets, and never costs the server
its share for a question:

 - a C{roots/list} (several sessions attached, or none) is answered with
   the gateway's own empty list (a
   workspace child's with its workspace: L{mcpgateway.core.router.Fanout.roots}):
   the child then holds nobody's roots, and L{ChildRoots} has it ask again
   inside a call that has one owner;
 - a C{sampling/createMessage} or C{elicitation/create} is refused (a
   person's question is never guessed), counted, and nothing else;
 - any other request is refused, and the pool is told
   (L{mcpgateway.core.router.Router.onAmbiguous}): a child that asks its
   clients other things keeps per-session state with them, and may be
   given a child per session.

L{ChildRoots} keeps each session's roots its own on a shared child: it
remembers whose roots the child last got (a session that answered its
C{roots/list}, or the gateway's own answer), and just before a call of
another session that declared C{roots} is forwarded, sends the child
C{notifications/roots/list_changed}. A child that keeps its roots (as
MCP asks) then asks again while that call is in flight, and the fanout's
one-caller proof gives the question to that caller. It is sent once per
switch of caller (never before every call), only to a child that asked
for roots before, and only where the question can be proven the caller's
(every session attached one principal's, no other call in flight); where
it cannot, only to take another principal's roots out of the child (its
question is then answered with the empty list).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.logger import Logger

from mcpgateway.core.exchange import Exchange
from mcpgateway.core.sessions import SessionLike, shortId
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.streamwaits import refusedByAll
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message

ASKS_A_PERSON = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
"""The child requests whose refusal never promotes the server."""
ACTS_FOR_CALLER = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})
"""The client requests in which a child acts for its caller (and may use
the caller's roots): the ones a C{roots/list_changed} goes before."""
ROOTS_CHANGED = "notifications/roots/list_changed"
NO_ROOTS: dict[str, list[object]] = {"roots": []}
"""The gateway's answer to a C{roots/list} no session can be proven to own."""


class RouterLike(Protocol):
    """What of a child's L{mcpgateway.core.router.Router} is used here."""

    name: str
    log: Logger
    sessions: set[SessionLike]
    send: Callable[[Message], None]
    stats: RequestStats
    ambiguousServerRequests: int
    onAmbiguous: Callable[[str, int], None] | None

    @property
    def childRoots(self) -> ChildRoots:
        """Whose roots the child holds."""

    def clientExchanges(self) -> list[Exchange]:
        """The client requests waiting for the child, oldest first."""

    def clientSessions(self) -> list[SessionLike]:
        """The 2025 sessions a request of the child may be for."""


class _Gateway:
    """The roots the child holds are the gateway's own answer (nobody's)."""

    def __repr__(self) -> str:
        return "<the gateway's roots>"


GATEWAYS = _Gateway()


class ChildRoots:
    """Whose roots one child holds, and when to have it ask again (see the
    module docstring).

    @ivar asked: the child has asked for roots (since it started).
    @ivar holder: whose roots it got last: a session, L{GATEWAYS}, or
        C{None} (none yet).
    """

    __slots__ = ("asked", "holder", "notified", "shared")

    def __init__(self, shared: bool) -> None:
        """
        @param shared: whether the child is shared (a child of one session
            holds its owner's roots only: nothing to do).
        """
        self.shared = shared
        self.asked = False
        self.holder: SessionLike | _Gateway | None = None
        self.notified: SessionLike | None = None
        """The session a C{list_changed} was last sent for, until the
        child's question is answered."""

    def childStarted(self) -> None:
        """A new child: it holds no roots yet."""
        self.asked = False
        self.holder = None
        self.notified = None

    def gave(self, holder: SessionLike | _Gateway) -> None:
        """The child got C{holder}'s roots (a session's answer, or the gateway's)."""
        self.holder = holder
        self.notified = None

    def beforeCall(self, router: RouterLike, session: SessionLike, method: str) -> None:
        """C{session}'s C{method} is about to be forwarded: first tell the
        child the roots changed, when it holds another's (see the module
        docstring). Cheap when nothing is to be done: a few comparisons."""
        if (
            not self.asked
            or not self.shared
            or self.holder is session
            or self.notified is session
            or method not in ACTS_FOR_CALLER
            or session.era2026
            or "roots" not in session.capabilities
        ):
            return
        holder = self.holder
        if not _soleAsker(router, session) and (
            holder is None or holder is GATEWAYS or _principal(holder) == _principal(session)
        ):
            # The caller's roots cannot be given now (another call is in
            # flight, another principal attached), and the child holds no
            # other principal's to take out: its next call will.
            return
        self.notified = session
        router.log.debug(
            "server {server}: its child holds {holder}'s roots; telling it they changed"
            " before a call of session {sid}",
            server=router.name,
            holder="the gateway" if self.holder is GATEWAYS else "another session",
            sid=shortId(session.id),
        )
        router.send(jsonrpc.notification(ROOTS_CHANGED))


def _principal(session: object) -> str | None:
    principal = getattr(session, "principal", None)
    return principal if isinstance(principal, str) else None


def _soleAsker(router: RouterLike, session: SessionLike) -> bool:
    """Whether a C{roots/list} of the child during C{session}'s call would
    be proven C{session}'s (L{mcpgateway.core.fanout._soleCaller}): every
    2025 session attached is C{session}'s principal's, and no other
    client has a request in flight."""
    principal = _principal(session)
    for other in router.sessions:
        if other is session or other.era2026:
            continue
        if principal is None or _principal(other) != principal:
            return False
    return all(ex.session is session for ex in router.clientExchanges())


def answerUnproven(router: RouterLike, message: Message, why: str) -> None:
    """Answer the child's request C{message}, which no session could be
    proven to have caused (C{why}), as the module docstring says."""
    method = message["method"]
    ambiguous = why.startswith("ambiguous")
    if ambiguous:
        refusal = refusedByAll(router.clientSessions(), router.clientExchanges(), message)
        if refusal is not None:
            # No client attached declared what it needs: whichever one it
            # was for, the answer is this refusal, so nothing is ambiguous.
            router.send(jsonrpc.errorResponse(message["id"], *refusal))
            return
    if method == "roots/list":
        router.childRoots.gave(GATEWAYS)
        router.log.info(
            "server {server}: answered its roots/list with no roots: {why}; it is told"
            " the roots changed before the next call of a session that declared roots",
            server=router.name,
            why=why,
        )
        router.send(jsonrpc.resultResponse(message["id"], dict(NO_ROOTS)))
        return
    if ambiguous:
        router.ambiguousServerRequests += 1
        router.stats.ambiguousServerRequests += 1
        person = method in ASKS_A_PERSON
        if not person:
            why += (
                "; the gateway gives this server a child per session from the next"
                " session on (unless its share is pinned)"
            )
        elif "relatedRequestId" not in why:
            why += (
                "; refused, and the server keeps its share (a server names the call its"
                " request serves with _meta mcpgateway/relatedRequestId, see"
                " docs/design/era.md)"
            )
        router.log.warn(
            "server {server}: refused its {method} request: {why}",
            server=router.name,
            method=method,
            why=why,
        )
    router.send(jsonrpc.errorResponse(message["id"], jsonrpc.INTERNAL_ERROR, f"{method}: {why}"))
    if ambiguous and method not in ASKS_A_PERSON and router.onAmbiguous is not None:
        try:
            router.onAmbiguous(method, len(router.clientSessions()))
        except Exception:
            router.log.failure(
                "server {server}: handling an ambiguous request failed", server=router.name
            )
