"""What tests/test_house.py shares with the other tests: MODULES, imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mcpgateway
from tests.support.parsed import parsed

ROOT = Path(mcpgateway.__file__).parent


def moduleName(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {moduleName(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every mcpgateway module C{path} imports: (line, module), a name
    imported from a module counted as that module unless it is one itself."""
    for node in parsed(path).imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mcpgateway."):
                    yield node.lineno, owningModule(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if not node.module.startswith("mcpgateway"):
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield node.lineno, full if full in MODULES else owningModule(node.module)


def owningModule(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name
