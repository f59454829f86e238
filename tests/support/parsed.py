"""The Python files the house rules read, each read once, and the modules
of the package and the benchmarks parsed once, per test process.

The house rules (C{tests/test_house.py}, the design documents', the test
layout's, the private-name register's, the layering tests, the switched
files') read the same modules as ASTs, and a parse of the whole package
costs seconds: a rule, or a case of a parametrized rule, that parsed them
again would pay it again. So:

  - L{sourceOf} keeps the text of a file of the checkout's own folders
    (L{TEXTS_KEPT}) by its path: they do not change while the tests run.
    A file elsewhere (what a checker's own test writes under C{tmp_path})
    is read afresh on each call: it may be written again between calls;
  - L{parsed} keeps the tree of a module of L{TREES_KEPT} by its path,
    and parses any other file's text afresh. A kept tree is handed to
    C{gc.freeze()}: the package's trees are about a million objects, and
    a full pass of the collector that walked them would take most of a
    second, in every test the worker runs after a house rule (each
    explicit C{gc.collect()}, and the collector's own passes as a test's
    objects pile up). The files of C{tests/} are read by three rules
    only, and their trees would take a few hundred megabytes more per
    worker: those are parsed again when asked;
  - L{fromSource} parses a text, kept nowhere: a checker's own test hands
    it its sample.

Under pytest-xdist each worker keeps its own. The trees are shared by every
rule: a rule reads them and never changes them.
"""

from __future__ import annotations

import ast
import functools
import gc
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mcpgateway

CHECKOUT = Path(mcpgateway.__file__).parent.parent
TREES_KEPT = ("mcpgateway", "benchmarks", "twisted")
"""The folders of the checkout whose modules L{parsed} keeps parsed."""
TEXTS_KEPT = (*TREES_KEPT, "tests")
"""The folders of the checkout whose files' texts L{sourceOf} keeps."""


@dataclass(frozen=True)
class Parsed:
    """One Python text, parsed: what the house rules read of a module."""

    source: str
    lines: tuple[str, ...]
    """The text's lines (C{str.splitlines}), without their line ends."""
    tree: ast.Module
    nodes: tuple[ast.AST, ...]
    """Every node of L{tree}, in C{ast.walk}'s order."""
    imports: tuple[ast.Import | ast.ImportFrom, ...]
    """The import statements of L{nodes} (those inside functions and
    C{TYPE_CHECKING} blocks too), in the same order."""


def fromSource(source: str) -> Parsed:
    """C{source} parsed."""
    tree = ast.parse(source)
    nodes = tuple(ast.walk(tree))
    return Parsed(
        source=source,
        lines=tuple(source.splitlines()),
        tree=tree,
        nodes=nodes,
        imports=tuple(node for node in nodes if isinstance(node, ast.Import | ast.ImportFrom)),
    )


def prefixes(folders: Iterable[str]) -> tuple[str, ...]:
    """How the paths of the files under the checkout's C{folders} start."""
    return tuple(
        f"{checkout / folder}{os.sep}"
        for checkout in {CHECKOUT, CHECKOUT.resolve()}
        for folder in folders
    )


_TREES = prefixes(TREES_KEPT)
_TEXTS = prefixes(TEXTS_KEPT)


@functools.cache
def _keptSource(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def _keptTree(path: Path) -> Parsed:
    kept = fromSource(_keptSource(path))
    gc.freeze()  # out of the collector's walks (see the module)
    return kept


def sourceOf(path: Path) -> str:
    """The text of the file C{path} (see the module)."""
    if str(path).startswith(_TEXTS):
        return _keptSource(path)
    return path.read_text(encoding="utf-8")


def parsed(path: Path) -> Parsed:
    """The Python file C{path}, parsed (see the module)."""
    if str(path).startswith(_TREES):
        return _keptTree(path)
    return fromSource(sourceOf(path))
