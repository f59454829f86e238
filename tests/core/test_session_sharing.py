"""What an idle session keeps to itself: equal C{initialize} values
(C{capabilities}, C{clientInfo}) are one object across sessions, at most
L{SHARED_VALUES} of them kept, and its log name is worked out, not kept."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core import sessions
from mcpgateway.core.sessions import SessionRegistry, SharedValues
from tests.http import Harness

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def test_sessions_of_one_client_share_their_capabilities_and_client_info() -> None:
    registry = SessionRegistry(Clock())
    one = registry.create("srv", "2025-11-25", {"roots": {}}, {"name": "a", "version": "1"})
    other = registry.create("srv", "2025-11-25", {"roots": {}}, {"name": "a", "version": "1"})
    assert one.capabilities is other.capabilities
    assert one.clientInfo is other.clientInfo
    assert one.record()["clientInfo"] == {"name": "a", "version": "1"}
    third = registry.create("srv", "2025-11-25", {}, {"name": "b", "version": "1"})
    assert third.clientInfo is not one.clientInfo and third.clientInfo == {
        "name": "b",
        "version": "1",
    }
    assert third.capabilities == {}


def test_values_in_another_key_order_are_not_shared() -> None:
    """The sessions file writes what each client sent, key order included."""
    shared = SharedValues()
    first = shared.share({"name": "a", "version": "1"})
    second = shared.share({"version": "1", "name": "a"})
    assert second is not first and list(second) == ["version", "name"]


def test_at_most_so_many_values_are_kept(monkeypatch: Any) -> None:
    monkeypatch.setattr(sessions, "SHARED_VALUES", 2)
    shared = SharedValues()
    values = [{"n": n} for n in range(4)]
    assert [shared.share(v) is v for v in values] == [True] * 4
    assert len(shared) == 2
    assert shared.share({"n": 1}) is values[1]
    assert shared.share({"n": 3}) is not values[3]


def test_values_equal_in_python_but_not_in_json_are_not_shared() -> None:
    shared = SharedValues()
    one = shared.share({"v": 1})
    assert shared.share({"v": True}) is not one and shared.share({"v": 1.0}) is not one
    assert shared.share({"v": 1}) is one


@given(st.dictionaries(st.text(max_size=5), JSON, max_size=4))
def test_a_shared_value_equals_the_value_given(value: dict[str, Any]) -> None:
    shared = SharedValues()
    shared.share(dict(value))
    again = shared.share(dict(value))
    assert list(again.items()) == list(value.items()) or again == value or value != value


def test_a_sessions_log_name_is_worked_out_not_kept() -> None:
    h = Harness()
    sid = h.initialize()
    session = h.gateway.sessions.get(sid)
    assert session is not None
    assert "shortId" not in type(session).__slots__
    assert session.shortId == hashlib.sha256(sid.encode()).hexdigest()[:8]


def test_sessions_opened_over_http_share_the_values_their_client_sent() -> None:
    h = Harness()
    found = [h.gateway.sessions.get(h.initialize(capabilities={"roots": {}})) for _ in range(2)]
    one, other = found
    assert one is not None and other is not None and one is not other
    assert one.capabilities is other.capabilities and one.capabilities == {"roots": {}}
    assert one.clientInfo is other.clientInfo
