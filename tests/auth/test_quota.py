"""Per-principal limits: the token bucket, the concurrency cap, Retry-After, the LRU bound."""

from __future__ import annotations

from twisted.internet.task import Clock

from mcpgateway.auth.quota import CONCURRENCY, RATE, PrincipalQuota


def test_a_burst_of_twice_the_rate_then_refill_on_the_clock() -> None:
    clock = Clock()
    quota = PrincipalQuota(clock, maxConcurrent=0, perSecond=5)
    assert [quota.admit("alice") for _ in range(10)] == [None] * 10
    assert quota.admit("alice") == 1.0
    clock.advance(0.2)  # one token
    assert quota.admit("alice") is None
    assert quota.admit("alice") == 1.0
    clock.advance(10)  # refilled, never above the burst
    assert [quota.admit("alice") for _ in range(11)] == [None] * 10 + [1.0]
    assert quota.throttled[RATE] == 3


def test_retry_after_is_the_seconds_until_enough_tokens_rounded_up() -> None:
    clock = Clock()
    quota = PrincipalQuota(clock, maxConcurrent=0, perSecond=0.5, burst=3)
    assert quota.admit("alice", 3) is None
    assert quota.admit("alice") == 2.0  # one token takes 2 s
    assert quota.admit("alice", 3) == 6.0
    clock.advance(2)
    assert quota.admit("alice") is None


def test_principals_have_their_own_buckets() -> None:
    quota = PrincipalQuota(Clock(), maxConcurrent=0, perSecond=1, burst=1)
    assert quota.admit("alice") is None
    assert quota.admit("alice") == 1.0
    assert quota.admit("bob") is None


def test_concurrency_refuses_with_retry_after_one_until_released() -> None:
    quota = PrincipalQuota(Clock(), maxConcurrent=2, perSecond=0)
    assert quota.admit("alice") is None
    assert quota.admit("alice") is None
    assert quota.admit("alice") == 1.0
    assert quota.inFlight("alice") == 2
    quota.release("alice")
    assert quota.admit("alice") is None
    assert quota.throttled[CONCURRENCY] == 1


def test_a_refused_request_takes_neither_a_token_nor_a_slot() -> None:
    clock = Clock()
    quota = PrincipalQuota(clock, maxConcurrent=1, perSecond=1, burst=2)
    assert quota.admit("alice") is None
    assert quota.admit("alice") == 1.0  # concurrency: no token taken
    quota.release("alice")
    assert quota.admit("alice") is None  # the second token
    quota.release("alice")
    assert quota.admit("alice") == 1.0  # rate
    assert quota.inFlight("alice") == 0


def test_a_batch_counts_each_request_and_a_big_one_is_not_refused_for_ever() -> None:
    clock = Clock()
    quota = PrincipalQuota(clock, maxConcurrent=4, perSecond=2, burst=4)
    assert quota.admit("alice", 3) is None
    assert quota.admit("alice", 2) == 1.0
    quota.release("alice", 3)
    clock.advance(10)
    assert quota.admit("alice", 10) is None  # nothing in flight, full bucket: it owes
    quota.release("alice", 10)
    assert quota.admit("alice") == 4.0  # the bucket at -6: 7 tokens to wait for
    clock.advance(3.5)  # -6 + 7 = 1
    assert quota.admit("alice") is None


def test_release_of_an_unknown_principal_is_harmless() -> None:
    quota = PrincipalQuota(Clock(), maxConcurrent=1, perSecond=1)
    quota.release("nobody", 3)
    assert len(quota) == 0


def test_at_most_max_principals_are_kept_idle_ones_forgotten_first() -> None:
    quota = PrincipalQuota(Clock(), maxConcurrent=5, perSecond=1, burst=1, maxPrincipals=3)
    assert quota.admit("busy") is None  # in flight
    quota.admit("a")
    quota.release("a")
    quota.admit("b")
    quota.release("b")
    quota.admit("c")
    assert len(quota) == 3
    assert quota.inFlight("busy") == 1  # "a" went, not "busy"
    assert quota.admit("a") is None  # forgotten: a fresh bucket
