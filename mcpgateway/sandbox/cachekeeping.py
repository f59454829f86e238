# -*- test-case-name: tests.sandbox.test_cachekeeping -*-
"""Which of the launchers' caches are still wanted, and the removal of the
others.

A confined child's launcher caches are kept per entry, by a digest of
every word of it (C{<state>/caches/<key>}:
L{mcpgateway.sandbox.launchercaches}), so an entry edited (a variable, an
argument, a newer version) starts a new folder, and the old one (about
20 MB for an C{npx} server, more for a C{uvx} one) would stay for good.
So each launch I{claims} its folder (L{claim}): a shared C{flock} on
C{<key>/.inuse}, an fd the child inherits and holds for as long as it
lives (bubblewrap's processes too), the file's time set to now (when it
was last started), and C{<key>/route} naming whose entry it is (the
request's C{copyKey}: the server, the file that defined it, its workspace
route, its person; not the words of the entry). Both files sit beside
the child's folders, where the child cannot write.

L{stale} then finds the folders no child holds (an exclusive lock is
taken) that are either I{superseded} (another folder of the same route
was started later: the entry changed since) or I{unused} for
L{KEEP_UNUSED} seconds; L{remove} takes one away: renamed first, under its
lock (a launcher that claims it meanwhile finds it gone and makes a new
one), then deleted: what removing one costs is a download at the next
start. A folder that holds a server's own data is never removed: the
package copy an earlier gateway kept there (C{<key>/package}, carried to
C{copies/} at its next start: L{mcpgateway.sandbox.packagecopy}), or a
file a child wrote in the package C{npx} installed for it there (a child
that runs C{npx} itself, not the gateway's install: server-memory keeps its
C{memory.jsonl} beside its code), which L{serverWrote} tells from the
install by its time.

Standard library only: the launcher imports it before every confined
child (L{claim}).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterator

IN_USE = ".inuse"
"""The file each child's launcher holds a shared lock on (see the module docstring)."""
ROUTE = "route"
"""The file naming whose entry a folder's caches are for."""
EARLIER_COPY = "package"
"""A package copy an earlier gateway kept in the folder (never removed)."""
REMOVING = ".removing-"
"""The prefix of a folder renamed to be removed (what a crash left is removed later)."""
KEEP_UNUSED = 30 * 86400.0
"""Seconds a folder no child holds is kept after its last start."""
FD_FLOOR = 10
"""The lowest fd the claim is moved to: below it the launcher keeps fds of
its own (bubblewrap's stdout handover's)."""
TRIES = 3


def claim(folder: str, route: str) -> int:
    """Claim the caches C{folder} (C{<state>/caches/<key>}, made already)
    for a child about to run: its lock held shared on an inheritable fd
    (returned; the child keeps it), its time set to now, C{route} written
    in it when it names another. A folder renamed away by L{remove} while
    this took its lock is made again.

    @raise OSError: the lock file cannot be made or locked.
    """
    path = os.path.join(folder, IN_USE)
    for _ in range(TRIES):
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            if _sameFile(fd, path):
                break
        except OSError:
            os.close(fd)
            raise
        os.close(fd)  # removed meanwhile: its folder is made again
        os.makedirs(folder, 0o700, exist_ok=True)
    else:
        raise OSError(errno.EAGAIN, f"{folder} was removed while it was claimed")
    os.utime(fd)
    _writeRoute(folder, route)
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, FD_FLOOR)  # inheritable: the child holds it
    os.close(fd)
    return moved


def _sameFile(fd: int, path: str) -> bool:
    try:
        there = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino)


def _writeRoute(folder: str, route: str) -> None:
    path = os.path.join(folder, ROUTE)
    if _read(path) == route:
        return
    part = f"{path}.{os.getpid()}"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, route.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(part, path)


