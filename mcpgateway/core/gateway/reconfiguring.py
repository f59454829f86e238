# -*- test-case-name: tests.core.gateway.test_gateway_parts, tests.core.gateway.test_env_reload, tests.core.gateway.test_project_same_name, tests.core.test_childmove -*-
"""A gateway's servers changed by a new configuration: L{Reconfigurer}.

New servers appear; removed ones end their sessions and stop their
children; changed ones are replaced (their sessions end, and their clients
initialize again on the 404). A change a pool can take on its own (the
environment alone, routes added) keeps the pool and its sessions
(L{mcpgateway.core.pools.pool.sameServer}, L{PoolLike.useSpec}); a route
that is gone ends its own sessions only. A pool replaced because some of
its routes changed (a project's entry of the user's server's name added,
changed or removed: the pool now needs a child per route, or no longer
does) ends the sessions of those routes only: each session of a route
whose launch is the same on both sides (the user's C{/<server>/mcp} among
them) carries on in the new pool (L{PoolLike.restore}), as a session
restored after a restart does, and so does the running child of each such
route, with what it holds in memory, when it can move as a restart would
hand it over (L{mcpgateway.core.childmove}); a route whose child could not
move gets a new one, its sessions' C{initialize} replayed. A change of the
user's own entry still ends every session of the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.serverset import ServerSet
from mcpgateway.core.pools.pool import PoolLike, sameServer, variantsOf
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc


class ConfigurationWait(Protocol):
    """What L{Reconfigurer} tells when the configuration is complete (the
    gateway's L{mcpgateway.core.gateway.continuity.SessionContinuity})."""

    def configured(self) -> None: ...


class ReconfigureHost(Protocol):
    """What L{Reconfigurer} needs of its gateway."""

    @property
    def running(self) -> bool: ...

    def endSession(self, session: Session, reason: str = ...) -> Deferred[None]: ...

    @property
    def continuity(self) -> ConfigurationWait: ...


class Reconfigurer:
    """Makes the gateway's servers those of a new configuration."""

    def __init__(
        self,
        host: ReconfigureHost,
        servers: ServerSet,
        sessions: SessionRegistry,
        aggregate: AggregateSide,
        log: Logger,
    ) -> None:
        """
        @param host: the gateway (whether it runs; it ends the sessions, and
            is told when the configuration is complete).
        @param servers: the gateway's pools.
        @param sessions: the gateway's sessions.
        @param aggregate: the aggregate side, told when the servers change.
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._host = host
        self._servers = servers
        self._sessions = sessions
        self._aggregate = aggregate
        self.log = log

    def reconfigure(self, specs: Mapping[str, ServerSpec]) -> Deferred[Any]:
        """Serve C{specs} from now on; fires once the children of the
        servers removed or replaced have stopped."""
        stopping = []
        pools = self._servers.pools
        for name in sorted(set(pools) | set(specs)):
            old, new = pools.get(name), specs.get(name)
            if (
                old is not None
                and new is not None
                and sameServer(old.spec, new, old.promoted, old.perLaunch)
            ):
                if new.disabled and not old.disabled:
                    self.log.info("server {server} disabled; ending its sessions", server=name)
                    self._endServer(name, old, "was disabled")
                    stopping.append(old.stopAll())
                self._endRerouted(name, old.spec, new)
                for session in old.useSpec(new):
                    self._routeGone(name, session)
                refusal = old.era2026Refusal()
                if refusal is not None:
                    old.endEra2026(refusal)  # "era2026": false now: no call or listen goes on
                continue
            carried = [] if old is None or new is None else self._carried(name, old.spec, new)
            if old is not None:
                self._replaced(name, old, new, carried)
                self._servers.remove(name, forget=new is None)
            if new is not None:
                if old is None:
                    self.log.info("config: server {server} added", server=name)
                pool = self._servers.add(name, new)
                for session in carried:
                    self._carryOn(pool, session)
                if old is not None and carried:  # your route launches alike: its child goes on
                    self._servers.moveChildren(name, old, pool)
            if old is not None:
                stopping.append(old.stopAll())
            if new is not None and self._host.running:
                self._servers.start([name])
        self._aggregate.membersChanged()
        if self._host.running:
            self._host.continuity.configured()  # the held sessions' servers are known now, or gone
        return DeferredList(stopping, consumeErrors=True)

    def _replaced(
        self, name: str, old: PoolLike, new: ServerSpec | None, carried: list[Session]
    ) -> None:
        """End the sessions of server C{name}'s pool C{old}, removed or
        replaced by one serving C{new}, but those C{carried} over (the
        sessions of its unchanged routes), and say so."""
        if not carried:
            self.log.info(
                "config: server {server} {what}; ending its sessions",
                server=name,
                what="removed" if new is None else "changed",
            )
            what = "was removed" if new is None else "was replaced (its entry changed)"
            self._endServer(name, old, what)
            return
        ending = [s for s in self._sessions.forServer(name) if s not in carried]
        self.log.info(
            "config: server {server}: some of its routes changed (a project's entry of that"
            " name); its pool is made anew: the {carried} session(s) of its unchanged routes"
            " carry on, with their children where these can move; ending the {ending} of its"
            " changed routes",
            server=name,
            carried=len(carried),
            ending=len(ending),
        )
        self._endServer(name, old, "was reloaded (a route of it changed)", carried)

    def _carried(self, name: str, old: ServerSpec, new: ServerSpec) -> list[Session]:
        """The sessions of server C{name}, C{old} replaced by C{new}, that
        carry on in the new pool: none when the user's own route changed or
        is gone (its entry is what changed); else those of each route whose
        launch is the same in both (never a session of an aggregate, or one
        bound by its credentials)."""
        before, after = variantsOf(old), variantsOf(new)
        if "" not in before or "" not in after or before[""].launch != after[""].launch:
            return []
        aggregate = self._aggregate
        return [
            session
            for session in self._sessions.forServer(name)
            if not (aggregate.isAggregate(session) or aggregate.isMember(session))
            and not session.credential
            and session.scope in before
            and session.scope in after
            and before[session.scope].launch == after[session.scope].launch
        ]

    def _carryOn(self, pool: PoolLike, session: Session) -> None:
        """Attach C{session}, a session of the pool C{pool} replaced, to
        C{pool}: bound to its route there, its C{initialize} replayed on its
        next request (or ended, when its route cannot take it)."""
        variant = pool.variantFor(session.scope, principal=session.principal)
        if variant is None:
            self._host.endSession(session, f"its route of server {session.server} was removed")
            return
        session.variant = variant
        pool.restore(session)

    def _endServer(
        self, name: str, pool: PoolLike, what: str, carried: list[Session] | None = None
    ) -> None:
        """End every session of server C{name} (served by C{pool}) but those
        C{carried} over to its new pool: each request in flight on its
        children is answered first with a JSON-RPC error (-32003) naming
        the server and saying C{what} happened to it, as when a child goes
        away (docs/design/routing.md), and cancelled on its child; then the
        sessions end (their streams close with nothing left unanswered)."""
        pool.failAll(jsonrpc.CHILD_EXITED, f"server '{name}' {what}")
        kept = carried or []
        for session in self._sessions.forServer(name):
            if session not in kept:
                self._host.endSession(session, f"server {name} {what}")

    def _endRerouted(self, name: str, old: ServerSpec, new: ServerSpec) -> None:
        """Before the pool of server C{name} serves C{new}: end the sessions
        of each route C{new} does not have (whatever kind of pool it is).
        The other routes' sessions carry on: the pool moves them to their
        route's new child if its launch changed (L{PoolLike.useSpec})."""
        before, after = variantsOf(old), variantsOf(new)
        if before.keys() <= after.keys():
            return
        for session in self._sessions.forServer(name):
            if not self._aggregate.isAggregate(session) and session.scope not in after:
                self._routeGone(name, session)

    def _routeGone(self, name: str, session: Session) -> None:
        self.log.info(
            "config: server {server} has no route {scope} any more; ending session {sid}",
            server=name,
            scope=session.scope,
            sid=session.shortId,
        )
        self._host.endSession(session, f"its route of server {name} was removed")
