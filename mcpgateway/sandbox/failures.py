# -*- test-case-name: tests.sandbox.test_failures -*-
"""A child's failure that its sandbox caused, told in one line a person can
act on: what was denied, and the profile key that allows it (or that
nothing does).

L{explain} reads one line a confined child wrote (on its stderr, or in a
tool call's error result: L{mcpgateway.core.refusals}): the launcher's own
(C{mcpgateway sandbox: ...}), bubblewrap's (C{bwrap: ...}), a denied path
as Node.js (C{EACCES: permission denied, open '/x'}), Python
(C{PermissionError: [Errno 13] Permission denied: '/x'}) and C programs
(C{/x: Read-only file system}) write it, a name that does not resolve or
a network that is unreachable in a sandbox without network, a fork
refused at the process limit. The gateway logs the line once per child
and adds it to the child's exit reason (the server's status and the
error its callers get).

Each fix is one that works (L{mcpgateway.sandbox.layout}'s masks):

 - a path of the system's deny list (L{defaults.DENY_SYSTEM}: C{/etc/shadow},
   the host keys) or of the gateway's state directory is never shown:
   nothing lifts it, and the line says so;
 - a path of the home's deny list (L{defaults.DENY_HOME}) is shown only to
   a server whose C{allowRead} or C{allowWrite} names that entry itself
   (C{~/.ssh}): the line names it;
 - a refused write (C{EROFS}, or an operation or words that write) is
   allowed by C{allowWrite}, a refused read by C{allowRead}; one in a
   C{.git} or a client's settings (L{mcpgateway.sandbox.workspaceseal})
   is said to be kept from a repository's server on purpose, and lifted
   by an approved C{allowWrite} of that entry;
 - a data file its entry names directly in the home (or another folder
   never shown whole) is shown on its own (L{mcpgateway.sandbox.datafiles}):
   a rename onto it (C{EBUSY}), a file made beside it, or SQLite's
   C{attempt to write a readonly database} there, is fixed by a folder of
   the data's own, named as the entry names the file; never the home;
 - a name that does not resolve names its host when the error does, else
   says to add the host the server needs;
 - a socket refused as a family under Landlock is a UNIX socket of a
   server with network (Chromium's, as it starts: bubblewrap runs it, and
   Landlock without network; C{"syscalls": "unfiltered"} lifts the
   filter) or an IP socket of one without (its C{allowedDomains}); a
   refused C{connect} of a Landlock child without network is the
   filter's (Playwright's to its own browser socket); a socket path too
   long for its address is one in a Landlock child's deep C{TMPDIR};
 - a container runtime's client (C{docker run}, C{podman run}) that finds
   no socket is told that its container confines it, and that C{"sandbox":
   false} runs the client unconfined (no socket is ever shown to a
   confined child: it would start any container, the home mounted in it).

A file not found outside the home may be hidden by the sandbox or may not
exist at all: L{unseenPath} finds it in a line, for the caller to check on
this machine (L{unseenNote} then tells it). Pure: no file is read here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from mcpgateway.sandbox import datafiles, defaults, workspaceseal
from mcpgateway.sandbox.commandline import DATA_SUFFIXES
from mcpgateway.sandbox.places import wide

# The launcher's own words (L{mcpgateway.sandbox.launch}, a program of its
# own, which the gateway does not load); tests/sandbox/test_failures.py
# holds them the launcher's.
PREFIX = "mcpgateway sandbox: "
"""How the launcher's own lines on stderr start."""
NOT_SHOWN = "not shown: "
"""Begins the launcher's line saying what of its entry the one path rule
kept from a child: it runs without it."""
NOTE = "note: "
"""Begins the launcher's line that only tells what it did: nothing to explain."""
SOCKET_ONLY = (
    "its allow list's proxy is a socket only a bubblewrap sandbox reaches: under Landlock"
    " the server runs without network"
)
NO_LIBSECCOMP = (
    "libseccomp is not installed (the libseccomp2 package): under Landlock the server's"
    " files are confined, but not its UNIX sockets (an ssh-agent, D-Bus, the Docker socket),"
    " UDP and IP protocols other than TCP, nor the system calls the filter refuses"
)

