# -*- test-case-name: tests.runtime.test_interpreter -*-
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
 - C{-X pycache_prefix=<state-dir>/bytecode}, only where the standard
   library has no C{-OO} bytecode and this account cannot write it (a
   Debian or Ubuntu system Python, and so the README's C{python3 -m
   venv} there; L{privateBytecodeFolder}). Without it such a gateway compiles
   every standard-library module it imports at every start: twice the CPU
   to listening, and the compiler's garbage kept for its whole life. Python
   trusts a C{.pyc} by its source's time and size, so the folder is one no
   child can write: the state directory, which no confined child is shown
   (L{mcpgateway.sandbox.pathrule}), never a cache a child shares.

Standard library only: the command line interface imports it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

FLAGS: tuple[str, ...] = (("-P",) if sys.version_info >= (3, 11) else ()) + ("-OO",)
"""The flags, in the order they are given."""

BYTECODE_FOLDER = "bytecode"
"""The state directory's folder of the gateway's own bytecode, where it keeps
one (L{privateBytecodeFolder})."""

PROBE_MODULE = "typing"
"""A standard-library module every gateway imports, and not one Python has
frozen into itself: whether its C{-OO} bytecode is there stands for the
whole library's."""


def command(
    *rest: str, python: str = sys.executable, bytecodeFolder: str | None = None
) -> tuple[str, ...]:
    """C{python FLAGS rest...}; with C{bytecodeFolder}, the interpreter
    keeps every module's bytecode there (C{-X pycache_prefix}) instead of
    beside its source."""
    prefix = () if bytecodeFolder is None else ("-X", f"pycache_prefix={bytecodeFolder}")
    return (python, *FLAGS, *prefix, *rest)


def writable(path: str) -> bool:
    """Whether this account may write in the folder C{path}."""
    return os.access(path, os.W_OK)


def stdlibLacksBytecode(
    stdlib: str | None = None, canWrite: Callable[[str], bool] = writable
) -> bool:
    """Whether the standard library at C{stdlib} (by default this
    interpreter's) has no C{-OO} bytecode and this account cannot write
    it there (C{canWrite}: L{writable})."""
    if stdlib is None:
        import sysconfig

        stdlib = sysconfig.get_path("stdlib")
    cache = os.path.join(stdlib, "__pycache__")
    compiled = f"{PROBE_MODULE}.{sys.implementation.cache_tag}.opt-2.pyc"
    if os.path.exists(os.path.join(cache, compiled)):
        return False
    return not canWrite(cache if os.path.isdir(cache) else stdlib)


def privateBytecodeFolder(
    stateDir: str, stdlib: str | None = None, canWrite: Callable[[str], bool] = writable
) -> str | None:
    """The folder the gateway of the state directory C{stateDir} keeps its
    bytecode in, made (mode 0700, the state directory too when it is new)
    when the standard library lacks it (L{stdlibLacksBytecode}); C{None}
    when it does not, or when the folder cannot be made (the gateway then
    compiles as before)."""
    if not stdlibLacksBytecode(stdlib, canWrite):
        return None
    folder = os.path.join(os.path.abspath(stateDir), BYTECODE_FOLDER)
    try:
        os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder
