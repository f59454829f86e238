"""What tests/config/test_scopes.py shares with the other tests: build, byKey,
workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.config.classification import Overrides
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.config.origins import withOrigins
from mcpgateway.config.promotions import PromotedServer
from mcpgateway.config.scopes import Scoped, buildScopes
from mcpgateway.config.servers import parseConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spec import ServerSpec, Variant

SECRET = bytes(range(32))
ENVIRON = {"PATH": "", "HOME": "/home/me", "FROM_GATEWAY": "g"}
NO_FILE = EnvFile("/state/.env")


def keys() -> WorkspaceKeys:
    return WorkspaceKeys(SECRET)


def build(
    document: dict[str, Any],
    gatewayEnv: EnvFile = NO_FILE,
    overrides: Overrides | None = None,
    promotions: dict[str, PromotedServer] | None = None,
    withKeys: bool = True,
    origins: dict[tuple[str, str], str] | None = None,
) -> Scoped:
    """The routes of C{document}; C{origins}: the project entries, by
    workspace and name, that come from that project's own file."""
    loaded = parseConfig(document, "/home/me/.claude.json", ENVIRON, "user")
    if origins:
        loaded = withOrigins(loaded, origins)
    return buildScopes(
        loaded,
        overrides or Overrides(),
        keys() if withKeys else None,
        gatewayEnv,
        ENVIRON,
        promotions=promotions,
    )


def workspace(root: Path, name: str, dotenv: str | None = None) -> str:
    path = root / name
    path.mkdir()
    if dotenv is not None:
        (path / ".env").write_text(dotenv)
    return str(path)


def byKey(spec: ServerSpec) -> dict[str, Variant]:
    return {variant.key: variant for variant in spec.variants}
