"""The recent 2026 callers of a server: who counts as a distinct caller,
for how long (the window, on a fake clock), how many are remembered at
most, and that whatever a client puts in its C{clientInfo} is taken."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.era2026.callers import (
    MOST_CALLERS,
    NAME_KEPT,
    RECENT_WINDOW,
    RecentCallers,
    callerOf,
)
from mcpgateway.core.era2026.types import Era2026Request
from tests.support.json_values import jsonValues


def request(name: Any = "client", principal: str = "", pid: int | None = None) -> Era2026Request:
    """A 2026 request whose C{clientInfo} names C{name}."""
    return Era2026Request(
        "r-1", "tools/list", {}, clientInfo={"name": name}, principal=principal, clientPid=pid
    )


def test_distinct_callers_are_principal_name_and_pid() -> None:
    callers = RecentCallers(Clock())
    for seen in [
        request("claude", pid=11),
        request("claude", pid=11),
        request("claude", pid=12),
        request("claude"),
        request("claude"),
        request("cursor"),
        request("claude", principal="p-1"),
        request("claude", principal="p-2"),
    ]:
        callers.saw(seen)
    assert callers.recent() == 6


def test_a_caller_counts_within_the_window_after_its_last_request() -> None:
    clock = Clock()
    callers = RecentCallers(clock)
    callers.saw(request("a"))
    clock.advance(RECENT_WINDOW / 2)
    callers.saw(request("b"))
    assert callers.recent() == 2
    clock.advance(RECENT_WINDOW / 2)
    assert callers.recent() == 1  # a's window is over
    callers.saw(request("a"))  # a comes back: counted again
    clock.advance(RECENT_WINDOW / 2 - 1)
    assert callers.recent() == 2
    clock.advance(1)
    assert callers.recent() == 1
    clock.advance(RECENT_WINDOW)
    assert callers.recent() == 0


def test_past_the_bound_the_caller_seen_longest_ago_is_forgotten() -> None:
    """Not the first one noted: a caller seen again is kept."""
    clock = Clock()
    callers = RecentCallers(clock, window=3.0, most=2)
    callers.saw(request("a"))
    clock.advance(1)
    callers.saw(request("b"))
    clock.advance(1)
    callers.saw(request("a"))
    clock.advance(1)
    callers.saw(request("c"))  # b, seen at 1, goes
    assert callers.recent() == 2
    clock.advance(1)  # now 4: what was seen after 1 counts
    assert callers.recent() == 2


def test_the_callers_kept_are_bounded() -> None:
    clock = Clock()
    callers = RecentCallers(clock)
    for n in range(MOST_CALLERS * 2):
        callers.saw(request(f"client-{n}"))
        clock.advance(0.001)
    assert callers.recent() == MOST_CALLERS


def test_a_long_name_is_kept_in_part() -> None:
    assert callerOf("", {"name": "x" * 10_000}, None) == ("", "x" * NAME_KEPT, None)
    callers = RecentCallers(Clock())
    callers.saw(request("x" * NAME_KEPT + "a"))
    callers.saw(request("x" * NAME_KEPT + "b"))
    assert callers.recent() == 1


@given(jsonValues())
def test_any_client_info_names_a_caller(clientInfo: Any) -> None:
    principal, name, pid = callerOf("p", clientInfo, 7)
    assert (principal, pid) == ("p", 7)
    assert isinstance(name, str) and len(name) <= NAME_KEPT
    hash((principal, name, pid))


@given(st.lists(jsonValues(), max_size=8))
def test_any_client_name_is_counted_without_error(names: list[Any]) -> None:
    callers = RecentCallers(Clock())
    for name in names:
        callers.saw(request(name))
    strings = {name for name in names if isinstance(name, str)}
    others = any(not isinstance(name, str) for name in names)
    assert callers.recent() == len(strings | ({""} if others else set()))
