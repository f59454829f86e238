# -*- test-case-name: tests.sandbox.test_bwrap, tests.sandbox.test_workspaceseal -*-
"""Bubblewrap's command line for a L{mcpgateway.sandbox.layout.Layout}.

The order of the mounts is the order of precedence: the system first,
then the child's private directories, the soft masks (C{/var/log} shown
empty), its own paths and the directories holding a mask shown as a
C{tmpfs} of their entries (L{mcpgateway.sandbox.maskparents}), parents
before what they hold (so a C{denyWrite} inside a writable path stays
read-only), then the masks
(the deny lists, the state directory, the other servers' directories:
after every bind, so no bind can show them), then what is bound again
over a mask (the child's own install in the state directory). A writable
folder holding a name the child may not make (L{Layout.sealed}: a
repository's workspace) is bound read-only, and each of its entries
writable over it: a new entry there fails, nothing is made on the host,
and what is there is written in place. The empty
directories of the soft masks and the masks are made read-only last:
bubblewrap makes the mount points of what is bound inside them (a
reopened install, an argument under C{/var/log}) while they can still be
written.

Inside a directory shown as a C{tmpfs} of its entries, what would be an
empty C{tmpfs} of its own (a directory below it shown so too, a soft mask,
a masked directory) is a folder of that C{tmpfs}, made read-only with it,
and its system bind (C{/etc}) is left out, the C{tmpfs} in its place:
every mount costs bubblewrap a read of the whole mount table
(L{mcpgateway.sandbox.maskparents}).

The namespaces: its own pids (its C{/proc} shows only them, and every
process it starts ends with it), IPC, UTS and cgroup view, a user
namespace (unprivileged: required; as root: tried, and every capability
dropped), and its own network unless the profile shares the host's:
with L{NETWORK_NONE} the child has a loopback nobody else listens on.
The network allow-list proxy adds its socket, its forwarder, its
variables and C{--unshare-net} through L{NetworkPlan}: its mounts come
last, so no private directory or mask hides them.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox import packagecopy, workspaceseal
from mcpgateway.sandbox.layout import Layout
from mcpgateway.sandbox.places import under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mcpgateway.sandbox.maskparents import Copy

NETWORK_NONE = "none"
MASK = "0000"
"""A masked directory's mode: an empty directory no one may list or enter."""
MASK_PASSABLE = "0111"
"""A masked directory that holds a path bound again (the child's own
install in the state directory): entered on the way there, never listed."""

NAMESPACES = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
)
LIFETIME = ("--new-session",)
"""A session of its own, so nothing in it can push input into a terminal."""
DIE_WITH_PARENT = ("--die-with-parent",)
"""The sandbox dies with its launcher's parent (the gateway process): when
no warden guards the children (L{mcpgateway.ops.warden}). With a warden
the sandbox outlives the gateway process, so a restart can hand it over,
and runs without L{LIFETIME} too: every process of it stays in the
launcher's session and process group (which has no terminal: the
launcher started it), so the gateway's stop and the warden, which signal
that group, reach the namespace's init, whose end ends the sandbox."""
STDOUT_FD = 9
"""Where the launcher hands the child's stdout to bubblewrap (L{STDOUT_HANDOVER})."""
STDOUT_HANDOVER = ("/bin/sh", "-c", f'exec 1>&{STDOUT_FD} {STDOUT_FD}>&-; exec "$@"', "sh")
"""What runs the child's command in the sandbox: its stdout back on fd 1
from L{STDOUT_FD}. Bubblewrap's own processes (the one outside and the
namespace's init) keep fds 0 to 2 and close every other, so with their
fd 1 on C{/dev/null} and the pipe on fd 9 only the child holds its stdout:
a child that closes it is seen at once, as an unconfined one is. (The
shell's redirections take one digit: fd 9.)"""


