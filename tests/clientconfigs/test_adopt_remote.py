"""Adopting the remote entries of clients' files (C{--remote adopt}): the
client's entry points at the gateway without the upstream headers, the
gateway serves the original's URL with them, restore gives the file back
byte for byte; a project's remote entries and one that is the gateway's own
stay with the client; without the setting nothing changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.backups import backupPathFor, readBackup
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.clients.mcpservers import ClaudeDesktop, Cline, Cursor, Gemini
from mcpgateway.clientconfigs.engine import AdoptionEngine, pointsAtGateway
from mcpgateway.config.servers import parseConfig
from tests.clientconfigs.adoptkit import BRIDGE, ENVIRON, engine, makeHost, urlFor, write

CURSOR: dict[str, Any] = {
    "mcpServers": {
        "fs": {"command": "fs-server"},
        "linear": {"url": "https://mcp.example.com/mcp", "headers": {"X-Key": "${env:API_KEY}"}},
    }
}
CLAUDE: dict[str, Any] = {
    "numStartups": 3,
    "mcpServers": {
        "linear": {
            "type": "http",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${API_KEY}"},
            "oauth": {"clientId": "cid", "callbackPort": 8123},
        },
        "oldsse": {"type": "sse", "url": "https://old.example.com/sse"},
        "self": {"type": "http", "url": "http://127.0.0.1:9100/self/mcp"},
    },
    "projects": {"/home/u/p": {"mcpServers": {"docs": {"type": "http", "url": "https://d/mcp"}}}},
}


def _adopting(tmp: Path, adapters: list[Any], host: Host) -> AdoptionEngine:
    gateway = engine(tmp, adapters, host)
    gateway.remotes = True
    gateway.gatewayPort = 9100
    return gateway


def _file(tmp: Path, relative: str, data: dict[str, Any]) -> tuple[Host, Path, bytes]:
    host = makeHost(tmp)
    text = json.dumps(data, indent=4) + "\n"
    return host, write(host.home / relative, text), text.encode()


def test_a_cursor_remote_entry_is_adopted_and_restored_byte_for_byte(tmp_path: Path) -> None:
    """The entry becomes Cursor's URL entry for the gateway (no headers);
    the backup serves the original's URL and headers (variables in the
    gateway's syntax); restore puts the original bytes back."""
    host, path, before = _file(tmp_path, ".cursor/mcp.json", CURSOR)
    gateway = _adopting(tmp_path, [Cursor()], host)
    report = gateway.adopt(urlFor)
    assert sorted(report.files[0].adopted) == ["fs", "linear"]
    rewritten = json.loads(path.read_text())["mcpServers"]
    assert rewritten["linear"] == {"url": "http://127.0.0.1:9100/linear/mcp"}
    served = gateway.servedDocument()["mcpServers"]["linear"]
    assert served == {
        "type": "http",
        "url": "https://mcp.example.com/mcp",
        "headers": {"X-Key": "${API_KEY}"},
    }
    spec = parseConfig(gateway.servedDocument(), "clients", ENVIRON, "user", remotes=True)
    remote = spec.servers["linear"].remote
    assert remote is not None and remote.headers == (("X-Key", "k"),)
    backup = readBackup(backupPathFor(gateway.stateDir, "cursor", path))
    assert backup is not None and backup.record("linear") is not None
    gateway.restore()
    assert path.read_bytes() == before


def test_without_the_setting_remote_entries_are_left_alone(tmp_path: Path) -> None:
    host, path, _ = _file(tmp_path, ".cursor/mcp.json", CURSOR)
    gateway = engine(tmp_path, [Cursor()], host)
    report = gateway.adopt(urlFor)
    assert report.files[0].adopted == ["fs"] and report.files[0].skipped == []
    assert json.loads(path.read_text())["mcpServers"]["linear"] == CURSOR["mcpServers"]["linear"]
    assert "linear" not in gateway.servedDocument()["mcpServers"]


def test_a_stdio_only_client_gets_the_bridge(tmp_path: Path) -> None:
    """A remote entry of a bridge client runs C{mcpgateway bridge NAME}, as
    its stdio entries do."""
    data = {"mcpServers": {"r": {"url": "https://r.example/mcp"}}}
    host, path, before = _file(tmp_path, ".config/Claude/claude_desktop_config.json", data)
    gateway = _adopting(tmp_path, [ClaudeDesktop()], host)
    gateway.adopt(urlFor)
    assert json.loads(path.read_text())["mcpServers"]["r"] == {
        "command": BRIDGE[0],
        "args": ["bridge", "r"],
    }
    gateway.restore()
    assert path.read_bytes() == before


