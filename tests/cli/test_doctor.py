"""C{mcpgateway doctor}: each check (the gateway, its C{/health}, npx/uvx
resolution, refused server-to-client requests, the config backup, the Claude
config, the npx cache, the overrides, the log file), and the command's output."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli import main
from mcpgateway.cli.checks import Check, DoctorContext
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.doctor import DOCTOR_CHECKS, runChecks
from mcpgateway.cli.output import LEGEND
from mcpgateway.ops.gatewayprobe import probe
from mcpgateway.ops.statedir import STATE_FILE
from mcpgateway.runtime import portuse
from mcpgateway.runtime.paths import LOG_FILE, NPX_CACHE_FILE, OVERRIDES_FILE, USER_BACKUP
from tests.cli.support import (
    BROKEN,
    HEALTH,
    WITH_BROKEN,
    Cli,
    FakeGateway,
    Terminal,
    backupDocument,
    check,
    claudeJson,
    deadPid,
    freePort,
    writeBackup,
    writeState,
)

# -- doctor: gateway running --------------------------------------------------------


def test_gateway_check_passes_for_a_live_pid_holding_the_lock(
    stateDir: Path, running: FakeGateway
) -> None:
    result = check(stateDir, "gateway")
    assert result.status == "pass"
    assert result.message == f"Gateway running (PID {os.getpid()}, port {running.port})"


def test_gateway_check_fails_without_state(stateDir: Path) -> None:
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert "no state.json" in result.message
    assert result.fix == "run `mcpgateway start`"


def test_gateway_check_advises_another_port_where_another_account_listens(
    stateDir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After C{start} put the entries back because another account holds
    the port, doctor does not advise the start that account's listener
    refuses."""
    held = {9100: "uid 1002, bob"}
    monkeypatch.setattr(portuse, "foreignListener", lambda port, host="127.0.0.1": held.get(port))
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert result.fix == (
        "run `mcpgateway start --port PORT` with another port (another account's process"
        " (uid 1002, bob) listens on 9100)"
    )
    writeState(stateDir, deadPid(), 9100)
    stale = check(stateDir, "gateway")
    assert stale.fix is not None and stale.fix.endswith(
        "then `mcpgateway start --port PORT` with another port (another account's process"
        " (uid 1002, bob) listens on 9100)"
    )


def test_gateway_check_fails_on_a_stale_state_file(stateDir: Path) -> None:
    pid = deadPid()
    writeState(stateDir, pid, 9100)
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert f"pid {pid} is gone" in result.message
    assert result.fix is not None and "mcpgateway stop" in result.fix


def test_gateway_check_fails_for_a_recycled_pid_without_the_lock(
    stateDir: Path, ctx: CliContext
) -> None:
    ctx.probe = functools.partial(probe, isGatewayProcess=lambda pid: False)
    writeState(stateDir, os.getpid(), 9100)  # alive, but holds no lock
    result = check(stateDir, "gateway", ctx)
    assert result.status == "fail"
    assert "not the gateway" in result.message


def test_gateway_check_fails_on_an_unreadable_state_file(stateDir: Path) -> None:
    (stateDir / STATE_FILE).write_text("{not json")
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert "unreadable" in result.message


# -- doctor: health ------------------------------------------------------------------


def test_health_check_passes_with_counts_and_one_line_per_server(
    stateDir: Path, running: FakeGateway
) -> None:
    result = check(stateDir, "health")
    assert result.status == "pass"
    assert result.message == "Health endpoint OK — 3 servers, 3 children, 56 MB"
    assert result.details == (  # a /health of mode words only: read as the shares they mean
        "● context7 (global, 1 child, 142 reqs)",
        "◆ serena (session, 2 children, 89 reqs)",
        "● tavily (global, idle, 0 reqs)",
    )
    assert running.requests == ["/health"]


def test_health_check_marks_and_names_each_server_by_its_share(
    stateDir: Path, running: FakeGateway
) -> None:
    """A gateway that sends C{"share"} (and C{"mode"}, the older word, which
    says C{stateless} for workspace and credential too): the share counts."""
    line = HEALTH["servers"]["context7"]
    running.answers["/health"] = (
        200,
        {
            **HEALTH,
            "servers": {
                "a": {**line, "share": "global"},
                "b": {**line, "share": "workspace"},
                "c": {**line, "share": "credential", "children": 0},
                "d": {**HEALTH["servers"]["serena"], "share": "session"},
                "e": {**line, "share": "someday", "mode": "stateless"},
            },
        },
    )
    assert check(stateDir, "health").details == (
        "● a (global, 1 child, 142 reqs)",
        "◐ b (workspace, 1 child, 142 reqs)",
        "◔ c (credential, idle, 142 reqs)",
        "◆ d (session, 2 children, 89 reqs)",
        "? e (someday, 1 child, 142 reqs)",
    )


