# -*- test-case-name: tests.core.test_naming -*-
"""The vocabulary of the aggregate endpoint (C{/mcp}: every server the
caller may use, as one MCP server).

One job: the settings and small records every part of the aggregate shares
(names, catalogs, views, search, shielding), pure data with no Twisted, so
that config parsing, the core and the web agree on one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVER_PREFIX = "/mcp"
"""The C{server} of every aggregate session (no server name has a C{/})."""


def isAggregateRecord(record: Mapping[str, Any]) -> bool:
    """Whether a saved session record is an aggregate session's."""
    server = record.get("server")
    return isinstance(server, str) and server.startswith(SERVER_PREFIX)


@dataclass(frozen=True)
class ToolFilter:
    """One server's part of an endpoint.

    @ivar enabled: listed at all.
    @ivar include: tool names listed and callable (empty: all).
    @ivar exclude: tool names never listed nor callable.
    @ivar budget: at most this many of its tools listed (the first ones).
    @ivar alias: the prefix its names get instead of the server's name.
    """

    enabled: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    budget: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class ShieldSpec:
    """How large results are shrunk (see C{mcpgateway.core.shield}).

    @ivar budget: bytes of JSON a result may have before it is shrunk.
    @ivar maxItems: array items kept when an array is cut.
    @ivar maxString: characters kept when a string is cut.
    @ivar heavyField: a field of array-of-object items longer than this (bytes
        of JSON, on average) is dropped first.
    """

    enabled: bool = False
    budget: int = 65536
    maxItems: int = 50
    maxString: int = 8192
    heavyField: int = 256


@dataclass(frozen=True)
class NameSettings:
    """How namespaced names are made: C{<prefix><separator><tool>}, at most
    C{limit} characters of C{[A-Za-z0-9_-]}."""

    separator: str = "__"
    limit: int = 48


@dataclass(frozen=True)
class EndpointSpec:
    """One aggregate endpoint (C{/mcp}, or C{/mcp/<name>}).

    @ivar mode: C{"full"} (every schema) or C{"search"} (the gateway's
        search, describe, invoke and get_result tools).
    @ivar servers: the servers it includes (C{"*"}: every one).
    """

    name: str = "default"
    mode: str = "full"
    servers: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    tools: Mapping[str, ToolFilter] = field(default_factory=dict)
    toolBudget: int | None = None
    namespace: str = "always"
    shield: ShieldSpec = ShieldSpec()


@dataclass(frozen=True)
class Owner:
    """Which server's name a namespaced name stands for."""

    server: str
    original: str
    kind: str = "tool"
    """C{"tool"} or C{"prompt"}."""


BUILTIN_ENDPOINTS = ("default", "search")
"""The aggregate endpoints that exist without C{aggregate.json}: C{/mcp}
and C{/mcp/search} (L{mcpgateway.core.aggregate.Aggregator.useEndpoints}
adds their settings)."""
