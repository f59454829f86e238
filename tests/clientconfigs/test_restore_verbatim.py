"""And D3: an adopted entry gets its own text back (its
comments, its layout), not a re-serialised copy of its value, also

 - after the user edited the file while the gateway ran and the gateway
   then wrote it again (adopting the new entry): the C{undo} chain ends
   there, the text before adoption must not go with it ;
 - when it is handed back mid-run, because a different server of that name
   now holds its route : the stop has no backup left to fix the file.
"""

from __future__ import annotations

from pathlib import Path

from mcpgateway.clientconfigs.backups import backupPaths
from mcpgateway.clientconfigs.clients.vscode import VSCode
from mcpgateway.clientconfigs.clients.zed import Zed
from mcpgateway.clientconfigs.engine import AdoptionEngine
from tests.clientconfigs.adoptkit import BRIDGE, ENVIRON, engine, makeHost, urlFor, write

VSCODE = (
    "{\n"
    '\t"servers": {\n'
    '\t\t"memory": {\n'
    "\t\t\t// keep this: my notes about memory\n"
    '\t\t\t"type": "stdio",\n'
    '\t\t\t"command": "npx",\n'
    '\t\t\t"args": ["-y", "@modelcontextprotocol/server-memory"]\n'
    "\t\t}\n"
    "\t}\n"
    "}\n"
)
TIME = (
    '\t\t},\n\t\t"time": {\n'
    "\t\t\t// the clock\n"
    '\t\t\t"type": "stdio",\n'
    '\t\t\t"command": "npx",\n'
    '\t\t\t"args": ["-y", "@modelcontextprotocol/server-everything"]\n'
    "\t\t}\n\t}\n}\n"
)


def _addTime(text: str) -> str:
    """As VS Code's "MCP: Add Server" would: a second stdio server."""
    assert text.endswith("\t\t}\n\t}\n}\n")
    return text[: -len("\t\t}\n\t}\n}\n")] + TIME


def test_an_entry_keeps_its_text_after_an_edit_and_a_later_gateway_write(
    home: Path, tmp_path: Path
) -> None:
    host = makeHost(tmp_path)
    path = write(home / ".config/Code/User/mcp.json", VSCODE)
    gateway = engine(tmp_path, [VSCode()], host)
    gateway.adopt(urlFor)
    path.write_text(_addTime(path.read_text()))
    report = gateway.sync(urlFor)  # adopts "time": the gateway writes again
    assert [f.adopted for f in report.files] == [["time"]]
    assert "my notes" not in path.read_text() and "the clock" not in path.read_text()

    report = gateway.restore()

    assert not report.warnings, report.warnings
    assert path.read_bytes() == _addTime(VSCODE).encode()


def test_the_text_survives_a_restart_of_the_undo_chain_on_disk(home: Path, tmp_path: Path) -> None:
    """The texts are in the backup file: a new engine (a gateway started
    again after a crash) restores them as well."""
    host = makeHost(tmp_path)
    path = write(home / ".config/Code/User/mcp.json", VSCODE)
    engine(tmp_path, [VSCode()], host).adopt(urlFor)
    path.write_text(_addTime(path.read_text()))
    engine(tmp_path, [VSCode()], host).sync(urlFor)

    engine(tmp_path, [VSCode()], host).recover()

    assert path.read_bytes() == _addTime(VSCODE).encode()


ZED = (
    "// Zed settings\n"
    "{\n"
    '  "context_servers": {\n'
    '    "everything": {\n'
    '      "source": "custom",\n'
    '      "command": "npx",\n'
    '      "args": ["-y", "@modelcontextprotocol/server-everything"],\n'
    '      "env": {}\n'
    "    },\n"
    "  },\n"
    "}\n"
)


def test_an_entry_handed_back_mid_run_comes_back_byte_for_byte(home: Path, tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(home / ".config/zed/settings.json", ZED)
    gateway = engine(tmp_path, [Zed()], host)
    gateway.adopt(urlFor)
    assert path.read_bytes() != ZED.encode()
    different = {
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-everything"],
        "env": {"FROM": "claude"},
    }

    report = gateway.sync(urlFor, {("everything", None): different})

    assert [f.restored for f in report.files] == [["everything"]]
    assert path.read_bytes() == ZED.encode()
    assert backupPaths(tmp_path / "state") == []


def test_an_unservable_entry_handed_back_mid_run_comes_back_byte_for_byte(
    home: Path, tmp_path: Path
) -> None:
    """The other mid-run hand-back: the gateway cannot serve it any more
    (a variable it needs is gone)."""
    host = makeHost(tmp_path)
    text = VSCODE.replace('"type": "stdio",', '"env": {"KEY": "${env:API_KEY}"},')
    path = write(home / ".config/Code/User/mcp.json", text)
    engine(tmp_path, [VSCode()], host).adopt(urlFor)
    assert path.read_bytes() != text.encode()
    without = {k: v for k, v in ENVIRON.items() if k != "API_KEY"}
    gateway = AdoptionEngine(
        tmp_path / "state", [VSCode()], host, bridgeArgv=BRIDGE, environ=without
    )

    report = gateway.sync(urlFor)

    assert [f.removed for f in report.files] == [["memory"]]
    assert path.read_bytes() == text.encode()
