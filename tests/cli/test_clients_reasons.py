"""C{mcpgateway clients} gives the real reason an entry is not adopted
: a different server of that name that another client
has at the same route (the engine's own check, in the engine's order), and
a client the running gateway's C{--clients} leaves out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs.claude import ClaudeConfig
from tests.cli.support import Cli, FakeGateway, writeState
from tests.clientconfigs.adoptkit import urlFor
from tests.support.cli.clients import adopt, cursorFile


@pytest.fixture(autouse=True)
def _noClaudeConfigDir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)


def skipped(out: str, client: str) -> dict[str, str]:
    [report] = [c for c in json.loads(out)["clients"] if c["id"] == client]
    return {s["name"]: s["why"] for f in report["files"] for s in f["skipped"]}


def claudeWithFs(home: Path, stateDir: Path) -> None:
    """Claude Code's user-scope fs (another command than Cursor's), adopted."""
    path = home / ".claude.json"
    path.write_text(json.dumps({"mcpServers": {"fs": {"command": "other-fs"}}}))
    assert ClaudeConfig(path, stateDir, home=home, environ={}).adopt(urlFor).adopted


def test_an_entry_skipped_for_a_name_another_client_serves_differently(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    claudeWithFs(home, stateDir)
    cursorFile(home)  # fs: fs-server /data

    code, out, _ = cli("clients", "--json")

    assert code == 0
    assert skipped(out, "cursor")["fs"] == (
        "Claude Code has a different server of that name, adopted at the same route"
    )
    code, out, _ = cli("clients")
    assert "    fs: Claude Code has a different server of that name" in out


def test_the_same_conflict_among_clients_not_adopted_yet(home: Path, cli: Cli) -> None:
    """No gateway ran: Cursor comes before VS Code in the engine's order,
    so VS Code's different fs would not be adopted; Cursor's would."""
    cursorFile(home)
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    vscode.write_text(json.dumps({"servers": {"fs": {"command": "another-fs"}}}))

    code, out, _ = cli("clients", "--json")

    assert code == 0
    assert skipped(out, "cursor")["fs"].startswith("not adopted (yet)")
    assert skipped(out, "vscode")["fs"] == (
        f"cursor ({home / '.cursor' / 'mcp.json'}) has a different server of that name,"
        " adopted at the same route"
    )


def test_the_same_server_in_two_clients_is_not_a_conflict(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    cursorFile(home)
    adopt(home, stateDir)
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    vscode.write_text(json.dumps({"servers": {"fs": {"command": "fs-server", "args": ["/data"]}}}))
    code, out, _ = cli("clients", "--json")
    assert code == 0 and skipped(out, "vscode")["fs"].startswith("not adopted (yet)")


def runningWith(stateDir: Path, gateway: FakeGateway, **state: Any) -> None:
    writeState(stateDir, os.getpid(), gateway.port, **state)


def test_a_client_left_out_by_the_running_gateways_clients(
    stateDir: Path, home: Path, running: FakeGateway, cli: Cli
) -> None:
    cursorFile(home)
    runningWith(stateDir, running, clients="vscode")

    code, out, _ = cli("clients", "--json")

    assert code == 0
    why = (
        "not adopted: the running gateway adopts only the clients of --clients vscode"
        " (`mcpgateway stop`, then `mcpgateway start --clients all` adopts it)"
    )
    assert skipped(out, "cursor") == {"fs": why, "secret": skipped(out, "cursor")["secret"]}
    assert "envFile" in skipped(out, "cursor")["secret"]  # not servable anyway: said so
    [cursor] = json.loads(out)["clients"]
    assert cursor["excluded"] == why
    code, out, _ = cli("clients")
    assert f"  {why}" in out.splitlines()

    runningWith(stateDir, running, clients="none")
    code, out, _ = cli("clients", "--json")
    assert "no client but Claude Code (--clients none)" in skipped(out, "cursor")["fs"]

    runningWith(stateDir, running, clients="all")
    code, out, _ = cli("clients", "--json")
    assert skipped(out, "cursor")["fs"].startswith("not adopted (yet)")


def test_a_gateway_that_rewrites_nothing(
    stateDir: Path, home: Path, running: FakeGateway, cli: Cli
) -> None:
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"fs": {"command": "fs"}}}))
    runningWith(stateDir, running, rewriteConfig=False, clients="none")
    code, out, _ = cli("clients", "--json")
    assert code == 0
    # Rewriting is off unless --rewrite-config is given
    # (twist and twistd without it): no --no-rewrite to blame.
    assert skipped(out, "claude-code")["fs"] == (
        "not adopted: rewriting is off for the running gateway (it was started without"
        " --rewrite-config)"
    )
