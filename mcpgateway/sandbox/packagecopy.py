# -*- test-case-name: tests.sandbox.test_packagecopy -*-
"""A confined child's own copy of the package it runs.

A server that keeps its data beside its code (server-memory's
C{dist/memory.jsonl}) writes in its package: in an C{npx} install of the
gateway's state directory, the one every child of its server runs. So no
child writes there: each runs a copy kept for its entry's name, route and
principal alone (C{<state>/copies/<copyKey>/package},
L{mcpgateway.sandbox.request.copyKey}: an edit of the entry keeps it, for
what the child wrote there is its data), which bubblewrap shows at the
package's path and which a child under Landlock runs where it is (its
script's path made the copy's, L{runFromCopy}; the install's dependencies
found through a C{node_modules} link beside the copy). What one child
writes there is never another principal's, nor code another child runs.

The launcher brings the copy up to the install before every start
(L{refresh}), in its own process, before bubblewrap runs. The first time,
the copy is the install whole (with what an earlier gateway's child wrote
beside the code there). After that a file of the install is copied again
only when the install changed it since (an upgrade in place: the digests of
the install's files at the last refresh are kept beside the copy, out of
the child's sight), or when the copy no longer holds it as a file: what a
child wrote in its copy, data or not, stays its own and is never another's.
The install's folders and symlinks are made again wherever the copy lacks
them. The package's own C{node_modules} is not copied: it is bound
read-only from the install over the copy's
(L{mcpgateway.sandbox.bwrap.arguments}).

The copy is the child's to write, and a child of the same key may still
run while the next one starts: nothing in it is followed. Every folder is
opened without following a symlink and worked in by its descriptor; a
file is written under a fresh name and renamed over its place; whatever
stands where a folder or a file of the install belongs (a symlink, a file
for a folder, a FIFO) is removed first. Two launchers may bring one copy
up at once (a per-session server's children starting together): a folder
or a link the other made first, or a leftover it removed, is as good.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterator

COPIES = "copies"
"""The state directory's folder of the copies (C{<state>/copies/<key>/})."""
FOLDER = "package"
"""The copy's folder in its C{<state>/copies/<key>/}."""
SUMS = ".sums"
"""Beside the copy (C{package.sums}): the digests of the install's files
the last refresh saw."""
DEPENDENCIES = "node_modules"
"""The package's own dependencies: bound from the install, never copied."""
CHUNK = 1 << 16
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def usable(package: str, mechanism: object) -> bool:
    """Whether a child confined by C{mechanism} runs C{package} from a copy:
    under bubblewrap, shown at the package's path; under Landlock, run
    where the copy is (L{runFromCopy}), its dependencies found through
    C{node_modules} beside it, so only a package without a
    C{node_modules} of its own (one npm did not hoist)."""
    if mechanism == "landlock":
        return not os.path.isdir(os.path.join(package, DEPENDENCIES))
    return mechanism not in ("seatbelt", "none")  # bubblewrap, or not decided yet


def runFromCopy(command: list[str], copy: str, package: str) -> list[str]:
    """C{command} with each argument in C{package} (the script it runs)
    made the same path in C{copy}: how a child under Landlock, which shows
    no copy at the package's path, runs its own."""
    prefix = package.rstrip("/") + "/"
    return [
        command[0],
        *(copy + arg[len(prefix) - 1 :] if arg.startswith(prefix) else arg for arg in command[1:]),
    ]


def sharedDependencies(package: str) -> str:
    """The C{node_modules} of the install that holds C{package} (the
    nearest one above it): where a copy's dependencies are found."""
    return package[: package.rindex("/" + DEPENDENCIES + "/")] + "/" + DEPENDENCIES


def copyPath(stateDir: str, copyKey: str) -> str:
    """Where the copy of the package of a child with C{copyKey} is kept."""
    return os.path.join(stateDir, COPIES, copyKey, FOLDER)


def earlierCopyPath(stateDir: str, cacheKey: str) -> str:
    """Where a gateway that kept the copy beside the entry's caches (for
    every word of its entry, C{cacheKey}) kept it: carried to
    L{copyPath} once (L{refresh})."""
    return os.path.join(stateDir, "caches", cacheKey, FOLDER)


def refresh(source: str, copy: str, earlier: str | None = None) -> None:
    """Bring C{copy} up to the package C{source} (see the module's
    docstring); its own C{node_modules} is made an empty folder (a mount
    point) when C{source} has one. C{copy} and its parent are made (mode
    0700) when missing; a copy an earlier gateway kept at C{earlier} is
    moved there first, with its digests, so that what its child wrote is
    carried over.

    @raise OSError: the copy cannot be made (the launcher fails the start,
        saying why).
    """
    parent = os.path.dirname(copy)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    sums = copy + SUMS
    if earlier is not None:
        _carry(earlier, copy)
    before = _readSums(sums)
    after: dict[str, str] = {}
    top = os.open(parent, DIRECTORY_FLAGS)
    try:
        _ensureFolder(top, os.path.basename(copy), 0o700)
        if "/" + DEPENDENCIES + "/" in source:  # found from the copy under Landlock
            _mirrorLink(sharedDependencies(source), DEPENDENCIES, top)
        into = os.open(os.path.basename(copy), DIRECTORY_FLAGS, dir_fd=top)
    finally:
        os.close(top)
    try:
        _mirror(source, into, "", before, after)
    finally:
        os.close(into)
    fresh = f"{sums}.{os.getpid()}"
    with open(fresh, "w", encoding="utf-8") as out:
        json.dump(after, out, sort_keys=True)
    os.replace(fresh, sums)