def test_health_check_fails_when_a_server_is_unavailable(
    stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/health"] = (200, WITH_BROKEN)
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.message == (
        "Health endpoint answers (4 servers, 3 children, 56 MB), but 1 is unavailable: broken"
    )
    assert "OK" not in result.message
    assert result.fix is not None and result.fix.startswith("install the command of broken")
    assert result.details[0] == (
        "● broken (global, unavailable: command 'nope' not found on PATH, 0 reqs)"
    )


CRASHING = {
    **BROKEN,
    "state": "error",
    "circuit": "open",
    "lastExit": "exit code 1",
    "error": "server 'exits' is failing: 5 failure(s) to start or stay up in the last 5"
    " minutes (last: exited with code 1); the gateway tries again in 42 s",
}


def test_health_check_fix_fits_each_unavailable_servers_reason(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    """A crash loop (circuit open, command installed)
    is not told to install its command; its fix is its log and a circuit
    reset. The missing commands keep theirs. The line says no OK."""
    missing = {**BROKEN, "circuit": "closed"}
    running.answers["/health"] = (
        200,
        {
            **HEALTH,
            "servers": {
                **HEALTH["servers"],
                "exits": CRASHING,
                "nocmd": missing,
                "nocmd2": {**missing, "error": "command '/nonexistent/bin/foo' not found"},
            },
        },
    )
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.message == (
        "Health endpoint answers (6 servers, 3 children, 56 MB), but 3 are unavailable:"
        " exits, nocmd, nocmd2"
    )
    assert result.fix is not None
    config = stateDir.parent / "home" / ".claude.json"
    assert result.fix == (
        f"install the command of nocmd, nocmd2 or fix their entries in {config};"
        " exits kept crashing (circuit open): `mcpgateway logs exits` shows why; fix that,"
        " then `mcpgateway servers reset-circuit exits`"
    )
    code, out, _ = cli("doctor")
    assert code == 1
    assert "✗ Health endpoint answers" in out and "Health endpoint OK" not in out


def test_health_check_crash_loops_alone_get_only_their_fix(
    stateDir: Path, running: FakeGateway
) -> None:
    servers = {f"c{i}": CRASHING for i in range(5)}
    running.answers["/health"] = (200, {**HEALTH, "servers": servers})
    result = check(stateDir, "health")
    assert result.fix is not None and "install" not in result.fix
    assert result.fix.startswith("c0, c1, c2, c3, c4 kept crashing (circuit open):")
    assert result.fix.endswith("`mcpgateway servers reset-circuit c2` (and the same for c3, c4)")


def test_health_check_other_reasons_point_at_the_log(stateDir: Path, running: FakeGateway) -> None:
    """A reason this CLI does not know (another gateway version): its own
    error is under it, and the fix points at its log, installing nothing."""
    odd = {**BROKEN, "circuit": "closed", "error": "server 'odd' is being replaced"}
    running.answers["/health"] = (200, {**HEALTH, "servers": {"odd": odd}})
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.fix == "odd: do as the error under each says; `mcpgateway logs odd` shows more"
    assert result.details == (
        "● odd (global, unavailable: server 'odd' is being replaced, 0 reqs)",
    )


EXITS_AT_START = {
    **HEALTH["servers"]["tavily"],
    "state": "stopped",
    "failures": 1,
    "circuit": "closed",
    "lastExit": "exited with code 3; last stderr: no API key",
}


def test_health_check_fails_on_a_server_that_exits_at_start(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    """A server whose child exited at its only start (no
    error, circuit closed, no child) is what /mcp calls not available: a
    failure with its exit and the way to its log, never "idle"."""
    running.answers["/health"] = (200, {**HEALTH, "servers": {"crash": EXITS_AT_START}})
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.message == (
        "Health endpoint answers (1 server, 0 children, 56 MB), but 1 is unavailable: crash"
    )
    assert result.details == (
        "● crash (global, fails at start: exited with code 3; last stderr: no API key, 0 reqs)",
    )
    assert result.fix == (
        "crash exited (see the line under each): `mcpgateway logs crash` shows why;"
        " fix that, and the next request starts it again"
    )
    code, out, _ = cli("doctor")
    assert code == 1
    assert "    → crash exited (see the line under each)" in out


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"lastExit": "was stopped by the gateway", "failures": 0}, "idle"),
        ({"lastExit": "was stopped by the gateway"}, "idle"),  # a failure long ago, then fine
        ({"failures": 0}, "idle"),
        ({"children": 1, "state": "running"}, "1 child"),
        ({"state": "starting"}, "idle"),
        ({"state": "disabled"}, "idle"),
    ],
)
def test_health_check_passes_a_server_whose_last_exit_was_no_failure(
    stateDir: Path, running: FakeGateway, change: dict[str, Any], shown: str
) -> None:
    running.answers["/health"] = (
        200,
        {**HEALTH, "servers": {"s": {**EXITS_AT_START, **change}}},
    )
    result = check(stateDir, "health")
    assert result.status == "pass"
    assert result.details == (f"● s (global, {shown}, 0 reqs)",)


