# -*- test-case-name: tests.sandbox.test_learnrecord -*-
"""What a learning server used, read back from its records
(L{mcpgateway.sandbox.learnrun}): the paths of its C{strace} record and
the hosts of its proxy's.

The record is outside input (the server could write into it, and a line
may be cut by the cap or garbled by two processes writing at once), so
reading it is bounded and forgiving: each file is read up to
L{learnrun.CAP} bytes, at most L{MAX_FILES} files, L{MAX_PATHS} distinct
paths kept; a line that does not parse is skipped, never an error.

A line of C{strace -f -y} is C{PID NAME(ARGS) = RESULT}; a call another
process interrupted is C{PID NAME(ARGS <unfinished ...>}, then
C{PID <... NAME resumed>ARGS) = RESULT} (joined here by pid). A path is a
C string (C{"..."} with C{\\"}, C{\\\\}, C{\\n}, octal and hex escapes); a
descriptor is shown with its path (C{AT_FDCWD</work>}, C{3</usr/lib>}),
which resolves a relative path.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field

from mcpgateway.sandbox import learnrun

MAX_FILES = 16
MAX_PATHS = 65536
"""Distinct paths kept from one server's records."""
MAX_PENDING = 4096
"""Unfinished calls waiting for their other half."""
MAX_LINE = 65536

WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")

PATH_ARGS: dict[str, tuple[tuple[int | None, int], ...]] = {
    "open": ((None, 0),),
    "creat": ((None, 0),),
    "openat": ((0, 1),),
    "openat2": ((0, 1),),
    "execve": ((None, 0),),
    "execveat": ((0, 1),),
    "stat": ((None, 0),),
    "lstat": ((None, 0),),
    "newfstatat": ((0, 1),),
    "statx": ((0, 1),),
    "access": ((None, 0),),
    "faccessat": ((0, 1),),
    "faccessat2": ((0, 1),),
    "readlink": ((None, 0),),
    "readlinkat": ((0, 1),),
    "mkdir": ((None, 0),),
    "mkdirat": ((0, 1),),
    "unlink": ((None, 0),),
    "unlinkat": ((0, 1),),
    "rmdir": ((None, 0),),
    "rename": ((None, 0), (None, 1)),
    "renameat": ((0, 1), (2, 3)),
    "renameat2": ((0, 1), (2, 3)),
    "link": ((None, 0), (None, 1)),
    "linkat": ((0, 1), (2, 3)),
    "symlink": ((None, 1),),
    "symlinkat": ((1, 2),),
    "truncate": ((None, 0),),
    "chmod": ((None, 0),),
    "fchmodat": ((0, 1),),
    "chown": ((None, 0),),
    "lchown": ((None, 0),),
    "fchownat": ((0, 1),),
    "mknod": ((None, 0),),
    "mknodat": ((0, 1),),
    "utimes": ((None, 0),),
    "utimensat": ((0, 1),),
    "futimesat": ((0, 1),),
}
"""Per system call: its path arguments, each C{(directory argument or
None, path argument)} by position."""
WRITES = frozenset(
    {
        "creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "rename", "renameat",
        "renameat2", "link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat",
        "chown", "lchown", "fchownat", "mknod", "mknodat", "utimes", "utimensat", "futimesat",
    }
)  # fmt: skip
"""Calls that change what their path names (C{open}'s by its flags)."""
OPENS = frozenset({"open", "openat", "openat2"})

_HEAD = re.compile(r"\s*(\d+)\s+(.*)\Z", re.S | re.A)
_CALL = re.compile(r"([a-z_0-9]+)\((.*)\Z", re.S | re.A)
_RESUMED = re.compile(r"<\.\.\. ([a-z_0-9]+) resumed>(.*)\Z", re.S | re.A)
_RESULT = re.compile(
    r"\)\s+=\s+(-?\d+|\?|0x[0-9a-f]+)(?:<[^\n]*?>)?(?:\s+([A-Z][A-Z0-9_]*))?", re.A
)
_PORT = re.compile(r"sin6?_port=htons\((\d{1,5})\)", re.A)
_ADDR4 = re.compile(r'sin_addr=inet_addr\("([0-9.]+)"\)')
_ADDR6 = re.compile(r'inet_pton\(AF_INET6,\s*"([0-9a-fA-F:.]+)"')
UNFINISHED = " <unfinished ...>"


@dataclass(frozen=True)
class Access:
    """One use of a path: C{error} the errno's name (C{None}: it worked)."""

    path: str
    write: bool
    error: str | None = None
    mkdir: bool = False
    """It made a directory there (C{mkdir})."""


