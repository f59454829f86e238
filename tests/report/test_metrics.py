"""C{GET /metrics}: the Prometheus text format of the gateway's state, read
back with C{prometheus_client}'s parser, after real traffic through the Site
with fake children and a fake clock."""

from __future__ import annotations

import os
import platform
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

import twisted
from mcpgateway import __version__
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.stats import BUCKETS
from mcpgateway.core.status import GatewayStatus
from mcpgateway.protocol import jsonrpc
from mcpgateway.report import exposition, metrics
from mcpgateway.report.health import healthBody
from mcpgateway.report.metrics import CONTENT_TYPE, renderMetrics, renderStatus
from tests.core.tasks.support import keptTasks, serveTasks
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec
from tests.support.core.pools.pool import serverPoolOf
from tests.support.report.era2026 import ERA2026_STATS
from tests.support.report.status import gatewayStatus
from tests.support.web.health import SERVER
from tests.support.web.mcpcall import call

PAGE = os.sysconf("SC_PAGE_SIZE")
FAMILIES = {
    "mcpgateway_requests": "counter",
    "mcpgateway_request_duration_seconds": "histogram",
    "mcpgateway_requests_in_flight": "gauge",
    "mcpgateway_sessions": "gauge",
    "mcpgateway_children": "gauge",
    "mcpgateway_child_restarts": "counter",
    "mcpgateway_child_failures": "counter",
    "mcpgateway_circuit_state": "gauge",
    "mcpgateway_server_state": "gauge",
    "mcpgateway_late_replies": "counter",
    "mcpgateway_server_requests_refused_ambiguous": "counter",
    "mcpgateway_child_bytes_received": "counter",
    "mcpgateway_child_bytes_sent": "counter",
    "mcpgateway_child_resident_bytes": "gauge",
    "mcpgateway_server_children": "gauge",
    "mcpgateway_scope_sessions": "gauge",
    "mcpgateway_pool_waits": "counter",
    "mcpgateway_pool_wait_timeouts": "counter",
    "mcpgateway_pool_evictions": "counter",
    "mcpgateway_server_promoted": "gauge",
    "mcpgateway_server_catalog_startups": "counter",
    "mcpgateway_server_catalog_answers": "counter",
    "mcpgateway_era2026_served": "gauge",
    "mcpgateway_era2026_requests": "counter",
    "mcpgateway_era2026_suspended_calls": "gauge",
    "mcpgateway_era2026_input_rounds": "counter",
    "mcpgateway_era2026_input_expired": "counter",
    "mcpgateway_era2026_bad_request_states": "counter",
    "mcpgateway_era2026_listen_streams": "gauge",
    # the same families under their older names, written until dashboards move
    "mcpgateway_modern_served": "gauge",
    "mcpgateway_modern_requests": "counter",
    "mcpgateway_modern_suspended_calls": "gauge",
    "mcpgateway_modern_input_rounds": "counter",
    "mcpgateway_modern_input_expired": "counter",
    "mcpgateway_modern_bad_request_states": "counter",
    "mcpgateway_modern_listen_streams": "gauge",
    "mcpgateway_gateway_resident_bytes": "gauge",
    "mcpgateway_gateway_uptime_seconds": "gauge",
    "mcpgateway_gateway_info": "gauge",
    "mcpgateway_build_info": "gauge",
    "mcp_server_operation_duration_seconds": "histogram",
    "mcp_client_operation_duration_seconds": "histogram",
    "mcp_server_session_duration_seconds": "histogram",
    "mcpgateway_session_limit": "counter",
}
"""Every family, as the parser names it (counters without C{_total})."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(h: Harness, procRoot: Path | str = "/nonexistent-proc") -> Samples:
    """Every sample of the gateway's metrics, keyed by name and labels."""
    text = renderMetrics(h.gateway, str(procRoot)).decode("utf-8")
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, f"duplicate sample {key}"
            out[key] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def lastForwarded(h: Harness, index: int = -1) -> dict[str, Any]:
    message: dict[str, Any] = h.process(index).sentMessages()[-1]
    return message


