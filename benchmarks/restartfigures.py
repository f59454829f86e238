"""What C{restartchildren.py} makes of its sessions' calls: the counter
fixture's answer read (its count, its pid, whether the gateway said the
child was started anew), each event's figures (calls lost, the longest
pause a session saw, how many sessions' counts went on, children started
anew) and the markdown report.

Pure functions on plain values: no process, no socket, no clock
(C{tests/test_bench_restart.py} checks them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

NOTICE_KEY = "mcpgateway/childRestarted"
"""The C{_meta} key of the first result after a session's child was started
anew (what the gateway tells a client whose child's memory is lost)."""


@dataclass
class Answered:
    """One call answered with a count: when it ended, the count, the pid
    the child saw itself as, whether the result said the child was new."""

    at: float
    count: int
    pid: int
    told: bool = False


@dataclass
class SessionLog:
    """One session's calls: the answered ones in order, and the others."""

    answered: list[Answered] = field(default_factory=list)
    lost: list[float] = field(default_factory=list)
    """When a call sent got no answer (connection reset or closed)."""
    lostSent: list[float] = field(default_factory=list)
    """When each call of L{lost} was sent."""
    lostWhy: list[str] = field(default_factory=list)
    """How each call of L{lost} ended (the exception's class and text)."""
    errors: list[float] = field(default_factory=list)
    """When a call got an error (HTTP or JSON-RPC) instead of a count."""
    refused: list[float] = field(default_factory=list)
    """When a connection was refused (no call sent; the session tries again)."""
    notices: list[float] = field(default_factory=list)
    """When a C{notifications/message} at level warning came with an answer."""


def readAnswer(message: dict[str, Any]) -> tuple[int, int, bool] | None:
    """(count, pid, told) of a C{tools/call count} answer; C{None}: not a
    count (an error, or another text)."""
    result = message.get("result")
    if not isinstance(result, dict):
        return None
    content = result.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    text = content[0].get("text")
    if not isinstance(text, str):
        return None
    fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
    try:
        counted, pid = int(fields["count"]), int(fields["pid"])
    except (KeyError, ValueError):
        return None
    meta = result.get("_meta")
    told = isinstance(meta, dict) and bool(meta.get(NOTICE_KEY))
    return counted, pid, told


def isRestartNotice(message: dict[str, Any]) -> bool:
    """Whether C{message} is the gateway's warning that a child was started anew."""
    params = message.get("params")
    return (
        message.get("method") == "notifications/message"
        and isinstance(params, dict)
        and params.get("level") == "warning"
        and params.get("logger") == "mcpgateway"
    )


def longestPause(times: list[float], start: float, end: float) -> float:
    """The longest time between two answers within [C{start}, C{end}],
    counting from C{start} to the first one (C{end - start} if none came)."""
    inside = [start, *(t for t in times if start <= t <= end)]
    if len(inside) == 1:
        return end - start
    return max(b - a for a, b in itertools.pairwise(inside))


def eventFigures(
    logs: list[SessionLog], event: float, until: float, window: float
) -> dict[str, Any]:
    """The figures of one event (at C{event}, over by C{until}): what the
    sessions lost between C{event - window} and C{until}, the longest
    pause one saw from C{event} on, how many went on with their count
    (the first count after the event above the last before it), how many
    were told their child was new (once each, or more)."""
    start = event - window
    lost = sum(1 for s in logs for t in s.lost if start <= t <= until)
    errors = sum(1 for s in logs for t in s.errors if start <= t <= until)
    refused = sum(1 for s in logs for t in s.refused if start <= t <= until)
    pauses: list[float] = []
    kept = restarted = silent = 0
    told: list[int] = []
    for s in logs:
        pauses.append(longestPause([a.at for a in s.answered], event, until))
        before = [a for a in s.answered if a.at < event]
        after = [a for a in s.answered if event <= a.at <= until]
        if before and after:
            if after[0].count > before[-1].count:
                kept += 1
            else:
                restarted += 1
        elif not after:
            silent += 1
        told.append(
            sum(1 for a in after if a.told) + sum(1 for t in s.notices if event <= t <= until)
        )
    return {
        "sessions": len(logs),
        "lost": lost,
        "errors": errors,
        "refused": refused,
        "longestPauseMs": round(1000 * max(pauses, default=0.0), 1),
        "countsWentOn": kept,
        "countsStartedAgain": restarted,
        "noAnswerAfter": silent,
        "toldSessions": sum(1 for n in told if n),
        "toldMoreThanTwice": sum(1 for n in told if n > 2),
    }


def respawned(before: set[int], after: set[int]) -> dict[str, int]:
    """The children of a server before and after an event, by host pid:
    how many went on, how many are new."""
    return {"kept": len(before & after), "new": len(after - before), "gone": len(before - after)}


def rate(logs: list[SessionLog], start: float, end: float) -> float:
    """Answered calls per second between C{start} and C{end}."""
    if end <= start:
        return 0.0
    count = sum(1 for s in logs for a in s.answered if start <= a.at < end)
    return round(count / (end - start), 1)


HEADER = (
    "| server | event | command | calls lost / errors / refused | children kept / new"
    " | counts went on | sessions told | longest pause | calls/s before / after"
    " | PSS before / after | fds before / after |"
)


def row(result: dict[str, Any]) -> str:
    """One event's line of the report."""
    f, c = result["figures"], result["children"]
    mem, fds = result["memory"], result["fds"]
    return (
        f"| {result['server']} | {result['event']} | {result['how']['commandSeconds']} s "
        f"| {f['lost']} / {f['errors']} / {f['refused']} "
        f"| {c['kept']} / {c['new']} "
        f"| {f['countsWentOn']} of {f['sessions']} "
        f"| {f['toldSessions']} "
        f"| {f['longestPauseMs']:.0f} ms "
        f"| {result['rateBefore']} / {result['rateAfter']} "
        f"| {mem['before']['pssMB']} / {mem['after']['pssMB']} MB "
        f"| {fds['before']} / {fds['after']} |"
    )


def report(results: list[dict[str, Any]]) -> str:
    """The markdown table of every event measured, with what each column says."""
    columns = HEADER.count("|") - 1
    lines = [HEADER, "|" + "|".join([" --- "] * columns) + "|"]
    lines += [row(r) for r in results]
    lines += [
        "",
        "- *command*: how long `mcpgateway restart`, or `mcpgateway start` after the"
        " SIGKILL, took to return (the gateway listening).",
        "- *calls lost*: sent, no answer (connection reset or closed); *errors*: an HTTP or"
        " JSON-RPC error instead of a count; *refused*: connections refused while no gateway"
        " listened (no call sent, the session tries again).",
        "- *children kept / new*: the server's children by host pid (the gateway's ledger,"
        " `children.json`) before and after the event.",
        "- *counts went on*: sessions whose first count after the event is above their last"
        " before it (the child's memory kept).",
        "- *sessions told*: sessions whose answer said the child was started anew"
        f" (`_meta` `{NOTICE_KEY}`, or a `notifications/message` warning).",
        "- *longest pause*: the longest time one session waited between two answers, from"
        " the event on.",
        "- *PSS*, *fds*: the gateway's process tree and the server's children"
        " (`/proc/<pid>/smaps_rollup`, `/proc/<pid>/fd`), under load, before the event"
        " and once every session was answered again.",
    ]
    return "\n".join(lines)