class NetworkPlan:
    """The network part of a sandbox's command line: what the allow-list
    proxy changes (C{--unshare-net}, the bind of its socket and of its
    forwarder, C{HTTP(S)_PROXY} in the environment)."""

    def __init__(
        self,
        mode: str,
        binds: tuple[tuple[str, str], ...] = (),
        environment: tuple[tuple[str, str], ...] = (),
        readOnly: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.mode = mode
        self.binds = binds
        """C{(source, path)}: the proxy's socket, bound into the sandbox."""
        self.environment = environment
        """Variables set in the sandbox (C{HTTPS_PROXY} pointing at the socket's bridge)."""
        self.readOnly = readOnly
        """C{(source, path)}: what runs the forwarder, bound read-only."""

    def arguments(self) -> list[str]:
        """The namespace and the variables (before the mounts)."""
        out = ["--unshare-net"] if self.mode == NETWORK_NONE else []
        for name, value in self.environment:
            out += ["--setenv", name, value]
        return out

    def mounts(self) -> list[str]:
        """The binds (after every other mount)."""
        out: list[str] = []
        for source, path in self.readOnly:
            out += ["--ro-bind", source, path]
        for source, path in self.binds:
            out += ["--bind", source, path]
        return out


def arguments(
    layout: Layout,
    root: bool,
    disableUserns: bool = False,
    network: NetworkPlan | None = None,
    seccomp: int | None = None,
    dieWithParent: bool = True,
    copies: Mapping[str, Copy | None] | None = None,
) -> list[str]:
    """Bubblewrap's options (the command follows them after C{--}).

    @param root: the gateway runs as root: a user namespace is tried, not
        required, and every capability is dropped.
    @param disableUserns: this bubblewrap can forbid the child further user
        namespaces (0.8 and later; needs the user namespace itself).
    @param seccomp: an inherited fd holding the compiled system-call filter
        (L{mcpgateway.sandbox.seccomp.program}): bubblewrap reads it, closes
        it, and loads it after its mounts, just before it runs the command.
    @param dieWithParent: L{DIE_WITH_PARENT}.
    @param copies: what bubblewrap makes in the directories shown as a
        C{tmpfs} of their entries instead of a bind (the files copied, the
        small folders made): C{{path: Copy}}, C{None} for a file gone since
        it was listed, not shown (L{mcpgateway.sandbox.maskparents.copies},
        given the paths of L{mounted}).
    """
    out = [*NAMESPACES, *((*DIE_WITH_PARENT, *LIFETIME) if dieWithParent else ())]
    if seccomp is not None:
        out += ["--seccomp", str(seccomp)]
    if root:
        out += ["--unshare-user-try", "--cap-drop", "ALL"]
    else:
        out += ["--unshare-user"]
        if disableUserns:
            out += ["--disable-userns"]
    plan = network or NetworkPlan(layout.network)
    out += plan.arguments()
    presented = {path for path, _, _, _ in layout.presented}
    folder = _folderOfTmpfs(layout)
    for kind, source, path in layout.system:
        if kind == "symlink":
            out += ["--symlink", source, path]
        elif path not in presented:  # else a tmpfs of its own, made among the binds
            out += ["--ro-bind", source, path]
    out += ["--proc", "/proc", "--dev", "/dev"]
    readOnlyLater: list[str] = []  # an empty directory is made read-only once it is filled
    for _, _, words in sorted(_binds(layout, readOnlyLater, copies or {})):
        out += words
    for path in layout.placeholders:
        out += ["--ro-bind", "/dev/null", path]
    reopened = [path for path, _ in layout.reopened]
    for path, directory in _maskedAtEveryName(layout):
        empty = (copies or {}).get(path)
        if directory:
            holds = any(under(inner, path) and inner != path for inner in reopened)
            perms = MASK_PASSABLE if holds else MASK
            if folder(path):
                out += ["--perms", perms, "--dir", path]
            else:
                out += ["--perms", perms, "--tmpfs", path]
                readOnlyLater.append(path)
        elif empty is not None and folder(path):  # a file of that tmpfs (L{emptied}): no mount
            out += ["--perms", MASK, "--file", str(empty[0]), path]
        else:
            out += ["--ro-bind", "/dev/null", path]
    for path, writable in layout.reopened:
        out += ["--bind" if writable else "--ro-bind", path, path]
    if layout.packageCopy is not None:  # the child's own copy, over the install's package
        copy, package = layout.packageCopy
        out += ["--bind", copy, package]
        dependencies = os.path.join(package, packagecopy.DEPENDENCIES)
        if os.path.isdir(dependencies):
            out += ["--ro-bind", dependencies, dependencies]
    for path in readOnlyLater:
        out += ["--remount-ro", path]
    out += plan.mounts()
    if layout.cwdMade:
        out += ["--dir", layout.cwd]
    out += ["--chdir", layout.cwd]
    return out


Mount = tuple[int, tuple[str, int], list[str]]
"""A bind in the order of L{_binds}: its depth, C{(path, rank)}, its words."""


def _binds(
    layout: Layout, readOnlyLater: list[str], copies: Mapping[str, Copy | None]
) -> list[Mount]:
    """The child's private directories, the soft masks, its own binds and
    the directories shown as a C{tmpfs} of their entries
    (L{mcpgateway.sandbox.maskparents}), each with its place in the order:
    parents before what they hold; at one path an entry's bind, an empty
    directory, a bind read-only, one writable, a C{tmpfs} of entries. An
    entry that a mount of the layout's own makes (a bind of the child's, a
    directory shown as a C{tmpfs} itself, C{/var/tmp}) is made by that
    mount alone, inside the C{tmpfs}: never on the host's entry."""
    out: list[Mount] = []
    made: set[str] = set()
    presented = {path for path, _, _, _ in layout.presented}
    folder = _folderOfTmpfs(layout)
    for soft, listed in ((False, layout.private), (True, layout.soft)):
        for path in listed:
            made.add(path)
            if soft and folder(path):
                out.append((path.count("/"), (path, 0), ["--dir", path]))
                continue
            out.append((path.count("/"), (path, 0), ["--tmpfs", path]))
            if soft or path in layout.sealedPrivate:
                readOnlyLater.append(path)
    holders = _holders(layout)
    for writable, binds in ((False, _atEveryName(layout)), (True, layout.writable)):
        for source, path in binds:
            made.add(path)
            if writable and path in holders:
                out.append((path.count("/"), (path, 1), ["--ro-bind", source, path]))
                continue
            words = ["--bind" if writable else "--ro-bind", source, path]
            out.append((path.count("/"), (path, 1 + int(writable)), words))
    for holder, (held, names) in holders.items():
        for name in names:
            inside = os.path.join(holder, name)
            if inside not in made:  # a read-only entry (a .git) is bound so by itself
                words = ["--bind-try", os.path.join(held, name), inside]
                out.append((inside.count("/"), (inside, 2), words))
    made.update(presented)
    for path, source, mode, entries in layout.presented:
        depth = path.count("/")
        if folder(path):
            out.append((depth, (path, 3), ["--perms", f"{mode:04o}", "--dir", path]))
        else:
            out.append((depth, (path, 3), ["--perms", f"{mode:04o}", "--tmpfs", path]))
            readOnlyLater.append(path)
        for name, link in entries:
            inside = os.path.join(path, name)
            if inside in made or inside in copies:
                continue
            if link:
                words = ["--symlink", link, inside]
            else:
                words = ["--ro-bind-try", os.path.join(source, name), inside]
            out.append((depth + 1, (inside, -1), words))
    masked = {path for path, _ in layout.masked}
    for inside, copied in copies.items():
        if copied is None or inside in made or inside in masked:
            continue  # gone since it was listed, or a mask: made after every bind
        fd, perms, link = copied
        if link:
            words = ["--symlink", link, inside]
        elif fd < 0:
            words = ["--perms", f"{perms:04o}", "--dir", inside]
        else:
            words = ["--perms", f"{perms:04o}", "--file", str(fd), inside]
        out.append((inside.count("/"), (inside, -1), words))
    return out


def _otherNames(layout: Layout, path: str) -> list[str]:
    """The other names a bind shows C{path} by: a workspace bound at its
    real path and at the symlinked name its entry gave shows what it holds
    twice, and a read-only path or a mask in it must be so at both."""
    return [
        os.path.join(name, os.path.relpath(path, source))
        for source, name in (*layout.readOnly, *layout.writable)
        if name != source and source != path and under(path, source)
    ]


def _atEveryName(layout: Layout) -> list[tuple[str, str]]:
    """The layout's read-only binds, each also at its other names (L{_otherNames})."""
    return [
        (source, name)
        for source, path in layout.readOnly
        for name in dict.fromkeys((path, *_otherNames(layout, source)))
    ]


def _maskedAtEveryName(layout: Layout) -> list[tuple[str, bool]]:
    """The layout's masks, each also at its other names (L{_otherNames})."""
    return [
        (name, directory)
        for path, directory in layout.masked
        for name in dict.fromkeys((path, *_otherNames(layout, path)))
    ]


def _holders(layout: Layout) -> dict[str, tuple[str, list[str]]]:
    """C{{path: (source, entries)}}: each writable bind of a folder that
    holds a name the child may not make (L{Layout.sealed}), at each name it
    is bound at, with the names of its entries bound writable over it again
    (not a symbolic link: the child follows it to what it names, shown or
    not by binds of its own). Read as the launcher starts the child: an
    entry made later is read-only, one removed since is passed by
    (C{--bind-try}); those past L{workspaceseal.TOP_ENTRIES_MOST} stay
    read-only (the layout's notes say so)."""
    parents = {os.path.dirname(path) for path in layout.sealed}
    out: dict[str, tuple[str, list[str]]] = {}
    for source, path in layout.writable:
        if source not in parents:
            continue
        try:
            with os.scandir(source) as found:
                names = sorted(e.name for e in found if not e.is_symlink())
        except OSError:
            names = []
        out[path] = (source, names[: workspaceseal.TOP_ENTRIES_MOST])
    return out


def _folderOfTmpfs(layout: Layout) -> Callable[[str], bool]:
    """Whether what bubblewrap makes empty at a path (a directory shown as
    a C{tmpfs} of its entries, a soft mask, a masked directory) is a folder
    of the C{tmpfs} of the directory holding it, read-only with it, not a
    C{tmpfs} of its own: where that directory is shown as one and nothing
    else is mounted at the path (over a bind, a folder would be the host's
    directory, its mask no mask)."""
    presented = {path for path, _, _, _ in layout.presented}
    mounts = {path for kind, _, path in layout.system if kind != "symlink"}
    mounts.update(path for _, path in (*layout.readOnly, *layout.writable))
    mounts.update(layout.private, layout.placeholders)

    def folder(path: str) -> bool:
        return os.path.dirname(path) in presented and path not in mounts

    return folder


def emptied(layout: Layout) -> list[str]:
    """The masked files made as empty files of a C{tmpfs} of entries, mode
    L{MASK} (no one may read or write them, as a bind of C{/dev/null}
    refuses them: C{nodev}), where nothing else is mounted at their path:
    bubblewrap copies each from an fd of C{/dev/null} the launcher opens
    (L{mcpgateway.sandbox.maskparents.copies}), no mount."""
    folder = _folderOfTmpfs(layout)
    return [path for path, directory in layout.masked if not directory and folder(path)]


def mounted(layout: Layout, network: NetworkPlan | None = None) -> set[str]:
    """The paths the command line mounts or makes besides the entries of
    the directories shown as a C{tmpfs}: none of those is made there as a
    copy (L{mcpgateway.sandbox.maskparents.copies}), nor any folder
    holding one (bubblewrap would write the copy into that mount)."""
    plan = network or NetworkPlan(layout.network)
    out = {path for _, _, path in layout.system}
    out.update(layout.private, layout.soft, layout.placeholders)
    out.update(path for _, path in (*_atEveryName(layout), *layout.writable))
    for holder, (_, entries) in _holders(layout).items():
        out.update(os.path.join(holder, name) for name in entries)
    out.update(path for path, _ in (*_maskedAtEveryName(layout), *layout.reopened))
    if layout.packageCopy is not None:
        out.add(layout.packageCopy[1])
    out.update(path for path, _, _, _ in layout.presented)
    out.update(path for _, path in (*plan.readOnly, *plan.binds))
    if layout.cwdMade:
        out.add(layout.cwd)
    return out


def command(
    bwrap: str,
    layout: Layout,
    argv: list[str],
    root: bool,
    disableUserns: bool = False,
    network: NetworkPlan | None = None,
    seccomp: int | None = None,
    dieWithParent: bool = True,
    copies: Mapping[str, Copy | None] | None = None,
    more: Sequence[str] = (),
) -> list[str]:
    """The whole command line: C{bwrap}, its options and C{more} (made on
    the sandbox's own root once the rest is in place), C{--}, C{argv}."""
    options = arguments(layout, root, disableUserns, network, seccomp, dieWithParent, copies)
    return [bwrap, *options, *more, "--", *argv]