def traffic() -> tuple[Harness, str, str]:
    """A stateless C{srv} (timeout 5 s) and a stateful C{st}, after: one ok
    call taking 0.3 s, one error (an unknown method), one timeout followed by
    the late reply, one cancelled call, one child exit and the restart, one ok
    call on the fresh child, and one session on C{st}. Returns the harness
    and the two session ids."""
    h = Harness({"srv": spec("srv", timeout=5.0), "st": spec("st", mode="stateful")})
    sid = h.initialize()
    ok = call(h, sid, 2)
    h.reactor.advance(0.3)
    h.process().reply({"jsonrpc": "2.0", "id": lastForwarded(h)["id"], "result": {}})
    assert ok.events()[0]["result"] == {}

    error = call(h, sid, 3, method="custom/thing")
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "id": lastForwarded(h)["id"],
            "error": {"code": -32601, "message": "no such method"},
        }
    )
    assert error.events()[0]["error"]["code"] == -32601

    timedOut = call(h, sid, 4)
    lateId = lastForwarded(h)["id"]
    h.reactor.advance(5.0)
    assert timedOut.events()[0]["error"]["code"] == -32001
    h.process().reply({"jsonrpc": "2.0", "id": lateId, "result": {}})  # late: dropped

    cancelled = call(h, sid, 5)
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}},
        session=sid,
    )
    assert response.status == 202 and cancelled.complete

    exited = call(h, sid, 6)
    h.process().exit(2)
    assert exited.events()[0]["error"]["code"] == jsonrpc.CHILD_EXITED

    again = call(h, sid, 7)
    h.reactor.advance(1.0)  # the restart backoff
    h.answerHandshake()
    h.process().reply({"jsonrpc": "2.0", "id": lastForwarded(h)["id"], "result": {}})
    *told, answer = again.events()  # the session is told once that the child is new
    assert [m["method"] for m in told] == ["notifications/message"]
    assert answer["result"] == {"_meta": {NOTICE_KEY: True}}

    stateful = h.initialize("st")
    return h, sid, stateful


# -- values --------------------------------------------------------------------


def test_requests_by_server_method_and_outcome() -> None:
    h, _, _ = traffic()
    samples = scrape(h)
    requests = {
        (dict(labels)["server"], dict(labels)["method"], dict(labels)["outcome"]): v
        for (name, labels), v in samples.items()
        if name == "mcpgateway_requests_total"
    }
    outcomes = ("ok", "error", "timeout", "child_exit", "cancelled")
    expected = {("srv", "tools/call", o): 0.0 for o in outcomes}
    expected |= {("srv", "other", o): 0.0 for o in outcomes}
    expected |= {("st", "initialize", o): 0.0 for o in outcomes}
    expected |= {
        ("srv", "tools/call", "ok"): 2.0,
        ("srv", "tools/call", "timeout"): 1.0,
        ("srv", "tools/call", "cancelled"): 1.0,
        ("srv", "tools/call", "child_exit"): 1.0,
        ("srv", "other", "error"): 1.0,
        ("st", "initialize", "ok"): 1.0,
    }
    assert requests == expected


def test_latency_histogram_is_cumulative_with_inf_sum_and_count() -> None:
    h, _, _ = traffic()
    samples = scrape(h)
    buckets = {
        dict(labels)["le"]: v
        for (name, labels), v in samples.items()
        if name == "mcpgateway_request_duration_seconds_bucket" and ("server", "srv") in labels
    }
    # six requests: four ended at once, one after 0.3 s, the timeout after 5 s
    expected = {repr(float(b)): 4.0 for b in BUCKETS if b < 0.3}
    expected |= {repr(float(b)): 5.0 for b in BUCKETS if 0.3 <= b < 5.0}
    expected |= {repr(float(b)): 6.0 for b in BUCKETS if b >= 5.0}
    expected["+Inf"] = 6.0
    assert buckets == expected
    assert value(samples, "mcpgateway_request_duration_seconds_count", server="srv") == 6
    assert value(samples, "mcpgateway_request_duration_seconds_sum", server="srv") == pytest.approx(
        5.3
    )
    assert value(samples, "mcpgateway_request_duration_seconds_bucket", server="st", le="+Inf") == 1
    assert value(samples, "mcpgateway_request_duration_seconds_count", server="st") == 1


