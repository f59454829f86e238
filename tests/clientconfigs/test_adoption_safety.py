"""The user's config never lost: the one backup reader (inspectBackup), kept
backups and the stale copy a client writes back after a restore, entries
stranded without a backup, leftovers of killed writes, a restore that fails at
stop, and a reload a busy writer cannot starve.

Every file lives under C{tmp_path} (the fake home, also C{$HOME}); time is a
L{Clock}; nothing sleeps."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import maybeDeferred, succeed
from twisted.internet.task import Clock
from twisted.logger import LogLevel

from mcpgateway.clientconfigs import jsonfile as atomic
from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.claude import (
    GATEWAY_TS_KEY,
    KEPT_GENERATIONS,
    ClaudeConfig,
    backupPathFor,
    hasBackup,
    inspectBackup,
    keptBackupPaths,
    readRestoreFailure,
    recordRestoreFailure,
    restoreFailurePath,
)
from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.servers import ConfigError, LoadedConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime import atomicfile
from tests.clientconfigs.adoptkit import claudeBackupView, load
from tests.fakes import capturedGatewayLogs

ENV: dict[str, str] = {"PATH": ""}
NOW = 1_700_000_000.0
PROJ = "/home/u/proj"


def stringify(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def original() -> dict[str, Any]:
    return {
        "numStartups": 7,
        "mcpServers": {
            "search": {"command": "search-mcp", "args": ["--fast"]},
            "typed": {"type": "stdio", "command": "typed-mcp", "args": [], "env": {"K": "v"}},
            "remote": {"type": "http", "url": "https://example.com/mcp"},
        },
        GATEWAY_TS_KEY: 1,
        "projects": {
            PROJ: {
                "allowedTools": [],
                "mcpServers": {
                    "search": {"command": "search-mcp", "args": ["--fast"]},
                    "private": {"command": "private-mcp"},
                },
            }
        },
    }


@pytest.fixture
def configPath(home: Path) -> Path:
    path = home / ".claude.json"
    path.write_text(stringify(original()), encoding="utf-8")
    return path


def make(configPath: Path, stateDir: Path, home: Path, **kw: Any) -> ClaudeConfig:
    kw.setdefault("environ", ENV)
    kw.setdefault("now", lambda: NOW)
    return ClaudeConfig(configPath, stateDir, home=home, **kw)


PROJ_KEY = "abcdefghijklmnop"
"""A stand-in for PROJ's workspace key (the real ones: test_scopes_adoption.py)."""


def url(port: int) -> Callable[..., str]:
    def urlFor(name: str, workspace: str | None = None) -> str:
        route = name if workspace is None else f"{name}~{PROJ_KEY}"
        return f"http://127.0.0.1:{port}/{route}/mcp"

    return urlFor


def gateway(configPath: Path, stateDir: Path) -> AdoptedClaudeConfig:
    """A source as tap.py builds it for --rewrite-config."""
    return AdoptedClaudeConfig(configPath, stateDir, "127.0.0.1", environ=ENV)


# -- inspectBackup: the one reader for doctor and restore ----------------------------------


