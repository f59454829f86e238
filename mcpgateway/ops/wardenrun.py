# -*- test-case-name: tests.ops.test_wardenrun -*-
"""The warden: the one process that outlives its gateway to stop what the
gateway's children left running.

C{python -I -S .../mcpgateway/ops/wardenrun.py}, started by the gateway
(L{mcpgateway.ops.warden}) with a pipe on its stdin. The gateway writes a
line for each child it starts (C{+PID}) and for each that ends (C{-PID}).
The end of its stdin, which the kernel makes when the gateway exits
however it exits (C{SIGKILL} included), means the gateway is gone: the
warden stops every process of the sessions and process groups of the
children still recorded, and every process whose environment holds the
marker the gateway gives each child (its C{=NAME=VALUE} line), but those
of the sessions of the children a restart handed to the next gateway
process (C{!PID}: the next process's warden watches them from then on),
and what runs below those (a sandbox's processes, in a session of their
own):
C{SIGTERM}, then C{SIGKILL} after L{GRACE} seconds, and exits. After a
clean stop it finds what started a session of its own and so escaped
its child's stop.

Every child leads a session and a process group of its own (the
C{setsid} program, or the sandbox launcher), so that pid names all that
the child started except what started a session of its own (a daemon's
double fork): the marker finds those, unless they dropped their
environment; a sandbox's pid namespace ends every one of them with it
(docs/guide/lifecycle.md). A session id stays in use while any process is in
it, so its number is never another's.

With C{--grace SECONDS --listen PATH} (C{--adopt-grace}), its stdin is a
UNIX socket instead, on which the gateway also passes each child's stdin,
stdout and stderr with its record (L{Tally}); once the gateway is gone it
keeps those children that long, listening at C{PATH}, for the next gateway
(L{keepFor}; L{mcpgateway.ops.crashkeep}), and stops the others at once.
It hands them only to a process that proves it is a gateway of the state
directory (L{proven}: the secret the gateway told it, kept in the state
directory), and names the others to it with why (its C{end} record). With
C{--report PATH}, the children no gateway took are written there with why
(L{writeReport}), for the next gateway to name. A recorded pid whose
process has another start time now is another process's: it is never
signalled (L{stillOurs}).

It starts a session of its own, so a signal to the gateway's terminal or
process group does not reach it. Standard library only, no C{site}: it
costs one small process per gateway.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import os
import signal
import socket
import stat
import struct
import sys
import time

TYPE_CHECKING = False  # typing itself is not imported: the warden starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

GRACE = 2.0
"""Seconds between C{SIGTERM} and C{SIGKILL}."""
ADOPTED = b"adopted\n"
"""The next gateway's answer once it holds the children."""
ANSWER_WAIT = 10.0
"""Seconds the next gateway may take to answer once it has the children."""
MAX_RECORD = 16 * 1024 * 1024
"""The longest child record taken, in bytes (as the gateway's codec)."""
PROC = "/proc"
PROOF = b"gateway "
"""How the next gateway's proof line starts: C{gateway <secret>}, the
secret the gateway of this warden wrote in the state directory (L{Tally.secret})."""
STOP = b"stop "
"""How the line of C{mcpgateway stop} starts, in the proof's place: C{stop
<secret>}: the children held for the next gateway stop now (L{StopAsked})."""
STOPPED_BY_STOP = "mcpgateway stop stopped it before a gateway started again"
"""Why the children held for the next gateway were stopped on C{STOP}."""
MAX_PROOF = 256
"""The longest proof line read, in bytes."""
PROOF_WAIT = 2.0
"""Seconds a connection has to send its proof line (the next gateway sends
it at once): a process that connects and says nothing holds the warden up
no longer."""
NOT_GIVEN = "it had not been given to the warden yet (started or initialized in the last second)"
"""Why a child the warden was not given stops at once, when the gateway said no other."""
MAX_NOTE = 512
"""The longest server name or reason kept from a note, in characters."""


