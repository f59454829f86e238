# -*- test-case-name: tests.core.gateway.test_catalog -*-
"""What each server lists (tools, prompts, resources, templates), known
without asking a child: the L{Catalogs}.

A L{Catalog} is what one server listed for one I{catalog key}: the key of
the principal for a server with children per principal (nobody is shown
another user's tools), else C{""} (workspace and credential children share
one catalog: the last child listed wins). It comes from one of three
sources:

 - B{live}: once L{Catalogs.attach} has been given a pool, each child
   of it that becomes ready (a shared child after its handshake, a child of
   one session after its session's C{notifications/initialized}) is listed
   through its router: every cursor of the four lists, at most
   L{MAX_PAGES} pages and L{MAX_ITEMS} items each, only the kinds its
   capabilities declare. A child's C{notifications/*/list_changed} lists
   that kind again, L{DEBOUNCE} seconds after the first of a burst. A child
   of one session is listed only when the catalog is not live or older
   than L{SESSION_FRESH} seconds (each session has one: no need to list
   them all).
 - B{snapshot}: what an earlier process saved (L{CatalogPersistence}, read
   in a thread by L{Catalogs.start}); a snapshot of another launch
   (command or args changed) is still served, marked C{stale}.
 - B{probe}: L{Catalogs.ensure} (when nothing is known) and
   L{Catalogs.refresh} (always) open a transient session through the
   pool's public API, list, and close it: one probe per catalog at a time.
   Its waiters hear C{None} after C{timeout} seconds; it goes on in the
   background (at most L{PROBE_LIMIT} seconds) and what it lists then is
   kept like any listing. After a failure, C{ensure} waits
   L{PROBE_BACKOFF} seconds, doubled per failure in a row (at most
   L{PROBE_BACKOFF_MAX}), before it probes again (L{Catalogs.retryAt}).
   L{publicReason} is what a client may be told of a failure.

A server's cache hints (MCP 2026-07-28, L{mcpgateway.core.cachehints}) are
honoured: a server that lists C{private} has one catalog per principal
(L{Catalogs.keyFor}), and a list past its C{ttlMs} is listed again
before L{Catalogs.ensure} gives it (L{Catalogs.expired}).

Observers (L{Catalogs.observe}) hear which kinds of a server's
catalog changed, by the digest of their canonical JSON: a child that lists
the same again says nothing. A changed catalog is saved in a thread (one
write per catalog at a time, the newest replacing a queued one).
Nothing here waits for a child to answer a caller: L{Catalogs.get}
is what is known now.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.cachehints import ListingHints
from mcpgateway.core.catalogdata import (
    CHANGED,
    EMPTY,
    KINDS,
    Catalog,
    CatalogPersistence,
    Key,
    ListingFailed,
    catalogDigest,
    catalogKeyOf,
    catalogOfRecord,
    coversProbe,
    entryOf,
    initFacts,
    kindDigest,
    launchOf,
    listKinds,
    programFiles,
    publicReason,
    withoutWithheld,
)
from mcpgateway.core.gateway.catalogprobe import PROBE_BACKOFF, PROBE_BACKOFF_MAX, _Probe
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.router import Router
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

DEBOUNCE = 0.5
"""Seconds from a child's first C{list_changed} to listing that kind again."""
SESSION_FRESH = 300.0
"""A live catalog younger than this is not listed again from a child of one session."""


class _Debounce:
    __slots__ = ("kinds", "pool", "timer", "upstream")

    def __init__(self, pool: PoolLike, upstream: Upstream, timer: IDelayedCall) -> None:
        self.pool = pool
        self.upstream = upstream
        self.kinds: set[str] = set()
        self.timer = timer


