"""benchmarks/restartfigures.py: the counter's answer is read (and the
gateway's notice that a child is new), an event's figures count what was
lost, the longest pause and whose count went on, the children by host pid,
and the report has a row per event. benchmarks/restartfreshreport.py and
restartchildren.py's options: C{--fresh} and its scenarios, any server's
result read, the gateway's installs read from its log, the calls lost at a
kill split by when they were sent, the goals and the report (no npx run)."""

from __future__ import annotations

import argparse
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


# -- --fresh: npx and uvx servers installed in the run (restartfreshreport.py) ------------

fresh = loadBenchmark("restartfreshreport")
children = loadBenchmark("restartchildren")


def test_fresh_is_an_option_with_its_scenarios_in_order() -> None:
    args = children.parser().parse_args(["--fresh", "--scenarios", "orphan,restart"])
    assert args.fresh and args.scenarios == ["restart", "orphan"]  # the order they run in
    assert (args.grace, args.kill_after, args.sessions) == (60.0, 0.0, None)
    plain = children.parser().parse_args([])
    assert not plain.fresh and plain.scenarios == ["restart", "crash", "orphan"]


@given(st.text(max_size=30))
def test_a_scenario_list_holds_only_scenarios(text: str) -> None:
    asked = {one.strip() for one in text.split(",") if one.strip()}
    try:
        chosen = children.scenarioList(text)
    except argparse.ArgumentTypeError:
        assert not asked or not asked <= set(fresh.EVENTS)
    else:
        assert set(chosen) == asked and chosen == [e for e in fresh.EVENTS if e in asked]


def test_any_result_is_an_answer_and_an_error_is_not() -> None:
    assert fresh.readResult(answer('{"timezone": "UTC"}')) == (0, 0, False)
    assert fresh.readResult(answer("x", {figures.NOTICE_KEY: True})) == (0, 0, True)
    failed = answer("no such tool")
    failed["result"]["isError"] = True
    assert fresh.readResult(failed) is None
    assert fresh.readResult({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}) is None


def test_the_installs_are_read_from_the_gateways_log() -> None:
    log = (
        "[x#info] server time: uvx mcp-server-time resolved to /s/uvx/t/bin/mcp-server-time"
        " in 3.0s; it runs without the uvx wrapper\n"
        "[x#info] server memory: npx @mcp/server-memory resolved to /usr/bin/node /s/i.js"
        " in 11.5s; it runs without the npx wrapper\n"
        "[x#info] server other: npx pkg is node /s/o.js (cached)\n"
    )
    found = fresh.installs(log)
    assert set(found) == {"time", "memory"}  # a cached one was not installed
    assert found["memory"] == {
        "kind": "npx",
        "package": "@mcp/server-memory",
        "command": "/usr/bin/node /s/i.js",
        "seconds": 11.5,
    }


def lostLog(*calls: tuple[float, float]) -> Any:
    s = figures.SessionLog()
    for sent, at in calls:
        s.lost.append(at)
        s.lostSent.append(sent)
        s.lostWhy.append("ConnectionResetError: reset")
    return s


def test_calls_lost_at_a_kill_are_split_by_when_they_were_sent() -> None:
    # Killed at 10.0, gone at 10.04; one call sent before, one while it died, one after.
    one = lostLog((9.99, 10.01), (10.01, 10.04), (11.0, 11.1))
    found = fresh.lostAround([one, lostLog((5.0, 5.1))], 10.0, 10.04, 13.0, 3.0)
    assert (found["inFlight"], found["whileDying"], found["beyond"]) == (1, 1, 1)
    assert found["beyondHow"] == {"ConnectionResetError: reset": 1}  # 5.1 is before the window
    restarted = fresh.lostAround([one], 10.0, 10.0, 13.0, 3.0)  # no kill: all count
    assert restarted["inFlight"] + restarted["whileDying"] + restarted["beyond"] == 3


def test_a_child_is_kept_with_its_pid_and_its_start_time() -> None:
    assert fresh.childKept({"pid": 5, "start": 100}, {"pid": 5, "start": 100})
    assert not fresh.childKept({"pid": 5, "start": 100}, {"pid": 5, "start": 101})
    assert not fresh.childKept(None, None) and not fresh.childKept({"pid": 5, "start": 1}, None)


