"""benchmarks/restartfigures.py: the counter's answer is read (and the
gateway's notice that a child is new), an event's figures count what was
lost, the longest pause and whose count went on, the children by host pid,
and the report has a row per event."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.support.benchmarks import loadBenchmark

figures = loadBenchmark("restartfigures")


def answer(text: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if meta is not None:
        result["_meta"] = meta
    return {"jsonrpc": "2.0", "id": 1, "result": result}


def test_a_count_is_read_with_its_pid_and_the_notice() -> None:
    assert figures.readAnswer(answer("count=7 pid=42")) == (7, 42, False)
    told = answer("count=1 pid=9", {figures.NOTICE_KEY: True})
    assert figures.readAnswer(told) == (1, 9, True)


@given(st.text(max_size=40))
def test_anything_else_is_not_a_count(text: str) -> None:
    read = figures.readAnswer(answer(text))
    assert read is None or f"count={read[0]}" in text
    assert figures.readAnswer({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}) is None


def test_the_notice_is_the_gateways_warning() -> None:
    notice = {
        "method": "notifications/message",
        "params": {"level": "warning", "logger": "mcpgateway", "data": "x"},
    }
    assert figures.isRestartNotice(notice)
    assert not figures.isRestartNotice({**notice, "params": {"level": "info"}})


def test_the_longest_pause_counts_from_the_event() -> None:
    assert figures.longestPause([9.0, 10.2, 10.5, 12.0], 10.0, 13.0) == 1.5
    assert figures.longestPause([], 10.0, 13.0) == 3.0
    assert round(figures.longestPause([10.9, 11.0], 10.0, 13.0), 6) == 0.9


def log(counts: list[tuple[float, int]], **extra: list[float]) -> Any:
    s = figures.SessionLog(**extra)
    s.answered = [figures.Answered(at, count, 1) for at, count in counts]
    return s


def test_an_event_counts_the_sessions_that_went_on_and_what_was_lost() -> None:
    kept = log([(9.0, 5), (11.0, 6)])
    anew = log([(9.5, 8), (12.0, 1)], lost=[10.1], refused=[10.2, 10.3])
    anew.answered[-1].told = True
    silent = log([(9.0, 3)], errors=[5.0, 10.5])
    f = figures.eventFigures([kept, anew, silent], event=10.0, until=13.0, window=3.0)
    assert (f["countsWentOn"], f["countsStartedAgain"], f["noAnswerAfter"]) == (1, 1, 1)
    assert (f["lost"], f["errors"], f["refused"]) == (1, 1, 2)  # the error at 5.0 is before
    assert f["toldSessions"] == 1
    assert f["longestPauseMs"] == 3000.0  # the silent session


def test_children_by_host_pid() -> None:
    assert figures.respawned({1, 2, 3}, {2, 3, 4, 5}) == {"kept": 2, "new": 2, "gone": 1}


def test_the_report_has_a_row_per_event() -> None:
    empty = figures.eventFigures([log([(9.0, 1), (11.0, 2)])], 10.0, 12.0, 1.0)
    one = {
        "server": "solo",
        "event": "`mcpgateway restart`",
        "how": {"commandSeconds": 1.2},
        "figures": empty,
        "children": {"kept": 1, "new": 0},
        "rateBefore": 5.0,
        "rateAfter": 6.0,
        "memory": {"before": {"pssMB": 10.0}, "after": {"pssMB": 11.0}},
        "fds": {"before": 20, "after": 21},
    }
    text = figures.report([one])
    [row] = [line for line in text.splitlines() if line.startswith("| solo")]
    assert "| 1.2 s |" in row and "| 1 / 0 |" in row and "1 of 1" in row
    assert "10.0 / 11.0 MB" in row and "20 / 21" in row
    header, rule = text.splitlines()[:2]
    assert header.count("|") == rule.count("|") == row.count("|")
