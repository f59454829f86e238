# -*- test-case-name: tests.core.pools.test_scopecatalog -*-
"""A start-up answered from a catalog on a server whose children are not
shared by everyone: the L{ScopeStartup} of a per-session, promoted,
workspace, credential or per-user server.

Claude Code, Codex and Cursor open a session on every configured server
when they start, and list what it offers, whether or not anyone calls it.
A shared server answers that from its saved catalog
(L{mcpgateway.core.pools.fromcatalog}); a server whose children are the
sessions' own, or a route's, a credential's or a user's, does too, from a
catalog of its I{scope key} (L{scopeKey}):

 - the server's entry as it is now (L{entryOf
   <mcpgateway.core.catalogdata.entryOf>}), the child key of the session's
   route (a keyed hash of its launch: cwd, env, credential set, principal;
   never a value) and the principal's catalog key;
 - for a child the client initializes itself (a session's own: per-session
   and promoted servers), also the protocol version the gateway negotiated
   and the digest of the client's declared C{capabilities}: such a child
   answers each client's own C{initialize}, and may list differently to a
   client with roots, sampling or elicitation (server-everything lists
   C{get-roots-list} only to a client with roots). A child the gateway
   initializes (a route's, a credential's, a user's) sees the gateway's
   capabilities whatever the client's: its key has neither.

C{clientInfo} is not in the key: every build of every client names itself
differently, so a catalog per C{clientInfo} would start a child for nearly
every client, the cost this avoids; and a server that lists differently by
the client's name is rare. Such a server is answered with what it listed
to the first client of that scope key, and tells a session what differs
(C{list_changed}) when its child starts; C{"lazy": false} on its entry
starts its children at C{initialize} as before.

When no catalog of the key is known, a I{probe} gets one: one child,
started and initialized as the first session of that key would initialize
its own (its C{initialize} replayed: protocol version, capabilities,
clientInfo) or, for a route's child, as the gateway initializes it; the
gateway lists it (tools, prompts, resources and templates, as its
capabilities declare), keeps the catalog and stops it. The sessions of
that key that open meanwhile wait for it, none starts a child. A probe that
fails (the child crashed, refused or did not answer within
L{PROBE_TIMEOUT}) is logged, and its sessions start their own child at
C{initialize}, as without a catalog. A probe rather than the first
session's own child: that child would be kept for a session that may never
call, which is what this avoids.

A session with a child of its own whose key was never listed is answered
from the catalog of its I{route} (L{routeKey}: the entry, the route's
child key and the principal's catalog key, not the client's part) when one
is known: what C{mcpgateway catalog refresh} listed through a child of
that route as a client that declares every capability would start it
(L{mcpgateway.core.pools.scoperefresh}), with the protocol version the
gateway negotiated. What the session's own child lists when it starts is
told as below (C{list_changed}) but not kept in the route's catalog: it
may list less to a client that declares less.

The catalogs are kept per pool, and saved in the state directory
(L{SavedScopes}: L{mcpgateway.core.pools.scopecatalogfile}): after a
restart or a reconfiguration, a key already listed is answered from its
saved catalog without a probe. A probe still runs for a key never listed
before, and for every key of a server whose entry changed (the key hashes
the entry: its saved catalogs are dropped). A start-up waits for the saved
catalogs to be read, as the gateway starts.

A session answered from a catalog has its child made but not started
(as a session restored after a restart has); its requests the catalog
answers (C{initialize}, the lists without a cursor of the kinds the
catalog declares, C{logging/setLevel} when it declares logging) start
nothing. Its first other request (a call, a read, a subscription, a
completion, a page after a cursor, an undeclared kind, anything else)
starts its child, initialized with the session's own C{initialize}
replayed (and C{notifications/initialized}, its log level), before that
request is forwarded (L{mcpgateway.core.pools.owned.OwnedChildren}). Once
that child answers, the lists the session was given are listed again from
it: each that differs is told with C{notifications/<kind>/list_changed},
and the catalog keeps the new lists.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.cachehints import ListingHints
from mcpgateway.core.catalogdata import (
    KINDS,
    Catalog,
    Send,
    canonical,
    catalogDigest,
    catalogKeyOf,
    declared,
    entryOf,
    initFacts,
    kindDigest,
    listKinds,
    shortHash,
    withoutWithheld,
)
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.pools.fromcatalog import CHANGED, KIND_OF, CatalogHost, Serve, initializeOf
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.status import CatalogCounts, Circuit
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.runtime import logs

__all__ = [
    "PROBE_TIMEOUT",
    "SavedScopes",
    "ScopeCatalog",
    "ScopeProbeSession",
    "ScopeStartup",
    "routeKey",
    "scopeKey",
]

PROBE_TIMEOUT = 30.0
"""Seconds a probe may take before the sessions waiting for it start their
own child (it goes on, and what it lists is kept)."""


@dataclass(frozen=True)
class ScopeCatalog:
    """What a child of one scope key listed, with the protocol version it
    answered the replayed C{initialize} with (C{None}: a child the gateway
    initialized, whose sessions keep the version the gateway negotiated)."""

    catalog: Catalog
    protocolVersion: str | None


Probe = Callable[[], Deferred[ScopeCatalog]]
"""Starts one child, lists it and stops it (fails when it could not)."""


ScopeHost = CatalogHost
"""What a L{ScopeStartup} reads of its pool."""


class SavedScopes(Protocol):
    """Where every pool's scope catalogs outlive the process
    (L{mcpgateway.core.pools.scopecatalogfile.SavedScopeCatalogs})."""

    @property
    def loaded(self) -> bool:
        """Whether the catalogs an earlier process saved were read."""

    def whenLoaded(self) -> Deferred[None]:
        """Fires once they are read."""

    def get(self, server: str, entry: str, key: str) -> ScopeCatalog | None:
        """The catalog of scope key C{key} of C{server}'s entry C{entry}."""

    def put(self, server: str, entry: str, key: str, known: ScopeCatalog) -> None:
        """Keep C{known} as that catalog (saved a little later)."""


