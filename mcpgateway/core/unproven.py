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
   workspace child's with its workspace: L{mcpgateway.core.router.Fanout.roots}).
   A child may ignore an empty list and keep the roots it held
   (server-filesystem does), so that answer takes nobody's roots out:
   L{ChildRoots} counts the child as holding the last roots a session
   gave it (C{mayHold}) until another session's, or a workspace, replace them;
 - a C{sampling/createMessage} or C{elicitation/create} is refused (a
   person's question is never guessed), counted, and nothing else;
 - any other request is refused, and the pool is told
   (L{mcpgateway.core.router.Router.onAmbiguous}): a child that asks its
   clients other things keeps per-session state with them, and may be
   given a child per session.

L{ChildRoots} keeps each session's roots its own on a shared child that
asked for roots: a call (C{tools/call}, C{resources/read}, C{prompts/get},
C{completion/complete}) never reaches it while it may hold another
session's roots, but where the log says so (below). Before a call of a
session that declared C{roots} whose roots the child does not hold, it is
sent C{notifications/roots/list_changed}; a child that keeps its roots (as
MCP asks) then asks again while that call is in flight, and the fanout's
one-caller proof gives the question to that caller. The question can be
proven the caller's only while every session attached is one principal's
and no other client's call is written to the child (a call held here has
not reached it and counts for nobody). So when another client's call is in
flight, the caller's call, and every request after it, waits until those
calls have ended (at most L{DRAIN_WAIT}), and then the switch is made.
Calls of one caller need no switch and run side by side. Where the
switch can never be proven (another principal's session is attached), or
was not made in time, a call goes only if the child holds no other
session's roots (none given since it started, or the caller's own);
otherwise it is refused with an error naming the cure (a child per
session: C{"share": "session"}), and the pool is told, which gives each
2025 session a child of its own unless the share is pinned
(L{mcpgateway.core.pools.promotion}). A workspace child's workspace
replaces another's roots: there the switch is made across principals too,
its question answered with the workspace. A session that gives no roots
(it declared none, or answered an empty list) runs on the roots the child
holds when they are its own principal's (that person's, and one log line
per pair says so), and is refused when they are another principal's.

A call of an MCP 2026-07-28 client is a caller of its own (that revision
has no session: its chain of rounds, L{mcpgateway.core.era2026.mrtr}, is
one L{Era2026Call<mcpgateway.core.era2026.mrtr.Era2026Call>}), and its
capabilities are its round's: a call whose client declares C{roots} is
told the roots changed before unless the child holds that very call's,
and the child's question reaches the client as an C{input_required}
round of the call. So such a client's every call to a child that reads
roots costs a round more (asked at once: a call held behind the barrier
has not reached the child, so its roots are all the child asks for it
then, L{holds}); a client that does not declare C{roots} pays nothing,
and is a client that gives no roots, as for a 2025 session.