_NODE = re.compile(r"\b(EACCES|EPERM|EROFS|ENOENT): [^,]*, (\w+) '([^']+)'")
_PYTHON = re.compile(r"\[Errno (13|1|30|2)\] [^:]*: '([^']+)'")
_C = re.compile(
    r"'?(/[^\s:'\"]+)'?: (Permission denied|Read-only file system|No such file or directory)"
)
_NETWORK = re.compile(
    r"getaddrinfo (?:EAI_AGAIN|ENOTFOUND) (\S+)|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|ENETUNREACH|No address associated"
    r"|Could not resolve host|no such host"
    r"|Failed to fetch robots\.txt \S+ due to a connection issue"
)
_HOST = re.compile(
    r"getaddrinfo (?:EAI_AGAIN|ENOTFOUND) ([^\s'\",)]+)"
    r"|host='([^']+)'"
    r"|Failed to resolve '([^']+)'"
    r"|Could not resolve host: ([^\s'\",)]+)"
    r"|lookup ([^\s:'\"]+)(?: on \S+)?: "
    r"|https?://([^/\s:'\"@]+)"
)
"""Where the common clients name the host they could not resolve: Node.js,
urllib3 (requests), curl, Go; else the first URL of the line (the fetch
server's own words: C{Failed to fetch robots.txt URL due to a connection
issue}, C{Failed to fetch URL: ConnectError(...)})."""
_NAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_ADDRESS = re.compile(r"[0-9.]+|.*:.*")
_FORK = re.compile(
    r"(?:fork|spawn|clone|start new thread)[^\n]*(?:EAGAIN|Resource temporarily unavailable)"
    r"|(?:EAGAIN|Resource temporarily unavailable)[^\n]*(?:fork|spawn|clone|thread)"
)
_BWRAP_PATH = re.compile(
    r"^(?:Can't (?:mkdir|mkdir parents for|create file at|bind mount|find source path|chdir to"
    r"|remount|mount tmpfs on|create tmp dir|stat|open|write to)|Failed to mkdir|Failed to"
    r" bind)\s+(/[^:]*)"
)
"""Bubblewrap's words for a path of the layout it could not make (not a
namespace it was refused): the path, for the hint."""
_TEMPORARY = re.compile(r"(?:\.tmp|\.[0-9a-f]{8,}(?:\.tmp)?|~)$|^\.?#|\.swp$", re.IGNORECASE)
"""A temporary file's name (C{memory.jsonl.<hex>.tmp}): written, then
renamed over its target, so its folder must be writable."""
_ERRNO = {"13": "EACCES", "1": "EPERM", "30": "EROFS", "2": "ENOENT"}
_WRITES = frozenset(
    {
        "mkdir",
        "mkdtemp",
        "rmdir",
        "unlink",
        "rename",
        "write",
        "copyfile",
        "symlink",
        "link",
        "utime",
        "futime",
        "chmod",
        "chown",
        "lchown",
        "truncate",
        "ftruncate",
        "rm",
        "cp",
    }
)
"""Node.js's operations (the word before the path) that change a file."""
_WRITE_WORDS = re.compile(
    r"\b(?:writ(?:e|es|ing|ten)|creat(?:e|es|ing)|mkdir|touch|append(?:s|ing)?|sav(?:e|es|ing)"
    r"|renam(?:e|es|ing)|remov(?:e|es|ing)|delet(?:e|es|ing)|unlink(?:s|ing)?)\b",
    re.IGNORECASE,
)
"""Words before a refused path that say a write was refused (C{cannot
create}, C{Error writing file}, C{touch: cannot touch})."""
_RUNTIME_SOCKET = re.compile(
    r"Cannot connect to the Docker daemon at (unix://\S+?)\.?(?:\s|$)"
    r"|Cannot connect to Podman\b.*?(unix://[^\s\"',?]+)"
    r"|unable to connect to Podman socket"
)
"""What a container runtime's client says when its socket is not there:
Docker's, Podman's (the address it tried, where it names one)."""
_FAMILY = re.compile(r"Address family not supported by protocol|\bEAFNOSUPPORT\b")
"""A socket refused as a family: under Landlock, the system-call filter's
answer to a UNIX socket of a child with network, or to an IP socket of
one without (L{mcpgateway.sandbox.seccomp.socketRules})."""
UNIX_REFUSED = (
    "under Landlock a server with network gets no UNIX socket (it could reach an ssh-agent,"
    " the Docker socket), and this one asked for one (Chromium does as it starts): bubblewrap"
    ' runs it, and "sandbox": {"syscalls": "unfiltered"} with only its files confined'
    " (without network Landlock runs Chromium, not Playwright)"
)
"""What a refused UNIX socket of a Landlock child with network is told:
short, for the 400 characters C{status} and C{doctor} print of a line."""
_REFUSED_CONNECT = re.compile(r"\bECONNREFUSED\b|Connection refused")
"""A refused C{connect}: under Landlock without network, the system-call
filter's answer to every one (a UNIX socket's: no IP socket is left)."""
UNIX_CONNECT = (
    "under Landlock a server without network connects to no UNIX socket, its own included"
    " (Playwright connects to its browser's): bubblewrap runs it, and"
    ' "sandbox": {"syscalls": "unfiltered"} with only its files confined'
)
_LONG_SOCKET = re.compile(r"Socket path too long: /")
"""Chromium's words for a single-instance socket path past the 107 bytes
of a UNIX socket's address: it makes it in its C{TMPDIR}."""
DEEP_TMP = (
    "a UNIX socket's path in this child's TMPDIR is over 107 bytes (Chromium makes its"
    " single-instance socket there): under Landlock TMPDIR is"
    " <state-dir>/sandbox/<server>/tmp/<pid>; a shorter server name or state directory"
    " (MCPGATEWAY_HOME) fits"
)
IP_REFUSED = (
    "under Landlock the sandbox gives a server without network no IP socket: allow the"
    ' hosts it needs with "sandbox": {"network": {"allowedDomains": [...]}}'
)
_OWN = ("/dev", "/proc", "/sys")
"""A child's own directories, never the host's: what it does not find
there is not the sandbox's doing."""
_BUSY_RENAME = re.compile(
    r"\bEBUSY: [^,]*, rename '([^']+)' -> '([^']+)'"
    r"|\[Errno 16\] [^:]*: '([^']+)' -> '([^']+)'"
    r"|cannot move '([^']+)' to '([^']+)': Device or resource busy"
    r"|\brename (/\S+) (/\S+): device or resource busy"
)
"""A rename onto a mount point, refused (C{EBUSY}): in a sandbox, onto a
file bound on its own. Node.js's, Python's, C{mv}'s and Go's words, each
naming the file renamed and the one it was to replace."""
_READONLY_DATABASE = re.compile(r"attempt to write a readonly database", re.IGNORECASE)
"""SQLite's words for a database it cannot write: the file is read-only,
or the journal it makes beside it cannot be made (its folder refuses it)."""