def test_children_restarts_failures_and_states() -> None:
    h, _, _ = traffic()
    samples = scrape(h)
    for name, srv, st in [
        ("mcpgateway_sessions", 1, 1),
        ("mcpgateway_children", 1, 1),
        ("mcpgateway_requests_in_flight", 0, 0),
        ("mcpgateway_child_restarts_total", 1, 0),
        ("mcpgateway_child_failures_total", 1, 0),
        ("mcpgateway_late_replies_total", 1, 0),
        ("mcpgateway_server_requests_refused_ambiguous_total", 0, 0),
    ]:
        assert value(samples, name, server="srv") == srv, name
        assert value(samples, name, server="st") == st, name
    assert {
        s
        for s in ("closed", "open", "half-open")
        if value(samples, "mcpgateway_circuit_state", server="srv", state=s)
    } == {"closed"}
    states = ("stopped", "starting", "running", "degraded", "error", "restarting", "disabled")
    current = {
        server: [
            s for s in states if value(samples, "mcpgateway_server_state", server=server, state=s)
        ]
        for server in ("srv", "st")
    }
    assert current == {"srv": ["degraded"], "st": ["running"]}  # a failure in the last 5 min


def test_in_flight_and_open_circuit() -> None:
    h = Harness()
    sid = h.initialize()
    call(h, sid, 2)
    call(h, sid, 3)
    assert value(scrape(h), "mcpgateway_requests_in_flight", server="srv") == 2
    for _ in range(5):  # five failures within five minutes open the circuit
        h.process().exit(1)
        h.reactor.advance(10.0)  # past the backoff (1, 2, 4, 8 s), within the cool-down
        if serverPoolOf(h.gateway.pools["srv"]).breaker.state == "closed":
            h.answerHandshake()
    samples = scrape(h)
    assert value(samples, "mcpgateway_requests_in_flight", server="srv") == 0
    assert value(samples, "mcpgateway_child_failures_total", server="srv") == 5
    assert value(samples, "mcpgateway_circuit_state", server="srv", state="open") == 1
    assert value(samples, "mcpgateway_circuit_state", server="srv", state="closed") == 0
    assert value(samples, "mcpgateway_server_state", server="srv", state="error") == 1
    assert value(samples, "mcpgateway_children", server="srv") == 0
    h.reactor.advance(60.0)
    samples = scrape(h)
    assert value(samples, "mcpgateway_circuit_state", server="srv", state="half-open") == 1
    assert value(samples, "mcpgateway_circuit_state", server="srv", state="open") == 0


def test_bytes_count_exited_and_running_children_once(monkeypatch: pytest.MonkeyPatch) -> None:
    received: Counter[int] = Counter()
    stdout = FakeProcess.stdout

    def counting(self: FakeProcess, data: bytes) -> None:
        received[self.originalPid] += len(data)
        stdout(self, data)

    monkeypatch.setattr(FakeProcess, "stdout", counting)
    h, _, _ = traffic()
    samples = scrape(h)
    for server, pids in [("srv", (1000, 1001)), ("st", (1002,))]:  # 1000 exited
        sent = sum(
            len(data) for p in h.reactor.processes if p.originalPid in pids for data in p.written
        )
        assert sent > 0 and received[pids[0]] > 0
        assert value(samples, "mcpgateway_child_bytes_sent_total", server=server) == sent
        assert value(samples, "mcpgateway_child_bytes_received_total", server=server) == sum(
            received[pid] for pid in pids
        )


def test_resident_memory_of_children_and_gateway_from_proc(tmp_path: Path) -> None:
    h = Harness({"st": spec("st", mode="stateful"), "idle": spec("idle")})
    h.initialize("st")
    h.initialize("st")
    h.initialize("st")
    first, second, _ = (p.originalPid for p in h.reactor.processes)
    for pid, resident in [(first, 250), (second, 100), ("self", 9000)]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "statm").write_text(f"5000 {resident} 80 10 0 400 0\n")
    samples = scrape(h, tmp_path)
    # the third child has no statm: it is left out of the sum
    assert value(samples, "mcpgateway_child_resident_bytes", server="st") == 350 * PAGE
    assert value(samples, "mcpgateway_child_resident_bytes", server="idle") == 0  # no children
    assert value(samples, "mcpgateway_gateway_resident_bytes") == 9000 * PAGE
    assert value(samples, "mcpgateway_children", server="st") == 3

    samples = scrape(h, tmp_path / "missing")
    names = {name for name, _ in samples}
    assert "mcpgateway_gateway_resident_bytes" not in names
    assert ("mcpgateway_child_resident_bytes", frozenset({("server", "st")})) not in samples


