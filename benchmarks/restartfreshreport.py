"""What C{restartfresh.py} makes of its runs: an answer of a freshly
installed server read, the gateway's log line of an install read, the
calls lost split into those in flight at the event and the others, a
child kept or not (its host pid with its start time), the goals, and the
markdown report.

Pure functions on plain values: no process, no socket, no clock
(C{tests/test_bench_restart.py} checks them).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from restartfigures import NOTICE_KEY, SessionLog, eventFigures

EVENTS = {
    "restart": "`mcpgateway restart`",
    "crash": "SIGKILL + `mcpgateway start`",
    "orphan": "SIGKILL, no next gateway",
}
"""The scenarios, in the order they run, and how the report names them."""

INSTALLED = re.compile(
    r"server (?P<server>\S+): (?P<kind>npx|uvx) (?P<package>\S+) resolved to (?P<command>.+?)"
    r" in (?P<seconds>[0-9.]+)s; it runs without"
)
"""The gateway's log line of a package it installed (not of one it found
in its cache: that line says C{(cached)} and no time)."""


def readResult(message: dict[str, Any]) -> tuple[int, int, bool] | None:
    """A C{tools/call} answer of any server as L{restartfigures.readAnswer}
    reads the counter's: C{(0, 0, told)} for a result that is not an
    error (the server says no count nor pid), C{None} for an error."""
    result = message.get("result")
    if not isinstance(result, dict) or result.get("isError"):
        return None
    meta = result.get("_meta")
    return 0, 0, isinstance(meta, dict) and bool(meta.get(NOTICE_KEY))


def installs(log: str) -> dict[str, dict[str, Any]]:
    """The packages the gateway's log says it installed, by server: kind,
    package, the command it resolved to and the seconds it took."""
    found: dict[str, dict[str, Any]] = {}
    for match in INSTALLED.finditer(log):
        found[match["server"]] = {
            "kind": match["kind"],
            "package": match["package"],
            "command": match["command"],
            "seconds": float(match["seconds"]),
        }
    return found


def lostAround(
    logs: list[SessionLog], event: float, dead: float, until: float, window: float
) -> dict[str, Any]:
    """The calls lost between C{event - window} and C{until}, by when they
    were sent: C{inFlight}, before the event and lost at it or later;
    C{whileDying}, after a SIGKILL but before the process was gone (at
    C{dead}: the kernel still queues a connection to its listening socket
    until it closes); C{beyond}, the others (sent once it was gone, or lost
    before the event), and C{beyondHow}, how those ended, counted. A killed
    gateway answers none of the first two. Without a kill, C{dead} is
    C{event}."""
    inFlight = dying = beyond = 0
    why: Counter[str] = Counter()
    for s in logs:
        for sent, at, how in zip(s.lostSent, s.lost, s.lostWhy, strict=True):
            if not event - window <= at <= until:
                continue
            if sent < event <= at:
                inFlight += 1
            elif event <= sent < dead:
                dying += 1
            else:
                beyond += 1
                why[how] += 1
    return {"inFlight": inFlight, "whileDying": dying, "beyond": beyond, "beyondHow": dict(why)}


def callFigures(
    logs: list[SessionLog], event: float, dead: float, until: float, window: float
) -> dict[str, Any]:
    """One server's sessions through one event: calls lost (in flight,
    beyond: L{lostAround}), errors, refused, the longest pause, sessions
    told their child is new, sessions with no answer after the event."""
    every = eventFigures(logs, event, until, window)
    return {
        "sessions": every["sessions"],
        **lostAround(logs, event, dead, until, window),
        "errors": every["errors"],
        "refused": every["refused"],
        "longestPauseMs": every["longestPauseMs"],
        "toldSessions": every["toldSessions"],
        "noAnswerAfter": every["noAnswerAfter"],
    }


def childKept(before: dict[str, int] | None, after: dict[str, int] | None) -> bool:
    """Whether the child after the event is the one before it: the same
    host pid with the same start time (a pid alone may be reused)."""
    return before is not None and before == after


def goals(results: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """Each goal, what was measured, and whether it holds."""
    rows: list[tuple[str, str, bool]] = []
    for scenario, label in (("restart", "`restart`"), ("crash", "SIGKILL then `start`")):
        servers = [s for r in results if r["scenario"] == scenario for s in r["servers"]]
        if not servers:
            continue
        kept = sum(1 for s in servers if s["child"]["kept"])
        rows.append(
            (
                f"children kept through {label}: all",
                f"{kept} of {len(servers)}",
                kept == len(servers),
            )
        )
        stated = [s for s in servers if s.get("stateKept") is not None]
        if stated:
            held = sum(1 for s in stated if s["stateKept"])
            rows.append(
                (
                    f"their state kept through {label}: all",
                    f"{held} of {len(stated)}",
                    held == len(stated),
                )
            )
        calls = [s["calls"] for s in servers]
        if scenario == "restart":
            lost = sum(c["inFlight"] + c["whileDying"] + c["beyond"] for c in calls)
            rows.append(("calls lost through `restart`: 0", str(lost), lost == 0))
        else:
            beyond = sum(c["beyond"] for c in calls)
            inFlight = sum(c["inFlight"] for c in calls)
            dying = sum(c["whileDying"] for c in calls)
            rows.append(
                (
                    "calls lost through a SIGKILL beyond those in flight at it: 0",
                    f"{beyond} ({inFlight} in flight, {dying} sent while it died)",
                    beyond == 0,
                )
            )
    for r in results:
        if r["scenario"] == "orphan":
            leftover = r["processes"]["leftAfterGrace"]
            rows.append(
                (
                    "processes left after the grace with no next gateway: 0",
                    f"{leftover} (of {r['processes']['atEvent']} at the SIGKILL)",
                    leftover == 0,
                )
            )
    return rows


def fmt(value: Any, unit: str = "") -> str:
    """C{value} with its unit, or a dash when there is none."""
    return "-" if value is None else f"{value}{unit}"


def serverRow(result: dict[str, Any], server: dict[str, Any]) -> str:
    """One server's line of the report, through one event."""
    child, calls = server["child"], server.get("calls")
    before = child["before"] or {}
    kept = "yes" if child["kept"] else "no"
    if result["scenario"] == "orphan":
        kept = "held by the warden" if child.get("heldAfterKill") else "ended with the gateway"
    state = {None: "-", True: "yes", False: "no"}[server.get("stateKept")]
    if calls is None:
        lost = pause = told = "-"
    else:
        lost = (
            f"{calls['inFlight']} / {calls['whileDying']} / {calls['beyond']}"
            f" / {calls['errors']} / {calls['refused']}"
        )
        pause = f"{calls['longestPauseMs']:.0f} ms"
        told = f"{calls['toldSessions']} of {calls['sessions']}"
    return (
        f"| {EVENTS[result['scenario']]} | {server['name']} ({server['kind']} {server['package']}"
        f" {fmt(server.get('version'))}) | {fmt(server.get('installSeconds'), ' s')}"
        f" | {fmt(before.get('pid'))} | {kept} | {state} | {lost} | {told} | {pause} |"
    )


