"""What a reactor turn wrote leaves at the end of that turn (C=1
latency), for the client connections and the children's stdin alike, and
whatever the kernel does not take is left to the reactor as before."""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any, cast

import pytest
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.python.failure import Failure

from mcpgateway.core.child import ChildProtocol
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spawn import Spawner
from mcpgateway.tuned.channel import GatewayChannel
from mcpgateway.tuned.turnflush import TurnFlusher
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import ACCEPT_BOTH, spec


class Descriptor(FileDescriptor):
    """A connected descriptor whose kernel takes C{take} bytes per send
    (all when C{None}), or fails with C{error}."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.connected = 1
        self.sent: list[bytes] = []
        self.take: int | None = None
        self.error: BaseException | None = None
        self.raises: BaseException | None = None
        self.hosts = 0
        self.lost: list[Failure] = []

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)
        super().connectionLost(reason)

    def writeSomeData(self, data: bytes) -> int | BaseException:
        if self.raises is not None:
            raise self.raises
        if self.error is not None:
            return self.error
        n = len(data) if self.take is None else min(self.take, len(data))
        self.sent.append(bytes(data[:n]))
        return n

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 50000)

    def getHost(self) -> IPv4Address:
        self.hosts += 1
        return IPv4Address("TCP", "127.0.0.1", 9100)


def adopted(reactor: MemoryReactorClock) -> tuple[TurnFlusher, Descriptor]:
    flusher = TurnFlusher(reactor)
    fd = Descriptor(reactor)
    flusher.adopt(fd)
    return flusher, fd


def halfTaken() -> tuple[MemoryReactorClock, Descriptor]:
    """A descriptor written C{abcdef} whose kernel took three bytes at the
    end of the turn; its reactor."""
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.take = 3
    fd.write(b"abcdef")
    reactor.advance(0)
    return reactor, fd


def written(
    reactor: MemoryReactorClock, count: int, data: bytes
) -> tuple[TurnFlusher, list[Descriptor]]:
    """C{count} descriptors, adopted by one flusher, each written C{data}."""
    flusher = TurnFlusher(reactor)
    fds = [Descriptor(reactor) for _ in range(count)]
    for fd in fds:
        flusher.adopt(fd)
        fd.write(data)
    return flusher, fds


def endTurn(reactor: MemoryReactorClock) -> list[dict[str, Any]]:
    """Run the turn's delayed calls (the flush); the log events they emitted."""
    events: list[dict[str, Any]] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    try:
        reactor.advance(0)
    finally:
        globalLogPublisher.removeObserver(observer)
    return events


def test_a_turns_writes_leave_at_its_end_in_one_send_without_watching_for_writability() -> None:
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.write(b"one ")
    fd.writeSequence([b"two", b" three"])
    assert fd.sent == [] and fd not in reactor.getWriters()  # no epoll_ctl for the write
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(0)
    assert fd.sent == [b"one two three"]
    assert fd not in reactor.getWriters()
    assert reactor.getDelayedCalls() == []


def test_a_descriptor_not_adopted_waits_for_the_reactor() -> None:
    reactor = MemoryReactorClock()
    TurnFlusher(reactor)
    fd = Descriptor(reactor)
    fd.write(b"data")
    assert fd in reactor.getWriters() and reactor.getDelayedCalls() == []


def test_one_timer_per_turn_for_every_descriptor() -> None:
    reactor = MemoryReactorClock()
    flusher = TurnFlusher(reactor)
    fds = [Descriptor(reactor) for _ in range(5)]
    for i, fd in enumerate(fds):
        flusher.adopt(fd)
        fd.write(b"%d" % i)
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(0)
    assert [fd.sent for fd in fds] == [[b"0"], [b"1"], [b"2"], [b"3"], [b"4"]]


