"""The markdown report of C{benchmarks/tasks.py}: its result (the dict it
writes to C{benchmarks/results/tasks.json}) as the tables it prints and
writes to C{benchmarks/results/tasks.md}."""

from __future__ import annotations

from typing import Any


def storeTable(store: dict[str, Any]) -> list[str]:
    ops = store["ops"]
    rows = [
        ("`create` (append + fdatasync)", ops["create"]),
        ("`update`, not terminal (append)", ops["update"]),
        ("`update`, terminal (append + fdatasync)", ops["terminal"]),
        ("`get` (memory)", ops["get"]),
        ("the disk alone: open, write, fdatasync, close of one line", ops["disk"]),
        ("the timer's own floor", ops["timerFloor"]),
    ]
    manager = store.get("manager")
    if manager:
        rows += [
            ("`TaskManager.call`, a quick call not declared", manager["plain"]),
            ("`TaskManager.call`, a quick call declared (the race)", manager["declared"]),
        ]
    lines = [
        f"Journal in `{store['dir']}` ({store['fs']}); {ops['create']['n']} tasks, "
        f"{ops['createBytes']} bytes per create line.",
        "",
        "| store operation | median µs | p99 µs | max µs | compactions |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, s in rows:
        compactions = s.get("compactions", "")
        lines.append(
            f"| {name} | {s['median']:,.2f} | {s['p99']:,.2f} | {s['max']:,.2f} | {compactions} |"
        )
    lines += [
        "",
        "| tasks kept | journal bytes per task | `load` ms | after compaction, bytes per task"
        " | room check per declared call: median µs | p99 µs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for load in store["loads"]:
        room = load["roomCheckUs"]
        lines.append(
            f"| {load['tasks']:,} | {load['bytesPerTask']:,} | {load['loadMs']:,.1f} |"
            f" {load['compactedBytesPerTask']:,} | {room['median']:,.1f} | {room['p99']:,.1f} |"
        )
    return lines


def httpTable(part: dict[str, Any]) -> list[str]:
    lines = [
        "| what | C | calls/s | each round | p50 ms | p99 ms | CPU µs/call: gateway | child"
        " | client | cores used by others | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lv in part["levels"]:
        cpu = lv["cpuUsPerCall"]
        gateway = "n/a" if lv["variant"].endswith("-direct") else f"{cpu['server']:,.1f}"
        lines.append(
            f"| {lv['label']} | {lv['concurrency']} | {lv['callsPerSecond']:,} |"
            f" {' / '.join(f'{x:,}' for x in lv['roundsCallsPerSecond'])} |"
            f" {lv['p50Ms']:.3f} | {lv['p99Ms']:.3f} | {gateway} | {cpu['child']:,.1f} |"
            f" {cpu['client']:,.1f} | {lv['cores']['others']:.2f} | {lv['errors']} |"
        )
    return lines


def deltaTable(part: dict[str, Any]) -> list[str]:
    """What declaring the extension adds, and what the gateway adds over stdio."""
    found = {(lv["variant"], lv["concurrency"]): lv for lv in part["levels"]}
    lines = [
        "| difference | C | p50 ms | gateway CPU µs/call |",
        "| --- | ---: | ---: | ---: |",
    ]
    pairs = [
        ("greet: declared - not declared", "greet-declared", "greet-plain"),
        ("slow_compute(0): declared - not declared", "sc0-declared", "sc0-plain"),
        ("greet: through the gateway - direct stdio", "greet-plain", "greet-direct"),
    ]
    for concurrency in sorted({c for _, c in found}):
        for name, a, b in pairs:
            x, y = found.get((a, concurrency)), found.get((b, concurrency))
            if x is None or y is None:
                continue
            cpu = (
                "n/a"
                if b.endswith("-direct")
                else f"{x['cpuUsPerCall']['server'] - y['cpuUsPerCall']['server']:+.1f}"
            )
            lines.append(f"| {name} | {concurrency} | {x['p50Ms'] - y['p50Ms']:+.3f} | {cpu} |")
    return lines


def pathTable(path: dict[str, Any]) -> list[str]:
    handle, done = path["handleMs"], path["completedMs"] or {"median": 0, "p99": 0}
    return [
        f"{path['calls']} calls, {path['becameTasks']} became tasks"
        f" ({path['answeredAsIs']} answered as is); polled without pause, median"
        f" {path['pollsMedian']} `tasks/get` per task.",
        "",
        "| `slow_compute(0)` as a task, C=1 | median ms | p99 ms |",
        "| --- | ---: | ---: |",
        f"| `tools/call` to its `CreateTaskResult` | {handle['median']:.3f}"
        f" | {handle['p99']:.3f} |",
        f"| `tools/call` until `tasks/get` shows it completed | {done['median']:.3f}"
        f" | {done['p99']:.3f} |",
        "",
        f"Gateway CPU per task (its call, handle and polls): {path['gatewayCpuUsPerTask']:,.1f}"
        f" µs; the child's: {path['childCpuUsPerTask']:,.1f} µs; journal bytes per task:"
        f" {path['journalBytesPerTask']:,}; cores used by others: {path['othersCores']:.2f}.",
    ]


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Tasks: the store, a poll, a short call",
        "",
        f"`{' '.join(['benchmarks/tasks.py', *result['argv']])}` at `{result['commit']}`,"
        f" {result['date']}; {m['cpus']} CPUs, Python {m['python']}, {m['platform']};"
        f" load average {m['loadavg']} at the start, {result['loadavgEnd']} at the end.",
        "",
        "## The store, in process",
        "",
        *storeTable(result["store"]),
    ]
    if "http" in result:
        before = result["http"]["busyBeforeLevels"]
        busy = f"{before[0]:.2f}-{before[-1]:.2f} (median {before[len(before) // 2]:.2f})"
        lines += [
            "",
            f"## Poll and short call over HTTP ({result['args']['rounds']} interleaved rounds)",
            "",
            "A gateway (as `mcpgateway start` runs it) in front of"
            " `tests/fixtures/conformance_server.py` (one shared child; its `requestTimeout` an"
            " hour, since a task's call is an ordinary request to the child), stateless"
            " 2026-07-28 requests on keep-alive `http.client` connections, a thread each. Before"
            f" the levels the machine's other work kept {busy} cores busy; the levels waited"
            f" {result['http']['quietWaitedSeconds']} s in all for it to go quiet.",
            "",
            *httpTable(result["http"]),
            "",
            *deltaTable(result["http"]),
        ]
    if "taskPath" in result:
        lines += ["", "## A call made a task at once (`--task-after 0`)", ""]
        lines += pathTable(result["taskPath"])
    return "\n".join(lines) + "\n"
