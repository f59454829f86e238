"""The C{mcpServers} JSON clients: each adopted in a synthetic home, its
rewritten entry exactly the shape CLIENTS.md gives, restored byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.clients import detect
from mcpgateway.clientconfigs.clients.base import ClientAdapter
from mcpgateway.clientconfigs.clients.claudecode import claudeCodePolicy
from mcpgateway.clientconfigs.clients.mcpservers import (
    AmazonQ,
    ClaudeDesktop,
    Cline,
    CopilotCli,
    Cursor,
    Gemini,
    Junie,
    Kiro,
    Roo,
    Windsurf,
)
from tests.clientconfigs.adoptkit import BRIDGE, KEY, engine, makeHost, urlFor, write
from tests.support.clientconfigs.left_alone import adoptedUnchanged, skippedIn

URL = "http://127.0.0.1:9100/fs/mcp"
STDIO = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]}

# (adapter, file under home, the file's extra per-entry keys, the exact entry
# written, the served entry's requestTimeout: the client's own timeout when
# longer than the gateway's 60 s)
CASES: list[tuple[ClientAdapter, str, dict[str, Any], dict[str, Any], int | None]] = [
    (Cursor(), ".cursor/mcp.json", {"type": "stdio"}, {"url": URL}, None),
    (
        Windsurf(),
        ".codeium/windsurf/mcp_config.json",
        {"disabled": False},
        {"serverUrl": URL},
        None,
    ),
    (Windsurf(), ".codeium/mcp_config.json", {}, {"serverUrl": URL}, None),
    (
        Gemini(),
        ".gemini/settings.json",
        {"timeout": 30000, "trust": False},
        {"url": URL, "type": "http", "timeout": 30000, "trust": False},
        None,  # milliseconds: 30 s, shorter than the gateway's
    ),
    (
        Cline(),
        ".cline/data/settings/cline_mcp_settings.json",
        {"disabled": False, "autoApprove": ["read"], "timeout": 60},
        {"type": "streamableHttp", "url": URL, "autoApprove": ["read"], "timeout": 60},
        None,  # seconds: the gateway's own 60 s
    ),
    (
        Cline(),
        ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        {},
        {"type": "streamableHttp", "url": URL},
        None,
    ),
    (
        Roo(),
        ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
        {"type": "stdio", "alwaysAllow": [], "disabled": False, "timeout": 300},
        {"type": "streamable-http", "url": URL, "alwaysAllow": [], "timeout": 300},
        300_000,  # seconds
    ),
    (
        CopilotCli(),
        ".copilot/mcp-config.json",
        {"type": "local"},
        {"type": "http", "url": URL, "tools": ["*"]},
        None,
    ),
    (
        CopilotCli(),
        ".copilot/mcp-config.json",
        {"type": "stdio", "tools": ["read_file"]},
        {"type": "http", "url": URL, "tools": ["read_file"]},
        None,
    ),
    (
        AmazonQ(),
        ".aws/amazonq/mcp.json",
        {"timeout": 120000, "disabled": False},
        {"type": "http", "url": URL, "timeout": 120000},
        120_000,  # milliseconds
    ),
    (AmazonQ(), ".aws/amazonq/cli-agents/dev.json", {}, {"type": "http", "url": URL}, None),
    (
        Kiro(),
        ".kiro/settings/mcp.json",
        {"autoApprove": []},
        {"url": URL, "autoApprove": []},
        None,
    ),
    (
        ClaudeDesktop(),
        ".config/Claude/claude_desktop_config.json",
        {},
        {"command": BRIDGE[0], "args": ["bridge", "fs"]},
        None,
    ),
    (Junie(), ".junie/mcp/mcp.json", {}, {"command": BRIDGE[0], "args": ["bridge", "fs"]}, None),
]


def _document(extra: dict[str, Any]) -> str:
    data = {
        "preferences": {"theme": "dark"},
        "mcpServers": {
            "fs": {**STDIO, **extra, "env": {"ROOT": "/tmp"}},
            "remote": {"url": "https://example.com/mcp", "type": "http"},
        },
        "zzz": [1, 2, 3],
    }
    return json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize(("adapter", "where", "extra", "expected", "timeout"), CASES)
def test_adoptRewritesToTheClientsShapeAndRestoresBytes(
    tmp_path: Path,
    adapter: ClientAdapter,
    where: str,
    extra: dict[str, Any],
    expected: dict[str, Any],
    timeout: int | None,
) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / where, _document(extra), 0o640)
    original = path.read_bytes()
    gateway = engine(tmp_path, [adapter], host)

    report = gateway.adopt(urlFor)

    assert [f.adopted for f in report.files] == [["fs"]], report.messages()
    data = json.loads(path.read_text())  # still strict JSON
    assert data["mcpServers"]["fs"] == expected
    assert data["mcpServers"]["remote"] == {"url": "https://example.com/mcp", "type": "http"}
    assert data["preferences"] == {"theme": "dark"} and data["zzz"] == [1, 2, 3]
    assert path.stat().st_mode & 0o777 == 0o640
    assert adapter.id in report.reloads
    served = gateway.servedDocument()["mcpServers"]["fs"]
    longer = {} if timeout is None else {"requestTimeout": timeout}
    assert served == {**STDIO, "env": {"ROOT": "/tmp"}, **longer}

    assert gateway.adopt(urlFor).files[0].adopted == []  # idempotent
    restored = gateway.restore()

    assert restored.files[0].restored == ["fs"]
    assert path.read_bytes() == original
    assert path.stat().st_mode & 0o777 == 0o640


def test_claudeDesktopOnMacOS(tmp_path: Path) -> None:
    host = makeHost(tmp_path, system="darwin")
    where = host.home / "Library/Application Support/Claude/claude_desktop_config.json"
    write(where, json.dumps({"mcpServers": {"fs": STDIO}}))
    assert [f.path for f in ClaudeDesktop().files(host)] == [where]


def test_bridgeForAWorkspaceRouteGetsTheURL(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    project = tmp_path / "proj"
    path = write(project / ".junie" / "mcp" / "mcp.json", json.dumps({"mcpServers": {"fs": STDIO}}))
    engine(tmp_path, [Junie()], host, projects=[project]).adopt(urlFor)
    entry = json.loads(path.read_text())["mcpServers"]["fs"]
    assert entry == {
        "command": BRIDGE[0],
        "args": ["bridge", f"http://127.0.0.1:9100/fs~{KEY}/mcp"],
    }


def test_aBridgeEntryIsNeverAdopted(tmp_path: Path) -> None:
    """An entry that already runs the bridge (its backup lost) is not served
    by the gateway: that would be the gateway serving itself."""
    host = makeHost(tmp_path)
    entry = {"command": "/x/bin/mcpgateway", "args": ["bridge", "fs"]}
    path = write(host.home / ".junie/mcp/mcp.json", json.dumps({"mcpServers": {"fs": entry}}))
    report = adoptedUnchanged(tmp_path, host, Junie(), path)
    assert report.files[0].adopted == []


def test_cursorVariablesAndProjectFile(tmp_path: Path) -> None:
    """Cursor's ${env:X} and ${workspaceFolder} become what the gateway
    expands; a project file's entry gets its workspace's route and the report
    says the (version-controlled) file was rewritten."""
    host = makeHost(tmp_path)
    project = tmp_path / "proj"
    entry = {
        "command": "${workspaceFolder}/bin/srv",
        "env": {"KEY": "${env:API_KEY}"},
        "cwd": "sub",
    }
    path = write(project / ".cursor" / "mcp.json", json.dumps({"mcpServers": {"srv": entry}}))
    gateway = engine(tmp_path, [Cursor()], host, projects=[project])
    report = gateway.adopt(urlFor)
    assert json.loads(path.read_text())["mcpServers"]["srv"] == {
        "url": f"http://127.0.0.1:9100/srv~{KEY}/mcp"
    }
    assert any("version control" in m for m in report.messages())
    served = gateway.servedDocument()["projects"][str(project)]["mcpServers"]["srv"]
    assert served == {
        "command": f"{project}/bin/srv",
        "env": {"KEY": "${API_KEY}"},
        "cwd": f"{project}/sub",
    }


def test_cursorEnvFileAndInputsAreLeftAlone(tmp_path: Path) -> None:
    servers = {
        "a": {"command": "x", "envFile": "${workspaceFolder}/.env"},
        "b": {"command": "x", "env": {"T": "${input:token}"}},
    }
    reasons = dict(skippedIn(tmp_path, Cursor(), ".cursor/mcp.json", {"mcpServers": servers}))
    assert "envFile" in reasons["a"] and "${input:token}" in reasons["b"]


def test_geminiPolicyMcpAllowedSkipsTheClient(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".gemini/settings.json", json.dumps({"mcpServers": {"fs": STDIO}}))
    system = write(
        host.root / "etc/gemini-cli/settings.json",
        '{\n  // managed\n  "mcp": {"allowed": ["fs"]},\n}\n',
    )
    report = adoptedUnchanged(tmp_path, host, Gemini(), path)
    assert report.skippedClients == [
        ("gemini", f"{system} sets mcp.allowed, a list of the MCP servers Gemini CLI may start")
    ]
    assert any("gemini skipped" in m for m in report.messages())


def test_geminiJsoncKeepsComments(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    text = (
        "{\n"
        "  // my servers\n"
        '  "theme": "GitHub", /* inline */\n'
        '  "mcpServers": {\n'
        '    "fs": {"command": "npx", "args": ["-y", "srv"], "env": {"T": "$API_KEY"}},\n'
        "  },\n"
        "}\n"
    )
    path = write(host.home / ".gemini/settings.json", text)
    gateway = engine(tmp_path, [Gemini()], host)
    gateway.adopt(urlFor)
    after = path.read_text()
    assert "// my servers" in after and "/* inline */" in after and after.endswith("},\n}\n")
    assert jsonc.parse(after).value["mcpServers"]["fs"] == {"url": URL, "type": "http"}
    assert gateway.servedDocument()["mcpServers"]["fs"]["env"] == {"T": "${API_KEY}"}
    gateway.restore()
    assert path.read_text() == text


def test_clineNestedTransportForm(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    entry = {"transport": {"type": "stdio", "command": "node", "args": ["s.js"]}, "disabled": False}
    path = write(
        host.home / ".cline/data/settings/cline_mcp_settings.json",
        json.dumps({"mcpServers": {"s": entry}}),
    )
    gateway = engine(tmp_path, [Cline()], host)
    gateway.adopt(urlFor)
    assert json.loads(path.read_text())["mcpServers"]["s"] == {
        "type": "streamableHttp",
        "url": "http://127.0.0.1:9100/s/mcp",
    }


def test_disabledEntriesAreNotAdopted(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(
        host.home / ".codeium/windsurf/mcp_config.json",
        json.dumps({"mcpServers": {"fs": {**STDIO, "disabled": True}}}),
    )
    report = engine(tmp_path, [Windsurf()], host).adopt(urlFor)
    assert report.files[0].skipped == [("fs", "disabled in the client")]
    assert json.loads(path.read_text())["mcpServers"]["fs"]["disabled"] is True


def test_detectListsClientsAndFiles(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    cursor = write(host.home / ".cursor/mcp.json", "{}")
    windsurf = write(host.home / ".codeium/windsurf/mcp_config.json", "{}")
    found = detect(host)
    assert [(f.adapter.id, [c.path for c in f.files]) for f in found] == [
        ("cursor", [cursor]),
        ("windsurf", [windsurf]),
    ]


def test_claudeCodePolicy(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    entries = [("fs", URL)]
    assert claudeCodePolicy(host, entries) is None
    managed = write(
        host.root / "etc/claude-code/managed-settings.json",
        json.dumps({"allowedMcpServers": [{"serverCommand": ["npx", "-y", "srv"]}]}),
    )
    why = claudeCodePolicy(host, entries)
    assert why is not None and str(managed) in why and "allowedMcpServers" in why
    managed.write_text(
        json.dumps(
            {
                "allowedMcpServers": [{"serverUrl": "http://127.0.0.1:*/*"}],
                "deniedMcpServers": [{"serverName": "other"}],
            }
        )
    )
    assert claudeCodePolicy(host, entries) is None
    assert "deniedMcpServers" in (claudeCodePolicy(host, [("other", URL)]) or "")
    exclusive = write(host.root / "etc/claude-code/managed-mcp.json", "{}")
    assert str(exclusive) in (claudeCodePolicy(host, entries) or "")
