# -*- test-case-name: tests.sandbox.test_childtmp -*-
"""The temporary directories of Landlock children, removed by the gateway.

Landlock cannot give a child a private C{/tmp}: its launcher makes it a
directory of its own, C{<state-dir>/sandbox/<server>/tmp/<pid>}
(L{childTmp}), which it names as the
child's C{TMPDIR}. What a child leaves there outlives it unless someone
removes it: the gateway does, once the child has ended
(L{mcpgateway.sandbox.confine.Sandbox.spawned}), and at its start it
sweeps those of children that no longer run (a gateway that was killed,
or that ended before its children). Both are blocking file work, run in a
worker thread.

A child may write what it likes under its own directory (symbolic links
included): the removal never follows one (C{shutil.rmtree} on a platform
whose removal resists symlink attacks; a directory that became a link is
left alone).

Standard library only: the launcher imports it (L{childTmp}), and the
gateway does not load the launcher.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable

MECHANISMS = ("auto", "landlock", "seatbelt")
"""The mechanisms whose launcher may make a child's temporary directory
(C{auto}: it may fall back to Landlock)."""


def childTmp(stateDir: str, server: str, pid: int) -> str:
    """The temporary directory of the child whose launcher is process
    C{pid} (the child's own pid after its C{exec}):
    C{<stateDir>/sandbox/<server>/tmp/<pid>}, C{server} made a name of
    letters, digits, C{-}, C{_} and C{.}. The launcher makes it; the
    gateway removes it when the child ends."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in server)
    return os.path.join(stateDir, "sandbox", name or "_", "tmp", str(pid))


def remove(stateDir: str, server: str, pid: int) -> bool:
    """Remove the temporary directory of child C{pid} of C{server}, as its
    launcher named it (blocking): whether there was one to remove."""
    return _removeTree(childTmp(stateDir, server, pid))


def running(pid: int) -> bool:
    """Whether process C{pid} exists (someone else's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(stateDir: str, isRunning: Callable[[int], bool] = running) -> list[str]:
    """Remove every C{<stateDir>/sandbox/*/tmp/<pid>} whose process does
    not run (blocking): the paths removed. Anything else there (a name
    that is not a pid) is left alone."""
    removed: list[str] = []
    top = os.path.join(stateDir, "sandbox")
    for server in _entries(top):
        tmp = os.path.join(top, server, "tmp")
        for name in _entries(tmp):
            if not name.isdigit() or isRunning(int(name)):
                continue
            path = os.path.join(tmp, name)
            if _removeTree(path):
                removed.append(path)
    return removed


def _entries(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _removeTree(path: str) -> bool:
    """Remove directory C{path} and all beneath it, never following a
    link: whether it was there (a link, or a file, is not removed)."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    with contextlib.suppress(FileNotFoundError):  # removed meanwhile, whole or in part
        shutil.rmtree(path)
    return True