def scopeKey(pool: ScopeHost, session: Session, ownChild: bool) -> str:
    """The key of the catalog that answers C{session} (see the module
    docstring); C{ownChild}: the session's child is its own (the client
    initializes it). A hash: no value of the entry or the session is kept."""
    parts = _routeParts(pool, session.variant, session.principal)
    if ownChild:
        parts += [session.protocolVersion, canonical(session.capabilities)]
    return shortHash(canonical(parts))


def routeKey(pool: ScopeHost, variant: Variant | None, principal: str) -> str:
    """The key of the catalog of route C{variant}'s child for the principal
    whose key is C{principal}, whoever the client: a route's child's key
    (the gateway initializes it: L{scopeKey} without C{ownChild}), and the
    key a session with a child of its own falls back to when its own key
    was never listed (what C{mcpgateway catalog refresh} lists for any
    client: L{mcpgateway.core.pools.scoperefresh})."""
    return shortHash(canonical(_routeParts(pool, variant, principal)))


def _routeParts(pool: ScopeHost, variant: Variant | None, principal: str) -> list[Any]:
    return [
        "scope/1",
        entryOf(pool.spec),
        "" if variant is None else variant.childKey,
        catalogKeyOf(pool, principal),
    ]


def listedCatalog(
    spec: ServerSpec,
    key: str,
    result: Mapping[str, Any],
    lists: Mapping[str, tuple[dict[str, Any], ...]],
    hints: ListingHints,
    now: float,
    ownChild: bool,
) -> ScopeCatalog:
    """The catalog of what a child answered (C{result}: its
    C{InitializeResult}) and listed."""
    serverInfo, capabilities, instructions = initFacts(result)
    complete = {kind: lists.get(kind, ()) for kind in KINDS}
    expires: dict[str, float] = {}
    for kind in KINDS:
        expiry = hints.expiry(kind)
        if expiry is not None:
            expires[kind] = expiry
    catalog = Catalog(
        server=spec.name,
        catalogKey=key,
        source="probe",
        taken=now,
        digest=catalogDigest(complete, serverInfo, capabilities, instructions),
        lists=MappingProxyType(complete),
        serverInfo=serverInfo,
        capabilities=capabilities,
        instructions=instructions,
        private=frozenset(hints.private),
        ttls={kind: hints.ttl[kind] for kind in expires if kind in hints.ttl},
        expires=expires,
        entry=entryOf(spec),
    )
    version = result.get("protocolVersion")
    return ScopeCatalog(catalog, version if ownChild and isinstance(version, str) else None)