@dataclass(frozen=True)
class Connection:
    """A direct C{connect} to an internet address (not through the proxy)."""

    host: str
    port: int
    error: str | None = None


Event = Access | Connection


@dataclass
class Records:
    """What one server's records hold.

    @ivar accesses: each distinct use of a path (at most L{MAX_PATHS}).
    @ivar connections: the direct connections it tried.
    @ivar hosts: C{(host, port, outcome)} its proxy recorded (C{asked},
        or C{local}: it resolved to a local address).
    @ivar traces: how many starts were recorded by C{strace}.
    @ivar straced: paths were recorded (C{False}: C{strace} was missing).
    @ivar truncated: a record reached its cap, or a limit here was hit.
    """

    accesses: set[Access] = field(default_factory=set)
    connections: set[Connection] = field(default_factory=set)
    hosts: set[tuple[str, int, str]] = field(default_factory=set)
    traces: int = 0
    straced: bool = True
    truncated: bool = False

    def add(self, event: Event) -> None:
        if isinstance(event, Connection):
            if len(self.connections) < MAX_PATHS:
                self.connections.add(event)
        elif len(self.accesses) < MAX_PATHS:
            self.accesses.add(event)
        else:
            self.truncated = True


def unescape(text: str) -> str | None:
    """A C string's body as strace prints it, decoded (bytes beyond UTF-8
    as surrogate escapes, as C{os.fsdecode} does); C{None}: not one."""
    out = bytearray()
    i, n = 0, len(text)
    simple = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, '"': 34, "\\": 92}
    while i < n:
        c = text[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= n:
            return None
        e = text[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x":
            digits = text[i + 2 : i + 4]
            if len(digits) != 2 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                return None
            out.append(int(digits, 16))
            i += 4
        elif e in "01234567":
            j = i + 1
            while j < n and j < i + 4 and text[j] in "01234567":
                j += 1
            value = int(text[i + 1 : j], 8)
            if value > 255:
                return None
            out.append(value)
            i = j
        else:
            return None
    return os.fsdecode(bytes(out))


def splitArguments(text: str) -> list[str] | None:
    """The top-level arguments of a call (its text after C{(}, through the
    C{)} that closes it); C{None}: unbalanced."""
    closing = _closing(text)
    if closing is None:
        return None
    args: list[str] = []
    depth, start, i = 0, 0, 0
    while i < closing:
        c = text[i]
        if c == '"':
            i = _skip(text, i + 1, '"')
        elif c == "<" and _annotated(text, i):
            i = _skip(text, i + 1, ">")
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    args.append(text[start:closing].strip())
    return [] if args == [""] else args


def _annotated(text: str, at: int) -> bool:
    """Whether the C{<} at C{at} opens a descriptor's path (C{3<...>},
    C{AT_FDCWD<...>})."""
    return at > 0 and (text[at - 1].isdigit() or text[at - 1] == "D")


def _skip(text: str, i: int, end: str) -> int:
    """Where the C{end} closing a quoted run starting at C{i} is (escapes
    skipped); C{len(text)} when it is never closed."""
    n = len(text)
    while i < n and text[i] != end:
        i += 2 if text[i] == "\\" else 1
    return min(i, n)


def _string(argument: str) -> str | None:
    """A path argument's value: a whole C string, not cut short (C{"..."...})."""
    if len(argument) < 2 or not argument.startswith('"') or not argument.endswith('"'):
        return None
    return unescape(argument[1:-1])


def _directory(argument: str) -> str | None:
    """The path a descriptor argument is shown with (C{AT_FDCWD</x>},
    C{3</x>}), or C{None}."""
    at = argument.find("<")
    if at < 0 or not argument.endswith(">"):
        return None
    shown = unescape(argument[at + 1 : -1])
    return shown if shown is not None and shown.startswith("/") else None


def _result(rest: str) -> tuple[bool, str | None] | None:
    """Whether a call worked and its errno's name, from the text after its
    arguments; C{None}: no result (cut short)."""
    found = _RESULT.search(rest)
    if found is None:
        return None
    value, errno = found.group(1), found.group(2)
    if value.startswith("-"):
        return False, errno or "EUNKNOWN"
    return True, None


def _closing(text: str) -> int | None:
    """Where the C{)} closing a call's arguments is in C{text}; C{None}:
    unbalanced or cut short."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip(text, i + 1, '"')
            if i >= n:
                return None
        elif c == "<" and _annotated(text, i):
            i = _skip(text, i + 1, ">")
            if i >= n:
                return None
        elif c in "([{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth < 0:
                return None
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return None


def parseCall(name: str, text: str) -> list[Event]:
    """The uses of paths (or the connection) of one whole call: C{name}
    and the text after its C{(}."""
    args = splitArguments(text)
    closing = _closing(text)
    outcome = None if closing is None else _result(text[closing:])
    if args is None or outcome is None:
        return []
    _, errno = outcome
    if name == "connect":
        return _connection(args, errno)
    spots = PATH_ARGS.get(name)
    if spots is None:
        return []
    write = name in WRITES
    if name in OPENS or name == "creat":
        flags = " ".join(args[1:] if name == "open" else args[2:])
        write = write or any(flag in flags for flag in WRITE_FLAGS)
    events: list[Event] = []
    for dirIndex, pathIndex in spots:
        if pathIndex >= len(args):
            continue
        path = _string(args[pathIndex])
        if not path:
            continue
        if not path.startswith("/"):
            base = _directory(args[dirIndex]) if dirIndex is not None else None
            if base is None:
                continue
            path = posixpath.join(base, path)
        made = name in ("mkdir", "mkdirat")
        events.append(Access(posixpath.normpath(path).replace("//", "/"), write, errno, made))
    return events


def _connection(args: list[str], errno: str | None) -> list[Event]:
    if len(args) < 2:
        return []
    address = args[1]
    port = _PORT.search(address)
    host = _ADDR4.search(address) or _ADDR6.search(address)
    if port is None or host is None:
        return []
    return [Connection(host.group(1), int(port.group(1)), errno)]


class TraceReader:
    """Reads one C{strace} record line by line, joining the halves of an
    interrupted call by pid."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, str]] = {}

    def line(self, raw: str) -> list[Event]:
        """The events of one line (none for a line that does not parse)."""
        if len(raw) > MAX_LINE:
            return []
        head = _HEAD.match(raw.rstrip("\n"))
        if head is None:
            return []
        pid, body = head.group(1), head.group(2)
        resumed = _RESUMED.match(body)
        if resumed is not None:
            waiting = self.pending.pop(pid, None)
            if waiting is None or waiting[0] != resumed.group(1):
                return []
            return parseCall(waiting[0], waiting[1] + resumed.group(2))
        call = _CALL.match(body)
        if call is None:
            return []
        name, rest = call.group(1), call.group(2)
        if rest.endswith(UNFINISHED):
            if len(self.pending) < MAX_PENDING:
                self.pending[pid] = (name, rest[: -len(UNFINISHED)])
            return []
        return parseCall(name, rest)


def parseText(text: str) -> list[Event]:
    """Every event of a record's text."""
    reader = TraceReader()
    out: list[Event] = []
    for raw in text.splitlines():
        out.extend(reader.line(raw))
    return out


def parseHosts(text: str) -> set[tuple[str, int, str]]:
    """The proxy's record: C{host port outcome} lines (others skipped)."""
    out: set[tuple[str, int, str]] = set()
    for raw in text.splitlines()[: learnrun.MAX_HOST_LINES]:
        parts = raw.split()
        if (
            len(parts) == 3
            and parts[1].isascii()
            and parts[1].isdigit()
            and parts[2] in ("asked", "local")
            and 0 < int(parts[1]) < 65536
            and len(parts[0]) <= 253
        ):
            out.add((parts[0], int(parts[1]), parts[2]))
    return out


def _readCapped(path: str, cap: int) -> tuple[str, bool]:
    """At most C{cap} bytes of C{path} as text, and whether there was more."""
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", "surrogateescape"), len(data) > cap


def read(directory: str) -> Records:
    """The records of one server's learn directory (empty when it has none)."""
    records = Records()
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return records
    records.straced = learnrun.NO_STRACE not in names
    traces = [n for n in names if n.startswith(learnrun.TRACE_PREFIX)][-MAX_FILES:]
    for name in traces:
        try:
            text, more = _readCapped(os.path.join(directory, name), learnrun.CAP)
        except OSError:
            continue
        records.traces += 1
        records.truncated = records.truncated or more or len(text) >= learnrun.CAP
        for event in parseText(text):
            records.add(event)
    if learnrun.HOSTS_FILE in names:
        try:
            text, _ = _readCapped(os.path.join(directory, learnrun.HOSTS_FILE), 1 << 20)
        except OSError:
            text = ""
        records.hosts = parseHosts(text)
    return records
