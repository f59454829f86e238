"""The check the layering tests make of a module's source: which of its
imports a package may not make."""

from __future__ import annotations

from collections.abc import Iterable

from tests.support.core.layering import importedNames
from tests.support.parsed import Parsed


def under(name: str, prefix: str) -> bool:
    """Whether the dotted C{name} is C{prefix} or inside it (not merely
    starting like it: C{mcpgateway.webhooks} is not under C{mcpgateway.web})."""
    return name == prefix or name.startswith(prefix + ".")


def bannedImports(source: str | Parsed, banned: Iterable[str]) -> list[str]:
    """The names C{source} (a module's text, or the module parsed) imports
    that are under one of C{banned}, sorted."""
    prefixes = tuple(banned)
    return sorted({name for name in importedNames(source) if any(under(name, p) for p in prefixes)})
