"""Adopted entries stay the server they were adopted as.

- D1: an entry of one client that changes while the gateway runs, so that
  another client's adopted entry of that name is no longer the same server,
  gives that other entry its original back (as a fresh start would not
  adopt it), and the route serves only the server that holds it.
- D3: the stamp key the gateway added to C{~/.claude.json} is gone after
  the restore, even when the user's edit carried it into the text before
  the gateway's last write.
- D4: a copy of C{~/.claude.json} read before the start and written back
  while the gateway runs gets its C{.mcp.json} shadows again, as its stdio
  entries are adopted again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mcpgateway.cli.clients import clientsReport
from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.claude import GATEWAY_TS_KEY, ClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor, Windsurf
from mcpgateway.clientconfigs.clientsource import ClientsSource
from mcpgateway.clientconfigs.engine import AdoptionEngine
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write

ENV = {"PATH": "/usr/bin:/bin"}
MEMORY_A = {"command": "npx", "args": ["-y", "server-memory"], "env": {"MEMORY_FILE_PATH": "a"}}
MEMORY_B = {**MEMORY_A, "env": {"MEMORY_FILE_PATH": "b"}}


def jsonFile(path: Path, document: dict[str, Any]) -> Path:
    return write(path, json.dumps(document, indent=2) + "\n")


def entries(path: Path) -> dict[str, Any]:
    servers: dict[str, Any] = json.loads(path.read_text())["mcpServers"]
    return servers


def twoClients(tmp: Path, cursorFirst: bool = True) -> tuple[AdoptionEngine, Path, Path]:
    """Cursor's and Windsurf's identical C{mem}, both adopted at C{/mem/mcp}."""
    host = makeHost(tmp)
    cursor = jsonFile(host.home / ".cursor/mcp.json", {"mcpServers": {"mem": MEMORY_A}})
    windsurf = jsonFile(
        host.home / ".codeium/windsurf/mcp_config.json", {"mcpServers": {"mem": MEMORY_A}}
    )
    adapters = [Cursor(), Windsurf()] if cursorFirst else [Windsurf(), Cursor()]
    gateway = engine(tmp, adapters, host)
    report = gateway.adopt(urlFor)
    assert [f.adopted for f in report.files] == [["mem"], ["mem"]]
    return gateway, cursor, windsurf


def test_an_entry_whose_route_another_clients_change_took_gets_its_original(
    tmp_path: Path,
) -> None:
    """Cursor (first in the engine's order) changes its C{mem}: Windsurf's
    adopted C{mem} is no longer that server, so it is put back, with the
    reason, and the route serves Cursor's new server only."""
    gateway, cursor, windsurf = twoClients(tmp_path)
    jsonFile(cursor, {"mcpServers": {"mem": MEMORY_B}})

    report = gateway.sync(urlFor)

    byClient = {f.client: f for f in report.files}
    assert byClient["cursor"].adopted == ["mem"]
    assert byClient["windsurf"].restored == ["mem"]
    assert entries(windsurf)["mem"] == MEMORY_A
    assert entries(cursor)["mem"] == {"url": urlFor("mem", None)}
    assert (
        f"{windsurf} (windsurf): mem not adopted: cursor ({cursor}) has a different server"
        " of that name, adopted at the same route"
    ) in report.messages()
    assert "windsurf" in report.reloads
    assert gateway.servedDocument()["mcpServers"] == {"mem": MEMORY_B}
    # Told once: the next pass finds a stdio entry it does not adopt, quietly.
    again = gateway.sync(urlFor)
    assert not again.changed and not any("mem" in m for m in again.messages())
    gateway.restore()
    assert entries(cursor)["mem"] == MEMORY_B and entries(windsurf)["mem"] == MEMORY_A


def test_the_same_server_stays_adopted(tmp_path: Path) -> None:
    gateway, cursor, windsurf = twoClients(tmp_path)
    jsonFile(cursor, {"mcpServers": {"mem": MEMORY_A, "other": {"command": "x"}}})

    report = gateway.sync(urlFor)

    assert not any(f.restored for f in report.files)
    assert entries(windsurf)["mem"] == {"serverUrl": urlFor("mem", None)}
    assert gateway.servedDocument()["mcpServers"]["mem"] == MEMORY_A


def test_a_file_that_cannot_be_read_keeps_its_routes(tmp_path: Path) -> None:
    """Cursor's file is unparsable for a moment (its entries still point at
    C{/mem/mcp}) while Windsurf's C{mem} changes: Windsurf's new server does
    not take the route; the served document keeps serving Cursor's."""
    gateway, cursor, windsurf = twoClients(tmp_path)
    cursor.write_text("{ being edited")
    jsonFile(windsurf, {"mcpServers": {"mem": MEMORY_B}})

    report = gateway.sync(urlFor)

    assert report.warnings and str(cursor) in report.warnings[0]
    assert entries(windsurf)["mem"] == MEMORY_B
    assert gateway.servedDocument()["mcpServers"] == {"mem": MEMORY_A}


def test_a_later_file_that_cannot_be_read_keeps_its_routes_until_it_can(
    tmp_path: Path,
) -> None:
    """Windsurf's file (after Cursor's) is unparsable while Cursor's C{mem}
    changes: Windsurf's entries cannot be given back, so the route stays
    theirs and Cursor's new server is not adopted yet; once Windsurf's file
    can be written, the order decides as at a fresh start."""
    gateway, cursor, windsurf = twoClients(tmp_path)
    before = windsurf.read_text()
    windsurf.write_text("{ being edited")
    jsonFile(cursor, {"mcpServers": {"mem": MEMORY_B}})

    report = gateway.sync(urlFor)

    assert "windsurf" in dict({f.client: f for f in report.files}["cursor"].skipped)["mem"]
    assert entries(cursor)["mem"] == MEMORY_B
    assert gateway.servedDocument()["mcpServers"] == {"mem": MEMORY_A}
    windsurf.write_text(before)
    gateway.sync(urlFor)
    assert entries(cursor)["mem"] == {"url": urlFor("mem", None)}
    assert entries(windsurf)["mem"] == MEMORY_A
    assert gateway.servedDocument()["mcpServers"] == {"mem": MEMORY_B}


def test_the_served_document_follows_the_engines_order_not_the_file_names(
    tmp_path: Path,
) -> None:
    """Windsurf comes first here: its C{mem} changed and was adopted again
    by a pass that did not write Cursor's file (Cursor's old entry is still
    in its backup): the route is Windsurf's, never Cursor's older server
    served for Windsurf's entry (C{cursor-...} sorts first on disk)."""
    gateway, cursor, windsurf = twoClients(tmp_path, cursorFirst=False)
    jsonFile(windsurf, {"mcpServers": {"mem": MEMORY_B}})

    engine(tmp_path, [Windsurf()], makeHost(tmp_path)).sync(urlFor)

    assert entries(windsurf)["mem"] == {"serverUrl": urlFor("mem", None)}
    assert entries(cursor)["mem"] == {"url": urlFor("mem", None)}
    assert gateway.servedDocument()["mcpServers"] == {"mem": MEMORY_B}
    # Claude Code's route (reserved) is never served with another server.
    assert gateway.servedDocument({("mem", None): {"command": "mine"}})["mcpServers"] == {}


def test_claude_codes_change_gives_cursor_its_entry_back(tmp_path: Path, home: Path) -> None:
    """The reported repro: Claude Code's and Cursor's C{memory} adopted
    at C{/memory/mcp}; C{claude mcp remove/add} changes Claude's env; Cursor's
    entry gets its original back, the route runs Claude's new server, and
    C{mcpgateway clients} says why Cursor's is not adopted."""
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    claude = jsonFile(home / ".claude.json", {"mcpServers": {"memory": MEMORY_A}})
    cursor = jsonFile(home / ".cursor/mcp.json", {"mcpServers": {"memory": MEMORY_A}})
    host = Host(home, "linux", ENV)
    gateway = AdoptionEngine(
        stateDir, [Cursor()], host, bridgeArgv=["/bin/mcpgateway"], environ=ENV
    )
    base = AdoptedClaudeConfig(claude, stateDir, "127.0.0.1", ENV)
    source = ClientsSource(base, gateway, stateDir, "127.0.0.1", ENV)
    source.load()
    source.listening(9100)
    assert entries(cursor)["memory"] == {"url": "http://127.0.0.1:9100/memory/mcp"}
    assert source.load().servers["memory"].env == (("MEMORY_FILE_PATH", "a"),)

    data = json.loads(claude.read_text())
    data["mcpServers"]["memory"] = {"type": "stdio", **MEMORY_B}
    claude.write_text(json.dumps(data, indent=2))
    loaded = source.load()

    assert entries(cursor)["memory"] == MEMORY_A
    assert loaded.servers["memory"].env == (("MEMORY_FILE_PATH", "b"),)
    assert any(
        m == f"{cursor} (cursor): memory not adopted: Claude Code has a different server"
        " of that name, adopted at the same route"
        for m in loaded.notes
    )
    [report] = [
        c
        for c in clientsReport(stateDir, host, claude, "http://127.0.0.1:9100")
        if c["id"] == "cursor"
    ]
    assert report["files"][0]["skipped"] == [
        {
            "name": "memory",
            "why": "Claude Code has a different server of that name, adopted at the same route",
        }
    ]
    source.stopping()
    assert entries(cursor)["memory"] == MEMORY_A


def claudeConfig(home: Path, stateDir: Path) -> ClaudeConfig:
    return ClaudeConfig(home / ".claude.json", stateDir, home=home, environ=ENV, now=lambda: 2.0)


def test_the_stamp_the_users_edit_carried_along_is_removed_at_restore(home: Path) -> None:
    """D3's sequence: adopted (the stamp added), the user replaces the entry
    (Claude Code's read-modify-write keeps the gateway's stamp), adopted
    again, stopped: the stamp is gone, the user's entry stays."""
    stateDir = home / ".mcpgateway"
    path = write(
        home / ".claude.json",
        '{\n  "numStartups": 1,\n  "mcpServers": {\n    "memory": '
        + json.dumps({"type": "stdio", **MEMORY_A})
        + "\n  }\n}\n",
    )
    claude = claudeConfig(home, stateDir)
    claude.adopt(urlFor)
    data = json.loads(path.read_text())
    assert data[GATEWAY_TS_KEY] == 2000
    data["mcpServers"]["memory"] = {"type": "stdio", **MEMORY_B}
    write(path.with_name(".claude.json.t"), json.dumps(data, indent=2))
    os.replace(path.with_name(".claude.json.t"), path)
    assert claude.sync(urlFor).adopted == ["memory (user scope)"]

    claude.restore()

    del data[GATEWAY_TS_KEY]
    assert path.read_text() == json.dumps(data, indent=2)


def test_a_copy_read_before_the_start_gets_its_shadows_again(home: Path) -> None:
    """The pre-start copy written back while the gateway runs: its stdio
    entry is adopted again and the shadow of the approved C{.mcp.json}
    server is made again (still served), and the stop gives that copy back.
    (A shadow the user removes from the adopted file, which carries the
    gateway's stamp, is still not made again:
    C{test_mcpjson_shadow.test_aShadowTheUserRemovesIsNotMadeAgain}.)"""
    stateDir = home / ".mcpgateway"
    work = home / "work"
    jsonFile(work / ".mcp.json", {"mcpServers": {"projmem": MEMORY_B}})
    path = jsonFile(
        home / ".claude.json",
        {
            "mcpServers": {"memory": MEMORY_A},
            "projects": {
                str(work): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
            },
        },
    )
    preStart = path.read_bytes()
    claude = claudeConfig(home, stateDir)
    shadow = f"projmem (local scope of project {work}, shadowing its .mcp.json)"
    assert claude.adopt(urlFor).adopted == ["memory (user scope)", shadow]
    written = json.loads(path.read_text())["projects"][str(work)]["mcpServers"]

    path.write_bytes(preStart)  # a Claude Code session that read it before the start
    report = claude.sync(urlFor)

    assert report.adopted == ["memory (user scope)", shadow] and report.removed == []
    assert json.loads(path.read_text())["projects"][str(work)]["mcpServers"] == written
    assert claude.servedDocument()["projects"][str(work)]["mcpServers"] == {"projmem": MEMORY_B}
    claude.restore()
    assert path.read_bytes() == preStart