def test_what_the_kernel_does_not_take_waits_for_writability() -> None:
    reactor, fd = halfTaken()
    assert fd.sent == [b"abc"] and fd in reactor.getWriters()
    fd.write(b"ghi")  # behind the rest, in order
    fd.take = None
    assert fd.doWrite() is None  # the reactor's own call, on writability
    assert fd.sent == [b"abc", b"defghi"] and fd not in reactor.getWriters()
    fd.write(b"next")  # drained: back to the end of the turn
    assert fd not in reactor.getWriters()
    reactor.advance(0)
    assert fd.sent[-1] == b"next"


def test_a_stalled_reader_keeps_the_descriptor_watched_and_the_bytes_in_order() -> None:
    reactor, fd = halfTaken()
    fd.take = 0
    fd.write(b"ghi")  # the reactor is watching it: no send is tried before writability
    assert reactor.getDelayedCalls() == []
    reactor.advance(0)
    assert fd.sent == [b"abc"] and fd in reactor.getWriters()
    fd.take = None
    fd.doWrite()
    assert b"".join(fd.sent) == b"abcdefghi"


def test_a_failed_send_closes_the_connection_as_the_reactor_would() -> None:
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.startReading()
    fd.error = ConnectionLost()
    fd.write(b"lost")
    reactor.advance(0)
    [reason] = fd.lost
    assert reason.check(ConnectionLost)
    assert fd not in reactor.getWriters() and fd not in reactor.getReaders()


def test_a_send_that_raises_closes_the_connection_and_is_logged() -> None:
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.raises = RuntimeError("a producer's resumeProducing failed")
    fd.write(b"data")
    events = endTurn(reactor)
    [reason] = fd.lost
    assert reason.check(RuntimeError)
    assert fd not in reactor.getWriters()
    assert any(e.get("log_failure") is not None for e in events)


def test_writes_made_during_a_flush_are_sent_by_a_flush_of_their_own() -> None:
    reactor = MemoryReactorClock()
    flusher = TurnFlusher(reactor)
    first, second = Descriptor(reactor), Descriptor(reactor)
    flusher.adopt(first)
    flusher.adopt(second)
    write = first.writeSomeData

    def writeAndWriteMore(data: bytes) -> int | BaseException:
        second.write(b"answer")  # e.g. a resumed producer writing again
        return write(data)

    first.writeSomeData = writeAndWriteMore  # type: ignore[method-assign]
    first.write(b"request")
    reactor.advance(0)  # (task.Clock also runs the flush the first one set)
    assert first.sent == [b"request"] and second.sent == [b"answer"]
    assert reactor.getDelayedCalls() == [] and second not in reactor.getWriters()


@pytest.mark.parametrize("close", ["loseConnection", "loseWriteConnection"])
def test_a_closing_connection_is_handed_to_the_reactor_for_its_last_bytes(close: str) -> None:
    """Its last send ends (or half-closes) the connection, which only the
    reactor does (its doWrite's result is what tells it to): the flusher
    hands it over."""
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.write(b"last words")
    getattr(fd, close)()
    reactor.advance(0)
    assert fd.sent == [] and fd in reactor.getWriters()
    why = fd.doWrite()  # the reactor, on writability
    assert fd.sent == [b"last words"]
    if close == "loseConnection":
        assert why is not None


def test_a_connection_whose_close_raises_does_not_keep_the_others_unsent() -> None:
    reactor = MemoryReactorClock()
    _, (failing, other) = written(reactor, 2, b"data")
    failing.error = ConnectionLost()

    def connectionLost(reason: Failure) -> None:
        raise RuntimeError("a request's onLost raised")

    failing.connectionLost = connectionLost  # type: ignore[method-assign]
    events = endTurn(reactor)
    assert other.sent == [b"data"]
    assert any(e.get("log_failure") is not None for e in events)


def test_an_adopted_descriptor_is_freed_without_the_cyclic_collector() -> None:
    reactor = MemoryReactorClock()
    _, fd = adopted(reactor)
    fd.write(b"data")
    reactor.advance(0)
    gone = weakref.ref(fd)
    gc.disable()
    try:
        del fd
        assert gone() is None
    finally:
        gc.enable()


