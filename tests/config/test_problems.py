"""What the config holds that the gateway cannot use (L{mcpgateway.config.problems}):
each entry it skips for what it holds is kept with its file, scope and why;
the adoption engine keeps the client files its last pass did not adopt;
the config service gives both as of its last load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.clients.vscode import VSCode
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.problems import ConfigProblems, InvalidEntry, RefusedFile
from mcpgateway.config.servers import loadConfig, parseConfig
from mcpgateway.config.serversfile import ServersFile
from mcpgateway.config.watched import PlainFile
from mcpgateway.config.workspaces import WorkspaceKeys
from tests.clientconfigs.adoptkit import urlFor
from tests.reloading import inline

NEITHER = "it has neither 'command' (a stdio server) nor 'url' (a remote one)"

entries = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["command", "args", "env", "url", "type"]), inner)
    ),
    max_leaves=6,
)


@given(st.dictionaries(st.text(min_size=1, max_size=6), entries, max_size=4))
def test_each_skipped_entry_is_kept_once_with_its_file(servers: dict[str, Any]) -> None:
    """Whatever the entries hold: each not served is one invalid entry,
    named, in its file and scope, with the reason its warning gives, or a
    remote one left to its client (a note)."""
    loaded = parseConfig({"mcpServers": servers}, "/h/.claude.json", {"PATH": ""}, "user")
    skipped = [w for w in loaded.warnings if w.endswith("; skipped")]
    assert len(loaded.invalid) == len(skipped)
    left = {n.split("'")[1] for n in loaded.notes if "clients keep using it directly" in n}
    assert {e.server for e in loaded.invalid} | set(loaded.servers) | left == set(servers)
    assert not left & {e.server for e in loaded.invalid}
    for entry, warning in zip(loaded.invalid, skipped, strict=True):
        assert (entry.file, entry.scope) == ("/h/.claude.json", "user scope")
        assert warning == f"server '{entry.server}' (user scope): {entry.why}; skipped"


def test_an_entry_with_neither_command_nor_url_says_so() -> None:
    servers = {"ok": {"command": "x"}, "bad": {"args": ["y"]}, "worse": {"command": 3}}
    loaded = parseConfig(
        {"mcpServers": servers},
        "/h/.claude.json",
        {"PATH": ""},
        "user",
    )
    assert loaded.invalid == [
        InvalidEntry("bad", "/h/.claude.json", "user scope", NEITHER),
        InvalidEntry(
            "worse", "/h/.claude.json", "user scope", "'command' must be a non-empty string"
        ),
    ]
    assert list(loaded.servers) == ["ok"]


def test_a_projects_entry_names_its_project(tmp_path: Path) -> None:
    loaded = parseConfig(
        {"projects": {"/p": {"mcpServers": {"bad": {"command": ""}}}}}, "/h/.claude.json"
    )
    [entry] = loaded.invalid
    assert (entry.server, entry.file, entry.scope) == (
        "bad",
        "/h/.claude.json",
        "local scope of project /p",
    )


def test_the_gateway_files_entries_name_that_file(tmp_path: Path) -> None:
    """C{servers.json} (the management API's) merged in: its own path."""
    servers = ServersFile(tmp_path)
    servers.write({"mcpServers": {"api": {"url": 5}}, "overrides": {}, "projects": {}})
    merged = servers.merge(parseConfig({"mcpServers": {}}, "/h/.claude.json"))
    assert [(e.server, e.file) for e in merged.invalid] == [("api", str(servers.path))]


def cursorWithComments(home: Path) -> Path:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text('{\n  // mine\n  "mcpServers": {"fs": {"command": "fs-server"}}\n}\n')
    return path


def test_the_engine_keeps_the_files_its_last_pass_refused(tmp_path: Path) -> None:
    """A file it will not rewrite (a Cursor file with comments) is refused
    at every pass, said once in the warnings; once fixed, adopted and no
    longer refused."""
    home, stateDir = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    path = cursorWithComments(home)
    engine = AdoptionEngine(stateDir, [Cursor()], Host(home), bridgeArgv=["/bin/gw"])
    first = engine.adopt(urlFor)
    [refused] = engine.refused
    assert (refused.file, refused.client) == (str(path), "cursor")
    assert refused.why.startswith(f"{path} is not valid JSON")
    assert len(first.warnings) == 1
    second = engine.adopt(urlFor)
    assert engine.refused == (refused,) and second.warnings == []
    path.write_text(json.dumps({"mcpServers": {"fs": {"command": "fs-server"}}}))
    engine.adopt(urlFor)
    assert not engine.refused


def test_a_clients_policy_refuses_its_files(tmp_path: Path) -> None:
    home, stateDir = tmp_path / "home", tmp_path / "state"
    settings = home / ".config" / "Code" / "User" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"chat.mcp.access": "none"}))
    servers = settings.parent / "mcp.json"
    servers.write_text(json.dumps({"servers": {"fs": {"command": "fs-server"}}}))
    engine = AdoptionEngine(stateDir, [VSCode()], Host(home), bridgeArgv=["/bin/gw"])
    engine.adopt(urlFor)
    [refused] = engine.refused
    assert (refused.file, refused.client) == (str(servers), "vscode")
    assert "chat.mcp.access" in refused.why


class RefusingSource(PlainFile):
    """A plain file source that also says which client files it refused."""

    refusedFiles = (RefusedFile("/h/.cursor/mcp.json", "cursor", "not valid JSON"),)


def configService(tmp_path: Path, source: PlainFile) -> ConfigService:
    stateDir = tmp_path / "state"
    stateDir.mkdir(exist_ok=True)
    return ConfigService(
        source,
        stateDir,
        Clock(),
        None,
        inline,
        lambda specs: None,
        ConfigSettings(environ={"PATH": ""}, keys=lambda: WorkspaceKeys(bytes(32))),
    )


def test_the_config_service_gives_them_as_of_its_last_load(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {"bad": {"args": []}, "ok": {"command": "x"}}}))
    service = configService(tmp_path, PlainFile(config))
    assert service.problems() == ConfigProblems()
    service.specs(loadConfig(config))
    assert service.problems() == ConfigProblems(
        (InvalidEntry("bad", str(config), "gateway scope", NEITHER),)
    )
    config.write_text(json.dumps({"mcpServers": {"ok": {"command": "x"}}}))
    service.reload()
    assert service.problems() == ConfigProblems()
    assert not service.problems()


def test_the_config_service_gives_its_sources_refused_files(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    service = configService(tmp_path, RefusingSource(config))
    assert service.problems() == ConfigProblems((), RefusingSource.refusedFiles)
    assert service.problems()
