"""The read model: the state enums, the derived quantities of a server, and
the snapshots pools and the gateway take of themselves."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import succeed

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import (
    ChildStatus,
    Circuit,
    GatewayStatus,
    Lifecycle,
    RequestSnapshot,
    ServerState,
    ServerStatus,
)
from mcpgateway.protocol import jsonrpc
from tests.core.tasks.support import keptTasks
from tests.fakes import FakeProcessReactor, fakeSpawner

SPEC = ServerSpec(
    name="srv", command="srv", env=(("TOKEN", "secret-value"),), executable="/bin/srv"
)


def child(
    pid: int | None = 1000,
    lifecycle: Lifecycle = Lifecycle.RUNNING,
    startedAt: float | None = 5.0,
    spawns: int = 1,
    inFlight: int = 0,
    bytesIn: int = 0,
    bytesOut: int = 0,
    lastExit: str | None = None,
    owner: str | None = None,
) -> ChildStatus:
    """A child's status, its fields as named here (in their order)."""
    return ChildStatus(
        pid, lifecycle, startedAt, spawns, inFlight, bytesIn, bytesOut, lastExit, owner
    )


def snapshot(ambiguous: int = 0, bytesIn: int = 0, bytesOut: int = 0) -> RequestSnapshot:
    return RequestSnapshot(
        requests={},
        count=0,
        sum=0.0,
        bucketCounts=(0,) * 16,
        lateReplies=0,
        ambiguousServerRequests=ambiguous,
        bytesIn=bytesIn,
        bytesOut=bytesOut,
    )


def server(
    children: tuple[ChildStatus, ...] = (),
    failures: int = 0,
    now: float = 100.0,
    created: float = 0.0,
    requests: RequestSnapshot | None = None,
) -> ServerStatus:
    return ServerStatus(
        name="srv",
        sharing=Sharing.SHARED,
        state=ServerState.RUNNING,
        circuit=Circuit.CLOSED,
        children=children,
        sessions=0,
        requests=requests or snapshot(),
        failures=failures,
        created=created,
        now=now,
        disabled=False,
        resolution=None,
        error=None,
        launch=None,
        spec=SPEC,
    )


# -- the enums -------------------------------------------------------------------


def test_the_states_are_the_words_health_and_metrics_show_in_their_order() -> None:
    assert [s.value for s in Lifecycle] == ["stopped", "starting", "running", "restarting"]
    assert [s.value for s in ServerState] == [
        "stopped",
        "starting",
        "running",
        "degraded",
        "error",
        "restarting",
        "disabled",
        "catalog",
    ]
    assert [c.value for c in Circuit] == ["closed", "open", "half-open"]


def test_a_member_is_its_word_for_every_reader_of_the_json() -> None:
    word: str = Circuit.HALF_OPEN
    assert word == "half-open" and ServerState("degraded") is ServerState.DEGRADED
    assert json.dumps({"state": Lifecycle.RUNNING}) == '{"state": "running"}'
    assert f"{ServerState.ERROR}" == "error"


# -- derived quantities ------------------------------------------------------------


def test_derived_quantities_are_computed_from_the_children() -> None:
    status = server(
        children=(
            child(pid=1001, startedAt=40.0, spawns=3, inFlight=2, bytesIn=10, bytesOut=4),
            child(
                pid=None,
                lifecycle=Lifecycle.STOPPED,
                startedAt=None,
                spawns=1,
                lastExit="exited with code 3",
            ),
            child(
                pid=1002,
                startedAt=20.0,
                spawns=0,
                inFlight=1,
                bytesIn=5,
                bytesOut=1,
                lastExit="exited with code 9",
            ),
        ),
        failures=4,
        requests=snapshot(bytesIn=100, bytesOut=50),
    )
    assert status.pids == [1001, 1002]
    assert status.restarts == 2  # max(0, spawns - 1) per child
    assert status.inFlight == 3
    assert (status.bytesIn, status.bytesOut) == (115, 55)  # exited children plus live ones
    assert status.lastExit == "exited with code 3"  # the first child that says
    assert status.startedAt == 20.0 and status.uptime == 80.0  # the longest-running child
    assert status.mtbf == 25.0  # 100 s since configured, 4 failures