def test_send_now_sends_what_the_turn_wrote_at_once() -> None:
    reactor = MemoryReactorClock()
    flusher, fd = adopted(reactor)
    flusher.sendNow(fd)  # nothing written: nothing to do
    fd.write(b"line\n")
    flusher.sendNow(fd)
    assert fd.sent == [b"line\n"] and fd not in reactor.getWriters()
    reactor.advance(0)  # the end of the turn has nothing left to send
    assert fd.sent == [b"line\n"]
    fd.write(b"next\n")  # a later write in the same turn waits for its end
    assert fd.sent == [b"line\n"]
    reactor.advance(0)
    assert fd.sent == [b"line\n", b"next\n"]


def test_send_now_leaves_what_the_kernel_did_not_take_to_writability() -> None:
    reactor = MemoryReactorClock()
    flusher, fd = adopted(reactor)
    fd.take = 2
    fd.write(b"abcd")
    flusher.sendNow(fd)
    assert fd.sent == [b"ab"] and fd in reactor.getWriters()  # the rest waits for writability
    fd.take = None
    fd.write(b"ef")  # behind the rest, not before writability
    reactor.advance(0)
    assert fd.sent == [b"ab"]
    fd.doWrite()
    assert fd.sent == [b"ab", b"cdef"]


def test_send_now_leaves_a_failing_or_closing_descriptor_to_the_end_of_the_turn() -> None:
    reactor = MemoryReactorClock()
    flusher, (failing, raising, closing) = written(reactor, 3, b"data")
    failing.error = ConnectionLost()
    raising.raises = RuntimeError("boom")
    closing.loseConnection()
    for fd in (failing, raising, closing):
        flusher.sendNow(fd)
    assert failing.lost == [] and raising.lost == [] and closing.sent == []
    endTurn(reactor)
    assert failing.lost[0].check(ConnectionLost) and raising.lost[0].check(RuntimeError)
    assert closing in reactor.getWriters()


def test_closed_and_aborted_descriptors_are_not_sent() -> None:
    reactor = MemoryReactorClock()
    _, (closed, aborted) = written(reactor, 2, b"never")
    closed.connected = 0
    aborted._aborting = True  # type: ignore[attr-defined]
    reactor.advance(0)
    assert closed.sent == [] and aborted.sent == []
    assert closed not in reactor.getWriters() and aborted not in reactor.getWriters()


class Process:
    """A child's process transport: its stdin is C{stdin} (C{pipes[0]}), as
    Twisted's is a C{ProcessWriter}."""

    pid = 42

    def __init__(self, stdin: Descriptor) -> None:
        self.pipes = {0: stdin}

    def write(self, data: bytes) -> None:
        self.pipes[0].write(data)


