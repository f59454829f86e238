# -*- test-case-name: tests.core.pools.test_fromcatalog -*-
"""A client's start-up answered from a saved catalog: a shared pool's
L{CatalogStartup}.

Claude Code, Codex and Cursor open a session on every configured server
when they start, and list what it offers, whether or not anyone calls it
that day. While a shared pool's child does not run, its L{CatalogStartup}
answers those requests from the catalog its L{CatalogSource} says answers
for the server's entry as it is now:

 - C{initialize} (a handshake session): the catalog's C{serverInfo} (as the
   entry presents it, L{mcpgateway.core.identity}), C{capabilities} and
   C{instructions}, with the protocol version the gateway negotiated, as
   every session of a shared child is answered; C{server/discover} (a 2026
   client), as from the child's own answer;
 - C{tools/list}, C{prompts/list}, C{resources/list} and
   C{resources/templates/list} without a cursor, for a kind the catalog's
   capabilities declare: every item in one page, without the tools the
   pinned tools withhold now;
 - C{logging/setLevel}, when the catalog declares C{logging}: the session's
   level is kept, and the child is told the sessions' lowest when it starts
   (as after a restart);
 - whether the child serves 2025-11-25 tasks itself (its capabilities say).

Anything else (a call, a read, a subscription, a completion, a page after
a cursor, a kind it does not declare) goes the way it always goes: the
child is started and initialized by the gateway, then serves it. The
sessions answered from the catalog are attached to the shared child from
their C{initialize} on, as any session is.

When the child becomes ready the catalogs list it
(L{CatalogSource.relisted}); each session that was answered a list from
the catalog meanwhile is sent C{notifications/<kind>/list_changed} for each
of those lists the child lists differently (every one, when that listing
failed), as a child that changed its list would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mcpgateway.core.catalogdata import (
    METHODS,
    Catalog,
    declared,
    kindDigest,
    withoutWithheld,
)
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.healing import Breaker
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.pools.pool import CatalogSource, PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.status import CatalogCounts, Circuit, Lifecycle
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    # The 2026-07-28 side loads on a pool's first 2026 request.
    from mcpgateway.core.era2026.types import Era2026Request
    from mcpgateway.core.pools.era2026side import Era2026Side

__all__ = ["CHANGED", "KIND_OF", "CatalogHost", "CatalogStartup", "StartupHost", "initializeOf"]

KIND_OF = {method: kind for kind, method in METHODS.items()}
"""The list each list method asks for."""
CHANGED = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
    "resourceTemplates": "notifications/resources/list_changed",
}
"""What a session is told when the child lists a kind differently."""

Serve = Callable[[], Deferred[jsonrpc.Message]]


class CatalogHost(Protocol):
    """What answering from a catalog reads of a pool, whatever its scope."""

    @property
    def spec(self) -> ServerSpec: ...

    @property
    def launchSpec(self) -> ServerSpec: ...

    @property
    def disabled(self) -> bool: ...

    @property
    def breaker(self) -> Breaker: ...

    @property
    def toolPins(self) -> PinnedTools | None: ...

    @property
    def catalogSource(self) -> CatalogSource | None: ...


class StartupHost(CatalogHost, Protocol):
    """What a L{CatalogStartup} reads of its shared pool (the pool, as the
    catalogs know it)."""

    @property
    def routes(self) -> dict[str, Variant]: ...

    @property
    def era2026(self) -> Era2026Side: ...

    def era2026Refusal(self) -> str | None: ...


def initializeOf(catalog: Catalog) -> dict[str, Any]:
    """The C{InitializeResult} a catalog keeps (without its protocol version)."""
    result: dict[str, Any] = {
        "capabilities": catalog.capabilities,
        "serverInfo": catalog.serverInfo,
    }
    if catalog.instructions is not None:
        result["instructions"] = catalog.instructions
    return result


def _probing(session: Session) -> bool:
    """Whether C{session} is the catalogs' own (a probe lists the child)."""
    return bool(getattr(session, "keepsCacheHints", False))