def test_no_live_child_no_failure_no_warning() -> None:
    status = server()
    assert (status.pids, status.restarts, status.inFlight) == ([], 0, 0)
    assert (status.startedAt, status.uptime, status.mtbf, status.lastExit) == (
        None,
        None,
        None,
        None,
    )
    assert status.warning is None


def test_refused_server_requests_warn_to_run_the_server_per_session() -> None:
    warning = server(requests=snapshot(ambiguous=2)).warning
    assert warning is not None
    assert warning.startswith("2 sampling/elicitation request(s) of this shared server")
    assert warning.endswith('run this server per session ("share": "session")')


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(1, 2**22)),
            st.integers(0, 50),
            st.integers(0, 20),
            st.one_of(st.none(), st.floats(0, 99)),
        ),
        max_size=6,
    )
)
def test_the_sums_hold_for_any_children(
    raw: list[tuple[int | None, int, int, float | None]],
) -> None:
    children = tuple(
        child(pid=pid, spawns=spawns, inFlight=inFlight, startedAt=started)
        for pid, spawns, inFlight, started in raw
    )
    status = server(children=children)
    assert status.pids == [pid for pid, *_ in raw if pid is not None]
    assert status.restarts == sum(max(0, spawns - 1) for _, spawns, _, _ in raw)
    assert status.inFlight == sum(n for _, _, n, _ in raw)
    starts = [s for *_, s in raw if s is not None]
    assert status.uptime == (100.0 - min(starts) if starts else None)


def test_a_snapshot_is_frozen_and_keeps_the_spec_out_of_its_repr() -> None:
    status = server()
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.sessions = 3  # type: ignore[misc]
    assert "secret-value" not in repr(status)


def test_the_read_model_loads_no_twisted() -> None:
    code = (
        "import sys, mcpgateway.core.status;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'twisted'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- snapshots of live objects -------------------------------------------------------


def initialize(requestId: int = 1) -> dict[str, Any]:
    return jsonrpc.request(
        requestId,
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "client", "version": "1"},
        },
    )


def gateway() -> tuple[Gateway, FakeProcessReactor]:
    reactor = FakeProcessReactor()
    specs = {
        "shared": dataclasses.replace(SPEC, name="shared"),
        "own": dataclasses.replace(SPEC, name="own", mode="stateful"),
    }
    return Gateway(specs, fakeSpawner(reactor), lazyStart=False), reactor


def test_the_gateway_snapshot_holds_every_server_and_session() -> None:
    gw, reactor = gateway()
    reactor.advance(7)
    session, _ = gw.opener.openSession("own", initialize(), "2025-11-25")
    [process] = reactor.processes
    process.reply(
        jsonrpc.resultResponse(process.sentMessages()[-1]["id"], {"protocolVersion": "2025-06-18"})
    )
    reactor.advance(3)
    status = gw.readModel.status("/nonexistent-proc")
    assert isinstance(status, GatewayStatus)
    assert (status.started, status.now, status.uptime, status.rssBytes) == (0.0, 10.0, 10.0, None)
    assert list(status.servers) == ["shared", "own"]  # configuration order
    with pytest.raises(TypeError):
        status.servers["x"] = status.servers["own"]  # type: ignore[index]
    own = status.servers["own"]
    assert (own.sharing, own.state, own.circuit, own.sessions) == (
        Sharing.PER_SESSION,
        ServerState.RUNNING,
        Circuit.CLOSED,
        1,
    )
    [live] = own.children
    assert dataclasses.replace(live, bytesIn=0, bytesOut=0) == dataclasses.replace(
        child(pid=1000, startedAt=7.0, owner=session.id), sessions=1
    )
    assert live.scopes == ()  # a child a session owns serves no scope key
    assert live.bytesOut == sum(len(data) for data in process.written) and live.bytesIn > 0
    assert (own.bytesIn, own.bytesOut) == (live.bytesIn, live.bytesOut)  # none exited yet
    assert own.requests.count == 1 and own.requests.requests == {("initialize", "ok"): 1}
    assert status.servers["shared"].children == () and status.servers["shared"].sessions == 0
    [row] = status.sessions
    assert (
        row.id,
        row.server,
        row.sharing,
        row.childPid,
        row.protocolVersion,
        row.client,
        row.created,
        row.lastActivity,
        row.inFlight,
        row.getStream,
    ) == (session.id, "own", Sharing.PER_SESSION, 1000, "2025-06-18", "client", 7.0, 7.0, 0, False)
    assert (row.scope, row.credential) == ("", "")
    assert gw.readModel.server("own").children == own.children


