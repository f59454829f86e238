"""VS Code: C{servers} in user, profile and workspace C{mcp.json} (JSONC)."""

from __future__ import annotations

import json
from pathlib import Path

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.clients.vscode import VSCode
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write
from tests.support.clientconfigs.left_alone import skippedIn

MCP_JSON = """{
  // Inputs are prompted once and stored by VS Code.
  "inputs": [
    {"type": "promptString", "id": "gw-token", "description": "Gateway token", "password": true},
  ],
  "servers": {
    /* the filesystem server */
    "fs": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "${userHome}/src"],
    },
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
    "remote": {"type": "http", "url": "https://example.com/mcp"},
    "secret": {"command": "srv", "env": {"T": "${input:gw-token}"}},
  },
}
"""


def test_userProfileAndWorkspaceFiles(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    user = host.home / ".config/Code/User"
    project = tmp_path / "proj"
    files = [
        write(user / "mcp.json", MCP_JSON),
        write(user / "profiles" / "1a2b3c" / "mcp.json", MCP_JSON),
        write(project / ".vscode" / "mcp.json", MCP_JSON),
    ]
    originals = [f.read_bytes() for f in files]
    gateway = engine(tmp_path, [VSCode()], host, projects=[project])

    report = gateway.adopt(urlFor)

    assert [f.adopted for f in report.files] == [["fs", "memory"]] * 3
    for path in files[:2]:
        text = path.read_text()
        servers = jsonc.parse(text).value["servers"]
        assert servers["fs"] == {"type": "http", "url": "http://127.0.0.1:9100/fs/mcp"}
        assert servers["memory"] == {"type": "http", "url": "http://127.0.0.1:9100/memory/mcp"}
        assert servers["remote"] == {"type": "http", "url": "https://example.com/mcp"}
        assert "/* the filesystem server */" in text and "// Inputs" in text
    workspace = jsonc.parse(files[2].read_text()).value["servers"]
    # The same server as the user's fs: the gateway serves it at the global
    # route only (config.scopes gives it no workspace route of its own).
    assert workspace["fs"] == {"type": "http", "url": "http://127.0.0.1:9100/fs/mcp"}
    assert "${input:gw-token}" in dict(report.files[0].skipped)["secret"]
    served = gateway.servedDocument()
    assert served["mcpServers"]["fs"]["args"][-1] == f"{host.home}/src"
    assert str(project) in served["projects"]

    gateway.restore()

    assert [f.read_bytes() for f in files] == originals


def test_multiLineEntryIsWrittenIndentedLikeTheFile(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".config/Code/User/mcp.json", MCP_JSON)
    engine(tmp_path, [VSCode()], host).adopt(urlFor)
    assert (
        '    "fs": {\n'
        '      "type": "http",\n'
        '      "url": "http://127.0.0.1:9100/fs/mcp"\n'
        "    },\n" in path.read_text()
    )


def test_macOSUserFolder(tmp_path: Path) -> None:
    host = makeHost(tmp_path, system="darwin")
    path = write(host.home / "Library/Application Support/Code/User/mcp.json", MCP_JSON)
    assert [f.path for f in VSCode().files(host)] == [path]


def test_chatMcpAccessPolicySkipsVSCode(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".config/Code/User/mcp.json", MCP_JSON)
    settings = write(
        host.home / ".config/Code/User/settings.json",
        '{\n  // org policy\n  "chat.mcp.access": "registry",\n}\n',
    )
    report = engine(tmp_path, [VSCode()], host).adopt(urlFor)
    assert path.read_text() == MCP_JSON
    assert report.skippedClients == [
        (
            "vscode",
            f"{settings} sets chat.mcp.access to 'registry': VS Code would not start the"
            " rewritten entries",
        )
    ]


def test_envFileAndDevAreLeftAlone(tmp_path: Path) -> None:
    servers = {
        "a": {"command": "x", "envFile": "${workspaceFolder}/.env"},
        "c": {"command": "x", "dev": {"watch": "src/**"}},
    }
    skipped = skippedIn(tmp_path, VSCode(), ".config/Code/User/mcp.json", {"servers": servers})
    assert sorted(dict(skipped)) == ["a", "c"]


SANDBOXED = {
    "servers": {
        "boxed": {"command": "x", "sandboxEnabled": True},
        "own": {
            "command": "x",
            "cwd": "${userHome}/proj",
            "sandboxEnabled": True,
            "sandbox": {"filesystem": {"denyRead": ["${userHome}/private"]}},
        },
        "free": {"command": "x", "sandboxEnabled": False},
    },
    "sandbox": {
        "filesystem": {"allowWrite": ["${userHome}/out"]},
        "network": {"allowedDomains": ["api.example.com"]},
    },
}


def test_sandboxed_entries_are_adopted_with_their_profile(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    write(host.home / ".config/Code/User/mcp.json", json.dumps(SANDBOXED))
    gateway = engine(tmp_path, [VSCode()], host)
    report = gateway.adopt(urlFor)
    assert sorted(report.files[0].adopted) == ["boxed", "free", "own"]
    served = gateway.servedDocument()["mcpServers"]
    # The file's profile, its variables translated (VS Code's own default for an entry).
    assert served["boxed"]["sandbox"] == {
        "filesystem": {"allowWrite": [f"{host.home}/out"]},
        "network": {"allowedDomains": ["api.example.com"]},
    }
    # An entry's own profile wins; its working directory is writable, as in VS Code.
    assert served["own"]["sandbox"] == {
        "filesystem": {"denyRead": [f"{host.home}/private"], "allowWrite": [f"{host.home}/proj"]}
    }
    assert "sandbox" not in served["free"]


def test_a_sandboxed_entry_without_a_profile_gets_the_default_one(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    servers = {"servers": {"boxed": {"command": "x", "sandboxEnabled": True}}}
    write(host.home / ".config/Code/User/mcp.json", json.dumps(servers))
    gateway = engine(tmp_path, [VSCode()], host)
    gateway.adopt(urlFor)
    assert gateway.servedDocument()["mcpServers"]["boxed"]["sandbox"] is True


def test_a_profile_the_gateway_cannot_use_leaves_the_entry_with_vs_code(tmp_path: Path) -> None:
    document = {
        "servers": {"boxed": {"command": "x", "sandboxEnabled": True}},
        "sandbox": {"filesystem": {"allowUnixSockets": ["/run/x.sock"]}},
    }
    [(name, why)] = skippedIn(tmp_path, VSCode(), ".config/Code/User/mcp.json", document)
    assert name == "boxed" and "allowUnixSockets" in why