class ScopeProbeSession(Session):
    """The session of a probe of a session's own child: the replayed
    C{initialize} of the session it probes for (its protocol version,
    capabilities, clientInfo, route and principal), no client behind it.
    The child's C{roots/list} is answered with none (C{answer}); nothing
    else it asks is delivered."""

    __slots__ = ("answer",)

    keepsCacheHints = True
    """The child's C{ttlMs} and C{cacheScope} reach it (the catalog honours them)."""

    def __init__(
        self, session: Session, now: float, answer: Callable[[jsonrpc.Message], bool]
    ) -> None:
        super().__init__(
            "scope-catalog-" + secrets.token_hex(16),
            session.server,
            session.protocolVersion,
            dict(session.capabilities),
            dict(session.clientInfo),
            now,
        )
        self.principal = session.principal
        self.scope = session.scope
        self.credential = session.credential
        self.variant = session.variant
        self.answer = answer

    def deliver(self, message: jsonrpc.Message) -> bool:
        """A C{roots/list} is answered with none, and taken: when the probe's
        child is stopped already (a child asks on its own, and may ask as
        the probe ends), no one waits for the answer, and nothing is to
        wait for a stream this session never opens."""
        if message.get("method") != "roots/list" or "id" not in message:
            return False
        self.answer(jsonrpc.resultResponse(message["id"], {"roots": []}))
        return True


class _Pending:
    """A session answered from the catalog of C{key} whose child has not
    started, with the digest of each list it was given; C{renews}: what its
    child lists when it starts is kept in that catalog (not in a route's
    catalog for any client, which a session's own child may list less of)."""

    __slots__ = ("key", "kinds", "renews", "session")

    def __init__(self, session: Session, key: str, renews: bool = True) -> None:
        self.session = session
        self.key = key
        self.renews = renews
        self.kinds: dict[str, str] = {}