def test_inspect_backup_counts_what_restore_would_restore(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    assert inspectBackup(stateDir, configPath) is None
    make(configPath, stateDir, home).adopt(url(9100))
    assert inspectBackup(stateDir, configPath) == 4  # search, typed; search, private in PROJ
    backup = backupPathFor(stateDir, configPath)
    backup.write_text('{"version": 1, "configPath": "/elsewhere/.claude.json"}')
    with pytest.raises(ConfigError, match=re.escape("/elsewhere/.claude.json")) as caught:
        inspectBackup(stateDir, configPath)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError) as restoreError:
        make(configPath, stateDir, home).restore()
    assert str(restoreError.value) == str(caught.value)  # the same parser, the same reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def nearlyBackups(configPath: str) -> st.SearchStrategy[Any]:
    """Backups that are almost right: every field of the format, each maybe wrong."""
    record = st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                "url": st.one_of(st.just("http://127.0.0.1:1/x/mcp"), JSON),
                "original": st.one_of(st.just({"command": "x"}), JSON),
            }
        ),
    )
    block = st.one_of(JSON, st.dictionaries(st.sampled_from(["x", "y"]), record, max_size=2))
    return st.fixed_dictionaries(
        {
            "version": st.one_of(st.just(1), JSON),
            "configPath": st.one_of(st.just(configPath), JSON),
        },
        optional={
            "mcpServers": block,
            "timestampAdded": JSON,
            "timestampBefore": JSON,
            "projects": st.one_of(
                JSON,
                st.dictionaries(
                    st.just(PROJ),
                    st.one_of(JSON, st.fixed_dictionaries({}, optional={"mcpServers": block})),
                    max_size=1,
                ),
            ),
        },
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_inspect_backup_rejects_exactly_what_restore_rejects(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        stateDir = home / "state"
        stateDir.mkdir()
        configPath = home / ".claude.json"
        configPath.write_text(stringify(original()))
        document = data.draw(st.one_of(nearlyBackups(os.path.realpath(configPath)), JSON))
        raw = json.dumps(document)
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(0, len(raw)))]  # caught half-written
        backupPathFor(stateDir, configPath).write_text(raw)
        try:
            count = inspectBackup(stateDir, configPath)
        except ConfigError as e:
            assert "\n" not in str(e)
            with pytest.raises(ConfigError):
                make(configPath, stateDir, home).restore()
        else:
            assert isinstance(count, int) and count >= 0
            make(configPath, stateDir, home).restore()  # restore accepts it too


# -- 20.11: a client writes back its stale copy after the restore -------------------------


def test_a_stale_copy_written_back_after_stop_is_restored_at_the_next_start(
    configPath: Path, stateDir: Path
) -> None:
    """Adopt; a client reads the file; stop (restore); the client
    writes its copy back; start again: the originals are served and the file
    is given back as it was."""
    before = configPath.read_bytes()
    first = gateway(configPath, stateDir)
    assert sorted(first.load().servers) == ["search", "typed"]
    first.listening(9100)
    stale = configPath.read_bytes()  # Claude Code read the file while it was adopted
    assert load(configPath)["mcpServers"]["search"]["type"] == "http"
    first.stopping()
    assert configPath.read_bytes() == before
    assert not hasBackup(stateDir, configPath)  # `mcpgateway stop` sees a complete restore
    configPath.write_bytes(stale)  # ... and writes its copy back

    second = gateway(configPath, stateDir)
    loaded = second.load()
    assert sorted(loaded.servers) == ["search", "typed"]
    assert loaded.servers["search"].command == "search-mcp"
    assert configPath.read_bytes() == before  # restored before adopting again
    assert any("pointed at a stopped gateway" in w for w in loaded.warnings)
    assert loaded.errors == []
    second.listening(9100)
    assert load(configPath)["mcpServers"]["search"] == {
        "type": "http",
        "url": "http://127.0.0.1:9100/search/mcp",
    }
    second.stopping()
    assert configPath.read_bytes() == before


