"""C{restartchildren.py --fresh}: children of C{npx} and C{uvx} servers
whose packages the gateway installs in the same run, through
C{mcpgateway restart}, through a SIGKILL of the gateway followed by
C{mcpgateway start}, and through a SIGKILL with no next gateway.

Each scenario runs on a fresh HOME and state directory (empty npm and uv
caches): C{mcpgateway start} (detached, this checkout, the default
sandbox), a first call on each server (the gateway installs its package
then), an entity created in server-memory, then sessions on each server
call without pause (L{restartchildren.Caller}); the event comes as soon
as every session was answered once (C{--kill-after} later). Measured per
server: the child kept (the ledger's host pid with its start time), the
server's state kept, the calls lost (in flight at the event, and beyond),
and, with no next gateway, the processes left once the grace is over.
Every process the gateway starts inherits a token in its environment
(L{tests.support.integration.leftover.left} finds them, in their sandbox
too); its warden names the run's HOME in its command line. Needs npm,
npx and uv, and the npm registry and PyPI.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import restartfreshreport
from restartchildren import REPO, Caller, Gateway, parser, restart, running, waitUntil
from restartfreshreport import EVENTS, callFigures, childKept, installs, readResult

sys.path.insert(0, str(REPO))

from mcpgateway.runtime import procfs
from tests.support.integration.leftover import left

TOKEN = "RESTART_FRESH_TOKEN"
"""The variable of the run's token in the gateway's environment (not C{MCPGATEWAY_*}:
the gateway keeps those from its children)."""
TERM_TO_KILL = 2.0
"""The warden's wait between SIGTERM and SIGKILL (mcpgateway.ops.wardenrun.GRACE)."""
ENTITY = "restart-bench"
"""The entity created in server-memory before each event."""


@dataclass(frozen=True)
class FreshServer:
    """A server installed fresh: its entry and the call its sessions make."""

    name: str
    kind: str
    package: str
    tool: str
    arguments: dict[str, Any]

    @property
    def entry(self) -> dict[str, Any]:
        if self.kind == "npx":
            return {"command": "npx", "args": ["-y", self.package]}
        return {"command": "uvx", "args": [self.package]}


SERVERS = (
    FreshServer("memory", "npx", "@modelcontextprotocol/server-memory", "read_graph", {}),
    FreshServer("time", "uvx", "mcp-server-time", "get_current_time", {"timezone": "UTC"}),
)


def uvFolder(home: Path) -> Path:
    """A folder holding only C{uv} and C{uvx} (from C{PATH}, beside this
    interpreter, or in the project's .venv), for the gateway's C{PATH}:
    nothing else of a venv."""
    folder = home / "uvbin"
    folder.mkdir(exist_ok=True)
    for name in ("uv", "uvx"):
        places = [shutil.which(name), Path(sys.executable).parent / name, REPO / ".venv/bin" / name]
        found = next((str(p) for p in places if p and os.access(p, os.X_OK)), None)
        if found is None:
            raise SystemExit(f"restart bench: --fresh needs {name} (pip install uv)")
        (folder / name).symlink_to(os.path.realpath(found))
    return folder


