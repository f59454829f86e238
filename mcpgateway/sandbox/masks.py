# -*- test-case-name: tests.sandbox.test_masks -*-
"""What a confined child never sees, even under a path it may read or
write, and what is bound again over it.

Masked: the deny lists (L{defaults.DENY_HOME}, unless an C{allow} names
the entry itself; L{defaults.DENY_SYSTEM}), a root gateway's own files no
one else may read (found by their mode, L{privateEntries}), the state
directory, the gateway's own files (its config, its keys, its logs: the
request's C{gatewayFiles}), the entry's C{denyRead}, the other servers'
directories. Only where the child would see them: under a path bound for
it or a system directory (in its private, empty home a mask would only tell
it which secrets exist). Nothing lifts the state directory's mask nor the
gateway's files'.

Bound again over the masks (L{reopen}): the child's own packages the
gateway installed in its state directory (the package it runs writable,
for what a server writes beside its code, where no copy of its own is
shown over it, L{mcpgateway.sandbox.packagecopy}, and it serves whoever
calls its server), its launcher's own caches there
(writable: L{mcpgateway.sandbox.launchercaches}), and a path an C{allow}
names inside a masked one.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os
import stat

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.places import PRIVATE, Places, expand, real, under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any


MAX_OTHERS = 256


def gatewayFilesOf(request: Mapping[str, Any]) -> list[str]:
    """The gateway's own files the request names (absolute paths)."""
    named = request.get("gatewayFiles") or ()
    return [os.path.normpath(p) for p in named if isinstance(p, str) and p.startswith("/")]


def privateFilesOf(request: Mapping[str, Any]) -> list[str]:
    """The root-only files the gateway's probe found (a root gateway's:
    L{mcpgateway.sandbox.probe.privateFiles}), absolute paths."""
    named = request.get("privateFiles") or ()
    return [os.path.normpath(p) for p in named if isinstance(p, str) and p.startswith("/")]


def forbidden(
    path: str, places: Places, rules: Mapping[str, Any], gatewayFiles: Iterable[str]
) -> bool:
    """Whether C{path} (real) is inside what is always masked: the state
    directory (real), a deny list's entry, the entry's C{denyRead}, a
    gateway's file (as named: the masks themselves, once found, catch one
    reached through a symlink). A gateway whose working directory is one
    of them gives a child without a C{cwd} its home instead."""
    home = places.home
    if under(path, places.stateDir):
        return True
    denied = [*defaults.DENY_SYSTEM, *gatewayFiles]
    denied += [expand(entry, home, home) for entry in defaults.DENY_HOME]
    denied += [expand(entry, home, home) for entry in rules.get("denyRead") or ()]
    return any(under(path, p) for p in denied)


def apply(
    home: str,
    cwd: str,
    shown: list[str],
    places: Places,
    request: Mapping[str, Any],
    rules: Mapping[str, Any],
    allowed: list[tuple[str, bool]],
    named: list[str],
) -> list[tuple[str, bool]]:
    """Everything never shown, where the child would see it (under a
    system directory or a path bound for it, C{shown}): C{(path,
    isDirectory)}, sorted (a layout's C{masked}).

    @param allowed: C{(real path, writable)} of each C{allowRead} and
        C{allowWrite}: one that names a L{defaults.DENY_HOME} entry itself
        lifts that mask.
    @param named: the paths this child's command line names (its program,
        its arguments), as given and resolved.
    """
    masked: dict[str, bool] = {}
    exact = {path for path, _ in allowed}

    def mask(path: str, directory: bool | None = None) -> None:
        if not os.path.lexists(path):
            return
        resolved = real(path)
        if not os.path.exists(resolved):
            return
        if places.visible(resolved) or any(under(resolved, bound) for bound in shown):
            masked.setdefault(resolved, os.path.isdir(resolved) if directory is None else directory)

    for entry in defaults.DENY_HOME:
        full = expand(entry, home, home)
        if not (os.path.exists(full) and real(full) in exact):
            mask(full)
    for entry in defaults.DENY_SYSTEM:
        mask(entry)
    if os.geteuid() == 0:  # root without capabilities still reads what root owns
        for path, directory in privateEntries(defaults.PRIVATE_SCAN_ROOTS, 0):
            mask(path, directory)
        for path in privateFilesOf(request):  # deeper: the probe's look
            mask(path)
    mask(places.stateDir)
    for path in gatewayFilesOf(request):
        mask(path)
    for entry in rules.get("denyRead") or ():
        mask(expand(entry, home, cwd))
    mine = shown + named
    for other in list(request.get("others") or ())[:MAX_OTHERS]:
        if not isinstance(other, str) or not other.startswith("/") or not os.path.exists(other):
            continue
        resolved = real(other)
        root = otherPackage(resolved) if os.path.isfile(resolved) else resolved
        if hides(root, shown, mine, cwd if request.get("cwd") else None, places):
            mask(root, True)
    return sorted(masked.items())


TRANSIENT_SUFFIXES = (".lock",)
"""Root-only files passed by: a lock (C{useradd} and C{passwd} hold
C{/etc/group.lock} for milliseconds) holds a process id, no secret, and
one gone between the scan and the mount would fail the child's start
(bubblewrap cannot make a mount point in the read-only C{/etc})."""