A switch is a barrier: a child answers a call from the roots it holds,
and asks for the new ones only once told (server-everything's
C{get-roots-list} would show the previous caller's roots; a filesystem
server, whose allowed folders are its client's roots, would run the call
in the previous caller's folders). So the call the C{list_changed} goes
before is held, with every client request that comes to the child after
it, until the child's question has been answered (by the caller; a
workspace child's, across principals, with its workspace). A child reads
the answer before what follows it (one pipe, in order), but may apply it with work of its own (a
filesystem server checks each folder on disk) before a call can use it.
So whenever a shared child is given roots, the requests held, and those
that come meanwhile, wait until it has applied them: for its next word (a
line on stderr, a notification: server-everything logs the roots it got,
a filesystem server the folders it allows), up to L{SPEAK_WAIT}, when it
was seen to say one after being given roots; else L{SETTLE}. They then go
in order, each request of another session than the caller's checked for
a switch of its own as it goes. A child that does not ask is not waited on
for long: L{ASK_WAIT} the first time, after which it is not waited on
until it is seen to ask after being told (but where it may hold another
session's roots: then it is waited on L{ASK_WAIT} again); a child seen to ask after being
told is waited on L{ASKER_WAIT} (and once it has asked, its client gets as
long to answer). When a wait runs out the requests go on (a call that
would run on another session's roots is refused), and the log says so.
A call with no switch of caller, and none while roots are being applied,
pays a few comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
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
ASK_WAIT = 3.0
"""Seconds a call waits behind a C{list_changed} for the question of a child
not yet seen to ask after one (L{ChildRoots})."""
ASKER_WAIT = 5.0
"""Seconds it waits for a child seen to ask after an earlier
C{list_changed}; and, once the child asked, for the client's answer."""
SETTLE = 0.05
"""Seconds between the answer that gives a child roots and the requests held
for it, for a child not seen to say a word once it has applied them: the
time it may take to apply them."""
SPEAK_WAIT = 3.0
"""Seconds the requests wait, after the child was given roots, for the word
it was seen to say once it has applied them (a stderr line, a notification)."""
DRAIN_WAIT = 15.0
"""Seconds a call that needs a switch of caller waits for the other clients'
calls written to the child to end (until then the child's question cannot
be proven its caller's); then it goes only where the child holds no other
session's roots, else it is refused."""


class RouterLike(Protocol):
    """What of a child's L{mcpgateway.core.router.Router} is used here."""

    name: str
    log: Logger
    sessions: set[SessionLike]
    send: Callable[[Message], None]
    hurry: Callable[[], None]
    stats: RequestStats
    ambiguousServerRequests: int
    onAmbiguous: Callable[[str, int], None] | None

    @property
    def childRoots(self) -> ChildRoots:
        """Whose roots the child holds."""

    def clientExchanges(self) -> list[Exchange]:
        """The client requests waiting for the child, oldest first."""

    def exchangeFor(self, childId: Any) -> Exchange | None:
        """The request in flight with child-side id C{childId}, if any."""

    def clientSessions(self) -> list[SessionLike]:
        """The 2025 sessions a request of the child may be for."""

    def refuse(self, ex: Exchange, text: str) -> None:
        """Answer C{ex}, which was never written to the child, with an error."""


class _Gateway:
    """The roots the child holds are the gateway's own answer (nobody's)."""

    def __repr__(self) -> str:
        return "<the gateway's roots>"


GATEWAYS = _Gateway()


def givesRoots(answer: Message) -> bool:
    """Whether a C{roots/list} answer gives the child roots (a non-empty
    list): an empty one may leave it holding the roots it had."""
    result = answer.get("result")
    roots = result.get("roots") if isinstance(result, dict) else None
    return isinstance(roots, list) and bool(roots)


class ChildRoots:
    """Whose roots one child holds, when to have it ask again, and the
    requests held until it has (see the module docstring).

    @ivar asked: the child has asked for roots (since it started).
    @ivar holder: whose answer to its C{roots/list} it got last: a session,
        L{GATEWAYS}, or C{None} (none yet).
    @ivar mayHold: the session whose roots the child may hold: the last one
        whose answer gave it some (a non-empty list); C{None}: nobody's
        (never given any since it started, or last given the gateway's
        workspace). An empty answer leaves it as it is.
    @ivar asks: whether the child asks for roots when told they changed:
        C{True} (seen to), C{None} (not known), C{False} (it did not, the
        last time it was told while not known to).
    @ivar speaks: whether the child says a word once it has applied roots
        it was given (the last time it was given some).
    """

    __slots__ = (
        "_caller",
        "_clock",
        "_draining",
        "_givenAt",
        "_questioned",
        "_router",
        "_said",
        "_settling",
        "_timer",
        "_unwritten",
        "asked",
        "asks",
        "held",
        "holder",
        "mayHold",
        "notified",
        "shared",
        "speaks",
        "workspace",
    )

    def __init__(
        self, router: RouterLike, shared: bool, clock: IReactorTime, workspace: bool = False
    ) -> None:
        """
        @param router: the child's router, which writes what was held.
        @param shared: whether the child is shared (a child of one session
            holds its owner's roots only: nothing to do).
        @param clock: what times the barrier.
        @param workspace: whether the gateway answers a question no session
            can be proven to own with roots of its own (a workspace child's
            workspace), which replace another session's.
        """
        self._router = router
        self.shared = shared
        self.workspace = workspace
        self._clock = clock
        self.asked = False
        self.holder: SessionLike | _Gateway | None = None
        self.mayHold: SessionLike | None = None
        self.notified: SessionLike | None = None
        """The session a C{list_changed} was last sent for, until the
        child's question is answered."""
        self.asks: bool | None = None
        self.held: list[tuple[Exchange, Message]] | None = None
        """The client requests (as the child gets them) waiting behind a
        C{list_changed}, for the other callers' calls to end, or for the
        child to apply roots it was just given, oldest first; C{None}:
        nothing waits."""
        self._caller: SessionLike | None = None
        """The session whose call the barrier was put up for."""
        self._timer: IDelayedCall | None = None
        self._questioned = False
        """The child asked since the barrier was put up."""
        self._settling = False
        """The child was given roots: what is held goes once it has applied them."""
        self._draining = False
        """The caller's switch waits for the other callers' calls written to the child to end."""
        self.speaks = False
        self._givenAt: float | None = None
        """When the child was last given roots, until its next word."""
        self._unwritten: set[int] = set()
        """The child ids of the requests held and not written yet (those
        released included, until each is written, refused or ended)."""
        self._said: tuple[int, int] | None = None
        """(session, holder) last logged as running on another's roots of its principal."""

    def holds(self, ex: Exchange) -> bool:
        """Whether C{ex} waits behind the barrier, not written to the child yet."""
        return ex.childId in self._unwritten

    def behind(self, ex: Exchange) -> bool:
        """Whether C{ex} waits behind the barrier and is no call of the
        session the child was told of: it has not reached the child, and
        nothing the child asks now is for it (L{mcpgateway.core.fanout})."""
        return ex.session is not self.notified and self.holds(ex)

    def childStarted(self) -> None:
        """A new child: it holds no roots yet (the requests held for the
        last one are answered by its router)."""
        self.asked = False
        self.asks = None
        self.speaks = False
        self.holder = self.mayHold = self.notified = None
        self._givenAt = None
        self._unwritten.clear()
        self._lift()

    def childAsked(self) -> None:
        """The child asks for roots: after a C{list_changed}, it is one that
        asks, and its client gets L{ASKER_WAIT} to answer."""
        self.asked = True
        if self.notified is not None:
            self.asks = True
            if self.held is not None and not self._questioned and not self._settling:
                self._questioned = True
                self._startTimer(ASKER_WAIT, self._waitedOut)

    def gave(self, holder: SessionLike | _Gateway, some: bool) -> None:
        """The child got C{holder}'s answer (a session's, or the gateway's),
        written to it just now; C{some}: it gave roots (a non-empty list).
        What is held, and what comes meanwhile, goes once it has applied
        them (see the module docstring)."""
        self.holder = holder
        if some:
            self.mayHold = None if isinstance(holder, _Gateway) else holder
        self.notified = None
        if not self.shared:
            return
        self._givenAt = self._clock.seconds()
        if not self._settling:
            self._settling = True
            self._draining = False
            if self.held is None:
                self.held = []
            self._startTimer(SPEAK_WAIT if self.speaks else SETTLE, self._applied)

    def childSpoke(self) -> None:
        """The child wrote a line on stderr, or a notification: after it was
        given roots, its first word says it has applied them."""
        given = self._givenAt
        if given is None:
            return
        self._givenAt = None
        if self._clock.seconds() - given <= SPEAK_WAIT:
            self.speaks = True
            if self._settling:
                self._release()

    def _applied(self) -> None:
        """The time a child takes to apply its roots is over: what is held
        goes (a child that says a word after roots and said none this time
        is waited on L{SETTLE} from now on)."""
        self._timer = None
        if self.speaks:
            self.speaks = False
            self._givenAt = None
            self._router.log.info(
                "server {server}: its child said nothing within {wait:g}s of being given"
                " roots; the requests held for it go on",
                server=self._router.name,
                wait=SPEAK_WAIT,
            )
        self._release()

    def answered(self, session: SessionLike, given: bool, some: bool = True) -> None:
        """C{session} answered the child's C{roots/list} (C{given}: with its
        roots, C{some} of them, else with an error), written to the child
        just now."""
        if given:
            self.gave(session, some)
        elif self.held is not None and not self._settling:
            self._release()  # nothing to apply

    def beforeCall(self, session: SessionLike, ex: Exchange, out: Message) -> bool:
        """C{session}'s request C{ex} (C{out}, as the child gets it) is about
        to be written: first have the child hold the caller's roots, and
        never another's (see the module docstring). Whether C{out} is held
        (to be written once the child has asked and been answered), or
        refused, rather than written now. Cheap when nothing is to be done:
        a few comparisons."""
        if self.held is not None:
            self.held.append((ex, out))
            self._unwritten.add(ex.childId)
            return True
        if not self.shared or ex.method not in ACTS_FOR_CALLER:
            return False
        return self._place(session, ex, out, True)

    def _place(self, session: SessionLike, ex: Exchange, out: Message, switch: bool) -> bool:
        """Where C{session}'s call C{ex} goes while nothing is held: written
        now (C{False}), or held or refused (C{True}). With C{switch}, a call
        whose client declared roots the child does not hold has the child
        told first (at once, or once the other callers' calls ended)."""
        router = self._router
        if (
            switch
            and self.holder is not session
            and self.notified is not session
            and (
                ("roots" in session.capabilities and _onePrincipal(router, session))
                or (self.workspace and self._other(session) is not None)
            )
        ):
            # Its own roots given (a question proven its), or a workspace
            # child's other roots replaced by its workspace (the gateway's
            # answer to a question no session can be proven to own).
            if _othersWritten(router, session, self):
                self.held, self._caller, self._draining = [(ex, out)], session, True
                self._unwritten.add(ex.childId)
                self._startTimer(DRAIN_WAIT, self._drainedOut)
                router.log.debug(
                    "server {server}: the call of session {sid} waits for the calls of other"
                    " clients in flight on its child to end (at most {wait:g}s): only then can"
                    " the child's question for the roots be proven the session's",
                    server=router.name,
                    sid=shortId(session.id),
                    wait=DRAIN_WAIT,
                )
                return True
            return self._switch(session, ex, out)
        other = self._conflict(session)
        if other is None:
            return False
        self._refuse(session, ex, other)
        return True

    def _switch(self, session: SessionLike, ex: Exchange, out: Message) -> bool:
        """Tell the child the roots changed before C{session}'s call, the
        only client's call on it: held until the child has asked and been
        answered (unless the child is known not to ask and holds no other
        session's roots)."""
        holder, router = self.holder, self._router
        self.notified = session
        wait = None if self.asks is False else ASKER_WAIT if self.asks else ASK_WAIT
        if wait is None and self._conflict(session) is not None:
            wait = ASK_WAIT  # never written into another's roots unasked
        router.log.debug(
            "server {server}: its child holds {holder}'s roots; telling it they changed"
            " before a call of session {sid}{held}",
            server=router.name,
            holder="the gateway" if holder is GATEWAYS else "another session",
            sid=shortId(session.id),
            held="" if wait is None else f", held until it has asked (at most {wait:g}s)",
        )
        router.send(jsonrpc.notification(ROOTS_CHANGED))
        if wait is None:
            return False
        self.held, self._caller = [(ex, out)], session
        self._unwritten.add(ex.childId)
        self._startTimer(wait, self._waitedOut)
        return True

    def _other(self, session: SessionLike) -> SessionLike | None:
        """The other session whose roots C{session}'s call would run on (see
        L{_conflict}), said nothing of."""
        other = self.mayHold
        if other is None or other is session:
            return None
        if "roots" in session.capabilities and self.holder is not session:
            return other
        principal = _principal(session)
        return other if principal is None or _principal(other) != principal else None

    def _conflict(self, session: SessionLike) -> SessionLike | None:
        """The other session whose roots C{session}'s call would run on, if
        it went now: the child may hold them, and C{session}'s own were
        not given it (its client declared roots), or its client declared
        none and is another principal's. A client of the same principal
        that gives no roots runs on that person's roots the child holds,
        as the log says (once a pair)."""
        other = self.mayHold
        if other is None or other is session or self._other(session) is not None:
            return self._other(session)
        said = (id(session), id(other))
        if self._said != said:
            self._said = said
            self._router.log.info(
                "server {server}: the call of session {sid}, which gives no roots, runs on"
                " the roots its child holds, session {holder}'s of the same principal (a child"
                " keeps roots when given none); a child per session"
                ' (classification.json {{"{server}": {{"share": "session"}}}}) gives each'
                " session the server as configured",
                server=self._router.name,
                sid=shortId(session.id),
                holder=shortId(other.id),
            )
        return None

    def _refuse(self, session: SessionLike, ex: Exchange, other: SessionLike) -> None:
        """C{session}'s call would run on C{other}'s roots: answered with an
        error naming the fix, and the pool told (it may give each session
        a child of its own: L{mcpgateway.core.pools.promotion})."""
        router = self._router
        if "roots" in session.capabilities and self.holder is not session:
            why = "this session's own roots could not be given to it first"
        elif "roots" in session.capabilities:
            why = "this session gives it no roots"
        else:
            why = "this session declared no roots"
        if _principal(other) != _principal(session):
            why += " and is another principal's"
        fix = f'classification.json {{"{router.name}": {{"share": "session"}}}}'
        text = (
            f"server '{router.name}' is shared, and its child may still hold the roots"
            f" another client session gave it (a server keeps them when given none); {why},"
            " so the call would run on that session's roots, and is refused. A child per"
            f" session gives each session its own: {fix} (the gateway gives one to each"
            " new session, and to this one at its next request, unless the share is pinned)"
        )
        router.log.warn(
            "server {server}: refused {method} of session {sid}: its child may hold the roots"
            " of session {holder}, and {why}; fix: {fix}",
            server=router.name,
            method=ex.method,
            sid=shortId(session.id),
            holder=shortId(other.id),
            why=why,
            fix=fix,
        )
        self._unwritten.discard(ex.childId)
        router.refuse(ex, text)
        if router.onAmbiguous is not None and not session.era2026:
            try:
                router.onAmbiguous("roots/list", len(router.clientSessions()))
            except Exception:
                router.log.failure(
                    "server {server}: handling a roots conflict failed", server=router.name
                )

    def ended(self) -> None:
        """A client request on the child ended: a caller whose switch waits
        for the other callers' calls has it now, once none is left."""
        caller = self._caller
        if self._draining and caller is not None and not _othersWritten(self._router, caller, self):
            self._draining = False
            self._release(retry=True)

    def _drainedOut(self) -> None:
        """The other callers' calls did not end in time: the caller's calls
        go only where no other session's roots are in the child."""
        self._timer = None
        caller = self._caller
        if caller is None:
            return
        self._router.log.info(
            "server {server}: the call of session {sid} waited {wait:g}s for the calls of"
            " other clients in flight on its child to end; it goes on only if the child"
            " holds no other session's roots, else it is refused",
            server=self._router.name,
            sid=shortId(caller.id),
            wait=DRAIN_WAIT,
        )
        self._draining = False
        self._release()

    def _waitedOut(self) -> None:
        """The child did not ask (or its client did not answer) in time: the
        requests go on (the caller's only where the child holds no other
        session's roots); a child that did not ask is waited on less."""
        self._timer = None
        caller = self._caller
        if caller is None:
            return
        asked = self._questioned
        waited = ASKER_WAIT if asked or self.asks else ASK_WAIT
        if not asked:
            self.asks = None if self.asks else False
        self._router.log.info(
            "server {server}: its child was told the roots changed and {what} within"
            " {wait:g}s; the call of session {sid} goes on (on the roots the child held,"
            " refused if they may be another session's){after}",
            server=self._router.name,
            what="its question was not answered" if asked else "did not ask for them",
            wait=waited,
            sid=shortId(caller.id),
            after=", and it is not waited on again until it asks after being told"
            if self.asks is False
            else "",
        )
        self._release()

    def _release(self, retry: bool = False) -> None:
        """Write the requests held, in order (those still in flight): the
        caller's checked for the roots the child may hold (with C{retry},
        for a switch too: its wait for the other callers is over), another
        session's for a switch of its own (which may put up the next
        barrier: the rest wait behind it)."""
        held, caller, router = self.held, self._caller, self._router
        unwritten = self._unwritten
        self._lift()
        for ex, out in held or ():
            if router.exchangeFor(ex.childId) is not ex:
                unwritten.discard(ex.childId)
                continue  # cancelled or timed out meanwhile: never written
            session = ex.session
            if self.held is not None:
                self.held.append((ex, out))
                continue
            unwritten.discard(ex.childId)
            if (
                session is None
                or ex.method not in ACTS_FOR_CALLER
                or not self._place(session, ex, out, retry or session is not caller)
            ):
                router.send(out)
        if held:
            router.hurry()

    def _lift(self) -> None:
        """Nothing waits from now on (what waited is taken, or failed)."""
        self.held = self._caller = None
        self._questioned = self._settling = self._draining = False
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _startTimer(self, seconds: float, then: Callable[[], None]) -> None:
        timer = self._timer
        if timer is not None and timer.active():
            timer.cancel()
        self._timer = self._clock.callLater(seconds, then)


def _principal(session: object) -> str | None:
    principal = getattr(session, "principal", None)
    return principal if isinstance(principal, str) else None


def _onePrincipal(router: RouterLike, session: SessionLike) -> bool:
    """Whether every 2025 session attached is C{session}'s principal's: a
    C{roots/list} of the child during C{session}'s call, the only one on
    it, is then proven C{session}'s (L{mcpgateway.core.fanout._soleCaller})."""
    principal = _principal(session)
    if principal is None:
        return False
    return all(
        other is session or other.era2026 or _principal(other) == principal
        for other in router.sessions
    )


def _othersWritten(router: RouterLike, session: SessionLike, roots: ChildRoots) -> bool:
    """Whether a client other than C{session} has a request written to the
    child and not answered yet (one held is not written)."""
    return any(ex.session is not session and not roots.holds(ex) for ex in router.clientExchanges())


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
        router.log.info(
            "server {server}: answered its roots/list with no roots: {why}; it is told"
            " the roots changed before the next call of a session that declared roots",
            server=router.name,
            why=why,
        )
        router.send(jsonrpc.resultResponse(message["id"], dict(NO_ROOTS)))
        router.childRoots.gave(GATEWAYS, False)  # after its answer: what it held goes next
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
