#!/usr/bin/env python3
"""The client kinds of ``peers.py``: which worker makes each kind's load, whether it
can run here, and the raw kind's worker.

  raw         ``mcpload.py load``: raw HTTP/1.1, one keep-alive socket per session,
              no library in the hot loop (on uvloop when it is installed)
  aiohttp     ``libload.py aiohttp``: an aiohttp client per session
  httpx       ``libload.py httpx``: an httpx2 client per session (httpx without it)
  sdk-python  ``libload.py sdk-python``: the Python MCP SDK's ``ClientSession``
  sdk-ts      ``sdkload.mjs``: the TypeScript MCP SDK's ``Client`` and
              ``StreamableHTTPClientTransport``

Every worker takes ``mcpload.py load``'s options and prints its JSON lines, so
``bench.runLevel`` drives them all alike (``loadgen`` below swaps the worker's argv in).
Every worker closes its sessions after its measured calls and before its result line:
a target serves the kinds one after another, and supergateway keeps a child per
session until the session is deleted.

``python benchmarks/peerclients.py load-raw [--unique-ids] <mcpload load options>`` is
the raw kind's worker: ``mcpload.py load`` whose sessions are deleted at the end and,
with ``--unique-ids`` (the ``immorterm-unique`` target), whose JSON-RPC ids are offset
by ``(session + 1) * 10**7`` for the calls and unique for each ``initialize``.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import benchworker  # noqa: E402
import mcpload  # noqa: E402

CLIENTS = ["raw", "aiohttp", "httpx", "sdk-python", "sdk-ts"]
CLIENT_LABELS = {
    "raw": "raw HTTP/1.1 (`mcpload.py load`)",
    "aiohttp": "aiohttp (`libload.py`)",
    "httpx": "httpx2 (`libload.py`)",
    "sdk-python": "Python MCP SDK (`libload.py`)",
    "sdk-ts": "TypeScript MCP SDK (`sdkload.mjs`)",
}
DIRECT = "stdio"
"""The client kind of the direct target: no HTTP, the calls down its pipe."""
SDK_IDS = "n/a: the SDK picks its ids"
PYTHON_LIBRARIES = (
    ("raw", ("uvloop",)),
    ("aiohttp", ("aiohttp",)),
    ("httpx", ("httpx2", "httpx")),
    ("sdk-python", ("mcp.client.streamable_http",)),
)
"""What each Python kind imports (the raw kind runs without uvloop too)."""
PROBE = """
import importlib, importlib.metadata, json, sys
out = {}
for kind, names in json.loads(sys.argv[1]):
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            out[kind] = {"notRun": f"not installed: {e}"}
            continue
        top = name.split(".")[0]
        out[kind] = {"version": f"{top} {importlib.metadata.version(top)}"}
        break
print(json.dumps(out))
"""
"""Run by the workers' interpreter: each Python kind's library and its version."""
ID_STRIDE = 10**7
"""Session k's call ids are (k + 1) * ID_STRIDE + 1, + 2, ... with unique ids."""
CLOSE_SECONDS = 5.0


def notApplicable(target: str, kind: str) -> str | None:
    """Why C{kind} is not run against C{target}, or None."""
    if target == "immorterm-unique" and kind.startswith("sdk-"):
        return SDK_IDS
    return None