def test_client_dialects(tmp_path: Path) -> None:
    """Gemini's C{httpUrl} is Streamable HTTP; Cline's untyped C{url} is
    SSE (the transport Cline tries first); Codex keeps its remote entries."""
    host = makeHost(tmp_path)
    gemini = {"mcpServers": {"g": {"httpUrl": "https://g.example/mcp"}}}
    cline = {"mcpServers": {"c": {"url": "https://c.example/sse"}}}
    write(host.home / ".gemini/settings.json", json.dumps(gemini))
    write(host.home / ".cline/data/settings/cline_mcp_settings.json", json.dumps(cline))
    codex = host.home / ".codex/config.toml"
    write(codex, '[mcp_servers.x]\nurl = "https://x.example/mcp"\n')
    gateway = _adopting(tmp_path, [Gemini(), Cline(), Codex()], host)
    gateway.adopt(urlFor)
    served = gateway.servedDocument()["mcpServers"]
    assert served["g"] == {"type": "http", "url": "https://g.example/mcp"}
    assert served["c"] == {"type": "sse", "url": "https://c.example/sse"}
    assert "x" not in served
    assert codex.read_text() == '[mcp_servers.x]\nurl = "https://x.example/mcp"\n'


def test_claude_code_user_scope_remote_entries(tmp_path: Path) -> None:
    """Claude Code's user-scope remote entries are adopted (headers and
    C{oauth} served, never written back to the client's entry); the entry
    that is the gateway's own and a project's remote entry stay as they
    are, each with a warning; restore is byte for byte."""
    home = tmp_path / "home"
    path = write(home / ".claude.json", json.dumps(CLAUDE, indent=2))
    before = path.read_bytes()
    config = ClaudeConfig(path, tmp_path / "state", home=home, environ=ENVIRON, remotes=True)
    config.gatewayPort = 9100
    report = config.adopt(urlFor)
    assert sorted(report.adopted) == ["linear (user scope)", "oldsse (user scope)"]
    written = json.loads(path.read_text())
    assert written["mcpServers"]["linear"] == {
        "type": "http",
        "url": "http://127.0.0.1:9100/linear/mcp",
    }
    assert written["mcpServers"]["self"] == CLAUDE["mcpServers"]["self"]
    assert written["projects"] == CLAUDE["projects"]
    loaded = config.loadServed()
    assert sorted(loaded.servers) == ["linear", "oldsse"]
    linear = loaded.servers["linear"].remote
    assert linear is not None
    assert linear.headers == (("Authorization", "Bearer k"),)
    assert linear.oauthClientId == "cid"
    assert loaded.servers["oldsse"].remote is not None
    warnings = " ".join(loaded.warnings)
    assert "'self'" in warnings and "a gateway's own" in warnings
    assert "'docs'" in warnings and "remote server of a project" in warnings
    assert "Bearer" not in json.dumps(written)
    config.restore()
    assert path.read_bytes() == before


def test_claude_code_keeps_its_remote_entries_by_default(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write(home / ".claude.json", json.dumps(CLAUDE, indent=2))
    before = path.read_bytes()
    config = ClaudeConfig(path, tmp_path / "state", home=home, environ=ENVIRON)
    report = config.adopt(urlFor)
    assert report.adopted == [] and path.read_bytes() == before
    assert config.loadServed().servers == {}


def test_points_at_gateway() -> None:
    """A gateway's own URL: a loopback address and this gateway's port, or
    a loopback route C{/<name>/mcp} (what adoption writes) on any port."""
    assert pointsAtGateway("http://127.0.0.1:9100/mcp", 9100)
    assert pointsAtGateway("http://localhost:9100/x/mcp", 9100)
    assert pointsAtGateway("http://[::1]:9100/mcp/search", 9100)
    assert not pointsAtGateway("http://127.0.0.1:3001/mcp", 9100)
    assert not pointsAtGateway("https://example.com:9100/mcp", 9100)
    assert pointsAtGateway("http://127.0.0.1:9100/x/mcp", None)
    assert pointsAtGateway("http://127.0.0.1:9200/x~abcdefghijklmnop/mcp", 9100)
    assert not pointsAtGateway("http://10.0.0.5:9100/x/mcp", 9100)
    assert not pointsAtGateway("http://127.0.0.1:3001/mcp", None)
    assert not pointsAtGateway("http://127.0.0.1:bad/mcp", 9100)
