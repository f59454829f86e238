"""Fresh-user smoke-test findings about client adoption:
an unparsable C{~/.claude.json} must not keep every other client pointed at
a stopped gateway; bridge entries of stdio-only clients name the
gateway's port and state directory; C{--clients ''} adopts no
client, as the CLI checks it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import tap
from mcpgateway.bridge.main import startCommand
from mcpgateway.bridge.options import BridgeOptions, fromNamespace
from mcpgateway.cli.main import makeParser
from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.backups import backupPaths
from mcpgateway.clientconfigs.bridgecommand import defaultBridgeArgv
from mcpgateway.clientconfigs.clients import select
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import ClaudeDesktop, Cursor
from mcpgateway.clientconfigs.clientsource import ClientsSource, RestoreIncomplete
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.watched import PlainFile
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.startup.preflight import preflight

ENV = {"PATH": "/usr/bin:/bin"}


def jsonFile(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


@pytest.fixture(autouse=True)
def _home(home: Path) -> Path:
    """Every test here runs in the temporary HOME (conftest's C{home})."""
    return home


def adoptingSource(tmp_path: Path) -> tuple[ClientsSource, Path, Path, bytes]:
    """A gateway's source with a Claude Code config and a Cursor file, both
    with a stdio server; listening on 9100 (both adopted)."""
    home = tmp_path / "home"
    stateDir = tmp_path / "state"
    stateDir.mkdir(parents=True)
    claude = jsonFile(
        home / ".claude.json", {"mcpServers": {"fs": {"command": "fs-server", "args": ["/d"]}}}
    )
    cursor = jsonFile(
        home / ".cursor" / "mcp.json", {"mcpServers": {"memory": {"command": "memory-server"}}}
    )
    original = cursor.read_bytes()
    base = AdoptedClaudeConfig(claude, stateDir, "127.0.0.1", ENV)
    engine = AdoptionEngine(
        stateDir, [Cursor()], Host(home, "linux", {}), bridgeArgv=["/bin/mcpgateway"], environ=ENV
    )
    source = ClientsSource(base, engine, stateDir, "127.0.0.1", ENV)
    source.load()
    source.listening(9100)
    return source, claude, cursor, original


# -- item 2: an unparsable ~/.claude.json at stop ------------------------------------------


def test_an_unparsable_claude_config_does_not_keep_the_other_clients_adopted(
    tmp_path: Path,
) -> None:
    source, claude, cursor, before = adoptingSource(tmp_path)
    assert b"/memory/mcp" in cursor.read_bytes() and b"/fs/mcp" in claude.read_bytes()
    adopted = claude.read_bytes()
    claude.write_text("{ broken")

    with pytest.raises(RestoreIncomplete) as raised:
        source.stopping()
    # The other client's file is given back at once, and the failure says so.
    assert cursor.read_bytes() == before
    message = str(raised.value)
    assert str(claude) in message or "claude" in message.lower()
    assert "the other clients' files were restored" in message

    # The config service retries: still failing, and the marker names ~/.claude.json.
    with pytest.raises(RestoreIncomplete):
        source.stopping()
    source.restoreFailed(message)
    marker = json.loads((tmp_path / "state" / "restore-failed.json").read_text())
    assert marker["config"] == str(claude)

    # Once the user fixed it, a retry restores it; the Cursor file is not touched again.
    claude.write_bytes(adopted)
    notes = source.stopping()
    assert json.loads(claude.read_text())["mcpServers"]["fs"]["command"] == "fs-server"
    assert any("memory" in note for note in notes)  # told once everything is back
    assert cursor.read_bytes() == before


def test_both_failures_are_reported_and_the_retry_finishes_the_others(tmp_path: Path) -> None:
    source, claude, cursor, before = adoptingSource(tmp_path)
    claude.write_text("{ broken")
    cursor.write_text("{ also broken")

    with pytest.raises(RestoreIncomplete) as raised:
        source.stopping()
    assert str(cursor) in str(raised.value)
    assert "the other clients' files were restored" not in str(raised.value)
    assert backupPaths(tmp_path / "state")

    cursor.write_text(
        json.dumps(
            {"mcpServers": {"memory": {"url": "http://127.0.0.1:9100/memory/mcp"}}}, indent=2
        )
        + "\n"
    )
    with pytest.raises(RestoreIncomplete, match="the other clients' files were restored"):
        source.stopping()
    assert json.loads(cursor.read_text()) == json.loads(before)


# -- item 5: bridge entries name the port and the state directory -------------------------


def desktopFile(home: Path) -> Path:
    return jsonFile(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        {"mcpServers": {"memory": {"command": "memory-server", "args": ["--db", "/m"]}}},
    )


def desktopSource(tmp_path: Path, stateDir: Path, bridgeArgv: list[str]) -> ClientsSource:
    stateDir.mkdir(parents=True, exist_ok=True)
    engine = AdoptionEngine(
        stateDir,
        [ClaudeDesktop()],
        Host(tmp_path / "home", "linux", {}),
        bridgeArgv=bridgeArgv,
        environ=ENV,
    )
    return ClientsSource(PlainFile(None), engine, stateDir, "127.0.0.1", ENV)


def bridgeOptionsOf(entry: dict[str, Any]) -> BridgeOptions:
    """The options the bridge an entry runs gets, with the client's
    environment having no C{$MCPGATEWAY_HOME} (a desktop app's)."""
    args = makeParser().parse_args(entry["args"])
    assert args.command == "bridge"
    return fromNamespace(args, resolveStateDir(args.state_dir))


def test_a_bridge_entry_starts_the_gateway_on_its_port_and_state_dir(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`MCPGATEWAY_HOME=~/gwstate mcpgateway start --port 9606`: the bridge
    Claude Desktop runs after a crash starts the gateway there again, not
    on 9100 in ~/.mcpgateway."""
    stateDir = home / "gwstate"
    monkeypatch.setenv("MCPGATEWAY_HOME", str(stateDir))
    path = desktopFile(home)
    original = path.read_bytes()
    argv = defaultBridgeArgv(stateDir)
    source = desktopSource(tmp_path, stateDir, argv)
    source.load()
    source.listening(9606)

    entry = json.loads(path.read_text())["mcpServers"]["memory"]
    assert entry["command"] == argv[0]
    assert entry["args"] == ["--state-dir", str(stateDir), "bridge", "--port", "9606", "memory"]
    monkeypatch.delenv("MCPGATEWAY_HOME")  # the desktop app's environment
    options = bridgeOptionsOf(entry)
    assert options.target == "memory" and options.stateDir == stateDir and options.port == 9606
    command = startCommand(options)
    assert command[command.index("--state-dir") + 1] == str(stateDir)
    assert command[command.index("start") :] == ["start", "--json", "--port", "9606"]

    source.stopping()
    assert path.read_bytes() == original


def test_a_bridge_entry_on_the_default_port_and_state_dir_is_as_before(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPGATEWAY_HOME", str(tmp_path / "elsewhere"))  # not looked at
    stateDir = home / ".mcpgateway"
    path = desktopFile(home)
    source = desktopSource(tmp_path, stateDir, defaultBridgeArgv(stateDir))
    source.load()
    source.listening(9100)
    entry = json.loads(path.read_text())["mcpServers"]["memory"]
    assert entry["args"] == ["bridge", "memory"]
    monkeypatch.delenv("MCPGATEWAY_HOME")
    options = bridgeOptionsOf(entry)
    assert options.stateDir == stateDir and options.port is None


def test_preflight_writes_the_state_dir_that_came_from_mcpgateway_home(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stateDir = home / "gwstate"
    monkeypatch.setenv("MCPGATEWAY_HOME", str(stateDir))
    desktopFile(home)
    found = preflight(gatewayOptions("--state-dir", str(stateDir), "--rewrite-config"), "127.0.0.1")
    try:
        assert isinstance(found.source, ClientsSource)
        assert found.source.engine.bridgeArgv[1:] == ["--state-dir", str(stateDir)]
    finally:
        found.lock.release()


def test_entries_an_older_version_wrote_are_kept_and_restored_byte_for_byte(
    tmp_path: Path, home: Path
) -> None:
    """A file adopted by a version that wrote no --port: a gateway of this
    version on the same port leaves the entry alone, and restores it."""
    stateDir = home / "gwstate"
    path = desktopFile(home)
    original = path.read_bytes()
    older = desktopSource(tmp_path, stateDir, ["/bin/mcpgateway", "--state-dir", str(stateDir)])
    older.engine.adopt(_at(9606))  # as the older version did: no bridgePort
    adopted = path.read_bytes()
    assert json.loads(adopted)["mcpServers"]["memory"]["args"] == [
        "--state-dir",
        str(stateDir),
        "bridge",
        "memory",
    ]

    newer = desktopSource(tmp_path, stateDir, ["/bin/mcpgateway", "--state-dir", str(stateDir)])
    newer.load()
    newer.listening(9606)
    newer.load()  # a sync, as the watcher's
    assert path.read_bytes() == adopted
    newer.stopping()
    assert path.read_bytes() == original


def _at(port: int) -> Callable[[str, str | None], str]:
    def urlFor(name: str, workspace: str | None) -> str:
        return f"http://127.0.0.1:{port}/{name}/mcp"

    return urlFor


def test_a_gateway_that_moved_port_rewrites_the_bridge_entry(tmp_path: Path, home: Path) -> None:
    stateDir = home / ".mcpgateway"
    path = desktopFile(home)
    original = path.read_bytes()
    engine = desktopSource(tmp_path, stateDir, ["/bin/mcpgateway"]).engine
    engine.bridgePort = 9606
    engine.adopt(_at(9606))
    assert json.loads(path.read_text())["mcpServers"]["memory"]["args"] == [
        "bridge",
        "--port",
        "9606",
        "memory",
    ]
    engine.bridgePort = 9100
    engine.sync(_at(9100))
    assert json.loads(path.read_text())["mcpServers"]["memory"]["args"] == ["bridge", "memory"]
    engine.restore()
    assert path.read_bytes() == original


# -- item 9: --clients '' ---------------------------------------------------------------------


def gatewayOptions(*argv: str) -> tap.Options:
    parsed = tap.Options()
    parsed.parseOptions(list(argv))
    return parsed


@pytest.mark.parametrize("spec", ["", ",", " , "])
def test_clients_naming_no_client_adopts_none(tmp_path: Path, home: Path, spec: str) -> None:
    """`mcpgateway start --clients ''` checks it as no client: the gateway
    adopts none (Claude Code's config only), as with `none`."""
    cursor = jsonFile(
        home / ".cursor" / "mcp.json", {"mcpServers": {"memory": {"command": "memory-server"}}}
    )
    jsonFile(home / ".claude.json", {"mcpServers": {"fs": {"command": "fs-server"}}})
    options = gatewayOptions(
        "--state-dir", str(tmp_path / "st"), "--rewrite-config", "--clients", spec
    )
    found = preflight(options, "127.0.0.1")
    try:
        assert not isinstance(found.source, ClientsSource)  # no other client's file
    finally:
        found.lock.release()
    assert select(spec) == []
    assert b"memory-server" in cursor.read_bytes()
