# -*- test-case-name: tests.startup.test_lazy_resolver -*-
"""The gateway's npx/uvx resolver, loaded for the first server that needs it.

A gateway none of whose servers runs through C{npx} or C{uvx} never imports
L{mcpgateway.config.resolve} (idle RSS); the resolver it makes runs its
package installs in the gateway's sandbox, handed over once it is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from mcpgateway.config.resolve import InstallWatcher, Resolver
    from mcpgateway.core.spawn import ResolvesSecrets
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.sandbox.confine import Sandbox


class LazyResolver:
    """The gateway's L{mcpgateway.config.resolve.Resolver}, made when the
    first server that runs through C{npx} or C{uvx} needs it: a gateway
    with none never loads the resolver (idle RSS)."""

    WRAPPERS = frozenset({"npx", "uvx"})
    """The only programs the resolver parses (any other command is not a
    wrapper: C{parseWrapper} gives C{None})."""

    def __init__(self, stateDir: Path, reactor: IReactor, environ: Mapping[str, str]) -> None:
        self._stateDir = stateDir
        self._reactor = reactor
        self._environ = environ
        self._resolver: Resolver | None = None
        self.sandbox: Sandbox | None = None
        """The gateway's sandbox, which the package installs run in (set
        once it is made, before the first resolution)."""
        self.warden: InstallWatcher | None = None
        """The gateway's warden, which stops an install the gateway's death
        cut short (set once it is made, before the first resolution)."""
        self.secrets: ResolvesSecrets | None = None
        """The spawner's secret resolver: an install gets the values its
        entry's C{env} references (set before the first resolution)."""

    def _real(self) -> Resolver:
        if self._resolver is None:
            from mcpgateway.config.resolve import Resolver

            reactor = self._reactor
            self._resolver = Resolver(
                self._stateDir, reactor, reactor, self._environ, sandbox=self.sandbox
            )
            self._resolver.warden = self.warden
            self._resolver.secrets = self.secrets
        return self._resolver

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None:
        if os.path.basename(spec.command) not in self.WRAPPERS:
            return None
        return self._real().wrapperOf(spec)

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]:
        return self._real().resolve(spec)

    def failureOf(self, spec: ServerSpec) -> str | None:
        return self._real().failureOf(spec)