def test_gateway_uptime_and_info() -> None:
    h = Harness()
    h.reactor.advance(42.5)
    samples = scrape(h)
    assert value(samples, "mcpgateway_gateway_uptime_seconds") == 42.5
    assert value(samples, "mcpgateway_gateway_info", version=__version__) == 1


def test_a_server_never_used_has_its_series_at_zero() -> None:
    h = Harness()
    samples = scrape(h)
    assert not [k for k in samples if k[0] == "mcpgateway_requests_total"]
    assert (
        value(samples, "mcpgateway_request_duration_seconds_bucket", server="srv", le="+Inf") == 0
    )
    assert value(samples, "mcpgateway_server_state", server="srv", state="stopped") == 1
    assert value(samples, "mcpgateway_children", server="srv") == 0


# -- format --------------------------------------------------------------------

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"'
SAMPLE_LINE = re.compile(
    rf"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{{{LABEL}(,{LABEL})*\}})?"
    r" (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[+-]Inf|NaN)"
)
"""A sample line as the Prometheus text format allows it (label values escaped)."""


def test_every_family_has_help_and_type_before_its_samples() -> None:
    h, _, _ = traffic()
    text = renderMetrics(h.gateway, "/nonexistent-proc").decode("utf-8")
    assert text.endswith("\n")
    families = list(text_string_to_metric_families(text))
    assert {f.name: f.type for f in families} == FAMILIES
    assert all(f.documentation for f in families)
    # The parser is lax; check the lines themselves as well.
    seen: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split(" ")[2]
            assert current not in seen
            seen.append(current)
        elif line.startswith("# TYPE "):
            assert line.split(" ")[2] == current
        else:
            match = SAMPLE_LINE.fullmatch(line)
            assert match, line
            name = match["name"]
            assert name == current or (
                name[len(current) :] in ("_bucket", "_sum", "_count") and name.startswith(current)
            ), line
    assert len(seen) == len(FAMILIES)


def test_content_type() -> None:
    assert CONTENT_TYPE == b"text/plain; version=0.0.4; charset=utf-8"