def groupsOf(pid: int, procRoot: str = PROC) -> tuple[int, int] | None:
    """The process group and session of C{pid} (fields 5 and 6 of its
    C{stat}), or C{None} when it is gone or a zombie."""
    try:
        with open(os.path.join(procRoot, str(pid), "stat"), "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 1 :].split()
    try:
        if fields[0] in (b"Z", b"X"):
            return None
        return int(fields[2]), int(fields[3])
    except (IndexError, ValueError):
        return None


def startTimeOf(pid: int, procRoot: str = PROC) -> int | None:
    """When C{pid} started (field 22 of its C{stat}), or C{None} when it is gone."""
    try:
        with open(os.path.join(procRoot, str(pid), "stat"), "rb") as f:
            data = f.read()
        return int(data[data.rfind(b")") + 1 :].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def stillOurs(leaders: set[int], starts: dict[int, int], procRoot: str = PROC) -> set[int]:
    """The C{leaders} whose pid was not given to another process since:
    gone (their group and session may still hold what they started; their
    ids are not reused while one does), or running with the start time
    heard when they started. A pid now another process's leads that
    process's group, never one to stop."""
    kept = set()
    for pid in leaders:
        heard = starts.get(pid)
        now = startTimeOf(pid, procRoot) if heard is not None else None
        if heard is None or now is None or now == heard:
            kept.add(pid)
    return kept


def members(leaders: set[int], procRoot: str = PROC) -> list[int]:
    """The live processes whose process group or session is one of
    C{leaders} (never this process)."""
    found = []
    me = os.getpid()
    try:
        names = os.listdir(procRoot)
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        ids = groupsOf(int(name), procRoot)
        if ids is not None and (ids[0] in leaders or ids[1] in leaders):
            found.append(int(name))
    return found


def parentOf(pid: int, procRoot: str = PROC) -> int | None:
    """The parent of C{pid} (field 4 of its C{stat}), or C{None}."""
    try:
        with open(os.path.join(procRoot, str(pid), "stat"), "rb") as f:
            data = f.read()
        return int(data[data.rfind(b")") + 1 :].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(roots: set[int], procRoot: str = PROC) -> set[int]:
    """The live processes below C{roots} (their children, theirs, and so
    on): what a spared child started in a session of its own (bubblewrap's
    sandbox, with C{--new-session}), which its group and session miss."""
    if not roots:
        return set()
    try:
        names = [int(name) for name in os.listdir(procRoot) if name.isdigit()]
    except OSError:
        return set()
    children: dict[int, list[int]] = {}
    for pid in names:
        parent = parentOf(pid, procRoot)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(marker: bytes, procRoot: str = PROC) -> list[int]:
    """The live processes (of this user: others' environments are not
    readable) whose environment holds C{marker} (C{NAME=VALUE}): every
    descendant of the gateway's children that kept the environment it was
    given, whatever session it started."""
    if not marker:
        return []
    found = []
    me = os.getpid()
    needle = b"\0" + marker + b"\0"
    try:
        names = os.listdir(procRoot)
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(os.path.join(procRoot, name, "environ"), "rb") as f:
                environ = b"\0" + f.read() + b"\0"
        except OSError:
            continue
        if needle in environ and groupsOf(int(name), procRoot) is not None:
            found.append(int(name))
    return found


def signalAll(pids: list[int], signum: int, kill: Callable[[int, int], None] = os.kill) -> None:
    """Send C{signum} to each of C{pids}; one that is gone or not ours is skipped."""
    for pid in pids:
        with contextlib.suppress(OSError):
            kill(pid, signum)


def stopAll(
    leaders: set[int],
    marker: bytes = b"",
    procRoot: str = PROC,
    grace: float = GRACE,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    kill: Callable[[int, int], None] = os.kill,
    spared: set[int] | None = None,
    starts: dict[int, int] | None = None,
) -> int:
    """Stop every process of C{leaders}' groups and sessions and every
    process L{marked} with C{marker}: TERM, then KILL to those still there
    after C{grace} seconds, but the processes of C{spared}'s groups and
    sessions and what runs below them (L{descendants}). A leader whose pid
    another process has now (its start time is not the one in C{starts})
    is passed by (L{stillOurs}). How many there were."""
    if starts:
        leaders = stillOurs(leaders, starts, procRoot)

    def left() -> list[int]:
        found = set(members(leaders, procRoot)) | set(marked(marker, procRoot))
        if spared:
            kept = set(members(spared, procRoot))
            found -= kept | descendants(kept | spared, procRoot)
        return sorted(found)

    first = left()
    if not first:
        return 0
    signalAll(first, signal.SIGTERM, kill)
    deadline = monotonic() + grace
    while monotonic() < deadline:
        if not left():
            return len(first)
        sleep(0.05)
    signalAll(left(), signal.SIGKILL, kill)
    return len(first)


def follow(lines: Iterable[bytes], leaders: set[int], spared: set[int] | None = None) -> bytes:
    """Keep C{leaders} in step with the gateway's C{+PID}/C{-PID} lines, and
    C{spared} with its C{!PID} lines (a child handed to the next gateway
    process); the marker its C{=NAME=VALUE} line named (the variable every
    child gets)."""
    tally = Tally(leaders, spared if spared is not None else set())
    for raw in lines:
        tally.line(raw)
    return tally.marker


class Tally:
    """What the gateway told its warden: the children running (C{leaders}),
    those handed to a restart's next process (C{spared}), the marker, and,
    with C{--adopt-grace}, the children it may hand to the next gateway
    after a crash (C{held}: each one's record and its stdin, stdout and
    stderr, which the warden holds and never reads).

    Its input is lines, and C{*SIZE} lines followed by C{SIZE} bytes of a
    child's record (JSON with its C{pid}), whose descriptors came with them
    (L{feed}). A C{~PID} line lets go of a held child's descriptors (the
    gateway is stopping it: it must see its stdin end), as C{-PID} and
    C{!PID} do. Each record held is answered C{@PID} (L{answers}): the
    gateway then closes its copies of the descriptors.

    A C{&SECRET} line is the secret the next gateway proves itself with
    (L{proven}); a C{#PID JSON} line notes what C{PID} is (C{{"server",
    "why"}}: why the gateway does not give it to the warden; C{"helper":
    true}: a process started on a child's behalf, such as a package
    install, never named as a child). Each C{+PID}'s start time is read
    as it is heard (L{starts}): what tells it from a process its pid is
    given to later.
    """

    def __init__(
        self,
        leaders: set[int] | None = None,
        spared: set[int] | None = None,
        close: Callable[[int], None] = os.close,
        procRoot: str = PROC,
    ) -> None:
        self.leaders = leaders if leaders is not None else set()
        self.spared = spared if spared is not None else set()
        self.marker = b""
        self.secret = b""
        self.reported = False
        """Whether the next gateway was told which children stopped, and why."""
        self.atOnce: list[dict[str, object]] | None = None
        """The children stopped as soon as the gateway was gone (those it
        had not given the warden), with why; C{None}: none was stopped so."""
        self.stoppedWhy = ""
        """Why the children held for the next gateway were stopped before
        the grace ran out (L{StopAsked}); C{""}: they were not."""
        self.notes: dict[int, dict[str, object]] = {}
        self.starts: dict[int, int] = {}
        self._procRoot = procRoot
        self.held: dict[int, tuple[bytes, list[int]]] = {}
        self.answers: list[bytes] = []
        self._close = close
        self._buffer = b""
        self._fds: list[int] = []
        self._body: int | None = None

    def feed(self, data: bytes, fds: Iterable[int] = ()) -> None:
        """Bytes of the gateway's link and the descriptors that came with them."""
        self._fds.extend(fds)
        self._buffer += data
        while True:
            if self._body is not None:
                if len(self._buffer) < self._body:
                    return
                body, self._buffer = self._buffer[: self._body], self._buffer[self._body :]
                self._body = None
                self._record(body)
                continue
            line, newline, rest = self._buffer.partition(b"\n")
            if not newline:
                self._buffer = self._buffer[-MAX_RECORD:]
                return
            self._buffer = rest
            if line[:1] == b"*" and line[1:].isdigit() and int(line[1:]) <= MAX_RECORD:
                self._body = int(line[1:])
            else:
                self.line(line)

    def line(self, raw: bytes) -> None:
        line = raw.strip()
        if line[:1] == b"=" and b"=" in line[1:]:
            self.marker = line[1:]
            return
        if line[:1] == b"&":
            self.secret = line[1:]
            return
        if line[:1] == b"#":
            self.note(line[1:])
            return
        if len(line) < 2 or line[:1] not in (b"+", b"-", b"!", b"~") or not line[1:].isdigit():
            return
        pid = int(line[1:])
        kind = line[:1]
        if kind == b"+":
            self.leaders.add(pid)
            started = startTimeOf(pid, self._procRoot)
            if started is not None:
                self.starts[pid] = started
            return
        self.release(pid)
        if kind == b"!":
            self.leaders.discard(pid)
            self.spared.add(pid)
        elif kind == b"-":
            self.leaders.discard(pid)
            self.notes.pop(pid, None)
            self.starts.pop(pid, None)

    def note(self, text: bytes) -> None:
        """A C{#PID JSON} line's C{PID JSON}: what the gateway says of C{PID}."""
        number, _, body = text.partition(b" ")
        if not number.isdigit():
            return
        try:
            said = json.loads(body)
        except ValueError:
            return
        if not isinstance(said, dict):
            return
        note: dict[str, object] = {}
        for key in ("server", "why"):
            if isinstance(said.get(key), str):
                note[key] = said[key][:MAX_NOTE]
        if said.get("helper") is True:
            note["helper"] = True
        self.notes[int(number)] = note

    def stopped(self, pids: Iterable[int], why: str = "") -> list[dict[str, object]]:
        """The children of C{pids} (helpers left out) as the next gateway
        names them among those started anew: C{{"pid", "server", "why"}},
        C{why} unless the gateway said why."""
        out: list[dict[str, object]] = []
        for pid in sorted(pids):
            note = self.notes.get(pid, {})
            if note.get("helper"):
                continue
            reason = why or note.get("why") or NOT_GIVEN
            out.append({"pid": pid, "server": note.get("server", "?"), "why": reason})
        return out

    def _record(self, body: bytes) -> None:
        import json

        try:
            record = json.loads(body)
            pid, count = record["pid"], record["fds"]
        except (ValueError, TypeError, KeyError):
            pid, count = None, None
        if type(count) is not int or not 0 <= count <= len(self._fds):
            count = len(self._fds)  # not a record it can trust: its descriptors go
        fds, self._fds = self._fds[:count], self._fds[count:]
        if type(pid) is not int or pid <= 0 or pid not in self.leaders or count != 3:
            self._closeAll(fds)
            return
        self.release(pid)
        self.held[pid] = (body, fds)
        self.answers.append(b"@%d\n" % pid)

    def release(self, pid: int) -> None:
        """Let go of C{pid}'s descriptors, if held."""
        held = self.held.pop(pid, None)
        if held is not None:
            self._closeAll(held[1])

    def releaseAll(self) -> None:
        for pid in list(self.held):
            self.release(pid)
        self._closeAll(self._fds)
        self._fds = []

    def _closeAll(self, fds: Iterable[int]) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                self._close(fd)


def say(text: str) -> None:
    """A line on stderr (the gateway's log while it lives; nowhere after)."""
    try:
        sys.stderr.write(f"mcpgateway warden: {text}\n")
        sys.stderr.flush()
    except OSError:
        pass


def frame(body: bytes) -> bytes:
    """One record as the gateway's hand-over codec reads it: its length,
    then its JSON (L{mcpgateway.core.handedchild.encodeRecord})."""
    return len(body).to_bytes(4, "big") + body


def listenAt(path: str) -> socket.socket:
    """A UNIX socket listening at C{path}, mode 0600 (a stale socket there
    is removed first).

    @raise OSError: it cannot be made."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)
    try:
        server.bind(path)
    except OSError:
        server.close()
        raise
    finally:
        os.umask(mask)
    os.chmod(path, 0o600)
    server.listen(4)
    return server


def peerUid(conn: socket.socket) -> int:
    """The uid of the process at the other end of C{conn} (C{SO_PEERCRED})."""
    size = struct.calcsize("3i")
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
    return int(uid)


def handTo(
    conn: socket.socket,
    held: dict[int, tuple[bytes, list[int]]],
    left: int,
    stopped: list[dict[str, object]] | None = None,
) -> bool:
    """Send the C{held} children over C{conn} (each record with its
    descriptors, then an C{end} record that counts the C{left} children
    stopped at once and names C{stopped} with why); whether the next
    gateway answered C{adopted}."""
    for body, fds in held.values():
        data = frame(body)
        socket.send_fds(conn, [data[:4]], fds)
        conn.sendall(data[4:])
    end = {"kind": "end", "left": left, "stopped": stopped or [], "fds": 0}
    conn.sendall(frame(json.dumps(end, separators=(",", ":")).encode()))
    answer = b""
    while ADOPTED not in answer:
        chunk = conn.recv(64)
        if not chunk:
            return False
        answer = (answer + chunk)[-64:]
    return True


class StopAsked(Exception):
    """C{mcpgateway stop} proved itself (L{STOP}): the children held stop now."""


def proven(conn: socket.socket, secret: bytes) -> bool:
    """Whether the process at the other end of C{conn} proves it is a
    gateway of this state directory: its first line is L{PROOF} and the
    C{secret} this warden's gateway wrote there (mode 0600, masked for
    every confined child), compared in constant time. Without a secret,
    no process proves anything.

    @raise StopAsked: the line is L{STOP} and the secret: C{mcpgateway
        stop}, which reads the state directory as a gateway does.
    """
    line = b""
    while not line.endswith(b"\n") and len(line) < MAX_PROOF:
        chunk = conn.recv(1)  # a byte at a time: nothing after the line is taken
        if not chunk:
            return False
        line += chunk
    given = line.partition(b"\n")[0]
    if secret and given.startswith(STOP) and hmac.compare_digest(given[len(STOP) :], secret):
        raise StopAsked()
    if not secret or not given.startswith(PROOF):
        return False
    return hmac.compare_digest(given[len(PROOF) :], secret)


def offer(
    server: socket.socket,
    held: dict[int, tuple[bytes, list[int]]],
    grace: float,
    left: int,
    monotonic: Callable[[], float] = time.monotonic,
    secret: bytes = b"",
    stopped: list[dict[str, object]] | None = None,
) -> set[int]:
    """Wait up to C{grace} seconds on C{server} for the next gateway (of
    the same user, proving it with C{secret}: L{proven}), and hand it the
    C{held} children; the pids it took (none: it did not come, or did not
    answer).

    @raise StopAsked: C{mcpgateway stop} asked for them to stop now.
    """
    deadline = monotonic() + grace
    while True:
        remaining = deadline - monotonic()
        if remaining <= 0:
            return set()
        server.settimeout(remaining)
        try:
            conn, _ = server.accept()
        except TimeoutError:
            return set()
        except OSError:
            continue
        with conn:
            try:
                if peerUid(conn) != os.getuid():
                    say("refused a connection of another user")
                    continue
                conn.settimeout(min(PROOF_WAIT, max(remaining, 0.1)))
                if not proven(conn, secret):
                    say("refused a connection that did not prove it is this gateway's successor")
                    continue
                conn.settimeout(max(ANSWER_WAIT, remaining))
                if handTo(conn, held, left, stopped):
                    return set(held)
            except OSError as e:
                say(f"the next gateway's connection failed ({e}); waiting on")


def readLink(tally: Tally, fd: int = 0) -> None:
    """Follow the gateway's link, a UNIX socket on C{fd}, to its end;
    answer each child record it holds (C{@PID})."""
    link = socket.socket(fileno=os.dup(fd))
    try:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(link, 65536, 16)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data and not fds:
                return
            tally.feed(data, fds)
            if tally.answers:
                answers, tally.answers = b"".join(tally.answers), []
                with contextlib.suppress(OSError):
                    link.sendall(answers)
    finally:
        link.close()


def arguments(argv: list[str]) -> tuple[float, str, str]:
    """C{--grace SECONDS}, C{--listen PATH} and C{--report PATH} (0, C{""}
    and C{""} when absent or bad)."""
    grace, path, report = 0.0, "", ""
    for name, value in itertools.pairwise(argv):
        if name == "--grace":
            with contextlib.suppress(ValueError):
                grace = max(0.0, float(value))
        elif name == "--listen":
            path = value
        elif name == "--report":
            report = value
    return grace, path, report


def keepFor(tally: Tally, grace: float, path: str) -> set[int]:
    """After the gateway's end: hold its kept children up to C{grace}
    seconds for the next gateway (listening at C{path}) and stop the others
    meanwhile; the pids the next gateway took."""
    running = stillOurs(set(tally.held), tally.starts)
    held = {pid: h for pid, h in tally.held.items() if pid in running and groupsOf(pid) is not None}
    for pid in set(tally.held) - set(held):
        tally.release(pid)
    if grace <= 0 or not held or not path:
        return set()
    try:
        server = listenAt(path)
    except OSError as e:
        say(f"cannot listen at {path} ({e}): the children stop now")
        return set()
    try:
        say(f"the gateway is gone: keeping {len(held)} child(ren) {grace:g} s for the next one")
        others = tally.leaders - set(held)
        stopped = tally.stopped(p for p in others if groupsOf(p) is not None)
        tally.atOnce = stopped
        stopAll(others, tally.marker, spared=tally.spared | set(held), starts=tally.starts)
        try:
            taken = offer(server, held, grace, len(stopped), secret=tally.secret, stopped=stopped)
        except StopAsked:
            say(f"mcpgateway stop: the {len(held)} child(ren) kept for the next gateway stop now")
            tally.stoppedWhy = STOPPED_BY_STOP
            return set()
        if taken:
            say(f"handed {len(taken)} child(ren) to the next gateway")
            tally.reported = True  # the next gateway was told of the others
        return taken
    finally:
        server.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def writeReport(path: str, stopped: list[dict[str, object]]) -> None:
    """Leave at C{path} (mode 0600, written whole or not at all) the
    children this warden stopped with no gateway to take them, each with
    why: the next gateway names them among those started anew."""
    if not path or not stopped:
        return
    body = json.dumps({"stopped": stopped}, separators=(",", ":")).encode()
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(temp, path)
    except OSError as e:
        say(f"cannot write {path} ({e})")
        with contextlib.suppress(OSError):
            os.unlink(temp)


def leftWithoutTaker(tally: Tally, grace: float, procRoot: str = PROC) -> list[dict[str, object]]:
    """The children still running that no gateway took: those held through
    the grace, and those the warden was not given (each with why)."""
    ours = stillOurs(tally.leaders, tally.starts, procRoot)
    running = [pid for pid in ours if groupsOf(pid, procRoot) is not None]
    held = [pid for pid in running if pid in tally.held]
    if tally.stoppedWhy:
        why = tally.stoppedWhy
    elif grace > 0:
        why = f"no gateway started on its state directory within the {grace:g} s grace"
        why += " (--adopt-grace)"
    else:
        why = "--adopt-grace is 0: the children stop with the gateway"
    out = tally.stopped(held, why)
    if tally.atOnce is not None:
        return out + tally.atOnce
    others = (pid for pid in running if pid not in tally.held)
    return out + tally.stopped(others, "" if grace > 0 else why)


def main(argv: list[str] | None = None) -> int:
    """Follow the gateway until its link or pipe ends, keep its children
    for the next gateway if asked to (C{--grace}), then stop what is left,
    and say which children no gateway took, and why (C{--report})."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if os.getpgid(0) != os.getpid():
        os.setsid()
    grace, path, report = arguments(sys.argv[1:] if argv is None else argv)
    tally = Tally()
    if stat.S_ISSOCK(os.fstat(0).st_mode):
        readLink(tally)
    else:
        for line in iter(sys.stdin.buffer.readline, b""):
            tally.line(line)
    taken = keepFor(tally, grace, path)
    if not tally.reported:
        writeReport(report, leftWithoutTaker(tally, grace))
    tally.releaseAll()
    leaders = tally.leaders - taken
    stopped = stopAll(leaders, tally.marker, spared=tally.spared | taken, starts=tally.starts)
    if stopped:
        say(f"the gateway is gone: stopped {stopped} process(es) its children left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