def test_health_check_says_a_server_that_served_then_failed_stopped_by_it(
    stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/health"] = (
        200,
        {**HEALTH, "servers": {"s": {**EXITS_AT_START, "requests": 7}}},
    )
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.details == (
        "● s (global, stopped by a failure: exited with code 3; last stderr: no API key, 7 reqs)",
    )


def test_health_check_fails_when_nothing_answers(stateDir: Path, locked: None) -> None:
    writeState(stateDir, os.getpid(), freePort())
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert "no answer from http://127.0.0.1:" in result.message
    assert result.fix is not None and "gateway.log" in result.fix


def test_health_check_fails_when_another_process_answers(
    stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/health"] = (200, {**HEALTH, "pid": 1})
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert "is pid 1, not the gateway" in result.message


def test_health_check_fails_on_an_http_error(stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (500, {"error": "boom"})
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert "HTTP 500" in result.message


def test_health_check_is_skipped_when_the_gateway_is_not_running(stateDir: Path) -> None:
    assert check(stateDir, "health").status == "info"


def test_health_check_ignores_proxy_settings(
    stateDir: Path, running: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert check(stateDir, "health").status == "pass"


# -- doctor: config backup -----------------------------------------------------------


def test_backup_check_is_info_without_a_backup(stateDir: Path) -> None:
    assert check(stateDir, "backup").status == "info"


def test_backup_check_counts_the_servers_backed_up(stateDir: Path, home: Path) -> None:
    (stateDir / USER_BACKUP).write_text(json.dumps(backupDocument(home / ".claude.json")))
    result = check(stateDir, "backup")
    assert result == Check("pass", "Config backup valid (3 servers backed up)")


def without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


REJECTED_BACKUPS: list[tuple[Any, str]] = [
    # Each of these is refused by `mcpgateway restore`; the first two were
    # "Config backup valid" for doctor's own copy of the parser.
    (
        lambda doc: {**doc, "mcpServers": {"a": {"original": {"command": "a"}}}},
        "the record of 'a' has no 'url' and 'original'",
    ),
    (lambda doc: without(doc, "version"), "version None, expected 1"),
    (lambda doc: {**doc, "version": 2}, "version 2, expected 1"),
    (lambda doc: {**doc, "projects": []}, "'projects' is not an object"),
    (
        lambda doc: {**doc, "mcpServers": {"a": {"url": "x"}}},
        "the record of 'a' has no 'url' and 'original'",
    ),
    (lambda doc: '{"user": ', "is not valid JSON"),
    (lambda doc: [doc], "must hold a JSON object"),
]


@pytest.mark.parametrize(("change", "problem"), REJECTED_BACKUPS)
def test_a_backup_restore_rejects_makes_doctor_fail(
    stateDir: Path, home: Path, change: Any, problem: str, cli: Cli
) -> None:
    """doctor reads the backup with restore's own reader: whatever restore
    refuses, doctor fails on, with the same reason."""
    config = home / ".claude.json"
    config.write_text(
        json.dumps({"mcpServers": {"a": {"type": "http", "url": "http://127.0.0.1:9100/a/mcp"}}})
    )
    document = change(backupDocument(config))
    (stateDir / USER_BACKUP).write_text(
        document if isinstance(document, str) else json.dumps(document)
    )
    result = check(stateDir, "backup")
    assert result.status == "fail"
    assert problem in result.message
    assert result.fix is not None and "`mcpgateway restore` refuses it" in result.fix
    code, out, err = cli("restore")  # the real library, no fake
    assert (code, out) == (1, "")
    assert problem in err
    code, out, _ = cli("doctor", "--json")
    assert code == 1
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["backup"]["status"] == "fail" and problem in checks["backup"]["message"]


def test_backup_check_fails_on_the_backup_of_another_file(stateDir: Path, home: Path) -> None:
    (stateDir / USER_BACKUP).write_text(json.dumps(backupDocument(home / "elsewhere.json")))
    result = check(stateDir, "backup")
    assert result.status == "fail"
    assert f"mcpgateway restore --config {home / 'elsewhere.json'}" in result.message
    assert result.fix is not None


def test_claude_config_check_counts_every_scope(
    stateDir: Path, home: Path, running: FakeGateway
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    writeBackup(stateDir, home / ".claude.json")
    result = check(stateDir, "claudeConfig")
    assert result == Check("pass", "Claude config: 2 via gateway, 2 stdio, 3 other")


def test_claude_config_check_reads_the_config_named_in_the_state(
    stateDir: Path, tmp_path: Path, locked: None, fakeGateway: FakeGateway
) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"mcpServers": {"x": {"command": "x"}}}))
    writeState(stateDir, os.getpid(), fakeGateway.port, config=str(other))
    assert (
        check(stateDir, "claudeConfig").message
        == f"Config file {other}: 0 via gateway, 1 stdio, 0 other"
    )


def test_config_check_names_a_servers_file_by_its_path(
    stateDir: Path, tmp_path: Path, locked: None, fakeGateway: FakeGateway
) -> None:
    """Under C{--config servers.json} the file is no
    Claude config; a C{.claude.json} given with C{--config} still is."""
    servers = tmp_path / "servers.json"
    servers.write_text(json.dumps({"mcpServers": {f"s{i}": {"command": "x"} for i in range(7)}}))
    writeState(stateDir, os.getpid(), fakeGateway.port, config=str(servers))
    result = check(stateDir, "claudeConfig")
    assert result.message == f"Config file {servers}: 0 via gateway, 7 stdio, 0 other"
    servers.write_text("{")
    result = check(stateDir, "claudeConfig")
    assert result.message.startswith(f"Config file {servers} unreadable: ")
    assert result.fix == f"fix {servers} (the gateway cannot serve it)"
    servers.unlink()
    assert check(stateDir, "claudeConfig").message == f"No config file at {servers}"
    claude = tmp_path / "elsewhere" / ".claude.json"
    claude.parent.mkdir()
    claude.write_text(json.dumps({"mcpServers": {"x": {"command": "x"}}}))
    writeState(stateDir, os.getpid(), fakeGateway.port, config=str(claude))
    assert check(stateDir, "claudeConfig").message.startswith("Claude config: ")


def test_claude_config_check_is_info_without_a_config(stateDir: Path) -> None:
    assert check(stateDir, "claudeConfig").status == "info"


def test_claude_config_check_fails_on_invalid_json(stateDir: Path, home: Path) -> None:
    (home / ".claude.json").write_text("{")
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert "unreadable" in result.message


def test_claude_config_check_fails_when_entries_point_at_a_stopped_gateway(
    stateDir: Path, home: Path
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, home / ".claude.json")
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert "not running" in result.message
    assert "backup" not in result.message  # the backup is fine: start or restore
    assert result.fix is not None and "mcpgateway restore" in result.fix
    assert "mcpgateway start" in result.fix


LOST = "no usable backup holds their originals"


def test_claude_config_check_is_loud_when_no_backup_can_restore_a_stopped_gateways_entries(
    stateDir: Path, home: Path
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert result.message == (
        "Claude config: 2 via gateway, 2 stdio, 3 other; 2 entries point at"
        " http://127.0.0.1:9100, where the gateway is not running, and no usable backup holds"
        f" their originals (there is no {stateDir / USER_BACKUP}): `mcpgateway restore`"
        " cannot put them back"
    )
    assert result.fix is not None
    assert result.fix.startswith(
        "re-add a, c (project /work/p) with `claude mcp add NAME -- COMMAND [ARGS...]`"
    )
    assert str(home / ".claude.json") in result.fix


def test_claude_config_check_is_loud_when_the_backup_is_unusable(
    stateDir: Path, home: Path, running: FakeGateway
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    (stateDir / USER_BACKUP).write_text(
        json.dumps({**backupDocument(home / ".claude.json"), "version": 7})
    )
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert f"2 entries point at http://127.0.0.1:{running.port}, and {LOST}" in result.message
    assert "version 7, expected 1" in result.message
    assert result.fix is not None and "claude mcp add" in result.fix


def test_claude_config_check_passes_for_entries_a_non_adopting_gateway_serves(
    stateDir: Path, home: Path, locked: None, fakeGateway: FakeGateway
) -> None:
    writeState(stateDir, os.getpid(), fakeGateway.port, rewriteConfig=False)
    (home / ".claude.json").write_text(json.dumps(claudeJson(fakeGateway.port)))
    assert check(stateDir, "claudeConfig").status == "pass"  # the user's own entries


# -- doctor: npx cache ----------------------------------------------------------------


def test_npx_cache_check_is_info_without_a_cache(stateDir: Path) -> None:
    assert check(stateDir, "npxCache").status == "info"


def npxCache(entries: dict[str, list[str]], **extra: Any) -> str:
    """A cache as mcpgateway.config.resolve writes it."""
    return json.dumps(
        {
            "version": 1,
            "entries": {
                key: {"command": command, "resolvedAt": 1.0} for key, command in entries.items()
            },
            **extra,
        }
    )


def test_npx_cache_check_passes_when_every_path_exists(stateDir: Path, tmp_path: Path) -> None:
    script = tmp_path / "index.js"
    script.write_text("")
    (stateDir / NPX_CACHE_FILE).write_text(
        npxCache(
            {
                "npx:@upstash/context7-mcp": [sys.executable, str(script)],
                "uvx:some-tool": [sys.executable, "--flag"],
            }
        )
    )
    assert check(stateDir, "npxCache") == Check(
        "pass", "npx cache: 2 resolved path(s), all existing"
    )


def test_npx_cache_check_reports_stale_entries(stateDir: Path, tmp_path: Path) -> None:
    (stateDir / NPX_CACHE_FILE).write_text(
        npxCache({"npx:x": [sys.executable, str(tmp_path / "gone.js")], "npx:y": [sys.executable]})
    )
    result = check(stateDir, "npxCache")
    assert result.status == "info"  # the gateway resolves it again by itself
    assert result.message.startswith("npx cache: 2 resolved path(s), 1 stale (e.g. npx:x: ")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[", "not JSON"),
        ('{"version": 1}', "no 'entries' object"),
        # The gateway's reader refuses these (and ignores the cache); doctor's own
        # copy of the parser passed them.
        ('{"entries": {}}', "version None, expected 1"),
        (
            '{"version": 1, "entries": {"npx:x": {"command": ["/bin/node"]}}}',
            "'npx:x' has no 'resolvedAt'",
        ),
        (npxCache({}, version=2), "version 2, expected 1"),
        ('{"version": 1, "entries": {"npx:x": {"command": "node"}}}', "'npx:x' has no 'command'"),
    ],
)
def test_npx_cache_check_fails_on_a_broken_file(stateDir: Path, content: str, problem: str) -> None:
    (stateDir / NPX_CACHE_FILE).write_text(content)
    result = check(stateDir, "npxCache")
    assert result.status == "fail"
    assert problem in result.message
    assert result.fix is not None and result.fix.startswith("delete ")


# -- doctor: classification ------------------------------------------------------------


def test_classification_check_is_info_without_overrides(stateDir: Path) -> None:
    assert check(stateDir, "classification") == Check(
        "info", "No classification overrides (using defaults)"
    )


def test_classification_check_passes_on_valid_overrides(stateDir: Path) -> None:
    (stateDir / OVERRIDES_FILE).write_text(
        json.dumps(
            {
                "my-server": {"mode": "stateful"},
                "another": {"mode": "stateless", "requestTimeout": 30000},
            }
        )
    )
    assert check(stateDir, "classification") == Check(
        "pass", "Classification overrides: 2 servers (1 global, 1 session)"
    )


def test_classification_check_counts_the_overrides_by_share(stateDir: Path) -> None:
    (stateDir / OVERRIDES_FILE).write_text(
        json.dumps(
            {
                "a": {"share": "workspace"},
                "b": {"share": "credential", "maxChildren": 4},
                "c": {"share": "session", "mode": "stateless"},  # share wins
                "d": {"mode": "stateful"},
                "e": {"requestTimeout": 30000},
                "f": {"share": "global"},
            }
        )
    )
    assert check(stateDir, "classification") == Check(
        "pass",
        "Classification overrides: 6 servers"
        " (1 global, 1 workspace, 1 credential, 2 session; 1 sets no share)",
    )
    (stateDir / OVERRIDES_FILE).write_text(json.dumps({"e": {"requestTimeout": 30000}}))
    assert check(stateDir, "classification").message == (
        "Classification overrides: 1 server (1 sets no share)"
    )


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"srv": {"mode": "shared"}}, "'srv'.mode"),
        ({"srv": {"requestTimeout": -1}}, "'srv'.requestTimeout"),
        ({"srv": {"requestTimeout": "30s"}}, "'srv'.requestTimeout"),
        ({"srv": {"mdoe": "stateful"}}, "'srv' has unknown key(s) mdoe"),
        ({"srv": "stateful"}, "'srv' must be an object"),
        (["srv"], "JSON object"),
    ],
)
def test_classification_check_fails_naming_the_bad_key(
    stateDir: Path, overrides: Any, named: str
) -> None:
    (stateDir / OVERRIDES_FILE).write_text(json.dumps(overrides))
    result = check(stateDir, "classification")
    assert result.status == "fail"
    assert named in result.message
    assert result.fix is not None and OVERRIDES_FILE in result.fix


