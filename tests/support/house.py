"""What tests/test_house.py shares with the other tests: MODULES, imported."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
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


def imported(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """Every mcpgateway module C{path} imports, wherever the import stands
    (at the top, in a function, under C{TYPE_CHECKING}): (line, module), a
    name imported from a module counted as that module unless it is one
    itself, a relative import read from C{path}'s package. C{source}: the
    code to read in place of C{path}'s (parsed afresh, never cached)."""
    if source is None:
        nodes: Iterable[ast.AST] = parsed(path).imports
    else:
        nodes = ast.walk(ast.parse(source))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mcpgateway."):
                    yield node.lineno, owningModule(alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = absoluteModule(path, node.module, node.level)
            if not (module == "mcpgateway" or module.startswith("mcpgateway.")):
                continue
            for alias in node.names:
                full = f"{module}.{alias.name}"
                yield node.lineno, full if full in MODULES else owningModule(module)


def absoluteModule(path: Path, module: str | None, level: int) -> str:
    """The module C{from <level dots><module> import ...} names in C{path}."""
    if not level:
        return module or ""
    package = moduleName(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def owningModule(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name
