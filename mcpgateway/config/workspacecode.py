# -*- test-case-name: tests.config.test_workspacecode -*-
"""Whether a child of your own entry would run code its workspace ships:
L{shadowingModule}.

Your own entry of a project (its local scope in C{~/.claude.json}) runs in
the project's folder, as Claude Code runs it. C{python -m NAME} puts that
folder first on C{sys.path}, so a repository that ships C{NAME/__init__.py}
or C{NAME.py} at its top runs instead of the package you installed (the
official servers' READMEs give C{python -m mcp_server_time} as the pip way
to run them). The child is then the repository's code, whatever the entry
says, and is given only what your entry names of the gateway's
C{<state-dir>/.env} (L{mcpgateway.config.scopes}).

Any module the child imports later is looked for in that folder first as
well (C{json}, C{pydantic}...), whatever NAME is. So such a child is run
with C{PYTHONSAFEPATH=1} (L{SAFE_PATH}), which keeps the folder off its
import path, unless its entry sets that variable itself; an interpreter
not known to be 3.11 or later (L{interpreterVersion}), which may ignore it,
is given only what the entry names of the gateway's C{.env}, as a child
that runs a module the folder ships with C{PYTHONSAFEPATH} set empty.

A developer running their own server from its checkout sets
C{"PYTHONSAFEPATH": ""} in its entry: the names the entry lists (its
C{env}, C{${NAME}}, C{envFrom}) still pass, and the warning says so.

The check reads the file system (a few C{stat}s): it runs where the config
is loaded, off the reactor thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib.machinery import all_suffixes

__all__ = ["SAFE_PATH", "interpreterVersion", "pythonModule", "shadowingModule"]

SAFE_PATH = "PYTHONSAFEPATH"
"""The variable that keeps the working directory off C{sys.path} for
C{python -m} (Python 3.11 and later; an older one ignores it)."""

_PYTHON = re.compile(r"(python|pypy)(\d+(\.\d+)*)?[a-z]?(\.exe)?")
"""The file name of a Python interpreter (C{python3.12}, C{pypy3}, C{python3.13t})."""
_WITH_VALUE = frozenset("XWQ")
"""Options of the interpreter that take the next argument as their value."""
_SAFE = frozenset("IP")
"""Options that keep the working directory off C{sys.path} (C{-I}, C{-P})."""


def pythonModule(command: str, args: Sequence[str]) -> str | None:
    """The module C{command args} runs with C{-m} when C{command} is a
    Python interpreter that puts its working directory on C{sys.path}
    (C{None}: not Python, a script, C{-c}, or C{-I}/C{-P} given)."""
    if _PYTHON.fullmatch(os.path.basename(command)) is None:
        return None
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-" or not arg.startswith("-") or arg == "--":
            return None  # a script, standard input: the script's folder is on the path
        if arg.startswith("--"):
            index += 1  # --version, --help...: no value
            continue
        flags = arg[1:]
        for at, flag in enumerate(flags):
            if flag in _SAFE:
                return None
            if flag == "c":
                return None
            if flag == "m":
                module = flags[at + 1 :] or (args[index + 1] if index + 1 < len(args) else "")
                return module or None
            if flag in _WITH_VALUE:
                if at == len(flags) - 1:
                    index += 1  # its value is the next argument
                break
        index += 1
    return None


def interpreterVersion(executable: str | None) -> tuple[int, int] | None:
    """The version of the Python interpreter at C{executable}, read off the
    name of the file its links end at (C{python3.12}: a venv's C{python}
    links to its base interpreter); C{None}: not known (a launcher script
    such as pyenv's shims, a name without a version)."""
    if not executable:
        return None
    name = os.path.basename(os.path.realpath(executable))
    found = _VERSIONED.fullmatch(name)
    return None if found is None else (int(found[1]), int(found[2]))


_VERSIONED = re.compile(r"(?:python|pypy)(\d+)\.(\d+)[a-z]?")


def shadowingModule(command: str, args: Sequence[str], cwd: str) -> str | None:
    """The file in C{cwd} that C{python -m NAME} (C{command args}) would
    import as NAME's top-level package or module, ahead of any installed
    one (C{None}: none, or not such a command). A folder without
    C{__init__} shadows nothing installed (a namespace portion yields to a
    regular package), so it is not counted."""
    module = pythonModule(command, args)
    if module is None:
        return None
    top = module.split(".", 1)[0]
    if not top.isidentifier():
        return None
    for suffix in all_suffixes():
        for candidate in (
            os.path.join(cwd, top + suffix),
            os.path.join(cwd, top, "__init__" + suffix),
        ):
            if os.path.isfile(candidate):
                return candidate
    return None
