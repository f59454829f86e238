# -*- test-case-name: tests.sandbox.test_forward -*-
"""The forwarder inside a sandbox: the child's HTTP proxy on C{127.0.0.1}.

A child with an allow list runs in a network namespace of its own, whose
only way out is the gateway's proxy socket bound into it
(L{mcpgateway.startup.netproxy}). Clients speak TCP to a proxy, so inside
the sandbox C{python -I -S forward.py PORT SOCKET -- COMMAND ARGS...}
listens on C{127.0.0.1:PORT}, forks a process that carries each
connection to C{SOCKET} and back (C{selectors}, each direction's buffer
bounded: a side is read only while the other keeps up), and C{exec}s the
command. The forwarder dies with the command (C{PR_SET_PDEATHSIG}) and
with the sandbox (its pid namespace). Standard library only: it runs with
the gateway's Python, isolated, without C{site}.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Side(Protocol):
        """What of a socket the splice uses."""

        def recv(self, size: int, /) -> bytes: ...

        def send(self, data: bytes, /) -> int: ...

        def shutdown(self, how: int, /) -> None: ...

        def close(self) -> None: ...


CHUNK = 65536
LIMIT = 262144
"""The most bytes one direction buffers before its source is no longer read."""
PR_SET_PDEATHSIG = 1
SIGKILL = 9
PREFIX = "mcpgateway sandbox: "


class Splice:
    """One connection carried both ways: C{a} (the client's) and C{b} (the
    proxy socket's), each direction's bytes buffered up to L{LIMIT}."""

    def __init__(self, a: Side, b: Side) -> None:
        self.sides = (a, b)
        self.pending = {id(a): bytearray(), id(b): bytearray()}
        """By side: the bytes waiting to be written to it."""
        self.ended = {id(a): False, id(b): False}
        """By side: it sent its end (its peer is told once flushed)."""
        self.shut = {id(a): False, id(b): False}
        """By side: told of its peer's end."""
        self.closed = False

    def peer(self, side: Side) -> Side:
        a, b = self.sides
        return b if side is a else a

    def wants(self, side: Side) -> tuple[bool, bool]:
        """Whether to wait for C{side} to be readable, and writable."""
        peer = self.peer(side)
        read = not self.ended[id(side)] and len(self.pending[id(peer)]) < LIMIT
        return read and not self.closed, bool(self.pending[id(side)]) and not self.closed

    def readable(self, side: Side) -> None:
        """Read what C{side} sent, for its peer."""
        try:
            data = side.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        peer = self.peer(side)
        if not data:
            self.ended[id(side)] = True
            self._flushed(peer)
            return
        self.pending[id(peer)] += data

    def writable(self, side: Side) -> None:
        """Write to C{side} what its peer sent."""
        buffer = self.pending[id(side)]
        try:
            sent = side.send(bytes(buffer[:CHUNK]))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        del buffer[:sent]
        self._flushed(side)

    def _flushed(self, side: Side) -> None:
        """Tell C{side} its peer ended once what it sent is written; close
        when both have ended."""
        peer = self.peer(side)
        if self.ended[id(peer)] and not self.pending[id(side)] and not self.shut[id(side)]:
            self.shut[id(side)] = True
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_WR)
        if all(self.shut.values()):
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for side in self.sides:
                side.close()


def serve(listener: socket.socket, path: str) -> None:
    """Carry every connection of C{listener} to the unix socket C{path},
    for ever."""
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, None)
    splices: dict[socket.socket, Splice] = {}
    while True:
        for key, events in selector.select():
            sock = key.fileobj
            if sock is listener:
                accepted(listener, path, selector, splices)
                continue
            assert isinstance(sock, socket.socket)
            splice = splices.get(sock)
            if splice is None:
                continue
            if events & selectors.EVENT_WRITE:
                splice.writable(sock)
            if events & selectors.EVENT_READ and not splice.closed:
                splice.readable(sock)
            for side in splice.sides:
                assert isinstance(side, socket.socket)
                interest(selector, side, splice, splices)


def accepted(
    listener: socket.socket,
    path: str,
    selector: selectors.BaseSelector,
    splices: dict[socket.socket, Splice],
) -> None:
    """Take a connection and open its proxy socket's."""
    try:
        client, _ = listener.accept()
    except OSError:
        return
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    client.setblocking(False)
    upstream.setblocking(False)
    splice = Splice(client, upstream)
    for side in (client, upstream):
        splices[side] = splice
        interest(selector, side, splice, splices)


def interest(
    selector: selectors.BaseSelector,
    side: socket.socket,
    splice: Splice,
    splices: dict[socket.socket, Splice],
) -> None:
    """Wait on C{side} for what its splice wants, or forget it once closed."""
    read, write = splice.wants(side)
    events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
    with contextlib.suppress(KeyError, ValueError):
        selector.unregister(side)
    if splice.closed:
        splices.pop(side, None)
    elif events:
        selector.register(side, events)


def listen(port: int) -> socket.socket:
    """The forwarder's socket on C{127.0.0.1:port}."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    return listener


def setDeathSignal(signal: int) -> None:
    """Ask the kernel for C{signal} when this process's parent dies
    (C{PR_SET_PDEATHSIG}); nothing where C{prctl} is missing."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def tiedTo(
    parent: int,
    deathSignal: Callable[[int], None] = setDeathSignal,
    getppid: Callable[[], int] = os.getppid,
) -> bool:
    """Whether this process dies with C{parent} (the command, C{exec}ed by
    the process that forked this one): the death signal is asked for
    first, then the parent is checked. A parent that died before the
    request took hold (a command that ends at once) shows in the check, a
    later death is the kernel's to signal. The other order misses a death
    between the two, and the forwarder outlives its command, holding its
    sandbox (and the pipes the gateway waits on) open."""
    deathSignal(SIGKILL)
    return getppid() == parent


def forwarder(listener: socket.socket, path: str) -> None:
    """In the forked process, once tied to the command (L{tiedTo}): let go
    of its stdio, and serve."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    serve(listener, path)


def main(argv: list[str]) -> int:
    """Listen, fork the forwarder, C{exec} the command."""
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write(f"{PREFIX}usage: forward.py PORT SOCKET -- COMMAND [ARGS...]\n")
        return 2
    parent = os.getpid()
    try:
        listener = listen(int(argv[0]))
    except (OSError, ValueError) as e:
        sys.stderr.write(f"{PREFIX}cannot start the network proxy's forwarder: {e}\n")
        return 126
    if os.fork() == 0:
        try:
            if tiedTo(parent):
                forwarder(listener, argv[1])
        finally:
            os._exit(0)
    listener.close()
    command = argv[3:]
    try:
        os.execv(command[0], command)
    except OSError as e:
        sys.stderr.write(f"{PREFIX}cannot run {command[0]}: {e.strerror or e}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
