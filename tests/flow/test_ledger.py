"""The labels each client gathers (L{mcpgateway.flow.ledger}): across its
sessions, never its C{egress}; forgotten after its last session or its idle
time; carried when a session's key changes; narrowed by C{flowOrigin}."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.flow.labels import Label
from mcpgateway.flow.ledger import Ledger, clientKey, narrowed
from tests.support.json_values import jsonValues

U, P, E = Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS
CLAUDE = clientKey("", 4242, "claude-code", "s1")
OTHER = clientKey("", 5151, "claude-code", "s9")


def test_the_client_key_is_what_status_groups_sessions_by() -> None:
    assert clientKey("", 4242, "claude-code", "s1") == ("", "pid", "4242")
    assert clientKey("alice", None, "claude-code", "s1") == ("alice", "client", "claude-code")
    assert clientKey("alice", None, None, "s1") == ("alice", "session", "s1")
    assert clientKey("", None, "", "s1") == ("", "session", "s1")


def test_a_client_gathers_across_its_sessions_and_never_egress() -> None:
    ledger = Ledger(Clock())
    ledger.record(CLAUDE, "fetch-session", frozenset({U, E}))
    assert ledger.gathered(CLAUDE, "files-session") == frozenset({U})
    ledger.record(CLAUDE, "files-session", frozenset({P}))
    assert ledger.gathered(CLAUDE, "fetch-session") == frozenset({U, P})
    assert ledger.gathered(OTHER, "s9") == frozenset()  # another client gathered nothing


def test_a_client_is_forgotten_when_its_last_session_closes() -> None:
    ledger = Ledger(Clock())
    ledger.record(CLAUDE, "a", frozenset({U}))
    ledger.record(CLAUDE, "b", frozenset({P}))
    ledger.closed("a")
    assert len(ledger) == 1 and ledger.gathered(CLAUDE, "b") == frozenset({U, P})
    ledger.closed("b")
    ledger.closed("b")  # closing twice, or a session never seen, is nothing
    ledger.closed("never")
    assert len(ledger) == 0
    assert ledger.gathered(CLAUDE, "c") == frozenset()


def test_an_idle_client_is_forgotten_by_the_sweep_and_when_asked() -> None:
    clock = Clock()
    ledger = Ledger(clock, idle=60.0)
    ledger.record(CLAUDE, "a", frozenset({U, P}))
    ledger.record(OTHER, "b", frozenset({U}))
    clock.advance(59)
    assert ledger.gathered(OTHER, "b") == frozenset({U})  # a call is activity
    assert ledger.sweep() == 0
    clock.advance(1)
    assert ledger.sweep() == 1 and len(ledger) == 1
    assert ledger.gathered(CLAUDE, "a") == frozenset()
    clock.advance(60)
    assert ledger.gathered(OTHER, "b") == frozenset()  # idle when asked: forgotten first
    ledger.closed("a")
    ledger.closed("b")
    assert len(ledger) == 0


def test_a_session_whose_key_changes_brings_its_clients_labels() -> None:
    """The pid of a session is found after its first calls: what its client
    gathered under its name comes along to its pid."""
    ledger = Ledger(Clock())
    byName = clientKey("", None, "claude-code", "a")
    ledger.record(byName, "a", frozenset({U}))
    ledger.record(byName, "b", frozenset({P}))
    assert ledger.gathered(CLAUDE, "a") == frozenset({U, P})
    assert ledger.gathered(byName, "b") == frozenset({U, P})  # "b" still under the name
    ledger.record(CLAUDE, "b", frozenset())
    assert len(ledger) == 1  # the name's last session moved: it is gone
    ledger.closed("a")
    ledger.closed("b")
    assert len(ledger) == 0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["record", "gathered", "closed", "sweep", "advance"]),
            st.sampled_from([CLAUDE, OTHER, ("", "session", "x")]),
            st.sampled_from(["s1", "s2", "s3"]),
            st.frozensets(st.sampled_from(list(Label))),
        ),
        max_size=30,
    )
)
def test_what_is_kept_is_bounded_by_the_open_sessions(steps: list[Any]) -> None:
    clock = Clock()
    ledger = Ledger(clock, idle=10.0)
    open_: set[str] = set()
    for action, key, session, labels in steps:
        if action == "record":
            ledger.record(key, session, labels)
            open_.add(session)
        elif action == "gathered":
            assert Label.EGRESS not in ledger.gathered(key, session)
            open_.add(session)
        elif action == "closed":
            ledger.closed(session)
            open_.discard(session)
        elif action == "sweep":
            ledger.sweep()
        else:
            clock.advance(4)
        assert len(ledger) <= len(open_)
    for session in list(open_):
        ledger.closed(session)
    assert len(ledger) == 0


@pytest.mark.parametrize(
    ("meta", "left"),
    [
        (None, {U, P}),
        ({}, {U, P}),
        ({"flowOrigin": ["private"]}, {P}),
        ({"flowOrigin": []}, set()),
        ({"flowOrigin": {"labels": ["untrusted", "egress"]}}, {U}),
        ({"flowOrigin": ["web"]}, {U, P}),  # a word that is no label: unread
        ({"flowOrigin": "private"}, {U, P}),
        ({"flowOrigin": [1]}, {U, P}),
    ],
)
def test_flow_origin_only_narrows(meta: Any, left: set[Label]) -> None:
    assert narrowed(frozenset({U, P}), meta) == frozenset(left)


@given(st.frozensets(st.sampled_from(list(Label))), jsonValues())
def test_flow_origin_never_adds(gathered: frozenset[Label], origin: Any) -> None:
    assert narrowed(gathered, {"flowOrigin": origin}) <= gathered
