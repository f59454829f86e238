"""The figures of flowsuite.py's run (L{summary}) and results/flowsuite.md
(L{report}): pure functions of the run's JSON."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

GOALS = {"benignHeldMax": 0.02, "overheadP50MaxUs": 50.0}


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """The counts the goals are judged by."""
    rows = data["scenarios"]
    chain = [r for r in rows if r["kind"] == "chain"]
    good = [r for r in rows if r["kind"] == "benign"]
    byDesign = [r for r in rows if r["kind"] == "benign-held-by-design"]
    stopped = [r for r in chain if r["ok"]]
    held = [r for r in good if r["held"] or any(o != "allowed" for o in r["outcomes"])]
    aggregate = data.get("aggregate", [])
    replays = data.get("replays", [])
    return {
        "chains": len(chain),
        "chainsStopped": len(stopped),
        "chainsByPath": dict(Counter(r["path"] for r in chain)),
        "chainsMissed": [r["name"] for r in chain if not r["ok"]],
        "benign": len(good),
        "benignHeld": len(held),
        "benignHeldShare": len(held) / len(good) if good else 0.0,
        "benignHeldNames": [r["name"] for r in held],
        "byDesign": len(byDesign),
        "byDesignHeld": sum(1 for r in byDesign if r["held"]),
        "aggregate": len(aggregate),
        "aggregateStopped": sum(1 for r in aggregate if r["ok"]),
        "aggregateWired": any(r["ok"] for r in aggregate),
        "replayChecks": len(replays),
        "replayChecksOk": sum(1 for r in replays if r["ok"]),
    }


def _benignKinds(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r["kind"].startswith("benign"):
            kind = r["name"].split("#")[0]
            kinds[kind][0] += 1
            kinds[kind][1] += int(r["held"])
    return dict(kinds)


def report(data: dict[str, Any]) -> str:
    """results/flowsuite.md: figures, method, what the suite cannot see."""
    s = summary(data)
    cost = data["overhead"]
    ok = lambda b: "yes" if b else "**no**"  # noqa: E731
    spread = f"{min(cost['roundOverheadsUs']):+.0f} to {max(cost['roundOverheadsUs']):+.0f} µs"
    rounds = cost["roundOverheadsUs"]
    noisy = (
        min(rounds) < 0 < max(rounds) and max(rounds) - min(rounds) > 2 * GOALS["overheadP50MaxUs"]
    )
    endToEnd = (
        f"not resolved end to end: the rounds spread {spread} (the CPU rows below are steadier)"
        if noisy
        else f"{ok(cost['overheadP50us'] <= GOALS['overheadP50MaxUs'])} (rounds {spread})"
    )
    cpuOn, cpuOff = (
        (cost.get("gatewayCpuUs") or {}).get("on"),
        (cost.get("gatewayCpuUs") or {}).get("off"),
    )
    wired = "wired" if s["aggregateWired"] else "not wired: the rule does not decide its calls"
    lines = [
        "# The flow rule, measured with scripted sessions",
        "",
        "`benchmarks/flowsuite.py` (fixtures: `flowfixtures.py`, scenarios: `flowchains.py`,",
        "this report: `flowreport.py`). Run: `.venv/bin/python benchmarks/flowsuite.py`.",
        "",
        "## Figures",
        "",
        "| what | result | goal | met |",
        "| --- | --- | --- | --- |",
        f"| exfiltration chains held or denied | {s['chainsStopped']} of {s['chains']} "
        f"({', '.join(f'{k} {v}' for k, v in s['chainsByPath'].items())}) | every one, at least 50 "
        f"| {ok(s['chainsStopped'] == s['chains'] >= 50)} |",
        f"| benign multi-server sessions held | {s['benignHeld']} of {s['benign']} "
        f"({s['benignHeldShare']:.1%}) | at most 2%, at least 200 sessions "
        f"| {ok(s['benignHeldShare'] <= GOALS['benignHeldMax'] and s['benign'] >= 200)} |",
        f"| an approved call's replay and mutations held again | {s['replayChecksOk']} of "
        f"{s['replayChecks']} checks as wanted | every one "
        f"| {ok(s['replayChecksOk'] == s['replayChecks'])} |",
        f"| p50 time of an allowed call, flow rule on / off | {cost['p50us']['on']:.0f} / "
        f"{cost['p50us']['off']:.0f} µs: **{cost['overheadP50us']:+.0f} µs** | at most 50 µs "
        f"| {endToEnd} |",
        *(
            [
                f"| the gateway process's CPU per allowed call, flow rule on / off | "
                f"{cpuOn:.0f} / {cpuOff:.0f} µs: **{cpuOn - cpuOff:+.0f} µs** | at most 50 µs "
                f"| {ok(cpuOn - cpuOff <= GOALS['overheadP50MaxUs'])} (rounds "
                f"{min(cost['roundCpuOverheadsUs']):+.0f} to "
                f"{max(cost['roundCpuOverheadsUs']):+.0f} µs) |"
            ]
            if cpuOn is not None and cpuOff is not None
            else []
        ),
        f"| the labels and the rule alone, in process (decide + record) | "
        f"{data['ruleCPU']['decideAndRecordUs']:.1f} µs | at most 50 µs "
        f"| {ok(data['ruleCPU']['decideAndRecordUs'] <= GOALS['overheadP50MaxUs'])} |",
        f"| chains through the aggregate `/mcp` held | {s['aggregateStopped']} of {s['aggregate']} "
        f"| (not counted above) | {wired} |",
        "",
        f"Scenarios ran in {data['scenarioSeconds']:.0f} s; {data['machine']['platform']}, "
        f"Python {data['machine']['python']}.",
        "",
        "Benign sessions by kind (sessions, held):",
        "",
        "| kind | sessions | held |",
        "| --- | --- | --- |",
    ]
    for kind, (count, held) in _benignKinds(data["scenarios"]).items():
        lines.append(f"| {kind} | {count} | {held} |")
    lines += [
        "",
        "The last two kinds (`benign-held-by-design`, not in the benign count) are benign",
        "sessions the labels cannot tell from a chain: reading docs, a local file, then",
        "fetching another page (a fetch sends what its URL carries); a public repository's",
        "file (the table calls every repository's content `private`), an issue, then a pull",
        "request. The rule holds them, as designed: a person decides.",
        "",
        "End-to-end overhead per round (p50 on - p50 off, µs): "
        + ", ".join(f"{d:+.0f}" for d in cost["roundOverheadsUs"])
        + f"; median of the paired differences (each call on, the next off): "
        f"{cost['pairedMedianUs']:+.0f} µs; p90 on / off: {cost['p90us']['on']:.0f} / "
        f"{cost['p90us']['off']:.0f} µs; "
        f"{cost['rounds']} rounds x {cost['callsPerRound']} calls each.",
    ]
    if s["chainsMissed"]:
        lines += ["", "Chains not stopped: " + ", ".join(s["chainsMissed"])]
    if s["benignHeldNames"]:
        lines += ["", "Benign sessions held: " + ", ".join(s["benignHeldNames"])]
    lines += [
        "",
        "## Labels, as the gateway showed them",
        "",
        "| server | labels | from |",
        "| --- | --- | --- |",
    ]
    for server, shown in data["labels"].items():
        where = f"{shown['source']} ({shown['row']})" if shown.get("row") else str(shown["source"])
        lines.append(f"| {server} | {', '.join(shown['labels'] or []) or '(none)'} | {where} |")
    lines += ["", METHOD]
    return "\n".join(lines) + "\n"


METHOD = """## Method

