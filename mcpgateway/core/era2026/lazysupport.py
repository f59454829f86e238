# -*- test-case-name: tests.core.test_upstream -*-
"""The 2026-07-28 wire as the kernel's upstreams take it
(L{mcpgateway.core.era2026support.Era2026Support}).

One job: hand an upstream the revision's translation and child adapter
without loading them: L{mcpgateway.core.era2026.translate} and
L{mcpgateway.core.era2026.child} are imported on first use, by a child that
answers C{initialize} with an error or speaks the 2026 era, so a gateway of
2025 children never loads them (a smaller idle footprint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime

from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.core.era2026.child import Era2026ChildAdapter
    from mcpgateway.core.router import Router
    from mcpgateway.protocol.requeststate import StateWrapper


class LazyEra2026Support:
    """L{mcpgateway.core.era2026support.Era2026Support}, its modules imported on first use."""

    def era2026Only(self, error: Any) -> tuple[str, ...] | None:
        """L{mcpgateway.core.era2026.translate.era2026Only}."""
        from mcpgateway.core.era2026.translate import era2026Only

        return era2026Only(error)

    def spokenVersion(self, offered: Any) -> str | None:
        """L{mcpgateway.core.era2026.translate.spokenVersion}."""
        from mcpgateway.core.era2026.translate import spokenVersion

        return spokenVersion(offered)

    def adapter(
        self,
        router: Router,
        clock: IReactorTime,
        send: Callable[[Message], None],
        clientInfo: Mapping[str, Any],
        version: str,
        wrapper: StateWrapper | None,
    ) -> Era2026ChildAdapter:
        """A new L{Era2026ChildAdapter<mcpgateway.core.era2026.child.Era2026ChildAdapter>}."""
        from mcpgateway.core.era2026.child import Era2026ChildAdapter

        return Era2026ChildAdapter(router, clock, send, clientInfo, version, wrapper)


ERA2026_SUPPORT = LazyEra2026Support()
"""The wire every pool hands its upstreams."""
