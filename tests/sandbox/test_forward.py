"""The forwarder inside a sandbox: each connection carried to the proxy's
socket and back, each direction's buffer bounded, ends passed on."""

from __future__ import annotations

import socket

import pytest

from mcpgateway.sandbox import forward
from mcpgateway.sandbox.forward import LIMIT, Splice


class FakeSide:
    """A socket's recv/send/shutdown/close, scripted."""

    def __init__(self, incoming: list[bytes] | None = None, room: int = 1 << 30) -> None:
        self.incoming = incoming or []
        self.room = room
        self.sent = b""
        self.shutdowns: list[int] = []
        self.closed = False

    def recv(self, size: int) -> bytes:
        if not self.incoming:
            raise BlockingIOError
        data = self.incoming.pop(0)
        if len(data) > size:
            self.incoming.insert(0, data[size:])
        return data[:size]

    def send(self, data: bytes) -> int:
        if self.room == 0:
            raise BlockingIOError
        taken = data[: self.room]
        self.room -= len(taken)
        self.sent += taken
        return len(taken)

    def shutdown(self, how: int) -> None:
        self.shutdowns.append(how)

    def close(self) -> None:
        self.closed = True


def test_bytes_go_both_ways() -> None:
    a, b = FakeSide([b"request"]), FakeSide([b"reply"])
    splice = Splice(a, b)
    assert splice.wants(a) == (True, False)
    splice.readable(a)
    assert splice.wants(b) == (True, True)
    splice.writable(b)
    splice.readable(b)
    splice.writable(a)
    assert (b.sent, a.sent) == (b"request", b"reply")


def test_a_side_is_not_read_while_its_peer_falls_behind() -> None:
    a, b = FakeSide([b"x" * LIMIT]), FakeSide(room=0)
    splice = Splice(a, b)
    splice.readable(a)
    splice.readable(a)
    splice.readable(a)
    splice.readable(a)
    assert splice.wants(a)[0] is False  # LIMIT buffered for b: a waits
    b.room = 100
    splice.writable(b)
    assert splice.wants(a)[0] is True and b.sent == b"x" * 100


def test_an_end_is_passed_on_once_flushed_and_both_ends_close() -> None:
    a, b = FakeSide([b"last", b""]), FakeSide([b""], room=0)
    splice = Splice(a, b)
    splice.readable(a)
    splice.readable(a)
    assert b.shutdowns == []  # "last" is not written yet
    b.room = 10
    splice.writable(b)
    assert b.shutdowns == [socket.SHUT_WR] and not splice.closed
    splice.readable(b)
    assert a.shutdowns == [socket.SHUT_WR] and splice.closed and a.closed and b.closed
    assert splice.wants(a) == (False, False)


def test_an_error_closes_both() -> None:
    class Broken(FakeSide):
        def recv(self, size: int) -> bytes:
            raise ConnectionResetError

    a, b = Broken(), FakeSide()
    splice = Splice(a, b)
    splice.readable(a)
    assert splice.closed and a.closed and b.closed


def test_without_a_command_it_says_how_it_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    assert forward.main(["3128", "/x.sock"]) == 2
    assert "usage" in capsys.readouterr().err


class Parent:
    """The forwarder's parent, the command: it may end at any point, after
    which the forwarder's parent is the sandbox's init (pid 1)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.alive = True
        self.signalled: int | None = None
        """The signal a death would send the forwarder (its death signal
        when the parent died)."""
        self.deathSignal: int | None = None

    def getppid(self) -> int:
        return self.pid if self.alive else 1

    def die(self) -> None:
        self.alive = False
        self.signalled = self.deathSignal


def test_a_command_that_ends_before_the_death_signal_holds_is_seen() -> None:
    """The command ends between the fork and the forwarder's death signal
    (an installer that fails at once): the forwarder sees it and does not
    serve, instead of outliving its command with nothing to signal it."""
    parent = Parent(2)

    def deathSignal(signal: int) -> None:
        parent.die()  # the command ends just before the request takes hold
        parent.deathSignal = signal

    assert not forward.tiedTo(2, deathSignal, parent.getppid)
    assert parent.signalled is None  # nothing else would have ended it


def test_a_command_that_ends_later_signals_the_forwarder() -> None:
    parent = Parent(2)

    def deathSignal(signal: int) -> None:
        parent.deathSignal = signal

    assert forward.tiedTo(2, deathSignal, parent.getppid)
    parent.die()
    assert parent.signalled == forward.SIGKILL


def test_a_forwarder_forked_from_another_parent_does_not_serve() -> None:
    assert not forward.tiedTo(2, lambda signal: None, lambda: 7)
