"""cluster/ sits between the core and the web: it knows no HTTP routes,
config files, operations jobs, CLI or tap.

Every module under C{mcpgateway/cluster} is read as an AST (imports inside
functions and C{TYPE_CHECKING} blocks included). It may import the core and
L{mcpgateway.httpbase.principal} (the identity it carries between replicas),
nothing else of C{auth}, and none of the packages above it. That the core
imports nothing of the cluster is checked in L{tests.core.test_layering}.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mcpgateway
from tests.support.core.bannedimports import under
from tests.support.core.layering import ABOVE, importedNames
from tests.support.core.layering import FORBIDDEN as CORE_FORBIDDEN
from tests.support.parsed import Parsed, parsed

CLUSTER = Path(mcpgateway.__file__).parent / "cluster"
FORBIDDEN = (*ABOVE, "mcpgateway.startup.preflight", "klein")
ALLOWED_AUTH = "mcpgateway.httpbase.principal"


def forbidden(source: str | Parsed) -> list[str]:
    return sorted({name for name in importedNames(source) if not allowed(name)})


def allowed(name: str) -> bool:
    if any(under(name, banned) for banned in FORBIDDEN):
        return False
    return not under(name, "mcpgateway.auth") or under(name, ALLOWED_AUTH)


def modules() -> list[Path]:
    return sorted(CLUSTER.glob("*.py"))


def test_cluster_has_modules() -> None:
    assert {"sealing", "peer"} <= {path.stem for path in modules()}


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_cluster_imports_nothing_above_it(path: Path) -> None:
    assert forbidden(parsed(path)) == []


def test_the_core_may_not_import_the_cluster() -> None:
    assert "mcpgateway.cluster" in CORE_FORBIDDEN


@pytest.mark.parametrize(
    "source",
    [
        "from mcpgateway.web.app import GatewayRequest",
        "from mcpgateway import config",
        "def late():\n    from mcpgateway.ops.audit import AuditLog\n",
        "from mcpgateway.auth.tokens import TokenTable",
        "import mcpgateway.auth",
        "from mcpgateway import tap",
    ],
)
def test_the_check_catches_each_kind_of_import(source: str) -> None:
    assert forbidden(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from mcpgateway.httpbase.principal import Principal",
        "from mcpgateway.core.sessions import SessionFacts",
        "from twisted.web.client import Agent",
        "from mcpgateway.protocol import versions",
    ],
)
def test_the_check_lets_core_and_principal_through(source: str) -> None:
    assert forbidden(source) == []