class CatalogStartup:
    """The start-up requests a shared pool answers from its catalog while
    its child does not run (see the module docstring).

    @ivar counts: what it answered.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        host: StartupHost,
        child: Callable[[], Upstream | None],
        ownsEach: Callable[[], bool],
    ) -> None:
        """
        @param child: the shared child's upstream (C{None}: not made yet).
        @param ownsEach: whether a session opened now gets a child of its
            own (a promoted server's: nothing is answered from the catalog).
        """
        self._host = host
        self._child = child
        self._ownsEach = ownsEach
        self.counts = CatalogCounts()
        self._marks: dict[str, tuple[Session, dict[str, str]]] = {}
        """The sessions answered from the catalog since the child last
        became ready, with the digest of each list they were given."""

    # -- deciding ------------------------------------------------------------------

    def _source(self) -> CatalogSource | None:
        """The catalogs to answer from now: none while the child runs, the
        server is disabled, promoted or cannot start, or its circuit is
        open (its error is the answer then)."""
        host = self._host
        source = host.catalogSource
        if source is None or host.disabled or self._ownsEach():
            return None
        if not host.launchSpec.runnable or host.breaker.state is Circuit.OPEN:
            return None
        shared = self._child()
        if shared is not None and shared.state is Lifecycle.RUNNING:
            return None
        return source

    def _catalog(self, principal: str) -> Catalog | None:
        """The catalog that answers for C{principal} now, as it may be shown."""
        source = self._source()
        if source is None:
            return None
        pool = cast(PoolLike, self._host)
        catalog = source.current(pool, principal)
        return None if catalog is None else withoutWithheld(catalog, pool)

    def serving(self) -> bool:
        """Whether sessions were answered from the catalog since its child
        last became ready (the server's state says C{catalog} while no
        child runs)."""
        return bool(self._marks)

    def startsOnCall(self) -> bool:
        """Whether its sessions, restored ones too, are answered from the
        catalog until a request it cannot answer starts the child: a
        catalog is current and no session subscribed to a resource (its
        updates come from a running child)."""
        shared = self._child()
        fanout = None if shared is None else shared.router.fanout
        if isinstance(fanout, SharedFanout) and fanout.subscriptions:
            return False
        return self.initializeFor(None) is not None

    # -- handshake sessions ----------------------------------------------------------

    def open(
        self, session: Session, initialize: jsonrpc.Message, shared: Upstream, start: Serve
    ) -> Deferred[jsonrpc.Message]:
        """The answer to C{session}'s C{initialize}: from the catalog when
        one is current (once the saved catalogs are read), the session then
        attached to C{shared}; else C{start()}'s."""
        source = self._source()
        if source is None or _probing(session):
            return start()
        return source.loaded().addCallback(self._opened, session, initialize, shared, start)

    def _opened(
        self,
        _: object,
        session: Session,
        initialize: jsonrpc.Message,
        shared: Upstream,
        start: Serve,
    ) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
        catalog = self._catalog(session.principal)
        if catalog is None:
            return start()
        shared.router.attach(session)
        self._mark(session)
        self.counts.startups += 1
        self.counts.answers += 1
        self.log.debug(
            "server {server}: session {sid} initialized from its saved catalog"
            " (its child starts at the first request the catalog cannot answer)",
            server=self._host.spec.name,
            sid=session.shortId,
        )
        result = presentedResult(initializeOf(catalog), self._host.spec)
        return jsonrpc.resultResponse(
            initialize["id"], {**result, "protocolVersion": session.protocolVersion}
        )

    def answer(self, session: Session, message: jsonrpc.Message) -> jsonrpc.Message | None:
        """The catalog's answer to C{session}'s request C{message}, when it
        has one (C{None}: forward it, which starts the child)."""
        method = message["method"]
        if (method not in KIND_OF and method != "logging/setLevel") or _probing(session):
            return None
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if params.get("cursor") is not None:
            return None  # a page of the child's own paging: the child's to give
        catalog = self._catalog(session.principal)
        if catalog is None:
            return None
        if method == "logging/setLevel":
            return self._setLevel(session, message, params, catalog)
        kind = KIND_OF[method]
        if not declared(catalog.capabilities, kind):
            return None
        items = catalog.items(kind)
        self._mark(session, kind, kindDigest(items))
        self.counts.answers += 1
        return jsonrpc.resultResponse(message["id"], {kind: list(items)})

    def _setLevel(
        self,
        session: Session,
        message: jsonrpc.Message,
        params: dict[str, Any],
        catalog: Catalog,
    ) -> jsonrpc.Message | None:
        """Keep C{session}'s log level for the child to be told when it
        starts (L{SharedFanout.restored}), if the catalog declares logging."""
        level = params.get("level")
        shared = self._child()
        if not isinstance(catalog.capabilities.get("logging"), dict) or level not in LOG_LEVELS:
            return None
        if shared is None or session not in shared.router.sessions:
            return None
        fanout = shared.router.fanout
        assert isinstance(fanout, SharedFanout)
        session.logLevel = level
        levels = [s.logLevel for s in shared.router.sessions if s.logLevel in LOG_LEVELS]
        fanout.childLogLevel = min(levels, key=LOG_LEVELS.index)
        self._mark(session)
        self.counts.answers += 1
        return jsonrpc.resultResponse(message["id"], {})

    def initializeFor(self, session: Session | None) -> dict[str, Any] | None:
        """The C{InitializeResult} the catalog answers C{session} (C{None}:
        any session of no principal) with while the child does not run
        (C{None}: ask the child)."""
        if session is not None and _probing(session):
            return None
        catalog = self._catalog("" if session is None else session.principal)
        return None if catalog is None else presentedResult(initializeOf(catalog), self._host.spec)

    def forget(self, session: Session) -> None:
        """C{session} ended."""
        self._marks.pop(session.id, None)

    def _mark(self, session: Session, kind: str | None = None, digest: str = "") -> None:
        marked = self._marks.get(session.id)
        if marked is None:
            marked = self._marks[session.id] = (session, {})
        if kind is not None:
            marked[1][kind] = digest

    # -- the child started ---------------------------------------------------------

    def childReady(self, upstream: Upstream) -> None:
        """The shared child C{upstream} was initialized: once the catalogs
        have listed it, tell each session answered a list from the catalog
        which of those lists it lists differently."""
        marks, self._marks = self._marks, {}
        listed = [(session, kinds) for session, kinds in marks.values() if kinds]
        if not listed:
            return
        source = self._host.catalogSource
        relisted = None if source is None else source.relisted(cast(PoolLike, self._host))
        if relisted is None:
            self._tell(upstream, listed, None)
            return
        relisted.addCallback(lambda catalog: self._tell(upstream, listed, catalog))
        relisted.addErrback(
            lambda reason: self.log.failure(
                "server {server}: comparing its child's lists with its catalog failed",
                failure=reason,
                server=self._host.spec.name,
            )
        )

    def _tell(
        self,
        upstream: Upstream,
        listed: list[tuple[Session, dict[str, str]]],
        catalog: Catalog | None,
    ) -> None:
        """Send each of C{listed} a C{list_changed} for each kind it was
        given that C{catalog} (the child's listing; C{None}: failed) lists
        differently."""
        fresh = None if catalog is None else withoutWithheld(catalog, cast(PoolLike, self._host))
        told: dict[str, int] = {}
        for session, kinds in listed:
            if session not in upstream.router.sessions:
                continue  # ended, or moved to a child of its own
            methods = sorted(
                {
                    CHANGED[kind]
                    for kind, digest in kinds.items()
                    if fresh is None or kindDigest(fresh.items(kind)) != digest
                }
            )
            for method in methods:
                session.deliver(jsonrpc.notification(method))
                told[method] = told.get(method, 0) + 1
        for method, count in sorted(told.items()):
            self.log.info(
                "server {server}: its child lists differently from its saved catalog;"
                " {method} sent to {count} session(s) answered from the catalog",
                server=self._host.spec.name,
                method=method,
                count=count,
            )

    # -- 2026 clients ----------------------------------------------------------------

    def serveEra2026(self, request: Era2026Request, serve: Serve) -> Deferred[jsonrpc.Message]:
        """A 2026 request: C{server/discover} and the lists from the catalog
        when one is current (as L{answer}); else C{serve()}'s answer."""
        method = request.method
        if method != "server/discover" and method not in KIND_OF:
            return serve()
        host = self._host
        source = self._source()
        if source is None or host.era2026Refusal() is not None or request.scope not in host.routes:
            return serve()
        if request.params.get("cursor") is not None:
            return serve()
        return source.loaded().addCallback(self._era2026, request, serve)

    def _era2026(
        self, _: object, request: Era2026Request, serve: Serve
    ) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
        catalog = self._catalog(request.principal)
        method = request.method
        kind = KIND_OF.get(method)
        if catalog is None or (kind is not None and not declared(catalog.capabilities, kind)):
            return serve()
        from mcpgateway.protocol import era2026form

        host = self._host
        side = host.era2026
        side.answeredElsewhere()
        self.counts.answers += 1
        scope = side.cacheScope()
        initialize = presentedResult(initializeOf(catalog), host.spec)
        if kind is None:
            self.counts.startups += 1
            return jsonrpc.resultResponse(
                request.clientId, era2026form.discoverResult(initialize, scope)
            )
        info = initialize.get("serverInfo")
        response = jsonrpc.resultResponse(request.clientId, {kind: list(catalog.items(kind))})
        return era2026form.era2026Answer(
            method, response, info if isinstance(info, dict) else None, scope
        )
