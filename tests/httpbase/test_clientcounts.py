"""Behind a door a client is a process, not an address: an account's
connections are counted per account for free below the threshold; past it
each new one waits (unread) for one walk of C{/proc} shared by those that
came meanwhile, and a process at the cap gets 503 while the account's other
processes are served. The walks are the fake namer's: the test answers
them."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred

from mcpgateway.httpbase.clientcounts import PROCESS_THRESHOLD, ClientCounts
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime.peeruid import PeerSocket
from mcpgateway.tuned.switch import STOCK, TUNED
from tests.fakes import capturedGatewayLogs
from tests.support.web.channel_reading import HEALTH
from tests.support.web.door import OWNER, DoorHarness, FakeNamer, answer, connect


class Walks:
    """Holders whose walks the test answers (each a Deferred)."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, frozenset[int], tuple[int, ...], Deferred[dict[int, int]]]] = []

    def __call__(
        self, uid: int, inodes: frozenset[int], hints: tuple[int, ...]
    ) -> Deferred[dict[int, int]]:
        walk: Deferred[dict[int, int]] = Deferred()
        self.asked.append((uid, inodes, hints, walk))
        return walk


def peer(inode: int, uid: int = OWNER) -> PeerSocket:
    return PeerSocket(uid, inode)


def test_below_the_threshold_an_account_is_counted_without_a_walk() -> None:
    walks = Walks()
    counts = ClientCounts(2048, walks)
    assert counts.threshold == PROCESS_THRESHOLD
    for inode in range(1, PROCESS_THRESHOLD + 1):
        assert counts.opened(object(), peer(inode)) is None
    assert counts.perUid == {OWNER: PROCESS_THRESHOLD} and counts.perProcess == {}
    assert walks.asked == []
    assert counts.opened(object(), peer(9, uid=1001)) is None  # another account, its own count


def test_past_the_threshold_one_walk_places_every_connection_and_caps_a_process() -> None:
    walks = Walks()
    counts = ClientCounts(3, walks)
    channels = [object() for _ in range(6)]
    for inode, channel in enumerate(channels[:3], 1):
        assert counts.opened(channel, peer(inode)) is None
    fourth = counts.opened(channels[3], peer(4))
    fifth = counts.opened(channels[4], peer(5))
    assert isinstance(fourth, Deferred) and isinstance(fifth, Deferred)
    [(uid, inodes, hints, walk)] = walks.asked
    assert (uid, inodes, hints) == (OWNER, frozenset({1, 2, 3, 4}), ())
    walk.callback({1: 10, 2: 10, 3: 10, 4: 10})
    assert fourth.result == (
        f"too many connections from process 10 of uid {OWNER}: 3 are open, the most one"
        " client process may hold"
    )
    [(_, inodes, hints, walk)] = walks.asked[1:]  # the one that came during the walk
    assert (inodes, hints) == (frozenset({5}), (10,))
    walk.callback({5: 20})
    assert fifth.result is None
    assert counts.perProcess == {(OWNER, 10): 3, (OWNER, 20): 1}
    assert counts.perUid == {OWNER: 4}
    counts.closed(channels[0])
    assert counts.perProcess[(OWNER, 10)] == 2 and counts.perUid == {OWNER: 3}
    again = counts.opened(channels[5], peer(6))
    assert isinstance(again, Deferred)
    walks.asked[-1][3].callback({6: 10})
    assert again.result is None
    assert counts.walks == 3


def test_a_connection_gone_while_it_waits_is_dropped() -> None:
    walks = Walks()
    counts = ClientCounts(1, walks)
    first, second = object(), object()
    assert counts.opened(first, peer(1)) is None
    waiting = counts.opened(second, peer(2))
    assert isinstance(waiting, Deferred)
    counts.closed(second)
    walks.asked[0][3].callback({1: 10, 2: 20})
    assert not waiting.called
    assert counts.perUid == {OWNER: 1} and counts.perProcess == {(OWNER, 10): 1}
    counts.closed(first)
    assert counts.perUid == {} and counts.perProcess == {}