def test_classification_check_fails_on_invalid_json(stateDir: Path) -> None:
    (stateDir / OVERRIDES_FILE).write_text("{'a': 1}")
    assert check(stateDir, "classification").status == "fail"


def test_classification_check_says_what_the_gateway_warns(stateDir: Path) -> None:
    """The gateway's reader: every warning it logs at start, doctor shows."""
    from mcpgateway.config.classification import loadOverrides

    (stateDir / OVERRIDES_FILE).write_text(
        json.dumps(
            {
                "a": {"mode": "shared"},
                "b": {"requestTimeout": 0},
                "c": {"mode": "stateful"},
                "d": [],
            }
        )
    )
    path = stateDir / OVERRIDES_FILE
    warnings = [w.removeprefix(f"{path}: ") for w in loadOverrides(stateDir).warnings]
    assert len(warnings) == 3
    result = check(stateDir, "classification")
    assert result.status == "fail"
    assert result.message == f"Classification overrides: {warnings[0]} (and 2 more)"
    assert result.details == tuple(warnings[1:])


# -- doctor: the state directory ------------------------------------------------------


def test_state_dir_check_passes_a_private_directory(stateDir: Path) -> None:
    assert check(stateDir, "stateDir") == Check("pass", f"State directory: {stateDir} (private)")


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701, 0o707])
def test_state_dir_check_fails_a_directory_other_users_can_enter(
    stateDir: Path, mode: int, cli: Cli
) -> None:
    """The gateway warns of it only in gateway.log; doctor
    says it with the chmod that fixes it, and exits 1."""
    stateDir.chmod(mode)
    result = check(stateDir, "stateDir")
    assert result.status == "fail"
    assert result.message == (
        f"State directory {stateDir} is mode {mode:04o}: other users can enter it"
        " (it holds the sessions, the logs and the workspace key)"
    )
    assert result.fix == f"chmod 700 {stateDir}"
    code, out, _ = cli("doctor")
    assert code == 1
    assert f"    → chmod 700 {stateDir}" in out.splitlines()


