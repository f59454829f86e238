"""The new process's side of a restart's children: child starts are
held until the children have come, the old process is answered, a
confined child waits for this process's sandbox probe, and a child nobody
can serve is stopped (fakes only: no socket, no process)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config.references import Redactor
from mcpgateway.core.adopted import LAID_OUT_OTHERWISE, LayoutComparison
from mcpgateway.core.handedchild import encodeRecord, sealSecrets
from mcpgateway.core.pools.runningchildren import RunningChild
from mcpgateway.core.sessions import shortId
from mcpgateway.core.spawn import SecretsUnavailable
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops import childhandover
from mcpgateway.ops.childhandover import ADOPTED, ChildAdoption, ChildSender, gateWait
from tests.fakes import capturedGatewayLogs
from tests.support.ops.handedrecord import RECORD


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids the module stops (no signal is sent)."""
    pids: list[int] = []
    monkeypatch.setattr(
        childhandover, "stopProcess", lambda handed, clock, close=True: pids.append(handed.pid)
    )
    return pids


def adoption(clock: Clock) -> tuple[ChildAdoption, list[bytes]]:
    replies: list[bytes] = []
    taking = ChildAdoption(clock, gateWait(5.0))
    taking.reply = replies.append
    taking.pools = dict
    taking.start()
    return taking, replies


def test_child_starts_wait_for_the_end_record_which_is_answered(stopped: list[int]) -> None:
    clock = Clock()
    taking, replies = adoption(clock)
    held = taking.pending("files")
    assert held is not None and not held.called
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(encodeRecord(RECORD))
    assert stopped == [77]  # its server is not configured here
    taking.data(encodeRecord({"kind": "end", "left": 2, "fds": 0}))
    assert held.called and replies == [ADOPTED]
    assert taking.pending("files") is None
    assert taking.report()["started"] == 3 and taking.report()["kept"] == 0


def test_child_starts_go_on_when_nothing_comes_in_time(stopped: list[int]) -> None:
    clock = Clock()
    taking, replies = adoption(clock)
    held = taking.pending("files")
    assert held is not None
    clock.advance(gateWait(5.0))
    assert held.called and replies == []


def test_unreadable_children_are_not_waited_for(stopped: list[int]) -> None:
    clock = Clock()
    taking, _ = adoption(clock)
    held = taking.pending("files")
    taking.data(b"\xff\xff\xff\xff")
    assert held is not None and held.called


class FakeTransport:
    def __init__(self) -> None:
        self.fds: list[int] = []
        self.data = b""

    def sendFileDescriptor(self, fd: int) -> None:
        self.fds.append(fd)

    def write(self, data: bytes) -> None:
        self.data += data


def test_a_sender_with_no_movable_child_says_so_and_stops_nothing(stopped: list[int]) -> None:
    clock = Clock()
    told: list[int] = []
    sender = ChildSender(dict, clock, told.append)
    transport = FakeTransport()
    answer = sender.send(transport)
    assert transport.fds == [] and b'"kind":"end"' in transport.data
    results: list[Any] = []
    answer.addCallback(results.append)
    sender.acknowledged()
    assert results == [True] and stopped == [] and told == []


def test_a_sender_unanswered_gives_up(stopped: list[int]) -> None:
    clock = Clock()
    sender = ChildSender(dict, clock)
    results: list[Any] = []
    sender.send(FakeTransport()).addCallback(results.append)
    clock.advance(childhandover.ACK_TIMEOUT)
    assert results == [False]


class FakeProxy:
    def __init__(self) -> None:
        self.adopted: list[tuple[str, int]] = []
        self.handedOver = False

    def listening(self) -> list[tuple[dict[str, Any], int]]:
        return [({"where": "/run/0.sock", "server": "a", "allowed": [], "denied": []}, 9)]

    def handOver(self) -> None:
        self.handedOver = True

    def adopt(self, record: dict[str, Any], fd: int) -> bool:
        self.adopted.append((record["where"], fd))
        return True


