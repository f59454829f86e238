"""What C{/health} and C{/metrics} show to whom (web/pages/liveness.py): a gateway
that requires tokens shows a caller without an admin's token only that it
lives; an admin's token or the C{--api-token} shows everything;
C{--public-health} shows every caller the figures, never a child's stderr;
a loopback gateway without tokens shows everything, as it always has, and
counts the calls waiting for a person's yes. And an MCP path no aggregate
endpoint answers is authenticated before it is looked up."""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IRequest
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.httpbase.principal import Verdict
from mcpgateway.web.pages.liveness import (
    LIVENESS_HINT,
    LIVENESS_METRICS,
    HealthVisibility,
    ProbeAccess,
)
from tests.http import Harness
from tests.support.web.approvals import ApprovalsSite
from tests.support.web.health_callers import healthOfEachCaller
from tests.support.web.team_web import LEAK, MISSING, PRINCIPALS, TeamHarness, crashWithStderr

LIVENESS = {"status": "ok", "detail": "liveness", "hint": LIVENESS_HINT}


def test_a_team_gateway_shows_a_caller_without_an_admins_token_only_that_it_lives() -> None:
    h = TeamHarness()
    crashWithStderr(h)
    for who, response in healthOfEachCaller(h):
        assert response.status == 200, who
        assert response.json() == LIVENESS, who
        for name in (b"srv", b"other", b"key-alice", b"version", b"pid", LEAK):
            assert name not in response.body, (who, name)


def test_an_admins_token_shows_the_whole_health_body_now_or_later() -> None:
    h = TeamHarness()
    crashWithStderr(h)
    root = h.as_("root", "GET", "/health").json()
    assert "detail" not in root and set(root["servers"]) == {"srv", "other"}
    assert root["auth"] == {"mode": "on"} and isinstance(root["pid"], int)
    later = h.as_("slow", "GET", "/health")
    assert not later.complete
    h.gate.pending.pop().callback(PRINCIPALS["root"])
    assert LEAK in later.body and set(later.json()["servers"]) == {"srv", "other"}


def test_the_metrics_of_a_team_gateway_are_one_gauge_without_an_admins_token() -> None:
    h = TeamHarness()
    h.open("alice")
    for who in (None, "alice", "nobody"):
        response = h.request("GET", "/metrics") if who is None else h.as_(who, "GET", "/metrics")
        assert response.status == 200, who
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert response.body == LIVENESS_METRICS, who
    full = h.as_("root", "GET", "/metrics").body.decode()
    assert 'server="srv"' in full and "mcpgateway_build_info" in full
    later = h.as_("slow", "GET", "/metrics")
    h.gate.pending.pop().callback(PRINCIPALS["root"])
    assert b'server="srv"' in later.body
    head = h.request("HEAD", "/metrics")
    assert head.status == 200
    assert h.request("POST", "/metrics", {}).status == 405  # the management app's answer


def test_public_health_shows_every_caller_the_figures_but_never_a_childs_stderr() -> None:
    h = TeamHarness(publicHealth=True)
    crashWithStderr(h)
    for who in (None, "alice", "nobody"):
        response = h.request("GET", "/health") if who is None else h.as_(who, "GET", "/health")
        body = response.json()
        assert body["detail"] == "hidden" and set(body["servers"]) == {"srv", "other"}, who
        assert LEAK not in response.body, who
        metrics = h.request("GET", "/metrics") if who is None else h.as_(who, "GET", "/metrics")
        assert b'server="srv"' in metrics.body, who
    assert LEAK in h.as_("root", "GET", "/health").body


def test_a_loopback_gateway_without_tokens_shows_everything_as_before() -> None:
    h = Harness()
    h.initialize()
    health = h.request("GET", "/health").json()
    assert "detail" not in health and "srv" in health["servers"]
    assert b'server="srv"' in h.request("GET", "/metrics").body


def test_health_counts_the_calls_waiting_for_a_persons_yes() -> None:
    """C{"approvals"}: the calls held and not decided, expired or used; 0
    while no call was ever held (the store not made); absent from a site
    given no held calls."""
    h = ApprovalsSite(api=False)

    def held() -> Any:
        return h.request("GET", "/health").json()["approvals"]

    assert held() == {"pending": 0}
    first = h.hold()
    h.hold({"repo": "me/other"})
    assert held() == {"pending": 2}
    h.store.deny(first.id, "owner")
    assert held() == {"pending": 1}
    h.reactor.advance(15 * 60 + 1)
    assert held() == {"pending": 0}  # expired: it waits no more
    unmade = ApprovalsSite(api=False, wired=False)
    assert unmade.request("GET", "/health").json()["approvals"] == {"pending": 0}
    assert "approvals" not in Harness().request("GET", "/health").json()