def test_state_dir_check_is_info_before_the_first_start(tmp_path: Path, home: Path) -> None:
    result = check(tmp_path / "none", "stateDir")
    assert result.status == "info"
    assert "No state directory yet" in result.message


# -- doctor: log file -----------------------------------------------------------------


def test_log_file_check(stateDir: Path) -> None:
    assert check(stateDir, "logFile").status == "info"
    (stateDir / LOG_FILE).write_bytes(b"x" * 300 * 1024)
    result = check(stateDir, "logFile")
    assert result.status == "pass"
    assert result.message.startswith("Log file: 0.3 MB")


# -- doctor: the command ------------------------------------------------------------


def test_doctor_exits_0_when_nothing_fails(
    stateDir: Path, home: Path, running: FakeGateway, cli: Cli
) -> None:
    (home / ".claude.json").write_text(
        json.dumps(
            {"mcpServers": {"x": {"type": "http", "url": f"http://127.0.0.1:{running.port}/x/mcp"}}}
        )
    )
    writeBackup(stateDir, home / ".claude.json")
    (stateDir / LOG_FILE).write_text("log\n")
    code, out, _ = cli("doctor")
    assert code == 0
    lines = out.splitlines()
    assert f"  ✓ Gateway running (PID {os.getpid()}, port {running.port})" in lines
    assert "    ◆ serena (session, 2 children, 89 reqs)" in lines
    assert "  ○ No classification overrides (using defaults)" in lines
    assert "  ○ No npx/uvx server to resolve" in lines
    assert (
        "  ✓ Server-to-client requests: none refused on shared children (this gateway does not"
        " count those refused to 2026-07-28 clients)"
    ) in lines
    assert "  ✓ State directory: " + str(stateDir) + " (private)" in lines
    assert "  ✓ Sandbox refusals: no tool call failed because of its sandbox" in lines
    assert "  ✓ Config entries: none left unserved, no client file refused" in lines
    assert f"  ✓ Version: the gateway runs mcpgateway {__version__}, the one installed" in lines
    assert "  ✓ Child exits: none unexpected" in lines
    assert "  ○ Held calls not counted by this gateway" in lines
    assert "11 passed, 0 issue(s)" in lines
    assert lines[-1] == LEGEND
    assert "\x1b[" not in out  # captured stdout is not a terminal