def test_the_proxy_sockets_go_before_the_children_and_are_left_once_taken(
    stopped: list[int],
) -> None:
    from mcpgateway.core.handedchild import HandedChild

    clock = Clock()
    proxy = FakeProxy()
    sender = ChildSender(dict, clock, proxy=proxy)
    one = HandedChild.fromJson(RECORD, (20, 21, 22))
    sender.children = lambda: ([one], [])  # type: ignore[method-assign]
    transport = FakeTransport()
    answer = sender.send(transport)
    assert transport.fds == [9, 20, 21, 22]
    assert transport.data.index(b'"kind":"proxy"') < transport.data.index(b'"server":"gone"')
    results: list[Any] = []
    answer.addCallback(results.append)
    assert not proxy.handedOver
    sender.acknowledged()
    assert results == [True] and proxy.handedOver

    taking, _ = adoption(clock)
    taking.proxy = proxy
    taking.descriptor(9)
    taking.data(transport.data[: transport.data.index(b'"server":"gone"') - 5])
    assert proxy.adopted == [("/run/0.sock", 9)]


def test_a_childs_sandbox_setting_goes_in_its_record() -> None:
    from mcpgateway.core.handedchild import HandedChild

    one = HandedChild.fromJson({**RECORD, "confinement": "bubblewrap"}, (1, 2, 3))
    assert one.confinement == "bubblewrap"
    assert HandedChild.fromJson(one.toJson(), (1, 2, 3)) == one
    from mcpgateway.core.handedchild import BadRecord

    with pytest.raises(BadRecord):
        HandedChild.fromJson({**RECORD, "confinement": 1}, (1, 2, 3))


def test_the_children_not_kept_are_named_with_why(stopped: list[int]) -> None:
    clock = Clock()
    taking, _ = adoption(clock)
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(encodeRecord({**RECORD, "session": "abcdef0123456789"}))
    told = [{"server": "solo", "pid": 78, "why": "it was given secrets"}, {"server": 3}]
    taking.data(encodeRecord({"kind": "end", "left": 2, "stopped": told, "fds": 0}))
    report = taking.report()
    assert report["started"] == 3
    assert report["anew"] == [
        {
            "server": "gone",
            "pid": 77,
            "why": "its server is no longer configured",
            "session": shortId("abcdef0123456789"),  # its log name, never a piece of the id
        },
        {"server": "solo", "pid": 78, "why": "it was given secrets"},
    ]


class Placed:
    """What the new process finds for a child it is handed: its server's
    pool and the upstream it would serve it as."""

    def __init__(self) -> None:
        self.spec = ServerSpec(name="gone", command="srv")
        self.child = None


