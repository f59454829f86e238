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
is) or made there (L{copies}), each symlink is made the same symlink,
and the masked names are made by bubblewrap inside it, where no rename
on the host reaches them. So is each directory above it, up to the bind
that shows it (C{/etc} for C{/etc/ssh/ssh_host_ed25519_key}): the one
below is a folder made in the C{tmpfs} of the one above
(L{mcpgateway.sandbox.bwrap}), never on a host's entry that a rename can
move.

Each bind costs bubblewrap a read of the whole mount table, so the cost
grows with the square of the mounts (C{/etc}'s 80 folders and 66 files
bound took about 100 ms more per start on a busy 2-CPU machine). So what
can be made is made instead (L{copies}), a few system calls each and no
mount: a small regular file is copied (the launcher opens it,
bubblewrap writes its content into a file of the C{tmpfs}, C{--file}),
a small folder is made with its folders, symlinks and copies of its
files (L{tree}). Only larger files and folders are bound (in C{/etc},
C{alternatives}, C{ssl/certs}, C{apt}: about 30 binds in all). A copy's
owner in the sandbox is the child's user, so a file the child may not
read is an empty file of its mode, and one gone since the listing is
left out (a bind of either, vanishing during the set-up, would fail the
start).

What the child loses: an entry of such a directory renamed over, added or
removed on the host after its start is not seen (C{/etc/hosts} edited
keeps its old content; a copied file, one edited in place too, and so
does what a folder made there holds) until the child starts again.

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
FDS_LEFT = 64
"""The fds of the launcher's limit (the child's C{openFiles}) the copies
leave free for bubblewrap's own."""
MAX_TREE = 4
"""Entries (all its levels) a folder of a directory shown as a C{tmpfs}
may hold to be made there, not bound (L{tree}): bubblewrap makes a folder
or a file in about 20 microseconds, the launcher opens or lists it in
about 10, a bind costs it about 200 (a read of the mount table)."""
MAX_TREE_BYTES = 16 * 1024
"""The size of the files such a folder may hold to be made there (every
child holds its own copy in memory)."""

Entry = tuple[str, str]
"""C{(name, link)}: an entry bound from the host (C{link} empty), or a
symlink to C{link}."""
Copy = tuple[int, int, str]
"""C{(fd, mode, link)}: what bubblewrap makes in a C{tmpfs} of entries: a
file of mode C{mode} copied from the inherited C{fd}, a folder of mode
C{mode} (C{fd} -1), a symlink to C{link} (C{fd} -1)."""
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


def childMay(info: os.stat_result, bits: int, root: bool | None = None) -> bool:
    """Whether the child may do C{bits} (L{READ}, L{ENTER}) to a file of
    status C{info} by its mode. The launcher's own check for an ordinary
    user (it opened or listed it as the child's user); for root's, whose
    launcher holds capabilities the child drops, by the class root falls
    in: a copy or a C{tmpfs} is the child's own, so what its mode kept
    from it (another user's private file) is never copied nor listed.
    C{root}: whether the launcher is root, when it is known already."""
    if not (os.geteuid() == 0 if root is None else root):
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


def copies(
    presented: Iterable[Presented],
    lowest: int = 0,
    kept: Iterable[str] = (),
    emptied: Iterable[str] = (),
) -> dict[str, Copy | None]:
    """What bubblewrap makes in the C{presented} directories instead of a
    bind: C{{path in the sandbox: L{Copy}}}. Each small regular file is
    opened for it to copy (its fd inheritable: bubblewrap reads it and
    closes it before the child runs); each small folder (L{tree}) is made
    with what it holds. A file that is not the child's to read (it cannot
    be opened, or L{childMay} says so) is an empty file of its mode (its
    content is the child's in no way); one gone since it was listed is
    C{None}, not shown (a bind of it would fail the child's start). A
    file that is no regular one or is larger than L{MAX_COPY}, a larger
    folder and one holding a path another mount makes (C{kept}: the
    masks, the child's own binds) are bound. Each path of C{emptied} (a
    mask) is an empty file of mode 0, copied from C{/dev/null}. No fd is
    below C{lowest} (the launcher keeps those for its own handover of the
    child's stdout), and none leaves fewer than L{FDS_LEFT} of this
    process's limit for bubblewrap."""
    kept = set(kept)
    avoid = set(kept)  # and every folder holding one
    for path in kept:
        path = os.path.dirname(path)
        while path not in avoid:
            avoid.add(path)
            path = os.path.dirname(path)
    room = Room(lowest)
    out: dict[str, Copy | None] = {}
    try:
        for path, source, _, found in presented:
            try:  # the kind of each entry, without a system call for each
                with os.scandir(source) as listing:
                    now = {entry.name: entry for entry in listing}
            except OSError:
                continue  # bound as they are
            for name, link in found:
                inside = f"{path}/{name}"
                if link or inside in avoid or not room.left():
                    continue  # a symlink, made by another mount, holding one, or bound
                entry = now.get(name)
                try:
                    if entry is None:
                        out[inside] = None  # gone since it was listed
                    elif entry.is_dir(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        out.update(tree(entry.path, inside, info, room))
                    elif entry.is_file(follow_symlinks=False):  # a device or a pipe: never opened
                        out[inside], _ = _copy(entry.path, room)
                except FileNotFoundError:
                    out[inside] = None
                except (_Bound, OSError):
                    continue  # bound as it is
        for path in emptied:
            if room.left():
                out[path] = (room.take(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)), 0, "")
    finally:
        room.close()
    return out


