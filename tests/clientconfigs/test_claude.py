"""Adopting a Claude Code config: backup, rewrite, serve, sync, restore, and the
atomic read-modify-write under it. Every file lives under C{tmp_path} (the fake
home); the real C{~/.claude.json} is never read."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs.claude import GATEWAY_TS_KEY, ClaudeConfig, backupPathFor, hasBackup
from mcpgateway.clientconfigs.documents import JsonDataDocument, updateFile
from mcpgateway.clientconfigs.jsonfile import ConcurrentWriteError, JsonFormat, readJson
from mcpgateway.config.servers import ConfigError, parseConfig
from tests.clientconfigs.adoptkit import claudeBackupView, load

ENV: dict[str, str] = {"PATH": ""}
NOW = 1_700_000_000.123
STAMP = 1_700_000_000_123
PROJ_A = "/home/u/proj-a"
PROJ_B = "/home/u/proj-b"


def fakeKey(workspace: str) -> str:
    """A workspace key as WorkspaceKeys makes them (16 of [a-z2-7]); the real
    keyed hash is AdoptedClaudeConfig's, tested in test_scopes_adoption.py."""
    digest = hashlib.sha256(workspace.encode()).digest()[:10]
    return base64.b32encode(digest).decode().lower()


def route(name: str, scope: str | None) -> str:
    return f"/{name}/mcp" if scope is None else f"/{name}~{fakeKey(scope)}/mcp"


def url9100(name: str, scope: str | None = None) -> str:
    return f"http://127.0.0.1:9100{route(name, scope)}"


def url9200(name: str, scope: str | None = None) -> str:
    return f"http://127.0.0.1:9200{route(name, scope)}"


def http(url: str) -> dict[str, str]:
    return {"type": "http", "url": url}


def original(ts: bool = True) -> dict[str, Any]:
    """A ~/.claude.json as Claude Code keeps it: unrelated keys, user scope,
    three project scopes, entries of every kind."""
    doc: dict[str, Any] = {
        "numStartups": 42,
        "installMethod": "native",
        "oauthAccount": {"emailAddress": "zoë@example.com", "displayName": "Zoë ✓"},
        "mcpServers": {
            "search": {"command": "search-mcp", "args": ["--fast"]},
            "typed": {"type": "stdio", "command": "typed-mcp", "args": [], "env": {"K": "v"}},
            "remote": {"type": "http", "url": "https://example.com/mcp"},
            "bad name!": {"command": "x"},
            "broken": {"command": "y", "args": "not-a-list"},
        },
        "projects": {
            PROJ_A: {
                "allowedTools": ["Bash(ls)"],
                "mcpServers": {
                    "lint": {"command": "lint-mcp", "mode": "stateful"},
                    "search": {"command": "search-mcp", "args": ["--fast"]},
                },
                "history": [{"display": 'hi "there"\n', "pastedContents": {}}],
            },
            PROJ_B: {
                "allowedTools": [],
                "mcpServers": {
                    "db": {"command": "db-mcp", "env": {"TOKEN": "${DB_TOKEN:-none}"}},
                    "events": {"type": "sse", "url": "http://localhost:1/sse"},
                },
            },
            "/home/u/proj-c": {"allowedTools": [], "mcpServers": {}},
        },
        "tipsHistory": {"memory": 3},
    }
    if ts:  # an earlier gateway run left its timestamp in the middle of the file
        items = list(doc.items())
        items.insert(3, (GATEWAY_TS_KEY, 1))
        doc = dict(items)
    return doc


SERVABLE = [("search", None), ("typed", None), ("lint", PROJ_A), ("search", PROJ_A), ("db", PROJ_B)]
"""The entries the gateway adopts: every servable stdio entry of every scope."""
PROJECT_ONLY: list[tuple[str, str | None]] = [("lint", PROJ_A), ("db", PROJ_B)]
"""Defined only in a project: adopted at that project's workspace route."""
ROUTES: dict[tuple[str, str | None], str | None] = {
    ("search", None): None,
    ("typed", None): None,
    ("lint", PROJ_A): PROJ_A,
    ("search", PROJ_A): None,  # the same server as the user scope's: the global route
    ("db", PROJ_B): PROJ_B,
}
"""The route each of them gets (C{None}: the global one)."""


def label(name: str, scope: str | None) -> str:
    return f"{name} ({'user scope' if scope is None else f'local scope of project {scope}'})"


def adoptedUrl(name: str, scope: str | None, urlFor: Callable[..., str] = url9100) -> str:
    return urlFor(name, ROUTES[(name, scope)])


def stringify(doc: Any) -> str:
    """JSON.stringify(doc, null, 2): what Claude Code writes (no trailing newline)."""
    return json.dumps(doc, indent=2, ensure_ascii=False)


def block(doc: dict[str, Any], scope: str | None) -> dict[str, Any]:
    servers: dict[str, Any] = (
        doc["mcpServers"] if scope is None else doc["projects"][scope]["mcpServers"]
    )
    return servers


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def stateDir(tmp_path: Path) -> Path:
    d = tmp_path / "home" / ".mcpgateway"
    d.mkdir(parents=True, mode=0o700)
    return d


@pytest.fixture
def configPath(home: Path) -> Path:
    path = home / ".claude.json"
    path.write_text(stringify(original()), encoding="utf-8")
    path.chmod(0o640)
    return path


