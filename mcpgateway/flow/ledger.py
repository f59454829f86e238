# -*- test-case-name: tests.flow.test_ledger -*-
"""The labels each client has gathered: L{Ledger}.

A client gathers the C{untrusted} and C{private} labels of every result it
receives, across all of its MCP sessions: Claude Code opens one session
per server route, and labels kept per session would never meet. The
labels are the client's, never a child's: a child shared by many clients
gathers nothing.

A client is what C{status} groups sessions by (L{clientKey}): its process
on a laptop (the pid the client sent, or the owner of its socket), the
principal and its client's name on a team gateway (where a pid names
nothing on this host), and the session alone where neither is known. A
session whose key changes (its pid found after its first calls) brings
what its client gathered under the old key along.

Memory stays bounded: a client is forgotten once its last session closed
(L{Ledger.closed}), or once it has been idle for the ledger's idle time
(L{Ledger.sweep}, and when it is next asked about), by the clock the
ledger is given.

A client may say, in a call's C{_meta.flowOrigin}, where the data of that
call came from (L{narrowed}): it only narrows what the gateway gathered,
never adds to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from twisted.internet.interfaces import IReactorTime

from mcpgateway.flow.labels import GATHERED, NO_LABELS, Label, Labels

__all__ = ["IDLE", "ClientKey", "Ledger", "clientKey", "narrowed"]

ClientKey: TypeAlias = tuple[str, str, str]
"""The principal's key (C{""}: none), the kind (C{pid}, C{client},
C{session}) and its value."""

IDLE = 12 * 3600.0
"""Seconds after which a client that did nothing is forgotten."""


def clientKey(principal: str, clientPid: int | None, clientName: Any, sessionId: str) -> ClientKey:
    """The client a session belongs to: its principal and pid when the pid
    is known, else its principal and the name in its C{clientInfo}, else
    the session itself."""
    if clientPid is not None:
        return (principal, "pid", str(clientPid))
    if isinstance(clientName, str) and clientName:
        return (principal, "client", clientName)
    return (principal, "session", sessionId)


class _Client:
    """What the ledger keeps of one client."""

    __slots__ = ("labels", "seen", "sessions")

    def __init__(self, now: float) -> None:
        self.labels: Labels = NO_LABELS
        self.sessions: set[str] = set()
        self.seen = now


class Ledger:
    """The gathered labels of every client (see the module)."""

    def __init__(self, clock: IReactorTime, idle: float = IDLE) -> None:
        """
        @param clock: what idle time is measured by.
        @param idle: seconds without a call or a result after which a
            client is forgotten.
        """
        self._clock = clock
        self.idle = idle
        self._clients: dict[ClientKey, _Client] = {}
        self._sessions: dict[str, ClientKey] = {}

    def __len__(self) -> int:
        """How many clients are kept."""
        return len(self._clients)

    def gathered(self, key: ClientKey, sessionId: str) -> Labels:
        """What client C{key} has gathered, as its session C{sessionId}
        calls a tool (the call counts as activity)."""
        return self._client(key, sessionId).labels

    def record(self, key: ClientKey, sessionId: str, labels: Labels) -> None:
        """A result of a tool labelled C{labels} reached client C{key}
        through session C{sessionId}: it gathers their C{untrusted} and
        C{private}."""
        client = self._client(key, sessionId)
        client.labels = client.labels | (labels & GATHERED)

    def knows(self, sessionId: str) -> bool:
        """Whether session C{sessionId} counts for a client kept."""
        return sessionId in self._sessions

    def closed(self, sessionId: str) -> None:
        """Session C{sessionId} ended: its client is forgotten when it was
        the last of its sessions."""
        key = self._sessions.pop(sessionId, None)
        if key is None:
            return
        client = self._clients.get(key)
        if client is not None:
            client.sessions.discard(sessionId)
            if not client.sessions:
                del self._clients[key]

    def sweep(self) -> int:
        """Forget every client idle for the ledger's idle time; how many."""
        now = self._clock.seconds()
        gone = [key for key, client in self._clients.items() if now - client.seen >= self.idle]
        for key in gone:
            self._forget(key)
        return len(gone)

    def _forget(self, key: ClientKey) -> None:
        client = self._clients.pop(key)
        for sessionId in client.sessions:
            self._sessions.pop(sessionId, None)

    def _client(self, key: ClientKey, sessionId: str) -> _Client:
        """Client C{key}'s record, touched now: made when it is new or was
        idle too long; session C{sessionId} counted as its, and what it
        gathered under another key brought along."""
        now = self._clock.seconds()
        client = self._clients.get(key)
        if client is not None and now - client.seen >= self.idle:
            self._forget(key)
            client = None
        if client is None:
            client = self._clients[key] = _Client(now)
        client.seen = now
        before = self._sessions.get(sessionId)
        if before != key:
            self._sessions[sessionId] = key
            client.sessions.add(sessionId)
            if before is not None:
                self._moved(sessionId, before, client)
        return client

    def _moved(self, sessionId: str, before: ClientKey, client: _Client) -> None:
        """Session C{sessionId} now belongs to C{client}, no longer to the
        client of key C{before}: C{client} gathers what that one had."""
        old = self._clients.get(before)
        if old is None:
            return
        client.labels = client.labels | old.labels
        old.sessions.discard(sessionId)
        if not old.sessions:
            del self._clients[before]


def narrowed(gathered: Labels, meta: Any) -> Labels:
    """What a call's client has gathered, narrowed by the call's
    C{_meta.flowOrigin} (C{meta}: the call's C{_meta}): the labels the
    client says the call's data came from, a list of label words (or an
    object with such a list under C{"labels"}). Only the labels both say
    are kept; a C{flowOrigin} that is absent or cannot be read (not such a
    list, or a word that is not a label) narrows nothing."""
    if not isinstance(meta, dict):  # a JSON object, or nothing
        return gathered
    origin = meta.get("flowOrigin")
    if isinstance(origin, Mapping):
        origin = origin.get("labels")
    if not isinstance(origin, list):
        return gathered
    said = set()
    for word in origin:
        if not isinstance(word, str) or word not in _WORDS:
            return gathered
        said.add(Label(word))
    return gathered & frozenset(said)


_WORDS = frozenset(label.value for label in Label)