def server(name: str, kept: bool, inFlight: int = 0, beyond: int = 0) -> dict[str, Any]:
    calls = {
        "sessions": 4,
        "inFlight": inFlight,
        "whileDying": 0,
        "beyond": beyond,
        "beyondHow": {},
        "errors": 0,
        "refused": 7,
        "longestPauseMs": 1234.0,
        "toldSessions": 0,
        "noAnswerAfter": 0,
    }
    child = {"before": {"pid": 42, "start": 1}, "after": None, "kept": kept}
    return {
        "name": name,
        "kind": "npx" if name == "memory" else "uvx",
        "package": f"pkg-{name}",
        "version": "1.0",
        "installSeconds": 3.5,
        "child": child,
        "calls": calls,
        "stateKept": True if name == "memory" else None,
    }


def scenarioResults() -> list[dict[str, Any]]:
    restart = {
        "scenario": "restart",
        "killedAfterReady": 0.0,
        "how": {"commandSeconds": 2.5},
        "processes": {"atEvent": 8, "leftAfterStop": 0},
        "servers": [server("memory", True), server("time", True)],
    }
    crash = {
        "scenario": "crash",
        "killedAfterReady": 0.01,
        "how": {"commandSeconds": 3.0, "goneAfterMs": 40.0},
        "processes": {"atEvent": 8, "leftAfterStop": 0},
        "restartReport": {"anew": [{"server": "time", "pid": 42, "why": "not running"}]},
        "servers": [server("memory", True, inFlight=4), server("time", False, 4, 1)],
    }
    held, ended = server("memory", False), server("time", False)
    held["child"]["heldAfterKill"] = True
    orphan = {
        "scenario": "orphan",
        "killedAfterReady": 0.0,
        "processes": {"atEvent": 8, "leftAfterGrace": 0, "endedAfter": 63.1},
        "servers": [{**one, "calls": None, "stateKept": None} for one in (held, ended)],
    }
    return [restart, crash, orphan]


def test_the_goals_say_what_holds() -> None:
    found = {goal: (got, ok) for goal, got, ok in fresh.goals(scenarioResults())}
    assert found["children kept through `restart`: all"] == ("2 of 2", True)
    assert found["children kept through SIGKILL then `start`: all"] == ("1 of 2", False)
    assert found["calls lost through `restart`: 0"] == ("0", True)
    lost = found["calls lost through a SIGKILL beyond those in flight at it: 0"]
    assert lost == ("1 (8 in flight, 0 sent while it died)", False)
    left = found["processes left after the grace with no next gateway: 0"]
    assert left == ("0 (of 8 at the SIGKILL)", True)


def test_the_fresh_report_has_its_goals_a_row_per_server_and_event_and_the_processes() -> None:
    text = fresh.report(scenarioResults())
    lines = text.splitlines()
    assert "| children kept through SIGKILL then `start`: all | 1 of 2 | **no** |" in lines
    rows = [line for line in lines if line.startswith("| SIGKILL + `mcpgateway start` | ")]
    memory, time, processes = rows
    assert "memory (npx pkg-memory 1.0) | 3.5 s | 42 | yes | yes | 4 / 0 / 0 / 0 / 7" in memory
    assert "| no | - | 4 / 0 / 1 / 0 / 7 | 0 of 4 | 1234 ms |" in time
    assert "| 0.01 s | 3.0 s | 8 | - | - | 0 |" in processes
    held = [line for line in lines if line.startswith("| SIGKILL, no next gateway | memory")]
    assert "| held by the warden | - | - | - | - |" in held[0]
    assert "- SIGKILL + `mcpgateway start`: time (pid 42): not running" in lines
    for table in ("| event | server |", "| event | killed after"):
        header = next(i for i, line in enumerate(lines) if line.startswith(table))
        columns = lines[header].count("|")
        body = lines[header + 1 : header + 5]
        assert all(line.count("|") == columns for line in body), body