class ScopeStartup:
    """The catalogs of one pool's scope keys, the probes in flight, and the
    sessions answered from them whose child has not started (see the
    module docstring).

    @ivar counts: what it answered.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self, host: ScopeHost, clock: IReactorTime, timeout: float = PROBE_TIMEOUT
    ) -> None:
        self._host = host
        self._clock = clock
        self.timeout = timeout
        self.counts = CatalogCounts()
        self._catalogs: dict[str, ScopeCatalog] = {}
        self._probes: dict[str, list[Deferred[ScopeCatalog | None]]] = {}
        self._pending: dict[str, _Pending] = {}
        self.probesRun = 0
        """Probes started (for tests and the log)."""
        self.saved: SavedScopes | None = None
        """Where the catalogs outlive the process (the gateway's; C{None}:
        kept in memory only)."""

    # -- deciding ----------------------------------------------------------------------

    def allowed(self, session: Session) -> bool:
        """Whether C{session}'s start-up may be answered from a catalog: the
        switches allow it, the server runs, its circuit is not open, and
        the session is no probe's. Not a remote server's: its "child" is a
        connection, not a process, and a probe would make a second one with
        the session's credentials (a second token exchange) for nothing."""
        host = self._host
        source = host.catalogSource
        if source is None or not source.allows(host) or host.disabled:  # type: ignore[arg-type]
            return False
        if host.spec.remote is not None:
            return False
        if getattr(session, "keepsCacheHints", False):
            return False
        return host.launchSpec.runnable and host.breaker.state is not Circuit.OPEN

    def known(self, key: str) -> ScopeCatalog | None:
        """The catalog of C{key}, while it is fresh (none of its lists past
        its C{ttlMs})."""
        known = self._catalogs.get(key)
        if known is None:
            known = self._savedCatalog(key)
        if known is None:
            return None
        expires = known.catalog.expiresAt()
        if expires is not None and self._clock.seconds() >= expires:
            return None
        return known

    def _savedCatalog(self, key: str) -> ScopeCatalog | None:
        """The saved catalog of C{key} (of the server's entry as it is
        now), kept in memory from now on."""
        saved = self.saved
        if saved is None:
            return None
        spec = self._host.spec
        known = saved.get(spec.name, entryOf(spec), key)
        if known is not None:
            self._catalogs[key] = known
        return known

    def keep(self, key: str, known: ScopeCatalog) -> None:
        """Keep C{known} as the catalog of C{key}, and save it when it was
        listed under the server's entry as it is now."""
        self._catalogs[key] = known
        saved, spec = self.saved, self._host.spec
        entry = entryOf(spec)
        if saved is not None and known.catalog.entry == entry:
            saved.put(spec.name, entry, key, known)

    def pending(self, session: Session) -> bool:
        """Whether C{session} was answered from a catalog and its child has
        not started."""
        return session.id in self._pending

    def serving(self) -> bool:
        return bool(self._pending)

    def forget(self, session: Session) -> None:
        """C{session} ended."""
        self._pending.pop(session.id, None)

    def _shown(self, key: str) -> Catalog | None:
        known = self.known(key)
        return None if known is None else withoutWithheld(known.catalog, self._host)

    # -- start-ups ---------------------------------------------------------------------

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
        key: str,
        probe: Probe,
        start: Serve,
        attach: Callable[[Session], None],
        fallback: str | None = None,
    ) -> Deferred[jsonrpc.Message]:
        """The answer to C{session}'s C{initialize}: from the catalog of
        C{key}, else from that of C{fallback} (a route's, for any client:
        L{routeKey}), else probed first, the session then C{attach}ed to
        its child, not started; C{start()}'s when the probe failed. Waits
        for the saved catalogs to be read first."""
        saved = self.saved
        if saved is not None and not saved.loaded:
            return saved.whenLoaded().addCallback(
                lambda _: self.open(session, initialize, key, probe, start, attach, fallback)
            )
        known = self.known(key)
        if known is not None:
            return succeed(self._opened(session, initialize, key, known, attach))
        routed = None if fallback is None else self.known(fallback)
        if fallback is not None and routed is not None:
            opened = self._opened(session, initialize, fallback, routed, attach, renews=False)
            return succeed(opened)
        waiting = self._probe(key, probe)

        def probed(known: ScopeCatalog | None) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
            if known is None or not self.allowed(session):
                self.log.info(
                    "server {server}: session {sid} starts its child at initialize:"
                    " no catalog of its scope could be listed",
                    server=self._host.spec.name,
                    sid=session.shortId,
                )
                return start()
            return self._opened(session, initialize, key, known, attach)

        return waiting.addCallback(probed)

    def _opened(
        self,
        session: Session,
        initialize: jsonrpc.Message,
        key: str,
        known: ScopeCatalog,
        attach: Callable[[Session], None],
        renews: bool = True,
    ) -> jsonrpc.Message:
        if known.protocolVersion is not None:
            session.protocolVersion = known.protocolVersion  # as the child answered it
        attach(session)
        self._pending[session.id] = _Pending(session, key, renews)
        self.counts.startups += 1
        self.counts.answers += 1
        self.log.debug(
            "server {server}: session {sid} initialized from the catalog of its scope"
            " (its child starts at its first request the catalog cannot answer)",
            server=self._host.spec.name,
            sid=session.shortId,
        )
        catalog = withoutWithheld(known.catalog, self._host)
        result = presentedResult(initializeOf(catalog), self._host.spec)
        return jsonrpc.resultResponse(
            initialize["id"], {**result, "protocolVersion": session.protocolVersion}
        )

    def initializeFor(self, session: Session) -> dict[str, Any] | None:
        """The C{InitializeResult} C{session} was answered from its catalog
        (C{None}: its child runs, or the catalog is gone: ask it)."""
        pending = self._pending.get(session.id)
        catalog = None if pending is None else self._shown(pending.key)
        if catalog is None:
            return None
        return {"capabilities": catalog.capabilities, "serverInfo": catalog.serverInfo}

    def answer(
        self,
        session: Session,
        message: jsonrpc.Message,
        keepLevel: Callable[[Session, str], None] | None = None,
    ) -> jsonrpc.Message | None:
        """The catalog's answer to C{session}'s request C{message} while its
        child has not started (C{None}: start it and forward). C{keepLevel}:
        keeps a log level for the child to be told when it starts (C{None}:
        the session's own, replayed with its C{initialize})."""
        pending = self._pending.get(session.id)
        method = message.get("method")
        if pending is None or (method not in KIND_OF and method != "logging/setLevel"):
            return None
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if params.get("cursor") is not None:
            return None  # a page of the child's own paging
        catalog = self._shown(pending.key)
        if catalog is None or not self.allowed(session):
            return None
        if method == "logging/setLevel":
            level = params.get("level")
            if not isinstance(catalog.capabilities.get("logging"), dict):
                return None
            if not isinstance(level, str) or level not in LOG_LEVELS:
                return None
            session.logLevel = level
            if keepLevel is not None:
                keepLevel(session, level)
            self.counts.answers += 1
            return jsonrpc.resultResponse(message["id"], {})
        kind = KIND_OF[str(method)]
        if not declared(catalog.capabilities, kind):
            return None
        items = catalog.items(kind)
        pending.kinds[kind] = kindDigest(items)
        self.counts.answers += 1
        return jsonrpc.resultResponse(message["id"], {kind: list(items)})

    # -- the children started ----------------------------------------------------------

    def started(self, sessions: Iterable[Session], send: Send) -> None:
        """The child of C{sessions} answers now: list again what those of
        them answered from a catalog were given (through C{send}), tell each
        which lists differ, and keep the new lists in the catalog."""
        given = [p for p in (self._pending.pop(s.id, None) for s in sessions) if p is not None]
        kinds = frozenset(kind for p in given for kind in p.kinds)
        if not kinds:
            return
        key = given[0].key
        known = self._catalogs.get(key)
        capabilities = {} if known is None else known.catalog.capabilities
        listing = listKinds(send, capabilities, kinds, self.log, self._host.spec.name)
        listing.addCallbacks(
            lambda lists: self._tell(given, key, lists),
            lambda reason: self._tell(given, key, None, reason),
        )

    def _tell(
        self,
        given: list[_Pending],
        key: str,
        lists: Mapping[str, tuple[dict[str, Any], ...]] | None,
        reason: Failure | None = None,
    ) -> None:
        name = self._host.spec.name
        if reason is not None:
            self.log.warn(
                "server {server}: listing a session's child to compare with its catalog"
                " failed: {why}",
                server=name,
                why=reason.getErrorMessage(),
            )
        fresh: dict[str, str] = {}
        if lists is not None:
            if any(pending.renews for pending in given):
                self._renew(key, lists)
            fresh = {kind: kindDigest(items) for kind, items in lists.items()}
        for pending in given:
            methods = sorted(
                {
                    CHANGED[kind]
                    for kind, digest in pending.kinds.items()
                    if fresh.get(kind) != digest
                }
            )
            for method in methods:
                pending.session.deliver(jsonrpc.notification(method))
            if methods:
                self.log.info(
                    "server {server}: the child of session {sid} lists differently from"
                    " the catalog it was answered from; {methods} sent",
                    server=name,
                    sid=pending.session.shortId,
                    methods=", ".join(methods),
                )

    def _renew(self, key: str, lists: Mapping[str, tuple[dict[str, Any], ...]]) -> None:
        """Keep what a started child listed in the catalog of C{key}."""
        known = self._catalogs.get(key)
        if known is None:
            return
        catalog = known.catalog
        merged = {kind: lists.get(kind, catalog.items(kind)) for kind in KINDS}
        digest = catalogDigest(
            merged, catalog.serverInfo, catalog.capabilities, catalog.instructions
        )
        renewed = replace(
            catalog, lists=MappingProxyType(merged), digest=digest, taken=self._clock.seconds()
        )
        self.keep(key, replace(known, catalog=renewed))

    # -- probes ------------------------------------------------------------------------

    def relist(self, key: str, probe: Probe) -> Deferred[ScopeCatalog]:
        """List the catalog of C{key} through C{probe}, known or not, and
        keep what it lists (C{mcpgateway catalog refresh}); fails as the
        probe does."""
        self.probesRun += 1
        return maybeDeferred(probe).addCallback(self._kept, key)

    def _kept(self, known: ScopeCatalog, key: str) -> ScopeCatalog:
        self.keep(key, known)
        return known

    def _probe(self, key: str, probe: Probe) -> Deferred[ScopeCatalog | None]:
        """The catalog of C{key} from one probe, however many wait for it
        (C{None}: it failed, or took L{timeout})."""
        waiter: Deferred[ScopeCatalog | None] = Deferred()
        waiting = self._probes.get(key)
        if waiting is not None:
            waiting.append(waiter)
            return waiter
        self._probes[key] = [waiter]
        self.probesRun += 1
        name = self._host.spec.name
        self.log.info("server {server}: probing a child to list its scope's catalog", server=name)
        timer: IDelayedCall = self._clock.callLater(self.timeout, self._late, key)
        running = maybeDeferred(probe)

        def done(result: ScopeCatalog | Failure) -> None:
            if timer.active():
                timer.cancel()
            if isinstance(result, Failure):
                self.log.warn(
                    "server {server}: probing a child for its scope's catalog failed: {why};"
                    " its sessions start their own child at initialize",
                    server=name,
                    why=result.getErrorMessage() or type(result.value).__name__,
                )
                known = None
            else:
                known = result
                self.keep(key, known)
            for w in self._probes.pop(key, []):
                w.callback(known)

        running.addBoth(done)
        return waiter

    def _late(self, key: str) -> None:
        """The probe of C{key} took L{timeout}: its waiters start their own
        children; it goes on, and what it lists is kept."""
        waiters = self._probes.get(key)
        if not waiters:
            return
        self._probes[key] = []
        self.log.warn(
            "server {server}: probing a child for its scope's catalog took more than"
            " {timeout:g} s; its sessions start their own child at initialize",
            server=self._host.spec.name,
            timeout=self.timeout,
        )
        for waiter in waiters:
            waiter.callback(None)


