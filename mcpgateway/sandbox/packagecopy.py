# -*- test-case-name: tests.sandbox.test_packagecopy -*-
"""A confined child's own copy of the package it runs, under bubblewrap.

A server that keeps its data beside its code (server-memory's
C{dist/memory.jsonl}) writes in its package: in an C{npx} install of the
gateway's state directory, the one every child of its server runs. So no
child writes there. Under bubblewrap each child is shown, at its package's
path, a copy kept for its entry and its principal alone
(C{<state>/caches/<cacheKey>/package}, L{mcpgateway.sandbox.request.cacheKey}):
what one child writes there is never another principal's, nor code another
child runs.

The launcher brings the copy up to the install before every start
(L{refresh}), in its own process, before bubblewrap runs: every file the
install has is made the install's again (whatever the child wrote over
it), every symlink too, and what the child added is kept (its data). The
package's own C{node_modules} is not copied: it is bound read-only from the
install over the copy's (L{mcpgateway.sandbox.bwrap.arguments}).

The copy is the child's to write, and a child of the same key may still
run while the next one starts: nothing in it is followed. Every folder is
opened without following a symlink and worked in by its descriptor; a
file is written under a fresh name and renamed over its place; whatever
stands where a folder or a file of the install belongs (a symlink, a file
for a folder) is removed first.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterator

FOLDER = "package"
"""The copy's folder in its entry's C{<state>/caches/<key>/}."""
DEPENDENCIES = "node_modules"
"""The package's own dependencies: bound from the install, never copied."""
CHUNK = 1 << 16
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def copyPath(stateDir: str, cacheKey: str) -> str:
    """Where the copy of the package of a child with C{cacheKey} is kept."""
    return os.path.join(stateDir, "caches", cacheKey, FOLDER)


def refresh(source: str, copy: str) -> None:
    """Make C{copy} hold every file, folder and symlink of the package
    C{source} as C{source} has it, keeping what else it holds; its own
    C{node_modules} is made an empty folder (a mount point) when C{source}
    has one. C{copy} and its parent are made (mode 0700) when missing.

    @raise OSError: the copy cannot be made (the launcher fails the start,
        saying why).
    """
    parent = os.path.dirname(copy)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    top = os.open(parent, DIRECTORY_FLAGS)
    try:
        _ensureFolder(top, os.path.basename(copy), 0o700)
        into = os.open(os.path.basename(copy), DIRECTORY_FLAGS, dir_fd=top)
    finally:
        os.close(top)
    try:
        _mirror(source, into, top=True)
    finally:
        os.close(into)


def _mirror(source: str, into: int, top: bool = False) -> None:
    """Mirror the folder C{source} into the folder open as C{into}."""
    for entry in _entries(source):
        path = os.path.join(source, entry.name)
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            _mirrorLink(os.readlink(path), entry.name, into)
        elif stat.S_ISDIR(info.st_mode):
            _ensureFolder(into, entry.name, stat.S_IMODE(info.st_mode) | 0o700)
            if top and entry.name == DEPENDENCIES:
                continue  # bound from the install
            inner = os.open(entry.name, DIRECTORY_FLAGS, dir_fd=into)
            try:
                _mirror(path, inner)
            finally:
                os.close(inner)
        elif stat.S_ISREG(info.st_mode):
            _mirrorFile(path, entry.name, into, stat.S_IMODE(info.st_mode))


def _entries(folder: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as found:
        yield from sorted(found, key=lambda entry: entry.name)


def _ensureFolder(into: int, name: str, mode: int) -> None:
    """A real folder named C{name} in C{into}: what else stands there goes."""
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        os.mkdir(name, mode & 0o777, dir_fd=into)
        return
    if stat.S_ISDIR(info.st_mode):
        return
    os.unlink(name, dir_fd=into)
    os.mkdir(name, mode & 0o777, dir_fd=into)


def _remove(into: int, name: str) -> None:
    """Remove C{name} from C{into}, a folder with all it holds."""
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=into)
        return
    inner = os.open(name, DIRECTORY_FLAGS, dir_fd=into)
    try:
        for child in os.listdir(inner):
            _remove(inner, child)
    finally:
        os.close(inner)
    os.rmdir(name, dir_fd=into)


def _mirrorLink(target: str, name: str, into: int) -> None:
    try:
        if os.readlink(name, dir_fd=into) == target:
            return
    except OSError:
        pass
    _remove(into, name)
    os.symlink(target, name, dir_fd=into)


def _mirrorFile(path: str, name: str, into: int, mode: int) -> None:
    """Make C{name} in C{into} the file C{path}, unless it is already a
    regular file with the same bytes."""
    if _same(path, name, into):
        return
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        _remove(into, name)
    fresh = f".{name}.{os.getpid()}.copying"
    _remove(into, fresh)  # what a child may have left under that name
    written = os.open(
        fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
        dir_fd=into,
    )  # fmt: skip
    try:
        with open(path, "rb") as read:
            while chunk := read.read(CHUNK):
                os.write(written, chunk)
        os.fchmod(written, mode & 0o777)
    finally:
        os.close(written)
    os.replace(fresh, name, src_dir_fd=into, dst_dir_fd=into)


def _same(path: str, name: str, into: int) -> bool:
    """Whether C{name} in C{into} is a regular file holding C{path}'s bytes."""
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # never a FIFO's wait
        opened = os.open(name, flags, dir_fd=into)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(opened).st_mode):
            return False
        if os.fstat(opened).st_size != os.stat(path).st_size:
            return False
        with open(path, "rb") as read:
            while chunk := read.read(CHUNK):
                if os.read(opened, len(chunk)) != chunk:
                    return False
        return os.read(opened, 1) == b""
    finally:
        os.close(opened)
