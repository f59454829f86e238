# -*- test-case-name: tests.config.test_servers -*-
"""What checking a server's entry raises, and the C{${VAR}} expansion every
part of the check uses (L{mcpgateway.config.servers}).

Standard library only: the CLI imports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
"""A C{${NAME}} or C{${NAME:-default}} reference."""


class EntryError(Exception):
    """An entry that is not served; the message says why."""


class LeftToClient(EntryError):
    """A remote entry its client keeps using directly: as it should be, and
    nothing to fix (an info note, never an entry to fix)."""


def expand(text: str, environ: Mapping[str, str], where: str) -> str:
    """C{text} with each C{${NAME}} of it replaced by C{environ}'s value (an
    empty one gives way to the default), else its C{:-default}.

    @raise EntryError: a variable is not set and has no default (C{where}
        says in what)."""

    def substitute(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        value = environ.get(var)
        if value is not None and (value or default is None):
            return value
        if default is not None:
            return default
        raise EntryError(f"${{{var}}} in {where} is not set and has no default")

    return VARIABLE.sub(substitute, text)
