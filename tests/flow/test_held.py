"""The calls held for a person's yes (L{mcpgateway.flow.held}): holding,
deciding, waiting, the digest, the claim of an exact call once, expiry by
the clock, bounded memory, the diff against the last approved arguments,
and what is recorded and logged."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.flow.held import (
    Claim,
    ClaimRefusal,
    HeldCall,
    HeldCallDecided,
    HeldCalls,
    HeldCallsFull,
    HeldState,
    UnknownHeldCall,
    argumentsDiff,
    digest,
)
from mcpgateway.flow.labels import Label
from mcpgateway.flow.ledger import ClientKey
from mcpgateway.flow.rule import FlowRule
from tests.fakes import capturedGatewayLogs
from tests.support.config.resolve import fired
from tests.support.json_values import jsonValues

CLIENT: ClientKey = ("", "pid", "4242")
OTHER: ClientKey = ("", "pid", "5151")
ARGS: dict[str, Any] = {"repo": "me/site", "title": "hello", "body": "the secret is s3cr3t"}
VERSION = "v1"
TRIFECTA = frozenset({Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS})


def held(
    store: HeldCalls,
    arguments: dict[str, Any] | None = None,
    client: ClientKey = CLIENT,
    tool: str = "create_issue",
) -> HeldCall:
    decision = FlowRule().decide(TRIFECTA - {Label.EGRESS}, TRIFECTA, tool)
    assert decision.held
    return store.hold(
        "",
        client,
        "github",
        tool,
        ARGS if arguments is None else arguments,
        VERSION,
        decision.met,
        decision.reason,
    )


def claim(store: HeldCalls, arguments: dict[str, Any] | None = None, **changed: Any) -> Claim:
    call = {
        "principal": "",
        "client": CLIENT,
        "server": "github",
        "tool": "create_issue",
        "arguments": ARGS if arguments is None else arguments,
        "policyVersion": VERSION,
        **changed,
    }
    return store.claim(**call)


def test_a_held_call_keeps_what_a_person_needs_to_decide() -> None:
    clock = Clock()
    clock.advance(1000)
    store = HeldCalls(clock, holdSeconds=60)
    call = held(store)
    assert call.state is HeldState.PENDING and not call.decided
    assert (call.principal, call.client, call.server, call.tool) == (
        "",
        CLIENT,
        "github",
        "create_issue",
    )
    assert call.arguments == ARGS
    assert call.labels == TRIFECTA
    assert "'create_issue' can send data out" in call.reason
    assert (call.created, call.expiry, call.policyVersion) == (1000.0, 1060.0, VERSION)
    assert call.digest == digest("", CLIENT, "github", "create_issue", ARGS, VERSION, 1060.0)
    assert len(call.id) >= 20 and held(store).id != call.id  # unguessable, each its own
    assert re.fullmatch("[0-9a-f]{32}", call.id)  # typed to the CLI as shown: never "-…"
    assert store.get(call.id) == call
    assert store.pending()[0] == call


def test_the_arguments_are_kept_as_they_were_held() -> None:
    store = HeldCalls(Clock())
    arguments: dict[str, Any] = {"labels": ["a"], "title": "x"}
    call = held(store, arguments)
    arguments["labels"].append("b")
    arguments["title"] = "changed after"
    assert store.get(call.id).arguments == {"labels": ["a"], "title": "x"}


def test_arguments_that_are_not_a_json_object_are_not_held() -> None:
    store = HeldCalls(Clock())
    with pytest.raises(ValueError):
        store.hold("", CLIENT, "s", "t", {"n": float("nan")}, VERSION)
    with pytest.raises(ValueError):
        store.hold("", CLIENT, "s", "t", ["not", "an", "object"], VERSION)  # type: ignore[arg-type]
    assert store.pending() == []


def test_the_digest_is_sha256_of_the_canonical_json() -> None:
    import hashlib

    text = json.dumps(
        {
            "arguments": {"b": 1, "a": "é"},
            "client": ["", "pid", "1"],
            "expiry": 5.0,
            "policyVersion": "v",
            "principal": "p",
            "server": "s",
            "tool": "t",
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert digest("p", ("", "pid", "1"), "s", "t", {"a": "é", "b": 1}, "v", 5.0) == expected


def test_allowing_decides_it_and_its_waiters_hear() -> None:
    clock = Clock()
    store = HeldCalls(clock)
    call = held(store)
    waited = store.whenDecided(call.id)
    assert not waited.called
    clock.advance(7)
    allowed = store.allow(call.id, "owner")
    assert (allowed.state, allowed.decidedBy, allowed.decidedAt) == (HeldState.ALLOWED, "owner", 7)
    assert fired(waited) == allowed
    assert store.pending() == [] and store.decided() == [allowed]
    assert fired(store.whenDecided(call.id)) == allowed


def test_denying_decides_it_with_the_reason() -> None:
    store = HeldCalls(Clock())
    call = held(store)
    waited = store.whenDecided(call.id)
    denied = store.deny(call.id, "alice", "not to that repo" + "!" * 1000)
    assert denied.state is HeldState.DENIED and denied.decidedBy == "alice"
    assert denied.denyReason.startswith("not to that repo") and len(denied.denyReason) == 500
    assert fired(waited) == denied
    assert claim(store).refusal is ClaimRefusal.DENIED


def test_a_call_is_decided_once() -> None:
    store = HeldCalls(Clock())
    call = held(store)
    store.deny(call.id, "owner")
    for decide in (lambda: store.allow(call.id, "owner"), lambda: store.deny(call.id, "x")):
        with pytest.raises(HeldCallDecided) as refused:
            decide()
        assert refused.value.call.state is HeldState.DENIED
        assert "was denied already" in str(refused.value)
    assert store.get(call.id).state is HeldState.DENIED


def test_an_unknown_id_is_refused() -> None:
    store = HeldCalls(Clock())
    for ask in (store.get, lambda i: store.allow(i, "o"), lambda i: store.deny(i, "o")):
        with pytest.raises(UnknownHeldCall, match="no held call 'nope'"):
            ask("nope")
    failure = store.whenDecided("nope")
    failure.addErrback(lambda f: f.trap(UnknownHeldCall))
    assert failure.called


def test_a_cancelled_wait_stops_only_the_wait() -> None:
    store = HeldCalls(Clock())
    call = held(store)
    first, second = store.whenDecided(call.id), store.whenDecided(call.id)
    first.addErrback(lambda f: None)
    first.cancel()
    store.allow(call.id, "owner")
    assert fired(second).state is HeldState.ALLOWED


def test_an_exact_call_is_granted_once() -> None:
    store = HeldCalls(Clock())
    call = held(store)
    assert claim(store).refusal is ClaimRefusal.PENDING
    store.allow(call.id, "owner")
    granted = claim(store, dict(reversed(list(ARGS.items()))))  # the key order is no matter
    assert granted and granted.granted and granted.refusal is None
    assert granted.call is not None and granted.call.state is HeldState.USED
    replayed = claim(store)
    assert not replayed and replayed.refusal is ClaimRefusal.REPLAYED
    assert "used already" in replayed.why
    assert store.get(call.id).state is HeldState.USED


def test_a_yes_is_for_that_call_only() -> None:
    store = HeldCalls(Clock())
    store.allow(held(store).id, "owner")
    assert claim(store, {**ARGS, "title": "other"}).refusal is ClaimRefusal.CHANGED
    assert claim(store, policyVersion="v2").refusal is ClaimRefusal.CHANGED
    assert claim(store, client=OTHER).refusal is ClaimRefusal.NONE
    assert claim(store, principal="bob").refusal is ClaimRefusal.NONE
    assert claim(store, tool="delete_repo").refusal is ClaimRefusal.NONE
    assert claim(store, server="gitlab").refusal is ClaimRefusal.NONE
    assert claim(store)  # none of those used the yes up


def test_a_call_nobody_decided_expires_by_the_sweep() -> None:
    clock = Clock()
    records: list[HeldCall] = []
    store = HeldCalls(clock, records.append, holdSeconds=60)
    call = held(store)
    waited = store.whenDecided(call.id)
    clock.advance(59.9)
    assert store.sweep() == 0 and not waited.called
    clock.advance(0.1)
    assert store.sweep() == 1
    expired = fired(waited)
    assert (expired.state, expired.decidedBy) == (HeldState.EXPIRED, None)
    assert [r.state for r in records] == [HeldState.PENDING, HeldState.EXPIRED]
    with pytest.raises(HeldCallDecided, match="expired"):
        store.allow(call.id, "owner")
    assert claim(store).refusal is ClaimRefusal.EXPIRED


def test_a_waiter_that_asks_the_store_again_sees_each_expiry_once() -> None:
    clock = Clock()
    records: list[HeldCall] = []
    store = HeldCalls(clock, records.append, holdSeconds=10)
    first, second = held(store), held(store, {"n": 1})
    asked = store.whenDecided(first.id).addCallback(lambda call: store.pending())
    clock.advance(10)
    store.sweep()
    assert fired(asked) == []
    assert [(r.id, r.state) for r in records if r.state is HeldState.EXPIRED] == [
        (first.id, HeldState.EXPIRED),
        (second.id, HeldState.EXPIRED),
    ]


def test_expiry_is_checked_when_asked_without_a_sweep() -> None:
    clock = Clock()
    store = HeldCalls(clock, holdSeconds=60)
    call = held(store)
    clock.advance(60)
    with pytest.raises(HeldCallDecided):
        store.allow(call.id, "owner")
    other = held(store)
    store.allow(other.id, "owner")
    clock.advance(60)  # the yes ran out unused
    assert claim(store).refusal is ClaimRefusal.EXPIRED
    assert store.get(other.id).state is HeldState.EXPIRED
    assert store.pending() == []


def test_the_pending_calls_are_capped_per_client_and_in_all() -> None:
    store = HeldCalls(Clock(), perClient=2, pendingCap=3)
    held(store)
    held(store)
    with pytest.raises(HeldCallsFull, match="this client has 2 calls waiting"):
        held(store)
    held(store, client=OTHER)
    with pytest.raises(HeldCallsFull, match="3 calls wait"):
        held(store, client=("", "pid", "1"))
    store.deny(store.pending()[0].id, "owner")
    held(store)  # a decided call no longer waits


def test_the_oldest_decided_calls_are_forgotten_first() -> None:
    clock = Clock()
    store = HeldCalls(clock, keepDecided=2)
    calls = [held(store, {"n": n}) for n in range(4)]
    for call in (calls[2], calls[0], calls[3], calls[1]):
        clock.advance(1)
        store.deny(call.id, "owner")
    assert [c.id for c in store.decided()] == [calls[1].id, calls[3].id]
    with pytest.raises(UnknownHeldCall):
        store.get(calls[0].id)


def test_the_last_approved_arguments_and_the_diff() -> None:
    store = HeldCalls(Clock(), lastApproved=2)
    first = held(store, {"repo": "me/site", "title": "one", "draft": True})
    assert store.lastApproved(first) is None and store.diff(first) is None
    store.allow(first.id, "owner")
    second = held(store, {"repo": "me/site", "title": "two", "body": "x"})
    assert store.lastApproved(second) == first.arguments
    assert store.diff(second) == [
        {"key": "body", "change": "added", "new": "x"},
        {"key": "draft", "change": "removed", "old": True},
        {"key": "title", "change": "changed", "old": "one", "new": "two"},
    ]
    store.allow(second.id, "owner")
    # A decided call keeps what it was compared with when it was decided.
    assert store.lastApproved(store.get(second.id)) == first.arguments
    assert store.diff(held(store, dict(second.arguments))) == []
    assert store.diff(held(store, client=OTHER)) is None  # another client's is not compared
    store.allow(held(store, client=OTHER).id, "owner")
    store.allow(held(store, tool="push_files").id, "owner")  # the first is forgotten
    assert store.lastApproved(held(store)) is None


def test_the_diff_tells_json_values_apart_as_the_wire_does() -> None:
    assert argumentsDiff({"n": 1}, {"n": True}) == [
        {"key": "n", "change": "changed", "old": 1, "new": True}
    ]
    assert argumentsDiff({"n": 1}, {"n": 1.0}) != []
    assert argumentsDiff({"n": {"a": 1, "b": 2}}, {"n": {"b": 2, "a": 1}}) == []


def test_every_change_is_recorded_and_logged_without_the_arguments() -> None:
    clock = Clock()
    records: list[HeldCall] = []
    store = HeldCalls(clock, records.append)
    with capturedGatewayLogs() as events:
        first = held(store)
        store.allow(first.id, "owner")
        assert claim(store)
        assert not claim(store)
        store.deny(held(store).id, "owner", "no")
    assert [(r.id == first.id, r.state) for r in records] == [
        (True, HeldState.PENDING),
        (True, HeldState.ALLOWED),
        (True, HeldState.USED),
        (False, HeldState.PENDING),
        (False, HeldState.DENIED),
    ]
    mine = [e for e in events if e.get("log_namespace") == "mcpgateway.flow.held"]
    assert len(mine) == 6
    assert all(e["digest"] == first.digest for e in mine[:4])
    assert "s3cr3t" not in repr(events)


def test_a_failing_record_does_not_stop_a_decision() -> None:
    def broken(call: HeldCall) -> None:
        raise RuntimeError("the audit trail is down")

    store = HeldCalls(Clock(), broken)
    with capturedGatewayLogs() as events:
        call = held(store)
        assert store.allow(call.id, "owner").state is HeldState.ALLOWED
    assert sum(1 for e in events if e.get("log_failure") is not None) == 2


# -- the rules of a claim, for any call -------------------------------------------------


def mutations(value: Any) -> st.SearchStrategy[Any]:
    """A value that differs from C{value} (as JSON) somewhere."""
    return jsonValues().filter(lambda other: _json(other) != _json(value))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


ARGUMENTS = st.dictionaries(st.text(max_size=8), jsonValues(), min_size=1, max_size=4)


@given(arguments=ARGUMENTS, data=st.data())
def test_any_changed_argument_is_refused(arguments: dict[str, Any], data: st.DataObject) -> None:
    store = HeldCalls(Clock())
    call = held(store, arguments)
    store.allow(call.id, "owner")
    changed = copy.deepcopy(arguments)
    how = data.draw(st.sampled_from(["value", "add", "remove"]))
    key = data.draw(st.sampled_from(sorted(arguments)))
    if how == "value":
        changed[key] = data.draw(mutations(arguments[key]))
    elif how == "add":
        changed[data.draw(st.text(max_size=8).filter(lambda k: k not in arguments))] = None
    else:
        del changed[key]
    assert claim(store, changed).refusal is ClaimRefusal.CHANGED
    assert claim(store, arguments).granted  # the exact one, still good
    assert claim(store, arguments).refusal is ClaimRefusal.REPLAYED


@given(arguments=ARGUMENTS, waited=st.floats(min_value=0, max_value=120), ttl=st.floats(1, 60))
def test_a_yes_is_good_until_its_expiry_only(
    arguments: dict[str, Any], waited: float, ttl: float
) -> None:
    clock = Clock()
    store = HeldCalls(clock, holdSeconds=ttl)
    call = held(store, arguments)
    store.allow(call.id, "owner")
    clock.advance(waited)
    result = claim(store, arguments)
    if waited < ttl:
        assert result.granted
    else:
        assert result.refusal is ClaimRefusal.EXPIRED


@given(arguments=ARGUMENTS, version=st.text(max_size=8))
def test_a_yes_is_for_its_policy_version(arguments: dict[str, Any], version: str) -> None:
    store = HeldCalls(Clock())
    store.allow(held(store, arguments).id, "owner")
    result = claim(store, arguments, policyVersion=version)
    assert result.granted == (version == VERSION)
