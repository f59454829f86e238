# -*- test-case-name: tests.config.test_workspacefile -*-
"""Opening a file of a workspace that the gateway reads on a repository's behalf.

A workspace's C{.env} comes with a cloned repository, and the gateway reads
it itself, on the host, unconfined: what the file holds may go into a
child's environment. So the file must be the workspace's own, never another
file of the user's that the repository points at:

 - its last component is opened without following a symbolic link
   (C{O_NOFOLLOW}, relative to the workspace directory opened first): a
   C{.env} that links to C{~/.aws/credentials}, or to another project's
   C{.env}, is not read;
 - it is a regular file with no other hard link (a hard link is another
   name of a file elsewhere, which a repository's archive may make);
 - its real path is not on the sandbox's deny list
   (L{mcpgateway.sandbox.defaults.DENY_HOME}: keys, cloud and AI clients'
   credentials...), which no child may read and the gateway reads for none.

A file that breaks one of these is unusable (L{ForeignFile}, saying why in
words that name paths, never what the file holds); the caller counts it as
empty. Blocking (files): call from the config loading thread.
"""

from __future__ import annotations

import errno
import os
import stat

from mcpgateway.sandbox.defaults import DENY_HOME


class ForeignFile(Exception):
    """A workspace's file the gateway does not read for its repository; the
    message says why (paths only), C{stamp} is what C{lstat} says of it
    (C{None}: nothing), so a watcher reads it again only once it changed."""

    def __init__(self, why: str, stamp: os.stat_result | None = None) -> None:
        super().__init__(why)
        self.stamp = stamp


def deniedPath(path: str, home: str) -> str | None:
    """The entry of the sandbox's deny list C{path} (a real path) is, or is
    under, as the list writes it (C{~/.aws}); C{None}: none."""
    for denied in DENY_HOME:
        where = os.path.join(home, denied[2:]) if denied.startswith("~/") else denied
        if path == where or path.startswith(where.rstrip("/") + "/"):
            return denied
    return None


def openWorkspaceFile(path: str, home: str | None = None) -> int:
    """A descriptor of the workspace's file C{path} (read-only, never
    blocking on a FIFO), opened by the rules of the module docstring.

    @param home: the home the deny list is of (default: C{HOME}, else the
        account's).
    @raise FileNotFoundError: there is no such file (nor a link of that name).
    @raise ForeignFile: it is there and may not be read; why.
    @raise OSError: it cannot be opened or looked at (permissions...).
    """
    directory, name = os.path.split(path)
    try:
        st = os.lstat(path)
    except NotADirectoryError:
        raise FileNotFoundError(errno.ENOENT, "no such file", path) from None
    if stat.S_ISLNK(st.st_mode):
        raise ForeignFile(f"a symbolic link to {_target(path)}", st)
    fd = _openNoFollow(directory or ".", name, path)
    try:
        opened = os.fstat(fd)
        if stat.S_ISREG(opened.st_mode) and opened.st_nlink > 1:
            raise ForeignFile(
                f"a file with {opened.st_nlink - 1} other hard link(s), which may be"
                " another file of yours",
                opened,
            )
        real = os.path.join(os.path.realpath(directory or "."), name)
        home = home or os.environ.get("HOME") or os.path.expanduser("~")
        denied = deniedPath(real, os.path.realpath(home))
        if denied is not None:
            raise ForeignFile(f"{real} is on the sandbox's deny list ({denied})", opened)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _openNoFollow(directory: str, name: str, path: str) -> int:
    """C{name} in C{directory} opened without following a link there
    (relative to the directory opened first, where the system allows)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    parent = None
    if os.open in os.supports_dir_fd:
        parent = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if parent is None:
            return os.open(path, flags)
        return os.open(name, flags, dir_fd=parent)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):  # made a link since it was looked at
            raise ForeignFile(f"a symbolic link to {_target(path)}") from None
        raise
    finally:
        if parent is not None:
            os.close(parent)


def _target(path: str) -> str:
    """Where the link C{path} points (as written), or that it cannot be read."""
    try:
        return repr(os.readlink(path))
    except OSError:
        return "somewhere (unreadable)"
