# -*- test-case-name: tests.core.test_toolgate, tests.core.test_toolgate_listing -*-
"""The one place a server's pinned tools are applied: its router's
L{ToolGate}.

Every C{tools/list} answer of a child (a process or a remote server, for
every session, for the catalogs and for both protocol eras) and every
C{tools/call} to it crosses the child's L{mcpgateway.core.router.Router};
the router hands both to its gate. The gate asks the gateway's
L{PinnedTools} (the trust policy, L{mcpgateway.trust.policy.PinPolicy},
set on each pool by the gateway; C{None}: nothing is pinned) which tools
of the server's definition may be shown and called: a page of a listing
comes back without the withheld ones, and a call to a withheld tool is
answered here, with the policy's reason, without reaching the child.

A listing may take several pages: the gate follows each C{tools/list}
chain by its cursors (L{ToolListings}), so that the policy also hears the
whole list once the last page is in (what tells a removed tool, and what a
first listing pins).

The gate also keeps the names the child listed (L{ListedNames}: its
tools and its prompts, learned from every listing that crosses the
router, before the pins screen it, forgotten when the child says the list
changed or exits). Once the child has listed a kind whole, a C{tools/call}
or C{prompts/get} of a name it did not list is answered here, C{-32602}
(C{Unknown tool: NAME}, as the aggregate endpoint answers), without
reaching the child: the name a policy or a limit decided is the name the
server runs, never another spelling a server that folds case (or ignores
invisible characters) would take for a forbidden tool. A set lookup.

Where a name is decided before its call reaches the router (a policy, a
rate limit: L{PoolPins.namesDecided}), a call of a kind whose whole listing
is not known yet waits while the gate lists the child itself, every page
(L{ToolGate.listedFirst}): a client that calls without listing (a session
restored after a restart, a client that cached the tools) meets the same
refusal as one that listed. One listing serves every call waiting on it.

There the check fails closed. A listing that cannot be made whole (an
error, no answer within the request timeout, an answer that is not a
list, more than L{MAX_LISTED} names or L{MAX_FOLLOWED} pages) vouches
only for the names its pages gave: a call of any other name is refused,
C{-32000}, with why the listing failed (L{ListingFailure}), rather than
forwarded, since the name a policy decided may not be the one the server
runs. The server does not become silently unusable: the next call from
L{RETRY_FIRST} seconds on lists it again, the wait doubling with each
failure up to L{RETRY_MOST} (one listing per wait at most, and only when
a call comes: nothing is timed). A whole listing, or the child's
C{list_changed} or exit, ends the failure. A laptop gateway, which decides
no name before the call, never lists first and forwards what no whole
listing refused.

The gate also refuses what the child's C{initialize} answer says it does
not serve (L{CAPABILITY}): a C{prompts/get} of a server that declared no
C{prompts}, a C{resources/read} or C{resources/subscribe} of one that
declared no C{resources} (C{-32601}, as a 2026-07-28 request is answered,
L{mcpgateway.core.pools.era2026side}); where names are decided, a
C{tools/call} of a server that declared no C{tools} too (a laptop's calls
are not looked at for it: the hot path). A child whose capabilities are
not known is not refused.

The pins' verdict on a tool (whether a call of it is withheld, and why)
changes only when the pins do, so the gate keeps each verdict it asked
for, per tool name, for its pool's spec object (a reload's new spec
starts afresh), and the policy tells it to forget them
(L{VerdictKeeper}), before any change of that server's pins returns: a
warm call of a tool is a dict lookup, not a question to the trust layer.

A server may list more tools to a client that declared more capabilities,
so the policy also hears what the listing's client declared: the
C{capabilities} the child was initialized with (L{ListingClient}: the
gateway's own for a child it initialized, the session's for a child of
one session).

Pure core: no files, no HTTP; the policy is handed in.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.exchange import Exchange, Sink
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

GATED = frozenset(
    {
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/read",
        "resources/subscribe",
    }
)
"""The client methods a router hands its gate."""
CAPABILITY = {
    "prompts/get": "prompts",
    "resources/read": "resources",
    "resources/subscribe": "resources",
}
"""Each method the gate refuses to a child that does not declare it -> the
server capability its C{initialize} answer must name. (A subscription
needs only C{resources}: the Python SDK's servers declare
C{subscribe: false} whether or not they serve it.)"""
NAMED = {"tools/call": "tools/list", "prompts/get": "prompts/list"}
"""Each method that names an item -> the listing that names it."""
LISTINGS = frozenset(NAMED.values())
"""The answers a router hands its gate (L{ToolGate.answered}): a listing's
names are learned; a call's answer has nothing for it."""
UNKNOWN = {"tools/call": "Unknown tool", "prompts/get": "Unknown prompt"}
"""How a call of a name its server did not list is answered."""
MAX_FOLLOWED = 64
"""Listings in flight (and half-listed chains) a gate follows at most."""
MAX_LISTED = 10_000
"""Tools of one listing a gate gathers at most (a longer one is never whole)."""
RETRY_FIRST = 1.0
"""Seconds after a failed listing from which the next call lists again."""
RETRY_MOST = 60.0
"""The longest wait between two listings of a child whose listing keeps failing."""
ERROR_TEXT = 200
"""Characters of a child's error message a refusal quotes at most."""


