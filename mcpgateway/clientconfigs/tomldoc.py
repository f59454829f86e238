# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""A TOML client config (Codex's C{config.toml}) edited with tomlkit:
comments, key order and the layout of everything the gateway does not
change come back as they were.

One job: the L{mcpgateway.clientconfigs.documents.Document} of a TOML text.
An entry written as a table (C{[mcp_servers.NAME]}) is replaced by a table,
one written inline (C{NAME = {...}}) by an inline table, in its place; its
sub-tables (C{[mcp_servers.NAME.env]}) go with it.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from mcpgateway.clientconfigs.documents import Location


class TomlDocument:
    """A parsed TOML text (see the module docstring)."""

    def __init__(self, text: str) -> None:
        try:
            self._doc = tomlkit.parse(text)
        except TOMLKitError as e:
            raise ValueError(str(e)) from None

    def _container(self, location: Location) -> Any:
        if location.listKey is not None:
            return None
        node: Any = self._doc
        for key in location.path:
            if not _isMapping(node) or key not in node:
                return None
            node = node[key]
        return node if _isMapping(node) else None

    def entries(self, location: Location) -> list[tuple[str, Any]] | None:
        container = self._container(location)
        if container is None:
            return None
        return [(str(name), plain(container[name])) for name in list(container.keys())]

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        container = self._container(location)
        if container is None or name not in container:
            raise KeyError(name)
        old = container[name]
        new: Any = tomlkit.inline_table() if isinstance(old, InlineTable) else tomlkit.table()
        for key, item in value.items():
            new[key] = item
        container[name] = new

    def text(self) -> str:
        return self._doc.as_string()


def _isMapping(node: Any) -> bool:
    return hasattr(node, "keys") and hasattr(node, "__getitem__")


def plain(value: Any) -> Any:
    """tomlkit's value as plain Python (dicts, lists, scalars)."""
    if hasattr(value, "unwrap"):
        value = value.unwrap()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
