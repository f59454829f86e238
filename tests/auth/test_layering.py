"""auth/ knows neither HTTP routes nor config files nor the CLI.

Every module under C{mcpgateway/auth} is read as an AST (imports inside
functions and C{TYPE_CHECKING} blocks included) and may import none of the
packages above it: the web layer, the config readers, the operations jobs,
the CLI, the tap, the cluster, or Klein. C{auth/tokenfile.py}, which the
C{mcpgateway token} command imports, loads no Twisted at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mcpgateway
from tests.support.core import layering
from tests.support.core.bannedimports import bannedImports
from tests.support.parsed import parsed

AUTH = Path(mcpgateway.__file__).parent / "auth"
FORBIDDEN = (
    *(name for name in layering.FORBIDDEN if name not in ("mcpgateway.auth", "twisted.web")),
    "mcpgateway.core",
)
"""What core may not import, but auth itself and twisted.web (its JWKS
fetch); and core, below auth."""
STANDALONE = ("tokenfile.py",)
"""Modules the CLI may import: nothing of Twisted (or PyJWT)."""


def modules() -> list[Path]:
    return sorted(AUTH.glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_auth_imports_nothing_above_it(path: Path) -> None:
    assert bannedImports(parsed(path), FORBIDDEN) == []


@pytest.mark.parametrize("name", STANDALONE)
def test_modules_the_cli_uses_import_no_twisted(name: str) -> None:
    source = (AUTH / name).read_text()
    assert bannedImports(source, ("twisted", "jwt", "treq", "mcpgateway.httpbase.principal")) == []


def test_the_check_sees_a_forbidden_import() -> None:
    assert bannedImports("from mcpgateway.web.app import x\n", FORBIDDEN) == [
        "mcpgateway.web.app",
        "mcpgateway.web.app.x",
    ]