SERVERS_HEADER = (
    "| event | server | install | child (host pid) | kept (same pid and start time) | state kept"
    " | calls lost in flight / while it died / beyond / errors / refused | sessions told"
    " | longest pause |"
)
PROCESSES_HEADER = (
    "| event | killed after the children answered | command | processes at the event"
    " | left after the grace | all ended after | left after `mcpgateway stop` |"
)


def table(header: str, rows: list[str]) -> list[str]:
    columns = header.count("|") - 1
    return [header, "|" + "|".join([" --- "] * columns) + "|", *rows]


def processRow(result: dict[str, Any]) -> str:
    p, how = result["processes"], result.get("how") or {}
    return (
        f"| {EVENTS[result['scenario']]} | {result['killedAfterReady']:.2f} s"
        f" | {fmt(how.get('commandSeconds'), ' s')} | {p['atEvent']}"
        f" | {fmt(p.get('leftAfterGrace'))}"
        f" | {fmt(p.get('endedAfter'), ' s')} | {fmt(p.get('leftAfterStop'))} |"
    )


def report(results: list[dict[str, Any]]) -> str:
    """The markdown of every scenario: the goals, a row per server and
    event, a row of processes per event, and why any child was started anew."""
    lines = ["| goal | measured | holds |", "| --- | --- | --- |"]
    lines += [
        f"| {goal} | {got} | {'yes' if ok else '**no**'} |" for goal, got, ok in goals(results)
    ]
    lines += ["", *table(SERVERS_HEADER, [serverRow(r, s) for r in results for s in r["servers"]])]
    lines += ["", *table(PROCESSES_HEADER, [processRow(r) for r in results])]
    anew = [
        f"- {EVENTS[r['scenario']]}: {one.get('server')} (pid {one.get('pid')}): {one.get('why')}"
        for r in results
        for one in (r.get("restartReport") or {}).get("anew", [])
    ]
    if anew:
        lines += ["", "Started anew, as the next gateway says (`/health` `restart.anew`):", *anew]
    lines += [
        "",
        "- *install*: the gateway's own `npm install` / `uv tool install` of the package, on a"
        " fresh HOME and state directory (empty npm and uv caches), as its log says.",
        "- *kept*: the server's child in the gateway's ledger (`children.json`) after the event"
        " is the one before it: the same host pid with the same start time. With no next"
        " gateway: whether the warden held it after the SIGKILL.",
        "- *state kept*: what the server holds is still there after the event (server-memory:"
        " the entity created before it); `-`: the server holds nothing.",
        "- *calls lost*: sent, no answer (connection reset or closed); *in flight*: sent before"
        " the event, lost at it or after; *while it died*: sent after the SIGKILL but before the"
        " process was gone (its pidfd readable), to a listening socket the kernel had not"
        " closed yet; *beyond*: the others. *errors*: an HTTP or JSON-RPC"
        " error instead of a result; *refused*: connections refused while no gateway listened"
        " (no call sent, the session tries again).",
        "- *sessions told*: sessions whose answer said the child was started anew"
        f" (`_meta` `{NOTICE_KEY}`, or a `notifications/message` warning).",
        "- *processes*: the live processes whose environment holds the run's token (the"
        " gateway, its installers and children and what they started, in their sandbox too)"
        " or whose command line or environment names the run's HOME (the warden, which"
        " starts with an environment of its own).",
    ]
    return "\n".join(lines)
