# -*- test-case-name: tests.core.test_identity -*-
"""The name a server is shown by: its entry's chosen C{serverInfo}.

A server entry may choose the C{serverInfo.name} (and C{title}) its clients
see (config C{"serverInfo"}), in place of whatever its child calls itself.
The gateway keeps the child's own answer (what the catalog records, so
C{GET /api/v1/catalog} still shows it) and hands clients this module's
presentation of it: the C{initialize} result of every pool kind, the
C{server/discover} result and the C{_meta} C{serverInfo} of MCP 2026-07-28
answers are all made from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.core.spec import ServerSpec

__all__ = ["presentedInfo", "presentedResult"]


def presentedInfo(info: Any, spec: ServerSpec) -> Any:
    """The C{serverInfo} clients see for a child that calls itself C{info}:
    a copy with the entry's chosen C{name} and C{title}; C{info} itself when
    the entry chose neither (or C{info} is not an object, which the gateway
    then leaves as the child gave it, unless a name was chosen)."""
    name, title = spec.displayName, spec.displayTitle
    if name is None and title is None:
        return info
    shown = dict(info) if isinstance(info, Mapping) else {"version": "unknown"}
    if name is not None:
        shown["name"] = name
    if title is not None:
        shown["title"] = title
    return shown


def presentedResult(result: dict[str, Any], spec: ServerSpec) -> dict[str, Any]:
    """An C{InitializeResult} as clients of C{spec}'s routes see it (a copy
    with L{presentedInfo}; C{result} itself when the entry chose nothing)."""
    if spec.displayName is None and spec.displayTitle is None:
        return result
    return {**result, "serverInfo": presentedInfo(result.get("serverInfo"), spec)}
