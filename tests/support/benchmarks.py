"""BENCHMARKS, the repository's benchmarks folder, and loadBenchmark, which
imports one of its scripts for the tests of the benchmark tools."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"


def loadBenchmark(name: str, alias: str | None = None) -> ModuleType:
    """A fresh copy of benchmarks/<name>.py under the module name C{alias}
    (C{name} by default), so that patching it touches no other test; the
    folder goes on C{sys.path} for the modules the script imports."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    alias = name if alias is None else alias
    spec = importlib.util.spec_from_file_location(alias, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
