"""The gateway's side of its warden: what it tells the warden, when it
starts it, and the marker every child gets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.warden import MARKER, Warden, wardenCommand
from mcpgateway.ops.wardenfiles import KEY, readKey
from tests.fakes import FakeProcessReactor, fakeSpawner


class Ledger:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def spawned(self, server: str, pid: int) -> None:
        self.events.append((server, pid))

    def exited(self, pid: int) -> None:
        self.events.append(("exited", pid))


def test_the_warden_starts_with_the_first_child_and_hears_of_each() -> None:
    reactor = FakeProcessReactor()
    ledger = Ledger()
    warden = Warden(reactor, ledger, command=["python", "wardenrun.py"])
    assert reactor.processes == []  # nothing spawned before the first child
    warden.spawned("a", 500)
    [process] = reactor.processes
    assert process.args == ["python", "wardenrun.py"]
    name, value = warden.marker
    warden.spawned("b", 501)
    warden.exited(500)
    warden.exited(999)  # not a child it was told of
    told = f'={name}={value}\n+500\n#500 {{"server":"a"}}\n+501\n#501 {{"server":"b"}}\n-500\n'
    assert b"".join(process.written) == told.encode()
    assert ledger.events == [("a", 500), ("b", 501), ("exited", 500), ("exited", 999)]


def test_a_warden_that_ended_starts_again_told_of_every_child() -> None:
    reactor = FakeProcessReactor()
    warden = Warden(reactor, command=["python", "wardenrun.py"])
    warden.spawned("a", 500)
    warden.spawned("a", 501)
    reactor.processes[0].exit(signal=9)
    warden.exited(500)  # no warden to tell
    warden.spawned("a", 502)
    second = reactor.processes[1]
    told = b"".join(second.written).split(b"\n")[1:]
    assert told == [b"+501", b"+502", b'#501 {"server":"a"}', b'#502 {"server":"a"}', b""]


def test_a_warden_that_cannot_start_is_logged_and_tried_again() -> None:
    reactor = FakeProcessReactor()
    reactor.spawnError = OSError("no python")
    warden = Warden(reactor, command=["python", "wardenrun.py"])
    warden.spawned("a", 500)
    warden.exited(500)
    reactor.spawnError = None
    warden.spawned("a", 501)
    assert b"".join(reactor.lastProcess.written).endswith(b'\n+501\n#501 {"server":"a"}\n')


def test_each_gateway_process_has_its_own_marker() -> None:
    reactor = FakeProcessReactor()
    first, second = Warden(reactor), Warden(reactor)
    assert first.marker[0] == second.marker[0] == MARKER
    assert first.marker[1] != second.marker[1]
    assert wardenCommand("py")[:3] == ["py", "-I", "-S"]
    assert wardenCommand("py")[3].endswith("wardenrun.py")


def test_every_child_gets_the_marker() -> None:
    reactor = FakeProcessReactor()
    spawner = fakeSpawner(reactor, environ={"PATH": "/usr/bin"}, marker=("M", "7-ab"))
    spec = ServerSpec(name="s", command="srv", executable="/bin/srv", args=())
    spawner.spawn(spec, lambda m: None, lambda line: None, lambda c: None)
    [(_, _, env, _)] = reactor.spawned
    assert env == {"PATH": "/usr/bin", "M": "7-ab"}


class FakeEnd:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        self.closed = True


class FakeLink:
    """The gateway's end of the warden's link: what was sent on it."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.data = b""
        self.lost = False
        self.protocol: Any = None

    def sendFileDescriptor(self, fd: int) -> None:
        self.fds.append(fd)

    def write(self, data: bytes) -> None:
        self.data += data

    def loseConnection(self) -> None:
        self.lost = True


def keepingWarden(
    keyFile: Path | None = None,
) -> tuple[Warden, FakeProcessReactor, tuple[FakeEnd, FakeEnd], FakeLink]:
    reactor = FakeProcessReactor()
    ends = (FakeEnd(40), FakeEnd(41))
    warden = Warden(
        reactor, command=["py", "w"], keeps=True, socketpair=lambda: ends, keyFile=keyFile
    )
    link = FakeLink()

    def adopt(fd: int, family: int, factory: Any) -> None:
        link.protocol = factory.buildProtocol(None)
        link.protocol.makeConnection(link)

    reactor.adoptStreamConnection = adopt  # type: ignore[method-assign]
    return warden, reactor, ends, link


