"""A line over the limit is told apart as an answer naming its request
only where its ends say so, whatever it holds in between."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.core.bigline import KEPT, OversizedLine

ids = st.one_of(st.integers(-(10**12), 10**12), st.text(max_size=30))
inner = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "result", "x", "jsonrpc"]), children, max_size=3)
    ),
    max_leaves=10,
)


def dropped(line: bytes) -> tuple[bool, Any]:
    """How the line reads when only its ends are kept."""
    kept = OversizedLine(line[:KEPT])
    kept.add(line[KEPT:])
    return kept.answers()


@settings(max_examples=200, deadline=None)
@given(requestId=ids, result=inner, last=st.booleans(), pad=st.integers(0, 3000))
def test_an_answer_names_its_own_id_first_or_last(
    requestId: Any, result: Any, last: bool, pad: int
) -> None:
    body = {"result": {"blob": "x" * pad, "nested": result}}
    message = (
        {**body, "jsonrpc": "2.0", "id": requestId}
        if last
        else {"jsonrpc": "2.0", "id": requestId, **body}
    )
    assert dropped(json.dumps(message, separators=(",", ":")).encode()) == (True, requestId)


@settings(max_examples=200, deadline=None)
@given(requestId=ids, params=inner, pad=st.integers(0, 3000))
def test_a_request_or_notification_of_the_server_is_never_taken_for_an_answer(
    requestId: Any, params: Any, pad: int
) -> None:
    for message in (
        {"jsonrpc": "2.0", "id": requestId, "method": "sampling/createMessage", "params": params},
        {"jsonrpc": "2.0", "method": "notifications/message", "params": [params, "x" * pad]},
        {"method": "x", "params": {"x": "y" * pad, "id": requestId}, "jsonrpc": "2.0"},
    ):
        assert dropped(json.dumps(message).encode())[0] is False


def test_a_nested_id_at_the_end_is_not_the_answers() -> None:
    line = b'{"result":{"items":[{"id":3}]}' + b" " * 2000 + b',"x":{"id":9}}'
    assert dropped(line) == (False, None)