def ledger(gateway: Gateway) -> dict[str, dict[str, int]]:
    """Each server's running child from the gateway's ledger: host pid and start time."""
    try:
        data = json.loads((gateway.home / "state" / "children.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, dict[str, int]] = {}
    for pid, one in data.get("children", {}).items():
        if procfs.startTime(int(pid)) == one.get("start") and running(int(pid)):
            found[one["server"]] = {"pid": int(pid), "start": int(one["start"])}
    return found


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def call(port: int, server: str, tool: str, arguments: dict[str, Any]) -> tuple[Any, Any]:
    """One session of its own, one call: the result (or the error), and the
    server's C{serverInfo}."""
    client = Caller(port, server, 0)
    client.conn.timeout = 600  # the first call waits for the install
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "restart-bench-fresh", "version": "1"},
    }
    opened = client.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
    hello = next((m for m in opened if m.get("id") == 0), {})
    client.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    asked = {"name": tool, "arguments": arguments}
    messages = client.post({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": asked})
    client.conn.close()
    answers = [m for m in messages if m.get("id") == 1]
    return (answers[0] if answers else {}), (hello.get("result") or {}).get("serverInfo")


def hasEntity(port: int) -> bool:
    """Whether server-memory still holds L{ENTITY}."""
    answer, _ = call(port, "memory", "open_nodes", {"names": [ENTITY]})
    entities = (answer.get("result") or {}).get("structuredContent", {}).get("entities", [])
    return any(e.get("name") == ENTITY for e in entities)


def ours(token: str, home: Path) -> list[str]:
    """The live processes of the run's gateway: those whose environment
    holds C{token} (L{left}), and those whose command line or environment
    names its HOME (its warden, which starts with an environment of its
    own, names its socket there)."""
    found = {line.split(":", 1)[0]: line for line in left(token) + left(str(home))}
    return [found[pid] for pid in sorted(found, key=int)]


def sigkill(pid: int) -> tuple[float, float]:
    """SIGKILL process C{pid}: when it was sent, and when the process was
    gone (its pidfd readable: its files, its listening socket among them,
    are closed by then)."""
    handle = os.pidfd_open(pid)
    try:
        killed = time.monotonic()
        signal.pidfd_send_signal(handle, signal.SIGKILL)
        select.select([handle], [], [], 30)
        return killed, time.monotonic()
    finally:
        os.close(handle)


def firstCalls(gateway: Gateway) -> dict[str, dict[str, Any]]:
    """Each server's first call, which waits for its install: how long it
    took, whether it was answered, and the server's version."""
    info: dict[str, dict[str, Any]] = {}
    for s in SERVERS:
        began = time.monotonic()
        first, server = call(gateway.port, s.name, s.tool, s.arguments)
        info[s.name] = {
            "firstCallSeconds": round(time.monotonic() - began, 2),
            "firstAnswered": readResult(first) is not None,
            "version": (server or {}).get("version"),
        }
    return info


def runScenario(
    scenario: str, sessions: int, window: float, grace: float, killAfter: float
) -> dict[str, Any]:
    """One scenario on a fresh HOME: the installs, the sessions calling,
    the event, and what it kept and left."""
    home = Path(tempfile.mkdtemp(prefix=f"mcpgw-fresh-{scenario}-"))
    token = f"restart-fresh-{uuid.uuid4().hex}"
    env = {"PATH": f"{uvFolder(home)}{os.pathsep}{os.environ['PATH']}", TOKEN: token}
    servers = {s.name: s.entry for s in SERVERS}
    gateway = Gateway(home, servers, env=env, options=("--adopt-grace", f"{grace:g}"))
    caches = [home / ".npm", home / ".cache" / "uv", home / "state"]
    assert not any(p.exists() for p in caches), "the HOME is not fresh"
    gateway.start()
    callers: dict[str, list[Caller]] = {}
    result: dict[str, Any] = {"scenario": scenario, "event": EVENTS[scenario], "home": str(home)}
    try:
        info = firstCalls(gateway)
        create = {"entities": [{"name": ENTITY, "entityType": "bench", "observations": [token]}]}
        call(gateway.port, "memory", "create_entities", create)
        for s in SERVERS:
            callers[s.name] = [
                Caller(gateway.port, s.name, n, s.tool, s.arguments, readResult)
                for n in range(sessions)
            ]
        everyone = [c for group in callers.values() for c in group]
        for c in everyone:
            c.open()
        for c in everyone:
            c.start()
        waitUntil(lambda: all(c.log.answered for c in everyone), 120)
        ready = time.monotonic()
        time.sleep(killAfter)
        before = ledger(gateway)
        holding = ours(token, home)
        result["processes"] = {
            "atEvent": len(holding),
            "atEventCommands": sorted(line.split(": ", 1)[1][:100] for line in holding),
        }
        if scenario == "restart":
            event = dead = time.monotonic()
            result["how"] = restart(gateway)
        else:
            event, dead = sigkill(gateway.pid)
            result["how"] = {"goneAfterMs": round(1000 * (dead - event), 1)}
        if scenario == "crash":
            began = time.monotonic()
            gateway.start()
            result["how"]["commandSeconds"] = round(time.monotonic() - began, 2)
        result["killedAfterReady"] = round(event - ready, 2)
        if scenario == "orphan":
            time.sleep(1.0)
            held = {name: running(one["pid"]) for name, one in before.items()}
            for c in everyone:
                c.stopping.set()
            over = event + grace + TERM_TO_KILL + 1.0
            gone = waitUntil(lambda: not ours(token, home), over - time.monotonic())
            result["processes"]["endedAfter"] = round(time.monotonic() - event, 2) if gone else None
            time.sleep(max(0.0, over - time.monotonic()))
            leftover = ours(token, home)
            result["processes"]["leftAfterGrace"] = len(leftover)
            result["processes"]["left"] = leftover
            after: dict[str, dict[str, int]] = {}
            until = event
        else:
            waitUntil(
                lambda: all(c.log.answered and c.log.answered[-1].at > event for c in everyone), 120
            )
            time.sleep(window)
            until = time.monotonic()
            after = ledger(gateway)
            held = {}
            result["restartReport"] = health(gateway.port).get("restart")
        result["servers"] = serverFigures(
            scenario,
            gateway,
            home,
            info,
            before,
            after,
            held,
            callers,
            (event, dead, until),
            window,
        )
    finally:
        for c in (c for group in callers.values() for c in group):
            c.stopping.set()
        for c in (c for group in callers.values() for c in group):
            c.join(30)
        if scenario != "orphan":
            gateway.cli("stop")
            waitUntil(lambda: not ours(token, home), 30)
            result.setdefault("processes", {})["leftAfterStop"] = len(ours(token, home))
    print(f"restart bench: fresh, {scenario}: done", file=sys.stderr)
    return result


def serverFigures(
    scenario: str,
    gateway: Gateway,
    home: Path,
    info: dict[str, dict[str, Any]],
    before: dict[str, Any],
    after: dict[str, Any],
    held: dict[str, bool],
    callers: dict[str, list[Caller]],
    times: tuple[float, float, float],
    window: float,
) -> list[dict[str, Any]]:
    """What one scenario did to each server: its install, its child before
    and after the event, and its callers' calls (C{times}: the event, the
    moment the old gateway was gone, the end of the window)."""
    event, dead, until = times
    logged = installs((home / "state" / "gateway.log").read_text(errors="replace"))
    figures = []
    for s in SERVERS:
        one: dict[str, Any] = {
            "name": s.name,
            "kind": s.kind,
            "package": s.package,
            "installSeconds": logged.get(s.name, {}).get("seconds"),
            "installedAs": logged.get(s.name, {}).get("command"),
            **info[s.name],
            "child": {
                "before": before.get(s.name),
                "after": after.get(s.name),
                "kept": childKept(before.get(s.name), after.get(s.name)),
            },
        }
        if scenario == "orphan":
            one["child"]["heldAfterKill"] = held.get(s.name, False)
        else:
            logs = [c.log for c in callers[s.name]]
            one["calls"] = callFigures(logs, event, dead, until, window)
            one["stateKept"] = hasEntity(gateway.port) if s.name == "memory" else None
        figures.append(one)
    return figures


def runFresh(
    scenarios: list[str], sessions: int, window: float, grace: float, killAfter: float
) -> list[dict[str, Any]]:
    """Every scenario asked, each on a fresh HOME."""
    return [runScenario(one, sessions, window, grace, killAfter) for one in scenarios]


def main() -> int:
    """C{restartchildren.py --fresh}: its options (L{restartchildren.parser})."""
    args = parser().parse_args()
    load = os.getloadavg()
    sessions = args.sessions or 8
    found = runFresh(args.scenarios, sessions, args.window, args.grace, args.kill_after)
    print(f"{sessions} sessions per server; load average before: {load[0]:.2f}\n")
    print(restartfreshreport.report(found))
    if args.json:
        document = {
            "sessions": sessions,
            "grace": args.grace,
            "killAfter": args.kill_after,
            "loadBefore": load,
            "loadAfter": os.getloadavg(),
            "results": found,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