class Announcer(Protocol):
    """What a policy may tell a router: its tools shown changed."""

    def toolsChanged(self) -> None:
        """Tell its sessions and the catalogs, as a child's own
        C{notifications/tools/list_changed} does."""


class VerdictKeeper(Protocol):
    """What keeps a policy's verdicts (a gate): told when they may have changed."""

    def forgetVerdicts(self) -> None:
        """The pins of the server it watches changed: ask again on the next call."""


class PinnedTools(Protocol):
    """The gateway's pinned tools, as the core asks them (keyed by server
    definition: the spec's name and its command and args, or URL)."""

    def screen(
        self,
        spec: ServerSpec,
        page: list[dict[str, Any]],
        whole: list[dict[str, Any]] | None,
        router: Announcer,
        capabilities: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The tools of C{page} (a C{tools/list} page of C{spec}'s child)
        its clients may see; C{whole}: every tool of the listing, when
        C{page} is its last page. C{router} is told when what it shows
        changes later (an approval). C{capabilities}: what the client the
        child listed them to declared (C{None}: not known)."""

    def refusal(self, spec: ServerSpec, tool: str) -> str | None:
        """Why a call to C{tool} is refused (C{None}: it may be called).
        A gate keeps the answer until it is told to forget it (L{watch})."""

    def watch(self, server: str, keeper: VerdictKeeper) -> None:
        """Tell C{keeper} to forget its verdicts (L{VerdictKeeper.forgetVerdicts})
        whenever the verdicts of C{server} may change: within every method
        that changes them, before it returns. C{keeper} is held weakly (a
        gate that goes away is forgotten); watching twice is watching once."""

    def withheld(self, spec: ServerSpec) -> Sequence[str]:
        """The names of the tools of C{spec} withheld now."""


ServedCapabilities = Callable[[], Mapping[str, Any] | None]
"""What a router's child declared it serves: the C{capabilities} of its
C{initialize} answer (C{None}: not known)."""

ListingClient = Callable[[], Mapping[str, Any] | None]
"""What the client a router's child lists its tools to declared: the
C{capabilities} of the C{initialize} the child was given (C{None}: not
known)."""


class PoolPins(Protocol):
    """What a gate reads of its pool: the server as configured, the pins,
    and whether a call's name is decided before the call (C{namesDecided}:
    a policy or rate limits are configured), so that the child is listed
    before a call of a name it may not have."""

    spec: ServerSpec
    toolPins: PinnedTools | None

    @property
    def namesDecided(self) -> bool: ...


class ChildLister(Protocol):
    """How a gate asks its child for a listing: the router's own requests."""

    def call(self, method: str, params: dict[str, Any] | None = None) -> Deferred[Message]: ...


class ToolListings:
    """The C{tools/list} requests in flight on one child, and the listings
    they continue: which page is a listing's last, and what came before it.

    Bounded: at most L{MAX_FOLLOWED} of each, the oldest forgotten (a
    forgotten listing is never whole; its pages are still screened)."""

    def __init__(self) -> None:
        self._sent: OrderedDict[int, str | None] = OrderedDict()
        """Child id of each C{tools/list} in flight -> the cursor it asked for."""
        self.declared: dict[int, Mapping[str, Any] | None] = {}
        """Child id of each C{tools/list} in flight -> what its client declared."""
        self._partial: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        """The next cursor of each unfinished listing -> its tools so far."""

    def sent(self, childId: int, params: Any, declared: Mapping[str, Any] | None = None) -> None:
        """A C{tools/list} (of C{params}) went to the child as C{childId},
        which lists to a client that declared C{declared}."""
        cursor = params.get("cursor") if isinstance(params, dict) else None
        self._sent[childId] = cursor if isinstance(cursor, str) else None
        self.declared[childId] = declared
        while len(self._sent) > MAX_FOLLOWED:
            forgotten, _ = self._sent.popitem(last=False)
            self.declared.pop(forgotten, None)

    def answered(
        self, childId: int, tools: list[dict[str, Any]], nextCursor: Any
    ) -> list[dict[str, Any]] | None:
        """The page of request C{childId} came: the whole listing when it
        is its last page and every page before it was followed; C{None}
        otherwise."""
        if childId not in self._sent:
            return None
        cursor = self._sent.pop(childId)
        self.declared.pop(childId, None)
        before = [] if cursor is None else self._partial.pop(cursor, None)
        if before is None:
            return None  # continues a listing not followed from its start
        listed = before + tools
        if len(listed) > MAX_LISTED:
            return None
        if isinstance(nextCursor, str):
            self._partial[nextCursor] = listed
            while len(self._partial) > MAX_FOLLOWED:
                self._partial.popitem(last=False)
            return None
        return listed


class ListingFailure:
    """Why the gate's own listing of a kind could not be made whole, and
    when the next call lists it again (see the module docstring)."""

    __slots__ = ("code", "retryAt", "why")

    def __init__(self, why: str, retryAt: float, code: int = jsonrpc.SERVER_UNAVAILABLE) -> None:
        self.why = why
        """What went wrong (C{its tools/list failed with error ...})."""
        self.retryAt = retryAt
        """When a call lists the kind again (infinity: not before it changes)."""
        self.code = code
        """The JSON-RPC code a call it refuses is answered with."""


class ListedNames:
    """The names of one kind (tools, prompts) a child listed: whether it
    listed them whole since they last changed, and which they are.

    A listing is whole once its pages were followed from the first to the
    last (at most L{MAX_LISTED} names); a page of a listing not followed
    from its start adds its names without making the kind whole."""

    __slots__ = ("_partial", "_sent", "changes", "failed", "failure", "known", "names")

    def __init__(self) -> None:
        self.known = False
        """Whether a whole listing came since the kind last changed."""
        self.failure: ListingFailure | None = None
        """Why the gate's own listing since the kind last changed was not
        whole (C{None}: none failed)."""
        self.failed = 0
        """The gate's own listings that failed in a row (its wait doubles)."""
        self.changes = 0
        """How many times the kind changed (a listing sent before is stale)."""
        self.names: set[str] = set()
        """The names listed since the kind last changed: a whole listing's,
        else those its pages gave (at most L{MAX_LISTED})."""
        self._sent: OrderedDict[int, str | None] = OrderedDict()
        self._partial: OrderedDict[str, set[str]] = OrderedDict()

    def sent(self, childId: int, params: Any) -> None:
        """A listing (of C{params}) went to the child as C{childId}."""
        cursor = params.get("cursor") if isinstance(params, dict) else None
        self._sent[childId] = cursor if isinstance(cursor, str) else None
        while len(self._sent) > MAX_FOLLOWED:
            self._sent.popitem(last=False)

    def answered(self, childId: int, items: list[Any], nextCursor: Any) -> None:
        """The page of request C{childId} came with C{items}."""
        page = {
            item["name"]
            for item in items
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        if len(self.names) < MAX_LISTED:
            self.names |= page
        if childId not in self._sent:
            return
        cursor = self._sent.pop(childId)
        before = set() if cursor is None else self._partial.pop(cursor, None)
        if before is None:
            return  # continues a listing not followed from its start
        listed = before | page
        if len(listed) > MAX_LISTED:
            return
        if isinstance(nextCursor, str):
            self._partial[nextCursor] = listed
            while len(self._partial) > MAX_FOLLOWED:
                self._partial.popitem(last=False)
            return
        self.names, self.known = listed, True
        self.failure, self.failed = None, 0

    def changed(self) -> None:
        """The child said the list changed (or it exited): nothing is known."""
        self.known = False
        self.failure, self.failed = None, 0
        self.changes += 1
        self.names = set()
        self._partial.clear()


class ToolGate:
    """What one router asks of its pool's pinned tools (see the module
    docstring)."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.trust")

    def __init__(
        self,
        pool: PoolPins,
        client: ListingClient | None = None,
        served: ServedCapabilities | None = None,
        *,
        clock: IReactorTime,
    ) -> None:
        """
        @param client: what its child's client declared (C{None}: not known).
        @param served: what its child declared it serves (C{None}: not known).
        @param clock: when a failed listing is tried again.
        """
        self._pool = pool
        self._client = client
        self._served = served
        self._clock = clock
        self.listings = ToolListings()
        self.listed = {"tools/list": ListedNames(), "prompts/list": ListedNames()}
        """What the child listed, by listing method."""
        self._waiting: dict[str, list[Deferred[None]]] = {}
        """The calls waiting for the gate's own listing, by listing method."""
        self.verdicts: dict[str, str | None] = {}
        """The pins' verdict on each tool called since they last changed:
        why a call of it is withheld (C{None}: it is not), for the spec
        C{verdictsOf} by the policy C{verdictsBy}."""
        self.verdictsOf: ServerSpec | None = None
        """The spec object C{verdicts} are for (the pool's, when last asked)."""
        self.verdictsBy: PinnedTools | None = None
        """The policy C{verdicts} are of, which this gate watches."""

    def listedFirst(self, child: ChildLister, message: Message) -> Deferred[None] | None:
        """A call (C{message}) about to go: C{None} when it goes now, else
        a Deferred that fires once the gate has listed the kind it names
        (L{PoolPins.namesDecided}; see the module docstring)."""
        listing = NAMED.get(message["method"])
        if listing is None or not (self._pool.spec.limits or self._pool.namesDecided):
            return None
        listed = self.listed[listing]
        if listed.known:
            return None
        waiting = self._waiting.get(listing)
        first = waiting is None
        if waiting is None:
            failure = listed.failure
            if failure is not None and self._clock.seconds() < failure.retryAt:
                return None  # refused as it goes (L{gated}), saying why
            kind = listing.split("/")[0]
            if self._undeclared(kind):
                why = f"server '{self._pool.spec.name}' does not declare the {kind} capability"
                listed.failure = ListingFailure(why, math.inf, jsonrpc.METHOD_NOT_FOUND)
                return None
            waiting = self._waiting[listing] = []
        waiter: Deferred[None] = Deferred(lambda d: waiting.remove(d) if d in waiting else None)
        waiting.append(waiter)
        if first:
            self.log.info(
                "server {server}: a call before its whole {listing}; listing it first",
                server=self._pool.spec.name,
                listing=listing,
            )
            self._follow(child, listing, None, 1, listed.changes)
        return waiter

    def _follow(
        self, child: ChildLister, listing: str, cursor: str | None, pages: int, changes: int
    ) -> None:
        """Ask the child for one page of C{listing} (the router learns its names)."""
        answer = child.call(listing, None if cursor is None else {"cursor": cursor})
        answer.addCallback(self._page, child, listing, pages, changes)
        answer.addErrback(self._listingFailed, listing, changes)
        answer.addErrback(self._unexpected)

    def _page(
        self, message: Message, child: ChildLister, listing: str, pages: int, changes: int
    ) -> None:
        result = message.get("result")
        nextCursor = result.get("nextCursor") if isinstance(result, dict) else None
        if isinstance(nextCursor, str) and pages < MAX_FOLLOWED and not self.listed[listing].known:
            self._follow(child, listing, nextCursor, pages + 1, changes)
            return
        self._listed(
            listing, changes, None if self.listed[listing].known else notWhole(listing, message)
        )

    def _listingFailed(self, reason: Failure, listing: str, changes: int) -> None:
        """The listing did not come (cancelled, a defect): the calls waiting
        on it are refused, saying so."""
        self.log.failure(
            "server {server}: listing its {listing} failed",
            reason,
            server=self._pool.spec.name,
            listing=listing,
        )
        text = reason.getErrorMessage() or type(reason.value).__name__
        why = f"listing its {listing} failed ({logs.clientText(text, ERROR_TEXT)})"
        self._listed(listing, changes, why)

    def _unexpected(self, reason: Failure) -> None:
        self.log.failure("releasing the calls waiting for a listing failed", reason)

    def _listed(self, listing: str, changes: int, why: str | None) -> None:
        """The gate's own listing ended (C{why}: why it is not whole): the
        calls waiting on it go, to be decided against it."""
        listed = self.listed[listing]
        if why is not None:
            now = self._clock.seconds()
            if changes == listed.changes:
                wait = min(RETRY_FIRST * 2**listed.failed, RETRY_MOST)
                listed.failed += 1
            else:
                wait = 0.0  # listed before its list changed: list it again at once
            listed.failure = ListingFailure(why, now + wait)
            self.log.warn(
                "server {server}: its {listing} could not be listed whole: {why}; calls of"
                " names it did not list are refused, and the first call after {wait:g} s"
                " lists it again",
                server=self._pool.spec.name,
                listing=listing,
                why=why,
                wait=wait,
                listingFailed=listing,
            )
        for waiter in self._waiting.pop(listing, []):
            waiter.callback(None)

    def _undeclared(self, kind: str) -> bool:
        """Whether the child's C{initialize} answer is known and does not
        declare the capability C{kind}."""
        capabilities = None if self._served is None else self._served()
        if not isinstance(capabilities, Mapping):
            return False
        declared = capabilities.get(kind)
        return declared is None or declared is False

    def _decides(self) -> bool:
        """Whether its pool's calls are decided by name before they come."""
        return bool(self._pool.spec.limits) or self._pool.namesDecided

    def gated(
        self, childId: int, session: SessionLike | None, message: Message, related: Sink | None
    ) -> Exchange | None:
        """A listing or a call (of L{GATED}) about to go to the child as
        C{childId}: an exchange already answered when the call is refused,
        else C{None} (it goes)."""
        method = message["method"]
        params = message.get("params")
        listing = NAMED.get(method)
        if listing is None:
            if method in LISTINGS:
                self.listed[method].sent(childId, params)
                pins = self._pool.toolPins
                if pins is not None and method == "tools/list":
                    client = self._client
                    self.listings.sent(childId, params, None if client is None else client())
                return None
            return self._undeclaredRefusal(childId, session, message, related)
        if method != "tools/call":
            refused = self._undeclaredRefusal(childId, session, message, related)
            if refused is not None:
                return refused
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str):
            return None  # the child answers what is not a call
        why = None
        listed = self.listed[listing]
        if listed.known:
            if name not in listed.names:
                why = f"{UNKNOWN[method]}: {name}"
                self.log.info(
                    "server {server}: {method} of {name}, which it did not list, refused",
                    server=self._pool.spec.name,
                    method=method,
                    name=logs.clientText(name),
                    unlistedRefused=name,
                )
        elif listed.failure is not None and name not in listed.names and self._decides():
            return self._unvouched(childId, session, message, related, listed.failure, name)
        if why is None and method == "tools/call":
            why = self._withheld(name)
        if why is None:
            return None
        return _refused(childId, session, message, related, jsonrpc.INVALID_PARAMS, why)

    def _unvouched(
        self,
        childId: int,
        session: SessionLike | None,
        message: Message,
        related: Sink | None,
        failure: ListingFailure,
        name: str,
    ) -> Exchange:
        """The refusal of C{message}, a call of C{name}, which no whole
        listing vouches for since C{failure}."""
        method = message["method"]
        server = self._pool.spec.name
        self.log.info(
            "server {server}: {method} of {name} refused: {why}",
            server=server,
            method=method,
            name=logs.clientText(name),
            why=failure.why,
            unvouchedRefused=name,
        )
        if failure.code == jsonrpc.METHOD_NOT_FOUND:
            why = f"Method not found: {method} ({failure.why})"
        else:
            wait = math.ceil(failure.retryAt - self._clock.seconds())
            when = f"the first call after {wait:d} s" if wait > 0 else "the next call"
            why = (
                f"{method} of {name!r} refused: server '{server}' could not list its"
                f" {NAMED[method].split('/')[0]} ({failure.why}), so the gateway cannot tell"
                f" that the name is one it gave; it lists them again at {when}"
            )
        return _refused(childId, session, message, related, failure.code, why)

    def _undeclaredRefusal(
        self, childId: int, session: SessionLike | None, message: Message, related: Sink | None
    ) -> Exchange | None:
        """The refusal of C{message} when its child does not declare the
        capability it needs (L{CAPABILITY}); C{None}: it goes."""
        method = message["method"]
        what = CAPABILITY.get(method)
        if what is None or not self._undeclared(what):
            return None
        server = self._pool.spec.name
        self.log.info(
            "server {server}: {method} refused: it does not declare {what}",
            server=server,
            method=method,
            what=what,
            undeclaredRefused=method,
        )
        why = (
            f"Method not found: {method} (server '{server}' does not declare the {what} capability)"
        )
        return _refused(childId, session, message, related, jsonrpc.METHOD_NOT_FOUND, why)

    def _withheld(self, name: str) -> str | None:
        """Why a call of tool C{name} is refused by its pins (C{None}: it is
        not): the verdict kept, else the policy's, kept."""
        pins = self._pool.toolPins
        if pins is None:
            return None
        spec = self._pool.spec
        if spec is not self.verdictsOf or pins is not self.verdictsBy:
            pins.watch(spec.name, self)  # first: kept only once it is told of changes
            self.verdicts = {}
            self.verdictsOf, self.verdictsBy = spec, pins
        verdicts = self.verdicts
        try:
            why = verdicts[name]
        except KeyError:
            why = pins.refusal(spec, name)
            if len(verdicts) >= MAX_LISTED:
                verdicts.clear()  # names nobody listed: kept no longer than a listing's
            verdicts[name] = why
        if why is not None:
            self.log.info(
                "server {server}: call of withheld tool {tool} refused",
                server=spec.name,
                tool=logs.clientText(name),
                pinsRefused=name,
            )
        return why

    def forgetVerdicts(self) -> None:
        """The pins changed (L{VerdictKeeper}): the next call of each tool asks them."""
        self.verdicts = {}

    def answered(self, router: Announcer, childId: int, method: str, message: Message) -> Message:
        """The child's answer C{message} to request C{childId} of
        C{method}: a listing's names are learned; a C{tools/list} comes back
        without the tools its clients may not see."""
        listed = self.listed.get(method)
        if listed is None:
            return message
        result = message.get("result")
        items = result.get(method.split("/")[0]) if isinstance(result, dict) else None
        if isinstance(items, list):
            assert isinstance(result, dict)
            listed.answered(childId, items, result.get("nextCursor"))
        if method != "tools/list":
            return message
        return self.screened(router, childId, message)

    def changed(self, method: str | None) -> None:
        """The child's C{notifications/*/list_changed} of C{method}
        (C{None}: the child exited): forget what it listed."""
        for name, listed in self.listed.items():
            if method is None or method == f"notifications/{name.split('/')[0]}/list_changed":
                listed.changed()

    def screened(self, router: Announcer, childId: int, message: Message) -> Message:
        """The child's answer C{message} to C{tools/list} request C{childId},
        without the tools its clients may not see."""
        pins = self._pool.toolPins
        result = message.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        if pins is None or not isinstance(tools, list):
            return message
        assert isinstance(result, dict)
        page = [tool for tool in tools if isinstance(tool, dict)]
        declared = self.listings.declared.get(childId)
        if declared is None and self._client is not None:
            declared = self._client()  # a listing not seen going (forgotten)
        whole = self.listings.answered(childId, page, result.get("nextCursor"))
        try:
            shown = pins.screen(self._pool.spec, page, whole, router, declared)
        except Exception:  # a defect: withhold every tool rather than show unchecked ones
            self.log.failure(
                "server {server}: checking its tools against their pins failed",
                server=self._pool.spec.name,
            )
            shown = []
        if len(shown) == len(tools):
            return message
        return {**message, "result": {**result, "tools": shown}}


def _refused(
    childId: int,
    session: SessionLike | None,
    message: Message,
    related: Sink | None,
    code: int,
    why: str,
) -> Exchange:
    """An exchange of C{message}, answered at once with the error C{code}: C{why}."""
    refused = Exchange(session, message.get("id"), message["method"], None, related, _noCancel)
    refused.childId = childId
    refused.response.callback(jsonrpc.errorResponse(message.get("id"), code, why))
    return refused


def notWhole(listing: str, message: Message) -> str:
    """Why the gate's own listing whose last answer was C{message} is not
    whole (a child's text quoted, made fit for a line, at most
    L{ERROR_TEXT} characters)."""
    error = message.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        text = error.get("message") if isinstance(error, dict) else error
        quoted = logs.clientText(text, ERROR_TEXT)
        if code == jsonrpc.REQUEST_TIMEOUT:
            return f"its {listing} timed out: {quoted}"
        return f"its {listing} failed with error {code}: {quoted}"
    result = message.get("result")
    kind = listing.split("/")[0]
    if not isinstance(result, dict):
        return f"its {listing} answer has no result object"
    if not isinstance(result.get(kind), list):
        return f"its {listing} answer has no list of {kind}"
    if isinstance(result.get("nextCursor"), str):
        return f"its {listing} goes on past {MAX_FOLLOWED} pages"
    return f"its {listing} has more than {MAX_LISTED:,} names, or its list changed meanwhile"


def _noCancel(_: object) -> None:
    """A refused call has nothing on the child to cancel."""
