#!/usr/bin/env python3
"""What the sandbox costs per call: calls/s through a confined shared child
beside an unconfined one, and the memory of each child's process tree.

Two gateways run side by side, each as the README runs it (``twistd -n
mcpgateway``, from this checkout), one with ``--sandbox auto`` (the
default: bubblewrap where it works) and one with ``--sandbox off``, each
in front of one shared @modelcontextprotocol/server-everything child
(``"share": "global"``, pinned in ``classification.json`` so that it is
never promoted). A real HTTP library's client makes the load:
``libload.py httpx`` (an ``httpx2.AsyncClient`` per session, every answer
verified) or ``libload.py aiohttp``, ``tools/call echo`` at each level
(C = 1 and 16 sessions, one call in flight each), in ``--rounds``
interleaved rounds (the order of the two gateways swapped every round).
Per level and mode: the median calls/s of the rounds with its p50/p99,
the gateway's and the child tree's CPU per call (``/proc/<pid>/stat``),
and the wrong answers of every round. After the load: the resident
memory (``VmRSS``) of each gateway's child tree (the launcher became
bubblewrap, whose own process and the namespace's init stay beside the
server) and the processes in it.

Needs ``scripts/install-test-backends`` (server-everything) and, for the
confined side to be confined, bubblewrap. Loopback only; figures, not
assertions; the machine is reported (its load) since neighbours move
them.

Usage: sandboxload.py [--rounds 3] [--levels 1 16] [--calls 3000]
    [--kind httpx|aiohttp] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIBLOAD = HERE / "libload.py"
MODES = ("auto", "off")
PINNED = {"everything": {"share": "global"}}
"""classification.json: server-everything asks for roots soon after it
starts; pinned, the gateway keeps it one shared child."""
PORT_LINE = re.compile(rb"listening on \S*:(\d+)\s*$")
TICKS = os.sysconf("SC_CLK_TCK")


def log(text: str) -> None:
    sys.stderr.write(f"sandboxload: {text}\n")
    sys.stderr.flush()


def everythingJs() -> str:
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
    env = cache / "paths.env"
    if not env.is_file():
        raise SystemExit(f"sandboxload: no {env}: run scripts/install-test-backends")
    found = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    return found["SERVER_EVERYTHING_JS"].strip()


# -- /proc ---------------------------------------------------------------------


def parents() -> dict[int, int]:
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    found[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process under C{pid}, C{pid} excluded."""
    table, found, frontier = parents(), [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, itsParent in table.items():
            if itsParent == parent:
                found.append(child)
                frontier.append(child)
    return found


def rssKib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total


def cpuSeconds(pids: list[int]) -> float:
    """User and system CPU of C{pids} (their own, not their reaped children's)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / TICKS


def loadAverage() -> float:
    return os.getloadavg()[0]


def commandOf(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


# -- the gateways ----------------------------------------------------------------


class Gateway:
    """C{twistd -n mcpgateway --sandbox MODE} in a home of its own, in front
    of one shared server-everything."""

    def __init__(self, mode: str, js: str, workdir: Path) -> None:
        self.mode = mode
        home = workdir / mode
        (home / "state").mkdir(parents=True)
        (home / "state").chmod(0o700)
        (home / "state" / "classification.json").write_text(json.dumps(PINNED))
        node = shutil.which("node") or "node"
        config = {"everything": {"command": node, "args": [js, "stdio"], "share": "global"}}
        (home / "servers.json").write_text(json.dumps({"mcpServers": config}))
        argv = [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "mcpgateway",
            "--port",
            "tcp:0:interface=127.0.0.1",
            "--config",
            str(home / "servers.json"),
            "--sandbox",
            mode,
        ]
        env = {
            **os.environ,
            "HOME": str(home),
            "MCPGATEWAY_HOME": str(home / "state"),
            "PYTHONPATH": str(REPO),
        }
        self.process = subprocess.Popen(
            argv, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid
        self.output = bytearray()
        self.port = 0
        self._port = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._port.wait(30):
            self.stop()
            raise SystemExit(f"sandboxload: the {mode} gateway did not start:\n{self.text()}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self.output += line
            found = PORT_LINE.search(line)
            if found and not self._port.is_set():
                self.port = int(found.group(1))
                self._port.set()

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/everything/mcp"

    def children(self) -> list[int]:
        """The processes of its child (the gateway's own helpers, which
        run C{mcpgateway/ops/} programs, left out)."""
        return [pid for pid in descendants(self.pid) if "/mcpgateway/ops/" not in commandOf(pid)]

    def confinement(self) -> str:
        """How its child runs: the first line of the sandbox's own words."""
        for line in self.text().splitlines():
            if "sandbox: confined children run" in line or "run UNCONFINED" in line:
                return line.split("] ", 1)[-1]
        return "unconfined (--sandbox off)" if self.mode == "off" else "not said yet"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- one level -------------------------------------------------------------------


def runLevel(gateway: Gateway, kind: str, sessions: int, total: int) -> dict[str, Any]:
    """One libload run against C{gateway}: C{sessions} sessions, C{total}
    calls in all; calls/s, latency and CPU per call over the measured calls."""
    argv = [
        sys.executable,
        str(LIBLOAD),
        kind,
        "--url",
        gateway.url,
        "--sessions",
        str(sessions),
        "--calls",
        str(max(1, total // sessions)),
        "--warmup",
        "20",
        "--max-seconds",
        "60",
        "--wait-go",
    ]
    worker = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert worker.stdin is not None and worker.stdout is not None
    events: dict[str, Any] = {}
    for line in worker.stdout:
        event = json.loads(line)
        events[event["event"]] = event
        if event["event"] == "ready":
            break
        if event["event"] == "failed":
            worker.wait()
            raise SystemExit(f"sandboxload: {gateway.mode}: {event['error']}")
    children = gateway.children()
    before = (cpuSeconds([gateway.pid]), cpuSeconds(children), loadAverage())
    worker.stdin.write("GO\n")
    worker.stdin.flush()
    for line in worker.stdout:
        event = json.loads(line)
        events[event["event"]] = event
    worker.wait()
    result = events["result"]
    gatewayCpu, childCpu = cpuSeconds([gateway.pid]), cpuSeconds(children)
    ok = max(1, result["ok"])
    latencies = sorted(result["latUs"]) or [0]
    return {
        "callsPerSecond": round(result["ok"] / max(1e-9, result["end"] - result["start"]), 1),
        "p50Us": latencies[len(latencies) // 2],
        "p99Us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "gatewayCpuUsPerCall": round((gatewayCpu - before[0]) / ok * 1e6, 1),
        "childCpuUsPerCall": round((childCpu - before[1]) / ok * 1e6, 1),
        "ok": result["ok"],
        "wrong": result["errors"] + result["misrouted"] + result["lost"],
        "load": round(before[2], 2),
    }


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median calls/s, the spread of all and their wrong answers."""
    ordered = sorted(runs, key=lambda r: r["callsPerSecond"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = [r["callsPerSecond"] for r in runs]
    chosen["wrong"] = sum(r["wrong"] for r in runs)
    chosen["childCpuUsPerCall"] = statistics.median(r["childCpuUsPerCall"] for r in runs)
    chosen["gatewayCpuUsPerCall"] = statistics.median(r["gatewayCpuUsPerCall"] for r in runs)
    return chosen


def tree(gateway: Gateway) -> dict[str, Any]:
    """The child tree's resident memory and processes, and the gateway's."""
    children = gateway.children()
    each = [(commandOf(pid), rssKib([pid])) for pid in children]
    return {
        "childTreeRssKiB": rssKib(children),
        "bwrapRssKiB": sum(rss for command, rss in each if "bwrap" in command.split(" ")[0]),
        "processes": len(children),
        "commands": [{"command": command[:120], "rssKiB": rss} for command, rss in each],
        "gatewayRssKiB": rssKib([gateway.pid]),
        "confinement": gateway.confinement(),
    }


# -- the run ---------------------------------------------------------------------


def measure(args: argparse.Namespace, gateways: dict[str, Gateway]) -> dict[str, Any]:
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        mode: {level: [] for level in args.levels} for mode in gateways
    }
    for index in range(args.rounds):
        order = list(gateways) if index % 2 == 0 else list(reversed(gateways))
        for level in args.levels:
            for mode in order:
                run = runLevel(gateways[mode], args.kind, level, args.calls)
                runs[mode][level].append(run)
                log(f"round {index + 1} C={level} {mode}: {run['callsPerSecond']} calls/s")
    return {
        mode: {str(level): median(found) for level, found in levels.items()}
        for mode, levels in runs.items()
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"{results['kind']} client, {results['rounds']} rounds, {results['calls']} calls per"
        f" level; load average {results['loadBefore']} before, {results['loadAfter']} after",
        "",
        "| mode | C | calls/s (median) | rounds | p50 µs | p99 µs | gateway CPU µs/call"
        " | child CPU µs/call | wrong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in MODES:
        for level, row in results["levels"][mode].items():
            lines.append(
                f"| {mode} | {level} | {row['callsPerSecond']:.0f} | "
                f"{', '.join(f'{r:.0f}' for r in row['rounds'])} | {row['p50Us']} | "
                f"{row['p99Us']} | {row['gatewayCpuUsPerCall']:.0f} | "
                f"{row['childCpuUsPerCall']:.0f} | {row['wrong']} |"
            )
    lines += [
        "",
        "| mode | child tree RSS | of which bubblewrap's | processes | gateway RSS | confinement |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode in MODES:
        t = results["trees"][mode]
        lines.append(
            f"| {mode} | {t['childTreeRssKiB'] / 1024:.1f} MiB | {t['bwrapRssKiB'] / 1024:.1f} MiB"
            f" | {t['processes']} | {t['gatewayRssKiB'] / 1024:.1f} MiB | {t['confinement']} |"
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--calls", type=int, default=3000, help="calls per level and round")
    ap.add_argument("--kind", choices=("httpx", "aiohttp"), default="httpx")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    return ap


def main() -> None:
    args = parser().parse_args()
    js = everythingJs()
    workdir = Path(tempfile.mkdtemp(prefix="sandboxload-"))
    gateways: dict[str, Gateway] = {}
    try:
        for mode in MODES:
            gateways[mode] = Gateway(mode, js, workdir)
        results: dict[str, Any] = {
            "kind": args.kind,
            "rounds": args.rounds,
            "calls": args.calls,
            "cpus": os.cpu_count(),
            "root": os.geteuid() == 0,
            "loadBefore": round(loadAverage(), 2),
        }
        results["levels"] = measure(args, gateways)
        results["trees"] = {mode: tree(g) for mode, g in gateways.items()}
        results["loadAfter"] = round(loadAverage(), 2)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
