# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.aggregate.test_era2026 -*-
"""A session of the aggregate endpoint and what it is made of: the
L{AggregateSession} a client holds, the L{MemberSession} it opens on each
member server at first use, what the aggregator needs of the catalogs and
of the gateway's own tools, and the endpoint's bounds and timings.
"""

from __future__ import annotations

import itertools
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from twisted.internet.defer import (
    Deferred,
)

from mcpgateway import __version__
from mcpgateway.core.aggregate.results import ResultStore
from mcpgateway.core.aggregate.types import (
    TaskTable,
)
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.protocol.jsonrpc import Message

Sink = Callable[[Message], bool]

SERVER_INFO = {"name": "mcpgateway", "title": "mcpgateway (all servers)", "version": __version__}
"""The aggregate endpoint's C{serverInfo} (its C{initialize} answer, its
2026-07-28 C{server/discover} and results)."""
GATEWAY_TOOL_NAMES = frozenset({"search", "describe", "invoke", "get_result"})
NOTIFY_DELAY = 0.25
"""Seconds list changes are gathered before a session is told."""
MEMBER_INSTRUCTIONS = 2000
"""Characters of one member's own instructions an aggregate session is given."""
VIEWS = 1024
"""Views kept (one per endpoint, mode and set of members and catalogs: per
principal for per-user servers), the least recently used dropped first."""
LEARNED_URIS = 1024
"""URIs a session's results named, remembered per session (their owner)."""
TASKS_KEPT = 256
"""Task ids remembered per session (their owner), the oldest terminal ones
forgotten first."""
TASKS_PAGE = 50
"""Tasks in one page of C{tasks/list}."""
TASK_NOT_FOUND = "Failed to retrieve task: Task not found"
"""The start of the error (C{-32602}) for a task id the session does not own."""
REPROBE_SOON = 1.0
"""Seconds before the background re-probe looks again at a catalog that
may be probed now (coalesces the sessions that need it)."""
REPROBE_POLL = 5.0
"""Seconds between two looks at a catalog whose probe is in flight."""
STARTING = (
    "still starting: its tools are listed when it is ready (notifications/tools/list_changed)"
)
"""What a client is told of a member whose catalog is being listed."""
KIND_METHOD = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
}
CHILD_LIST_CHANGED = frozenset(KIND_METHOD.values())


class CatalogLike(Protocol):
    """What the aggregator needs of the catalogs (L{mcpgateway.core.gateway.catalog.Catalogs})."""

    def get(self, server: str, catalogKey: str = "") -> Any:
        """The catalog known now (with C{.lists}), or C{None}."""

    def ensure(self, pool: PoolLike, catalogKey: str = "", principal: str = "") -> Deferred[Any]:
        """The catalog, probing the server once if none is known."""

    def observe(self, cb: Callable[[str, frozenset[str]], None]) -> Callable[[], None]:
        """Call C{cb(server, kinds)} when a server's lists changed."""

    def failed(self, server: str, catalogKey: str = "") -> bool:
        """Whether the last probe of that catalog failed."""

    def reason(self, server: str, catalogKey: str = "") -> str | None:
        """Why it failed, in words a client may be shown (no stderr)."""

    def probing(self, server: str, catalogKey: str = "") -> bool:
        """Whether a probe of that catalog is in flight."""

    def retryAt(self, server: str, catalogKey: str = "") -> float | None:
        """When L{ensure} probes a failed catalog again (C{None}: not failed)."""

    def known(self) -> Sequence[Any]:
        """Every catalog served now (with C{.server} and C{.lists})."""

    def expired(self, server: str, catalogKey: str = "") -> bool:
        """Whether a list of that catalog is past its C{ttlMs}: L{ensure}
        lists it again."""


