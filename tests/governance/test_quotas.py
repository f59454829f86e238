"""The token buckets and daily quotas of L{mcpgateway.governance.quotas}."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.quotas import NO_QUOTAS, QuotaSet, parseQuotas
from mcpgateway.governance.quotas import DAY, CallFacts, CallQuotas, quotasOf, scopeOf


def call(principal: str = "alice", server: str = "files", tool: str = "read") -> CallFacts:
    return CallFacts(principal, server, "tools/call", tool)


def test_no_limits_admit_everything() -> None:
    limits = CallQuotas()
    assert all(limits.check(call(), 0.0).allowed for _ in range(1000))
    assert len(limits) == 0


def test_principal_bucket_refuses_past_burst_and_says_when() -> None:
    limits = CallQuotas(parseQuotas({"principal": {"calls": "60/min", "burst": 2}}))
    assert limits.check(call(), 100.0).allowed
    assert limits.check(call(), 100.0).allowed
    refused = limits.check(call(), 100.0)
    assert refused.outcome == "limited"
    assert refused.policies == ("limits.principal",)
    assert refused.retryAfter is not None and abs(refused.retryAfter - 1.0) < 1e-9
    assert "60/min" in refused.reason
    assert limits.refused["principal"] == 1
    # another principal has its own bucket
    assert limits.check(call("bob"), 100.0).allowed
    # after the wait it was told, it gets through
    assert limits.check(call(), 100.0 + refused.retryAfter).allowed


def test_a_refusal_takes_no_token() -> None:
    limits = CallQuotas(
        parseQuotas(
            {"principal": {"calls": "1/s", "burst": 5}, "tool": {"calls": "1/s", "burst": 1}}
        )
    )
    assert limits.check(call(tool="a"), 0.0).allowed
    assert not limits.check(call(tool="a"), 0.0).allowed  # the tool's bucket refuses
    # the principal's bucket lost nothing to the refusal: four more calls of other tools
    assert all(limits.check(call(tool=name), 0.0).allowed for name in "bcde")
    assert not limits.check(call(tool="f"), 0.0).allowed


def test_scopes_are_keyed_apart() -> None:
    limits = CallQuotas(
        parseQuotas(
            {
                "server": {"calls": "1/s", "burst": 2},
                "principalTool": {"calls": "1/s", "burst": 1},
            }
        )
    )
    assert limits.check(call("alice", tool="a"), 0.0).allowed
    second = limits.check(call("alice", tool="a"), 0.0)
    assert scopeOf(second.policies[0]) == "principal-tool"
    assert limits.check(call("bob", tool="a"), 0.0).allowed
    third = limits.check(call("carol", tool="b"), 0.0)
    assert scopeOf(third.policies[0]) == "server"
    assert limits.check(call("carol", server="other", tool="b"), 0.0).allowed


def test_server_entry_wins_over_gateway_key_by_key() -> None:
    own = parseQuotas({"principal": {"calls": "1/s", "burst": 1}})
    limits = CallQuotas(
        parseQuotas({"principal": {"calls": "100/s"}}),
        lambda server: own if server == "files" else NO_QUOTAS,
    )
    assert limits.check(call(), 0.0).allowed
    refused = limits.check(call(), 0.0)
    assert refused.policies == ("mcpServers.files.limits.principal",)
    assert all(limits.check(call(server="other"), 0.0).allowed for _ in range(100))


def test_daily_quota_resets_at_utc_midnight() -> None:
    limits = CallQuotas(parseQuotas({"principal": {"daily": 3}}))
    start = 20000 * DAY + 3600.0  # 01:00 UTC
    assert all(limits.check(call(), start).allowed for _ in range(3))
    refused = limits.check(call(), start + 60)
    assert refused.policies == ("limits.principal.daily",)
    assert scopeOf(refused.policies[0]) == "daily"
    assert refused.retryAfter == DAY - 3660.0
    assert not limits.check(call(), 20001 * DAY - 0.001).allowed
    assert limits.check(call(), 20001 * DAY).allowed


def test_only_calls_count_once() -> None:
    limits = CallQuotas(parseQuotas({"principal": {"calls": "1/h", "burst": 1}}))
    for method in ("tools/list", "tasks/get", "ping", "resources/list"):
        assert limits.check(CallFacts("alice", "files", method), 0.0).allowed
    assert limits.check(CallFacts("alice", "files", "resources/read", "file:///a"), 0.0).allowed
    assert not limits.check(CallFacts("alice", "files", "prompts/get", "p"), 0.0).allowed
    # a retry round of a call already counted goes on
    assert limits.check(CallFacts("alice", "files", "tools/call", "t", continued=True), 0.0).allowed


def test_eviction_is_bounded_and_never_refuses() -> None:
    limits = CallQuotas(parseQuotas({"principal": {"calls": "1/h", "burst": 1}}), maxBuckets=10)
    for i in range(100):
        assert limits.check(call(f"p{i}"), 0.0).allowed
    assert len(limits) == 10


def test_remaining_and_refused_for_health() -> None:
    limits = CallQuotas(parseQuotas({"principal": {"calls": "1/s", "burst": 3, "daily": 10}}))
    assert limits.remaining("alice", "files", 0.0) == {}
    limits.check(call(), 0.0)
    assert limits.remaining("alice", "files", 0.0) == {"principal": 2}
    limits.check(call(), 0.0)
    limits.check(call(), 0.0)
    limits.check(call(), 0.0)
    assert limits.remaining("alice", "files", 0.0) == {"principal": 0}
    assert limits.refusedBy == {("alice", "files"): 1}


def test_limits_of_a_spec() -> None:
    assert quotasOf("") is NO_QUOTAS
    assert quotasOf('{"tool":{"calls":"2/s"}}') == QuotaSet(
        tool=quotasOf('{"tool":{"calls":"2/s"}}').tool
    )
    assert quotasOf('{"tool":{"calls":"2/s"}}').tool is not None


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 50),
    per=st.sampled_from(["s", "min", "h"]),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_rate_times_window(
    count: int, per: str, burst: int, gaps: list[float]
) -> None:
    config = parseQuotas({"principal": {"calls": f"{count}/{per}", "burst": burst}})
    rate = config.principal
    assert rate is not None and rate.perSecond is not None
    limits = CallQuotas(config)
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if limits.check(call(), now).allowed:
            admitted.append(now)
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            window = admitted[j] - start
            assert j - i + 1 <= burst + rate.perSecond * window + 1e-6
