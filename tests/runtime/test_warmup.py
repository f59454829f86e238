"""The bytecode warm-up before a start (L{mcpgateway.runtime.warmup}): the
package compiled every time, the gateway's imports run once per
installation, and not where no bytecode is written."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mcpgateway.runtime import warmup
from tests.integration.gateway import REPO


@pytest.fixture
def stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where L{warmup.warm} keeps its stamp in these tests (none yet), in an
    interpreter that writes bytecode (as C{mcpgateway start}'s does)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return str(tmp_path / "warmed.json")


def test_warm_goes_on_past_a_module_this_system_lacks(stamp: str) -> None:
    """epoll and inotify are Linux's: on macOS the rest is still written."""
    imported: list[str] = []
    compiled: list[str] = []

    def importModule(name: str) -> None:
        if name == "twisted.internet.inotify":
            raise ImportError("inotify is Linux only")
        imported.append(name)

    warmup.warm(importModule, compiled.append, stamp)
    assert imported == [m for m in warmup.WARM_MODULES if m != "twisted.internet.inotify"]
    assert compiled == [str(REPO / "mcpgateway")]


def test_warm_writes_the_bytecode_of_what_a_gateway_loads(stamp: str) -> None:
    imported: list[str] = []
    compiled: list[str] = []
    warmup.warm(imported.append, compiled.append, stamp)
    assert imported == list(warmup.WARM_MODULES)
    assert compiled == [str(REPO / "mcpgateway")]


def test_warm_imports_again_only_once_the_installation_changed(
    stamp: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The imports of a warm-up take a gateway start's CPU: they run again
    only once a folder of the path changed (a package installed, upgraded
    or removed), while the package is compiled every time."""
    site = tmp_path / "site-packages"
    site.mkdir()
    # Only this folder: another test writing beside the checkout meanwhile
    # would change the stamp of the path as the test process has it.
    monkeypatch.setattr(sys, "path", [str(site)])
    runs: list[tuple[list[str], list[str]]] = []

    def warmUp() -> None:
        imported: list[str] = []
        compiled: list[str] = []
        warmup.warm(imported.append, compiled.append, stamp)
        runs.append((imported, compiled))

    warmUp()
    warmUp()
    (site / "attrs-99.0.dist-info").mkdir()
    os.utime(site, ns=(1, 1))  # a changed time, whatever the clock's resolution
    warmUp()
    warmUp()
    package = [str(REPO / "mcpgateway")]
    assert runs == [
        (list(warmup.WARM_MODULES), package),
        ([], package),
        (list(warmup.WARM_MODULES), package),
        ([], package),
    ]


def test_warm_imports_nothing_where_no_bytecode_is_written(
    stamp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under C{PYTHONDONTWRITEBYTECODE} an import writes nothing: the
    package is still compiled (C{compileall} writes whatever the variable
    says), the imports are not run."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    imported: list[str] = []
    compiled: list[str] = []
    warmup.warm(imported.append, compiled.append, stamp)
    assert imported == [] and compiled == [str(REPO / "mcpgateway")]
    assert not Path(stamp).exists()


def test_a_warm_stamp_that_cannot_be_written_leaves_the_imports_to_the_next_start(
    stamp: str, tmp_path: Path
) -> None:
    """A read-only installation: the warm-up imports every time, as before."""
    readOnly = str(tmp_path / "no-such-folder" / "warmed.json")
    for _ in range(2):
        imported: list[str] = []
        warmup.warm(imported.append, lambda path: None, readOnly)
        assert imported == list(warmup.WARM_MODULES)
