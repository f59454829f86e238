# -*- test-case-name: tests.core.test_toolgate -*-
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
rate limit: L{PoolPins.listFirst}), a call of a kind whose whole listing
is not known yet waits while the gate lists the child itself, every page
(L{ToolGate.listedFirst}): a client that calls without listing (a session
restored after a restart, a client that cached the tools) meets the same
refusal as one that listed. One listing serves every call waiting on it.
A child whose listing cannot be made whole (an error, more than
L{MAX_LISTED} names, more than L{MAX_FOLLOWED} pages) is listed once per
change of its list; its calls then go as sent. A laptop gateway, which
decides no name before the call, never lists first.

A server may list more tools to a client that declared more capabilities,
so the policy also hears what the listing's client declared: the
C{capabilities} the child was initialized with (L{ListingClient}: the
gateway's own for a child it initialized, the session's for a child of
one session).

Pure core: no files, no HTTP; the policy is handed in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.exchange import Exchange, Sink
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

GATED = frozenset({"tools/list", "tools/call", "prompts/list", "prompts/get"})
"""The client methods a router hands its gate."""
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


class Announcer(Protocol):
    """What a policy may tell a router: its tools shown changed."""

    def toolsChanged(self) -> None:
        """Tell its sessions and the catalogs, as a child's own
        C{notifications/tools/list_changed} does."""


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
        """Why a call to C{tool} is refused (C{None}: it may be called)."""

    def withheld(self, spec: ServerSpec) -> Sequence[str]:
        """The names of the tools of C{spec} withheld now."""


ListingClient = Callable[[], Mapping[str, Any] | None]
"""What the client a router's child lists its tools to declared: the
C{capabilities} of the C{initialize} the child was given (C{None}: not
known)."""


class PoolPins(Protocol):
    """What a gate reads of its pool: the server as configured, the pins,
    and whether a call's name is decided before the call (C{listFirst}:
    a policy or rate limits are configured), so that the child is listed
    before a call of a name it may not have."""

    spec: ServerSpec
    toolPins: PinnedTools | None

    @property
    def listFirst(self) -> Callable[[], bool]: ...


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


class ListedNames:
    """The names of one kind (tools, prompts) a child listed: whether it
    listed them whole since they last changed, and which they are.

    A listing is whole once its pages were followed from the first to the
    last (at most L{MAX_LISTED} names); a page of a listing not followed
    from its start adds its names without making the kind whole."""

    __slots__ = ("_partial", "_sent", "known", "listedFirst", "names")

    def __init__(self) -> None:
        self.known = False
        """Whether a whole listing came since the kind last changed."""
        self.listedFirst = False
        """Whether the gate listed the kind itself since it last changed."""
        self.names: set[str] = set()
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

    def changed(self) -> None:
        """The child said the list changed (or it exited): nothing is known."""
        self.known = False
        self.listedFirst = False
        self.names = set()
        self._partial.clear()

    def refuses(self, name: str) -> bool:
        """Whether a call of C{name} is refused: the kind was listed whole
        and C{name} is not in it."""
        return self.known and name not in self.names