KEPT_FROM_IT = "the sandbox kept a path its entry names from it: "
"""Begins what L{explain} says of a path the one path rule kept from a
child: it runs without it (a refusal of its entry, not of a call)."""


def explain(
    line: str,
    network: str,
    home: str,
    stateDir: str,
    mechanism: str | None = None,
    alone: Mapping[str, str] | None = None,
    server: str = "",
) -> str | None:
    """What in C{line} the sandbox refused, and how to allow it; C{None}
    when the line says nothing of the sort.

    @param network: the child's network (C{"none"}: a name that does not
        resolve is the sandbox's doing; C{"proxy"}: its allow list's proxy,
        which a client that does not resolve a name ignored).
    @param home: its home directory (hidden, but for what it may use).
    @param stateDir: the gateway's state directory (never shown).
    @param mechanism: what confines it (C{"landlock"}: a socket refused as
        a family is the system-call filter's doing), if known.
    @param alone: the data files its entry names where the sandbox shows
        them on their own, each with what names it
        (L{datafiles.entryFiles}): a rename onto one, a file made beside
        it, a database there that SQLite cannot write, is told with its fix.
    @param server: its server's name, for the folder that fix names.
    """
    if line.startswith((PREFIX, "bwrap: ")):
        return _ownWords(line)
    alone = alone or {}
    shownAlone = _shownAlone(line, home, stateDir, alone, server)
    if shownAlone is not None:
        return shownAlone
    denied = _deniedPath(line)
    if denied is not None:
        code, operation, path, start = denied
        writes = code == "EROFS" or _writes(line[:start], operation)
        beside = _beside(code, path, home, stateDir, alone, server)
        return beside or _pathNote(code, path, home, stateDir, writes)
    if network in ("none", "proxy") and _NETWORK.search(line):
        host = hostOf(line)
        if network == "proxy":
            return (
                "the sandbox reaches the network only through the gateway's proxy"
                + (f" (it tried {host} without it)" if host else "")
                + ": its client ignores HTTP(S)_PROXY (docs/guide/sandbox.md, the network)"
            )
        if host is not None:
            return (
                f"the sandbox has no network (it tried {host}): allow it with"
                f' "sandbox": {{"network": {{"allowedDomains": {json.dumps([host])}}}}}'
            )
        return (
            "the sandbox has no network: add the host it needs to"
            ' "sandbox": {"network": {"allowedDomains": [...]}} (its error does not name'
            ' it; "sandbox": "learn" records the hosts it asks for)'
        )
    if mechanism == "landlock" and _FAMILY.search(line):
        return IP_REFUSED if network == "none" else UNIX_REFUSED
    if mechanism == "landlock" and network == "none" and _REFUSED_CONNECT.search(line):
        return UNIX_CONNECT
    if mechanism == "landlock" and _LONG_SOCKET.search(line):
        return DEEP_TMP
    runtime = _RUNTIME_SOCKET.search(line)
    if runtime is not None:
        socket = runtime.group(1) or runtime.group(2)
        return (
            "the sandbox shows no container runtime's socket"
            + (f" (it tried {socket})" if socket else "")
            + ': a server run in a container ("docker run", "podman run") is confined by'
            ' its container, and "sandbox": false in its entry runs the client unconfined'
            " (it may then start any container: docs/guide/sandbox.md, servers run in a"
            " container)"
        )
    if _FORK.search(line):
        return (
            "it reached the sandbox's process limit: raise it with"
            f' "sandbox": {{"limits": {{"processes": {defaults.PROCESSES * 2}}}}}'
        )
    return None