def test_label_values_are_escaped() -> None:
    name = 'we"ird\\na\nme'
    reactor = FakeProcessReactor()
    gateway = Gateway({name: spec(name)}, fakeSpawner(reactor), lazyStart=False)
    text = renderMetrics(gateway, "/nonexistent-proc").decode("utf-8")
    assert 'server="we\\"ird\\\\na\\nme"' in text
    assert all(SAMPLE_LINE.fullmatch(line) for line in text.splitlines() if line[0] != "#")
    servers = {
        s.labels["server"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if "server" in s.labels
    }
    assert servers == {name}


def test_help_text_is_escaped() -> None:
    family = exposition.MetricFamily("x", "gauge", 'a\\b\nc "d"')
    family.add((), 1)
    text = "\n".join(family.render()) + "\n"
    assert text.splitlines()[0] == '# HELP x a\\\\b\\nc "d"'
    [parsed] = text_string_to_metric_families(text)
    assert parsed.documentation == 'a\\b\nc "d"'


def test_float_values() -> None:
    assert exposition.formatValue(float("inf")) == "+Inf"
    assert exposition.formatValue(float("-inf")) == "-Inf"
    assert exposition.formatValue(float("nan")) == "NaN"
    assert exposition.formatValue(0.25) == "0.25"
    assert exposition.formatValue(1.0) == "1.0"
    assert exposition.formatValue(7) == "7"


def test_no_session_id_tool_name_or_argument_in_any_label() -> None:
    h, sid, stateful = traffic()
    secret = call(h, sid, 9, params={"name": "tool-XYZZY", "arguments": {"q": "arg-PLUGH"}})
    [pid] = [u.pid for u in cast(ServerPool, h.gateway.pools["srv"]).upstreams()]
    assert pid is not None
    srvChild = [p.originalPid for p in h.reactor.processes].index(pid)
    h.process(srvChild).reply(
        {"jsonrpc": "2.0", "id": lastForwarded(h, srvChild)["id"], "result": {}}
    )
    assert secret.complete
    call(h, sid, 10, method="vendor/method-FROBOZZ")  # left in flight
    text = renderMetrics(h.gateway, "/nonexistent-proc").decode("utf-8")
    for needle in ("XYZZY", "PLUGH", "FROBOZZ", sid, stateful, sid[:8], stateful[:8]):
        assert needle not in text
    labels = {
        (k, v)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        for k, v in s.labels.items()
    }
    assert {k for k, _ in labels} == {
        "server",
        "method",
        "outcome",
        "le",
        "state",
        "version",
        "scope",
        "scope_key",
        "mcp_method_name",
        "python",
        "twisted",
        "limit",
    }
    assert {v for k, v in labels if k == "limit"} == {"gateway", "principal"}
    assert {v for k, v in labels if k == "mcp_method_name"} <= {"initialize", "tools/call", "other"}
    assert {v for k, v in labels if k == "scope"} <= {
        "global",
        "workspace",
        "credential",
        "session",
    }
    assert {v for k, v in labels if k == "scope_key"} <= {"global"}
    assert {v for k, v in labels if k == "method"} == {"tools/call", "other", "initialize"}


def test_refused_ambiguous_server_requests_counted() -> None:
    """A child's sampling request while two sessions are in
    flight is refused, and /metrics and /health count it."""
    h = Harness({"srv": spec("srv")})
    # Both can sample: which one the request is for is what is unproven.
    a, b = h.initialize(capabilities={"sampling": {}}), h.initialize(capabilities={"sampling": {}})
    call(h, a, 1)
    call(h, b, 1)
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "id": 77,
            "method": "sampling/createMessage",
            "params": {"messages": [], "maxTokens": 1},
        }
    )
    [refusal] = [m for m in h.process().sentMessages() if m.get("id") == 77]
    assert refusal["error"]["code"] == jsonrpc.INTERNAL_ERROR
    assert value(scrape(h), "mcpgateway_server_requests_refused_ambiguous_total", server="srv") == 1
    health = healthBody(h.gateway.readModel.status())["servers"]["srv"]
    assert health["ambiguousServerRequests"] == 1
    assert "per session" in health["warning"]