def make(configPath: Path, stateDir: Path, home: Path, **kw: Any) -> ClaudeConfig:
    kw.setdefault("environ", ENV)
    return ClaudeConfig(configPath, stateDir, home=home, now=lambda: NOW, **kw)


def stray(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def withoutTs(text: str) -> str:
    return "".join(
        line for line in text.splitlines(keepends=True) if f'"{GATEWAY_TS_KEY}"' not in line
    )


# -- adopt ------------------------------------------------------------------------


def test_adopt_rewrites_exactly_the_servable_stdio_entries(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    """Every servable stdio entry of every scope is adopted, a
    project's own server at its workspace's route; no name clash and no
    project-only server leaves an entry as plain stdio."""
    report = make(configPath, stateDir, home).adopt(url9100)

    assert report.adopted == [label(name, scope) for name, scope in SERVABLE]
    assert report.removed == [] and report.notes == [] and report.changed
    expected = original()
    for name, scope in SERVABLE:
        block(expected, scope)[name] = http(adoptedUrl(name, scope))
    expected[GATEWAY_TS_KEY] = STAMP
    # Everything else byte for byte: same key order, indent, escaping, no trailing newline.
    assert configPath.read_text(encoding="utf-8") == stringify(expected)
    assert stat.S_IMODE(configPath.stat().st_mode) == 0o640
    assert stray(home) == [] and stray(stateDir) == []

    backupPath = stateDir / "config-backup.json"
    assert stat.S_IMODE(backupPath.stat().st_mode) == 0o600
    assert load(backupPath)["version"] == 2  # the engine's format
    backup = claudeBackupView(backupPath)
    assert backup["configPath"] == str(configPath)
    orig = original()
    for name, scope in SERVABLE:
        record = block(backup, scope)[name]
        assert record == {"url": adoptedUrl(name, scope), "original": block(orig, scope)[name]}
    assert set(backup["mcpServers"]) == {"search", "typed"}
    assert set(backup["projects"]) == {PROJ_A, PROJ_B}
    assert set(backup["projects"][PROJ_A]["mcpServers"]) == {"lint", "search"}
    assert set(backup["projects"][PROJ_B]["mcpServers"]) == {"db"}
    for name, scope in PROJECT_ONLY:  # a project's private server: never a global route
        assert block(load(configPath), scope)[name] == http(url9100(name, scope))


def test_adopt_is_idempotent(configPath: Path, stateDir: Path, home: Path) -> None:
    config = make(configPath, stateDir, home)
    config.adopt(url9100)
    before = (
        configPath.read_bytes(),
        configPath.stat().st_mtime_ns,
        config.backupPath.read_bytes(),
        config.backupPath.stat().st_mtime_ns,
    )
    report = config.adopt(url9100)
    assert (report.adopted, report.removed, report.notes) == ([], [], [])
    assert not report.changed
    assert before == (
        configPath.read_bytes(),
        configPath.stat().st_mtime_ns,
        config.backupPath.read_bytes(),
        config.backupPath.stat().st_mtime_ns,
    )


def test_adopt_without_stdio_entries_writes_nothing(home: Path, stateDir: Path) -> None:
    path = home / ".claude.json"
    text = stringify({"numStartups": 1, "mcpServers": {"r": http("https://x/mcp")}})
    path.write_text(text)
    report = make(path, stateDir, home).adopt(url9100)
    assert report.adopted == []
    assert path.read_text() == text
    assert not hasBackup(stateDir, path)


def test_served_document_yields_the_originals(configPath: Path, stateDir: Path, home: Path) -> None:
    """What the gateway is given to serve is the file as it was before
    adoption: every adopted entry is its original, a project's at its project
    path (config builds that workspace's route from it)."""
    expected = parseConfig(original(), str(configPath), ENV, "user")
    config = make(configPath, stateDir, home)
    before = config.servedDocument()
    config.adopt(url9100)
    after = config.servedDocument()
    assert after == before
    orig = original()
    assert after["mcpServers"] == orig["mcpServers"]
    assert after["projects"] == {  # no project without servers, only the servers
        PROJ_A: {"mcpServers": orig["projects"][PROJ_A]["mcpServers"]},
        PROJ_B: {"mcpServers": orig["projects"][PROJ_B]["mcpServers"]},
    }
    served = parseConfig(after, str(configPath), ENV, "user")
    assert served.servers == expected.servers
    assert config.loadServed().servers == expected.servers
    assert config.loadServed().warnings == expected.warnings
    # What cannot be served still reaches the gateway's warnings.
    assert any("bad name!" in w for w in served.warnings)
    assert any("'broken'" in w for w in served.warnings)


# -- restore and the round trip -------------------------------------------------------


def test_round_trip_is_byte_identical(configPath: Path, stateDir: Path, home: Path) -> None:
    before = configPath.read_bytes()
    config = make(configPath, stateDir, home)
    config.adopt(url9100)
    assert load(configPath)[GATEWAY_TS_KEY] == STAMP  # clients reload
    assert hasBackup(stateDir, configPath)
    report = config.restore()

    assert sorted(report.restored) == sorted(
        [
            f"{n} ({'user scope' if s is None else f'local scope of project {s}'})"
            for n, s in SERVABLE
        ]
    )
    assert report.kept == [] and report.notes == [] and report.revived == []
    # The timestamp goes back to the value it had before adoption.
    assert configPath.read_bytes() == before
    assert stat.S_IMODE(configPath.stat().st_mode) == 0o640
    assert not hasBackup(stateDir, configPath)
    assert not config.backupPath.exists()
    assert stray(home) == [] and stray(stateDir) == []


def test_round_trip_of_a_file_without_a_timestamp(home: Path, stateDir: Path) -> None:
    path = home / ".claude.json"
    before = stringify(original(ts=False))
    path.write_text(before, encoding="utf-8")
    config = make(path, stateDir, home)
    config.adopt(url9100)
    assert list(load(path))[-1] == GATEWAY_TS_KEY  # appended
    config.restore()
    assert path.read_text(encoding="utf-8") == before  # and removed again


FORMATS = {
    "2 spaces": lambda doc: json.dumps(doc, indent=2, ensure_ascii=False),
    "4 spaces, newline": lambda doc: json.dumps(doc, indent=4, ensure_ascii=False) + "\n",
    "tab": lambda doc: json.dumps(doc, indent="\t", ensure_ascii=False) + "\n",
    "compact": lambda doc: json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
    "compact, ASCII": lambda doc: json.dumps(doc, separators=(",", ":")),
    "CRLF": lambda doc: json.dumps(doc, indent=2).replace("\n", "\r\n") + "\r\n",
}


@pytest.mark.parametrize("ts", [True, False], ids=["with-ts", "without-ts"])
@pytest.mark.parametrize("layout", sorted(FORMATS))
def test_adopt_then_restore_gives_the_bytes_back(
    home: Path, stateDir: Path, layout: str, ts: bool
) -> None:
    """The file comes back byte for byte, a compact one compact."""
    path = home / ".claude.json"
    before = FORMATS[layout](original(ts)).encode("utf-8")
    path.write_bytes(before)
    config = make(path, stateDir, home)
    assert len(config.adopt(url9100).adopted) == len(SERVABLE)
    adopted = path.read_bytes()
    assert adopted != before
    assert (b"\n" in adopted) == (b"\n" in before)  # a compact file stays compact
    config.restore()
    assert path.read_bytes() == before
    # A second cycle (the timestamp left by the first is gone): the same again.
    config.adopt(url9200)
    config.restore()
    assert path.read_bytes() == before


def test_mcp_json_servers_are_a_projects_and_not_adopted(home: Path, stateDir: Path) -> None:
    """On the adopted path: a .mcp.json's servers are project scope
    (often from a cloned repository): not rewritten to a route every client
    can reach. (Opened as the config itself, its top level has no workspace,
    so it gets no workspace route either.)"""
    project = home / "work" / "proj"
    project.mkdir(parents=True)
    path = project / ".mcp.json"
    before = (
        json.dumps(
            {
                "mcpServers": {
                    "fs": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
                    },
                    "web": {"type": "http", "url": "https://example.com/mcp"},
                }
            },
            indent=2,
        )
        + "\n"
    )
    path.write_text(before)
    config = make(path, stateDir, home)
    assert config.defaultScope == "project"
    assert config.backupPath.parent == stateDir / "project-backups"

    report = config.adopt(url9100)
    assert report.adopted == [] and not report.changed
    assert path.read_text() == before
    assert not config.backupPath.exists()
    assert config.servedDocument() == json.loads(before)  # as it is: parseConfig decides


def test_an_older_versions_global_url_of_a_project_entry_is_re_pointed(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    """A backup written by an older version gave a project's own
    server the global URL (/<name>/mcp, reachable from every project). The
    next adoption re-points it to its workspace route; the originals and the
    byte-for-byte restore stay."""
    before = configPath.read_bytes()
    data = load(configPath)
    backup: dict[str, Any] = {
        "version": 1,
        "configPath": str(configPath),
        "timestampAdded": False,
        "timestampBefore": 1,
        "projects": {},
    }
    for name, scope in PROJECT_ONLY:
        assert scope is not None
        backup["projects"].setdefault(scope, {"mcpServers": {}})["mcpServers"][name] = {
            "url": url9100(name),
            "original": block(data, scope)[name],
        }
        block(data, scope)[name] = http(url9100(name))
    data[GATEWAY_TS_KEY] = STAMP - 1
    configPath.write_text(stringify(data), encoding="utf-8")
    (stateDir / "config-backup.json").write_text(json.dumps(backup))

    config = make(configPath, stateDir, home)
    assert (
        config.servedDocument()["projects"][PROJ_B]["mcpServers"]["db"]
        == (original()["projects"][PROJ_B]["mcpServers"]["db"])
    )
    report = config.adopt(url9100)
    assert report.removed == []
    assert sorted(report.adopted) == sorted(
        label(n, s) for n, s in SERVABLE if (n, s) not in PROJECT_ONLY
    )
    for name, scope in PROJECT_ONLY:
        assert (
            f"{label(name, scope)}: now at {url9100(name, scope)} (was {url9100(name)})"
            in report.notes
        )
    after = load(configPath)
    saved = claudeBackupView(stateDir / "config-backup.json")
    for name, scope in SERVABLE:
        assert block(after, scope)[name] == http(adoptedUrl(name, scope))
        assert block(saved, scope)[name] == {
            "url": adoptedUrl(name, scope),
            "original": block(original(), scope)[name],
        }
    config.restore()
    assert configPath.read_bytes() == before


def test_restore_without_a_backup_changes_nothing(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    before = configPath.read_bytes()
    report = make(configPath, stateDir, home).restore()
    assert report.restored == [] and report.kept == []
    assert "nothing to restore" in report.notes[0]
    assert configPath.read_bytes() == before


# -- crash recovery and edits while stopped ---------------------------------------------


def test_crash_recovery_adopts_again_without_a_double_backup(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    before = configPath.read_text(encoding="utf-8")
    make(configPath, stateDir, home).adopt(url9100)
    backup = (stateDir / "config-backup.json").read_bytes()
    adopted = configPath.read_bytes()

    # The gateway was killed: no restore. A new one adopts again, same port.
    second = make(configPath, stateDir, home)
    assert hasBackup(stateDir, configPath)
    report = second.adopt(url9100)
    assert (report.adopted, report.removed) == ([], [])
    assert (stateDir / "config-backup.json").read_bytes() == backup
    assert configPath.read_bytes() == adopted

    # Another port: the entries follow, the originals stay the stdio ones.
    third = make(configPath, stateDir, home)
    report = third.adopt(url9200)
    assert report.adopted == [] and len(report.notes) == len(SERVABLE)
    assert load(configPath)["mcpServers"]["search"] == http(url9200("search"))
    saved = claudeBackupView(stateDir / "config-backup.json")
    assert saved["mcpServers"]["search"] == {
        "url": url9200("search"),
        "original": original()["mcpServers"]["search"],
    }

    third.restore()
    assert withoutTs(configPath.read_text(encoding="utf-8")) == withoutTs(before)


def test_restore_first_then_adopt_after_a_crash(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    before = configPath.read_text(encoding="utf-8")
    make(configPath, stateDir, home).adopt(url9100)
    recovering = make(configPath, stateDir, home)
    report = recovering.restore()
    assert len(report.restored) == len(SERVABLE)
    assert withoutTs(configPath.read_text(encoding="utf-8")) == withoutTs(before)
    assert len(recovering.adopt(url9100).adopted) == len(SERVABLE)
    assert (
        claudeBackupView(stateDir / "config-backup.json")["mcpServers"]["typed"]["original"]
        == original()["mcpServers"]["typed"]
    )


def userEdits(configPath: Path) -> None:
    """While the gateway was stopped: the user points 'typed' elsewhere and
    removes 'search' from proj-a (claude mcp remove)."""
    data = load(configPath)
    data["mcpServers"]["typed"] = http("https://elsewhere.example/mcp")
    del data["projects"][PROJ_A]["mcpServers"]["search"]
    configPath.write_text(stringify(data), encoding="utf-8")


def test_restore_keeps_what_the_user_changed(configPath: Path, stateDir: Path, home: Path) -> None:
    make(configPath, stateDir, home).adopt(url9100)
    userEdits(configPath)
    report = make(configPath, stateDir, home).restore()

    assert report.kept == ["typed (user scope)", f"search (local scope of project {PROJ_A})"]
    assert report.restored == [
        "search (user scope)",
        f"lint (local scope of project {PROJ_A})",
        f"db (local scope of project {PROJ_B})",
    ]
    assert any("typed (user scope) was changed" in n for n in report.notes)
    assert any(f"search (local scope of project {PROJ_A}) was removed" in n for n in report.notes)
    data = load(configPath)
    assert data["mcpServers"]["typed"] == http("https://elsewhere.example/mcp")
    assert "search" not in data["projects"][PROJ_A]["mcpServers"]
    assert data["mcpServers"]["search"] == original()["mcpServers"]["search"]
    assert (
        data["projects"][PROJ_B]["mcpServers"]["db"]
        == original()["projects"][PROJ_B]["mcpServers"]["db"]
    )
    assert not hasBackup(stateDir, configPath)


def test_adopt_merges_a_backup_the_user_edited_around(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    make(configPath, stateDir, home).adopt(url9100)
    userEdits(configPath)
    report = make(configPath, stateDir, home).adopt(url9100)
    assert report.removed == ["typed (user scope)", f"search (local scope of project {PROJ_A})"]
    assert any("typed (user scope) was changed" in n and "the file wins" in n for n in report.notes)
    backup = claudeBackupView(stateDir / "config-backup.json")
    assert set(backup["mcpServers"]) == {"search"}
    assert {p: set(b["mcpServers"]) for p, b in backup["projects"].items()} == {
        PROJ_A: {"lint"},
        PROJ_B: {"db"},
    }
    assert load(configPath)["mcpServers"]["typed"] == http("https://elsewhere.example/mcp")


def test_a_crash_between_backup_and_rewrite_is_harmless(
    configPath: Path, stateDir: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = configPath.read_bytes()

    realReplace = os.replace

    def crash(src: str, dst: str) -> None:
        if Path(dst) == configPath:  # killed just before the config's rename
            raise KeyboardInterrupt("killed")
        realReplace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        make(configPath, stateDir, home).adopt(url9100)
    monkeypatch.undo()
    assert configPath.read_bytes() == before
    assert hasBackup(stateDir, configPath)  # the backup is written first
    assert stray(home) == []

    report = make(configPath, stateDir, home).restore()
    assert report.restored == [] and report.kept == []
    assert configPath.read_bytes() == before  # nothing to put back: not even rewritten
    assert not hasBackup(stateDir, configPath)


# -- concurrent writers --------------------------------------------------------------------


def updateJson(path: Path, mutate: Callable[[dict[str, Any]], bool], retries: int = 5) -> bool:
    """A read-modify-write of a JSON object the way adoption does it (one
    updateFile cycle over a JsonDataDocument), for the tests below."""

    def change(raw: bytes) -> bytes | None:
        doc = JsonDataDocument(path, raw)
        if not mutate(doc.topLevel()):
            return None
        return doc.text().encode("utf-8")

    return updateFile(path, change, retries)


def test_update_json_redoes_the_cycle_when_someone_writes_in_between(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(stringify({"a": 1}))
    calls = []

    def mutate(data: dict[str, Any]) -> bool:
        calls.append(dict(data))
        if len(calls) == 1:  # Claude Code writes while we work
            path.write_text(stringify({"a": 1, "theirs": True}))
        data["ours"] = True
        return True

    assert updateJson(path, mutate) is True
    assert load(path) == {"a": 1, "theirs": True, "ours": True}
    assert len(calls) == 2 and calls[1] == {"a": 1, "theirs": True}
    assert stray(tmp_path) == []


def test_update_json_gives_up_on_a_writer_that_never_stops(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(stringify({"n": 0}))
    calls = []

    def mutate(data: dict[str, Any]) -> bool:
        calls.append(1)
        path.write_text(stringify({"n": len(calls)}))
        data["ours"] = True
        return True

    with pytest.raises(ConcurrentWriteError):
        updateJson(path, mutate, retries=3)
    assert len(calls) == 4
    assert load(path) == {"n": 4}  # the other writer's last version, intact
    assert stray(tmp_path) == []


def test_update_json_detects_a_same_size_rewrite_within_one_mtime_tick(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"a": 1}')
    mtime = path.stat().st_mtime_ns

    def mutate(data: dict[str, Any]) -> bool:
        if data["a"] == 1:
            path.write_text('{"a": 2}')
            os.utime(path, ns=(mtime, mtime))  # a coarse clock: same mtime, same size
        data["b"] = 0
        return True

    updateJson(path, mutate)
    assert load(path) == {"a": 2, "b": 0}


def test_update_json_does_not_write_when_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"a": 1}')
    mtime = path.stat().st_mtime_ns
    assert updateJson(path, lambda data: False) is False
    assert updateJson(path, lambda data: True) is False  # "changed", but the same bytes
    assert path.stat().st_mtime_ns == mtime


def interfere(monkeypatch: pytest.MonkeyPatch, configPath: Path, times: int | None) -> list[int]:
    """Make ClaudeConfig's writes race a Claude Code that bumps numStartups
    right after each read, C{times} times (C{None}: forever)."""
    writes: list[int] = []
    real = updateFile

    def racing(
        path: Path,
        change: Callable[[bytes], bytes | None],
        retries: int = 5,
        within: str | None = None,
    ) -> bool:
        def wrapped(raw: bytes) -> bytes | None:
            if times is None or len(writes) < times:
                theirs = load(configPath)
                theirs["numStartups"] += 1
                configPath.write_text(stringify(theirs), encoding="utf-8")
                writes.append(theirs["numStartups"])
            return change(raw)

        return real(path, wrapped, retries, within)

    monkeypatch.setattr("mcpgateway.clientconfigs.engine.updateFile", racing)
    monkeypatch.setattr("mcpgateway.clientconfigs.restoring.updateFile", racing)
    return writes


def test_a_concurrent_write_during_adopt_is_not_lost(
    configPath: Path, stateDir: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = interfere(monkeypatch, configPath, times=1)
    report = make(configPath, stateDir, home).adopt(url9100)
    assert writes == [43]
    assert len(report.adopted) == len(SERVABLE)  # reported once, not per attempt
    data = load(configPath)
    assert data["numStartups"] == 43
    assert data["mcpServers"]["search"] == http(url9100("search"))
    assert stray(home) == []


def test_a_writer_that_never_stops_makes_adopt_fail_cleanly(
    configPath: Path, stateDir: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = interfere(monkeypatch, configPath, times=None)
    with pytest.raises(ConcurrentWriteError):
        make(configPath, stateDir, home).adopt(url9100)
    assert len(writes) == 6
    expected = original()
    expected["numStartups"] = 48
    assert configPath.read_text(encoding="utf-8") == stringify(expected)
    assert stray(home) == []
    monkeypatch.undo()
    # The backup written ahead holds nothing that was rewritten: restore is a no-op.
    report = make(configPath, stateDir, home).restore()
    assert report.restored == [] and report.kept == []
    assert configPath.read_text(encoding="utf-8") == stringify(expected)
    assert not hasBackup(stateDir, configPath)


def test_a_concurrent_write_during_restore_is_not_lost(
    configPath: Path, stateDir: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(configPath, stateDir, home).adopt(url9100)
    interfere(monkeypatch, configPath, times=2)
    report = make(configPath, stateDir, home).restore()
    assert len(report.restored) == len(SERVABLE)
    data = load(configPath)
    assert data["numStartups"] == 44
    assert data["mcpServers"] == original()["mcpServers"]


# -- bad input ------------------------------------------------------------------------------


def test_invalid_json_is_refused_with_its_position(home: Path, stateDir: Path) -> None:
    path = home / ".claude.json"
    text = '{\n  "numStartups": 1,\n  "mcpServers": {"a": {"command": "x"},}\n}'
    path.write_text(text)
    config = make(path, stateDir, home)
    for call in (
        lambda: config.adopt(url9100),
        lambda: config.sync(url9100),
        config.servedDocument,
    ):
        with pytest.raises(ConfigError, match=r"line 3 column \d+") as caught:
            call()
        assert str(path) in str(caught.value)
    assert path.read_text() == text
    assert list(stateDir.iterdir()) == []


def test_nan_and_non_utf8_are_refused_with_their_position(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"a": "NaN",\n "b": NaN}')
    with pytest.raises(ConfigError, match="line 2 column 7"):
        readJson(path)
    path.write_bytes(b'{"a":\n "\xff"}')
    with pytest.raises(ConfigError, match=r"not UTF-8.*line 2 column 3"):
        readJson(path)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        readJson(path)
    with pytest.raises(ConfigError, match="cannot read"):
        readJson(tmp_path / "missing.json")


def test_a_corrupt_or_foreign_backup_is_never_overwritten(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    backupPath = stateDir / "config-backup.json"
    backupPath.write_text("{not json")
    before = configPath.read_bytes()
    config = make(configPath, stateDir, home)
    with pytest.raises(ConfigError):
        config.adopt(url9100)
    with pytest.raises(ConfigError):
        config.restore()
    assert backupPath.read_text() == "{not json"
    assert configPath.read_bytes() == before

    backupPath.write_text(
        json.dumps({"version": 1, "configPath": "/elsewhere/.claude.json", "mcpServers": {}})
    )
    with pytest.raises(ConfigError, match=re.escape("/elsewhere/.claude.json")):
        config.adopt(url9100)
    assert configPath.read_bytes() == before


# -- the watcher: hot add and hot remove -------------------------------------------------------


def test_sync_adopts_an_entry_added_later(configPath: Path, stateDir: Path, home: Path) -> None:
    config = make(configPath, stateDir, home)
    config.adopt(url9100)
    data = load(configPath)  # `claude mcp add --scope user fresh -- fresh-mcp`
    data["mcpServers"]["fresh"] = {"type": "stdio", "command": "fresh-mcp", "args": [], "env": {}}
    # `claude mcp add private -- private-mcp` in proj-b: that project's own
    data["projects"][PROJ_B]["mcpServers"]["private"] = {"command": "private-mcp"}
    configPath.write_text(stringify(data), encoding="utf-8")

    # Served at once, before the rewrite.
    assert config.servedDocument()["mcpServers"]["fresh"]["command"] == "fresh-mcp"
    report = config.sync(url9100)
    assert report.adopted == ["fresh (user scope)", f"private (local scope of project {PROJ_B})"]
    assert report.changed
    after = load(configPath)
    assert after["mcpServers"]["fresh"] == http(url9100("fresh"))
    assert after["projects"][PROJ_B]["mcpServers"]["private"] == http(url9100("private", PROJ_B))
    document = config.servedDocument()
    assert document["projects"][PROJ_B]["mcpServers"]["private"] == {"command": "private-mcp"}
    served = parseConfig(document, "c", ENV, "user")
    assert served.servers["fresh"].command == "fresh-mcp"
    saved = claudeBackupView(stateDir / "config-backup.json")
    assert "fresh" in saved["mcpServers"]
    assert saved["projects"][PROJ_B]["mcpServers"]["private"]["original"] == {
        "command": "private-mcp"
    }
    assert not config.sync(url9100).changed


def test_sync_drops_an_entry_the_user_removed(configPath: Path, stateDir: Path, home: Path) -> None:
    config = make(configPath, stateDir, home)
    config.adopt(url9100)
    data = load(configPath)  # `claude mcp remove typed`
    del data["mcpServers"]["typed"]
    configPath.write_text(stringify(data), encoding="utf-8")
    before = configPath.read_bytes()

    report = config.sync(url9100)
    assert report.removed == ["typed (user scope)"] and report.adopted == []
    assert configPath.read_bytes() == before  # nothing to write in the config
    assert "typed" not in config.servedDocument()["mcpServers"]
    assert "typed" not in claudeBackupView(stateDir / "config-backup.json")["mcpServers"]
    assert "typed" not in parseConfig(config.servedDocument(), "c", ENV, "user").servers


def test_sync_follows_an_entry_the_user_replaced_with_another_stdio_server(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    config = make(configPath, stateDir, home)
    config.adopt(url9100)
    data = load(configPath)
    data["mcpServers"]["typed"] = {"command": "typed-mcp", "args": ["--v2"]}
    configPath.write_text(stringify(data), encoding="utf-8")
    report = config.sync(url9100)
    assert report.removed == ["typed (user scope)"]
    assert report.adopted == ["typed (user scope)"]
    record = claudeBackupView(stateDir / "config-backup.json")["mcpServers"]["typed"]
    assert record["original"] == {"command": "typed-mcp", "args": ["--v2"]}


def test_sync_gives_back_an_entry_the_gateway_can_no_longer_serve(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    data = load(configPath)
    data["mcpServers"]["keyed"] = {"command": "k", "env": {"KEY": "${API_KEY}"}}
    configPath.write_text(stringify(data), encoding="utf-8")
    make(configPath, stateDir, home, environ={"API_KEY": "s3cret"}).adopt(url9100)
    assert load(configPath)["mcpServers"]["keyed"] == http(url9100("keyed"))

    report = make(configPath, stateDir, home, environ={}).adopt(url9100)
    assert report.removed == ["keyed (user scope)"]
    assert any("${API_KEY}" in n for n in report.notes)
    assert load(configPath)["mcpServers"]["keyed"] == {"command": "k", "env": {"KEY": "${API_KEY}"}}


# -- one name, several scopes -----------------------------------------------------------------


def test_a_name_with_different_specs_in_two_scopes_is_adopted_in_each(
    home: Path, stateDir: Path
) -> None:
    """Was: the differing project entry was left as plain stdio with
    a clash note: each entry is adopted, the differing one at its
    workspace's route; nothing is noted, restore gives everything back."""
    path = home / ".claude.json"
    shared = {"command": "x-mcp", "args": ["a"]}
    doc = {
        "mcpServers": {"x": dict(shared)},
        "projects": {
            "/p/one": {"mcpServers": {"x": dict(shared)}},
            "/p/two": {"mcpServers": {"x": {"command": "x-mcp", "args": ["b"]}}},
        },
    }
    path.write_text(stringify(doc))
    config = make(path, stateDir, home)

    report = config.adopt(url9100)
    assert report.adopted == [
        "x (user scope)",
        "x (local scope of project /p/one)",
        "x (local scope of project /p/two)",
    ]
    assert report.notes == []
    data = load(path)
    assert data["mcpServers"]["x"] == http(url9100("x"))
    assert data["projects"]["/p/one"]["mcpServers"]["x"] == http(url9100("x"))
    assert data["projects"]["/p/two"]["mcpServers"]["x"] == http(url9100("x", "/p/two"))
    served = config.servedDocument()
    assert served["projects"]["/p/two"]["mcpServers"]["x"]["args"] == ["b"]
    assert served["projects"]["/p/one"]["mcpServers"]["x"] == shared
    assert config.loadServed().servers["x"].args == ("a",)
    assert not config.sync(url9100).changed

    config.restore()
    assert load(path) | {GATEWAY_TS_KEY: 0} == doc | {GATEWAY_TS_KEY: 0}


def test_a_project_entry_follows_the_user_scope_between_routes(home: Path, stateDir: Path) -> None:
    """Was: the user scope's spec won and other projects' entries
    stayed stdio: a project's entry is at the global route exactly while it
    is the same server as the user scope's, else at its workspace's route."""
    path = home / ".claude.json"
    path.write_text(stringify({"projects": {"/p/b": {"mcpServers": {"x": {"command": "b"}}}}}))
    config = make(path, stateDir, home)
    assert config.adopt(url9100).adopted == ["x (local scope of project /p/b)"]
    assert load(path)["projects"]["/p/b"]["mcpServers"]["x"] == http(url9100("x", "/p/b"))

    data = load(path)  # the user scope gets an 'x', and a project the same one
    data["mcpServers"] = {"x": {"command": "u"}}
    data["projects"]["/p/a"] = {"mcpServers": {"x": {"command": "u"}}}
    path.write_text(stringify(data))
    report = config.sync(url9100)
    assert report.adopted == ["x (user scope)", "x (local scope of project /p/a)"]
    assert report.notes == []
    data = load(path)
    assert data["projects"]["/p/a"]["mcpServers"]["x"] == http(url9100("x"))
    assert data["projects"]["/p/b"]["mcpServers"]["x"] == http(url9100("x", "/p/b"))
    assert config.loadServed().servers["x"].command == "u"

    data["mcpServers"]["x"] = {"command": "b"}  # the user scope's 'x' is now /p/b's
    path.write_text(stringify(data))
    report = config.sync(url9100)
    assert report.removed == report.adopted == ["x (user scope)"]
    moved = [
        f"x (local scope of project /p/a): now at {url9100('x', '/p/a')} (was {url9100('x')})",
        f"x (local scope of project /p/b): now at {url9100('x')} (was {url9100('x', '/p/b')})",
    ]
    assert sorted(n for n in report.notes if "now at" in n) == moved
    data = load(path)
    assert data["projects"]["/p/a"]["mcpServers"]["x"] == http(url9100("x", "/p/a"))
    assert data["projects"]["/p/b"]["mcpServers"]["x"] == http(url9100("x"))
    config.restore()
    data = load(path)
    assert data["mcpServers"]["x"] == {"command": "b"}
    assert data["projects"]["/p/a"]["mcpServers"]["x"] == {"command": "u"}
    assert data["projects"]["/p/b"]["mcpServers"]["x"] == {"command": "b"}


def test_a_project_path_that_names_no_workspace_is_left_alone(home: Path, stateDir: Path) -> None:
    """A project key that is not an absolute path has no workspace key: its
    entries stay as they are (said once), the rest is adopted."""
    path = home / ".claude.json"
    doc = {
        "mcpServers": {"x": {"command": "u"}},
        "projects": {
            "relative/p": {"mcpServers": {"x": {"command": "r"}, "y": {"command": "u"}}},
            "/p/nul\0": {"mcpServers": {"z": {"command": "z"}}},
        },
    }
    path.write_text(stringify(doc))
    config = make(path, stateDir, home)
    report = config.adopt(url9100)
    assert report.adopted == ["x (user scope)"]
    assert len(report.notes) == 3
    assert all("cannot name a workspace" in n and "left as it is" in n for n in report.notes)
    assert load(path)["projects"] == doc["projects"]
    assert config.sync(url9100).notes == []  # said once


# -- paths -------------------------------------------------------------------------------------


def test_a_config_outside_home_and_state_dir_is_refused(
    tmp_path: Path, home: Path, stateDir: Path
) -> None:
    outside = tmp_path / "elsewhere" / ".claude.json"
    outside.parent.mkdir()
    outside.write_text("{}")
    with pytest.raises(ValueError, match="outside"):
        ClaudeConfig(outside, stateDir, home=home)
    with pytest.raises(ValueError):
        ClaudeConfig(home / ".." / "elsewhere" / ".claude.json", stateDir, home=home)
    link = home / ".claude.json"
    link.symlink_to(outside)
    with pytest.raises(ValueError, match="resolved"):
        ClaudeConfig(link, stateDir, home=home)
    inState = stateDir / "gateway.json"
    inState.write_text("{}")
    ClaudeConfig(inState, stateDir, home=tmp_path / "nohome")  # in the state dir: fine


def test_a_symlinked_config_stays_a_symlink(home: Path, stateDir: Path) -> None:
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "claude.json"
    target.write_text(stringify(original()))
    link = home / ".claude.json"
    link.symlink_to(target)
    make(link, stateDir, home).adopt(url9100)
    assert link.is_symlink()
    assert load(target)["mcpServers"]["search"] == http(url9100("search"))
    assert stray(dotfiles) == [] and stray(home) == []


def test_project_backup_names_are_safe(home: Path, stateDir: Path) -> None:
    odd = home / "a b" / "..;rm -rf ~" / "x\n$(y)" / ".." / "proj é" / ".mcp.json"
    path = backupPathFor(stateDir, odd)
    assert path.parent == stateDir / "project-backups"
    assert re.fullmatch(r"[A-Za-z0-9_-]+-[0-9a-f]{16}\.json", path.name)
    assert path.name.startswith("proj_")
    other = backupPathFor(stateDir, home / "other" / "proj é" / ".mcp.json")
    assert other != path  # same label, another path: another file
    assert backupPathFor(stateDir, odd) == path  # stable
    assert backupPathFor(stateDir, home / ".claude.json") == stateDir / "config-backup.json"

    project = home / "a b" / "proj é"
    project.mkdir(parents=True)
    config = project / "gateway.json"
    config.write_text(stringify({"mcpServers": {"s": {"command": "s"}}}))
    claudeConfig = make(home / "a b" / "x" / ".." / "proj é" / "gateway.json", stateDir, home)
    claudeConfig.adopt(url9100)
    assert claudeConfig.backupPath.is_file()
    assert claudeConfig.backupPath.parent == stateDir / "project-backups"
    assert stat.S_IMODE(claudeConfig.backupPath.parent.stat().st_mode) == 0o700


# -- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{\n  "a": [],\n  "b": {},\n  "c": "é"\n}',  # JSON.stringify(o, null, 2)
        '{\n    "a": [],\n    "b": {},\n    "c": "é"\n}\n',  # 4 spaces, newline
        '{\n\t"a": [],\n\t"b": {},\n\t"c": "é"\n}\n',  # tabs
        '{"a":[],"b":{},"c":"é"}',  # JSON.stringify(o)
        '{"a": [], "b": {}, "c": "é"}\n',  # json.dumps(o)
        '{\n  "a": [],\n  "b": {},\n  "c": "\\u00e9"\n}',  # ASCII-escaped
        '{\r\n  "a": [],\r\n  "b": {},\r\n  "c": "é"\r\n}\r\n',  # CRLF
        '{\n  "a": [],\n  "b": {},\n  "c": "\\ud800 \\u001b"\n}',  # lone surrogate, control
    ],
)
def test_update_json_writes_in_the_original_format(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(text.encode())
    data, _ = readJson(path)
    fmt = JsonFormat.detect(text, data)
    assert fmt.dumps(data) == text  # reproduced exactly

    def mutate(d: dict[str, Any]) -> bool:
        d["z"] = 1
        return True

    updateJson(path, mutate)
    written = path.read_bytes().decode()
    expected = copy.deepcopy(data)
    expected["z"] = 1
    assert written == fmt.dumps(expected)
    assert json.loads(written) == expected


def test_a_hand_formatted_file_keeps_its_indent_and_newline(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{\n   "a": [1,\n  2],  "b": 1\n}\n')
    updateJson(path, lambda d: d.update(b=2) is None)
    # Only the changed value moves: the rest keeps its layout.
    assert path.read_text() == '{\n   "a": [1,\n  2],  "b": 2\n}\n'
