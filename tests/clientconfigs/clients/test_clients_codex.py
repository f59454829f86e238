"""Codex: C{[mcp_servers.NAME]} tables in C{config.toml}, comments and order kept."""

from __future__ import annotations

from pathlib import Path

import tomlkit

from mcpgateway.clientconfigs.clients.codex import Codex
from tests.clientconfigs.adoptkit import KEY, engine, makeHost, urlFor, write

CONFIG = """# Codex settings
model = "o3"  # the default model
approval_policy = "on-request"

[mcp_servers.fs]
command = "npx"  # the launcher
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { "API_KEY" = "value" }
env_vars = ["API_KEY2"]
startup_timeout_sec = 20
enabled_tools = ["read_file"]

[mcp_servers.docs]
url = "https://example.com/mcp"
bearer_token_env_var = "DOCS_TOKEN"

# a server with its env as a table
[mcp_servers.mem]
command = "mem-server"

[mcp_servers.mem.env]
REGION = "eu"

[profiles.fast]
model = "o4-mini"
"""


def test_adoptAndRestore(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", CONFIG, 0o600)
    gateway = engine(tmp_path, [Codex()], host)

    report = gateway.adopt(urlFor)

    assert report.files[0].adopted == ["fs", "mem"], report.messages()
    text = path.read_text()
    data = tomlkit.parse(text).unwrap()
    assert data["mcp_servers"]["fs"] == {
        "url": "http://127.0.0.1:9100/fs/mcp",
        "startup_timeout_sec": 20,
        "enabled_tools": ["read_file"],
    }
    assert data["mcp_servers"]["mem"] == {"url": "http://127.0.0.1:9100/mem/mcp"}
    assert data["mcp_servers"]["docs"]["bearer_token_env_var"] == "DOCS_TOKEN"
    assert "type" not in data["mcp_servers"]["fs"]
    assert "# the default model" in text and "# Codex settings" in text
    assert data["profiles"] == {"fast": {"model": "o4-mini"}}
    served = gateway.servedDocument()["mcpServers"]
    assert served["fs"]["env"] == {"API_KEY": "value", "API_KEY2": "${API_KEY2:-}"}
    assert served["mem"] == {"command": "mem-server", "env": {"REGION": "eu"}}
    assert path.stat().st_mode & 0o777 == 0o600

    gateway.restore()

    assert path.read_text() == CONFIG


def test_codexHomeAndProjectFile(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    host = type(host)(host.home, "linux", {"CODEX_HOME": str(tmp_path / "ch")}, host.root)
    user = write(tmp_path / "ch" / "config.toml", "[mcp_servers.a]\ncommand = 'a'\n")
    project = tmp_path / "repo"
    local = write(project / ".codex" / "config.toml", "[mcp_servers.b]\ncommand = 'b'\n")
    gateway = engine(tmp_path, [Codex()], host, projects=[project])
    gateway.adopt(urlFor)
    assert tomlkit.parse(user.read_text()).unwrap() == {
        "mcp_servers": {"a": {"url": "http://127.0.0.1:9100/a/mcp"}}
    }
    assert tomlkit.parse(local.read_text()).unwrap() == {
        "mcp_servers": {"b": {"url": f"http://127.0.0.1:9100/b~{KEY}/mcp"}}
    }


def test_restoreAfterTheUserEditedElsewhereKeepsTheEdit(tmp_path: Path) -> None:
    """Another program changed the file while adopted: no byte-for-byte undo,
    each entry put back in place, the other program's change kept."""
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", CONFIG)
    gateway = engine(tmp_path, [Codex()], host)
    gateway.adopt(urlFor)
    path.write_text(path.read_text().replace('model = "o3"', 'model = "gpt-5"'))

    report = gateway.restore()

    assert sorted(report.files[0].restored) == ["fs", "mem"]
    data = tomlkit.parse(path.read_text()).unwrap()
    assert data["model"] == "gpt-5"
    assert data["mcp_servers"]["fs"]["command"] == "npx"
    assert data["mcp_servers"]["fs"]["env_vars"] == ["API_KEY2"]
    assert data["mcp_servers"]["mem"] == {"command": "mem-server", "env": {"REGION": "eu"}}
    assert "# the default model" in path.read_text()