def listChild(
    spec: ServerSpec,
    key: str,
    result: Mapping[str, Any],
    send: Send,
    clock: IReactorTime,
    log: Logger,
    ownChild: bool,
) -> Deferred[ScopeCatalog]:
    """The catalog of a child that answered C{initialize} with C{result}:
    every kind its capabilities declare, listed through C{send}."""
    _, capabilities, _ = initFacts(result)
    hints = ListingHints(clock.seconds())
    listing = listKinds(send, capabilities, frozenset(KINDS), log, spec.name, hints)
    return listing.addCallback(
        lambda lists: listedCatalog(spec, key, result, lists, hints, clock.seconds(), ownChild)
    )


class OwnChildren(Protocol):
    """What a probe of a session's own child uses of the pool's
    L{OwnedChildren<mcpgateway.core.pools.owned.OwnedChildren>}."""

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]: ...

    def child(self, session: Session) -> Upstream | None:
        """The upstream of C{session}'s own child (C{None}: none)."""

    def close(self, session: Session, reason: str = ...) -> Deferred[None]: ...


def replayedInitialize(session: Session, requestId: str) -> jsonrpc.Message:
    """C{session}'s own C{initialize}, as its client sent it (protocol
    version, capabilities, clientInfo), to be sent again to a child."""
    return jsonrpc.request(
        requestId,
        "initialize",
        {
            "protocolVersion": session.protocolVersion,
            "capabilities": session.capabilities,
            "clientInfo": session.clientInfo,
        },
    )


