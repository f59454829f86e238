# -*- test-case-name: tests.cluster.test_routing -*-
"""Where a request goes for a session this process does not hold.

One job: L{ClusterSessions.resolve} decides, from the sealed session id
(L{mcpgateway.cluster.sealing}), between serving the session here, forwarding
the request to the replica that owns it, and "not found":

 - known here (opened here, or visiting already): L{Local};
 - not a sealed id of this cluster for this server, route and principal
   (tampered, another route's or principal's, another key): L{NotFound};
 - ended here (a DELETE, the reaper, the idle timeout: L{EndedSessions},
   kept for L{EndedSessions.keepFor} seconds and across a restart), or
   sealed by this very process with its own address and unknown (it was
   issued here, so it ended here): L{NotFound}, as a single gateway answers
   after a DELETE (MCP 2025-11-25);
 - sealed with this replica's own address by an earlier process and
   unknown (this replica restarted without its state): rebuilt here as its
   owner (L{Local});
 - owned elsewhere, the owner not known to be down and the request not
   itself forwarded by a peer: L{Forward} to the owner (owner first: a
   session lives in one process while its owner answers);
 - owned elsewhere and the owner down (or the request came from a peer,
   which never forwards again): the session I{visits} here, rebuilt from
   its sealed facts, when its child is a shared one (L{Local}); a session
   with a child of its own died with its owner (L{NotFound}: the client
   initializes again).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.sessions import Session, SessionFacts
from mcpgateway.httpbase.principal import Principal
from mcpgateway.runtime import logs
from mcpgateway.runtime.atomicfile import writeFileAtomic

if TYPE_CHECKING:
    # Only a type here: sealing needs cryptography, which a gateway that
    # is not clustered need not have (this module is imported by the web).
    from mcpgateway.cluster.sealing import Address


@dataclass(frozen=True)
class Local:
    """Serve the request here, with C{session}."""

    session: Session


@dataclass(frozen=True)
class Forward:
    """Forward the request to C{owner}."""

    owner: Address


@dataclass(frozen=True)
class NotFound:
    """Answer 404 "Session not found" (the same as for any unknown id)."""


Where = Local | Forward | NotFound


class Sessions(Protocol):
    """What routing needs of the session registry."""

    def get(self, sessionId: str) -> Session | None: ...


class RebuildsSessions(Protocol):
    """What routing needs of the gateway's visits
    (L{mcpgateway.core.gateway.foreignsessions.ForeignSessions})."""

    def rebuild(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        """The session C{sessionId} rebuilt from C{facts}, registered here;
        C{None} when it cannot be (its child was its own and C{owner} is
        false, or its route is gone)."""


class RoutedGateway(Protocol):
    """What routing needs of the gateway (L{mcpgateway.core.gateway.gateway.Gateway})."""

    @property
    def sessions(self) -> Sessions: ...

    @property
    def started(self) -> float:
        """When this process's gateway was made (its clock's seconds)."""

    @property
    def foreignSessions(self) -> RebuildsSessions: ...


class Opens(Protocol):
    """What routing needs of the L{mcpgateway.cluster.sealing.SessionSealer}."""

    def open(
        self, sessionId: str, server: str, scope: str, principal: str
    ) -> tuple[Address, SessionFacts] | None: ...


class Owners(Protocol):
    """What routing needs of the L{mcpgateway.cluster.forward.PeerForwarder}."""

    def isDown(self, owner: Address) -> bool: ...


ENDED_FILE = "ended-sessions.json"
"""The file of a replica's state directory that keeps L{EndedSessions}."""
MAX_ENDED = 100_000
"""At most this many ended ids are kept (those that expire first go first)."""
SAVE_DELAY = 1.0
"""Seconds the record of ended ids waits to be written (a burst is one write)."""


