# -*- test-case-name: tests.cluster.test_routing -*-
"""Where a request goes for a session this process does not hold.

One job: L{ClusterSessions.resolve} decides, from the sealed session id
(L{mcpgateway.cluster.sealing}), between serving the session here, forwarding
the request to the replica that owns it, and "not found":

 - known here (opened here, or visiting already): L{Local};
 - not a sealed id of this cluster for this server, route and principal
   (tampered, another route's or principal's, another key): L{NotFound};
 - sealed with this replica's own address but unknown (this replica
   restarted without its state): rebuilt here as its owner (L{Local});
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger

from mcpgateway import logs
from mcpgateway.auth.principal import Principal
from mcpgateway.core.sessions import Session, SessionFacts

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


class Visits(Protocol):
    """What routing needs of the gateway (L{mcpgateway.core.gateway.Gateway})."""

    @property
    def sessions(self) -> Sessions: ...

    def visit(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        """The session C{sessionId} rebuilt from C{facts}, registered here;
        C{None} when it cannot be (its child was its own and C{owner} is
        false, or its route is gone)."""


class Opens(Protocol):
    """What routing needs of the L{mcpgateway.cluster.sealing.SessionSealer}."""

    def open(
        self, sessionId: str, server: str, scope: str, principal: str
    ) -> tuple[Address, SessionFacts] | None: ...


class Owners(Protocol):
    """What routing needs of the L{mcpgateway.cluster.forward.Forwarder}."""

    def isDown(self, owner: Address) -> bool: ...


class ClusterSessions:
    """Decides where requests for unknown session ids go (module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, gateway: Visits, sealer: Opens, forwarder: Owners, me: Callable[[], Address]
    ) -> None:
        """
        @param me: this replica's own address (what its sealed ids name).
        """
        self._gateway = gateway
        self._sealer = sealer
        self._forwarder = forwarder
        self._me = me
        self.failedOver = 0
        """Sessions of another replica taken in here while it was down."""
        self.reclaimed = 0
        """Sessions of this replica's own address rebuilt after a restart."""
        self.forwards = 0
        """Decisions to forward."""

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
        if owner == self._me():
            session = self._gateway.visit(sessionId, facts, owner=True)
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
        session = self._gateway.visit(sessionId, facts)
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