def _ownWords(line: str) -> str | None:
    """A line of the launcher's own (L{PREFIX}) or of bubblewrap's: what it
    could not do, or the warning it gave; C{None}: a note of what it did."""
    if line.startswith(PREFIX):
        said = line[len(PREFIX) :].strip()
        if said in (SOCKET_ONLY, NO_LIBSECCOMP):  # it runs: a warning, not a failure
            return f"the sandbox runs it with less than asked: {said}"
        if said.startswith(NOT_SHOWN):  # the one path rule: it runs without that path
            return KEPT_FROM_IT + said[len(NOT_SHOWN) :]
        if said.startswith(NOTE):  # what it did: the child's log line says it
            return None
        if said.startswith(datafiles.ALONE):  # it runs: a warning of what may fail
            return said[len(datafiles.ALONE) :]
        return (
            f"the sandbox could not start it: {said}"
            ' ("sandbox": false in its entry runs it unconfined)'
        )
    said = line[len("bwrap: ") :].strip()
    mount = _BWRAP_PATH.search(said)
    if mount is not None:  # bubblewrap works here: this child's layout did not
        return (
            f"bubblewrap could not make this child's view: {said} (`mcpgateway sandbox"
            f" show NAME` prints what it binds and masks; {mount.group(1)} is the path"
            ' in question; "sandbox": false in its entry runs it unconfined)'
        )
    return (
        f"bubblewrap could not start it: {said}"
        ' (`mcpgateway sandbox check` says why; --sandbox off, or "sandbox": false in its'
        " entry, runs it unconfined)"
    )


