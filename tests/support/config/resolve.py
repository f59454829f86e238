"""What tests/config/test_resolve.py shares with the other tests: NPM, UV,
fired, npmInstalls, pending, prefixOf."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from tests.fakes import FakeProcessReactor

T = TypeVar("T")
NPM = "/opt/fake/bin/npm"
UV = "/opt/fake/bin/uv"


def fired(d: Deferred[T]) -> T:
    """The result of a Deferred that must have fired successfully."""
    results: list[T | Failure] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    result = results[0]
    assert not isinstance(result, Failure), result.getTraceback()
    return result


def pending(d: Deferred[Any]) -> None:
    """Assert that C{d} has not fired (leaving its result alone)."""
    assert not d.called, f"fired too early with {d.result!r}"


def prefixOf(reactor: FakeProcessReactor, index: int = -1) -> Path:
    """The C{--prefix} folder of an npm install the resolver spawned."""
    argv = reactor.spawned[index][1]
    return Path(argv[argv.index("--prefix") + 1])


def npmInstalls(
    reactor: FakeProcessReactor,
    name: str,
    manifest: dict[str, Any] | None,
    files: dict[str, bytes] | None = None,
    index: int = -1,
    code: int = 0,
) -> Path:
    """Play npm: write C{node_modules/<name>} with C{manifest} and C{files}
    (relative to the package) into the prefix, then exit with C{code}."""
    packageDir = prefixOf(reactor, index) / "node_modules" / name
    packageDir.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (packageDir / "package.json").write_text(json.dumps({"name": name, **manifest}))
    for relative, content in (files or {}).items():
        path = packageDir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o755)
    reactor.processes[index].exit(code)
    return packageDir
