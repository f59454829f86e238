# -*- test-case-name: tests.config.test_identity -*-
"""Read a server entry's C{"serverInfo"}: the name its clients see.

C{"serverInfo": {"name": "Team search", "title": "Search (staging)"}} makes
the gateway answer C{initialize} and C{server/discover} on that server's
routes with that C{name} (and C{title}) in place of the child's own
(L{mcpgateway.core.identity}). Each is a non-empty string of at most
L{MAX_LENGTH} characters with no control characters: clients show it, log
it and put it in prompts, where a newline or an escape sequence is a way to
forge lines.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["MAX_LENGTH", "IdentityError", "parseServerInfo"]

MAX_LENGTH = 128
"""The longest C{name} or C{title} an entry may choose, in characters."""
KEYS = ("name", "title")


class IdentityError(ValueError):
    """An entry's C{"serverInfo"} cannot be used; its text says why."""


def parseServerInfo(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """The C{name} and C{title} an entry chose (C{None} for each it did not),
    or L{IdentityError} naming what is wrong."""
    if "serverInfo" not in entry:
        return None, None
    given = entry["serverInfo"]
    if not isinstance(given, dict):
        raise IdentityError('\'serverInfo\' must be an object such as {"name": "Team search"}')
    unknown = sorted(str(key) for key in given if key not in KEYS)
    if unknown:
        raise IdentityError(
            f"'serverInfo' may have only 'name' and 'title', not {', '.join(map(repr, unknown))}"
        )
    if not given:
        raise IdentityError("'serverInfo' must choose a 'name', a 'title' or both")
    name, title = (_text(given, key) for key in KEYS)
    return name, title


def _text(given: dict[str, Any], key: str) -> str | None:
    if key not in given:
        return None
    value = given[key]
    where = f"'serverInfo.{key}'"
    if not isinstance(value, str) or not value.strip():
        raise IdentityError(f"{where} must be a non-empty string")
    if len(value) > MAX_LENGTH:
        raise IdentityError(f"{where} must be at most {MAX_LENGTH} characters, not {len(value)}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in value):
        raise IdentityError(f"{where} must not contain control or format characters")
    return value