def test_doctor_prints_the_share_legend_only_under_the_servers(stateDir: Path, cli: Cli) -> None:
    """Details of another check (here the overrides' warnings) carry no
    share mark: no legend for them."""
    (stateDir / OVERRIDES_FILE).write_text(
        json.dumps({"a": {"mode": "shared"}, "b": {"share": "nobody"}})
    )
    code, out, _ = cli("doctor")
    assert code == 1
    assert "    'b'.share must be one of" in out  # a detail line
    assert LEGEND not in out and "share:" not in out


def test_doctor_exits_1_and_prints_a_fix_for_every_failure(stateDir: Path, cli: Cli) -> None:
    (stateDir / OVERRIDES_FILE).write_text(json.dumps({"s": {"mode": "x"}}))
    code, out, _ = cli("doctor")
    assert code == 1
    lines = out.splitlines()
    failures = [i for i, line in enumerate(lines) if line.startswith("  ✗ ")]
    assert len(failures) == 2
    for i in failures:
        assert lines[i + 1].startswith("    → ")
    assert "1 passed, 2 issue(s)" in lines  # the state directory is private


def test_doctor_json(stateDir: Path, cli: Cli) -> None:
    code, out, _ = cli("doctor", "--json")
    assert code == 1
    document = json.loads(out)
    assert set(document) == {"checks", "ok"}
    assert document["ok"] is False
    assert [c["name"] for c in document["checks"]] == [
        "gateway",
        "health",
        "version",
        "childExits",
        "heldCalls",
        "configEntries",
        "resolution",
        "serverRequests",
        "remoteLogins",
        "promotions",
        "poolLimits",
        "backup",
        "claudeConfig",
        "clientBackups",
        "npxCache",
        "classification",
        "stateDir",
        "workspaceKey",
        "envFiles",
        "logFile",
        "pins",
        "sandbox",
        "sandboxRefusals",
    ]
    for entry in document["checks"]:
        assert set(entry) == {"name", "status", "message", "fix", "details"}
        assert isinstance(entry["details"], list)
        assert entry["status"] in ("pass", "info", "fail")
        assert (entry["fix"] is not None) == (entry["status"] == "fail")