def _read(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode("utf-8", "replace")
    finally:
        os.close(fd)


class Folder:
    """One folder of caches, as L{stale} found it.

    @ivar path: C{<state>/caches/<key>}.
    @ivar route: whose entry it is for (C{None}: a folder no claim has
        named, made by an earlier gateway).
    @ivar started: when a child was last started on it (its lock file's
        time; the folder's own for one no claim has named).
    @ivar claimed: whether it had a lock file (an earlier gateway's may not).
    @ivar why: why it goes: C{"superseded"} or C{"unused"}.
    """

    __slots__ = ("claimed", "path", "route", "started", "why")

    def __init__(self, path: str, route: str | None, started: float, claimed: bool) -> None:
        self.path = path
        self.route = route
        self.started = started
        self.claimed = claimed
        self.why = ""

    def __repr__(self) -> str:
        return f"<Folder {self.path} {self.why or 'kept'}>"


def folders(caches: str) -> Iterator[Folder]:
    """The folders of C{caches} (C{<state>/caches}) that may go: not one
    holding an earlier gateway's package copy."""
    try:
        names = sorted(os.listdir(caches))
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(caches, name)
        if name.startswith(REMOVING) or os.path.lexists(os.path.join(path, EARLIER_COPY)):
            continue
        try:
            info = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        try:
            started, claimed = (
                os.stat(os.path.join(path, IN_USE), follow_symlinks=False).st_mtime,
                True,
            )
        except FileNotFoundError:
            started, claimed = info.st_mtime, False
        yield Folder(path, _read(os.path.join(path, ROUTE)), started, claimed)


def serverWrote(folder: str) -> bool:
    """Whether a child wrote a file in a package C{npx} installed in
    C{folder}: one under an C{_npx/<digest>/node_modules} (C{<tool>/cache/_npx}
    or C{<tool>/_npx}) changed after npm wrote that install's
    C{.package-lock.json}, its last file."""
    import glob  # not for the launcher's claim

    base = glob.escape(folder)
    for pattern in ("*/cache/_npx/*/node_modules", "*/_npx/*/node_modules"):
        for modules in glob.glob(os.path.join(base, pattern)):
            try:
                installed = os.lstat(os.path.join(modules, ".package-lock.json")).st_mtime_ns
            except FileNotFoundError:
                continue
            for root, _, files in os.walk(modules):
                for name in files:
                    info = os.lstat(os.path.join(root, name))
                    if stat.S_ISREG(info.st_mode) and info.st_mtime_ns > installed:
                        return True
    return False


def stale(caches: str, now: float, keepUnused: float = KEEP_UNUSED) -> list[Folder]:
    """The folders of C{caches} to remove when no child holds them (see the
    module docstring), each with its L{Folder.why}; oldest first. Not one
    holding a server's data (L{serverWrote})."""
    found = list(folders(caches))
    latest: dict[str, float] = {}
    for folder in found:
        if folder.route is not None:
            latest[folder.route] = max(latest.get(folder.route, folder.started), folder.started)
    out = []
    for folder in found:
        if folder.route is not None and folder.started < latest[folder.route]:
            folder.why = "superseded"
        elif now - folder.started > keepUnused:
            folder.why = "unused"
        else:
            continue
        if not serverWrote(folder.path):
            out.append(folder)
    out.sort(key=lambda folder: folder.started)
    return out


def remove(folder: Folder) -> int | None:
    """Remove C{folder} unless a child holds it or it was started since it
    was found: the bytes it held, or C{None} (kept)."""
    lock = os.path.join(folder.path, IN_USE)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:  # an earlier gateway's folder has none: made now, unless a launcher made it meanwhile
        fd = os.open(lock, flags if folder.claimed else flags | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileNotFoundError, FileExistsError):
        return None  # removed, or claimed, meanwhile
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a child holds it
        if not _sameFile(fd, lock) or (folder.claimed and os.fstat(fd).st_mtime > folder.started):
            return None  # claimed since
        away = os.path.join(
            os.path.dirname(folder.path), f"{REMOVING}{os.path.basename(folder.path)}"
        )
        delete(away)
        os.rename(folder.path, away)
    finally:
        os.close(fd)
    return delete(away)


def leftovers(caches: str) -> list[str]:
    """Folders a removal renamed and did not delete (the gateway stopped meanwhile)."""
    try:
        names = os.listdir(caches)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(caches, name) for name in names if name.startswith(REMOVING))


def delete(path: str) -> int:
    """Delete the folder C{path} if it is there: the bytes its files held.
    A folder a tool made read-only (uv makes some) is made writable first."""
    if not os.path.lexists(path):
        return 0
    size = 0
    for root, dirs, files in os.walk(path):
        for name in dirs:
            full = os.path.join(root, name)
            info = os.lstat(full)
            if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IRWXU != stat.S_IRWXU:
                os.chmod(full, stat.S_IMODE(info.st_mode) | stat.S_IRWXU)
        size += sum(os.lstat(os.path.join(root, name)).st_blocks * 512 for name in files)
    import shutil  # not for the launcher's claim

    shutil.rmtree(path)
    return size
