# -*- test-case-name: tests.core.gateway.test_catalogserve -*-
"""Which saved catalog answers a client's start-up for a shared server:
L{CatalogServe}, the pools' L{CatalogSource
<mcpgateway.core.pools.pool.CatalogSource>}.

A catalog answers for a server (L{mcpgateway.core.pools.fromcatalog}) only
when it is I{current}: listed under the server's entry as it is now
(L{mcpgateway.core.catalogdata.entryOf}: command, args, env, cwd, share,
era, a remote endpoint, the sandbox, the chosen C{serverInfo}; a catalog
saved by an older gateway has none, and is not current until the child
has run once), of the same launch, within its C{ttlMs}, and without a
list the server said is C{private}. The switches: the gateway's
(C{--no-lazy-start}) and the entry's C{"lazy": false}.

It also lets a start-up wait for the saved catalogs to be read (they are
read in a thread as the gateway starts, L{loading}), and hands the pools
the listing of a child that just became ready (L{relisted}).
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.catalogdata import Catalog, entryOf
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.pools.pool import PoolLike

__all__ = ["CatalogServe", "CatalogsHost"]


class CatalogsHost(Protocol):
    """Whose catalogs are served (the gateway: the wiring may give it
    other catalogs after it is made)."""

    @property
    def catalogs(self) -> Catalogs: ...


class CatalogServe:
    """The current catalogs of the shared servers (see the module docstring).

    @ivar enabled: the gateway's switch (C{False}: no start-up is answered
        from a catalog).
    """

    def __init__(self, host: CatalogsHost, enabled: bool = True) -> None:
        self._host = host
        self.enabled = enabled
        self._reading = False
        self._waiters: list[Deferred[None]] = []

    def allows(self, pool: PoolLike) -> bool:
        return self.enabled and pool.spec.lazy

    def current(self, pool: PoolLike, principal: str) -> Catalog | None:
        spec = pool.spec
        if not self.allows(pool):
            return None
        catalogs = self._host.catalogs
        key = catalogs.keyFor(pool, principal)
        catalog = catalogs.get(spec.name, key)
        if catalog is None or catalog.stale or catalog.private or not catalog.entry:
            return None
        if catalog.entry != entryOf(spec) or catalogs.expired(spec.name, key):
            return None
        return catalog

    def loading(self, reading: Deferred[None]) -> Deferred[None]:
        """The catalogs are being read (C{reading}: their C{start()});
        start-ups wait for it. Returns C{reading}."""
        self._reading = True

        def read(result: object) -> object:
            self._reading = False
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)
            return result

        return reading.addBoth(read)

    def loaded(self) -> Deferred[None]:
        if not self._reading:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def relisted(self, pool: PoolLike) -> Deferred[Catalog | None] | None:
        catalogs = self._host.catalogs
        return catalogs.liveListing((pool.spec.name, catalogs.keyFor(pool, "")))