def test_doctor_json_ok(running: FakeGateway, cli: Cli) -> None:
    code, out, _ = cli("--json", "doctor")  # --json before the command
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_a_crashing_check_is_reported_and_the_others_still_run(stateDir: Path) -> None:
    def boom(ctx: DoctorContext) -> Check:
        raise RuntimeError("oops")

    checks = [("boom", boom), *DOCTOR_CHECKS[2:]]
    results = dict(runChecks(stateDir, checks=checks))
    assert results["boom"].status == "fail"
    assert "RuntimeError: oops" in results["boom"].message
    assert list(results) == [name for name, _ in checks]


def test_colours_only_on_a_terminal(stateDir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["doctor", "--state-dir", str(stateDir)]) == 1
    assert "\x1b[31m✗\x1b[0m Gateway not running" in terminal.getvalue()
    assert "\x1b[33m○\x1b[0m" in terminal.getvalue()

    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    monkeypatch.setattr(sys, "stdout", plain)
    main(["doctor", "--state-dir", str(stateDir)])
    assert "\x1b[" not in plain.getvalue()
    assert "✗ Gateway not running" in plain.getvalue()


# -- doctor and status: npx/uvx resolution, refused server-to-client requests -----------


def withServers(**servers: dict[str, Any]) -> dict[str, Any]:
    """HEALTH with these servers added (or changed), as /health answers them."""
    return {**HEALTH, "servers": {**HEALTH["servers"], **servers}}


def npxServer(state: str, detail: str) -> dict[str, Any]:
    return {**HEALTH["servers"]["tavily"], "resolution": {"state": state, "detail": detail}}


