"""The gateway's side of its warden: what it tells the warden, when it
starts it, and the marker every child gets."""

from __future__ import annotations

from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.warden import MARKER, Warden, wardenCommand
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
    assert b"".join(process.written) == f"={name}={value}\n+500\n+501\n-500\n".encode()
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
    assert b"".join(second.written).split(b"\n")[1:] == [b"+501", b"+502", b""]


def test_a_warden_that_cannot_start_is_logged_and_tried_again() -> None:
    reactor = FakeProcessReactor()
    reactor.spawnError = OSError("no python")
    warden = Warden(reactor, command=["python", "wardenrun.py"])
    warden.spawned("a", 500)
    warden.exited(500)
    reactor.spawnError = None
    warden.spawned("a", 501)
    assert b"".join(reactor.lastProcess.written).endswith(b"\n+501\n")


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
