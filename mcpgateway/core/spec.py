# -*- test-case-name: tests.core.test_pool -*-
"""A configured stdio server as the core sees it: an immutable L{ServerSpec},
and how its children are shared (L{Sharing})."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


class Sharing(Enum):
    """Who a server's child serves. The values are the words of the config
    (C{"mode"}) and of C{/health}."""

    SHARED = "stateless"
    """One child for every session, initialized by the gateway."""
    PER_SESSION = "stateful"
    """One child per session, spawned at its C{initialize}, stopped when it ends."""


MODES = tuple(sharing.value for sharing in Sharing)
"""Every C{"mode"} a config entry may say."""


DEFAULT_REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServerSpec:
    """One stdio MCP server the gateway serves at C{/<name>/mcp}."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    mode: str = "stateless"
    modeDeclared: bool = False
    """Whether the entry said C{"mode"} itself (it then beats the built-in list)."""
    requestTimeout: float = DEFAULT_REQUEST_TIMEOUT
    scope: str = "gateway"
    executable: str | None = None
    """The command resolved on C{PATH}; C{None} when it was not found."""
    disabled: bool = False
    """Turned off through the management API: served as an error, no children."""
    prewarm: bool = False
    """Start the shared child when the gateway starts, not on first use."""
    idleTimeout: float | None = None
    """Seconds without traffic after which the shared child is stopped."""
    maxRssMb: float | None = None
    """Restart a child whose resident memory grows past this."""
    healthPing: float | None = None
    """Seconds of idleness after which a shared child is pinged (no answer: restarted)."""

    @property
    def sharing(self) -> Sharing:
        """How this server's children are shared (its C{mode} as a type)."""
        return Sharing(self.mode)

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: C{base} (the gateway's) plus the entry's."""
        merged = dict(base)
        merged.update(self.env)
        return merged
