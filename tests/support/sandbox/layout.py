"""What tests/sandbox/test_layout.py shares with the other tests: bound,
masked, request, tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.sandbox.layout import Layout


def request(tmp: Path, **fields: Any) -> dict[str, Any]:
    """A launcher's request for a server in the tree under C{tmp}."""
    base: dict[str, Any] = {
        "server": "srv",
        "command": "node",
        "cwd": None,
        "gatewayCwd": str(tmp),
        "home": str(tmp / "home"),
        "stateDir": str(tmp / "home" / ".mcpgateway"),
        "network": {"mode": "none"},
        "profile": {},
        "others": [],
    }
    base.update(fields)
    return base


def tree(tmp: Path) -> Path:
    """A home with secrets, a state directory, a Node package."""
    home = tmp / "home"
    for path in (".ssh", ".aws", ".mcpgateway/npx/pkg/node_modules/srv/bin", "work"):
        (home / path).mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "id_rsa").write_text("KEY")
    (home / ".aws" / "credentials").write_text("AWS")
    (home / ".aws" / "config").write_text("[default]")
    (home / ".bash_history").write_text("history")
    package = tmp / "proj" / "node_modules" / "@m" / "srv" / "dist"
    package.mkdir(parents=True)
    (package / "index.js").write_text("")
    return home


def bound(layout: Layout) -> dict[str, bool]:
    """Every path the child sees through a bind: whether it may write it."""
    out = {path: False for _, path in layout.readOnly}
    out.update({path: True for _, path in layout.writable})
    return out


def masked(layout: Layout) -> set[str]:
    return {path for path, _ in layout.masked}
