"""The test files whose answer can depend on C{--twisted}: what C{.ci/run}
runs a second time, on stock Twisted (C{docs/contributing.md}).

The switch (L{mcpgateway.tuned.switch}) reaches a test in two ways only:

  - a gateway process the test starts reads C{$MCPGATEWAY_TWISTED}, which
    it inherits: every file of C{tests/integration}. The switch decides how
    the web front reads requests and writes answers (C{web/plumbing}), so
    the integration folders whose subject is that front (L{FRONT}: the MCP
    transports, routing, the aggregate, the bridge, Tasks' streams, the
    door, the console) run again on stock Twisted. The other folders (the
    sandbox, children, the command line, continuity, adoption, remote
    servers, the team gateway, the host) send the front the same requests
    those do, and a second run of them proves nothing more about it;
  - the test's own process reads it: a site made without a word for
    C{twisted} (C{web/app.makeSite}), the gateway's options parsed, twistd
    launched. Each of them is code that imports the switch, so a test file
    can read it only if it imports the switch's module through its
    imports: its own, those of the helpers of C{tests/} and the conftests
    it runs under, and those of the modules of C{mcpgateway/} (the lazy
    imports inside functions too).

Any other file gives the same answer on both runtimes, and running it twice
proves nothing. So do the tests of C{tests/tuned}, which run on the tuned
runtime whatever the environment says (their conftest).

C{python -m tests.support.switched} prints the files, one a line, relative
to the checkout.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.support.house import MODULES, imported
from tests.support.parsed import fromSource, sourceOf

CHECKOUT = Path(__file__).resolve().parents[2]
TESTS = CHECKOUT / "tests"
SWITCH = "mcpgateway.tuned.switch"
"""The module that reads C{$MCPGATEWAY_TWISTED}."""
GATEWAY_PROCESSES = "integration"
"""The folder of C{tests/} whose every file starts gateway processes."""
FRONT = ("serving", "routing", "aggregate", "bridge", "tasks", "door", "console")
"""The folders of L{GATEWAY_PROCESSES} whose subject is the web front."""
PINNED = ("tuned",)
"""Folders of C{tests/} that pin the tuned runtime (their conftest)."""


@functools.cache
def switchReaders() -> frozenset[str]:
    """The modules of C{mcpgateway} that import L{SWITCH}, themselves or
    through the modules they import (L{SWITCH} among them)."""
    importers: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for _, target in imported(path):
            importers.setdefault(target, set()).add(module)
    found = {SWITCH}
    pending = [SWITCH]
    while pending:
        for importer in importers.get(pending.pop(), ()):
            if importer not in found:
                found.add(importer)
                pending.append(importer)
    return frozenset(found)


def testModulePath(name: str) -> Path | None:
    """The file of the module C{name} of C{tests}, if there is one."""
    base = CHECKOUT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def importedNames(source: str) -> Iterator[str]:
    """Each module C{source} imports or may import (C{from a import b}
    names both C{a} and C{a.b}); absolute imports only."""
    for node in fromSource(source).imports:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@functools.cache
def fileReadsTheSwitch(path: Path) -> bool:
    """Whether the file C{path} of C{tests/} imports L{SWITCH} (see the
    module), without its conftests."""
    seen: set[Path] = set()
    pending = [path]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in importedNames(sourceOf(current)):
            if name in switchReaders():
                return True
            if name.startswith("tests."):
                found = testModulePath(name)
                if found is not None:
                    pending.append(found)
    return False


def conftests(path: Path) -> Iterator[Path]:
    """The conftests the tests of C{path} run under."""
    for folder in path.relative_to(TESTS).parents:
        conftest = TESTS / folder / "conftest.py"
        if conftest.is_file():
            yield conftest


def canDiffer(path: Path) -> bool:
    """Whether the tests of C{path} (a test file) can give another answer
    on stock Twisted."""
    parts = path.relative_to(TESTS).parts
    top = parts[0]
    if top == GATEWAY_PROCESSES:
        return len(parts) > 2 and parts[1] in FRONT
    if top in PINNED:
        return False
    return any(fileReadsTheSwitch(p) for p in (path, *conftests(path)))


def testFiles(root: Path = TESTS) -> Iterable[Path]:
    return sorted(root.rglob("test_*.py"))


def switchedFiles(files: Iterable[Path]) -> list[Path]:
    """Those of C{files} (test files) whose tests can differ."""
    return [path for path in files if canDiffer(path)]


def main() -> None:
    for path in switchedFiles(testFiles()):
        print(path.relative_to(CHECKOUT))


if __name__ == "__main__":
    main()