def _shownAlone(
    line: str, home: str, stateDir: str, alone: Mapping[str, str], server: str
) -> str | None:
    """A rename onto a file bound on its own (C{EBUSY}), or a database
    of the entry's shown on its own that SQLite cannot write: what
    happened, and the folder of its own that fixes it."""
    busy = _BUSY_RENAME.search(line)
    if busy is not None:
        target = os.path.normpath(next(g for g in busy.groups()[1::2] if g))
        folder = os.path.dirname(target)
        happened = (
            "the server's rename of a file onto it was refused (a file shown on its own"
            " cannot be replaced)"
        )
        if wide(folder, home, stateDir) and folder != "/":
            return datafiles.aloneNote(target, alone.get(target), home, server, happened)
        return (
            f"the sandbox shows {_shown(target, home)} on its own, not its folder: {happened};"
            f" allow the folder with {_allow(_shown(folder, home), True)}"
        )
    if _READONLY_DATABASE.search(line):
        for path, how in alone.items():
            if path.endswith(DATA_SUFFIXES):
                happened = "SQLite cannot write the database there, nor make its journal beside it"
                return datafiles.aloneNote(path, how, home, server, happened)
    return None


def _beside(
    code: str,
    path: str,
    home: str,
    stateDir: str,
    alone: Mapping[str, str],
    server: str,
) -> str | None:
    """A file refused directly in a folder never shown whole (Landlock's
    C{EACCES}): a temporary file, or one named after a data file shown on
    its own there (its journal), which the server makes beside that data."""
    folder = os.path.dirname(path)
    if code == "ENOENT" or folder in ("/", stateDir) or path in alone:
        return None
    if not wide(folder, home, stateDir):
        return None
    name = os.path.basename(path)
    target = next(
        (p for p in alone if os.path.dirname(p) == folder and name.startswith(os.path.basename(p))),
        None,
    )
    if target is None and not _TEMPORARY.search(name):
        return None
    happened = (
        f"the server could not make {_shown(path, home)} beside it (that folder is not its"
        " to write)"
    )
    if target is not None:
        return datafiles.aloneNote(target, alone[target], home, server, happened)
    where = "your home" if folder == home.rstrip("/") else folder
    return (
        f"the sandbox never lets a server make files directly in {where}: it could not make"
        f" {_shown(path, home)} (a file written, then renamed onto its data); give its data a"
        f" folder of its own, such as {datafiles.dataFolder(home, server)}/"
    )


def hostOf(line: str) -> str | None:
    """The host name a failed name resolution in C{line} names (C{None}:
    none, or an address: C{allowedDomains} takes names)."""
    match = _HOST.search(line)
    if match is None:
        return None
    host = next((group for group in match.groups() if group), "").rstrip(".").lower()
    if not _NAME.fullmatch(host) or _ADDRESS.fullmatch(host) or len(host) > 253:
        return None
    return host


def deniedPath(line: str) -> str | None:
    """The path of a refused file access in C{line}, as the child wrote it
    (C{None}: none): what a refusal is known by, once per path."""
    denied = _deniedPath(line)
    return None if denied is None else denied[2]


def _deniedPath(line: str) -> tuple[str, str, str, int] | None:
    """The error code, operation, path and where the error starts in
    C{line}, of a refused file access."""
    match = _NODE.search(line)
    if match is not None:
        return match.group(1), match.group(2), match.group(3), match.start()
    match = _PYTHON.search(line)
    if match is not None:
        return _ERRNO[match.group(1)], "", match.group(2), match.start()
    match = _C.search(line)
    if match is not None:
        code = {"Read-only file system": "EROFS", "No such file or directory": "ENOENT"}
        return code.get(match.group(2), "EACCES"), "", match.group(1), match.start()
    return None


