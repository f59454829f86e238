"""The test files whose answer can depend on C{--twisted}: what C{.ci/run}
runs a second time, on stock Twisted (C{docs/contributing.md}).

The switch (L{mcpgateway.tuned.switch}) reaches a test in two ways only:

  - a gateway process the test starts reads C{$MCPGATEWAY_TWISTED}, which
    it inherits: every file of C{tests/integration}. The switch decides how
    the web front reads requests and writes answers (C{web/plumbing}), so
    the integration tests whose subject is that front run again on stock
    Twisted: each such file says so with the C{front} mark (L{FRONT_MARK}:
    the MCP transports and their streams, hostile input, the conformance
    suite, the SDKs' connections, which session a child's message reaches,
    the door, the console's pages, the bridge's HTTP side). The others
    (pins, tasks' journal, the sandbox, children, the command line,
    continuity, adoption, remote servers, the team gateway, the host, the
    flow rule, the aggregate's lists and cuts) send the front the same
    requests those do, and a second run of them proves nothing more
    about it;
  - the test's own process reads it: a site made without a word for
    C{twisted} (C{web/app.makeSite}), the gateway's options parsed, twistd
    launched, each through L{mcpgateway.tuned.switch.twistedSetting}. The
    unit test files that do are those of L{switchwatch.READERS}, which the
    tests keep whole as they run (L{switchwatch}: a test whose file reads
    it unlisted fails). A unit test that starts a process (C{subprocess},
    C{spawnProcess}, C{sys.executable}, in its file or the helpers of
    C{tests/} it imports) and can reach the switch through its imports
    (its own, those of those helpers, and those of the modules of
    C{mcpgateway/}, the lazy imports inside functions too) runs again as
    well: the process inherits the variable, and no watch sees inside it.

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

from tests.support import switchwatch
from tests.support.house import MODULES, imported
from tests.support.parsed import fromSource, sourceOf

CHECKOUT = Path(__file__).resolve().parents[2]
TESTS = CHECKOUT / "tests"
SWITCH = "mcpgateway.tuned.switch"
"""The module that reads C{$MCPGATEWAY_TWISTED}."""
GATEWAY_PROCESSES = "integration"
"""The folder of C{tests/} whose every file starts gateway processes."""
FRONT_MARK = "front"
"""The mark (C{pytest.mark.front}, in a file's C{pytestmark}) of the files
of L{GATEWAY_PROCESSES} whose subject is the web front."""
PINNED = ("tuned",)
"""Folders of C{tests/} that pin the tuned runtime (their conftest)."""
STARTS_PROCESSES = ("subprocess", "spawnProcess", "sys.executable")
"""Words of a test's source that say it may start a process."""


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


@functools.cache
def _namesImportedBy(path: Path) -> tuple[str, ...]:
    """What the file C{path} imports or may import (L{importedNames})."""
    return tuple(importedNames(sourceOf(path)))


def importedNames(source: str) -> Iterator[str]:
    """Each module C{source} imports or may import (C{from a import b}
    names both C{a} and C{a.b}); absolute imports only."""
    for node in fromSource(source).imports:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _reached(path: Path) -> Iterator[Path]:
    """C{path} (a file of C{tests/}) and the files of the helpers of
    C{tests/} it imports, through theirs."""
    seen: set[Path] = set()
    pending = [path]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        for name in _namesImportedBy(current):
            if name.startswith("tests."):
                found = testModulePath(name)
                if found is not None:
                    pending.append(found)


@functools.cache
def fileReadsTheSwitch(path: Path) -> bool:
    """Whether the file C{path} of C{tests/} imports L{SWITCH} (see the
    module)."""
    readers = switchReaders()
    return any(name in readers for current in _reached(path) for name in _namesImportedBy(current))


@functools.cache
def startsProcesses(path: Path) -> bool:
    """Whether the file C{path} of C{tests/}, or a helper of C{tests/} it
    imports, may start a process (L{STARTS_PROCESSES})."""
    return any(word in sourceOf(current) for current in _reached(path) for word in STARTS_PROCESSES)


@functools.cache
def marksTheFront(path: Path) -> bool:
    """Whether the module-level C{pytestmark} of the file C{path} carries
    the L{FRONT_MARK} (C{pytest.mark.front}, alone or in a list)."""
    for node in fromSource(sourceOf(path)).tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
                return any(
                    isinstance(found, ast.Attribute)
                    and found.attr == FRONT_MARK
                    and isinstance(found.value, ast.Attribute)
                    and found.value.attr == "mark"
                    for found in ast.walk(node.value)
                )
    return False


def canDiffer(path: Path) -> bool:
    """Whether the tests of C{path} (a test file) can give another answer
    on stock Twisted."""
    parts = path.relative_to(TESTS).parts
    top = parts[0]
    if top == GATEWAY_PROCESSES:
        return marksTheFront(path)
    if top in PINNED:
        return False
    if str(path.relative_to(CHECKOUT)) in switchwatch.READERS:
        return True
    return startsProcesses(path) and fileReadsTheSwitch(path)


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
