"""Policies: when Claude Code's C{allowedMcpServers} /
C{deniedMcpServers} (user or managed settings) or a C{managed-mcp.json} would
block the gateway's HTTP entries, C{~/.claude.json} is not rewritten: it is
served as it is (as with C{--no-rewrite}), with one warning saying why and
how to let the gateway's URL through.

Every file lives under C{tmp_path}: the fake home (also C{$HOME}) and the
fake system root of the managed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host

ENV: dict[str, str] = {"PATH": ""}
SERVER = {"type": "stdio", "command": "npx", "args": ["-y", "some-server"], "env": {}}
COMMAND_ONLY = {"allowedMcpServers": [{"serverCommand": ["npx", "-y", "some-server"]}]}


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # ClaudeConfig only rewrites files in the home
    return Host(home=home, system="linux", environ={}, root=tmp_path / "root")


@pytest.fixture
def stateDir(host: Host) -> Path:
    d = host.home / ".mcpgateway"
    d.mkdir(mode=0o700)
    return d


def write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def claudeJson(host: Host) -> Path:
    return write(host.home / ".claude.json", {"numStartups": 3, "mcpServers": {"fs": SERVER}})


def adopted(host: Host, stateDir: Path, **kw: Any) -> AdoptedClaudeConfig:
    kw.setdefault("policyHost", host)
    return AdoptedClaudeConfig(host.home / ".claude.json", stateDir, "127.0.0.1", ENV, **kw)


def test_serverCommandAllowlistLeavesTheFileAsItIs(host: Host, stateDir: Path) -> None:
    """An allowlist of C{serverCommand} patterns only: nothing is written,
    the stdio entry is served from the file, one warning says why and which
    C{serverUrl} pattern lets the gateway through."""
    path = claudeJson(host)
    settings = write(host.home / ".claude" / "settings.json", COMMAND_ONLY)
    before = path.read_bytes()
    source = adopted(host, stateDir)
    source.load()
    notes = source.listening(9100)

    assert path.read_bytes() == before
    assert not (stateDir / "config-backup.json").exists()
    [warning] = [note for note in notes if note.startswith("warning: ")]
    assert str(path) in warning and "--no-rewrite" in warning
    assert str(settings) in warning and "allowedMcpServers" in warning
    assert '{"serverUrl": "http://127.0.0.1:9100/*"}' in warning
    assert not any(note.startswith("adopted") for note in notes)

    loaded = source.load()  # served as it is, and not warned about again
    assert loaded.servers["fs"].command == "npx"
    assert not any("allowedMcpServers" in w for w in loaded.warnings)
    assert path.read_bytes() == before
    source.stopping()
    assert path.read_bytes() == before


def test_aServerUrlPatternLetsItThrough(host: Host, stateDir: Path) -> None:
    path = claudeJson(host)
    allowed = [*COMMAND_ONLY["allowedMcpServers"], {"serverUrl": "http://127.0.0.1:9100/*"}]
    write(host.home / ".claude" / "settings.json", {"allowedMcpServers": allowed})
    source = adopted(host, stateDir)
    source.load()
    notes = source.listening(9100)
    assert notes == ["adopted 1 entry: fs (user scope)"]
    entry = json.loads(path.read_text())["mcpServers"]["fs"]
    assert entry == {"type": "http", "url": "http://127.0.0.1:9100/fs/mcp"}


@pytest.mark.parametrize(
    "where, document, words",
    [
        (
            "etc/claude-code/managed-settings.json",
            {"deniedMcpServers": [{"serverUrl": "http://127.0.0.1:*"}]},
            "deniedMcpServers",
        ),
        ("etc/claude-code/managed-settings.json", COMMAND_ONLY, "allowedMcpServers"),
        ("etc/claude-code/managed-mcp.json", {"mcpServers": {}}, "exclusive control"),
    ],
)
def test_managedPoliciesBlockToo(
    host: Host, stateDir: Path, where: str, document: Any, words: str
) -> None:
    path = claudeJson(host)
    managed = write(host.root / where, document)
    before = path.read_bytes()
    source = adopted(host, stateDir)
    notes = source.listening(9100)
    assert path.read_bytes() == before
    [warning] = [note for note in notes if note.startswith("warning: ")]
    assert str(managed) in warning and words in warning


def test_aPolicyAddedWhileAdoptedPutsTheFileBack(host: Host, stateDir: Path) -> None:
    """Adopted, then the user's settings gain a blocking allowlist: the next
    sync puts the originals back (byte for byte) and warns once."""
    path = claudeJson(host)
    before = path.read_bytes()
    source = adopted(host, stateDir)
    source.load()
    assert source.listening(9100) == ["adopted 1 entry: fs (user scope)"]
    assert path.read_bytes() != before

    write(host.home / ".claude" / "settings.json", COMMAND_ONLY)
    loaded = source.load()
    assert path.read_bytes() == before
    assert [w for w in loaded.warnings if "allowedMcpServers" in w] != []
    assert "restored 1 entry: fs (user scope)" in loaded.notes
    assert loaded.servers["fs"].command == "npx"
    again = source.load()
    assert not any("allowedMcpServers" in w for w in again.warnings)
    assert path.read_bytes() == before

    (host.home / ".claude" / "settings.json").unlink()  # allowed again: adopted again
    assert source.load().notes == ["adopted 1 entry: fs (user scope)"]
    source.stopping()
    assert path.read_bytes() == before


def test_theDefaultPolicyHomeIsTheConfigsDirectory(host: Host, stateDir: Path) -> None:
    """Without a policy host, a C{.claude.json}'s policies are read next to it
    (its directory is the home); another file has none."""
    if Path("/etc/claude-code").exists():
        pytest.skip("this machine has managed Claude Code settings")
    path = claudeJson(host)
    write(host.home / ".claude" / "settings.json", COMMAND_ONLY)
    before = path.read_bytes()
    source = AdoptedClaudeConfig(path, stateDir, "127.0.0.1", ENV)
    notes = source.listening(9100)
    assert path.read_bytes() == before
    assert any(note.startswith("warning: ") for note in notes)

    other = write(host.home / "servers.json", {"mcpServers": {"fs": SERVER}})
    plain = AdoptedClaudeConfig(other, stateDir, "127.0.0.1", ENV)
    assert plain.listening(9100) == ["adopted 1 entry: fs (gateway scope)"]
    plain.stopping()


def test_claudeConfigDirSettings(host: Host, stateDir: Path) -> None:
    """With C{CLAUDE_CONFIG_DIR}, the user's settings are in that directory."""
    claudeJson(host)
    configDir = host.home / "cfg"
    write(configDir / "settings.json", COMMAND_ONLY)
    policyHost = Host(host.home, "linux", {"CLAUDE_CONFIG_DIR": str(configDir)}, host.root)
    notes = adopted(host, stateDir, policyHost=policyHost).listening(9100)
    assert any(str(configDir / "settings.json") in note for note in notes)