def isOpen(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_keeping_warden_is_spoken_to_over_a_socket_pair_it_inherits() -> None:
    warden, reactor, ends, link = keepingWarden()
    warden.spawned("a", 500)
    [process] = reactor.processes
    assert process.written == []  # nothing goes to its stdin: its stdin is the socket
    assert all(end.closed for end in ends)  # both ends closed here once passed on
    assert link.data.endswith(b'\n+500\n#500 {"server":"a"}\n')


def test_a_kept_childs_descriptors_go_with_its_record_and_close_once_held() -> None:
    warden, _, _, link = keepingWarden()
    warden.spawned("a", 500)
    copies = tuple(os.dup(0) for _ in range(3))
    assert warden.keep(500, b'{"pid":500}', copies)
    assert link.fds == list(copies) and link.data.endswith(b'*11\n{"pid":500}')
    assert warden.kept == {500} and all(isOpen(fd) for fd in copies)
    link.protocol.dataReceived(b"@500\n")
    assert not any(isOpen(fd) for fd in copies)


def test_a_child_not_running_is_not_kept_and_its_copies_are_closed() -> None:
    warden, _, _, link = keepingWarden()
    warden.spawned("a", 500)
    copies = tuple(os.dup(0) for _ in range(3))
    assert not warden.keep(501, b"{}", copies)
    assert link.fds == [] and not any(isOpen(fd) for fd in copies)


def test_a_child_being_stopped_is_let_go_of_by_the_warden() -> None:
    warden, _, _, link = keepingWarden()
    warden.spawned("a", 500)
    warden.keep(500, b"{}", ())
    warden.stopping(500)
    warden.stopping(500)  # once
    assert link.data.endswith(b"*2\n{}~500\n") and warden.kept == set()


def test_a_warden_that_ended_is_given_the_children_again() -> None:
    warden, reactor, _, link = keepingWarden()
    warden.spawned("a", 500)
    warden.keep(500, b"{}", ())
    reactor.processes[0].exit(signal=9)
    assert link.lost
    link.protocol.connectionLost(None)
    assert warden.kept == set()  # CrashKeeping sends them again to the next warden


def test_the_command_of_a_keeping_warden_says_its_grace_and_socket() -> None:
    command = wardenCommand("py", grace=60, listen="/s/warden.sock")
    assert command[4:] == ["--grace", "60", "--listen", "/s/warden.sock"]
    assert wardenCommand("py", grace=0, listen="/s/warden.sock")[4:] == []
    reporting = wardenCommand("py", grace=0, listen="/s/w.sock", report="/s/report.json")
    assert reporting[4:] == ["--report", "/s/report.json"]


def test_a_keeping_warden_is_told_the_secret_its_state_directory_keeps(tmp_path: Path) -> None:
    previous = tmp_path / KEY
    previous.write_text("before\n")
    assert readKey(tmp_path) == b"before"  # read by the next gateway before its own warden
    warden, _, _, link = keepingWarden(previous)
    warden.spawned("a", 500)
    secret = readKey(tmp_path)
    assert len(secret) == 64 and secret != b"before"
    assert stat.S_IMODE(os.stat(previous).st_mode) == 0o600
    assert b"&" + secret + b"\n" in link.data  # told over the link, never on a command line
    assert readKey(tmp_path / "nowhere") == b""


def test_a_warden_that_keeps_nothing_has_no_secret(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    warden = Warden(reactor, command=["py", "w"], keyFile=tmp_path / KEY)
    warden.spawned("a", 500)
    assert not (tmp_path / KEY).exists()
    assert b"&" not in b"".join(reactor.lastProcess.written)


class HelperLedger(Ledger):
    def helperSpawned(self, server: str, pid: int) -> None:
        self.events.append(("helper " + server, pid))


def test_a_process_started_for_a_child_is_the_wardens_but_never_named_a_child() -> None:
    reactor = FakeProcessReactor()
    ledger = HelperLedger()
    warden = Warden(reactor, ledger, command=["py", "w"])
    spawnedNow: list[bool] = []
    warden.onSpawned = lambda: spawnedNow.append(True)
    warden.helperSpawned("files", 600)  # the warden starts with it
    warden.helperExited(600)
    told = b"".join(reactor.lastProcess.written).split(b"\n")[1:]
    assert told == [b"+600", b'#600 {"server":"files","helper":true}', b"-600", b""]
    assert ledger.events == [("helper files", 600), ("exited", 600)]
    assert spawnedNow == []  # nothing to give the warden: it is no child


def test_a_helper_left_out_of_the_ledger_is_the_wardens_all_the_same() -> None:
    """The sandbox's probe starts with the services, while the ledger is
    still the previous gateway's (its orphans are read from it)."""
    reactor = FakeProcessReactor()
    ledger = HelperLedger()
    warden = Warden(reactor, ledger, command=["py", "w"])
    warden.helperSpawned("sandbox probe", 601, ledger=False)
    warden.helperExited(601)
    told = b"".join(reactor.lastProcess.written).split(b"\n")[1:]
    assert told == [b"+601", b'#601 {"server":"sandbox probe","helper":true}', b"-601", b""]
    assert ledger.events == [("exited", 601)]


def test_the_warden_is_told_why_a_child_is_not_given_once_per_change() -> None:
    reactor = FakeProcessReactor()
    warden = Warden(reactor, command=["py", "w"])
    warden.spawned("a", 500)
    warden.note(500, "a", "it was given secrets")
    warden.note(500, "a", "it was given secrets")
    warden.note(501, "a", "not a child it runs")
    told = b"".join(reactor.lastProcess.written).split(b"\n")
    assert told.count(b'#500 {"server":"a","why":"it was given secrets"}') == 1
    assert not any(line.startswith(b"#501") for line in told)
    reactor.processes[0].exit(signal=9)
    warden.spawned("a", 502)  # a new warden hears the last note of each child
    again = b"".join(reactor.lastProcess.written).split(b"\n")
    assert b'#500 {"server":"a","why":"it was given secrets"}' in again