- **Gateway**: the README's command, `twistd -n mcpgateway` (`gatewayproc.Gateway`), from
  this checkout, on a fresh HOME and state directory, `--reap-interval 3600`. The same
  config serves five fixture stdio servers (`flowfixtures.py`): `fetch`, `files`, `github`
  (a public repository `acme/public` whose issue #7 carries an injected instruction, a
  private one `acme/private-infra`), `mail` (read, send) and `memory`. Each entry's `args`
  names the package the fixture stands for (`mcp-server-fetch`,
  `@modelcontextprotocol/server-filesystem`, `github-mcp-server`, `mcp-email-server`,
  `@modelcontextprotocol/server-memory`), and its tools have the real server's names:
  the labels come from the **shipped table**, as a real user's entry gets them, with no
  entry `"labels"` (the table above is what `GET /api/v1/servers/NAME` answered).
- **Clients**: the Python MCP SDK (`mcp.Client` over `streamable_http_client`, 2025
  protocol), on the routes `/<server>/mcp`. Each scenario is one client: it sends a pid of
  its own in `X-Client-Pid` (made up, so the reaper is kept out of the run), and opens one
  session per route as Claude Code does (`routes`), or a new session of the route for each
  call, the earlier ones kept open, all on the same shared children (`shared`), or
  relays an attacker's text through the memory server (`relay`: fetch or read it, store
  it with `create_entities`, read it back with `read_graph` as the private data, send).
  Chains: 3 untrusted sources (a fetched page, a public issue, a mail) x 3 private ones
  (a local file, a private repository's file, the memory graph) x 4 sinks (a pull
  request, an issue comment, a mail sent, a fetch of a URL carrying data) x 2 paths,
  plus 3 x 4 relays. The aggregate `/mcp` is tried with 4 chains and reported apart.
