"""How the gateway's own Python is run: the interpreter flags every command
line that starts a gateway gives it (C{mcpgateway start} and C{restart}, the
service unit, the bytecode warm-up).

 - C{-OO}: docstrings (Twisted's are large) and asserts are left out of the
   loaded code: 2.5 MiB of an idle gateway's RSS (docs/design/costs.md). A
   flag, not C{PYTHONOPTIMIZE}, so no child inherits it.
 - C{-P} (Python 3.11 and later): the working directory (C{-m}, C{-c}) is not
   put first on C{sys.path}. The gateway's children may write there (in the
   container image it is the state volume), and a module planted there must
   never be imported into the gateway. A flag, not C{PYTHONSAFEPATH}, so a
   child's own Python is left as it is.

Standard library only: the command line interface imports it.
"""

from __future__ import annotations

import sys

FLAGS: tuple[str, ...] = (("-P",) if sys.version_info >= (3, 11) else ()) + ("-OO",)
"""The flags, in the order they are given."""


def command(*rest: str, python: str = sys.executable) -> tuple[str, ...]:
    """C{python FLAGS rest...}."""
    return (python, *FLAGS, *rest)
