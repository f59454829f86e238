"""The notifications a listening client missed while its GET stream was
closed wait for the next one (L{mcpgateway.core.backlog}), and a restart's
old process saves them for its successor, which sends them on."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core.backlog import MAX_BYTES, MAX_KEPT, Backlog, checkedBacklog
from mcpgateway.core.sessions import Session
from mcpgateway.ops.sessionstore import CorruptSessions, _checked
from tests.fakes import capturedGatewayLogs
from tests.support.core.backlog import listened, reopened, session, updated
from tests.support.json_values import jsonScalars, jsonValues


def test_a_notification_waits_for_the_next_stream_of_a_client_that_listens() -> None:
    s = session()
    first = listened(s)
    assert s.deliver(updated(1)) and s.deliver(updated(2))
    assert first.sent == []
    order: list[str] = []
    s.awaitStream(lambda: order.append("told"))
    second = reopened(s)
    assert second.sent == [updated(1), updated(2)]  # in order, before who waited is told
    assert order == ["told"] and s.backlog == []
    assert s.deliver(updated(3)) and second.sent[-1] == updated(3)


def test_nothing_waits_for_a_client_that_never_listened() -> None:
    s = session()
    assert not s.deliver(updated(1))
    assert s.backlog == []


def test_a_childs_request_does_not_wait_here() -> None:
    """A request has its own wait for a stream (streamwaits): C{False}
    tells its caller it found none."""
    s = session()
    listened(s)
    assert not s.deliver({"jsonrpc": "2.0", "id": 7, "method": "roots/list"})
    assert s.backlog == []


def test_the_oldest_are_dropped_beyond_the_bounds_and_the_drop_is_logged() -> None:
    s = session()
    listened(s)
    for n in range(MAX_KEPT + 5):
        s.deliver(updated(n))
    assert s.backlog == [updated(n) for n in range(5, MAX_KEPT + 5)]
    with capturedGatewayLogs() as events:
        stream = reopened(s)
    assert stream.sent[0] == updated(5)
    [said] = [e for e in events if "dropped while it had no stream" in e.get("log_format", "")]
    assert said["count"] == 5


def test_the_bytes_are_bounded_too() -> None:
    backlog = Backlog()
    big = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "x" * 10_000}}
    for _ in range(10):
        backlog.keep(big)
    assert backlog.size <= MAX_BYTES and len(backlog) == MAX_BYTES // 10_050
    too_big = {**big, "params": {"data": "x" * MAX_BYTES}}
    backlog.keep(too_big)
    messages, dropped = backlog.take()
    assert too_big not in messages and dropped == 10 - len(messages) + 1
    assert backlog.take() == ([], 0)


def test_a_record_carries_what_waits_and_a_restored_session_sends_it_on() -> None:
    s = session()
    listened(s)
    s.deliver(updated(1))
    record = _checked(s.record())
    assert record["listens"] is True and record["backlog"] == [updated(1)]
    restored = Session.fromRecord(record)
    assert restored.listens and restored.backlog == [updated(1)]
    assert reopened(restored).sent == [updated(1)]


def test_a_record_of_a_client_that_never_listened_says_nothing_of_it() -> None:
    record = session().record()
    assert "listens" not in record and "backlog" not in record


@pytest.mark.parametrize(
    "backlog",
    [
        "x",
        [1],
        [{"jsonrpc": "2.0", "id": 1, "method": "roots/list"}],
        [updated(n) for n in range(MAX_KEPT + 1)],
    ],
)
def test_a_saved_backlog_that_is_not_notifications_is_refused(backlog: Any) -> None:
    s = session()
    listened(s)
    record = {**s.record(), "backlog": backlog}
    with pytest.raises(CorruptSessions):
        _checked(record)


SAVED_BACKLOGS = jsonValues() | st.lists(
    st.dictionaries(
        st.sampled_from(["jsonrpc", "method", "id", "params"]),
        jsonScalars() | st.just("notifications/message"),
    ),
    max_size=MAX_KEPT + 2,
)
"""Any JSON, and lists of objects that look like messages, some of them."""


@given(SAVED_BACKLOGS)
def test_any_saved_backlog_is_notifications_or_refused(value: Any) -> None:
    try:
        messages = checkedBacklog(value)
    except ValueError:
        return
    assert len(messages) <= MAX_KEPT
    assert all("id" not in m and isinstance(m["method"], str) for m in messages)