def place(source: str, copy: str, relative: str) -> bool:
    """Put the file C{source} at C{relative} in C{copy} (its folders made
    as needed), unless C{copy} holds a regular file there: whether it was
    put. As everywhere in a copy, nothing there is followed: a link or a
    file where a folder belongs goes, and the file is written under a
    fresh name and renamed over its place."""
    *folders, name = relative.split("/")
    into = os.open(copy, DIRECTORY_FLAGS)
    try:
        for folder in folders:
            _ensureFolder(into, folder, 0o700)
            inner = os.open(folder, DIRECTORY_FLAGS, dir_fd=into)
            os.close(into)
            into = inner
        try:
            held = os.stat(name, dir_fd=into, follow_symlinks=False)
        except FileNotFoundError:
            held = None
        if held is not None and stat.S_ISREG(held.st_mode):
            return False
        _mirrorFile(source, name, into, 0o600, changed=True)
        return True
    finally:
        os.close(into)


def _carry(earlier: str, copy: str) -> None:
    """Move the copy at C{earlier} (a real folder, never a link) and its
    digests to C{copy}, when C{copy} does not exist yet."""
    if os.path.lexists(copy):
        return
    try:
        info = os.lstat(earlier)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    try:
        os.rename(earlier, copy)
    except OSError:  # another launcher of the entry carried it, or began a copy there
        return
    with contextlib.suppress(FileNotFoundError):
        os.rename(earlier + SUMS, copy + SUMS)


def _readSums(path: str) -> dict[str, str] | None:
    """The digests the last refresh recorded (C{None}: no refresh yet)."""
    try:
        with open(path, encoding="utf-8") as read:
            found = json.load(read)
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def _mirror(
    source: str, into: int, under: str, before: dict[str, str] | None, after: dict[str, str]
) -> None:
    """Bring the folder open as C{into} up to the folder C{source} (the
    install's C{under}), recording each file's digest in C{after}."""
    for entry in _entries(source):
        path = os.path.join(source, entry.name)
        name = under + entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            _mirrorLink(os.readlink(path), entry.name, into)
        elif stat.S_ISDIR(info.st_mode):
            _ensureFolder(into, entry.name, stat.S_IMODE(info.st_mode) | 0o700)
            if name == DEPENDENCIES:
                continue  # bound from the install
            inner = os.open(entry.name, DIRECTORY_FLAGS, dir_fd=into)
            try:
                _mirror(path, inner, name + "/", before, after)
            finally:
                os.close(inner)
        elif stat.S_ISREG(info.st_mode):
            digest = after[name] = _digest(path)
            changed = before is None or before.get(name) != digest
            _mirrorFile(path, entry.name, into, stat.S_IMODE(info.st_mode), changed)


def _entries(folder: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as found:
        yield from sorted(found, key=lambda entry: entry.name)


def _ensureFolder(into: int, name: str, mode: int) -> None:
    """A real folder named C{name} in C{into}: what else stands there goes.
    Another launcher bringing the same copy up (two children of one entry
    starting at once) may make it first: that one is as good."""
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(info.st_mode):
            return
        with contextlib.suppress(FileNotFoundError):  # the other launcher's removal
            os.unlink(name, dir_fd=into)
    try:
        os.mkdir(name, mode & 0o777, dir_fd=into)
    except FileExistsError:
        if not stat.S_ISDIR(os.stat(name, dir_fd=into, follow_symlinks=False).st_mode):
            raise


def _remove(into: int, name: str) -> None:
    """Remove C{name} from C{into}, a folder with all it holds."""
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(FileNotFoundError):  # another launcher's removal
            os.unlink(name, dir_fd=into)
        return
    try:
        inner = os.open(name, DIRECTORY_FLAGS, dir_fd=into)
    except FileNotFoundError:
        return
    try:
        for child in os.listdir(inner):
            _remove(inner, child)
    finally:
        os.close(inner)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(name, dir_fd=into)


def _mirrorLink(target: str, name: str, into: int) -> None:
    """A symlink named C{name} in C{into} to C{target}: what else stands
    there goes (another launcher may make the same link first)."""
    try:
        if os.readlink(name, dir_fd=into) == target:
            return
    except OSError:
        pass
    _remove(into, name)
    try:
        os.symlink(target, name, dir_fd=into)
    except FileExistsError:
        if os.readlink(name, dir_fd=into) != target:
            raise


def _mirrorFile(path: str, name: str, into: int, mode: int, changed: bool) -> None:
    """Make C{name} in C{into} the file C{path} when C{changed} (the
    install's differs from what the last refresh copied) or when C{name} is
    not a regular file there."""
    try:
        info = os.stat(name, dir_fd=into, follow_symlinks=False)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and not changed:
        return  # the child's, as it left it
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


def _digest(path: str) -> str:
    found = hashlib.sha256()
    with open(path, "rb") as read:
        while chunk := read.read(CHUNK):
            found.update(chunk)
    return found.hexdigest()
