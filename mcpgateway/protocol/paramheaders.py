"""Which C{Mcp-Param-*} headers a tool asks for: the C{x-mcp-header}
annotations of its C{inputSchema}.

One job: read a tool's header map when a child lists its tools (every era
lists them; a router keeps the map for the 2026-07-28 check of a call's
headers, L{mcpgateway.protocol.era2026form.checkParamHeaders}), apart from
the 2026 form, so that a 2025-era listing does not load it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_TYPES = frozenset({"string", "integer", "boolean"})


def xHeaderMap(tool: Mapping[str, Any]) -> dict[str, str]:
    """Header name to argument name, from a tool's C{inputSchema}
    (C{x-mcp-header} annotations of its top-level properties).

    A schema with an invalid annotation (not an RFC 9110 token, not on a
    string, integer or boolean property, a case-insensitive duplicate)
    validates nothing (conforming clients drop such a tool); annotations
    below the top level are not checked."""
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    found: dict[str, str] = {}
    seen: set[str] = set()
    for argument, prop in properties.items():
        if not isinstance(prop, Mapping) or "x-mcp-header" not in prop:
            continue
        token = prop["x-mcp-header"]
        if (
            not isinstance(token, str)
            or _TOKEN.fullmatch(token) is None
            or prop.get("type") not in _HEADER_TYPES
            or token.lower() in seen
        ):
            return {}
        seen.add(token.lower())
        found[token] = argument
    return found
