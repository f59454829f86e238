"""What tests/integration/team/test_per_user.py shares with the other tests: tokens."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path


def tokens(home: Path, *principals: str) -> tuple[Path, dict[str, dict[str, str]]]:
    """A tokens file with one new token per principal; the file, and the
    C{Authorization} header of each principal."""
    made = {name: "mcpgw_" + secrets.token_urlsafe(32) for name in principals}
    path = home / "tokens.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "tokens": [
                    {"sha256": hashlib.sha256(token.encode()).hexdigest(), "principal": name}
                    for name, token in made.items()
                ],
            }
        )
    )
    path.chmod(0o600)
    return path, {name: {"authorization": f"Bearer {token}"} for name, token in made.items()}
