"""A tokens file for the tests of a team gateway: tokens added as
C{mcpgateway token new} adds them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mcpgateway.auth.tokenfile import tokenEntry
from mcpgateway.cli.tokensedit import addEntry


def addToken(
    path: Path,
    principal: str,
    servers: Sequence[str] | None = None,
    admin: bool = False,
    expires: float | None = None,
) -> str:
    """Add a new token of C{principal} to the file C{path} (made when
    there is none); the token."""
    token, entry = tokenEntry(principal, servers, admin, expires)
    addEntry(path, entry)
    return token
