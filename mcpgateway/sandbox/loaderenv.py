# -*- test-case-name: tests.sandbox.test_loaderenv -*-
"""The variables that steer the dynamic loader, set for the confined child
alone.

A child's environment is its entry's: an entry, a repository's
C{.mcp.json} among them, may set C{LD_PRELOAD}, C{LD_LIBRARY_PATH},
C{GCONV_PATH} (L{defaults.LOADER_PREFIXES}, L{defaults.LOADER_NAMES}). In
the confined child they load what they name inside its sandbox, as the
entry asks. But the processes that build that sandbox run on the host,
unconfined: the launcher's Python and bubblewrap. The loader reads those
variables as each of them starts, before any confinement, so a library a
repository brings would run there with every power of the user.

So the gateway never starts a launcher with them: L{held} renames each to
C{MCPGATEWAY_LOADER_<name>}, which no loader reads, before the launcher is
spawned; the launcher (L{restored}) gives them back their names for the
child alone: in the environment it C{exec}s the child in once Landlock
confines it, or, under bubblewrap and Seatbelt, which start before the
child, through a shell inside the sandbox (L{wrapper}) that sets them and
runs the child. A name that is no shell name is dropped, with a note.

Standard library only: the launcher imports it before every confined child.
"""

from __future__ import annotations

import re

from mcpgateway.sandbox import defaults

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Mapping

HELD = "MCPGATEWAY_LOADER_"
"""The prefix a held variable's name gets while the launcher runs."""
SHELL = "/bin/sh"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def steersLoader(name: str) -> bool:
    """Whether the dynamic loader or the C library reads C{name} as a program starts."""
    return name.startswith(defaults.LOADER_PREFIXES) or name in defaults.LOADER_NAMES


def held(environ: Mapping[str, str]) -> dict[str, str]:
    """C{environ} as a child's launcher starts in: each variable that steers
    the loader renamed C{MCPGATEWAY_LOADER_<name>} (a variable of that
    prefix it had already is not kept: only the gateway names one)."""
    out = {name: value for name, value in environ.items() if not name.startswith(HELD)}
    for name in [name for name in out if steersLoader(name)]:
        out[HELD + name] = out.pop(name)
    return out


def shellName(name: str) -> bool:
    """Whether a shell passes the variable C{name} on to what it runs
    (dash drops any other, bash one with a C{/} in it)."""
    return _NAME.match(name) is not None


def restored(environ: dict[str, str], notes: list[str]) -> dict[str, str]:
    """Take the held variables out of C{environ} (the launcher's, changed in
    place): C{{name: value}} to set for the child alone; one that is no
    shell name is dropped, noted in C{notes}."""
    out: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith(HELD):
            continue
        value = environ.pop(name)
        real = name[len(HELD) :]
        if _NAME.match(real) and steersLoader(real):
            out[real] = value
        else:
            notes.append(f"{real!r} in its env is no variable the child can be given: not set")
    return out


def wrapper(variables: Mapping[str, str], environ: dict[str, str]) -> list[str]:
    """The command prefix that sets C{variables} in the sandbox before the
    child runs (a shell of the sandbox's, its values passed in C{environ},
    changed in place, under their held names: never on a command line
    another user reads); C{[]} for none."""
    if not variables:
        return []
    lines = []
    for name in sorted(variables):
        environ[HELD + name] = variables[name]
        lines.append(f'export {name}="${HELD}{name}"; unset {HELD}{name}; ')
    return [SHELL, "-c", "".join(lines) + 'exec "$@"', "sh"]
