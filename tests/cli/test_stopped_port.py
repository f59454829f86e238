"""C{status} and C{doctor} after a clean stop of a gateway that ran on a port
of its own: C{state.json} is gone, so the port comes from
what the state directory still knows, the kept backups' records; entries a
client wrote back pointing there are flagged, as C{restore} puts them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.runtime.paths import USER_BACKUP
from tests.cli.support import Cli, check
from tests.clientconfigs.adoptkit import otherPort

GATEWAY = "http://127.0.0.1:9200"
"""Where L{otherPort} points the adopted entries."""


@pytest.fixture(autouse=True)
def _noClaudeConfigDir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)


def stoppedWithAStaleCopy(home: Path, stateDir: Path) -> Path:
    """A ~/.claude.json adopted by a gateway on port 9200 and restored at
    its stop (the backup kept as C{config-backup.json.1}, no C{state.json}),
    then the copy Claude Code read while the gateway ran written back."""
    path = home / ".claude.json"
    servers = {"fs": {"command": "fs-server"}, "mem": {"command": "mem-server"}}
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    config = ClaudeConfig(path, stateDir, home=home, environ={})
    assert len(config.adopt(otherPort).adopted) == 2
    adopted = path.read_bytes()
    assert config.restore().restored
    assert not (stateDir / USER_BACKUP).exists()
    path.write_bytes(adopted)
    return path


def test_status_flags_entries_pointing_at_the_port_the_gateway_last_ran_on(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    stoppedWithAStaleCopy(home, stateDir)

    code, out, _ = cli("status")

    assert code == 1
    assert out.splitlines() == [
        "mcpgateway is not running",
        f"  ! 2 entries point at {GATEWAY}, where the gateway is not running",
        "    → run `mcpgateway start` to serve them again, or `mcpgateway restore` to put the"
        " stdio entries back",
    ]
    client = json.loads(cli("status", "--json")[1])["clientConfig"]
    assert client["url"] == GATEWAY
    assert client["urls"] == [GATEWAY, "http://127.0.0.1:9100"]
    assert client["viaGateway"] == client["keptKnows"] == ["fs", "mem"]


def test_doctor_fails_the_claude_config_until_restore_puts_them_back(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    path = stoppedWithAStaleCopy(home, stateDir)

    result = check(stateDir, "claudeConfig")

    assert result.status == "fail"
    assert result.message == (
        "Claude config: 2 via gateway, 0 stdio, 0 other; 2 entries point at"
        f" {GATEWAY}, where the gateway is not running"
    )
    assert result.fix is not None and "`mcpgateway restore`" in result.fix
    assert cli("restore")[0] == 0
    assert json.loads(path.read_text())["mcpServers"]["fs"] == {"command": "fs-server"}
    assert check(stateDir, "claudeConfig").status == "pass"
    assert cli("status")[1] == "mcpgateway is not running\n"


def test_an_entry_no_kept_backup_knows_is_named_as_lost(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    path = stoppedWithAStaleCopy(home, stateDir)
    data = json.loads(path.read_text())
    data["mcpServers"]["mine"] = {"type": "http", "url": f"{GATEWAY}/mine/mcp"}
    path.write_text(json.dumps(data))

    code, out, _ = cli("status")

    assert code == 1
    lines = out.splitlines()
    assert lines[1] == (
        f"  ! 3 entries point at {GATEWAY}, where the gateway is not running, and no usable"
        f" backup holds the originals of mine (there is no {stateDir / USER_BACKUP}):"
        " `mcpgateway restore` cannot put them back"
    )
    assert lines[2].startswith("    → re-add mine with `claude mcp add")
    assert "; `mcpgateway restore` puts back fs, mem;" in lines[2]