def test_era2026_serving_per_server() -> None:
    stats = ERA2026_STATS
    served = replace(SERVER, era2026Stats=stats)
    refused = replace(SERVER, name="old", era2026='its entry says "era2026": false')
    status = gatewayStatus({"mem": served, "old": refused})
    text = renderStatus(status, lambda pid: None).decode("utf-8")
    samples = {
        (s.name, s.labels.get("server")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("mcpgateway_era2026_")
    }
    assert samples == {
        ("mcpgateway_era2026_served", "mem"): 1,
        ("mcpgateway_era2026_served", "old"): 0,
        ("mcpgateway_era2026_requests_total", "mem"): 9,
        ("mcpgateway_era2026_requests_total", "old"): 0,
        ("mcpgateway_era2026_suspended_calls", "mem"): 5,
        ("mcpgateway_era2026_suspended_calls", "old"): 0,
        ("mcpgateway_era2026_input_rounds_total", "mem"): 3,
        ("mcpgateway_era2026_input_rounds_total", "old"): 0,
        ("mcpgateway_era2026_input_expired_total", "mem"): 1,
        ("mcpgateway_era2026_input_expired_total", "old"): 0,
        ("mcpgateway_era2026_bad_request_states_total", "mem"): 2,
        ("mcpgateway_era2026_bad_request_states_total", "old"): 0,
        ("mcpgateway_era2026_listen_streams", "mem"): 4,
        ("mcpgateway_era2026_listen_streams", "old"): 0,
    }
    older = {
        (
            s.name.replace("mcpgateway_modern_", "mcpgateway_era2026_"),
            s.labels.get("server"),
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("mcpgateway_modern_")
    }
    assert older == samples  # the older names, sample for sample
    assert "# HELP mcpgateway_modern_served Deprecated: the older name of" in text


def test_convention_histograms_by_method_and_outcome() -> None:
    """mcp.server/client.operation.duration on /metrics: the gateway's side
    (from receiving to answering) and the child's side, by server, method
    and outcome; a session that ended in mcp_server_session_duration_seconds."""
    h, sid, _ = traffic()
    samples = scrape(h)
    client = "mcp_client_operation_duration_seconds"
    served = "mcp_server_operation_duration_seconds"
    ok = {"server": "srv", "mcp_method_name": "tools/call", "outcome": "ok"}
    assert value(samples, client + "_count", **ok) == 2
    assert value(samples, served + "_count", **ok) == 2
    assert value(samples, client + "_bucket", le="0.25", **ok) == 1  # the 0.3 s call is above
    assert value(samples, client + "_bucket", le="0.5", **ok) == 2
    assert value(samples, client + "_sum", **ok) == pytest.approx(0.3)
    other = {"server": "srv", "mcp_method_name": "other", "outcome": "error"}
    assert value(samples, client + "_count", **other) == 1
    assert value(samples, served + "_count", **other) == 1
    timeout = {"server": "srv", "mcp_method_name": "tools/call", "outcome": "timeout"}
    assert value(samples, client + "_count", **timeout) == 1
    answeredWithError = {"server": "srv", "mcp_method_name": "tools/call", "outcome": "error"}
    assert value(samples, served + "_count", **answeredWithError) == 2  # the timeout, the exit
    cancelled = {"server": "srv", "mcp_method_name": "tools/call", "outcome": "cancelled"}
    assert value(samples, served + "_count", **cancelled) == 1
    h.reactor.advance(12)
    assert h.request("DELETE", "/srv/mcp", session=sid).status == 200
    after = scrape(h)
    assert value(after, "mcp_server_session_duration_seconds_count", server="srv") == 1
    assert value(after, "mcp_server_session_duration_seconds_bucket", server="srv", le="10.0") == 0
    assert value(after, "mcp_server_session_duration_seconds_bucket", server="srv", le="+Inf") == 1


def test_build_info() -> None:
    h = Harness({"srv": spec("srv")})
    samples = scrape(h)
    assert (
        value(
            samples,
            "mcpgateway_build_info",
            version=__version__,
            python=platform.python_version(),
            twisted=twisted.__version__,
        )
        == 1
    )


def test_savings_lines_are_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """/metrics carries what L{mcpgateway.report.savings.savingsLines} writes
    for the status it renders (the savings gauges), after the families."""
    seen: list[GatewayStatus] = []

    def lines(status: GatewayStatus) -> list[str]:
        seen.append(status)
        return [
            "# HELP mcpgateway_processes_avoided p",
            "# TYPE mcpgateway_processes_avoided gauge",
            'mcpgateway_processes_avoided{server="srv"} 3',
        ]

    monkeypatch.setattr(metrics, "savingsLines", lines)
    h = Harness({"srv": spec("srv")})
    samples = scrape(h)
    assert value(samples, "mcpgateway_processes_avoided", server="srv") == 3
    assert len(seen) == 1 and "srv" in seen[0].servers


def test_the_tasks_by_state_and_the_tasks_made() -> None:
    h = Harness({"srv": spec("srv")})
    assert not any(name.startswith("mcpgateway_tasks") for name, _ in scrape(h))
    serveTasks(h.gateway, keptTasks(working=2, input_required=1, completed=5, failed=1))
    text = renderMetrics(h.gateway, "/nonexistent-proc").decode("utf-8")
    kinds = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert (kinds["mcpgateway_tasks"], kinds["mcpgateway_tasks_created"]) == ("gauge", "counter")
    assert "# HELP mcpgateway_tasks Tasks kept, by state" in text
    samples = scrape(h)
    assert {
        dict(labels)["state"]: n
        for (name, labels), n in samples.items()
        if name == "mcpgateway_tasks"
    } == {"working": 2, "input_required": 1, "completed": 5, "failed": 1, "cancelled": 0}
    assert value(samples, "mcpgateway_tasks_created_total") == 9
    # Bounded labels: the state only, never a task id, tool or principal.
    assert {
        key for (name, labels), _ in samples.items() if name.startswith("mcpgateway_tasks")
        for key, _ in labels
    } == {"state"}  # fmt: skip
