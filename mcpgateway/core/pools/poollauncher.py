# -*- test-case-name: tests.core.pools.test_pool, tests.core.pools.test_keyedplacement -*-
"""What a pool's children start with: the L{PoolLauncher}.

A server whose command is C{npx} or C{uvx} runs the real binary behind it,
once the gateway has resolved it (L{PoolLike.launchAfter
<mcpgateway.core.pools.pool.PoolLike.launchAfter>}): until then no child
starts, and a request waits for the resolution at most its timeout. The
other routes' launches are resolved the same way, once per child key. A
reload that changes only a spec's environment (or a timeout) keeps the
resolved binary, with the new environment (L{PoolLauncher.rebase}).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import replace
from typing import TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.pools.pool import GLOBAL_CHILD, Resolver, programOf
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.upstream import ServerUnavailable
from mcpgateway.runtime import logs

__all__ = ["PoolLauncher"]

T = TypeVar("T")


class PoolLauncher:
    """The launch specs of a pool's children, and the requests waiting for
    an C{npx}/C{uvx} resolution before any child may start.

    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: Callable[[], ServerSpec],
        launchSpec: Callable[[], ServerSpec],
        useLaunchSpec: Callable[[ServerSpec], None],
        clock: IReactorTime,
    ) -> None:
        """
        @param spec: the server as configured now.
        @param launchSpec: what its children start with now.
        @param useLaunchSpec: start its children with this from the next spawn on.
        """
        self._spec = spec
        self._launchSpec = launchSpec
        self._useLaunchSpec = useLaunchSpec
        self._clock = clock
        self._base = spec()
        """The spec the host's launch spec was made from (L{rebase})."""
        self._resolving: Deferred[ServerSpec] | None = None
        self._what = ""
        self._waiters: list[Deferred[None]] = []
        self._resolve: Resolver | None = None
        self._launches: dict[str, ServerSpec] = {}
        """The resolved launch specs of the routes' children, by child key."""

    def after(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} (the real binary behind an
        C{npx}/C{uvx} command, described by C{what}) fires; then start
        children with its result (the other routes' children with what
        C{resolve} makes of their launch, once per child key). Requests wait
        for it at most their timeout."""
        self._resolve = resolve
        self._resolving = resolving
        self._what = what
        base = self._spec()

        def done(spec: ServerSpec) -> None:
            self._resolving = None
            self._base = base
            self._useLaunchSpec(spec)
            self.rebase()  # its env changed meanwhile: the new one
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)

        resolving.addCallback(done)

    def whenLaunchable(self, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """C{start()} now, or once a pending resolution has finished; fails
        with L{ServerUnavailable} if that takes longer than the server's
        request timeout (the resolution goes on for later requests)."""
        if self._resolving is None:
            return start()
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        timeout = self._spec().requestTimeout
        timer = self._clock.callLater(timeout, self._timedOut, waiter, timeout)

        def launch(_: None) -> Deferred[T]:
            if timer.active():
                timer.cancel()
            return start()

        return waiter.addCallback(launch)

    def _timedOut(self, waiter: Deferred[None], timeout: float) -> None:
        if waiter not in self._waiters:
            return
        self._waiters.remove(waiter)
        name = self._spec().name
        self.log.warn(
            "server {server}: a request waited {timeout:g} s for {what}; answered with an error",
            server=name,
            timeout=timeout,
            what=self._what,
        )
        waiter.errback(
            ServerUnavailable(
                f"server '{name}' is not ready: still waiting for"
                f" {self._what} after {timeout:g} s; try again shortly"
                " (`mcpgateway doctor` shows progress)"
            )
        )

    def launchOf(self, variant: Variant | None) -> Deferred[ServerSpec]:
        """What a child of C{variant} starts with: its launch spec, resolved
        to the real binary behind C{npx}/C{uvx} once per child key."""
        if variant is None or variant.childKey == GLOBAL_CHILD:
            return succeed(self._launchSpec())
        known = self._launches.get(variant.childKey)
        if known is not None:
            return succeed(known)
        if self._resolve is None:
            return succeed(variant.launch)

        def resolved(spec: ServerSpec) -> ServerSpec:
            self._launches[variant.childKey] = spec
            return spec

        return self._resolve(variant.launch).addCallback(resolved)

    def forget(self, key: str) -> None:
        """Forget the resolved launch of the child C{key} (it is gone)."""
        self._launches.pop(key, None)

    def keep(self, keys: Container[str]) -> None:
        """Forget the resolved launches of the child keys not in C{keys}."""
        self._launches = {k: v for k, v in self._launches.items() if k in keys}

    def rebase(self) -> None:
        """Start children with the spec served now when it runs the program
        the launch spec was made from (command, args and cwd alike: its
        env, or a timeout, changed): the spec itself, or the real binary its
        C{npx}/C{uvx} wrapper resolved to with the new spec's env (the
        binary does not depend on it). A spec that runs another program
        leaves the launch spec alone."""
        base, spec, launch = self._base, self._spec(), self._launchSpec()
        if base is spec or programOf(base) != programOf(spec):
            return
        self._base = spec
        if launch is not base:
            spec = replace(
                spec, command=launch.command, args=launch.args, executable=launch.executable
            )
        self._useLaunchSpec(spec)
