# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay through the gateway: the README's command
(C{twistd -n mcpgateway}, L{gatewayproc.Gateway}) adopting every client
kind's file (C{--rewrite-config --clients codex,cursor,vscode,copilot}),
the adopted entries checked (L{adopted}), the per-session servers pinned in
its C{classification.json}, each session sent where its own client's file
now points, and the files checked again at the stop: each must be back
byte for byte.

Two ways (L{VARIANTS}): C{lazy}, the gateway as it runs from its second
start on, its servers' catalogs saved by an earlier run on the same state
directory (L{warmCatalogs}), so that a client's start-up (C{initialize},
the lists) is answered from them and only the servers called are started;
and C{eager}, C{--no-lazy-start} on a fresh state directory: every
server's child started at its first session, as on a first run. Before
each group of sessions, L{Room} asks whether the gateway's tree (a child
per session of a per-session server adds up) leaves room for it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchenv import log
from fanoutreport import serversStarted
from fanoutservers import (
    KINDS,
    TITLES,
    adoptedUrls,
    adoptionProblems,
    classificationText,
    clientPath,
    writeClientFiles,
)
from fanoutsessions import Plan, listTools
from fanoutside import Driven, Replay, Room, drive, sideResult
from fanoutwire import HttpLink, HttpPool, Link
from gatewayproc import Gateway
from procstat import memKB, processTree

VARIANTS = {
    "lazy": "catalogs saved by an earlier run (the default, from a gateway's second start on)",
    "eager": "--no-lazy-start, fresh state (every server started, as on a first run)",
}
"""The ways the gateway side runs, by C{--gateway-runs} name."""

CATALOG_WAIT = 30.0
"""The longest wait for an earlier run's catalogs to be saved."""
CATALOG_QUIET = 5.0
"""How long no new catalog may appear before the wait ends."""


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gatewayArgs(home: Path, port: int, variant: str, more: Sequence[str]) -> list[str]:
    """The gateway's options after C{mcpgateway}: its port (adoption writes
    it into the files, so it is chosen first), the Claude Code file, the
    adoption of the other four clients, and C{more}."""
    return [
        "--port",
        f"tcp:{port}:interface=127.0.0.1",
        "--config",
        str(clientPath("claude-code", home)),
        "--rewrite-config",
        "--clients",
        ",".join(k for k in KINDS if k != "claude-code"),
        *(["--no-lazy-start"] if variant == "eager" else []),
        *more,
    ]


def adopted(home: Path, port: int, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Every client kind's adopted entries (name -> URL), checked: each of
    the servers is an HTTP entry to the gateway, else L{SystemExit}."""
    found: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for kind in KINDS:
        urls = adoptedUrls(kind, clientPath(kind, home).read_text())
        problems += adoptionProblems(kind, urls, names, port)
        found[kind] = urls
    if problems:
        raise SystemExit(
            "fanout: the gateway did not adopt every entry:\n  " + "\n  ".join(problems)
        )
    return found


def catalogsSaved(state: Path, names: Sequence[str]) -> list[str]:
    """The servers with a catalog saved under C{state} (C{catalogs/<server>[@<key>].json})."""
    files = [p.name for p in (state / "catalogs").glob("*.json")]
    return [n for n in names if any(f == f"{n}.json" or f.startswith(f"{n}@") for f in files)]


def warmCatalogs(replay: Replay, home: Path) -> dict[str, Any]:
    """An earlier run of the gateway on C{home}'s state: one session lists
    every server (each child starts, the gateway saves what it lists), then
    the gateway stops (and gives the files back)."""
    port = freePort()
    started = time.monotonic()
    gw = Gateway({}, home, extra=gatewayArgs(home, port, "lazy", replay.args.gateway_arg))
    try:
        urls = adopted(home, port, replay.names)["claude-code"]

        async def listAll() -> None:
            pool = HttpPool("127.0.0.1", port, replay.args.lanes)
            links = [HttpLink(pool, urlsplit(urls[name]).path) for name in replay.names]

            async def one(link: HttpLink) -> None:
                await link.open("fanout-earlier-run")
                await listTools(link)

            try:
                await asyncio.gather(*(one(link) for link in links))
            finally:
                await asyncio.gather(*(link.close() for link in links))
                await pool.close()

        asyncio.run(listAll())
        deadline = time.monotonic() + CATALOG_WAIT
        seen, quietSince = 0, time.monotonic()
        while (count := len(catalogsSaved(home / "state", replay.names))) < len(replay.names):
            now = time.monotonic()
            if count > seen:
                seen, quietSince = count, now
            if now > deadline or now - quietSince > CATALOG_QUIET:
                break  # a server whose listing failed has no catalog to save
            time.sleep(0.2)
    finally:
        gw.stop()
    saved = catalogsSaved(home / "state", replay.names)
    log(f"fanout gateway: an earlier run saved {len(saved)} of {len(replay.names)} catalogs")
    return {"catalogsSaved": saved, "seconds": round(time.monotonic() - started, 1)}


def gatewaySide(replay: Replay, variant: str) -> dict[str, Any]:
    """The replay through one gateway that adopted the clients' files."""
    home = replay.root / f"gateway-{variant}"
    originals = writeClientFiles(home, replay.servers)
    (home / "state").mkdir(parents=True, exist_ok=True)
    (home / "state" / "classification.json").write_text(classificationText(replay.servers))
    earlier = warmCatalogs(replay, home) if variant == "lazy" else None
    port = freePort()
    extra = gatewayArgs(home, port, variant, replay.args.gateway_arg)
    side = f"gateway ({variant})"
    log(f"fanout {side}: twistd -n mcpgateway {' '.join(extra)}")
    gw = Gateway({}, home, extra=extra)
    try:
        urls = adopted(home, port, replay.names)
        log(f"fanout {side}: every client's {len(replay.names)} entries adopted")
        pools: dict[int, HttpPool] = {}
        room = Room(
            replay.args.reserve_mb,
            replay.args.ceiling_mb,
            1 + replay.args.subagents,
            lambda: processTree(gw.pid),
        )

        def makeLink(plan: Plan, name: str) -> Link:
            pool = pools.setdefault(plan.index, HttpPool("127.0.0.1", port, replay.args.lanes))
            return HttpLink(pool, urlsplit(urls[plan.kind][name]).path)

        async def run() -> Driven:
            try:
                return await drive(replay, makeLink, room.check, lambda: [gw.pid], side)
            finally:
                await asyncio.gather(*(pool.close() for pool in pools.values()))

        runs, stopped, tally, tree = asyncio.run(run())
        rss, pss = memKB(gw.pid)
    finally:
        gw.stop()
    out = sideResult(replay, runs, stopped, tally, tree)
    out.update(
        {
            "variant": variant,
            "what": VARIANTS[variant],
            "earlierRun": earlier,
            "command": "twistd -n mcpgateway " + " ".join(extra),
            "startSeconds": round(gw.listening - gw.spawned, 2),
            "gatewayRssMB": round(rss / 1024, 1),
            "gatewayPssMB": round(pss / 1024, 1),
            "adopted": {TITLES[k]: len(v) for k, v in urls.items()},
            "serversStarted": serversStarted(tree["perServer"], replay.names),
            "restored": all(path.read_bytes() == data for path, data in originals.items()),
        }
    )
    return out