def privateEntries(
    roots: Iterable[str],
    uid: int,
    depth: int = defaults.PRIVATE_SCAN_DEPTH,
    limit: int = defaults.PRIVATE_SCAN_LIMIT,
) -> list[tuple[str, bool]]:
    """C{(path, isDirectory)}: what C{uid} owns under C{roots}, down to
    C{depth} levels, that no one else may read: a directory no one else may
    enter, a regular file no one else may read. A child running as C{uid}
    without capabilities reads them all the same. Symlinks and the parts
    of C{/var} a child is never shown are passed by; at most C{limit}
    entries are looked at."""
    found: list[tuple[str, bool]] = []
    pending = [(root, 1) for root in roots if os.path.isdir(root) and not os.path.islink(root)]
    seen = 0
    passed = (*defaults.VAR_HIDDEN, *PRIVATE)
    while pending and seen < limit:
        directory, level = pending.pop(0)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                break
            if entry.path in passed:
                continue
            try:
                if entry.is_symlink():  # from the directory itself: no system call
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid != uid:
                continue
            if stat.S_ISDIR(info.st_mode):
                if not info.st_mode & stat.S_IXOTH:
                    found.append((entry.path, True))
                elif level < depth:
                    pending.append((entry.path, level + 1))
            elif (
                stat.S_ISREG(info.st_mode)
                and not info.st_mode & stat.S_IROTH
                and not entry.name.endswith(TRANSIENT_SUFFIXES)
            ):
                found.append((entry.path, False))
    return found


def otherPackage(path: str) -> str:
    """The directory of another server's file: its Node.js package (in the
    last C{node_modules}, C{@scope/name} included) or the file's directory."""
    parts = path.split("/")
    if "node_modules" in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index("node_modules")
        size = 3 if last + 1 < len(parts) and parts[last + 1].startswith("@") else 2
        if last + size < len(parts):
            return "/".join(parts[: last + size])
    return os.path.dirname(path)


def hides(root: str, own: list[str], mine: list[str], cwd: str | None, places: Places) -> bool:
    """Whether another server's directory C{root} is masked for this child:
    when this child would see it (under one of its own paths, or in
    C{/opt} or C{/var}), but not when it holds a path of this child's, is
    inside the working directory its entry gives it (C{cwd}: its
    workspace), or is wide (C{mine}: the child's binds and what its
    command line names)."""
    if cwd is not None:
        mine = [*mine, cwd]
    if places.wide(root) or (cwd is not None and under(root, cwd)):
        return False
    if any(under(path, root) for path in mine):
        return False
    if any(under(root, path) for path in own):
        return True
    return places.visible(root) and (under(root, "/opt") or under(root, "/var"))


def stateInstall(places: Places, path: str) -> str | None:
    """The install folder of the state directory C{path} is in
    (C{<state>/npx/<package>}), or C{None}."""
    for folder in defaults.STATE_INSTALLS:
        base = os.path.join(places.stateDir, folder)
        if under(path, base) and path != base:
            return "/".join(path.split("/")[: base.count("/") + 2])
    return None


def ownPackage(places: Places, paths: Iterable[str]) -> str | None:
    """The Node.js package, in an C{npx} install of the state directory,
    of the first of C{paths} (the child's program, its arguments) that is
    in one: where a server that writes beside its own code writes
    (server-memory's C{dist/memory.jsonl})."""
    base = os.path.join(places.stateDir, defaults.STATE_INSTALLS[0])
    for path in paths:
        if under(path, base) and "node_modules" in path.split("/")[:-1]:
            package = otherPackage(path)
            if "node_modules" in package.split("/")[:-1]:
                return package
    return None


def reopen(
    masked: list[tuple[str, bool]],
    places: Places,
    allowed: list[tuple[str, bool]],
    inState: Iterable[str],
    install: str | None = None,
    own: str | None = None,
    gatewayFiles: Iterable[str] = (),
    caches: Iterable[str] = (),
) -> list[tuple[str, bool]]:
    """What is bound again over the C{masked} paths (a layout's
    C{reopened}: C{(path, writable)}, sorted). The
    child's own installs in the state directory (C{npx/<package>},
    C{uvx/<package>}) that its binds name (C{inState}), read-only; the
    gateway's own install of its package (the request's C{install}: that
    folder alone) writable; the package the child runs from an C{npx}
    install (C{own}) writable; its launcher's own caches (C{caches}: each
    a folder of C{caches/<key>}, nothing above) writable; a path an
    C{allow} names inside a masked one (C{~/.aws/config}, not the rest of
    C{~/.aws}), never inside the state directory or a gateway's file."""
    reopened: dict[str, bool] = {}
    if install is not None and stateInstall(places, install) is not None:
        reopened[install] = True
    for path in inState:
        folder = stateInstall(places, path)
        if folder is not None:
            reopened.setdefault(folder, False)
    if own is not None and stateInstall(places, own) is not None:
        reopened[own] = True
    kept = os.path.join(places.stateDir, defaults.STATE_CACHES)
    for path in caches:
        if under(path, kept) and path.count("/") > kept.count("/") + 1:
            reopened[path] = True
    never = [places.stateDir, *gatewayFiles]
    for path, writable in allowed:
        inside = any(under(path, mask) and path != mask for mask, _ in masked)
        if inside and not any(under(path, p) for p in never):
            reopened[path] = writable or reopened.get(path, False)
    return sorted(reopened.items())