class ToolGate:
    """What one router asks of its pool's pinned tools (see the module
    docstring)."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.trust")

    def __init__(self, pool: PoolPins, client: ListingClient | None = None) -> None:
        """
        @param client: what its child's client declared (C{None}: not known).
        """
        self._pool = pool
        self._client = client
        self.listings = ToolListings()
        self.listed = {"tools/list": ListedNames(), "prompts/list": ListedNames()}
        """What the child listed, by listing method."""
        self._waiting: dict[str, list[Deferred[None]]] = {}
        """The calls waiting for the gate's own listing, by listing method."""

    def listedFirst(self, child: ChildLister, message: Message) -> Deferred[None] | None:
        """A call (C{message}) about to go: C{None} when it goes now, else
        a Deferred that fires once the gate has listed the kind it names
        (L{PoolPins.listFirst}; see the module docstring)."""
        listing = NAMED.get(message["method"])
        if listing is None or not (self._pool.spec.limits or self._pool.listFirst()):
            return None
        listed = self.listed[listing]
        if listed.known or listed.listedFirst:
            return None
        waiting = self._waiting.get(listing)
        first = waiting is None
        if waiting is None:
            waiting = self._waiting[listing] = []
        waiter: Deferred[None] = Deferred(lambda d: waiting.remove(d) if d in waiting else None)
        waiting.append(waiter)
        if first:
            self.log.info(
                "server {server}: a call before its whole {listing}; listing it first",
                server=self._pool.spec.name,
                listing=listing,
            )
            self._follow(child, listing, None, 1)
        return waiter

    def _follow(self, child: ChildLister, listing: str, cursor: str | None, pages: int) -> None:
        """Ask the child for one page of C{listing} (the router learns its names)."""
        answer = child.call(listing, None if cursor is None else {"cursor": cursor})
        answer.addCallback(self._page, child, listing, pages)
        answer.addErrback(self._listingFailed, listing)
        answer.addErrback(self._unexpected)

    def _page(self, message: Message, child: ChildLister, listing: str, pages: int) -> None:
        result = message.get("result")
        nextCursor = result.get("nextCursor") if isinstance(result, dict) else None
        if isinstance(nextCursor, str) and pages < MAX_FOLLOWED and not self.listed[listing].known:
            self._follow(child, listing, nextCursor, pages + 1)
            return
        self._listed(listing)

    def _listingFailed(self, reason: Failure, listing: str) -> None:
        """The listing did not come (cancelled, a defect): the calls go as sent."""
        self.log.failure(
            "server {server}: listing its {listing} failed",
            reason,
            server=self._pool.spec.name,
            listing=listing,
        )
        self._listed(listing)

    def _unexpected(self, reason: Failure) -> None:
        self.log.failure("releasing the calls waiting for a listing failed", reason)

    def _listed(self, listing: str) -> None:
        """The gate's own listing ended: the calls waiting on it go."""
        listed = self.listed[listing]
        listed.listedFirst = True
        if not listed.known:
            self.log.warn(
                "server {server}: its {listing} could not be listed whole; calls go as sent",
                server=self._pool.spec.name,
                listing=listing,
            )
        for waiter in self._waiting.pop(listing, []):
            waiter.callback(None)

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
            self.listed[method].sent(childId, params)
            pins = self._pool.toolPins
            if pins is not None and method == "tools/list":
                client = self._client
                self.listings.sent(childId, params, None if client is None else client())
            return None
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str):
            return None  # the child answers what is not a call
        why = None
        if self.listed[listing].refuses(name):
            why = f"{UNKNOWN[method]}: {name}"
            self.log.info(
                "server {server}: {method} of {name}, which it did not list, refused",
                server=self._pool.spec.name,
                method=method,
                name=logs.clientText(name),
                unlistedRefused=name,
            )
        elif method == "tools/call":
            why = self._withheld(name)
        if why is None:
            return None
        refused = Exchange(session, message.get("id"), method, None, related, _noCancel)
        refused.childId = childId
        refused.response.callback(
            jsonrpc.errorResponse(message.get("id"), jsonrpc.INVALID_PARAMS, why)
        )
        return refused

    def _withheld(self, name: str) -> str | None:
        """Why a call of tool C{name} is refused by its pins (C{None}: it is not)."""
        pins = self._pool.toolPins
        if pins is None:
            return None
        spec = self._pool.spec
        why = pins.refusal(spec, name)
        if why is not None:
            self.log.info(
                "server {server}: call of withheld tool {tool} refused",
                server=spec.name,
                tool=logs.clientText(name),
                pinsRefused=name,
            )
        return why

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


def _noCancel(_: object) -> None:
    """A refused call has nothing on the child to cancel."""