def libraries(kinds: list[str], tsSdk: str) -> dict[str, dict[str, str | None]]:
    """Per kind: the version of the library it runs on here, or why it cannot run
    (C{{"version": ..., "notRun": ...}})."""
    found: dict[str, dict[str, str | None]] = {}
    python: dict[str, dict[str, str | None]] = {}
    with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
        done = subprocess.run(
            [bench.PY, "-c", PROBE, json.dumps(PYTHON_LIBRARIES)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        python = json.loads(done.stdout)
    for kind in kinds:
        if kind == "raw":
            uvloop = python.get("raw", {})
            found[kind] = {"version": uvloop.get("version") or "asyncio"}
        elif kind == "sdk-ts":
            found[kind] = tsVersion(tsSdk)
        else:
            found[kind] = python.get(kind) or {"notRun": "the import probe failed"}
    return found


def tsVersion(tsSdk: str) -> dict[str, str | None]:
    if shutil.which("node") is None:
        return {"notRun": "node is not on PATH"}
    try:
        meta = json.loads((Path(tsSdk) / "package.json").read_text())
    except (OSError, ValueError):
        return {"notRun": f"the TypeScript SDK is not installed ({tsSdk or 'no TS_SDK_DIR'})"}
    return {"version": f"@modelcontextprotocol/sdk {meta.get('version')}"}


@contextlib.contextmanager
def loadgen(kind: str, uniqueIds: bool, grace: float, tsSdk: str = "") -> Iterator[None]:
    """Within: bench.runLevel starts C{kind}'s worker instead of C{mcpload.py load},
    with C{--grace} (and C{--unique-ids} when asked). The argv builder is
    swapped where runLevel reads it, in C{benchworker} (C{bench.mcpload} reads
    it there too)."""
    plain = benchworker.mcpload

    def argv(*args: str) -> list[str]:
        if not args or args[0] != "load":
            return plain(*args)
        rest = [*args[1:], "--grace", str(grace)]
        ids = ["--unique-ids"] if uniqueIds else []
        if kind == "raw":
            return [bench.PY, str(HERE / "peerclients.py"), "load-raw", *rest, *ids]
        if kind == "sdk-ts":
            return ["node", str(HERE / "sdkload.mjs"), kind, *rest, "--sdk-dir", tsSdk]
        return [bench.PY, str(HERE / "libload.py"), kind, *rest, *ids]

    benchworker.mcpload = argv
    try:
        yield
    finally:
        benchworker.mcpload = plain


# -- the raw kind's worker (load-raw) ---------------------------------------------------


def patchUniqueIds(module: Any, initBase: int) -> None:
    """Make C{module} (mcpload) send ids unique across sessions: session k's calls
    count from (k + 1) * ID_STRIDE, and each initialize gets C{initBase} + n. The
    verifier is unchanged: it still wants the id it sent and its own echoed text."""
    session = module.LoadSession
    if getattr(session, "uniqueIds", False):
        return
    plainInit = session.__init__

    def uniqueInit(self: Any, idx: int, *args: Any, **kwargs: Any) -> None:
        plainInit(self, idx, *args, **kwargs)
        self.i = (idx + 1) * ID_STRIDE

    session.__init__ = uniqueInit
    session.uniqueIds = True
    plainBody = module.initializeBody
    counter = itertools.count(initBase)

    def initializeBody(clientName: str = "mcpload") -> bytes:
        body = json.loads(plainBody(clientName))
        body["id"] = next(counter)
        return json.dumps(body, separators=(",", ":")).encode()

    module.initializeBody = initializeBody


def patchCloseSessions(module: Any, delete: Any = None) -> list[tuple[str, str, str]]:
    """Make C{module} (mcpload) delete every session it opened before it prints its
    result (after the measured calls, so not measured). Gives back the list of
    (host:port, path, session id) it fills."""
    opened: list[tuple[str, str, str]] = []
    session = module.LoadSession
    plainInit = session.__init__
    plainOut = module.out

    def recordingInit(
        self: Any, idx: int, conn: Any, sid: str, path: str, hostHeader: str, *rest: Any
    ) -> None:
        plainInit(self, idx, conn, sid, path, hostHeader, *rest)
        opened.append((hostHeader, path, sid))

    def out(event: str, **fields: Any) -> None:
        if event == "result":
            (delete or deleteSessions)(opened)
        plainOut(event, **fields)

    session.__init__ = recordingInit
    module.out = out
    return opened


def deleteSessions(opened: list[tuple[str, str, str]]) -> None:
    """DELETE each session on one keep-alive connection, within CLOSE_SECONDS."""
    deadline = time.monotonic() + CLOSE_SECONDS
    conn: http.client.HTTPConnection | None = None
    for host, path, sid in opened:
        if time.monotonic() > deadline:
            return
        try:
            conn = conn or http.client.HTTPConnection(host, timeout=2)
            conn.request(
                "DELETE",
                path,
                headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": mcpload.PROTOCOL_VERSION},
            )
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def loadRaw(argv: list[str]) -> None:
    """``mcpload.py load`` deleting its sessions at the end, with unique ids when
    asked (initialize ids from the pid: several generator processes may share a
    level)."""
    if "--unique-ids" in argv:
        argv = [a for a in argv if a != "--unique-ids"]
        patchUniqueIds(mcpload, (os.getpid() % 100_000 + 1) * 1000)
    patchCloseSessions(mcpload)
    mcpload.main(["load", *argv])


if __name__ == "__main__":
    if sys.argv[1:2] != ["load-raw"]:
        sys.exit("usage: peerclients.py load-raw [--unique-ids] <mcpload load options>")
    loadRaw(sys.argv[2:])
