# -*- test-case-name: tests.sandbox.test_npxdata -*-
"""The data a server kept beside its code in the user's own C{npx} cache,
carried into the gateway's copy of its package once, when the copy is
made.

A server that keeps its data beside its code (server-memory's
C{dist/memory.jsonl}, with no C{MEMORY_FILE_PATH}) kept it, while the
user's clients ran it with C{npx}, in npm's cache:
C{~/.npm/_npx/<digest>/node_modules/<package>/}. Through the gateway its
child runs a copy of the gateway's own install
(L{mcpgateway.sandbox.packagecopy}), where that data is not: the user's
knowledge graph would seem gone at C{mcpgateway start}. So when the copy
is first made, the files the server wrote in the user's own install of
the package (those newer than npm's record of that install, outside its
C{node_modules}: L{written}) are copied into it where it has none, from
the install that holds the newest of them.

Only for the user's own entry: never a repository's (the user's data is
not the repository's to read), nor a child that serves one person of a
team gateway (the data is the account's). The direction is one way: what
the child writes in its copy stays there (copying it back would let a
confined child write into the cache the user's own C{npx} runs code from).

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os
import stat

from mcpgateway.sandbox import packagecopy

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterator

NPX_CACHE = (".npm", "_npx")
"""npm's cache of the packages C{npx} ran, under the home."""
INSTALLED = ".package-lock.json"
"""The file npm writes last in an install's C{node_modules}."""
DEPENDENCIES = "node_modules"
MOST = 512 << 20
"""Bytes carried at most: a package whose written files hold more is left
as it is (said), so that no start waits on a copy of gigabytes."""


def packageName(package: str) -> str:
    """The name of the package at C{package} (C{.../node_modules/@org/pkg}:
    C{@org/pkg})."""
    return package.rsplit(f"/{DEPENDENCIES}/", 1)[-1]


def written(package: str, installed: int) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files of C{package} (its own, not its C{node_modules})
    changed after C{installed} (nanoseconds): what its server wrote, as
    paths relative to it, with their facts."""
    for root, folders, files in os.walk(package):  # never into a symlinked folder
        folders[:] = [f for f in folders if not (root == package and f == DEPENDENCIES)]
        for name in files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_mtime_ns > installed:
                yield os.path.relpath(path, package), info


def usersData(home: str, name: str) -> tuple[str, list[str], int] | None:
    """The user's own C{npx} install of package C{name} whose server wrote
    the newest file: its folder, the files written there and their bytes;
    C{None}: none wrote any."""
    cache = os.path.join(home, *NPX_CACHE)
    try:
        digests = sorted(os.listdir(cache))
    except OSError:
        return None
    best: tuple[int, str, list[str], int] | None = None
    for digest in digests:
        modules = os.path.join(cache, digest, DEPENDENCIES)
        package = os.path.join(modules, name)
        try:
            installed = os.lstat(os.path.join(modules, INSTALLED)).st_mtime_ns
            if not stat.S_ISDIR(os.lstat(package).st_mode):
                continue
            found = list(written(package, installed))
        except OSError:
            continue
        if not found:
            continue
        newest = max(info.st_mtime_ns for _, info in found)
        if best is None or newest > best[0]:
            size = sum(info.st_size for _, info in found)
            best = (newest, package, sorted(path for path, _ in found), size)
    return None if best is None else best[1:]


def carry(copy: str, home: str, name: str) -> tuple[str, list[str]] | None:
    """Copy the files the server of package C{name} wrote in the user's own
    C{npx} install (L{usersData}) into C{copy}, the gateway's copy of it
    just made, each where C{copy} has none (L{packagecopy.place}: nothing
    in the copy is followed): the install and the files carried; C{None}:
    nothing to carry.

    @raise OSError: a file could not be read or written; or they hold
        more than L{MOST} bytes.
    """
    found = usersData(home, name)
    if found is None:
        return None
    source, paths, size = found
    if size > MOST:
        raise OSError(0, f"{size} bytes in {source}, over the {MOST >> 20} MB carried")
    carried = [path for path in paths if packagecopy.place(os.path.join(source, path), copy, path)]
    return (source, carried) if carried else None