def test_shadowEntriesAreAskedAboutToo(host: Host, stateDir: Path) -> None:
    """The shadow of an approved C{.mcp.json} server is an entry Claude Code
    sees as well: a name-only allowlist without it blocks the rewrite."""
    project = host.home / "proj"
    write(project / ".mcp.json", {"mcpServers": {"db": SERVER}})
    path = write(
        host.home / ".claude.json",
        {
            "mcpServers": {"fs": SERVER},
            "projects": {
                str(project): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
            },
        },
    )
    write(host.home / ".claude" / "settings.json", {"allowedMcpServers": [{"serverName": "fs"}]})
    before = path.read_bytes()
    notes = adopted(host, stateDir).listening(9100)
    assert path.read_bytes() == before
    [warning] = [note for note in notes if note.startswith("warning: ")]
    assert "db" in warning


def test_theEngineSkipsClaudeCodeWhenItsPolicyRefuses(host: Host, stateDir: Path) -> None:
    """Claude Code as one adapter of the engine (no config source around
    it): its policy is asked before the write; refused, the file is left as
    it is and the client is skipped with the reason; allowed, adopted."""
    from mcpgateway.clientconfigs.clients.claudecode import ClaudeCode
    from mcpgateway.clientconfigs.engine import AdoptionEngine

    path = claudeJson(host)
    write(host.home / ".claude" / "settings.json", COMMAND_ONLY)
    before = path.read_bytes()
    engine = AdoptionEngine(stateDir, [ClaudeCode()], host, bridgeArgv=["gw"], environ=ENV)

    def urlFor(name: str, workspace: str | None) -> str:
        return f"http://127.0.0.1:9100/{name}/mcp"

    report = engine.adopt(urlFor)
    [(client, why)] = report.skippedClients
    assert client == "claude-code" and "allowedMcpServers" in why
    assert path.read_bytes() == before
    write(host.home / ".claude" / "settings.json", {})
    report = engine.adopt(urlFor)
    assert report.files[0].adopted == ["fs (user scope)"]
    assert json.loads(path.read_text())["mcpServers"]["fs"] == {
        "type": "http",
        "url": urlFor("fs", None),
    }
    assert (stateDir / "config-backup.json").is_file()  # its place before the engine
    engine.restore()
    assert path.read_bytes() == before
