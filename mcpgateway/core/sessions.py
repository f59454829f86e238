# -*- test-case-name: tests.web.admin.test_sessions_api, tests.core.test_backlog -*-
"""Client sessions: one C{Mcp-Session-Id} per client per server endpoint.

A L{Session} carries what the gateway learned at C{initialize} (protocol
version, capabilities, client info), its standalone GET stream, its log level
and resource subscriptions, how many of its requests wait for a child, and
when it was last active. The
L{SessionRegistry} hands out unguessable ids and finds sessions by id.

What outlives the process is a session's L{Session.record} (plain JSON
values): the gateway hands the records to a L{SessionPersistence} (the file
store lives in L{mcpgateway.ops.sessionstore}) and rebuilds the sessions of
a previous process with L{Session.fromRecord}.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.backlog import Backlog, isNotification
from mcpgateway.core.spec import Variant
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

_log = Logger(observer=logs.observer, namespace="mcpgateway.core.sessions")


class SessionLike(Protocol):
    """What routing needs of a client session (a L{Session}, or a test's double)."""

    id: str
    capabilities: dict[str, Any]
    logLevel: str | None
    subscriptions: set[str]
    era2026: bool
    """Not a 2025 session: a 2026 call chain or a listen stream (never
    counted for promotion, never refused by the router's capability check:
    their own code answers the child)."""
    called: bool
    """Whether a request of it reached a child (not answered from a
    catalog): a child then may hold something of it, which a child
    started anew has lost (L{mcpgateway.core.pools.lostchild})."""

    def deliver(self, message: Message) -> bool:
        """Put C{message} on the session's standalone (GET) stream."""


@runtime_checkable
class StreamAwaiting(Protocol):
    """A session that says when its GET stream opens (a L{Session}): a
    child's request proven to be for it, found with no stream to go on,
    waits for one (L{mcpgateway.core.streamwaits.StreamWaits})."""

    def awaitStream(self, callback: Callable[[], None]) -> None:
        """Call C{callback} once, when a GET stream of the session opens next."""

    def unawaitStream(self, callback: Callable[[], None]) -> None:
        """Forget C{callback} (nothing waits for the stream any more)."""


class SessionPersistence(Protocol):
    """Where the session registry outlives the process (a file in the state
    directory; see L{mcpgateway.ops.sessionstore.SessionStore})."""

    def load(self) -> list[dict[str, Any]]:
        """The records saved by a previous process (none if unreadable)."""

    def save(self, records: list[dict[str, Any]]) -> Deferred[None] | None:
        """Keep C{records} (a write only when they changed): a Deferred that
        fires once they are kept, and everything asked for before (C{None}:
        kept already)."""

    def remember(self, record: dict[str, Any]) -> Deferred[None] | None:
        """Keep one new session's C{record} durably, before its id reaches
        its client: its C{initialize} is answered once what this returns
        fires (C{None}: at once)."""

    def forget(self, sessionId: str) -> None:
        """The session C{sessionId} ended: it is not to be restored, even
        if a crash comes before the next L{save}."""


class Stream(Protocol):
    """A stream of messages to one client (an SSE response)."""

    open: bool
    """False once the stream ended, either way."""

    def send(self, message: Message) -> bool:
        """Write one message; C{False} if the stream is closed."""

    def close(self) -> None:
        """End the stream."""

    def suspend(self) -> None:
        """End the connection, not the stream: the client opens it again
        after the C{retry:} delay it is told (a stream that cannot be resumed
        is left as it is)."""


class Session:
    """One client session on one server endpoint."""

    __slots__ = (
        "_backlog",
        "_streamWaiters",
        "_subscriptions",
        "called",
        "capabilities",
        "clientInfo",
        "clientPid",
        "created",
        "credential",
        "getStream",
        "id",
        "inFlight",
        "lastActivity",
        "listens",
        "logLevel",
        "ownerLookedUp",
        "principal",
        "protocolVersion",
        "restored",
        "scope",
        "server",
        "variant",
        "visiting",
    )
    era2026 = False
    """A session is the 2025 kind (see L{SessionLike.era2026})."""

    def __init__(
        self,
        sessionId: str,
        server: str,
        protocolVersion: str,
        capabilities: dict[str, Any],
        clientInfo: dict[str, Any],
        now: float,
    ) -> None:
        self.id = sessionId
        self.server = server
        self.protocolVersion = protocolVersion
        self.capabilities = capabilities
        self.clientInfo = clientInfo
        self.clientPid: int | None = None
        self.ownerLookedUp: float | None = None
        """When the gateway last looked for its client's pid by the socket
        (L{mcpgateway.core.gateway.sessionopener.SessionOpener.lookForOwner})."""
        self.created = now
        self.lastActivity = now
        self.getStream: Stream | None = None
        self.listens = False
        """Whether its client opened a GET stream once: a notification that
        finds none open then waits for the next (L{deliver})."""
        self._backlog: Backlog | None = None
        """The notifications that wait for its next GET stream; C{None}
        while none do (memory per idle session counts)."""
        self.logLevel: str | None = None
        self._subscriptions: set[str] | None = None
        self._streamWaiters: list[Callable[[], None]] | None = None
        """Who waits for its next GET stream (L{awaitStream}); C{None}, not
        an empty list, while nobody does (memory per idle session counts)."""
        self.restored = False
        """Rebuilt from the record of a previous gateway process."""
        self.called = False
        """Whether a request of it reached a child (L{SessionLike.called})."""
        self.visiting = False
        """Served here for another replica that owns it and does not
        answer: rebuilt from the facts its sealed id carries, never saved
        (see L{mcpgateway.core.gateway.foreignsessions.ForeignSessions.rebuild})."""
        self.inFlight = 0
        """Requests of this session forwarded and not yet answered, cancelled or
        failed (the web layer counts them; see L{mcpgateway.protocol.bounds})."""
        self.scope = ""
        """The route key it came through (C{""}: the server's global route)."""
        self.credential = ""
        """The keyed hash of the credentials it gave (never the values)."""
        self.principal = ""
        """The key of the principal that opened it (C{""}: no authentication):
        only that principal may use it, and a per-user server serves it from
        that principal's child."""
        self.variant: Variant | None = None
        """How its child is launched (scoped servers; never persisted)."""

    @property
    def shortId(self) -> str:
        """What logs call it: 8 hex digits of the id's SHA-256 (never the id,
        which is the session's only secret). Worked out when a line needs
        it, not kept: most sessions are named in a log line or two, and a
        string kept is 57 bytes per session (memory per idle session counts)."""
        return shortId(self.id)

    @property
    def recordId(self) -> str:
        """The id of the saved record that holds it: its own (a member of an
        aggregate session is saved within its aggregate session's)."""
        return self.id

    @property
    def pidFromSocket(self) -> bool:
        """Whether C{clientPid} is the pid the gateway found itself, as the
        owner of the client's socket
        (L{mcpgateway.core.gateway.sessionopener.SessionOpener.lookForOwner}),
        rather than one the client sent (C{X-Client-Pid}, C{clientInfo.pid}).
        Only a lookup sets
        C{ownerLookedUp} (a restored record says whether an earlier process
        found it so), and the gateway looks only for a session whose
        client sent no pid. A pid the client sent may name a process that
        lives for ever (pid 1 in a container, a wrapper's shell) or, on a
        gateway reached from other machines, nothing on this host: the
        reaper's idle timeout still applies to its session."""
        return self.clientPid is not None and self.ownerLookedUp is not None

    @property
    def subscriptions(self) -> set[str]:
        """The resource URIs it subscribed to. The set is made when first
        asked for: most sessions never subscribe, and an empty set is 216
        bytes per session (memory per idle session counts)."""
        subscriptions = self._subscriptions
        if subscriptions is None:
            subscriptions = self._subscriptions = set()
        return subscriptions

    @subscriptions.setter
    def subscriptions(self, value: set[str]) -> None:
        self._subscriptions = value

    def streamEnded(self) -> None:
        """Forget the GET stream once it ended (its close callback), unless
        another replaced it: a stream is no longer open when its close
        callbacks run. A bound method, where a closure per stream would hold
        the stream and the session (memory per idle session counts)."""
        stream = self.getStream
        if stream is not None and not stream.open:
            self.getStream = None

    def deliver(self, message: Message) -> bool:
        """Put C{message} on the standalone GET stream, if one is open. A
        notification that finds none, for a client that listens, waits for
        the next one (L{mcpgateway.core.backlog}); C{False}: neither."""
        stream = self.getStream
        if stream is not None and stream.send(message):
            return True
        if self.listens and isNotification(message):
            backlog = self._backlog
            if backlog is None:
                backlog = self._backlog = Backlog()
            backlog.keep(message)
            return True
        return False

    @property
    def backlog(self) -> list[Message]:
        """The notifications that wait for its next GET stream, oldest first."""
        return [] if self._backlog is None else self._backlog.messages()

    def _sendBacklog(self) -> None:
        """Send what waits (L{deliver}) on the stream just opened, in order."""
        backlog, self._backlog = self._backlog, None
        if backlog is None:
            return
        messages, dropped = backlog.take()
        for message in messages:
            self.deliver(message)
        if dropped:
            _log.info(
                "session {sid}: {count} notification(s) were dropped while it had no stream"
                " (its newest are kept, at most {kept})",
                sid=self.shortId,
                count=dropped,
                kept=len(messages),
            )

    def awaitStream(self, callback: Callable[[], None]) -> None:
        """Call C{callback} once, when a GET stream opens next (L{streamOpened})."""
        if self._streamWaiters is None:
            self._streamWaiters = []
        self._streamWaiters.append(callback)

    def unawaitStream(self, callback: Callable[[], None]) -> None:
        """Forget C{callback}, if it still waits."""
        waiters = self._streamWaiters
        if waiters is not None and callback in waiters:
            waiters.remove(callback)
            if not waiters:
                self._streamWaiters = None

    def streamOpened(self) -> None:
        """A GET stream was opened and is its L{getStream} now (the web
        layer says so): what waited for it goes out first (L{deliver}), and
        whoever waited for one (L{awaitStream}) is told, once."""
        self.listens = True
        self._sendBacklog()
        waiters, self._streamWaiters = self._streamWaiters, None
        for callback in waiters or ():
            callback()

    def record(self) -> dict[str, Any]:
        """What of this session outlives the process (JSON values only)."""
        return {
            "id": self.id,
            "server": self.server,
            "protocolVersion": self.protocolVersion,
            "capabilities": self.capabilities,
            "clientInfo": self.clientInfo,
            "logLevel": self.logLevel,
            "subscriptions": sorted(self._subscriptions or ()),
            "clientPid": self.clientPid,
            **({"pidFromSocket": True} if self.pidFromSocket else {}),
            "created": self.created,
            "lastActivity": self.lastActivity,
            "scope": self.scope,
            "credential": self.credential,
            "principal": self.principal,
            **({"called": True} if self.called else {}),
            **self._listening(),
        }

    def _listening(self) -> dict[str, Any]:
        """Of its record: whether its client listens, and what waits for its
        next stream."""
        if not self.listens:
            return {}
        backlog = self.backlog
        return {"listens": True, "backlog": backlog} if backlog else {"listens": True}

    def listenAsSaved(self, record: dict[str, Any]) -> None:
        """Take from C{record} (a checked L{record}) whether its client
        listens and what waits for its next stream, in order after what
        waits here already."""
        if record.get("listens") is True:
            self.listens = True
        for message in record.get("backlog", ()):
            self.deliver(message)

    @classmethod
    def fromRecord(cls, record: dict[str, Any]) -> Session:
        """The session C{record} (a checked L{record}) describes, marked restored."""
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
        if record["subscriptions"]:
            session.subscriptions = set(record["subscriptions"])
        session.clientPid = record["clientPid"]
        if record.get("pidFromSocket") is True and session.clientPid is not None:
            session.ownerLookedUp = 0.0  # found by an earlier process, as its socket's owner
        session.scope = record.get("scope", "")
        session.credential = record.get("credential", "")
        session.principal = record.get("principal", "")
        session.called = record.get("called") is True
        session.listenAsSaved(record)
        session.restored = True
        return session


def shortId(sessionId: str) -> str:
    """The name of a session in logs: the first 8 hex digits of the SHA-256
    of its id (a prefix of the id itself would be a piece of the secret, and
    not even unique for ids that begin alike)."""
    return hashlib.sha256(sessionId.encode("utf-8", "surrogateescape")).hexdigest()[:8]


ROUTED_CAPABILITIES = (
    "sampling",
    "sampling.tools",
    "elicitation.form",
    "elicitation.url",
    "roots",
    "roots.listChanged",
)
"""The client capabilities routing decisions depend on (what a session's
sealed id carries, so that another replica can serve it)."""


@dataclass(frozen=True)
class SessionFacts:
    """What another gateway process needs to serve a session it never saw:
    everything routing depends on, nothing more.

    @ivar capabilities: the L{ROUTED_CAPABILITIES} the client declared.
    @ivar owned: the session has a child of its own (a session-scoped or
        promoted server): only its owner can serve it.
    """

    server: str
    scope: str
    principal: str
    credential: str
    protocolVersion: str
    capabilities: frozenset[str]
    owned: bool
    created: float

    def capabilitiesDict(self) -> dict[str, Any]:
        """The capabilities as an C{initialize} would have declared them
        (what routing reads of them: L{routedCapabilities} of the result is
        L{capabilities})."""
        caps = self.capabilities
        result: dict[str, Any] = {}
        if "sampling" in caps or "sampling.tools" in caps:
            result["sampling"] = {"tools": {}} if "sampling.tools" in caps else {}
        modes: dict[str, Any] = {
            mode: {} for mode in ("form", "url") if f"elicitation.{mode}" in caps
        }
        if modes:
            result["elicitation"] = modes
        if "roots" in caps or "roots.listChanged" in caps:
            result["roots"] = {"listChanged": True} if "roots.listChanged" in caps else {}
        return result

    @classmethod
    def of(cls, session: Session, owned: bool) -> SessionFacts:
        """The facts of C{session} (C{owned}: it has a child of its own)."""
        return cls(
            server=session.server,
            scope=session.scope,
            principal=session.principal,
            credential=session.credential,
            protocolVersion=session.protocolVersion,
            capabilities=routedCapabilities(session.capabilities),
            owned=owned,
            created=session.created,
        )


def routedCapabilities(capabilities: dict[str, Any]) -> frozenset[str]:
    """The L{ROUTED_CAPABILITIES} an C{initialize}'s C{capabilities} declare
    (an empty C{elicitation} object declares the form mode, as the router
    reads it)."""
    found: set[str] = set()
    sampling = capabilities.get("sampling")
    if "sampling" in capabilities:
        found.add("sampling")
        if isinstance(sampling, dict) and "tools" in sampling:
            found.add("sampling.tools")
    elicitation = capabilities.get("elicitation")
    if isinstance(elicitation, dict):
        if "form" in elicitation or not elicitation:
            found.add("elicitation.form")
        if "url" in elicitation:
            found.add("elicitation.url")
    roots = capabilities.get("roots")
    if "roots" in capabilities:
        found.add("roots")
        if isinstance(roots, dict) and roots.get("listChanged") is True:
            found.add("roots.listChanged")
    return frozenset(found)


class SessionIds(Protocol):
    """Makes session ids (the default: 192 random bits; a cluster: sealed
    facts, see C{mcpgateway.cluster.sealing})."""

    def newId(self, facts: SessionFacts) -> str:
        """A fresh id for a session with C{facts}."""


SHARED_VALUES = 4096
"""How many distinct C{capabilities} and C{clientInfo} objects a
L{SharedValues} keeps for sessions to share."""


class SharedValues:
    """One object for equal C{initialize} values (C{capabilities},
    C{clientInfo}) across sessions: the sessions of one client program
    declare the same ones, and a copy of each per session is most of what
    an idle session holds (a few hundred bytes). The values are never
    changed once a session has them, so sharing them changes nothing but
    memory. Equal means the same text (C{repr}, which tells C{1}, C{1.0}
    and C{True} apart), key order included (what the sessions file then
    writes is what each client sent). At most
    L{SHARED_VALUES} are kept; beyond that a value is not shared (a client
    sending a different C{clientInfo} each time fills the table once,
    never more)."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[str, dict[str, Any]] = {}

    def share(self, value: dict[str, Any]) -> dict[str, Any]:
        """The kept object equal to C{value}, else C{value} (kept when there is room)."""
        key = repr(value)  # JSON values: equal texts, equal values (1, 1.0, True apart)
        values = self._values
        kept = values.get(key)
        if kept is not None:
            return kept
        if len(values) < SHARED_VALUES:
            values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)


class SessionRegistry:
    """All live sessions, by id."""

    def __init__(self, clock: IReactorTime, ids: SessionIds | None = None) -> None:
        """
        @param ids: makes the ids of new sessions from their facts (a
            cluster's sealer); C{None}: 192 random bits each.
        """
        self._clock = clock
        self._ids = ids
        self._sessions: dict[str, Session] = {}
        self.shared = SharedValues()
        """The C{capabilities} and C{clientInfo} its sessions share (L{create})."""
        self._groupActivity: dict[int, float] = {}
        """Last activity of each owner group (the sessions of one client pid)."""
        self.changes = 0
        """Counts what may have changed a session's saved record: a session
        opened, added, removed or active (a request on it, which is where
        its log level, subscriptions and client pid change). The sessions
        file is written again only when it moved
        (L{mcpgateway.core.gateway.continuity.SessionContinuity.save})."""
        self._changed: set[str] | None = None
        """The ids of the sessions counted in L{changes} since the last
        L{takeChanged}, while someone takes them (L{trackChanges})."""
        self.onChange: Callable[[], object] | None = None
        """Called when L{changes} moves, while set: the saver sets it when
        it has saved everything and stops its timer, and unsets it when
        called (L{mcpgateway.core.gateway.continuity.SessionContinuity._tick})."""

    @property
    def sealsIds(self) -> bool:
        """Whether a new session's id is made of its facts (a cluster's
        sealer): L{create} reads the facts it is given only then, so an
        opener builds them only then."""
        return self._ids is not None

    def create(
        self,
        server: str,
        protocolVersion: str,
        capabilities: dict[str, Any],
        clientInfo: dict[str, Any],
        facts: SessionFacts | None = None,
        *,
        factory: type[Session] | None = None,
    ) -> Session:
        """Open a session with a fresh id: visible ASCII, 192 random bits;
        with an L{SessionIds} and the session's C{facts}, the id it makes
        of them. C{factory}: the kind of session (an aggregate session).
        Equal C{capabilities} and C{clientInfo} are one object across
        sessions (L{SharedValues})."""
        if self._ids is not None and facts is not None:
            sessionId = self._ids.newId(facts)
        else:
            sessionId = secrets.token_urlsafe(24)
        share = self.shared.share
        session = (factory or Session)(
            sessionId,
            server,
            protocolVersion,
            share(capabilities),
            share(clientInfo),
            self._clock.seconds(),
        )
        self._sessions[sessionId] = session
        self.changes += 1
        if self.onChange is not None:
            self.onChange()
        if self._changed is not None:
            self._changed.add(sessionId)
        return session

    def add(self, session: Session) -> None:
        """Register C{session} (one restored from a previous process) under its own id."""
        self._sessions[session.id] = session
        self.changes += 1
        if self.onChange is not None:
            self.onChange()
        if self._changed is not None:
            self._changed.add(session.id)
        if session.clientPid is not None:
            previous = self._groupActivity.get(session.clientPid, 0.0)
            self._groupActivity[session.clientPid] = max(previous, session.lastActivity)

    def get(self, sessionId: str) -> Session | None:
        return self._sessions.get(sessionId)

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        self.changes += 1
        if self.onChange is not None:
            self.onChange()
        if self._changed is not None:
            self._changed.add(session.id)
        pid = session.clientPid
        if pid is not None and not any(s.clientPid == pid for s in self._sessions.values()):
            self._groupActivity.pop(pid, None)

    def touch(self, session: Session) -> None:
        """Record activity on C{session}, and on its owner group."""
        now = self._clock.seconds()
        session.lastActivity = now
        self.changes += 1
        if self.onChange is not None:
            self.onChange()
        if self._changed is not None:
            self._changed.add(session.id)
        if session.clientPid is not None:
            self._groupActivity[session.clientPid] = now

    def served(self, session: SessionLike) -> None:
        """A request of C{session} reached a child for the first time, or
        what its record holds changed otherwise (an aggregate session's
        member opened or dropped): its record (C{called}; the one that
        holds it, L{Session.recordId}) is saved again, as after activity."""
        self.changes += 1
        if self.onChange is not None:
            self.onChange()
        if self._changed is not None:
            self._changed.add(session.recordId if isinstance(session, Session) else session.id)

    def trackChanges(self, tracking: bool) -> None:
        """Keep (C{tracking}), from now on, or no longer keep the ids of the
        sessions that change (L{takeChanged}): the sessions file encodes
        only their records again. Off, nothing is kept (no taker would
        empty it)."""
        self._changed = set() if tracking else None

    def takeChanged(self) -> set[str]:
        """The ids of the sessions opened, added, removed or active since
        the last call (since L{trackChanges}, for the first)."""
        changed = self._changed
        if changed is None:
            return set()
        self._changed = set()
        return changed

    def activity(self, session: Session) -> float:
        """When C{session} or another session of the same client pid was last active."""
        if session.clientPid is None:
            return session.lastActivity
        return max(session.lastActivity, self._groupActivity.get(session.clientPid, 0.0))

    def ofPid(self, pid: int) -> list[Session]:
        return [s for s in self._sessions.values() if s.clientPid == pid]

    def forServer(self, server: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.server == server]

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)