def probeOwnChild(
    owned: OwnChildren,
    spec: ServerSpec,
    session: Session,
    key: str,
    clock: IReactorTime,
    log: Logger,
) -> Deferred[ScopeCatalog]:
    """Start a child of one session as C{session}'s own would start (its
    route, its C{initialize} replayed), list it, and stop it."""
    return Deferred.fromCoroutine(_probingOwn(owned, spec, session, key, clock, log))


async def _probingOwn(
    owned: OwnChildren,
    spec: ServerSpec,
    session: Session,
    key: str,
    clock: IReactorTime,
    log: Logger,
) -> ScopeCatalog:
    def answer(message: jsonrpc.Message) -> bool:
        upstream = owned.child(probe)
        return upstream is not None and bool(upstream.router.clientResponse(probe, message))

    probe = ScopeProbeSession(session, clock.seconds(), answer)
    try:
        response = await owned.open(probe, replayedInitialize(probe, "mcpgateway-catalog"))
        upstream = owned.child(probe)
        result = None if upstream is None else upstream.sessionInitializeResult
        if upstream is None or not isinstance(result, dict):
            error = response.get("error")
            text = error.get("message", error) if isinstance(error, dict) else error
            raise ProbeRefused(f"initialize failed: {text}")
        router = upstream.router
        router.clientNotification(probe, jsonrpc.notification("notifications/initialized"))
        ids = iter(range(1, 1_000_000))

        def send(method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message]:
            return router.request(probe, jsonrpc.request(next(ids), method, params), None)

        return await listChild(spec, key, result, send, clock, log, ownChild=True)
    finally:
        owned.close(probe, "catalog listed").addErrback(lambda _: None)


class ProbeRefused(Exception):
    """A probe's child did not answer its C{initialize} with a result."""