class EndedSessions:
    """The ids of sessions ended on this replica (tombstones), each kept
    L{keepFor} seconds (the longest an ended session could still be asked
    for: the idle timeout), at most L{MAX_ENDED}, and written to C{path}
    (a second after a change, and at L{flush}) so that a restarted replica
    still refuses them."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, keepFor: float, path: Path | None = None) -> None:
        """
        @param keepFor: seconds an ended id is refused (then forgotten).
        @param path: where the record survives a restart (read here, at
            once: a small bounded file; written later, never here);
            C{None}: in memory only.
        """
        self._clock = clock
        self.keepFor = keepFor
        self._path = path
        self._until: dict[str, float] = {}
        self._saving: IDelayedCall | None = None
        if path is not None:
            self._load(path)

    def add(self, sessionId: str) -> None:
        """Refuse C{sessionId} from now on, for L{keepFor} seconds."""
        self._until[sessionId] = self._clock.seconds() + self.keepFor
        self._prune()
        self._changed()

    def __contains__(self, sessionId: object) -> bool:
        until = self._until.get(sessionId) if isinstance(sessionId, str) else None
        if until is None:
            return False
        if self._clock.seconds() < until:
            return True
        del self._until[sessionId]  # type: ignore[arg-type]
        return False

    def __len__(self) -> int:
        self._prune()
        return len(self._until)

    def records(self) -> dict[str, float]:
        """The ids kept now and until when (the clock's seconds)."""
        self._prune()
        return dict(self._until)

    def restore(self, records: Iterable[tuple[Any, Any]]) -> None:
        """Keep the (id, until) pairs of C{records} that are well formed and
        not expired (what L{records} gave, possibly of another process)."""
        now = self._clock.seconds()
        for sessionId, until in records:
            if (
                isinstance(sessionId, str)
                and 0 < len(sessionId) <= 256
                and isinstance(until, int | float)
                and not isinstance(until, bool)
                and math.isfinite(until)
                and now < until
            ):
                self._until[sessionId] = min(float(until), now + self.keepFor)
        self._prune()

    def flush(self) -> None:
        """Write the record now (the gateway stops)."""
        saving, self._saving = self._saving, None
        if saving is not None and saving.active():
            saving.cancel()
        self._save()

    def _prune(self) -> None:
        now = self._clock.seconds()
        for sessionId in [s for s, until in self._until.items() if until <= now]:
            del self._until[sessionId]
        if len(self._until) > MAX_ENDED:
            kept = sorted(self._until.items(), key=lambda item: item[1])[-MAX_ENDED:]
            self._until = dict(kept)

    def _changed(self) -> None:
        if self._path is None or (self._saving is not None and self._saving.active()):
            return
        self._saving = self._clock.callLater(SAVE_DELAY, self._save)

    def _save(self) -> None:
        self._saving = None
        if self._path is None:
            return
        data = json.dumps(
            {"format": 1, "ended": self.records()}, sort_keys=True, allow_nan=False
        ).encode("ascii")
        try:
            writeFileAtomic(self._path, data, 0o600)
        except OSError as e:
            self.log.warn(
                "cluster: writing the ended sessions to {path} failed ({why}); after a restart"
                " they could be rebuilt from their ids",
                path=str(self._path),
                why=e.strerror or str(e),
            )

    def _load(self, path: Path) -> None:
        try:
            with path.open("rb") as f:
                data = f.read(64 * 1024 * 1024 + 1)
        except FileNotFoundError:
            return
        except OSError as e:
            self.log.warn(
                "cluster: the ended sessions in {path} cannot be read ({why})",
                path=str(path),
                why=e.strerror or str(e),
            )
            return
        try:
            body = json.loads(data)
        except (ValueError, RecursionError, UnicodeDecodeError):
            body = None
        ended = body.get("ended") if isinstance(body, dict) else None
        if not isinstance(ended, dict):
            self.log.warn(
                "cluster: {path} is not a record of ended sessions; ignored", path=str(path)
            )
            return
        self.restore(ended.items())


class ClusterSessions:
    """Decides where requests for unknown session ids go (module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        gateway: RoutedGateway,
        sealer: Opens,
        forwarder: Owners,
        me: Callable[[], Address],
        ended: EndedSessions | None = None,
    ) -> None:
        """
        @param me: this replica's own address (what its sealed ids name).
        @param ended: the ids of the sessions ended here (L{sessionEnded}
            adds to it); C{None}: kept in memory for 30 minutes.
        """
        self._gateway = gateway
        self.ended = ended if ended is not None else EndedSessions(_clockOf(gateway), 1800.0)
        self._sealer = sealer
        self._forwarder = forwarder
        self._me = me
        self.failedOver = 0
        """Sessions of another replica taken in here while it was down."""
        self.reclaimed = 0
        """Sessions of this replica's own address rebuilt after a restart."""
        self.forwards = 0
        """Decisions to forward."""
        self.refusedEnded = 0
        """Requests for sealed ids of sessions ended here (404)."""

    def sessionEnded(self, sessionId: str) -> None:
        """The session C{sessionId} ended on this replica (a DELETE, the
        reaper, the idle timeout, a reconfiguration; never a stop that hands
        it to the next process): its id is refused from now on."""
        self.ended.add(sessionId)

    def ownedElsewhere(self, sessionId: str, server: str, scope: str, principal: Principal) -> bool:
        """Whether C{sessionId}, unknown here, is sealed by another replica:
        then it cannot be a session of the process this one took over from
        (a restart's predecessor has this replica's address), and need not
        wait for it to exit before it is forwarded."""
        opened = self._sealer.open(sessionId, server, scope, principal.key)
        return opened is not None and opened[0] != self._me()

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        """Where a request for C{sessionId} on C{server}'s route C{scope}
        from C{principal} is served (the module docstring's table).

        @param fromPeer: the request was forwarded by a peer (or forwarding
            it just failed): never forward it.
        """
        known = self._gateway.sessions.get(sessionId)
        if known is not None:
            return Local(known)
        opened = self._sealer.open(sessionId, server, scope, principal.key)
        if opened is None:
            return NotFound()
        owner, facts = opened
        mine = owner == self._me()
        if sessionId in self.ended or (mine and facts.created >= math.ceil(self._gateway.started)):
            # Ended here; or issued by this very process (its sealed
            # creation second is not before this process began) and unknown:
            # it ended here too. Never rebuilt: 404, as a single gateway.
            self.refusedEnded += 1
            return NotFound()
        if mine:
            session = self._gateway.foreignSessions.rebuild(sessionId, facts, owner=True)
            if session is None:
                return NotFound()
            self.reclaimed += 1
            self.log.info(
                "cluster: session {session} of server {server} rebuilt from its sealed id"
                " (this replica owns it and did not know it: restarted without its state)",
                session=session.shortId,
                server=server,
            )
            return Local(session)
        if not fromPeer and not self._forwarder.isDown(owner):
            self.forwards += 1
            return Forward(owner)
        session = self._gateway.foreignSessions.rebuild(sessionId, facts)
        if session is None:
            return NotFound()
        self.failedOver += 1
        self.log.info(
            "cluster: session {session} of server {server} visits this replica (its owner"
            " {owner} is {why})",
            session=session.shortId,
            server=server,
            owner=owner.url,
            why="down" if self._forwarder.isDown(owner) else "not the one that forwarded it",
        )
        return Local(session)


def _clockOf(gateway: RoutedGateway) -> IReactorTime:
    clock = getattr(gateway, "clock", None)
    if clock is None:
        from twisted.internet import reactor

        return reactor
    return clock  # type: ignore[no-any-return]