def test_a_failed_walk_counts_for_the_accounts_unknown_process() -> None:
    walks = Walks()
    counts = ClientCounts(2, walks)
    for inode in (1, 2):
        counts.opened(object(), peer(inode))
    third = counts.opened(object(), peer(3))
    with capturedGatewayLogs() as events:
        walks.asked[0][3].errback(OSError("no /proc"))
    assert [e["log_format"] for e in events if "log_failure" in e] == [
        "finding the processes of connections failed"
    ]
    assert isinstance(third, Deferred) and "from an unknown process of uid" in str(third.result)
    assert counts.perProcess == {(OWNER, None): 2}


def test_a_walk_that_raises_at_once_is_a_failed_walk() -> None:
    def broken(uid: int, inodes: frozenset[int], hints: tuple[int, ...]) -> Any:
        raise RuntimeError("no threads")

    counts = ClientCounts(1, broken)
    counts.opened(object(), peer(1))
    with capturedGatewayLogs():
        refused = counts.opened(object(), peer(2))
    assert isinstance(refused, Deferred) and refused.result is not None


def test_without_walks_an_account_is_capped_as_one_client() -> None:
    counts = ClientCounts(2, None)
    assert counts.opened(object(), peer(1)) is None
    assert counts.opened(object(), peer(2)) is None
    assert counts.opened(object(), peer(3)) == (
        f"too many connections from uid {OWNER}: 2 are open, the most one account may hold"
    )


def test_a_peer_that_tells_its_pid_is_placed_at_once() -> None:
    walks = Walks()
    counts = ClientCounts(1, walks)
    assert counts.opened(object(), PeerSocket(OWNER, 0, 7)) is None
    assert "process 7" in str(counts.opened(object(), PeerSocket(OWNER, 0, 7)))
    assert counts.opened(object(), PeerSocket(OWNER, 0, 8)) is None
    assert walks.asked == []


def test_a_connection_counted_during_a_walk_is_placed_by_the_next() -> None:
    walks = Walks()
    counts = ClientCounts(3, walks, threshold=2)
    a, b, c, d = object(), object(), object(), object()
    counts.opened(a, peer(1))
    counts.opened(b, peer(2))
    held = counts.opened(c, peer(3))
    counts.closed(a)
    counts.closed(b)  # below the threshold again while the walk runs
    later = counts.opened(d, peer(4))
    assert isinstance(held, Deferred) and isinstance(later, Deferred)  # the walk decides first
    walks.asked[0][3].callback({3: 30})
    walks.asked[1][3].callback({4: 40})
    assert counts.perProcess == {(OWNER, 30): 1, (OWNER, 40): 1}


@pytest.mark.parametrize("twisted", [STOCK, TUNED])
def test_a_runaway_process_gets_503_and_the_accounts_other_clients_are_served(
    twisted: str,
) -> None:
    namer = FakeNamer()
    h = DoorHarness(namer, twisted, limits=MessageBounds(maxConnectionsPerPeer=2))
    connect(h.site, 50000)
    connect(h.site, 50001)
    _, runaway = connect(h.site, 50002)
    protocol, other = connect(h.site, 50003)
    protocol.dataReceived(HEALTH)  # kept while it waits
    [(uid, inodes, _, walk)] = namer.walks
    assert (uid, inodes) == (OWNER, frozenset({50000, 50001, 50002}))
    with capturedGatewayLogs() as events:
        walk.callback({50000: 10, 50001: 10, 50002: 10})
    status, body = answer(runaway.value())
    assert status == b"HTTP/1.1 503 Service Unavailable"
    assert b"retry-after: 1" in runaway.value()
    assert body["error"]["message"].startswith(
        f"too many connections from process 10 of uid {OWNER}: 2 are open"
    )
    assert [e["status"] for e in events if "status" in e] == [503]
    namer.walks[1][3].callback({50003: 20})
    assert other.value().startswith(b"HTTP/1.1 200 OK\r\n")