class Room:
    """The fds the copies may take: L{MAX_COPIES} at most, each at
    C{lowest} or above (the free ones below are held meanwhile, so no fd
    has to be moved), L{FDS_LEFT} of this process's limit left free."""

    def __init__(self, lowest: int) -> None:
        import resource

        self.held: list[int] = []
        while True:
            fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            if fd >= lowest:
                os.close(fd)
                break
            self.held.append(fd)
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.below = max(lowest, 3) + MAX_COPIES
        if soft != resource.RLIM_INFINITY:
            self.below = min(self.below, soft - FDS_LEFT)
        self.taken = 0
        self.lowest = lowest
        self.root = os.geteuid() == 0

    def left(self) -> bool:
        """Whether one more fd may be taken."""
        return max(self.lowest, 3) + self.taken < self.below

    def take(self, fd: int) -> int:
        """C{fd}, moved to C{lowest} or above (if another thread took a
        free one below meanwhile), made inheritable."""
        if fd < self.lowest:
            import fcntl

            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.lowest)
            os.close(fd)
            fd = moved
        os.set_inheritable(fd, True)
        self.taken += 1
        return fd

    def close(self) -> None:
        """Free the fds held below C{lowest}."""
        for fd in self.held:
            os.close(fd)
        self.held = []


def tree(host: str, inside: str, info: os.stat_result, room: Room) -> dict[str, Copy | None]:
    """The folder C{host} (of status C{info}) made at C{inside} with what
    it holds: its folders, its symlinks, copies of its files. Only a small
    one (L{MAX_TREE} entries, L{MAX_TREE_BYTES} of files, all its levels)
    the child may list at every level, holding only folders, symlinks and
    regular files: a bind costs bubblewrap a read of the whole mount
    table, a copy a few system calls per entry.

    @raise _Bound: it is bound.
    """
    out: dict[str, Copy | None] = {}
    files: list[tuple[str, str]] = []
    pending = [(host, inside, info)]
    count = 0
    try:
        while pending:
            source, path, info = pending.pop()
            if not childMay(info, READ | ENTER, room.root):
                raise _Bound()
            out[path] = (-1, stat.S_IMODE(info.st_mode), "")
            with os.scandir(source) as listing:
                for entry in listing:
                    count += 1
                    at = f"{path}/{entry.name}"
                    if count > MAX_TREE:
                        raise _Bound()
                    if entry.is_symlink():
                        out[at] = (-1, 0, os.readlink(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, at, entry.stat(follow_symlinks=False)))
                    elif entry.is_file(follow_symlinks=False):
                        files.append((entry.path, at))
                    else:
                        raise _Bound()  # a device, a pipe, a socket: never opened
    except OSError:
        raise _Bound() from None  # changed while it was listed: bound as it is
    size = 0
    try:
        for source, at in files:
            if not room.left():
                raise _Bound()
            try:
                out[at], length = _copy(source, room)
            except FileNotFoundError:
                out[at] = None
                continue
            size += length
            if size > MAX_TREE_BYTES:
                raise _Bound()
    except (_Bound, OSError):
        for made in out.values():
            if made is not None and made[0] >= 0:
                os.close(made[0])
                room.taken -= 1
        raise _Bound() from None
    return out


class _Bound(Exception):
    """Bound, not made: no regular file or folder, a large one, a folder
    that changed while it was listed."""


def _copy(host: str, room: Room) -> tuple[Copy, int]:
    """The inheritable fd (at L{Room.lowest} or above) bubblewrap copies
    the regular file C{host} from, its mode, and the size it copies.

    @raise _Bound: it is no regular file or a large one (replaced since it
        was listed).
    """
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError:
        mode, size = os.lstat(host).st_mode, 0
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)  # not the child's to read
    else:
        opened = os.fstat(fd)
        mode, size = opened.st_mode, opened.st_size
        if not stat.S_ISREG(mode) or size > MAX_COPY:
            os.close(fd)
            raise _Bound()
        if not childMay(opened, READ, room.root):
            os.close(fd)
            fd, size = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), 0
    return (room.take(fd), stat.S_IMODE(mode), ""), size
