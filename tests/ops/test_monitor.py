"""The per-server watches: prewarm, idle stop, memory cap, health ping."""

from __future__ import annotations

from dataclasses import replace

from mcpgateway.core.gateway.gateway import GatewayService
from mcpgateway.ops.monitor import Monitor, MonitorService
from tests.http import Harness, spec


def harness(**fields: object) -> Harness:
    return Harness({"srv": replace(spec("srv"), **fields)})  # type: ignore[arg-type]


def lastExit(h: Harness) -> str | None:
    """How the server's last child ended, as C{/health} and C{status} say."""
    return h.gateway.readModel.status().servers["srv"].lastExit


def test_prewarm_starts_the_shared_child_with_the_service() -> None:
    h = harness(prewarm=True)
    assert h.reactor.processes == []
    GatewayService(h.gateway).startService()
    assert len(h.reactor.processes) == 1
    h.answerHandshake()
    assert h.gateway.pools["srv"].status(0).state == "running"


def test_without_prewarm_children_start_on_first_use() -> None:
    h = harness()
    GatewayService(h.gateway).startService()
    assert h.reactor.processes == []


def test_idle_shared_child_is_stopped_and_comes_back_on_the_next_request() -> None:
    h = harness(idleTimeout=300.0)
    sid = h.initialize()
    monitor = Monitor(h.gateway, h.reactor)
    h.reactor.advance(299)
    monitor.check()
    assert not h.process().stdinClosed
    h.reactor.advance(1)
    monitor.check()
    assert h.process().stdinClosed
    assert "idle-stop" in [e["kind"] for e in h.gateway.pools["srv"].events.recent()]
    assert lastExit(h) == "was stopped by the gateway: no traffic for 300 s"
    response = h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, session=sid
    )
    assert len(h.reactor.processes) == 2  # a fresh child, initialized first
    h.answerHandshake()
    forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/list"][-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"tools": []}})
    assert response.events() == [{"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}]


def test_a_request_in_flight_keeps_the_child() -> None:
    h = harness(idleTimeout=10.0)
    sid = h.initialize()
    h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}},
        session=sid,
    )
    h.reactor.advance(30)
    Monitor(h.gateway, h.reactor).check()
    assert not h.process().stdinClosed


def test_memory_cap_restarts_the_child() -> None:
    h = harness(maxRssMb=100.0)
    h.initialize()
    pid = h.process().pid
    usage = {pid: 99 * 1024 * 1024}
    monitor = Monitor(h.gateway, h.reactor, rss=usage.get)
    monitor.check()
    assert not h.process().stdinClosed
    usage[pid] = 101 * 1024 * 1024
    monitor.check()
    assert h.process().stdinClosed
    [event] = [e for e in h.gateway.pools["srv"].events.recent() if e["kind"] == "memory-cap"]
    assert "101 MB, over its 100 MB cap" in event["text"]
    assert lastExit(h) == "was stopped by the gateway: it used 101 MB, over its 100 MB cap"


def test_health_ping_kills_a_child_that_does_not_answer() -> None:
    h = harness(healthPing=60.0, requestTimeout=5.0)
    h.initialize()
    monitor = Monitor(h.gateway, h.reactor)
    h.reactor.advance(60)
    monitor.check()
    [ping] = [m for m in h.process().sentMessages() if m.get("method") == "ping"]
    assert isinstance(ping["id"], int)  # the gateway's own id
    monitor.check()  # no second ping while one is pending
    assert len([m for m in h.process().sentMessages() if m.get("method") == "ping"]) == 1
    h.reactor.advance(5)  # the ping times out
    assert h.process(0).signals == ["KILL"]
    assert lastExit(h) == "killed by the gateway: it did not answer a health ping"


def test_an_answered_ping_keeps_the_child() -> None:
    h = harness(healthPing=60.0)
    h.initialize()
    h.reactor.advance(60)
    Monitor(h.gateway, h.reactor).check()
    [ping] = [m for m in h.process().sentMessages() if m.get("method") == "ping"]
    h.process().reply({"jsonrpc": "2.0", "id": ping["id"], "result": {}})
    h.reactor.advance(120)
    assert h.process().signals == []


def test_the_service_checks_on_its_interval_and_survives_errors() -> None:
    h = harness()
    calls: list[int] = []
    monitor = Monitor(h.gateway, h.reactor)

    def check() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    monitor.check = check  # type: ignore[method-assign]
    service = MonitorService(monitor, h.reactor, interval=10)
    service.startService()
    h.reactor.advance(10)
    h.reactor.advance(10)
    assert len(calls) == 2
    service.stopService()