def test_doctor_fails_on_a_failed_resolution(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    running.answers["/health"] = (
        200,
        withServers(
            memory=npxServer("failed", "npm install @modelcontextprotocol/server-memory: E404"),
            fetch=npxServer("pending", "installing mcp-server-fetch with uv"),
            context7={
                **HEALTH["servers"]["context7"],
                "resolution": {"state": "resolved", "detail": "/x/bin/context7-mcp"},
            },
        ),
    )
    result = check(stateDir, "resolution")
    assert result.status == "fail"
    assert result.message == "npx/uvx resolution failed for memory; under way for fetch"
    assert result.details == (
        "fetch: pending: installing mcp-server-fetch with uv",
        "memory: failed: npm install @modelcontextprotocol/server-memory: E404",
    )
    assert result.fix is not None and "network, registry, package name" in result.fix
    assert "`mcpgateway stop` and `mcpgateway start`" in result.fix
    code, out, _ = cli("doctor")
    assert code == 1
    lines = out.splitlines()
    at = lines.index("  ✗ npx/uvx resolution failed for memory; under way for fetch")
    assert lines[at + 1 : at + 4] == [
        "    fetch: pending: installing mcp-server-fetch with uv",
        "    memory: failed: npm install @modelcontextprotocol/server-memory: E404",
        f"    → {result.fix}",
    ]
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    memory = next(i for i, line in enumerate(lines) if line.startswith("  ● memory"))
    assert lines[memory + 1] == (
        "      ! npx/uvx resolution failed: npm install @modelcontextprotocol/server-memory: E404"
    )
    fetch = next(i for i, line in enumerate(lines) if line.startswith("  ● fetch"))
    assert lines[fetch + 1] == (
        "      … npx/uvx resolution under way: installing mcp-server-fetch with uv"
    )
    context7 = next(i for i, line in enumerate(lines) if line.startswith("  ● context7"))
    assert "resolution" not in lines[context7 + 1]


HINT = (
    "~/.npmrc names @acme's registry http://npm.acme.internal/, which the gateway's install"
    ' does not read (the sandbox hides ~/.npmrc: it holds tokens); add to the entry\'s "env":'
    ' {"npm_config_@acme:registry": "http://npm.acme.internal/"}'
)


def test_status_and_doctor_show_what_npmrc_names_on_a_line_of_its_own(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    """A failed install's hint (what the user's C{~/.npmrc} names, the
    entry C{env} that names it) follows its failure, on its own line."""
    failure = "npx @acme/some-mcp: npm install failed (exit code 1): 404 Not Found"
    running.answers["/health"] = (200, withServers(acme=npxServer("failed", f"{failure}\n{HINT}")))
    result = check(stateDir, "resolution")
    assert result.status == "fail"
    assert result.details == (f"acme: failed: {failure}", f"  {HINT}")
    code, out, _ = cli("doctor")
    lines = out.splitlines()
    at = lines.index(f"    acme: failed: {failure}")
    assert lines[at + 1] == f"      {HINT}"
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    acme = next(i for i, line in enumerate(lines) if line.startswith("  ● acme"))
    assert lines[acme + 1 : acme + 3] == [
        f"      ! npx/uvx resolution failed: {failure}",
        f"        {HINT}",
    ]


def test_doctor_reports_a_pending_resolution_as_info(stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, withServers(fetch=npxServer("pending", "")))
    result = check(stateDir, "resolution")
    assert result == Check(
        "info",
        "npx/uvx resolution under way for fetch: their requests"
        " wait for it (at most the request timeout)",
        None,
        ("fetch: pending",),
    )
    assert all(
        status != "fail"
        for name, c in runChecks(stateDir)
        for status in [c.status]
        if name == "resolution"
    )


def test_doctor_resolution_passes_or_has_nothing_to_say(
    stateDir: Path, running: FakeGateway
) -> None:
    assert check(stateDir, "resolution") == Check("info", "No npx/uvx server to resolve")
    running.answers["/health"] = (200, withServers(fetch=npxServer("resolved", "/bin/x")))
    assert check(stateDir, "resolution") == Check("pass", "npx/uvx resolution: 1 server resolved")


def test_resolution_and_server_requests_are_not_checked_without_a_gateway(stateDir: Path) -> None:
    assert check(stateDir, "resolution") == Check(
        "info", "npx/uvx resolution not checked (gateway not running)"
    )
    assert check(stateDir, "serverRequests") == Check(
        "info", "Server-to-client requests not checked (gateway not running)"
    )


AMBIGUOUS_WARNING = (
    "3 server-to-client request(s) arrived while several sessions had"
    " requests in flight; run this server stateful to route them exactly"
)


def test_doctor_fails_on_refused_server_to_client_requests(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    running.answers["/health"] = (
        200,
        withServers(
            everything={
                **HEALTH["servers"]["context7"],
                "ambiguousServerRequests": 3,
                "warning": AMBIGUOUS_WARNING,
            }
        ),
    )
    result = check(stateDir, "serverRequests")
    assert result.status == "fail"
    assert result.message == (
        "Server-to-client requests refused (no way to tell which session"
        " they belong to on a shared child): everything (3)"
    )
    assert result.fix == (
        'run everything per session ("share": "session" in its entry or'
        f" {stateDir / OVERRIDES_FILE})"
    )
    assert result.details == (f"everything: {AMBIGUOUS_WARNING}",)
    code, out, _ = cli("doctor", "--json")
    assert code == 1
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["serverRequests"]["status"] == "fail"
    assert checks["serverRequests"]["details"] == [f"everything: {AMBIGUOUS_WARNING}"]
    code, out, _ = cli("status")
    assert f"      ! {AMBIGUOUS_WARNING}" in out.splitlines()


def test_server_requests_of_an_older_gateway_are_not_counted(
    stateDir: Path, running: FakeGateway
) -> None:
    old = {
        name: {k: v for k, v in server.items() if k != "ambiguousServerRequests"}
        for name, server in HEALTH["servers"].items()
    }
    running.answers["/health"] = (200, {**HEALTH, "servers": old})
    assert check(stateDir, "serverRequests") == Check(
        "info", "Server-to-client requests not counted by this gateway"
    )