def _writes(before: str, operation: str) -> bool:
    """Whether the refused access was a write: Node.js's operation says
    so, or the words before the error do."""
    return operation in _WRITES or _WRITE_WORDS.search(before) is not None


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def _pathNote(code: str, path: str, home: str, stateDir: str, writes: bool) -> str | None:
    shown = _shown(path, home)
    installs = [f"{stateDir.rstrip('/')}/{folder}" for folder in defaults.STATE_INSTALLS]
    written = writes or _TEMPORARY.search(os.path.basename(path)) is not None  # Landlock: EACCES
    if written and stateDir and any(_under(path, folder) for folder in installs):
        return (
            f"the sandbox lets a child write in the package it runs ({shown}) only when"
            " everyone who calls its server shares that child: that code runs in every child"
            " of the server; name a place for its data in its entry (a variable such as"
            " MEMORY_FILE_PATH, docs/guide/sandbox.md), which its children then share"
        )
    if stateDir and _under(path, stateDir):
        return (
            f"the sandbox never shows a server the gateway's state directory ({shown}):"
            " nothing allows it"
        )
    for entry in defaults.DENY_SYSTEM:
        if _under(path, entry):
            return (
                f"the sandbox never shows {shown} (a system secret on its deny list, readable"
                " by root alone): nothing allows it"
            )
    for entry in defaults.DENY_HOME:
        full = home.rstrip("/") + entry[1:]
        if _under(path, full):
            key = "allowWrite" if writes else "allowRead"
            return (
                f"the sandbox hides {shown} (its deny list has {entry}): naming that entry"
                f' itself lifts the mask for this server: "sandbox": {{"filesystem":'
                f' {{"{key}": ["{entry}"]}}}}'
            )
    if code == "ENOENT":
        if not (home not in ("", "/") and _under(path, home)):
            return None  # a file that does not exist, sandbox or not: see unseenPath
        return (
            f"{shown} is not visible in the sandbox (the home directory is hidden):"
            f" allow it with {_allow(shown, writes)}"
        )
    temporary = _TEMPORARY.search(os.path.basename(path))
    sealed = _sealedEntry(shown) if writes or temporary else None
    if sealed is not None:
        return (
            f"the sandbox keeps {sealed} read-only for a repository's own server ({shown}):"
            " git or a client runs what it holds as you, outside any sandbox; a server that"
            f" must write it asks with {_allow(sealed, True)} in its entry, which takes your"
            " approval (mcpgateway sandbox approve)"
        )
    if writes or temporary:  # a temporary file beside its target is made, then renamed
        where = os.path.dirname(shown) if temporary else shown
        return f"the sandbox denied writing {shown}: allow it with {_allow(where, True)}"
    return (
        f"the sandbox denied reading {shown}: allow it with {_allow(shown, False)}"
        " (allowWrite if it writes there)"
    )


def _sealedEntry(shown: str) -> str | None:
    """The C{.git}, or the client's settings entry, that C{shown} is or lies
    in (L{mcpgateway.sandbox.workspaceseal}), as shown; C{None}: none."""
    parts = shown.split("/")
    for index, part in enumerate(parts):
        if part == ".git" or part in workspaceseal.SETTINGS:
            return "/".join(parts[: index + 1])
    return None


def _allow(shown: str, writes: bool) -> str:
    key = "allowWrite" if writes else "allowRead"
    return f'"sandbox": {{"filesystem": {{"{key}": {json.dumps([shown])}}}}}'


def unseenPath(line: str, home: str) -> tuple[str, bool] | None:
    """A file C{line} says was not found, outside the home: its absolute
    path, and whether it was to be written. The sandbox hid it if it (or,
    for a write, its directory) exists on this machine, which the caller
    checks off the reactor (L{unseenNote} then tells it); C{None}: no such
    file in C{line}, or one the sandbox never hides (its own C{/dev},
    C{/proc}, C{/sys}) or hides for sure (the home: L{explain} tells it)."""
    denied = _deniedPath(line)
    if denied is None:
        return None
    code, operation, path, start = denied
    if code != "ENOENT" or not path.startswith("/") or "\0" in path:
        return None
    path = os.path.normpath(path)
    if (home not in ("", "/") and _under(path, home)) or any(_under(path, d) for d in _OWN):
        return None
    return path, _writes(line[:start], operation)


def unseenNote(path: str, writes: bool, found: str, home: str) -> str:
    """The line for a file not found in the sandbox that exists on this
    machine (L{unseenPath}): C{found} is the path itself, or its directory
    (a file the child meant to make there)."""
    shown = _shown(path, home)
    if found == path:
        return (
            f"{shown} exists on this machine but not in the sandbox: allow it with"
            f" {_allow(shown, writes)}"
        )
    directory = _shown(found, home)
    return (
        f"{directory}, where it would make {shown}, exists on this machine but not in the"
        f" sandbox: allow it with {_allow(directory, True)}"
    )


_shown = datafiles.shownPath
