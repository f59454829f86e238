# -*- test-case-name: tests.sandbox.test_maskparents -*-
"""The directories that hold a masked path, as a bubblewrap child is
shown them: an empty C{tmpfs} holding the directory's other entries (a
mount or a copy each), and the masks made inside it.

A mask is a mount (C{/dev/null} on a file, an empty C{tmpfs} on a
directory). Made on the host's entry, it sits on that entry, not on its
name: a program that replaces the file atomically (writes C{shadow+} and
renames it over C{shadow}: C{passwd}, C{useradd}, an MCP client rewriting
its config, the gateway its own files) or swaps the directory for a new
one leaves the mount on the old entry, and the running child reads the
new one under the masked name; and a rename while bubblewrap sets the
sandbox up makes its mount fail, and the child with it. So such a
directory is shown as a C{tmpfs} of bubblewrap's own: each of its other
entries is bound from the host (a directory recursively, a file as it
is), each symlink is made the same symlink, and the masked names are made
by bubblewrap inside it, where no rename on the host reaches them. So is
each directory above it, up to the bind that shows it (C{/etc} for
C{/etc/ssh/ssh_host_ed25519_key}): the C{tmpfs} of one is made inside the
C{tmpfs} of the one above, never on a host's entry that a rename can move.

Each bind costs bubblewrap a read of the whole mount table, so the cost
grows with the square of the entries (C{/etc}'s 150 took about 100 ms
more per start on a busy 2-CPU machine). A small regular file is copied
instead (L{copies}: the launcher opens it, bubblewrap writes its content
into a file of the C{tmpfs}, C{--file}), which costs no mount; its
owner in the sandbox is the child's user, so one the child may not read
is an empty file of its mode, and one gone since the listing is left
out (a bind of either, vanishing during the set-up, would fail the
start).

What the child loses: an entry of such a directory renamed over, added or
removed on the host after its start is not seen (C{/etc/hosts} edited
keeps its old content; a copied file, one edited in place too) until the
child starts again.

Only a directory where the child could read a masked path by its mode
(a child of root, without capabilities, reads what root owns: every one):
where the kernel refuses it already (an ordinary user's C{/etc/shadow}),
a mask on the host's entry costs no mount per entry, and a replacement
made as the old one was (C{passwd} keeps its mode) is refused as well.
Only a directory the child reads: in one it may write, a C{tmpfs} would
keep what it makes there from the host (lost when it ends), so there the
masks stay mounts on the host's entries. Nor a directory inside a masked
one (bubblewrap's empty C{tmpfs} already), nor one the child may not list
(L{childMay}), that cannot be listed or holds more than L{MAX_ENTRIES}
(each entry is a mount or a copy of every child's start): there the masks
are made as before, and a note says so.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os
import stat

from mcpgateway.sandbox.places import under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_ENTRIES = 1024
"""Entries a directory shown as a C{tmpfs} may hold: each is a mount or a
copy of every child's start (C{/etc} holds about 150)."""
MAX_COPY = 256 * 1024
"""The largest file copied into the C{tmpfs} (every child holds its own
copy in memory); a larger one is bound."""
MAX_COPIES = 1024
"""Files copied at most: each is a descriptor bubblewrap inherits."""

Entry = tuple[str, str]
"""C{(name, link)}: an entry bound from the host (C{link} empty), or a
symlink to C{link}."""
Presented = tuple[str, str, int, list[Entry]]
"""C{(path, source, mode, entries)}: the directory at C{path} in the
sandbox, made a C{tmpfs} of mode C{mode}, its C{entries} read from the
host's C{source} (the masked ones left out)."""


def present(
    masked: Iterable[tuple[str, bool]],
    mounts: Iterable[tuple[str, str, bool | None]],
    notes: list[str],
    readable: Callable[[str, bool], bool] | None = None,
) -> list[Presented]:
    """The directories holding one of the C{masked} paths (C{(path,
    isDirectory)}) shown as a C{tmpfs} of their entries, sorted: its
    parent, and each directory above it up to the bind that shows it (a
    C{tmpfs} made on an entry of a host's directory is on the host's entry
    too: the directory renamed away and another made in its place would
    show the child the new one).

    @param mounts: C{(path, source, writable)} of what shows the child the
        host's file system (the system's binds, its own), and C{(path, "",
        None)} of the empty directories of its own (its private C{/tmp},
        C{/var/log}): the innermost one holding a directory says where its
        entries are read and whether it is the child's to write.
    @param notes: where a directory left as it is (not listable, too big)
        is said.
    @param readable: whether the child could read a masked path (C{path,
        isDirectory}) by its mode (L{readableByChild}).
    """
    readable = readable or readableByChild
    masked = list(masked)
    maskedPaths = {path for path, _ in masked}
    maskedDirectories = [path for path, directory in masked if directory]
    parents = {os.path.dirname(path) for path, directory in masked if readable(path, directory)}
    shown = sorted(mounts, key=lambda m: (len(m[0]), m[2] is True))
    chain: dict[str, str] = {}  # a directory to show as a tmpfs: its host's source
    for directory in sorted(parents - {"/"}):
        if any(under(directory, inside) for inside in maskedDirectories):
            continue  # in bubblewrap's empty tmpfs already
        holding = [m for m in shown if under(directory, m[0])]
        if not holding:
            continue
        path, source, writable = holding[-1]
        if writable is not False:
            continue  # the child's to write, or no host directory
        while True:  # up to the bind: no tmpfs on an entry of a host directory either
            chain[directory] = source + directory[len(path) :]
            if directory == path:
                break
            directory = os.path.dirname(directory)
    out: list[Presented] = []
    for directory, source in sorted(chain.items()):
        listed = entries(source, directory, maskedPaths)
        if isinstance(listed, str):
            notes.append(f"{directory} holds a masked path and {listed}: its masks are mounts")
            continue
        mode, found = listed
        out.append((directory, source, mode, found))
    return out


