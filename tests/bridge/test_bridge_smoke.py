"""Fresh-user smoke-test findings about the bridge: several
bridges started at once with no gateway running (Claude Desktop starts every
server together) all serve once the gateway one of them started answers
(item 4); a bridge that finds no gateway names the state directory it
looked in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs

from mcpgateway.bridge.client import BridgeClient
from mcpgateway.bridge.framing import parseLine
from mcpgateway.bridge.link import LinkState
from mcpgateway.bridge.main import makeBridge, startingElsewhere
from mcpgateway.bridge.options import BridgeOptions
from mcpgateway.ops.statedir import InstanceLock
from tests.bridge.fakehttp import URL
from tests.fakes import FakeProcessReactor
from tests.http import initializeMessage
from tests.remote.fakehttp import FakeAgent, FakeResponse

HOME = "state directory /home/u/.mcpgateway"
INIT = initializeMessage(clientInfo={"name": "c"}, requestId=0)
BUSY = (
    "`mcpgateway start` failed (exit status 1): mcpgateway: another gateway is running on"
    " state directory /home/u/.mcpgateway (pid ?, port ?)"
)


class StateDir:
    """What every bridge on one state directory sees: its state.json (the
    URL once the gateway wrote it) and whether its lock is held."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.locked = False


class Bridge:
    def __init__(
        self,
        clock: Clock,
        home: StateDir,
        start: Any,
        timeout: float = 60.0,
    ) -> None:
        self.agent = FakeAgent()
        self.out: list[bytes] = []
        self.client = BridgeClient(
            clock,
            self.agent,
            lambda: home.url,
            self.out.append,
            start=start,
            starting=lambda: home.locked,
            where=HOME,
            timeout=timeout,
        )

    def initialize(self) -> None:
        self.client.connect()
        for outgoing in parseLine(json.dumps(INIT).encode()).messages:
            self.client.send(outgoing)

    def received(self) -> list[Any]:
        out, self.out[:] = list(self.out), []
        return [json.loads(line) for line in out]


def test_bridges_started_together_all_wait_for_the_one_gateway() -> None:
    clock = Clock()
    home = StateDir()
    first: Deferred[str | None] = Deferred()

    def firstStart() -> Deferred[str | None]:
        home.locked = True  # its gateway took the lock, is starting
        return first

    def busyStart() -> Deferred[str | None]:
        assert home.locked
        return succeed(BUSY)

    a = Bridge(clock, home, firstStart)
    others = [Bridge(clock, home, busyStart) for _ in range(3)]
    with capturedLogs() as events:
        a.initialize()
        clock.advance(0)
        for bridge in others:
            bridge.initialize()
            clock.advance(0)
        clock.advance(1.0)  # the gateway is still starting
    for bridge in [a, *others]:
        assert bridge.received() == []  # nobody was told it failed
        assert [s for s in bridge.agent.take() if s.method == b"POST"] == []
    assert any("waiting for it" in str(e.get("log_format")) for e in events)

    home.url = URL  # state.json written; the start of the first bridge returns
    first.callback(None)
    clock.advance(2.0)  # the next probe of each
    for bridge in [a, *others]:
        probes = bridge.agent.take()
        assert probes and all(p.uri == b"http://127.0.0.1:9100/health" for p in probes)
        probes[-1].answer(FakeResponse(200, b"{}"))
        assert bridge.client.state is LinkState.UP
        post = bridge.agent.one(b"POST")
        assert post.json == INIT
        assert bridge.received() == []


def test_waiting_for_another_gateway_is_bounded_by_the_timeout() -> None:
    clock = Clock()
    home = StateDir()
    home.locked = True  # a gateway is starting, forever
    bridge = Bridge(clock, home, lambda: succeed(BUSY), timeout=5.0)
    with capturedLogs():
        bridge.initialize()
        clock.advance(0)
        clock.advance(4.9)
        assert bridge.received() == []
        clock.advance(0.2)
    [error] = bridge.received()
    message = error["error"]["message"]
    assert error["id"] == 0
    assert f"no gateway is running on {HOME}" in message
    assert "another gateway was starting there" in message and "gave up after 5 s" in message


def test_the_other_gateway_stopping_without_serving_answers_at_once() -> None:
    clock = Clock()
    home = StateDir()
    home.locked = True
    bridge = Bridge(clock, home, lambda: succeed(BUSY))
    with capturedLogs():
        bridge.initialize()
        clock.advance(0)
        clock.advance(0.5)
        assert bridge.received() == []
        home.locked = False  # its start failed: the lock is free, no state.json
        clock.advance(2.0)
    [error] = bridge.received()
    assert "another start was making on " + HOME in error["error"]["message"]
    assert "stopped without serving" in error["error"]["message"]


def test_a_start_that_fails_for_itself_still_answers_at_once() -> None:
    clock = Clock()
    home = StateDir()
    bridge = Bridge(clock, home, lambda: succeed("`mcpgateway start` failed: bad config"))
    with capturedLogs():
        bridge.initialize()
        clock.advance(0)
    [error] = bridge.received()
    assert error["error"]["message"] == (
        f"mcpgateway bridge: no gateway is running on {HOME} and it could not be"
        " started: `mcpgateway start` failed: bad config"
    )


def test_no_gateway_names_the_state_directory() -> None:
    """--no-start, nothing running: the error says where the bridge looked,
    not 'the gateway at (no gateway running) is not reachable (no gateway is
    running)'."""
    clock = Clock()
    home = StateDir()
    bridge = Bridge(clock, home, None, timeout=3.0)
    bridge.initialize()
    clock.advance(0)
    clock.advance(3.0)
    [error] = bridge.received()
    assert error["error"]["message"] == (
        f"mcpgateway bridge: no gateway is running on {HOME}; gave up after 3 s"
    )


def test_the_real_bridge_asks_the_state_directory_lock(tmp_path: Path) -> None:
    options = BridgeOptions(target="memory", stateDir=tmp_path)
    starting = startingElsewhere(options)
    assert not starting()
    lock = InstanceLock(tmp_path)
    lock.acquire()
    try:
        assert starting()
    finally:
        lock.release()
    assert not starting()
    bridge = makeBridge(FakeProcessReactor(), options)
    assert bridge.client.finder.starting is not None and bridge.client.link.lookedIn == (
        f"state directory {tmp_path}"
    )
    byUrl = makeBridge(FakeProcessReactor(), BridgeOptions(target=URL, stateDir=tmp_path))
    assert byUrl.client.finder.starting is None and byUrl.client.link.lookedIn is None