def test_a_quick_answer_leaves_in_the_turn_of_its_request_and_the_host_is_asked_once() -> None:
    reactor = FakeProcessReactor()
    site = makeSite(Gateway({"srv": spec("srv")}, fakeSpawner(reactor)), reactor)
    fd = Descriptor(reactor)
    protocol = site.buildProtocol(fd.getPeer())
    assert protocol is not None
    protocol.makeConnection(fd)
    for n in (1, 2):
        body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "ping"}).encode()
        protocol.dataReceived(
            b"POST /srv/mcp HTTP/1.1\r\nhost: 127.0.0.1:9100\r\naccept: "
            + ACCEPT_BOTH.encode()
            + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        sent = b"".join(fd.sent)  # a finished response goes before the turn ends
        assert sent.count(b"HTTP/1.1 ") == n, sent
        reactor.advance(0)
        assert fd not in reactor.getWriters()
    assert fd.hosts == 1
    channel = getattr(protocol, "_channel", protocol)  # wrapped where h2 is installed
    assert isinstance(channel, GatewayChannel)
    channel.writeSequence([b"more", b" bytes"])
    reactor.advance(0)
    assert fd.sent[-1] == b"more bytes"


def test_a_line_to_a_child_leaves_in_the_turn_it_was_written() -> None:
    reactor = MemoryReactorClock()
    stdin = Descriptor(reactor)

    child = ChildProtocol(
        "srv", lambda m: None, reactor, killGroup=None, flusher=TurnFlusher(reactor)
    )
    child.makeConnection(Process(stdin))
    child.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert stdin.sent == []
    reactor.advance(0)
    assert [json.loads(line) for line in b"".join(stdin.sent).splitlines()] == [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    ]


def test_the_spawner_gives_its_children_the_flusher_it_is_handed() -> None:
    reactor = MemoryReactorClock()
    stdin = Descriptor(reactor)

    class Reactor:
        def spawnProcess(self, protocol: ChildProtocol, *args: Any, **kwargs: Any) -> Process:
            process = Process(stdin)
            protocol.makeConnection(process)
            return process

    spawner = Spawner(
        reactor=cast(IReactorProcess, Reactor()),
        clock=reactor,
        environ={},
        setsid=None,
        flusher=TurnFlusher(reactor),
    )
    child = spawner.spawn(spec("srv"), lambda m: None, lambda line: None, lambda c: None)
    child.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert stdin.sent == []  # not before the turn's end
    reactor.advance(0)
    assert b"".join(stdin.sent).endswith(b"\n") and stdin not in reactor.getWriters()


def test_a_childs_stdin_stays_watched_for_its_close_while_a_line_is_written() -> None:
    """Twisted's ProcessWriter unwatches its pipe on every write and watches
    it again once empty (two epoll_ctl calls per line); adopted, it stays
    watched, the line still leaves at the end of the turn, and the reader's
    close is still its connection lost."""
    import os

    from twisted.internet.main import CONNECTION_LOST
    from twisted.internet.process import ProcessWriter

    reactor = MemoryReactorClock()
    readEnd, writeEnd = os.pipe()
    os.set_blocking(readEnd, False)
    try:
        writer = ProcessWriter(reactor, object(), 0, writeEnd)
        assert writer.enableReadHack and writer in reactor.readers
        unwatched: list[object] = []
        removeReader = reactor.removeReader

        def recordRemoval(reader: Any) -> None:
            unwatched.append(reader)
            removeReader(reader)

        reactor.removeReader = recordRemoval  # type: ignore[method-assign]
        TurnFlusher(reactor).adopt(writer)
        writer.write(b'{"jsonrpc":"2.0"}\n')
        with pytest.raises(BlockingIOError):
            os.read(readEnd, 100)  # nothing leaves before the turn ends
        reactor.advance(0)
        assert os.read(readEnd, 100) == b'{"jsonrpc":"2.0"}\n'
        assert unwatched == [] and writer in reactor.readers
        assert writer not in reactor.writers
        assert writer.doRead() is CONNECTION_LOST
    finally:
        os.close(readEnd)
        os.close(writeEnd)


class TurnEndReactor(MemoryReactorClock):
    """A clock with the gateway reactor's C{callAtTurnEnd} (what
    L{mcpgateway.tuned.reactor.GatewayReactor} offers): the calls asked for, run by
    L{endOfTurn}."""

    def __init__(self) -> None:
        super().__init__()
        self.atTurnEnd: list[Any] = []

    def callAtTurnEnd(self, f: Any) -> None:
        self.atTurnEnd.append(f)

    def endOfTurn(self) -> None:
        calls, self.atTurnEnd = self.atTurnEnd, []
        for f in calls:
            f()


def test_on_the_gateways_reactor_a_turns_writes_leave_at_its_end_without_a_delayed_call() -> None:
    """One C{callAtTurnEnd} per turn that writes, however many
    descriptors and writes, and no C{DelayedCall} (an object, a heap push)."""
    reactor = TurnEndReactor()
    flusher = TurnFlusher(reactor)
    fds = [Descriptor(reactor) for _ in range(2)]
    for fd in fds:
        flusher.adopt(fd)
        fd.write(b"a")
        fd.write(b"b")
    assert reactor.getDelayedCalls() == [] and len(reactor.atTurnEnd) == 1
    assert [fd.sent for fd in fds] == [[], []]
    reactor.endOfTurn()
    assert [fd.sent for fd in fds] == [[b"ab"], [b"ab"]]
    fds[0].write(b"next turn")  # the next turn asks again
    assert len(reactor.atTurnEnd) == 1
    reactor.endOfTurn()
    assert fds[0].sent == [b"ab", b"next turn"]


def test_a_flush_before_the_turns_end_leaves_nothing_for_it() -> None:
    reactor = TurnEndReactor()
    flusher, fd = adopted(reactor)
    fd.write(b"x")
    flusher.flush()
    assert fd.sent == [b"x"]
    reactor.endOfTurn()
    assert fd.sent == [b"x"]
    fd.write(b"y")
    reactor.endOfTurn()
    assert fd.sent == [b"x", b"y"]


@pytest.mark.parametrize("final", [True, False])
def test_a_hurried_line_leaves_at_once_when_nothing_more_is_read_in_the_turn(final: bool) -> None:
    """C=1 latency: a request to an idle child is hurried
    (L{ChildProtocol.hurry}); during the turn's last ready event it leaves
    at once, so the child starts while the gateway finishes its own work;
    otherwise it waits for the turn's end, where the lines that other events
    of the turn write to the child join it."""
    reactor = MemoryReactorClock()
    reactor.finalEvent = final  # type: ignore[attr-defined]  # what the gateway's reactor says
    stdin = Descriptor(reactor)
    child = ChildProtocol(
        "srv", lambda m: None, reactor, killGroup=None, flusher=TurnFlusher(reactor)
    )
    child.makeConnection(Process(stdin))
    child.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    child.hurry()
    assert (stdin.sent != []) is final
    reactor.advance(0)
    assert b"".join(stdin.sent) == b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    assert stdin not in reactor.getWriters()


def test_hurrying_a_child_without_a_flusher_does_nothing() -> None:
    reactor = MemoryReactorClock()
    stdin = Descriptor(reactor)
    child = ChildProtocol("srv", lambda m: None, reactor, killGroup=None)
    child.makeConnection(Process(stdin))
    child.hurry()
    assert stdin.sent == []


def test_a_whole_answer_leaves_before_its_request_is_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """C=1 latency: once a child's answer is written whole, with
    no other request waiting for its answer, it is sent; the request's own
    finish (Twisted's cleanup, the gateway's bookkeeping) comes after."""
    from mcpgateway.tuned.request import GatewayRequest
    from tests.http import ACCEPT_BOTH as ACCEPT
    from tests.http import Harness

    h = Harness()
    sid = h.initialize("srv")
    child = h.process()
    child.written.clear()
    fd = Descriptor(h.reactor)
    protocol = h.site.buildProtocol(fd.getPeer())
    assert protocol is not None
    protocol.makeConnection(fd)
    atFinish: list[bytes] = []
    finish = GatewayRequest.finish

    def recording(self: GatewayRequest) -> None:
        atFinish.append(b"".join(fd.sent))
        finish(self)

    monkeypatch.setattr(GatewayRequest, "finish", recording)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo"}}
    ).encode()
    protocol.dataReceived(
        b"POST /srv/mcp HTTP/1.1\r\nhost: 127.0.0.1:9100\r\naccept: "
        + ACCEPT.encode()
        + b"\r\ncontent-type: application/json\r\nmcp-protocol-version: 2025-11-25"
        + b"\r\nmcp-session-id: "
        + sid.encode()
        + b"\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    childId = json.loads(child.written.pop())["id"]
    child.stdout(b'{"jsonrpc":"2.0","id":%d,"result":{"content":[]}}\n' % childId)
    [sent] = atFinish
    assert sent.startswith(b"HTTP/1.1 200 ") and b'"id":7,"result":{"content":[]}}' in sent
