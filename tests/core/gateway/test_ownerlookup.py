"""Looking for a session's client process: while its pid is unknown, the
first request on each connection of the session is looked at at once,
even while an earlier look runs; a connection already looked at waits a
minute; a few looks a minute at most; and what is kept for it goes once
the pid is known or the session is gone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger

from mcpgateway.core.gateway import ownerlookup
from mcpgateway.core.gateway.ownerlookup import LOOKS_PER_RETRY, OWNER_RETRY, OwnerLookup
from mcpgateway.core.gateway.settings import Connection
from mcpgateway.core.sessions import Session, SessionRegistry


class Finder:
    """A pid finder whose looks the test answers: C{looks} in the order asked."""

    def __init__(self) -> None:
        self.looks: list[tuple[Connection, Deferred[int | None]]] = []

    def __call__(self, connection: Connection, hints: Any) -> Deferred[int | None]:
        found: Deferred[int | None] = Deferred()
        self.looks.append((connection, found))
        return found

    def ports(self) -> list[int]:
        """The client ports looked at, in order."""
        return [connection[1] for connection, _ in self.looks]

    def answer(self, pid: int | None) -> None:
        """Answer every look not answered yet with C{pid}."""
        for _, found in self.looks:
            if not found.called:
                found.callback(pid)


def on(port: int, inode: int = 0) -> Connection:
    """A loopback connection from client port C{port} to the gateway, its
    client socket's inode C{inode} (0: not known)."""
    return ("127.0.0.1", port, "127.0.0.1", 9100, inode)


def made() -> tuple[Clock, Finder, SessionRegistry, OwnerLookup, Session]:
    clock, finder = Clock(), Finder()
    registry = SessionRegistry(clock)
    lookup = OwnerLookup(finder, registry, clock, Logger())
    session = registry.create("srv", "2025-06-18", {}, {})
    return clock, finder, registry, lookup, session


def test_a_later_request_on_another_connection_is_looked_at_at_once() -> None:
    """The client closed its C{initialize} connection before the look got
    to it (an SDK client closes it a tenth of a second after the answer;
    on a loaded machine the look runs later than that): its next request,
    on a connection it keeps, is looked at then, not a minute later, and
    without waiting for the first look's answer."""
    clock, finder, _, lookup, session = made()
    lookup.find(session, on(50001))
    clock.advance(0.2)
    lookup.lookFor(session, on(50002))
    assert finder.ports() == [50001, 50002]
    finder.looks[0][1].callback(None)  # the initialize connection was gone
    finder.looks[1][1].callback(4242)
    assert session.clientPid == 4242 and session.pidFromSocket


def test_the_finder_is_given_the_inode_and_a_reused_port_is_another_connection() -> None:
    """The client socket's inode named at accept goes to the finder with
    the connection's ends. A later connection on the same client port is
    another socket (another inode), not the one looked at already: it is
    looked at at once, for its own inode."""
    _, finder, _, lookup, session = made()
    lookup.find(session, on(50001, inode=7001))
    lookup.lookFor(session, on(50001, inode=7001))
    lookup.lookFor(session, on(50001, inode=7002))
    assert [connection for connection, _ in finder.looks] == [on(50001, 7001), on(50001, 7002)]


def test_a_connection_already_looked_at_waits_a_minute() -> None:
    clock, finder, _, lookup, session = made()
    lookup.find(session, on(50001))
    lookup.lookFor(session, on(50001))  # one look in flight is enough
    finder.answer(None)
    clock.advance(OWNER_RETRY - 1)
    lookup.lookFor(session, on(50001))
    assert finder.ports() == [50001]
    clock.advance(1)
    lookup.lookFor(session, on(50001))
    assert finder.ports() == [50001, 50001]


def test_a_few_looks_a_minute_at_most() -> None:
    """A client that opens a connection for each request, and whose pid is
    never found, costs a few looks a minute, not one per request."""
    clock, finder, _, lookup, session = made()
    lookup.find(session, on(50000))
    for port in range(50001, 50020):
        lookup.lookFor(session, on(port))
    assert finder.ports() == list(range(50000, 50000 + LOOKS_PER_RETRY))
    finder.answer(None)
    clock.advance(OWNER_RETRY)
    lookup.lookFor(session, on(50100))
    lookup.lookFor(session, on(50101))
    assert finder.ports()[LOOKS_PER_RETRY:] == [50100, 50101]


def test_once_the_pid_is_known_nothing_is_kept_or_looked_for() -> None:
    _, finder, registry, lookup, session = made()
    lookup.find(session, on(50001))
    lookup.lookFor(session, on(50002))
    finder.looks[1][1].callback(777)
    assert lookup.looking == 0 and session.clientPid == 777
    finder.looks[0][1].callback(888)  # the other look's answer comes too late
    assert session.clientPid == 777
    other = registry.create("srv", "2025-06-18", {}, {})
    lookup.find(other, on(50003))
    registry.remove(other)
    finder.answer(999)  # the session ended meanwhile
    assert lookup.looking == 0 and other.clientPid is None


def test_the_looks_of_sessions_gone_are_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions that ended while their pid was unknown leave nothing
    behind once the lookup keeps more than its threshold; the looks of a
    live session older than a minute go too."""
    monkeypatch.setattr(ownerlookup, "KEPT_MOST", 8)
    clock, finder, registry, lookup, old = made()
    lookup.find(old, on(49999))
    for port in range(50000, 50020):
        session = registry.create("srv", "2025-06-18", {}, {})
        lookup.find(session, on(port))
        finder.answer(None)
        registry.remove(session)
    assert lookup.looking <= 8
    clock.advance(OWNER_RETRY)
    lookup.find(registry.create("srv", "2025-06-18", {}, {}), on(51000))
    assert lookup.looking <= 8
    for port in range(51001, 51010):
        lookup.find(registry.create("srv", "2025-06-18", {}, {}), on(port))
    assert registry.get(old.id) is old and old.id not in lookup._looks


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 2 * OWNER_RETRY), st.integers(50000, 50008), st.booleans()),
        max_size=40,
    )
)
def test_within_any_minute_each_connection_once_and_a_few_looks_at_most(
    requests: list[tuple[float, int, bool]],
) -> None:
    """Whatever requests come (when, on which connection, whether the
    looks before them answered), no connection of a session is looked at
    twice within L{OWNER_RETRY} seconds, and no L{OWNER_RETRY} seconds hold
    more than L{LOOKS_PER_RETRY} looks; a request on a connection not
    looked at in them, while there is room, is looked at."""
    clock, finder, _, lookup, session = made()
    lookup.find(session, on(49999))
    looks: list[tuple[float, int]] = [(clock.seconds(), 49999)]
    for wait, port, answer in requests:
        clock.advance(wait)
        now = clock.seconds()
        recent = [p for at, p in looks if now - at < OWNER_RETRY]
        lookup.lookFor(session, on(port))
        if port not in recent and len(recent) < LOOKS_PER_RETRY:
            looks.append((now, port))
        if answer:
            finder.answer(None)
    assert [(clock.seconds(), port) for _, port in looks] and finder.ports() == [
        port for _, port in looks
    ]
    for at, (when, port) in enumerate(looks):
        later = [p for w, p in looks[at + 1 :] if w - when < OWNER_RETRY]
        assert port not in later
        assert len(later) < LOOKS_PER_RETRY
