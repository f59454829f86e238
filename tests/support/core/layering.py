"""What tests/core/test_layering.py shares with the other tests: ABOVE,
FORBIDDEN, importedNames."""

from __future__ import annotations

import ast

from tests.support.parsed import Parsed, fromSource

ABOVE = (
    "mcpgateway.web",
    "mcpgateway.config",
    "mcpgateway.clientconfigs",
    "mcpgateway.ops",
    "mcpgateway.cli",
    "mcpgateway.tap",
)
"""The packages above both the core and the cluster."""
FORBIDDEN = (*ABOVE, "mcpgateway.auth", "mcpgateway.cluster", "klein", "twisted.web")
"""What the core may not import."""


def importedNames(source: str | Parsed) -> list[str]:
    """Every module name C{source} (a module's text, or the module parsed)
    imports, as dotted names (C{from a import b} counts as both C{a} and
    C{a.b}: C{b} may be a module)."""
    read = fromSource(source) if isinstance(source, str) else source
    names = []
    for node in read.imports:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the core package
                base = ".".join(["mcpgateway", "core"][: 2 - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names