def readableByChild(path: str, directory: bool) -> bool:
    """Whether the child (this process's user: the launcher's) could read
    C{path}, or enter it (C{directory}), by its mode: root's child always."""
    if os.geteuid() == 0:
        return True
    return os.access(path, os.X_OK if directory else os.R_OK)


READ, ENTER = 4, 1
"""The permission bits of one class (C{r}, C{x})."""


def childMay(info: os.stat_result, bits: int) -> bool:
    """Whether the child may do C{bits} (L{READ}, L{ENTER}) to a file of
    status C{info} by its mode. The launcher's own check for an ordinary
    user (it opened or listed it as the child's user); for root's, whose
    launcher holds capabilities the child drops, by the class root falls
    in: a copy or a C{tmpfs} is the child's own, so what its mode kept
    from it (another user's private file) is never copied nor listed."""
    if os.geteuid() != 0:
        return True
    mode = info.st_mode
    if info.st_uid == 0:
        shift = 6
    elif info.st_gid == 0 or info.st_gid in os.getgroups():
        shift = 3
    else:
        shift = 0
    return (mode >> shift) & bits == bits


def entries(source: str, directory: str, masked: set[str]) -> tuple[int, list[Entry]] | str:
    """The mode of the host's directory C{source} and its entries, but
    those whose path in the sandbox (in C{directory}) is C{masked}; or why
    they cannot be shown so."""
    try:
        info = os.stat(source)
        with os.scandir(source) as listing:
            found = list(listing)
    except OSError as e:
        return f"cannot be listed ({e.strerror or e})"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if not childMay(info, READ | ENTER):
        return "is not the child's to list"
    if len(found) > MAX_ENTRIES:
        return f"holds {len(found)} entries, over {MAX_ENTRIES}"
    out: list[Entry] = []
    for entry in sorted(found, key=lambda e: e.name):
        if os.path.join(directory, entry.name) in masked:
            continue
        link = ""
        if entry.is_symlink():
            try:
                link = os.readlink(entry.path)
            except OSError:
                continue  # gone since it was listed
        out.append((entry.name, link))
    return stat.S_IMODE(info.st_mode), out


def copies(presented: Iterable[Presented], lowest: int = 0) -> dict[str, tuple[int, int] | None]:
    """The small regular files of the C{presented} directories, opened for
    bubblewrap to copy into them: C{{path in the sandbox: (fd, mode)}}.
    Each fd is inheritable (bubblewrap reads it and closes it before the
    child runs). A file that is not the child's to read (it cannot be
    opened, or L{childMay} says so) is an empty file of its mode (its
    content is the child's in no way); one gone since it was listed is
    C{None}, not shown (a bind of it would fail the child's start); one
    that is no regular file or is larger than L{MAX_COPY} is bound. No fd
    is below C{lowest} (the launcher keeps those for its own handover of
    the child's stdout)."""
    out: dict[str, tuple[int, int] | None] = {}
    for path, source, _, found in presented:
        for name, link in found:
            if link or len(out) >= MAX_COPIES:
                continue
            inside = os.path.join(path, name)
            try:
                out[inside] = _copy(os.path.join(source, name), lowest)
            except FileNotFoundError:
                out[inside] = None
            except _Bound:
                continue
    return out


class _Bound(Exception):
    """A file bound, not copied: no regular one, or a large one."""


def _copy(host: str, lowest: int) -> tuple[int, int]:
    """The inheritable fd (C{lowest} or above) bubblewrap copies C{host}
    from, and its mode."""
    info = os.lstat(host)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_COPY:
        raise _Bound()  # a device or a pipe is never opened
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)  # not the child's to read
    else:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or opened.st_size > MAX_COPY:
            os.close(fd)
            raise _Bound()  # replaced since it was looked at
        if not childMay(opened, READ):
            os.close(fd)
            fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        info = opened
    if fd < lowest:
        import fcntl

        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
        os.close(fd)
        fd = moved
    os.set_inheritable(fd, True)
    return fd, stat.S_IMODE(info.st_mode)