def test_a_snapshot_does_not_follow_the_live_pool() -> None:
    gw, reactor = gateway()
    gw.opener.openSession("own", initialize(), "2025-11-25")
    before = gw.readModel.server("own")
    [process] = reactor.processes
    process.reply(jsonrpc.resultResponse(process.sentMessages()[-1]["id"], {}))
    process.exit(1)
    after = gw.readModel.server("own")
    assert (before.requests.count, before.children[0].lifecycle, before.failures) == (
        0,
        Lifecycle.RUNNING,
        0,
    )
    assert (after.requests.count, after.failures, after.lastExit) == (1, 1, "exited with code 1")
    assert after.children[0].lifecycle is Lifecycle.STOPPED and after.pids == []


def test_launch_is_the_resolved_command_line_only_when_it_differs() -> None:
    gw, _ = gateway()
    pool = gw.pools["shared"]
    assert gw.readModel.server("shared").launch is None
    resolved = dataclasses.replace(
        SPEC, command="npx", args=("-y", "pkg"), executable="/cache/bin/pkg"
    )
    pool.launchAfter(succeed(resolved), "npx to resolve the command")
    assert gw.readModel.server("shared").launch == ("/cache/bin/pkg", "-y", "pkg")


def test_each_session_row_counts_its_own_requests_in_flight() -> None:
    gw, reactor = gateway()
    a, _ = gw.opener.openSession("shared", initialize(), "2025-11-25")
    [process] = reactor.processes
    process.reply(jsonrpc.resultResponse(process.sentMessages()[-1]["id"], {}))
    b, _ = gw.opener.openSession("shared", initialize(), "2025-11-25")
    pool = gw.pools["shared"]
    for session, count in [(a, 2), (b, 1)]:
        for n in range(count):
            pool.forward(session, jsonrpc.request(n, "tools/call", {"name": "t"}), None)
    rows = {row.id: row.inFlight for row in gw.readModel.status("/nonexistent-proc").sessions}
    assert rows == {a.id: 2, b.id: 1}
    assert gw.readModel.server("shared").inFlight == 3


def test_the_snapshot_counts_the_tasks_by_status_when_the_gateway_serves_them() -> None:
    reactor = FakeProcessReactor()
    tasks = keptTasks(working=2, input_required=1, completed=5, failed=1)
    tasks.fastAnswers = 4
    gw = Gateway({"srv": SPEC}, fakeSpawner(reactor), tasks=tasks, lazyStart=False)
    counted = gw.readModel.status("/nonexistent-proc").tasks
    assert counted is not None
    assert list(counted.byStatus.items()) == [
        ("working", 2),
        ("input_required", 1),
        ("completed", 5),
        ("failed", 1),
        ("cancelled", 0),
    ]
    assert (counted.created, counted.fastAnswers) == (9, 4)
    assert (counted.count("failed"), counted.count("unknown")) == (1, 0)
    with pytest.raises(TypeError):
        counted.byStatus["working"] = 0  # type: ignore[index]
    # A snapshot: a task ending later changes the next one only.
    task = next(t for t in tasks.store if t.status == "working")
    tasks.cancel(task)
    assert counted.count("working") == 2
    after = gw.readModel.status("/nonexistent-proc").tasks
    assert after is not None and (after.count("working"), after.count("cancelled")) == (1, 1)


def test_a_gateway_that_serves_no_tasks_has_none_in_its_snapshot() -> None:
    gw, _ = gateway()
    assert gw.readModel.status("/nonexistent-proc").tasks is None