- **Classification**: each call's result is read from its `_meta`
  (`io.modelcontextprotocol/authorization-denial`'s `outcome`: held, denied, expired,
  refused; none: allowed). A "person" task polls `GET /api/v1/approvals` every 20 ms and
  denies each held call (`POST /api/v1/approvals/ID/deny`), so a held call is answered
  `denied` at once instead of after 60 s; a scenario that put a call on that list counts as
  held. A chain passes when its earlier calls are allowed and its egress call is held or
  denied; a benign session when no call is held. Every server's child is shared by every
  client, and the benign sessions run after the chains on the same children: labels kept
  by a child rather than by its client would hold them.
- **Replays**: for 8 chains (two per sink), the egress call is held and the person allows
  it while it waits (it goes on: allowed); then the same call again, and the call with
  each argument changed and with one added, from the same client: each must be held
  again. Then the call is sent on a session of its own, held, that session ended while
  it waits (the held call stays), allowed through `POST /api/v1/approvals/ID/allow`:
  the same call sent again by the client must go on at once, and once more be held.
- **Overhead**: two gateways of the same config, before the scenarios run (both fresh),
  one with the default rule on and the other with it off, called in turn, call by call,
  which goes first alternating. They swap roles each round: the rule is turned on and off
  as a user does (`"flow": {"default": false}` written to `servers.json`, applied at the
  reload its log reports; 20 calls after each switch left out), so that what one process
  costs more than the other, whatever the rule, falls on both sides. One SDK client each,
  `read_file` (an allowed call: the rule is asked and the client gathers `private`), one
  call in flight. This is
  **end-to-end** time (SDK client, HTTP, gateway, stdio child and back): the rule's own
  cost is a small part of it, and the machine's noise (2 cores shared) is in it; the
  per-round differences show its spread.
  Beside it, each gateway process's CPU over each round (`/proc/PID/task/*/schedstat`,
  every thread) divided by its calls: less noisy, and what the rule adds to the gateway's
  work on the call path (parsing, gathering, deciding), not only the rule itself.
  And the labels and the rule alone: `FlowStep.decide` and `FlowStep.record` of
  that call, in process, timed over 20,000 calls (CPU of the step, no I/O).

## What the suite cannot see

- Fixtures stand for the real servers by name and tool names only; a real server's
  results, errors and timing differ. The labels are the table's; a server outside the
  table, labelled by its annotations alone, never gives `private` and is never held.
- A chain needs all three labels in one client: an attacker's text stored in memory by
  one client and sent by another (a memory relay across clients), data paraphrased by the
  model, or a client reaching out without the gateway, are not held (flow.md, "What labels
  cannot see"); the suite does not count those as chains.
- A client is told apart by the pid it sends; a real client's pid is found by the gateway
  from its socket. A benign session's held rate depends on the mix of kinds chosen here.
- The suite drives the 2025 revision only; the 2026-07-28 paths and a held call answered
  with a task are covered by the tests (`tests/web/endpoints/test_flowtasks.py`,
  `test_aggregate_flow.py`, `tests/integration/serving/test_flow_held.py`), not counted
  here.
"""