def test_a_child_whose_sandbox_this_gateway_lays_out_otherwise_is_stopped(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = Placed()
    pools = {"gone": placed}
    monkeypatch.setattr(childhandover, "fingerprintMatches", lambda *a: True)
    monkeypatch.setattr(childhandover, "confinementNow", lambda *a: "auto")
    monkeypatch.setattr(childhandover, "probeAnswered", lambda *a: None)
    monkeypatch.setattr(
        childhandover, "compareLayout", lambda *a: LayoutComparison(LAID_OUT_OTHERWISE)
    )
    attached: list[int] = []

    def attach(upstream: Any, handed: Any, spawner: Any, *given: Any) -> bool:
        attached.append(handed.pid)
        return True

    monkeypatch.setattr(childhandover, "attachAdopted", attach)
    taking, _ = adoption(Clock())
    taking.pools = lambda: pools
    taking.spawner = object()  # type: ignore[assignment]
    monkeypatch.setattr(childhandover, "placedAs", lambda pool, handed: (placed, placed.spec))
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(encodeRecord({**RECORD, "confinement": "auto", "layout": "old"}))
    assert stopped == [77] and attached == [] and taking.kept == 0
    assert "the gateway's own files to mask" in taking.report()["anew"][0]["why"]


class ProbeAndLayout:
    """This process's sandbox probe, not answered yet, and the layouts it
    would give once it has (L{childhandover.compareLayout})."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.probing: Deferred[None] = Deferred()
        self.found: str | None = None
        self.compared: list[tuple[int, str | None]] = []
        self.asked = 0
        monkeypatch.setattr(childhandover, "probeAnswered", self.answered)
        monkeypatch.setattr(childhandover, "compareLayout", self.why)

    def answered(self, spawner: Any) -> Deferred[None] | None:
        self.asked += 1
        return None if self.found is not None else self.probing

    def why(self, spawner: Any, upstream: Any, handed: Any, *launch: Any) -> LayoutComparison:
        self.compared.append((handed.pid, self.found))
        if self.found == handed.probed.get("mechanism"):
            return LayoutComparison()
        return LayoutComparison("what the sandbox probe finds here differs: the mechanism")

    def answer(self, mechanism: str) -> None:
        self.found = mechanism
        self.probing.callback(None)


def placing(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> tuple[ChildAdoption, list[int], Placed]:
    """An adoption whose children's server is configured, confined as
    before: what it attaches, and the upstream it would serve them as."""
    placed = Placed()
    monkeypatch.setattr(childhandover, "fingerprintMatches", lambda *a: True)
    monkeypatch.setattr(childhandover, "confinementNow", lambda *a: "auto")
    attached: list[int] = []

    def attach(upstream: Any, handed: Any, spawner: Any, *given: Any) -> bool:
        attached.append(handed.pid)
        return True

    monkeypatch.setattr(childhandover, "attachAdopted", attach)
    taking, _ = adoption(clock)
    taking.pools = lambda: {"gone": placed}
    taking.spawner = object()  # type: ignore[assignment]
    monkeypatch.setattr(childhandover, "placedAs", lambda pool, handed: (placed, placed.spec))
    return taking, attached, placed


def confined(pid: int, mechanism: str) -> bytes:
    probed = {"mechanism": mechanism, "landlock": 0, "disableUserns": False, "privateFiles": ""}
    record = {**RECORD, "pid": pid, "pgid": pid, "confinement": "auto", "probed": probed}
    return encodeRecord(record)


def test_a_kept_confined_child_waits_for_this_processs_probe(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    probe = ProbeAndLayout(monkeypatch)
    taking, attached, _ = placing(monkeypatch, clock)
    for fd in (10, 11, 12, 13, 14, 15):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap") + confined(78, "landlock"))
    taking.data(encodeRecord({"kind": "end", "left": 0, "fds": 0}))
    # Compared with what the probe finds, never before it has answered.
    assert probe.compared == [] and attached == [] and stopped == [] and probe.asked == 1
    held = taking.pending("gone")
    assert held is not None and not held.called  # its server's starts wait with it
    assert taking.pending("other") is None
    probe.answer("bwrap")
    assert probe.compared == [(77, "bwrap"), (78, "bwrap")]
    assert attached == [77] and stopped == [78] and held.called
    [anew] = taking.report()["anew"]
    assert anew["pid"] == 78 and anew["why"].startswith("what the sandbox probe finds here")


def test_a_probe_that_does_not_answer_is_waited_for_no_longer(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    probe = ProbeAndLayout(monkeypatch)
    taking, attached, _ = placing(monkeypatch, clock)
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap"))
    taking.linkLost()
    clock.advance(childhandover.PROBE_WAIT - 1)
    assert probe.compared == [] and taking.pending("gone") is not None
    clock.advance(1)
    assert probe.compared == [(77, None)] and stopped == [77] and attached == []
    assert taking.pending("gone") is None
    probe.answer("bwrap")  # too late: nothing is compared again
    assert probe.compared == [(77, None)]


def test_with_the_probe_answered_a_kept_child_is_compared_at_once(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = ProbeAndLayout(monkeypatch)
    probe.found = "bwrap"
    taking, attached, _ = placing(monkeypatch, Clock())
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap"))
    assert probe.compared == [(77, "bwrap")] and attached == [77]


class Reading:
    """A kept child's sandbox read against servers added since it started
    (a L{LayoutCheck<mcpgateway.core.adopted.LayoutCheck>}): what the
    comparison leaves to read, in a worker thread driven by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, found: tuple[str, ...] | None) -> None:
        self.found = found
        """What the read finds the child sees (C{None}: the read fails)."""
        self.pending: list[tuple[Any, Deferred[Any]]] = []
        monkeypatch.setattr(childhandover, "probeAnswered", lambda *a: None)
        monkeypatch.setattr(childhandover, "buildOfLayout", lambda: None)
        monkeypatch.setattr(childhandover, "compareLayout", self.compare)

    def compare(self, spawner: Any, upstream: Any, handed: Any, *launch: Any) -> LayoutComparison:
        return LayoutComparison(check=self)  # type: ignore[arg-type]

    def unmasked(self) -> tuple[str, ...]:
        if self.found is None:
            raise OSError("unreadable")
        return self.found

    def runInThread(self, f: Any, *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.pending.append((f, done))
        return done

    def finish(self) -> None:
        pending, self.pending = self.pending, []
        for f, done in pending:
            try:
                done.callback(f())
            except OSError:
                done.errback()


@pytest.mark.parametrize("found", [(), ("/home/u/venvs/tool/bin",)])
def test_a_child_kept_from_before_servers_were_added_is_kept_when_it_sees_none_of_them(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch, found: tuple[str, ...]
) -> None:
    reading = Reading(monkeypatch, found)
    taking, attached, _ = placing(monkeypatch, Clock())
    taking.runInThread = reading.runInThread
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap"))
    taking.data(encodeRecord({"kind": "end", "left": 0, "fds": 0}))
    held = taking.pending("gone")
    assert held is not None and not held.called  # its server's starts wait for the read
    assert attached == [] and stopped == [] and len(reading.pending) == 1
    reading.finish()
    assert held.called
    if not found:
        assert attached == [77] and stopped == [] and taking.kept == 1
    else:
        assert attached == [] and stopped == [77]
        [anew] = taking.report()["anew"]
        assert "/home/u/venvs/tool/bin" in anew["why"]


def test_without_a_thread_to_read_in_such_a_child_is_not_kept(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    Reading(monkeypatch, ())
    taking, attached, _ = placing(monkeypatch, Clock())
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap"))
    assert attached == [] and stopped == [77]


def test_a_read_that_fails_stops_the_child(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = Reading(monkeypatch, None)
    taking, attached, _ = placing(monkeypatch, Clock())
    taking.runInThread = reading.runInThread
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    taking.data(confined(77, "bwrap"))
    with capturedGatewayLogs() as logged:
        reading.finish()
    assert attached == [] and stopped == [77]
    assert any(event.get("log_failure") for event in logged)
    [anew] = taking.report()["anew"]
    assert anew["why"] == "its sandbox could not be compared with this process's"


def test_a_sender_names_each_child_that_cannot_move(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    class Up:
        pid = 91

        class spec:  # noqa: N801
            name = "busy"

    monkeypatch.setattr(
        childhandover,
        "runningChildren",
        lambda pool: iter([RunningChild("s" * 12, Up(), None, (), Up.spec)]),  # type: ignore[arg-type]
    )
    monkeypatch.setattr(childhandover, "whyNotKept", lambda u: "it was given secrets")
    monkeypatch.setattr(childhandover, "whyNotMovable", lambda u: "a request is in flight on it")
    sender = ChildSender(lambda: {"busy": object()}, Clock())
    transport = FakeTransport()
    sender.send(transport)
    end = json.loads(transport.data[4:])
    assert end == {
        "kind": "end",
        "left": 1,
        "stopped": [
            {
                "server": "busy",
                "pid": 91,
                "why": "a request is in flight on it",
                "session": shortId("s" * 12),
            }
        ],
        "fds": 0,
    }


def test_a_pid_given_to_another_process_is_never_signalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcpgateway.core.handedchild import HandedChild

    def reused(pid: int, startTime: int) -> int | None:
        raise ProcessLookupError(pid)

    signalled: list[int] = []
    closed: list[int] = []
    monkeypatch.setattr(childhandover, "openChild", reused)
    monkeypatch.setattr(os, "killpg", lambda pid, s: signalled.append(pid))
    monkeypatch.setattr(os, "kill", lambda pid, s: signalled.append(pid))
    monkeypatch.setattr(childhandover, "_closeQuietly", closed.append)
    clock = Clock()
    childhandover.stopProcess(HandedChild.fromJson(RECORD, (20, 21, 22)), clock)
    clock.advance(childhandover.KILL_AFTER)
    assert signalled == [] and closed == [20, 21, 22]


class Resolving:
    """This process's secret resolver, answering when told to."""

    def __init__(self) -> None:
        self.asked: list[ServerSpec] = []
        self.reading: Deferred[tuple[ServerSpec, Redactor]] = Deferred()
        self.secrets = self  # the spawner's resolver is itself

    def resolve(self, spec: ServerSpec) -> Deferred[tuple[ServerSpec, Redactor]]:
        self.asked.append(spec)
        return self.reading


def givenSecrets(
    monkeypatch: pytest.MonkeyPatch, sealed: dict[str, str] | None
) -> tuple[ChildAdoption, list[tuple[Any, ...]], Resolving]:
    """An adoption handed a child whose server's entry has a secret
    reference, its record sealing C{sealed} (C{None}: sealing nothing, as
    a gateway's that seals no secrets): what it attaches (with the values
    and spec), and this process's resolver."""
    placed = Placed()
    placed.spec = ServerSpec(
        name="gone", command="srv", env=(("T", "${env:T}"),), references=frozenset({"${env:T}"})
    )
    monkeypatch.setattr(childhandover, "fingerprintMatches", lambda *a: True)
    monkeypatch.setattr(childhandover, "confinementNow", lambda *a: "")
    attached: list[tuple[Any, ...]] = []

    def attach(upstream: Any, handed: Any, spawner: Any, *given: Any) -> bool:
        attached.append((handed.pid, *given))
        return True

    monkeypatch.setattr(childhandover, "attachAdopted", attach)
    taking, _ = adoption(Clock())
    resolver = Resolving()
    taking.pools = lambda: {"gone": placed}
    taking.spawner = resolver  # type: ignore[assignment]
    monkeypatch.setattr(childhandover, "placedAs", lambda pool, handed: (placed, placed.spec))
    for fd in (10, 11, 12):
        taking.descriptor(fd)
    secrets = "" if sealed is None else sealSecrets(Redactor(sealed))
    taking.data(encodeRecord({**RECORD, "secrets": secrets}))
    taking.data(encodeRecord({"kind": "end", "left": 0, "fds": 0}))
    return taking, attached, resolver


def test_a_child_given_secrets_is_kept_when_they_resolve_to_the_same_values(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taking, attached, resolver = givenSecrets(monkeypatch, {"${env:T}": "tok-1"})
    # Its server's references are resolved as for a child of this process's own,
    # its server's starts held meanwhile.
    assert [spec.name for spec in resolver.asked] == ["gone"] and attached == []
    held = taking.pending("gone")
    assert held is not None and not held.called
    given = Redactor({"${env:T}": "tok-1"})
    launch = ServerSpec(name="gone", command="srv", env=(("T", "tok-1"),))
    resolver.reading.callback((launch, given))
    assert attached == [(77, given, launch)] and stopped == [] and held.called
    assert taking.kept == 1


def test_a_child_whose_secrets_changed_is_started_anew(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taking, attached, resolver = givenSecrets(monkeypatch, {"${env:T}": "tok-1"})
    rotated = ServerSpec(name="gone", command="srv", env=(("T", "tok-2"),))
    resolver.reading.callback((rotated, Redactor({"${env:T}": "tok-2"})))
    assert attached == [] and stopped == [77]
    [anew] = taking.report()["anew"]
    assert anew["why"] == "the values of its secret references changed"
    assert "tok" not in str(taking.report())


def test_a_child_whose_secrets_cannot_be_resolved_here_is_stopped_saying_why(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taking, attached, resolver = givenSecrets(monkeypatch, {"${env:T}": "tok-1"})
    resolver.reading.errback(SecretsUnavailable("${env:T}: the gateway's environment has no T"))
    assert attached == [] and stopped == [77]
    [anew] = taking.report()["anew"]
    assert anew["why"] == (
        "its secret references cannot be resolved: ${env:T}: the gateway's environment has no T"
    )


def test_a_child_whose_record_seals_no_secrets_is_not_kept(
    stopped: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taking, attached, resolver = givenSecrets(monkeypatch, None)
    assert resolver.asked == [] and attached == [] and stopped == [77]
    assert taking.report()["anew"][0]["why"] == "its record does not say what secrets it was given"
