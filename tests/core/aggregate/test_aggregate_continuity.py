"""An aggregate session's members outlive the gateway process with it:
saved within its record, restored with their own ids on their servers'
pools, so that a restart's or a crash's hand-over keeps a member's own
child; a member whose child is started anew has its C{initialize}
replayed and the aggregate session is told so, once; a member of a shared
server gets its subscriptions back without a call (fakes only: no
process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.core.handedchild import encodeRecord
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.core.pools.runningchildren import ownedOf
from mcpgateway.ops import childhandover
from mcpgateway.ops.childhandover import ChildAdoption, gateWait
from mcpgateway.ops.sessionstore import SessionStore
from tests.support.core.aggregate.continuity import KeptAggregate
from tests.support.core.continuity import MemoryStore
from tests.support.ops.handedrecord import RECORD


def calledThenStopped() -> tuple[MemoryStore, str, str]:
    """A gateway whose C{/mcp} session called C{solo} (its member's own
    child) and C{shared}, then stopped (its sessions saved): the store,
    the session and its member's id on C{solo}."""
    store = MemoryStore()
    first = KeptAggregate(store)
    sid = first.open()
    first.echo(sid, "solo", 1)
    first.echo(sid, "shared", 2)
    memberId = first.member(sid, "solo").id
    first.gateway.stop()
    return store, sid, memberId


def test_an_aggregate_sessions_members_are_saved_in_its_record() -> None:
    store, sid, memberId = calledThenStopped()
    [record] = store.load()
    assert record["id"] == sid
    members = {m["server"]: m for m in record["aggregate"]["members"]}
    assert sorted(members) == ["shared", "solo"]
    assert members["solo"]["id"] == memberId and members["solo"]["called"] is True


def test_a_member_whose_child_starts_slowly_is_saved_once_it_is_opened(tmp_path: Path) -> None:
    """The batched save that follows the member's opening saves it, however
    long after the client's request its child answered (the saves
    meanwhile found nothing of it)."""
    store = SessionStore(tmp_path / "sessions.json")
    gateway = KeptAggregate(store)
    sid = gateway.open()
    gateway.post(sid, "tools/call", {"name": "solo__echo", "arguments": {}}, 1, pump=False)
    gateway.reactor.advance(5)  # saves while its child starts
    gateway.children.pump()
    memberId = gateway.member(sid, "solo").id
    gateway.reactor.advance(1)
    [record] = SessionStore(tmp_path / "sessions.json").load()
    assert [m["id"] for m in record["aggregate"]["members"]] == [memberId]


def test_a_restored_aggregate_session_has_its_members_back_with_their_ids() -> None:
    store, sid, memberId = calledThenStopped()
    second = KeptAggregate(store)
    member = second.member(sid, "solo")
    assert member.id == memberId and member.restored
    owned = ownedOf(second.gateway.pools["solo"])
    assert owned is not None and owned.owner(memberId) is member


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids the hand-over stops (no signal is sent)."""
    pids: list[int] = []
    monkeypatch.setattr(
        childhandover, "stopProcess", lambda handed, clock, close=True: pids.append(handed.pid)
    )
    return pids


def test_a_restart_keeps_the_own_child_of_an_aggregate_sessions_member(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child the previous process hands over for the member is served
    as the member's, as a direct session's own child is; not stopped as
    the child of a session that was not kept."""
    store, sid, memberId = calledThenStopped()
    second = KeptAggregate(store)
    monkeypatch.setattr(childhandover, "fingerprintMatches", lambda *a: True)
    monkeypatch.setattr(childhandover, "confinementNow", lambda *a: RECORD.get("confinement", ""))
    attached: list[Any] = []

    def attach(upstream: Any, handed: Any, spawner: Any, *given: Any) -> bool:
        attached.append(upstream)
        return True

    monkeypatch.setattr(childhandover, "attachAdopted", attach)
    taking = ChildAdoption(Clock(), gateWait(5.0))
    taking.reply = lambda data: None
    taking.pools = lambda: dict(second.gateway.pools)
    taking.spawner = second.gateway.spawner
    taking.start()
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(encodeRecord({**RECORD, "server": "solo", "session": memberId}))
    taking.data(encodeRecord({"kind": "end", "left": 0, "fds": 0}))
    taking.linkLost()
    owned = ownedOf(second.gateway.pools["solo"])
    assert owned is not None
    assert (taking.kept, stopped, attached) == (1, [], [owned.childById(memberId)])
    # Its child goes on as it was: nothing is replayed to it.
    assert not owned.replaying(second.member(sid, "solo"))


def test_a_member_whose_child_is_started_anew_tells_its_aggregate_session_once() -> None:
    store, sid, memberId = calledThenStopped()
    second = KeptAggregate(store)
    *before, answer = second.echo(sid, "solo", 3)
    # The member goes on (its initialize replayed to a new child), not a new member.
    assert second.member(sid, "solo").id == memberId
    [notice] = [m for m in before if m.get("method") == "notifications/message"]
    params = notice["params"]
    assert (params["level"], params["logger"]) == ("warning", "mcpgateway"), notice
    assert "server 'solo': the child serving this session was started anew" in params["data"]
    assert answer["result"]["_meta"] == {NOTICE_KEY: True}, answer
    *again, last = second.echo(sid, "solo", 4)
    assert again == [] and "_meta" not in last["result"], (again, last)


def test_a_member_of_a_shared_server_gets_its_subscription_back_without_a_call() -> None:
    store = MemoryStore()
    first = KeptAggregate(store)
    sid = first.open()
    answer = first.post(sid, "resources/subscribe", {"uri": "file:///s.txt"}, 1)
    assert answer.status == 200, answer.body
    first.gateway.stop()

    second = KeptAggregate(store)
    second.reactor.advance(1)  # the restored sessions' shared children are started
    second.children.pump()
    subscribed = [m for m in second.sentTo("shared") if m.get("method") == "resources/subscribe"]
    assert [m["params"] for m in subscribed] == [{"uri": "file:///s.txt"}]


def test_a_member_the_predecessor_opened_after_its_save_is_merged_in() -> None:
    """A restart's successor restored the session from an earlier save;
    the member the predecessor opened since comes with its last save."""
    store = MemoryStore()
    old = KeptAggregate(store)
    sid = old.open()
    old.gateway.continuity.save(always=True)  # the restart's prepare
    gone: Deferred[None] = Deferred()
    new = KeptAggregate(store, predecessor=gone)
    assert new.aggregate(sid).members == {}
    old.echo(sid, "solo", 1)  # on a connection the predecessor still serves
    memberId = old.member(sid, "solo").id
    old.gateway.stop()
    gone.callback(None)
    assert new.member(sid, "solo").id == memberId
    owned = ownedOf(new.gateway.pools["solo"])
    assert owned is not None and owned.childById(memberId) is not None
