# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""A TOML client config (Codex's C{config.toml}) edited with tomlkit:
comments, key order and the layout of everything the gateway does not
change come back as they were.

One job: the L{mcpgateway.clientconfigs.documents.Document} of a TOML text.
An entry written as a table (C{[mcp_servers.NAME]}) is replaced by a table,
one written inline (C{NAME = {...}}) by an inline table, in its place; its
sub-tables (C{[mcp_servers.NAME.env]}) go with it, but not the comments
before the next table's header (tomlkit keeps them at the end of the
entry's last table): they stay in their place.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, InlineTable, Table, Whitespace

from mcpgateway.clientconfigs.location import Location


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
        # tomlkit keeps the comments and blank lines before the next table
        # header at the end of the last table above it: this entry's (or its
        # last sub-table's). They belong to what follows: carry them over.
        trailing = _trailing(old) if isinstance(old, Table) else []
        container[name] = new
        if trailing:
            placed = container[name]
            body = placed.value.body
            while body and body[-1][0] is None and isinstance(body[-1][1], Whitespace):
                body.pop()  # the blank line tomlkit adds after a new table
            _lastTable(placed).value.body.extend((None, item) for item in trailing)

    def text(self) -> str:
        return self._doc.as_string()


def _lastTable(table: Table) -> Table:
    """The table whose body ends where C{table}'s text ends: C{table}, or
    its last sub-table written as a C{[header]} (recursively)."""
    for key, item in reversed(table.value.body):
        if key is None:
            continue
        if isinstance(item, Table) and not isinstance(item, InlineTable):
            return _lastTable(item)
        break
    return table


def _trailing(table: Table) -> list[Comment | Whitespace]:
    """The comments and blank lines at the end of C{table}'s text (after
    its last key): what the user wrote before the next table."""
    out: list[Comment | Whitespace] = []
    for key, item in reversed(_lastTable(table).value.body):
        if key is not None or not isinstance(item, (Comment, Whitespace)):
            break
        out.append(item)
    if not any(isinstance(item, Comment) for item in out):
        return []  # blank lines only: tomlkit's own separation does
    return out[::-1]


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
