"""C{sessioncost.py real}: N sessions opened on a real gateway over loopback.

A gateway as the README runs it (C{twistd -n mcpgateway}, a stdlib stdio
server shared by every session), its session limit lifted past N (the
launch wraps L{mcpgateway.protocol.bounds.MessageBounds}, as C{--max-sessions}
does; C{sessionscale.py} measures 100,000 sessions with that option), and
a small asyncio client that
opens N sessions with raw HTTP/1.1 C{initialize} POSTs over a few
keep-alive connections, sending no client pid (so each session's socket
owner is looked up, as for most clients). The gateway's RSS and CPU
(utime + stime, its worker threads included) are read from C{/proc} before
and after; bounded by C{deadline} seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchenv import PY, REPO
from procstat import memKB

STUB = REPO / "tests" / "fixtures" / "catalog_server.py"
LAUNCH = """
import sys
import mcpgateway.protocol.bounds as limits
plain = limits.MessageBounds.__init__
def lifted(self, *a, **kw):
    kw.setdefault("maxSessions", {most})
    plain(self, *a, **kw)
limits.MessageBounds.__init__ = lifted
from twisted.scripts.twistd import run
sys.argv[0] = "twistd"
run()
"""


def cpuSeconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startGateway(workdir: Path, most: int) -> tuple[subprocess.Popen[bytes], int]:
    config = {"srv": {"command": PY, "args": ["-I", "-S", str(STUB)], "share": "global"}}
    (workdir / "config.json").write_text(json.dumps({"mcpServers": config}))
    env = {
        **os.environ,
        "MCPGATEWAY_HOME": str(workdir / "state"),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
    }
    argv = [PY, "-c", LAUNCH.format(most=most), "-n", "--pidfile=", "--logfile=-", "mcpgateway"]
    argv += ["--port", "tcp:0:interface=127.0.0.1", "--config", str(workdir / "config.json")]
    argv += ["--max-connections-per-peer", "1000"]
    proc = subprocess.Popen(
        argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    port = 0
    t0 = time.monotonic()
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        if "listening on" in line:
            port = int(line.rstrip().rsplit(":", 1)[1])
            break
        if time.monotonic() - t0 > 60:
            break
    if not port:
        proc.kill()
        raise SystemExit("the gateway did not start")
    out = proc.stdout
    threading.Thread(target=lambda: [None for _ in out], daemon=True).start()  # drain
    return proc, port


async def opener(port: int, count: int, until: float, opened: list[int], pid: str = "") -> None:
    """Open C{count} sessions on one keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "sessioncost", "version": "1"},
            },
        }
    ).encode()
    head = (
        "POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
        + (f"X-Client-Pid: {pid}\r\n" if pid else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(count):
        if time.monotonic() > until:
            break
        writer.write(head + body)
        status = await reader.readline()
        if not status:  # the gateway closed the connection: open another
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        length = 0
        sid = chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            chunked = chunked or name.lower() == "transfer-encoding"
            sid = sid or name.lower() == "mcp-session-id"
        await reader.readexactly(length)
        while chunked:  # answered once its journal write is done: chunked
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            chunked = size > 0
        if b" 200 " in status and sid:
            opened[0] += 1
    writer.close()


def run(n: int, connections: int, deadline: float, clientPid: bool = False) -> dict[str, Any]:
    """Open C{n} sessions on a fresh gateway; what they cost it (C{clientPid}:
    the client sends its pid, so no socket owner is looked up)."""
    pid = str(os.getpid()) if clientPid else ""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = startGateway(Path(tmp), 2 * n + 10)
        try:
            opened = [0]
            until = time.monotonic() + deadline
            asyncio.run(opener(port, 1, until, opened))  # the child starts
            time.sleep(2.0)
            rss0, cpu0 = memKB(proc.pid)[0], cpuSeconds(proc.pid)
            opened[0] = 0
            t0 = time.monotonic()

            async def all() -> None:
                share = -(-n // connections)
                await asyncio.gather(
                    *(opener(port, share, until, opened, pid) for _ in range(connections))
                )

            asyncio.run(all())
            took = time.monotonic() - t0
            time.sleep(3.0)  # the journal's last writes and owner scans
            rss1, cpu1 = memKB(proc.pid)[0], cpuSeconds(proc.pid)
            count = max(opened[0], 1)
            return {
                "mode": "real",
                "clientPid": clientPid,
                "sessions": opened[0],
                "asked": n,
                "seconds": round(took, 1),
                "rssBeforeKB": rss0,
                "rssAfterKB": rss1,
                "rssBytesPerSession": round((rss1 - rss0) * 1024 / count, 1),
                "gatewayCpuUsPerOpen": round((cpu1 - cpu0) / count * 1e6, 1),
            }
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit("run it as: sessioncost.py real")
