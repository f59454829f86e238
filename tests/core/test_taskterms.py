# -*- test-case-name: tests.core.test_taskterms -*-
"""The tasks' shared words: which statuses a task never leaves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core.taskterms import TERMINAL, isTerminal


def test_completed_failed_and_cancelled_are_terminal() -> None:
    assert {s for s in ("working", "input_required", *TERMINAL) if isTerminal(s)} == {
        "completed",
        "failed",
        "cancelled",
    }


@given(
    st.one_of(
        st.text(),
        st.integers(),
        st.none(),
        st.lists(st.text()),
        st.dictionaries(st.text(), st.text()),
    )
)
def test_a_status_of_any_shape_is_judged_without_an_error(status: object) -> None:
    assert isTerminal(status) is (isinstance(status, str) and status in TERMINAL)
