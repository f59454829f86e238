"""Adoption where the gateway cannot name a connection's account: every
HTTP entry it writes carries the owner token, in the client's own header
key (C{headers}; Codex's C{http_headers}; Continue's
C{requestOptions.headers}), a bridge entry none (the bridge sends it
itself); the restore takes it out with the rest, byte for byte. Where the
gateway can name the account (no headers given), no entry carries one."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.clients.mcpservers import ClaudeDesktop, Cursor
from mcpgateway.clientconfigs.clients.vscode import VSCode
from mcpgateway.clientconfigs.clients.yamlclients import Continue, Goose
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.runtime.ownertoken import HEADER
from tests.clientconfigs.adoptkit import BRIDGE, ENVIRON, load, makeHost, urlFor, write

TOKEN = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0u_-"
OWNER = {HEADER: TOKEN}
PY = "/usr/bin/python3"


def claudeJson(home: Path) -> Path:
    data = {
        "numStartups": 3,
        "mcpServers": {
            "demo": {"type": "stdio", "command": PY, "args": ["-m", "demo"]},
            "remote": {"type": "http", "url": "https://example.com/mcp"},
        },
        "projects": {
            "/home/u/p": {"mcpServers": {"local": {"command": PY, "args": ["-m", "local"]}}}
        },
    }
    return write(home / ".claude.json", json.dumps(data, indent=2), 0o600)


def test_claude_codes_entries_carry_the_token_and_give_it_back(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = claudeJson(host.home)
    before = path.read_bytes()
    claude = ClaudeConfig(path, tmp_path / "state", home=host.home, ownerHeaders=OWNER)
    claude.adopt(urlFor)
    data = load(path)
    assert data["mcpServers"]["demo"] == {
        "type": "http",
        "url": "http://127.0.0.1:9100/demo/mcp",
        "headers": OWNER,
    }
    assert data["mcpServers"]["remote"] == {"type": "http", "url": "https://example.com/mcp"}
    local = data["projects"]["/home/u/p"]["mcpServers"]["local"]
    assert local["headers"] == OWNER and local["url"].startswith("http://127.0.0.1:9100/local~")
    claude.adopt(urlFor)  # again: nothing to change
    claude.restore()
    assert path.read_bytes() == before


def test_claude_codes_entries_carry_no_header_where_the_account_is_named(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = claudeJson(host.home)
    ClaudeConfig(path, tmp_path / "state", home=host.home).adopt(urlFor)
    assert "headers" not in load(path)["mcpServers"]["demo"]
    assert HEADER not in path.read_text()


def adoptAll(
    tmp_path: Path, headers: dict[str, str] | None
) -> tuple[Path, dict[str, Path], dict[str, bytes]]:
    """Cursor, VS Code, Codex, Continue, Goose and Claude Desktop files of a
    synthetic home (one server, C{fs}, the same in each), adopted by one
    engine giving C{headers}: the state directory, the files, and their
    bytes before."""
    host = makeHost(tmp_path)
    home = host.home
    files = {
        "cursor": write(
            home / ".cursor/mcp.json",
            json.dumps(
                {
                    "mcpServers": {
                        "fs": {"command": "fs"},
                        "remote": {"url": "https://example.com/mcp"},
                    }
                },
                indent=2,
            )
            + "\n",
        ),
        "vscode": write(
            home / ".config/Code/User/mcp.json",
            '{\n  // mine\n  "servers": {"fs": {"type": "stdio", "command": "fs"}}\n}\n',
        ),
        "codex": write(
            home / ".codex/config.toml",
            '# codex\n[mcp_servers.fs]\ncommand = "fs"\ntool_timeout_sec = 30\n',
        ),
        "continue": write(
            home / ".continue/config.yaml",
            "name: me\nmcpServers:\n  - name: fs\n    command: fs\n",
        ),
        "goose": write(
            home / ".config/goose/config.yaml",
            "extensions:\n  fs:\n    type: stdio\n    cmd: fs\n    name: fs\n",
        ),
        "desktop": write(
            home / ".config/Claude/claude_desktop_config.json",
            json.dumps({"mcpServers": {"fs": {"command": "fs"}}}, indent=2),
        ),
    }
    before = {name: path.read_bytes() for name, path in files.items()}
    engine = AdoptionEngine(
        tmp_path / "state",
        [Cursor(), VSCode(), Codex(), Continue(), Goose(), ClaudeDesktop()],
        host,
        bridgeArgv=BRIDGE,
        environ=ENVIRON,
        ownerHeaders=headers,
    )
    report = engine.adopt(urlFor)
    assert not report.warnings, report.warnings
    return tmp_path / "state", files, before


def test_each_client_carries_the_token_in_its_own_key(tmp_path: Path) -> None:
    _, files, _ = adoptAll(tmp_path, OWNER)
    url = "http://127.0.0.1:9100/fs/mcp"
    cursor = load(files["cursor"])["mcpServers"]
    assert cursor == {
        "fs": {"url": url, "headers": OWNER},
        "remote": {"url": "https://example.com/mcp"},
    }
    vscode = files["vscode"].read_text()
    assert "// mine" in vscode and f'"{HEADER}": "{TOKEN}"' in vscode
    codex = tomllib.loads(files["codex"].read_text())["mcp_servers"]["fs"]
    assert codex == {"url": url, "http_headers": OWNER, "tool_timeout_sec": 30}
    proceed: Any = yaml.safe_load(files["continue"].read_text())["mcpServers"][0]
    assert proceed["requestOptions"] == {"headers": OWNER} and proceed["url"] == url
    goose: Any = yaml.safe_load(files["goose"].read_text())["extensions"]["fs"]
    assert goose["headers"] == OWNER and goose["uri"] == url
    desktop = files["desktop"].read_text()
    assert "bridge" in desktop and TOKEN not in desktop  # the bridge reads it itself


def test_the_restore_takes_the_token_out_byte_for_byte(tmp_path: Path) -> None:
    state, files, before = adoptAll(tmp_path, OWNER)
    assert all(TOKEN in path.read_text() for name, path in files.items() if name != "desktop")
    AdoptionEngine(state, [], makeHost(tmp_path)).restore()  # as `mcpgateway stop` does
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_no_entry_carries_a_header_where_the_account_is_named(tmp_path: Path) -> None:
    _, files, _ = adoptAll(tmp_path, None)
    for path in files.values():
        assert HEADER not in path.read_text()
    assert load(files["cursor"])["mcpServers"]["fs"] == {"url": "http://127.0.0.1:9100/fs/mcp"}
