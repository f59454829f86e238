"""core/ knows neither HTTP nor config files nor the operations around it,
nor how callers are authenticated (it sees a principal's key, a string).

Every module under C{mcpgateway/core} is read as an AST (imports inside
functions and C{TYPE_CHECKING} blocks included) and may import none of the
packages above it: the web layer, the config readers, the client-config
adapters, the operations jobs, the CLI, the tap, Klein or C{twisted.web}.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mcpgateway
from tests.support.core.bannedimports import bannedImports
from tests.support.core.layering import FORBIDDEN
from tests.support.parsed import Parsed, parsed

CORE = Path(mcpgateway.__file__).parent / "core"


def forbiddenImports(source: str | Parsed) -> list[str]:
    """The imports of C{source} that core/ may not make."""
    return bannedImports(source, FORBIDDEN)


def coreModules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    names = {path.stem for path in coreModules()}
    assert {
        "gateway",
        "pool",
        "serverpool",
        "shared",
        "placement",
        "router",
        "fanout",
        "spawn",
    } <= names


@pytest.mark.parametrize("path", coreModules(), ids=lambda path: path.name)
def test_core_module_imports_nothing_above_core(path: Path) -> None:
    assert forbiddenImports(parsed(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import klein",
        "from twisted.web.server import Request",
        "from mcpgateway import web",
        "from mcpgateway.config import servers",
        "def late():\n    from mcpgateway.ops.statedir import pidAlive\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mcpgateway.cli\n",
        "from mcpgateway import tap as wiring",
        "from ..clientconfigs import claude",
    ],
)
def test_the_check_catches_each_kind_of_import(source: str) -> None:
    assert forbiddenImports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from mcpgateway.protocol import jsonrpc",
        "from mcpgateway.runtime import logs",
        "from mcpgateway.core.router import Router",
        "from twisted.internet.defer import Deferred",
        "from . import spec",
        "import mcpgateway.webhooks",  # a name that merely starts like a banned one
    ],
)
def test_the_check_lets_core_and_leaves_through(source: str) -> None:
    assert forbiddenImports(source) == []