class Catalogs:
    """The catalogs of every server (see the module docstring).

    @ivar loaded: whether the snapshots were read (L{start} has finished).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        persistence: CatalogPersistence | None = None,
        runInThread: RunInThread | None = None,
        timeout: float = 10.0,
    ) -> None:
        """
        @param persistence: where catalogs are saved and read (C{None}: nowhere).
        @param runInThread: runs a blocking call off the reactor thread
            (default C{deferToThread}); a test passes a synchronous one.
        @param timeout: seconds a probe may take.
        """
        self._clock = clock
        self._persistence = persistence
        self._runInThread = runInThread
        self.timeout = timeout
        self.loaded = persistence is None
        self._catalogs: dict[Key, Catalog] = {}
        self._kindDigests: dict[Key, dict[str, str]] = {}
        self._launches: dict[Key, str] = {}
        """The launch each catalog was listed from."""
        self._saved: dict[Key, tuple[str, str]] = {}
        """(digest, launch) of what the file of each catalog holds."""
        self._pools: dict[str, PoolLike] = {}
        self._forgotten: set[str] = set()
        self._observers: list[Callable[[str, frozenset[str]], None]] = []
        self._errors: dict[Key, str] = {}
        self._failedAt: dict[Key, float] = {}
        """When the last probe of each catalog failed (cleared by a success)."""
        self._failures: dict[Key, int] = {}
        """Probes of each catalog that failed in a row (cleared by a success)."""
        self._debounces: dict[Key, _Debounce] = {}
        self._live: dict[Key, list[Deferred[Catalog | None]]] = {}
        """Full live listings in flight, with who waits for them."""
        self._probes: dict[Key, list[Deferred[Catalog | None]]] = {}
        """Probes in flight, with who waits for them (none once it is late)."""
        self._late: set[Key] = set()
        """Probes in flight past the service's timeout (their waiters were told)."""
        self._running: dict[Key, _Probe] = {}
        self._sequence = 0
        self._applied: dict[tuple[Key, str], int] = {}
        """The listing each kind of each catalog comes from (a later one wins)."""
        self._writing: set[Key] = set()
        self._queued: dict[Key, dict[str, Any]] = {}
        self._idle: list[Deferred[None]] = []
        self._stopped = False
        self._private: set[str] = set()
        """The servers some of whose lists are C{private}: kept per principal."""
        self._children: dict[Key, weakref.ref[Upstream]] = {}
        """The child each catalog was last listed from live (listed again
        through it when its lists expire, while it runs)."""

    # -- life ------------------------------------------------------------------

    def start(self) -> Deferred[None]:
        """Read the snapshots (in a thread); fires once they are known (a
        file that cannot be used is one warning, and left alone)."""
        self._stopped = False
        persistence = self._persistence
        if persistence is None or self.loaded:
            self.loaded = True
            return succeed(None)
        return Deferred.fromCoroutine(self._loadAll(persistence))

    async def _loadAll(self, persistence: CatalogPersistence) -> None:
        try:
            loaded = await maybeDeferred(self._thread, persistence.loadAll)
        except Exception:
            self._loadFailed(Failure())
            return
        self._loadedAll(loaded)

    def _thread(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        run = self._runInThread
        if run is None:
            from twisted.internet.threads import deferToThread

            run = deferToThread
        return run(f, *args)

    def _loadFailed(self, reason: Failure) -> None:
        self.loaded = True
        self.log.failure("catalogs: reading the saved catalogs failed", failure=reason)

    def _loadedAll(self, loaded: Mapping[tuple[str, str], dict[str, Any]]) -> None:
        self.loaded = True
        for warning in getattr(loaded, "warnings", ()):
            self.log.warn("catalogs: {warning}", warning=str(warning))
        for (server, _), program in sorted(getattr(loaded, "changed", {}).items()):
            self.log.info(
                "catalogs: {program} changed since server {server} was listed; a client's"
                " start-up starts its child, which lists it again",
                program=program,
                server=server,
            )
        count = 0
        for (server, catalogKey), record in sorted(loaded.items()):
            key = (server, catalogKey)
            catalog = self._fromRecord(server, catalogKey, record)
            if catalog is None:
                self.log.warn(
                    "catalogs: the saved catalog of server {server} is not usable; ignored",
                    server=server,
                )
                continue
            launch = record.get("launch")
            launch = launch if isinstance(launch, str) else ""
            self._saved[key] = (catalog.saveMark(), launch)
            if key in self._catalogs or server in self._forgotten:
                continue  # listed live meanwhile: that one is newer
            self._launches[key] = launch
            pool = self._pools.get(server)
            if pool is not None:
                catalog = replace(catalog, stale=launch != launchOf(pool.spec))
                catalog = withoutWithheld(catalog, pool)  # listed before any child is
            self._store(key, catalog)
            count += 1
        self.log.info("catalogs: {count} saved catalog(s) read", count=count)

    def _fromRecord(self, server: str, catalogKey: str, record: dict[str, Any]) -> Catalog | None:
        taken = record.get("taken")
        when = float(taken) if isinstance(taken, (int, float)) else 0.0
        return catalogOfRecord(server, catalogKey, record, when)

    def stop(self) -> Deferred[None]:
        """Stop listing (debounced re-lists are dropped); fires once the
        pending writes are done."""
        self._stopped = True
        for probe in list(self._running.values()):
            probe._finish(None, "the gateway is stopping")
        for debounce in self._debounces.values():
            if debounce.timer.active():
                debounce.timer.cancel()
        self._debounces.clear()
        if not self._writing:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._idle.append(waiter)
        return waiter

    # -- pools -----------------------------------------------------------------

    def attach(self, pool: PoolLike, watch: bool = True) -> None:
        """Serve the catalogs of C{pool} (it replaces any pool of the same
        server) and, with C{watch}, learn them from its children from now
        on (without: only probes list it)."""
        name = pool.spec.name
        old = self._pools.get(name)
        if old is not None and old is not pool:
            old.watchChildren(None)
        if old is not pool:
            # A new pool (a reconfigured server): its failures are its own.
            self._clearFailures(name)
        self._pools[name] = pool
        self._forgotten.discard(name)
        if watch:
            pool.watchChildren(self)
        launch = launchOf(pool.spec)
        for key, catalog in list(self._catalogs.items()):
            if key[0] == name:
                stale = self._launches.get(key, launch) != launch
                if stale != catalog.stale:
                    self._catalogs[key] = replace(catalog, stale=stale)

    def forget(self, server: str) -> None:
        """C{server} was removed: its catalogs are no longer served (their
        files stay)."""
        pool = self._pools.pop(server, None)
        if pool is not None:
            pool.watchChildren(None)
        self._forgotten.add(server)
        self._clearFailures(server)
        self._private.discard(server)
        for key in [key for key in self._children if key[0] == server]:
            del self._children[key]
        for key in [key for key in self._debounces if key[0] == server]:
            debounce = self._debounces.pop(key)
            if debounce.timer.active():
                debounce.timer.cancel()
        for key in [key for key in self._catalogs if key[0] == server]:
            catalog = self._catalogs.pop(key)
            digests = self._kindDigests.pop(key, {})
            self._launches.pop(key, None)
            self._errors.pop(key, None)
            self._notify(server, frozenset(k for k in KINDS if digests.get(k, EMPTY) != EMPTY))
            del catalog

    def restarted(self, server: str) -> None:
        """C{server}'s children were stopped on request (its code may have
        changed): its catalogs answer no client's start-up until a child
        of it lists them again, and saves them with its files as they are then."""
        for key, catalog in list(self._catalogs.items()):
            if key[0] == server and catalog.entry:
                self._catalogs[key] = replace(catalog, entry="")
                self._saved.pop(key, None)

    def _clearFailures(self, server: str) -> None:
        for table in (self._failedAt, self._failures):
            for key in [key for key in table if key[0] == server]:
                del table[key]

    def _current(self, pool: PoolLike) -> bool:
        """Whether C{pool} is the one whose listings are kept for its server."""
        name = pool.spec.name
        if name in self._forgotten:
            return False
        return self._pools.get(name, pool) is pool

    # -- what is known ---------------------------------------------------------

    def known(self) -> list[Catalog]:
        """Every catalog served now (of every key)."""
        return [c for (server, _), c in self._catalogs.items() if server in self._pools]

    def get(self, server: str, catalogKey: str = "") -> Catalog | None:
        """The catalog known now (no I/O)."""
        return self._catalogs.get((server, catalogKey))

    def keyFor(self, pool: PoolLike, principal: str) -> str:
        """The catalog key of C{principal}'s view of C{pool}'s server:
        L{catalogKeyOf}, and the principal's own key for a server that
        lists C{private} (L{mcpgateway.core.cachehints}): what it listed
        for one caller is never served to another."""
        key = catalogKeyOf(pool, principal)
        if not key and principal and pool.spec.name in self._private:
            return principal
        return key

    def expired(self, server: str, catalogKey: str = "") -> bool:
        """Whether a list of that catalog is past its C{ttlMs} (it is listed
        again before it is served: L{ensure})."""
        catalog = self._catalogs.get((server, catalogKey))
        expires = None if catalog is None else catalog.expiresAt()
        return expires is not None and self._clock.seconds() >= expires

    def failed(self, server: str, catalogKey: str = "") -> bool:
        """Whether the last probe of that catalog failed (and nothing listed
        it since)."""
        return (server, catalogKey) in self._failedAt

    def error(self, server: str, catalogKey: str = "") -> str | None:
        """Why the last probe or listing of that catalog failed (C{None}: it did not)."""
        return self._errors.get((server, catalogKey))

    def reason(self, server: str, catalogKey: str = "") -> str | None:
        """L{error} as a client of the aggregate may be told it (L{publicReason})."""
        why = self._errors.get((server, catalogKey))
        return publicReason(why) if why is not None else None

    def probing(self, server: str, catalogKey: str = "") -> bool:
        """Whether a probe of that catalog is in flight (late ones too)."""
        return (server, catalogKey) in self._probes

    def retryAt(self, server: str, catalogKey: str = "") -> float | None:
        """When L{ensure} probes that catalog again after its last failure
        (L{PROBE_BACKOFF}, doubled per failure in a row up to
        L{PROBE_BACKOFF_MAX}); C{None}: its last probe did not fail."""
        key = (server, catalogKey)
        failed = self._failedAt.get(key)
        if failed is None:
            return None
        failures = max(1, self._failures.get(key, 1))
        backoff: float = min(PROBE_BACKOFF_MAX, PROBE_BACKOFF * 2.0 ** min(failures - 1, 16))
        return failed + backoff

    def observe(self, cb: Callable[[str, frozenset[str]], None]) -> Callable[[], None]:
        """Call C{cb(server, kinds)} whenever the lists of C{kinds} of a
        catalog of C{server} change (by digest), when a catalog first
        becomes known (the kinds it has; possibly none) and when it is
        forgotten; the callable returned stops that."""
        self._observers.append(cb)

        def unsubscribe() -> None:
            if cb in self._observers:
                self._observers.remove(cb)

        return unsubscribe

    def status(self) -> dict[str, dict[str, Any]]:
        """Each attached server's catalog (its C{""} key's, else its newest):
        source, counts, when taken, stale, and the last error."""
        byServer: dict[str, list[Catalog]] = {}
        for (server, _), catalog in self._catalogs.items():
            if server in self._pools:
                byServer.setdefault(server, []).append(catalog)
        status: dict[str, dict[str, Any]] = {}
        for server in sorted(self._pools):
            catalogs = byServer.get(server, [])
            chosen = self._catalogs.get((server, ""))
            if chosen is None and catalogs:
                chosen = max(catalogs, key=lambda c: c.taken)
            key = (server, chosen.catalogKey if chosen is not None else "")
            status[server] = {
                "source": chosen.source if chosen is not None else None,
                **{kind: len(chosen.items(kind)) if chosen is not None else 0 for kind in KINDS},
                "taken": chosen.taken if chosen is not None else None,
                "stale": chosen.stale if chosen is not None else False,
                "catalogs": len(catalogs),
                "error": self._errors.get(key),
            }
        return status

    # -- live: what the pools' children say (ChildListener) --------------------

    def childReady(self, pool: PoolLike, upstream: Upstream, principal: str) -> None:
        if self._stopped or not self._current(pool):
            return
        key = (pool.spec.name, self.keyFor(pool, principal))
        if not upstream.handshake:
            if not coversProbe(upstream.sessionCapabilities):
                # A child its client initialized may list less to a client that
                # cannot do sampling or elicitation: not the server's catalog.
                return
            self._children[key] = weakref.ref(upstream)
            known = self._catalogs.get(key)
            if (
                known is not None
                and known.source == "live"
                and self._clock.seconds() - known.taken < SESSION_FRESH
            ):
                return
        self._children[key] = weakref.ref(upstream)
        self._listLive(pool, upstream, key, frozenset(KINDS))

    def childListChanged(
        self, pool: PoolLike, upstream: Upstream, principal: str, method: str
    ) -> None:
        kinds = CHANGED.get(method)
        if kinds is None or self._stopped or not self._current(pool):
            return
        if not upstream.handshake and not coversProbe(upstream.sessionCapabilities):
            return
        key = (pool.spec.name, self.keyFor(pool, principal))
        if key[0] in self._private:
            self._expireOthers(key)
        debounce = self._debounces.get(key)
        if debounce is None:
            timer = self._clock.callLater(DEBOUNCE, self._debounced, key)
            debounce = self._debounces[key] = _Debounce(pool, upstream, timer)
        debounce.upstream = upstream
        debounce.pool = pool
        debounce.kinds |= kinds

    def _expireOthers(self, key: Key) -> None:
        """A server that lists C{private} said its lists changed: its
        catalogs of other keys (listed through transient sessions, which
        hear nothing of it) are listed again before they are served."""
        now = self._clock.seconds()
        for other, catalog in list(self._catalogs.items()):
            if other[0] == key[0] and other != key:
                self._catalogs[other] = replace(catalog, expires=dict.fromkeys(KINDS, now))

    def _debounced(self, key: Key) -> None:
        debounce = self._debounces.pop(key, None)
        if debounce is None or self._stopped or not self._current(debounce.pool):
            return
        upstream = debounce.upstream
        if upstream.state is not Lifecycle.RUNNING or upstream.child is None:
            return  # gone: its next child is listed when ready
        kinds = frozenset(debounce.kinds) if key in self._catalogs else frozenset(KINDS)
        self._listLive(debounce.pool, upstream, key, kinds)

    def _listLive(
        self, pool: PoolLike, upstream: Upstream, key: Key, kinds: frozenset[str]
    ) -> None:
        full = kinds == frozenset(KINDS)
        if full:
            self._live.setdefault(key, [])
        done = Deferred.fromCoroutine(self._listingLive(pool, upstream, key, kinds))
        if full:
            done.addBoth(self._liveDone, key)

    async def _listingLive(
        self, pool: PoolLike, upstream: Upstream, key: Key, kinds: frozenset[str]
    ) -> Catalog | None:
        """List C{kinds} of C{key} through C{upstream}'s router; the catalog
        kept (C{None}: the listing failed, or the pool was replaced meanwhile)."""
        router: Router = upstream.router
        initialize = upstream.childInitializeResult or upstream.sessionInitializeResult
        launch, entry = launchOf(pool.spec), entryOf(pool.spec)
        sequence = self._next()

        def send(method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message]:
            return router.call(method, params)

        _, capabilities, _ = initFacts(initialize)
        hints = ListingHints(self._clock.seconds())
        listing = listKinds(send, capabilities, kinds, self.log, key[0], hints)
        try:
            lists = await listing
        except Exception:
            self._failed(key, Failure(), "listing its child")
            return None
        if not self._current(pool):
            return None
        return self._apply(key, lists, initialize, "live", launch, sequence, hints, entry)

    def _liveDone(self, catalog: Catalog | None, key: Key) -> None:
        """A full live listing of C{key} ended: C{catalog} (C{None}: it failed)."""
        for waiter in self._live.pop(key, []):
            waiter.callback(catalog)

    def _failed(self, key: Key, reason: Failure, what: str) -> None:
        listing = isinstance(reason.value, ListingFailed)
        why = str(reason.value) if listing else f"{type(reason.value).__name__}: {reason.value}"
        self._errors[key] = why
        if listing:
            self.log.warn(
                "catalogs: server {server}: {what} failed: {why}",
                server=key[0],
                what=what,
                why=why,
            )
        else:
            self.log.failure(
                "catalogs: server {server}: {what} failed", failure=reason, server=key[0], what=what
            )

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    # -- probes ----------------------------------------------------------------

    def ensure(
        self, pool: PoolLike, catalogKey: str = "", principal: str = ""
    ) -> Deferred[Catalog | None]:
        """The catalog known now, else the result of one probe (shared by
        every caller meanwhile); C{None} when it failed or timed out. A
        catalog past its C{ttlMs} is listed again first (L{expired})."""
        key = (pool.spec.name, catalogKey)
        known = self._catalogs.get(key)
        if known is not None:
            if not self.expired(*key):
                return succeed(known)
            return self._renew(pool, key, principal, known)
        if self._stopped or key in self._late:
            return succeed(None)  # a late probe tells the observers, not waiters
        retry = self.retryAt(*key)
        if retry is not None and self._clock.seconds() < retry:
            return succeed(None)
        return self._probe(pool, catalogKey, principal)

    def _renew(
        self, pool: PoolLike, key: Key, principal: str, known: Catalog
    ) -> Deferred[Catalog | None]:
        """List C{known}, past its C{ttlMs}, again: through the child it was
        listed from live while that runs, else through a probe (not before
        the backoff of a failed one); C{known} itself when that fails (a
        stale list beats none)."""
        if self._stopped or key in self._late:
            return succeed(known)
        waiting = self.liveListing(key)
        ref = self._children.get(key)
        child = None if ref is None else ref()
        if (
            waiting is None
            and child is not None
            and child.state is Lifecycle.RUNNING
            and child.child is not None
            and self._current(pool)
        ):
            self._live.setdefault(key, [])
            waiting = self.liveListing(key)
            self._listLive(pool, child, key, frozenset(KINDS))
        if waiting is None:
            retry = self.retryAt(*key)
            if retry is not None and self._clock.seconds() < retry:
                return succeed(known)
            waiting = self._probe(pool, key[1], principal)
        return waiting.addCallback(lambda fresh: known if fresh is None else fresh)

    def refresh(
        self, pool: PoolLike, catalogKey: str = "", principal: str = ""
    ) -> Deferred[Catalog | None]:
        """List the server again through a transient session (started when
        needed); C{None} when that failed (L{error} says why) or timed out
        (a probe already late goes on in the background: not waited for)."""
        if (pool.spec.name, catalogKey) in self._late:
            return succeed(None)
        return self._probe(pool, catalogKey, principal)

    def _probe(self, pool: PoolLike, catalogKey: str, principal: str) -> Deferred[Catalog | None]:
        key = (pool.spec.name, catalogKey)
        waiter: Deferred[Catalog | None] = Deferred()
        waiting = self._probes.get(key)
        if waiting is not None:
            waiting.append(waiter)
            return waiter
        self._probes[key] = [waiter]
        probe = self._running[key] = _Probe(self, pool, key, principal)
        probe.run()
        return waiter

    def _probeLate(self, key: Key, why: str) -> None:
        """The probe of C{key} took the service's timeout: its waiters hear
        C{None} now; it goes on (at most L{PROBE_LIMIT} seconds), and what
        it lists reaches the observers."""
        self._errors[key] = why
        self._failedAt[key] = self._clock.seconds()
        self._late.add(key)
        waiters, self._probes[key] = self._probes.get(key, []), []
        for waiter in waiters:
            waiter.callback(None)

    def _probed(self, key: Key, catalog: Catalog | None) -> None:
        self._late.discard(key)
        self._running.pop(key, None)
        if catalog is None:
            self._failedAt[key] = self._clock.seconds()
            self._failures[key] = self._failures.get(key, 0) + 1
        else:
            self._failedAt.pop(key, None)
            self._failures.pop(key, None)
        for waiter in self._probes.pop(key, []):
            waiter.callback(catalog)

    def liveListing(self, key: Key) -> Deferred[Catalog | None] | None:
        """The outcome of the full live listing of C{key} in flight (a child
        that just became ready being listed), or C{None} when none is: what a
        probe, a renewal and a start-up answered from the catalog wait for."""
        waiters = self._live.get(key)
        if waiters is None:
            return None
        waiter: Deferred[Catalog | None] = Deferred()
        waiters.append(waiter)
        return waiter

    # -- keeping them ----------------------------------------------------------

    def _apply(
        self,
        key: Key,
        lists: Mapping[str, tuple[dict[str, Any], ...]],
        initialize: Any,
        source: str,
        launch: str,
        sequence: int,
        hints: ListingHints | None = None,
        entry: str = "",
    ) -> Catalog:
        """Keep what a listing (number C{sequence}) found: its kinds replace
        older listings' (a later listing's stay, with their cache hints),
        the rest are kept."""
        old = self._catalogs.get(key)
        merged: dict[str, tuple[dict[str, Any], ...]] = {}
        private: set[str] = set()
        ttls: dict[str, int] = {}
        expires: dict[str, float] = {}
        for kind in KINDS:
            if kind in lists and self._applied.get((key, kind), 0) <= sequence:
                merged[kind] = lists[kind]
                self._applied[(key, kind)] = sequence
                expiry = None if hints is None else hints.expiry(kind)
                if hints is not None and kind in hints.private:
                    private.add(kind)
                if hints is not None and expiry is not None:
                    ttls[kind], expires[kind] = hints.ttl[kind], expiry
            else:
                merged[kind] = old.items(kind) if old is not None else ()
                if old is not None and kind in old.private:
                    private.add(kind)
                if old is not None and kind in old.expires:
                    expires[kind] = old.expires[kind]
                    if kind in old.ttls:
                        ttls[kind] = old.ttls[kind]
        serverInfo, capabilities, instructions = initFacts(initialize)
        catalog = Catalog(
            server=key[0],
            catalogKey=key[1],
            source=source,
            taken=self._clock.seconds(),
            digest=catalogDigest(merged, serverInfo, capabilities, instructions),
            lists=MappingProxyType(merged),
            serverInfo=serverInfo,
            capabilities=capabilities,
            instructions=instructions,
            private=frozenset(private),
            ttls=ttls,
            expires=expires,
            entry=entry,
        )
        self._errors.pop(key, None)
        self._launches[key] = launch
        self._store(key, catalog)
        saved = (catalog.saveMark(), launch)
        if self._saved.get(key) != saved:
            self._saved[key] = saved
            pool = self._pools.get(key[0])
            programs = () if pool is None else programFiles(pool.spec)
            self._save(key, catalog.record(launch, programs))
        return catalog

    def _store(self, key: Key, catalog: Catalog) -> None:
        """Serve C{catalog}; tell the observers what changed (every kind,
        when its server starts or stops listing C{private}: whose catalog
        each principal sees changes)."""
        known = key in self._catalogs
        before = self._kindDigests.get(key, {})
        after = {kind: kindDigest(catalog.items(kind)) for kind in KINDS}
        self._catalogs[key] = catalog
        self._kindDigests[key] = after
        changed = frozenset(k for k in KINDS if before.get(k, EMPTY) != after[k])
        server = key[0]
        wasPrivate = server in self._private
        if catalog.private:
            self._private.add(server)
        elif not key[1]:
            self._private.discard(server)
        if wasPrivate != (server in self._private):
            changed = frozenset(KINDS)
        if changed or not known:
            self._notify(server, changed)

    def _notify(self, server: str, kinds: frozenset[str]) -> None:
        for cb in list(self._observers):
            try:
                cb(server, kinds)
            except Exception:
                self.log.failure(
                    "catalogs: an observer of server {server}'s catalog failed", server=server
                )

    # -- saving ------------------------------------------------------------------

    def _save(self, key: Key, record: dict[str, Any]) -> None:
        if self._persistence is None:
            return
        if key in self._writing:
            self._queued[key] = record  # the newest replaces a queued one
            return
        self._write(key, record)

    def _write(self, key: Key, record: dict[str, Any]) -> None:
        persistence = self._persistence
        assert persistence is not None
        self._writing.add(key)
        Deferred.fromCoroutine(self._saving(persistence, key, record))

    async def _saving(
        self, persistence: CatalogPersistence, key: Key, record: dict[str, Any]
    ) -> None:
        try:
            await maybeDeferred(self._thread, persistence.save, key[0], key[1], record)
        except Exception:
            self._saveFailed(Failure(), key)
        finally:
            self._written(key)

    def _saveFailed(self, reason: Failure, key: Key) -> None:
        if isinstance(reason.value, (ValueError, OSError)):
            self.log.warn(
                "catalogs: the catalog of server {server} was not saved: {why}",
                server=key[0],
                why=str(reason.value),
            )
            return
        self.log.failure(
            "catalogs: saving the catalog of server {server} failed", failure=reason, server=key[0]
        )

    def _written(self, key: Key) -> None:
        self._writing.discard(key)
        record = self._queued.pop(key, None)
        if record is not None:
            self._write(key, record)
            return
        if not self._writing:
            idle, self._idle = self._idle, []
            for waiter in idle:
                waiter.callback(None)