def test_an_unknown_aggregate_endpoint_or_key_is_401_to_a_caller_without_a_token() -> None:
    """No oracle on the aggregate paths either: without a valid token an
    aggregate endpoint or a workspace key that does not exist answers as
    one that does (401); with one, it is 404."""
    h = TeamHarness()
    for path in ("/mcp", "/mcp/nosuch", "/mcp~abcdefghijklmnop", "/mcp~abcdefghijklmnop/x"):
        response = h.request("POST", path, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status == 401, (path, response.body)
        assert response.json()["error"]["message"] == "this gateway needs a bearer token"
    unknown = h.as_("alice", "POST", "/mcp/nosuch", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert unknown.status == 404
    assert "no such aggregate endpoint" in unknown.json()["error"]["message"]


class FakeChecks:
    """A gate whose verdict the test sets."""

    def __init__(self, verdict: Verdict | Deferred[Verdict]) -> None:
        self.verdict = verdict
        self.asked = 0

    def check(self, request: Any, server: str | None) -> Verdict | Deferred[Verdict]:
        self.asked += 1
        return self.verdict


def request(authorization: str | None = None, host: str = "127.0.0.1:9100") -> IRequest:
    made = DummyRequest([b"health"])
    made.requestHeaders.setRawHeaders(b"host", [host.encode()])
    if authorization is not None:
        made.requestHeaders.setRawHeaders(b"authorization", [authorization.encode()])
    return cast(IRequest, made)


class ProbeAccessTests(SynchronousTestCase):
    def test_without_a_gate_a_loopback_caller_sees_everything(self) -> None:
        access = ProbeAccess(None, loopbackOnly=True)
        self.assertIs(access.shown(request()), HealthVisibility.EVERYTHING)
        self.assertIs(access.shown(request("Bearer x")), HealthVisibility.EVERYTHING)

    def test_without_a_gate_off_loopback_the_figures_only(self) -> None:
        access = ProbeAccess(None, loopbackOnly=False)
        self.assertIs(access.shown(request()), HealthVisibility.FIGURES)
        self.assertIs(access.shown(request("Bearer x")), HealthVisibility.FIGURES)

    def test_with_a_gate_a_caller_without_a_token_is_not_even_checked(self) -> None:
        gate = FakeChecks(PRINCIPALS["root"])
        access = ProbeAccess(gate, loopbackOnly=True)
        self.assertIs(access.shown(request()), HealthVisibility.LIVENESS)
        self.assertEqual(gate.asked, 0)

    def test_with_a_gate_each_verdict(self) -> None:
        for verdict, public, expected in (
            (PRINCIPALS["root"], False, HealthVisibility.EVERYTHING),
            (PRINCIPALS["alice"], False, HealthVisibility.LIVENESS),
            (MISSING, False, HealthVisibility.LIVENESS),
            (PRINCIPALS["root"], True, HealthVisibility.EVERYTHING),
            (PRINCIPALS["alice"], True, HealthVisibility.FIGURES),
            (MISSING, True, HealthVisibility.FIGURES),
        ):
            access = ProbeAccess(FakeChecks(verdict), loopbackOnly=False, publicHealth=public)
            self.assertIs(access.shown(request("Bearer t")), expected, (verdict, public))

    def test_a_verdict_that_comes_later(self) -> None:
        waiting: Deferred[Verdict] = Deferred()
        access = ProbeAccess(FakeChecks(waiting), loopbackOnly=False)
        shown = access.shown(request("Bearer t"))
        assert isinstance(shown, Deferred)
        self.assertNoResult(shown)
        waiting.callback(PRINCIPALS["root"])
        self.assertIs(self.successResultOf(shown), HealthVisibility.EVERYTHING)

    def test_the_api_token_shows_everything_without_asking_the_gate(self) -> None:
        gate = FakeChecks(MISSING)
        access = ProbeAccess(gate, loopbackOnly=False, apiToken=lambda r: True)
        self.assertIs(access.shown(request("Bearer api")), HealthVisibility.EVERYTHING)
        self.assertEqual(gate.asked, 0)

    def test_a_gate_hides_even_from_a_loopback_host(self) -> None:
        access = ProbeAccess(FakeChecks(MISSING), loopbackOnly=True)
        self.assertIs(access.shown(request(host="localhost")), HealthVisibility.LIVENESS)


def test_the_liveness_metrics_parse_as_prometheus_text() -> None:
    lines = LIVENESS_METRICS.decode().splitlines()
    assert lines[0].startswith("# HELP mcpgateway_up ")
    assert lines[1:] == ["# TYPE mcpgateway_up gauge", "mcpgateway_up 1"]
