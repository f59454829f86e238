# -*- test-case-name: tests.core.gateway.test_catalog -*-
"""Listing a server through a transient session of its own: the probe.

A L{_Probe} opens a session through the pool's public API, lists what the
child offers and closes it; its L{_ProbeSession} has no client behind it
and answers the child's C{roots/list} itself, with none. The service it
reports to is a L{ProbeHost} (L{mcpgateway.core.gateway.catalog.Catalogs}).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core.cachehints import ListingHints
from mcpgateway.core.catalogdata import (
    KINDS,
    PROBE_CAPABILITIES,
    Catalog,
    Key,
    entryOf,
    initFacts,
    launchOf,
    listKinds,
)
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.protocol import jsonrpc, versions

PROBE_BACKOFF = 60.0
"""Seconds after a failed probe during which L{mcpgateway.core.gateway.catalog.Catalogs.ensure}
answers C{None} at once instead of probing again (a server that never
answers must not hold every listing up); doubled after each failure in a
row, up to L{PROBE_BACKOFF_MAX}."""
PROBE_BACKOFF_MAX = 900.0
"""The longest wait between two probes of a catalog that keeps failing."""
PROBE_LIMIT = 120.0
"""Seconds a probe may go on in the background once its waiters were told
it took too long (the service's C{timeout}): a server still installing
(npx, uvx) is listed when it is ready, and its observers are told."""


class ProbeHost(Protocol):
    """What a probe needs of the service it reports to: its clock and
    timeout, its log, the errors it keeps per catalog, and the steps of a
    listing (a live listing to wait for, a sequence number, whether the
    pool is still configured, keeping what was listed, a failure, a late
    probe, the probe's end)."""

    timeout: float
    log: Logger
    _clock: IReactorTime
    _errors: dict[Key, str]

    def liveListing(self, key: Key) -> Deferred[Catalog | None] | None: ...

    def _next(self) -> int: ...

    def _current(self, pool: PoolLike) -> bool: ...

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
    ) -> Catalog: ...

    def _failed(self, key: Key, reason: Failure, what: str) -> None: ...

    def _probeLate(self, key: Key, why: str) -> None: ...

    def _probed(self, key: Key, catalog: Catalog | None) -> None: ...


class _ProbeSession(Session):
    """The transient session of a probe: no client is behind it. It answers
    its child's C{roots/list} itself, with no roots (it has none, and it
    never asks another session for theirs); anything else the child sends
    it finds no stream (the router answers such a request with an error,
    as for any session without one).

    @ivar pool: the pool it was opened on (the answer goes back through it).
    """

    __slots__ = ("pool",)

    keepsCacheHints = True
    """The child's C{ttlMs} and C{cacheScope} reach it (a session of a client
    is given a 2025 result without them): the catalogs honour them."""

    def __init__(self, pool: PoolLike, sessionId: str, now: float) -> None:
        super().__init__(
            sessionId,
            pool.spec.name,
            versions.LATEST,
            dict(PROBE_CAPABILITIES),
            {"name": "mcpgateway-catalog", "version": __version__},
            now,
        )
        self.pool = pool

    def deliver(self, message: jsonrpc.Message) -> bool:
        """Answer the child's C{roots/list} with an empty list, and take it
        even once the probe's child is stopped (a child asks on its own,
        and may ask as the probe ends: no one waits for the answer then,
        and nothing is to wait for a stream this session never opens);
        nothing else is delivered."""
        if message.get("method") != "roots/list" or "id" not in message:
            return False
        self.pool.answer(self, jsonrpc.resultResponse(message["id"], {"roots": []}))
        return True


def _routeToList(pool: PoolLike, principal: str) -> tuple[str, Variant | None]:
    """The route a probe lists C{pool}'s server through, with its key: its
    own (C{/<server>/mcp}), else, for a server only projects define, the
    first of its projects' routes (one entry: the same tools whichever
    project's child lists them)."""
    variant = pool.variantFor("", "", (), principal)
    if variant is not None:
        return "", variant
    for route in pool.spec.variants:
        variant = pool.variantFor(route.key, "", (), principal)
        if variant is not None:
            return route.key, variant
    return "", None


class _Probe:
    """One transient session that lists a server through its pool's
    public API (open, initialized, the lists, close). Its waiters hear
    C{None} after the service's timeout; it goes on in the background for
    at most L{PROBE_LIMIT} seconds, and a catalog it lists then is kept
    (and its observers told) like any other."""

    def __init__(self, service: ProbeHost, pool: PoolLike, key: Key, principal: str) -> None:
        self.service = service
        self.pool = pool
        self.key = key
        self.principal = principal
        self.finished = False
        self.settled = False
        """Whether the pool's C{open} has fired (only then may it be closed)."""
        self.session: Session | None = None
        self.timer: IDelayedCall | None = None
        self.limit: IDelayedCall | None = None
        self._ids = 0

    def run(self) -> None:
        service, pool = self.service, self.pool
        clock = service._clock
        self.timer = clock.callLater(service.timeout, self._late)
        self.limit = clock.callLater(max(PROBE_LIMIT, service.timeout), self._timedOut)
        scope, variant = _routeToList(pool, self.principal)
        if variant is None:
            self._finish(None, f"server '{pool.spec.name}' has no route to list it through")
            return
        session = _ProbeSession(pool, "catalog-" + secrets.token_hex(16), clock.seconds())
        session.principal = self.principal
        session.scope = scope
        session.variant = variant
        initialize = jsonrpc.request(
            0,
            "initialize",
            {
                "protocolVersion": versions.LATEST,
                "capabilities": session.capabilities,
                "clientInfo": session.clientInfo,
            },
        )
        opening = maybeDeferred(pool.open, session, initialize)
        self.session = session
        Deferred.fromCoroutine(self._listing(opening))

    async def _listing(self, opening: Deferred[jsonrpc.Message]) -> None:
        """Once the session is open, list the server through it; a bug on
        the way ends the probe (it is logged)."""
        try:
            try:
                response = await opening
            except Exception:
                self._openFailed(Failure())
                return
            await self._opened(response)
        except Exception:
            self._crashed(Failure())

    def _openFailed(self, reason: Failure) -> None:
        self.settled = True
        self._finish(None, reason.getErrorMessage() or type(reason.value).__name__)
        self._close()

    async def _opened(self, response: jsonrpc.Message) -> None:
        self.settled = True
        if self.finished:
            self._close()
            return
        result = response.get("result")
        if not isinstance(result, dict):
            error = response.get("error")
            text = error.get("message", error) if isinstance(error, dict) else error
            self._finish(None, f"initialize failed: {text}")
            return
        pool, session = self.pool, self.session
        assert session is not None
        pool.notify(session, jsonrpc.notification("notifications/initialized"))
        service = self.service
        live = service.liveListing(self.key)
        if live is not None:  # the child it started is being listed: that listing is this one
            self._done(await live)
            return
        launch, entry = launchOf(pool.spec), entryOf(pool.spec)
        sequence = service._next()
        _, capabilities, _ = initFacts(result)

        def send(method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message]:
            self._ids += 1
            return maybeDeferred(
                pool.forward, session, jsonrpc.request(self._ids, method, params), None
            )

        hints = ListingHints(service._clock.seconds())
        listing = listKinds(send, capabilities, frozenset(KINDS), service.log, self.key[0], hints)
        try:
            lists = await listing
        except Exception:
            if not self.finished:
                service._failed(self.key, Failure(), "probing it")
                self._finish(None, service._errors.get(self.key, "listing failed"))
            return
        if self.finished or not service._current(pool):
            self._finish(None, "the server was reconfigured meanwhile")
            return
        catalog = service._apply(self.key, lists, result, "probe", launch, sequence, hints, entry)
        self._done(catalog)

    def _done(self, catalog: Catalog | None) -> None:
        if catalog is None:
            self._finish(None, self.service._errors.get(self.key, "listing failed"))
        else:
            self._finish(catalog, None)

    def _late(self) -> None:
        self.timer = None
        if self.finished:
            return
        why = f"server '{self.pool.spec.name}' was not listed within {self.service.timeout:g} s"
        self.service.log.info(
            "catalogs: server {server} was not listed within {timeout:g} s; still listing it"
            " in the background (at most {limit:g} s)",
            server=self.key[0],
            timeout=self.service.timeout,
            limit=PROBE_LIMIT,
        )
        self.service._probeLate(self.key, why)

    def _timedOut(self) -> None:
        self.limit = None
        self._finish(
            None,
            f"server '{self.pool.spec.name}' was not listed within"
            f" {max(PROBE_LIMIT, self.service.timeout):g} s",
        )

    def _crashed(self, reason: Failure) -> None:
        self.service.log.failure(
            "catalogs: probing server {server} failed", failure=reason, server=self.key[0]
        )
        self._finish(None, f"{type(reason.value).__name__}: {reason.value}")

    def _finish(self, catalog: Catalog | None, why: str | None) -> None:
        if self.finished:
            return
        self.finished = True
        for timer in (self.timer, self.limit):
            if timer is not None and timer.active():
                timer.cancel()
        self.timer = self.limit = None
        self._close()
        service = self.service
        if why is not None:
            service._errors[self.key] = why
            service.log.warn(
                "catalogs: server {server} could not be listed: {why}",
                server=self.key[0],
                why=why,
            )
        service._probed(self.key, catalog)

    def _close(self) -> None:
        if not self.settled:
            return  # closed once its open has fired
        session, self.session = self.session, None
        if session is None:
            return
        try:
            closing = self.pool.close(session, "catalog listed")
        except Exception:
            self.service.log.failure(
                "catalogs: closing the probe session of server {server} failed",
                server=self.key[0],
            )
            return
        closing.addErrback(lambda _: None)
