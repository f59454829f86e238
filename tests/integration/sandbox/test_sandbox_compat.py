"""Five real servers work unchanged in the sandbox, measured by
C{benchmarks/sandbox_compat.py}'s own code (its table, its entries, its
gateway, its probes), under C{--sandbox bubblewrap} and C{--sandbox
landlock}, as the user the tests run as (root in CI):

 - npm's server-filesystem (writes a file into the folder it was given),
   server-memory (creates an entity) and server-sequential-thinking, run
   as C{node <prefix>/node_modules/<package>/<bin>} from the prefix
   C{scripts/install-test-backends} installs them into (the versions of the
   script's table);
 - PyPI's mcp-server-time (gets the time) and mcp-server-git (reads a
   repository's status), as C{uvx PKG@VERSION}: the gateway installs them
   itself, confined, from PyPI (C{uv} and C{uvx} from the test extra).

server-memory gets the C{MEMORY_FILE_PATH} its README documents: without
it, it writes next to its own code, which no confined server may change
(docs/guide/sandbox.md); the script reports that entry as "needs" that line.
A write is checked on disk, outside the sandbox.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integration.gateway import REPO, npmServer
from tests.integration.sandboxkit import bwrapOrSkip

pytestmark = pytest.mark.integration


def load() -> ModuleType:
    """benchmarks/sandbox_compat.py, as a module of its own."""
    spec = importlib.util.spec_from_file_location(
        "sandbox_compat_under_test", REPO / "benchmarks" / "sandbox_compat.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


compat = load()
PLAN = {
    "filesystem": ("direct", "SERVER_FILESYSTEM_JS"),
    "memory": ("direct", "SERVER_MEMORY_JS"),
    "sequential-thinking": ("direct", "SERVER_SEQUENTIAL_THINKING_JS"),
    "time": ("npx", ""),
    "git": ("npx", ""),
}
"""Each server's launch style here, and the key of its program in
C{scripts/install-test-backends}' C{paths.env} (npm's)."""


def landlockOption() -> bool:
    """Whether this tree's C{--sandbox} takes C{landlock}."""
    from mcpgateway.startup import sandboxing

    return "landlock" in getattr(sandboxing, "MODES", ())


@pytest.mark.parametrize(
    "mechanism",
    [
        "bubblewrap",
        pytest.param(
            "landlock",
            marks=pytest.mark.xfail(
                not landlockOption(),
                reason="this tree's --sandbox has no landlock yet (auto or off only)",
                strict=False,
            ),
        ),
    ],
)
def test_popular_servers_work_unchanged(mechanism: str, tmp_path: Path) -> None:
    if mechanism == "bubblewrap":
        bwrapOrSkip()
    cache = compat.Cache(tmp_path / "compat")
    plan: list[tuple[Any, str]] = []
    for server in compat.SERVERS:
        if server.name not in PLAN:
            continue
        style, key = PLAN[server.name]
        if key:
            program = Path(npmServer(key)[1])  # <prefix>/node_modules/<package>/<bin>
            modules = [p for p in program.parents if p.name == "node_modules"]
            cache.prefixes[server.name] = modules[-1].parent
        if server.name == "memory":
            env = {"MEMORY_FILE_PATH": "{work}/memory.jsonl"}
            server = dataclasses.replace(server, env=env, fix=None)
        plan.append((server, style))
    compat.linkUv(cache)
    results = compat.measure(REPO, mechanism, "root", plan, cache, jobs=2, timeout=60.0)
    outcomes = {r.server: (r.outcome, r.line) for r in results}
    assert set(outcomes) == set(PLAN), outcomes
    failed = {name: seen for name, seen in outcomes.items() if seen[0] != "works"}
    assert not failed, failed