def test_mcpgateway_restore_puts_back_a_stale_copy(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    before = configPath.read_bytes()
    config = make(configPath, stateDir, home)
    config.adopt(url(9100))
    stale = configPath.read_bytes()
    config.restore()
    configPath.write_bytes(stale)
    report = make(configPath, stateDir, home).restore()  # what the CLI's restore calls
    assert (
        sorted(report.revived)
        == sorted(report.restored)
        == [
            f"private (local scope of project {PROJ})",
            f"search (local scope of project {PROJ})",
            "search (user scope)",
            "typed (user scope)",
        ]
    )
    assert configPath.read_bytes() == before
    again = make(configPath, stateDir, home).restore()
    assert again.restored == [] and again.kept == []  # nothing more to do, nothing written


def test_a_stale_copy_of_another_port_is_adopted_again_while_running(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    first = make(configPath, stateDir, home)
    first.adopt(url(9100))
    stale = configPath.read_bytes()
    first.restore()
    running = make(configPath, stateDir, home)
    running.adopt(url(9200))  # the next gateway, on another port
    configPath.write_bytes(stale)  # a client writes back a copy from the first run
    assert running.loadServed().servers["typed"].command == "typed-mcp"  # served at once
    report = running.sync(url(9200))
    assert "typed (user scope)" in report.adopted
    assert load(configPath)["mcpServers"]["typed"] == {
        "type": "http",
        "url": "http://127.0.0.1:9200/typed/mcp",
    }
    running.restore()
    assert load(configPath)["mcpServers"] == original()["mcpServers"]


def test_backups_are_kept_in_rotated_generations(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    config = make(configPath, stateDir, home)
    kept = keptBackupPaths(stateDir, configPath)
    assert [p.name for p in kept] == [
        f"config-backup.json.{n}" for n in range(1, KEPT_GENERATIONS + 1)
    ]
    for _ in range(3):  # the same adoption again and again: one copy, not three
        config.adopt(url(9100))
        config.restore()
    assert [p.exists() for p in kept] == [True, False, False]
    for port in (9201, 9202, 9203, 9204):
        config.adopt(url(port))
        config.restore()
    assert [p.exists() for p in kept] == [True, True, True]
    assert not kept[0].with_name("config-backup.json.4").exists()
    urls = [claudeBackupView(p)["mcpServers"]["typed"]["url"] for p in kept]
    assert urls == [url(port)("typed") for port in (9204, 9203, 9202)]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in kept)


def test_an_entry_pointing_at_a_gateway_without_a_backup_is_an_error(
    configPath: Path, stateDir: Path
) -> None:
    data = original()
    data["mcpServers"]["lost"] = {"type": "http", "url": "http://127.0.0.1:9100/lost/mcp"}
    data["mcpServers"]["api"] = {"type": "http", "url": "http://127.0.0.1:8080/v1/mcp"}
    data["mcpServers"]["hosted"] = {"type": "http", "url": "https://example.com/lost/mcp"}
    configPath.write_text(stringify(data))
    source = gateway(configPath, stateDir)
    loaded = source.load()
    assert len(loaded.errors) == 1
    error = loaded.errors[0]
    assert "lost (user scope) -> http://127.0.0.1:9100/lost/mcp" in error
    assert "api" not in error and "hosted" not in error
    assert "claude mcp add" in error and "mcpgateway restore --state-dir" in error
    assert sorted(loaded.servers) == ["search", "typed"]  # the others are served

    service = ConfigService(
        source, stateDir, Clock(), None, lambda f: succeed(f()), lambda specs: None
    )
    with capturedGatewayLogs() as events:
        service.specs(loaded)
    errors = [e for e in events if e["log_level"] == LogLevel.error]
    assert [e["error"] for e in errors] == [error]


# -- scopes on the adopted path -----------------------------------------------------------


def test_a_project_only_server_is_adopted_at_its_workspace_route(
    configPath: Path, stateDir: Path
) -> None:
    """Was 10.3's "neither adopted nor served": a project's own
    server is adopted at that project's workspace route, never at the global
    one; what the gateway is given for it is the original at its project."""
    source = gateway(configPath, stateDir)
    source.load()
    source.listening(9100)
    key = WorkspaceKeys.forStateDir(stateDir).key(PROJ)
    assert load(configPath)["projects"][PROJ]["mcpServers"]["private"] == {
        "type": "http",
        "url": f"http://127.0.0.1:9100/private~{key}/mcp",
    }
    assert load(configPath)["projects"][PROJ]["mcpServers"]["search"] == {
        "type": "http",
        "url": "http://127.0.0.1:9100/search/mcp",
    }
    served = source._claude.servedDocument()
    assert served["projects"][PROJ]["mcpServers"] == original()["projects"][PROJ]["mcpServers"]
    source.stopping()
    assert load(configPath) == original()


# -- 20.13: leftovers of a write killed by kill -9 --------------------------------------------


def leftover(path: Path, age: float) -> Path:
    """A temp file exactly as the writer leaves it when killed before its rename."""
    name = atomicfile.writeTemp(path, b'{"half": ', 0o600, None)
    os.utime(name, (NOW - age, NOW - age))
    return Path(name)


def test_leftovers_of_killed_writes_are_removed_and_nothing_else(
    configPath: Path, stateDir: Path, home: Path
) -> None:
    old = leftover(configPath, 100)
    oldBackup = leftover(backupPathFor(stateDir, configPath), 100)
    fresh = leftover(configPath, 1)  # a write in progress, maybe another gateway's
    others = [
        home / name
        for name in (
            ".claude.json.tmp",
            ".claude.json.ABCD1234.tmp",
            ".claude.json.abcd12345.tmp",
            "claude.json.abcd1234.tmp",
            ".claude.json.abcd1234.tmp.bak",
            ".other.abcd1234.tmp",
        )
    ]
    for path in others:
        path.write_text("theirs")
        os.utime(path, (NOW - 100, NOW - 100))
    directory = home / ".claude.json.dir12345.tmp"
    directory.mkdir()
    link = home / ".claude.json.link1234.tmp"
    link.symlink_to(configPath)
    os.utime(link, (NOW - 100, NOW - 100), follow_symlinks=False)

    notes = make(configPath, stateDir, home).removeLeftovers()
    assert sorted(notes) == sorted(
        f"removed {p}, left by an interrupted write" for p in (old, oldBackup)
    )
    assert not old.exists() and not oldBackup.exists()
    assert fresh.exists() and directory.is_dir() and link.is_symlink()
    assert all(p.read_text() == "theirs" for p in others)


def test_a_start_removes_the_leftovers(configPath: Path, stateDir: Path) -> None:
    old = leftover(configPath, 100)  # written "in 2023": long untouched
    loaded = gateway(configPath, stateDir).load()
    assert not old.exists()
    assert any(str(old) in w for w in loaded.warnings)


# -- 20.12: a restore that fails at stop -------------------------------------------------------


class Clocked:
    """A ConfigService over C{source} with a Clock, loads run inline."""

    def __init__(self, source: Any, stateDir: Path, **kw: Any) -> None:
        self.clock = Clock()
        self.reloads: list[dict[str, ServerSpec]] = []
        self.service = ConfigService(
            source,
            stateDir,
            self.clock,
            None,
            lambda f, *a: maybeDeferred(f, *a),
            self.reloads.append,
            ConfigSettings(**kw),
        )


def test_a_restore_caught_half_written_is_retried_and_succeeds(
    configPath: Path, stateDir: Path
) -> None:
    source = gateway(configPath, stateDir)
    source.load()
    source.listening(9100)
    adopted = configPath.read_text()
    configPath.write_text(adopted[:40])  # another writer is half-way through
    run = Clocked(source, stateDir)
    with capturedGatewayLogs() as events:
        stopped: list[Any] = []
        run.service.stopService().addBoth(stopped.append)
        assert stopped == []
        run.clock.advance(0.2)
        configPath.write_text(adopted)  # ... and done
        run.clock.advance(0.5)
    assert stopped == [None]
    assert load(configPath)["mcpServers"] == original()["mcpServers"]
    warnings = [e for e in events if e["log_level"] == LogLevel.warn]
    assert len(warnings) == 2 and all(str(configPath) in e["path"] for e in warnings)
    assert [e for e in events if e["log_level"] == LogLevel.error] == []
    assert readRestoreFailure(stateDir) is None


def test_a_restore_that_keeps_failing_is_an_error_with_a_marker(
    configPath: Path, stateDir: Path
) -> None:
    source = gateway(configPath, stateDir)
    source.load()
    source.listening(9100)
    configPath.write_text('{"numStartups": 7, "mcpServers": {')  # never finished
    run = Clocked(source, stateDir)
    with capturedGatewayLogs() as events:
        stopped: list[Any] = []
        run.service.stopService().addBoth(stopped.append)
        for delay in (0.2, 0.5):
            run.clock.advance(delay)
            assert stopped == []  # the reactor runs between attempts
        run.clock.advance(1.0)
    assert stopped == [None]
    errors = [e for e in events if e["log_level"] == LogLevel.error]
    assert len(errors) == 1
    assert errors[0]["path"] == str(configPath)
    assert "is not valid JSON" in errors[0]["why"] and errors[0]["attempts"] == 4
    marker = readRestoreFailure(stateDir)
    assert marker is not None
    assert marker["config"] == str(configPath) and "is not valid JSON" in marker["error"]
    assert hasBackup(stateDir, configPath)  # the originals are still there

    # `mcpgateway restore` once the file is whole again: restored, marker gone.
    data = original()
    for name in ("search", "typed"):
        data["mcpServers"][name] = {"type": "http", "url": url(9100)(name)}
    configPath.write_text(stringify(data))
    ClaudeConfig(configPath, stateDir, environ=ENV).restore()
    assert load(configPath)["mcpServers"] == original()["mcpServers"]
    assert not restoreFailurePath(stateDir).exists()


def test_the_marker_of_another_config_stays(configPath: Path, stateDir: Path, home: Path) -> None:
    recordRestoreFailure(stateDir, home / "other.json", "why", now=lambda: NOW)
    make(configPath, stateDir, home).restore()
    assert readRestoreFailure(stateDir) == {
        "config": str(home / "other.json"),
        "error": "why",
        "time": NOW,
    }


def test_an_adoption_that_fails_at_listening_is_logged_and_retried(
    configPath: Path, stateDir: Path
) -> None:
    source = gateway(configPath, stateDir)
    source.load()
    good = configPath.read_text()
    configPath.write_text(good[:30])
    run = Clocked(source, stateDir)
    with capturedGatewayLogs() as events:
        run.service.listening(9100)
        configPath.write_text(good)
        run.clock.advance(0.3)
    assert [e["path"] for e in events if e["log_level"] == LogLevel.error] == [str(configPath)]
    assert load(configPath)["mcpServers"]["typed"]["type"] == "http"  # adopted by the retry
    assert sorted(run.reloads[-1]) == ["private", "search", "typed"]  # PROJ's too


# -- 20.9: a busy writer cannot starve the reload ------------------------------------------------


class CountingSource:
    path = Path("/nonexistent/servers.json")

    def __init__(self) -> None:
        self.loads: list[float] = []
        self.clock: Clock | None = None

    def load(self) -> LoadedConfig:
        assert self.clock is not None
        self.loads.append(self.clock.seconds())
        return LoadedConfig()

    def listening(self, port: int) -> list[str]:
        return []

    def stopping(self) -> list[str]:
        return []

    def restoreFailed(self, reason: str) -> None:
        pass


def test_a_file_rewritten_100_times_a_second_is_still_reloaded(tmp_path: Path) -> None:
    source = CountingSource()
    run = Clocked(source, tmp_path)
    source.clock = run.clock
    for _ in range(2000):  # 20 s of a rename every 10 ms
        run.service.changed()
        run.clock.advance(0.01)
    assert len(source.loads) >= 9
    assert source.loads[0] <= 2.0 + 1e-6
    gaps = [b - a for a, b in zip(source.loads, source.loads[1:], strict=False)]
    assert max(gaps) <= 2.0 + 0.02
    count = len(source.loads)
    run.clock.advance(0.3)  # the writer stopped: its last change is picked up too
    assert len(source.loads) == count + 1
    run.clock.advance(10)
    assert len(source.loads) == count + 1


def test_a_quiet_file_is_still_debounced(tmp_path: Path) -> None:
    source = CountingSource()
    run = Clocked(source, tmp_path)
    source.clock = run.clock
    for _ in range(5):  # one burst of events for one write
        run.service.changed()
        run.clock.advance(0.05)
    assert source.loads == []
    run.clock.advance(0.3)
    assert len(source.loads) == 1


def test_a_writer_that_never_pauses_does_not_stop_the_reload(
    configPath: Path, stateDir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the adopted path: when the rewrite keeps losing the race,
    the reload still serves what the file says (a new stdio entry as it is)."""
    source = gateway(configPath, stateDir)
    source.load()
    source.listening(9100)
    data = load(configPath)
    data["mcpServers"]["late"] = {"command": "late-mcp"}
    configPath.write_text(stringify(data))

    def busy(self: ClaudeConfig, urlFor: Any) -> Any:
        raise atomic.ConcurrentWriteError(f"{configPath} kept changing")

    monkeypatch.setattr(ClaudeConfig, "sync", busy)
    loaded = source.load()
    assert loaded.servers["late"].command == "late-mcp"
    assert loaded.servers["typed"].command == "typed-mcp"  # still from the backup
    assert any("kept changing" in w for w in loaded.warnings)
