# -*- test-case-name: tests.core.test_upstream -*-
"""The wire to a child that speaks only MCP 2026-07-28, as one child's
L{Upstream<mcpgateway.core.upstream.Upstream>} sees it.

One job: what the kernel asks of the 2026-07-28 feature
(L{mcpgateway.core.era2026}) when a child turns out to speak that revision
only, declared here so that the kernel never imports the feature: the pools
hand each upstream the feature's L{Era2026Support} (its
L{mcpgateway.core.era2026.lazysupport.ERA2026_SUPPORT}), which loads the revision's
modules only when a child first needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.interfaces import IReactorTime

from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.core.router import Router
    from mcpgateway.protocol.requeststate import StateWrapper


class ChildAdapter(Protocol):
    """The wire between a 2026-07-28 child's router and its stdio (the
    feature's L{Era2026ChildAdapter<mcpgateway.core.era2026.child.Era2026ChildAdapter>})."""

    version: str
    """The revision it speaks to the child."""
    initializeResult: dict[str, Any] | None
    """The child's C{DiscoverResult} as an C{InitializeResult} (C{None}:
    not discovered yet)."""

    def toChild(self, message: Message) -> None:
        """The router's C{send}: one message on its way to the child."""

    def fromChild(self, message: Message) -> None:
        """One message the child wrote."""

    def discovered(self, result: dict[str, Any]) -> None:
        """The child answered C{server/discover} with C{result}."""

    def start(self) -> None:
        """The child is running: open what it keeps open (its listen)."""

    def answerInitialize(self, requestId: Any, requested: Any) -> None:
        """Answer a session's C{initialize} (id C{requestId}, asking for
        revision C{requested}) from the discover result."""

    def close(self) -> None:
        """The child is gone: let go of what the adapter holds."""


class Era2026Support(Protocol):
    """What an upstream asks of the 2026-07-28 feature."""

    def era2026Only(self, error: Any) -> tuple[str, ...] | None:
        """The revisions a child's -32022 answer to C{initialize} lists when
        it lists only 2026 ones; C{None} for any other error."""

    def spokenVersion(self, offered: Any) -> str | None:
        """The newest 2026 revision the gateway speaks among C{offered}."""

    def adapter(
        self,
        router: Router,
        clock: IReactorTime,
        send: Callable[[Message], None],
        clientInfo: Mapping[str, Any],
        version: str,
        wrapper: StateWrapper | None,
    ) -> ChildAdapter:
        """A new adapter between C{router} and a child (C{send} writes to
        its stdin), speaking C{version}."""