class ToolsLike(Protocol):
    """What the aggregator needs of the gateway's own tools
    (L{mcpgateway.core.aggregate.tools.GatewayTools})."""

    def definitions(self, withResults: bool) -> list[dict[str, Any]]: ...

    def instructions(
        self, members: Mapping[str, int], mode: str, unavailable: Mapping[str, str] | None = None
    ) -> str: ...

    def call(self, name: str, arguments: Any, context: Any) -> Deferred[dict[str, Any]]: ...

    def shieldResult(
        self, result: dict[str, Any], outputSchema: dict[str, Any] | None, context: Any
    ) -> Deferred[dict[str, Any]]: ...

    def rowsChanged(self, rows: Callable[[], Sequence[Any]]) -> None: ...


class CallFailed(Exception):
    """A call through the aggregate failed with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChildRelay(Protocol):
    """Where a member session hands what its child sends it
    (L{mcpgateway.core.aggregate.relay.MemberRelay})."""

    def fromChild(self, member: MemberSession, message: Message, sink: Sink | None) -> bool:
        """Pass what C{member}'s child sent to its aggregate session's
        client (to C{sink}, the stream of the request it concerns, when
        given); C{False} if it could not be delivered."""


class MemberSession(Session):
    """The session an aggregate session has on one member server (never
    registered: only its aggregate session knows it, and its record is
    saved within its aggregate session's, L{saved})."""

    __slots__ = ("parent", "pool", "relay")

    def __init__(
        self,
        parent: AggregateSession,
        pool: PoolLike,
        relay: ChildRelay,
        route: str,
        now: float,
        sessionId: str | None = None,
    ) -> None:
        """
        @param sessionId: its id (C{None}: a fresh one; a member restored
            from its aggregate session's record keeps its own, which names
            it to the child a restart or a crash hands over).
        """
        super().__init__(
            secrets.token_urlsafe(24) if sessionId is None else sessionId,
            pool.spec.name,
            parent.protocolVersion,
            parent.capabilities,
            parent.clientInfo,
            now,
        )
        self.parent = parent
        self.pool = pool
        self.relay = relay
        self.scope = route
        self.principal = parent.principal
        self.clientPid = parent.clientPid

    @property
    def recordId(self) -> str:
        """Its record is its aggregate session's."""
        return self.parent.id

    def saved(self) -> dict[str, Any]:
        """What of it outlives the process, within its aggregate session's
        record (the client's capabilities, client info, pid and principal
        are its aggregate session's)."""
        return {
            "server": self.server,
            "id": self.id,
            "scope": self.scope,
            "protocolVersion": self.protocolVersion,
            "logLevel": self.logLevel,
            "subscriptions": sorted(self.subscriptions),
            "created": self.created,
            **({"called": True} if self.called else {}),
        }

    @classmethod
    def fromSaved(
        cls, parent: AggregateSession, pool: PoolLike, relay: ChildRelay, saved: dict[str, Any]
    ) -> MemberSession:
        """The member C{saved} (a checked L{saved}) describes, of C{parent}
        on C{pool}, marked restored."""
        member = cls(parent, pool, relay, saved["scope"], saved["created"], saved["id"])
        member.protocolVersion = saved["protocolVersion"]
        member.logLevel = saved["logLevel"]
        if saved["subscriptions"]:
            member.subscriptions = set(saved["subscriptions"])
        member.called = saved.get("called") is True
        member.restored = True
        return member

    def deliver(self, message: Message) -> bool:
        return self.relay.fromChild(self, message, None)

    def awaitStream(self, callback: Callable[[], None]) -> None:
        """Its stream is its aggregate session's GET stream."""
        self.parent.awaitStream(callback)

    def unawaitStream(self, callback: Callable[[], None]) -> None:
        self.parent.unawaitStream(callback)


class AggregateSession(Session):
    """A client session on an aggregate endpoint."""

    __slots__ = (
        "_askIds",
        "asker",
        "asks",
        "ended",
        "endpoint",
        "forCaller",
        "inflight",
        "learned",
        "mayUse",
        "members",
        "mode",
        "opening",
        "results",
        "saved",
        "seen",
        "tasks",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = "default"
        """The name of its endpoint's settings."""
        self.mode = "full"
        """C{"full"} or C{"search"} (chosen at C{initialize})."""
        self.ended = False
        self.members: dict[str, MemberSession] = {}
        self.saved: dict[str, dict[str, Any]] = {}
        """The saved records of members restored from a previous process
        and not taken back yet (their server not configured when it was
        restored), by server: taken back at their next use, and saved
        again meanwhile."""
        self.opening: dict[str, list[Deferred[MemberSession]]] = {}
        self.inflight: dict[tuple[str, Any], MemberSession] = {}
        self.asks: dict[int, tuple[MemberSession, int]] = {}
        self._askIds: Iterator[int] = itertools.count(1)
        self.learned: OrderedDict[str, str] = OrderedDict()
        self.results: ResultStore | None = None
        self.tasks = TaskTable(TASKS_KEPT)
        """The tasks its members created for it (task id -> owner)."""
        self.seen: dict[str, str] = {}
        """Per kind, the fingerprint of the list the client was last given."""
        self.mayUse: Callable[[str], bool] = everything
        self.asker: Any = None
        """Who asks now (L{mcpgateway.core.aggregate.memberpolicy.Asker}),
        which a policy decides by; the web sets it per request."""
        self.forCaller: Callable[[Message], Message] = asIs
        """A member's error as the session's current caller may read it (the
        web sets it per request: a child's stderr is an admin's only on a
        gateway reachable from other machines)."""

    def nextAskId(self) -> int:
        return next(self._askIds)

    def learn(self, server: str, result: Mapping[str, Any]) -> None:
        """Remember the URIs C{server}'s C{result} (a tool's) named as that
        server's: a C{resources/read} of one goes to it before any template
        (the last L{LEARNED_URIS} kept)."""
        content = result.get("content")
        if not isinstance(content, list):
            return
        learned = self.learned
        for item in content:
            if not isinstance(item, dict):
                continue
            uri: Any = None
            if item.get("type") == "resource_link":
                uri = item.get("uri")
            elif item.get("type") == "resource" and isinstance(item.get("resource"), dict):
                uri = item["resource"].get("uri")
            if isinstance(uri, str):
                learned[uri] = server
                learned.move_to_end(uri)
                while len(learned) > LEARNED_URIS:
                    learned.popitem(last=False)

    def record(self) -> dict[str, Any]:
        """Its own record, with its endpoint, its mode and its members'
        (L{MemberSession.saved}): a restart or a crash gives each member
        its child back."""
        record = super().record()
        members = {**self.saved, **{s: m.saved() for s, m in self.members.items()}}
        aggregate: dict[str, Any] = {"endpoint": self.endpoint, "mode": self.mode}
        if members:
            aggregate["members"] = [members[server] for server in sorted(members)]
        record["aggregate"] = aggregate
        return record

    @classmethod
    def fromRecord(cls, record: dict[str, Any]) -> AggregateSession:
        session = cls(
            record["id"],
            record["server"],
            record["protocolVersion"],
            record["capabilities"],
            record["clientInfo"],
            record["created"],
        )
        session.lastActivity = record["lastActivity"]
        session.logLevel = record["logLevel"]
        session.subscriptions = set(record["subscriptions"])
        session.clientPid = record["clientPid"]
        session.scope = record.get("scope", "")
        session.principal = record.get("principal", "")
        session.listenAsSaved(record)
        session.restored = True
        if session.principal:
            session.mayUse = nothing  # until a request of its principal binds it
        info = record.get("aggregate")
        if isinstance(info, dict):
            if isinstance(info.get("endpoint"), str):
                session.endpoint = info["endpoint"]
            if info.get("mode") in ("full", "search"):
                session.mode = info["mode"]
            for saved in info.get("members") or ():
                session.saved[saved["server"]] = saved
        return session


def everything(server: str) -> bool:
    return True


def asIs(message: Message) -> Message:
    return message


def nothing(server: str) -> bool:
    return False


def idKey(requestId: Any) -> tuple[str, Any]:
    return (type(requestId).__name__, requestId)
