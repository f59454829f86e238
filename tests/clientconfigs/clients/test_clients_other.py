"""opencode, Zed (JSONC), Continue and Goose (YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.clients.opencode import OpenCode
from mcpgateway.clientconfigs.clients.yamlclients import Continue, Goose
from mcpgateway.clientconfigs.clients.zed import Zed
from tests.clientconfigs.adoptkit import KEY, engine, makeHost, urlFor, write
from tests.support.clientconfigs.adopted import adoptedHome, checkRestored

OPENCODE = """{
  "$schema": "https://opencode.ai/config.json",
  // servers
  "mcp": {
    "fs-local": {
      "type": "local",
      "command": ["npx", "-y", "mcp-server"],
      "environment": {"K": "{env:API_KEY}"},
      "enabled": true
    },
    "fs": {"type": "remote", "url": "https://example.com/mcp", "enabled": true},
  },
}
"""

ZED = """// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "fs": {"command": "npx", "args": ["-y", "mcp-server"], "env": {}},
    "old": {
      "source": "custom",
      "command": {"path": "old-srv", "args": ["--stdio"], "env": {"A": "1"}}
    },
    "ext": {"source": "extension", "settings": {}},
    "remote": {"url": "https://example.com/mcp"},
  },
}
"""

CONTINUE = """# Continue config
name: my config
version: 0.0.1
schema: v1
models:
  - name: x   # a model
    provider: openai
mcpServers:
  # the filesystem
  - name: fs
    type: stdio
    command: npx
    args: ["-y", "mcp-server"]
  - name: mem
    command: mem   # memory
  - name: secret
    command: srv
    env:
      K: ${{ secrets.K }}
rules: []
"""

GOOSE = """# goose
GOOSE_PROVIDER: openai
extensions:
  developer:
    type: builtin
    name: developer
    enabled: true
  fs_stdio:
    type: stdio
    name: fs_stdio
    enabled: true
    cmd: npx
    args: ["-y", "mcp-server"]
    envs: {}
    env_keys: []
    timeout: 300
  github:
    type: stdio
    name: github
    enabled: true
    cmd: github-mcp
    args: []
    envs: {}
    env_keys: [GITHUB_TOKEN]
    timeout: 300
"""


def _yaml(text: str) -> object:
    return YAML(typ="safe").load(text)


def test_opencode(tmp_path: Path) -> None:
    gateway, path, _ = adoptedHome(
        tmp_path, OpenCode(), ".config/opencode/opencode.jsonc", OPENCODE
    )
    text = path.read_text()
    assert "// servers" in text
    assert jsonc.parse(text).value["mcp"]["fs-local"] == {
        "type": "remote",
        "url": "http://127.0.0.1:9100/fs-local/mcp",
        "oauth": False,
        "enabled": True,
    }
    assert gateway.servedDocument()["mcpServers"]["fs-local"] == {
        "command": "npx",
        "args": ["-y", "mcp-server"],
        "env": {"K": "${API_KEY}"},
    }
    checkRestored(gateway, path, OPENCODE)


def test_opencodeProjectFile(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    project = tmp_path / "repo"
    path = write(project / "opencode.json", OPENCODE)
    report = engine(tmp_path, [OpenCode()], host, projects=[project]).adopt(urlFor)
    assert (
        jsonc.parse(path.read_text())
        .value["mcp"]["fs-local"]["url"]
        .endswith(f"/fs-local~{KEY}/mcp")
    )
    assert "opencode mcp approve" in report.reloads["opencode"]


def test_zed(tmp_path: Path) -> None:
    gateway, path, report = adoptedHome(tmp_path, Zed(), ".config/zed/settings.json", ZED)
    assert report.files[0].adopted == ["fs", "old"]
    servers = jsonc.parse(path.read_text()).value["context_servers"]
    assert servers["fs"] == {"url": "http://127.0.0.1:9100/fs/mcp"}
    assert servers["old"] == {"url": "http://127.0.0.1:9100/old/mcp"}
    assert servers["ext"] == {"source": "extension", "settings": {}}
    assert gateway.servedDocument()["mcpServers"]["old"] == {
        "command": "old-srv",
        "args": ["--stdio"],
        "env": {"A": "1"},
    }
    checkRestored(gateway, path, ZED)


def test_continueGlobalYaml(tmp_path: Path) -> None:
    gateway, path, report = adoptedHome(tmp_path, Continue(), ".continue/config.yaml", CONTINUE)
    assert report.files[0].adopted == ["fs", "mem"]
    assert "contains '${'" in dict(report.files[0].skipped)["secret"]
    text = path.read_text()
    assert "# the filesystem" in text and "# a model" in text
    data = _yaml(text)
    assert isinstance(data, dict)
    assert data["mcpServers"][0] == {
        "name": "fs",
        "type": "streamable-http",
        "url": "http://127.0.0.1:9100/fs/mcp",
    }
    assert data["mcpServers"][2]["command"] == "srv"
    checkRestored(gateway, path, CONTINUE)


def test_continueWorkspaceBlocks(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    project = tmp_path / "repo"
    block = write(
        project / ".continue/mcpServers/fs.yaml",
        "name: fs block\nversion: 0.0.1\nschema: v1\nmcpServers:\n  - name: fs\n    command: npx\n",
    )
    claudeStyle = write(
        project / ".continue/mcpServers/mem.json",
        json.dumps({"mcpServers": {"mem": {"command": "mem"}}}, indent=2),
    )
    gateway = engine(tmp_path, [Continue()], host, projects=[project])
    gateway.adopt(urlFor)
    data = _yaml(block.read_text())
    assert isinstance(data, dict)
    assert data["mcpServers"] == [
        {"name": "fs", "type": "streamable-http", "url": f"http://127.0.0.1:9100/fs~{KEY}/mcp"}
    ]
    assert json.loads(claudeStyle.read_text())["mcpServers"]["mem"] == {
        "type": "streamable-http",
        "url": f"http://127.0.0.1:9100/mem~{KEY}/mcp",
    }


def test_goose(tmp_path: Path) -> None:
    gateway, path, report = adoptedHome(tmp_path, Goose(), ".config/goose/config.yaml", GOOSE)
    assert report.files[0].adopted == ["fs_stdio"]
    assert "secret store" in dict(report.files[0].skipped)["github"]
    data = _yaml(path.read_text())
    assert isinstance(data, dict)
    assert data["extensions"]["fs_stdio"] == {
        "type": "streamable_http",
        "name": "fs_stdio",
        "enabled": True,
        "uri": "http://127.0.0.1:9100/fs_stdio/mcp",
        "envs": {},
        "env_keys": [],
        "timeout": 300,
    }
    assert data["extensions"]["developer"]["type"] == "builtin"
    assert "# goose" in path.read_text()
    checkRestored(gateway, path, GOOSE)
