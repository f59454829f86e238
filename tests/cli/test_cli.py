"""The C{mcpgateway} command, without a real gateway: a temporary state
directory and HOME, a fake C{state.json} (this test process's pid, holding the
lock, plays the running gateway; a reaped child's pid is a dead one), and a
tiny loopback HTTP server answering canned C{/health} and C{/sessions}."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import cli
from mcpgateway.ops.statedir import LOCK_FILE, STATE_FILE

HEALTH: dict[str, Any] = {
    "status": "ok", "version": "0.1.0", "pid": os.getpid(), "uptime": 3725.5,
    "rssBytes": 56 * 1024 * 1024, "sessions": 3,
    "servers": {
        "context7": {"mode": "stateless", "state": "running", "children": 1, "pids": [11],
                     "requests": 142, "inFlight": 0, "lateReplies": 0, "restarts": 0,
                     "sessions": 1, "ambiguousServerRequests": 0},
        "tavily": {"mode": "stateless", "state": "idle", "children": 0, "pids": [],
                   "requests": 0, "inFlight": 0, "lateReplies": 0, "restarts": 0,
                   "sessions": 0, "ambiguousServerRequests": 0},
        "serena": {"mode": "stateful", "state": "running", "children": 2, "pids": [12, 13],
                   "requests": 89, "inFlight": 1, "lateReplies": 0, "restarts": 2,
                   "sessions": 2, "ambiguousServerRequests": 0, "warning": "route them exactly"},
    },
}
BROKEN = {"mode": "stateless", "state": "unavailable", "children": 0, "pids": [], "requests": 0,
          "inFlight": 0, "lateReplies": 0, "restarts": 0, "sessions": 0,
          "error": "command 'nope' not found on PATH"}
WITH_BROKEN = {**HEALTH, "servers": {**HEALTH["servers"], "broken": BROKEN}}
SESSIONS: dict[str, Any] = {"sessions": [
    {"id": "a", "server": "context7", "clientPid": 4242, "mode": "stateless"},
    {"id": "b", "server": "serena", "clientPid": 4242, "mode": "stateful"},
    {"id": "c", "server": "serena", "clientPid": None, "mode": "stateful"},
]}


# -- fixtures ---------------------------------------------------------------------

@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME; no colour settings or proxies leak in from outside."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    for name in ("MCPGATEWAY_HOME", "NO_COLOR", "MCPGATEWAY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def stateDir(tmp_path: Path, home: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def locked(stateDir: Path) -> Iterator[None]:
    """Hold the gateway's flock, as a running gateway does."""
    fd = os.open(stateDir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield
    os.close(fd)


class FakeGateway:
    """Canned JSON answers on a loopback port, served from a thread."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {
            "/health": (200, HEALTH), "/sessions": (200, SESSIONS)}
        self.requests: list[str] = []
        self.routes: dict[tuple[str, str], tuple[int, Any]] = {}
        """Answers by (method, path), for any method; a C{bytes} body is an
        SSE stream, sent as it is."""
        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []
        """Every request: method, path, headers (lower-case names), body."""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                fake.calls.append((self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length)))
                status, body = fake.routes.get(
                    (self.command, self.path),
                    fake.answers.get(self.path, (404, {"error": "not found"}))
                    if self.command == "GET" else (404, {"error": "not found"}))
                stream = isinstance(body, bytes)
                data = body if stream else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type",
                                 "text/event-stream" if stream else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fakeGateway() -> Iterator[FakeGateway]:
    gateway = FakeGateway()
    yield gateway
    gateway.close()


def writeState(stateDir: Path, pid: int, port: int, **extra: Any) -> Path:
    state = {"pid": pid, "port": port, "interface": "127.0.0.1", "startTime": time.time() - 60,
             "version": "0.1.0", "config": None, "stateDir": str(stateDir),
             "rewriteConfig": True, **extra}
    path = stateDir / STATE_FILE
    path.write_text(json.dumps(state))
    return path


@pytest.fixture
def running(stateDir: Path, locked: None, fakeGateway: FakeGateway) -> FakeGateway:
    """state.json names this (live, lock-holding) process and the fake's port."""
    writeState(stateDir, os.getpid(), fakeGateway.port)
    return fakeGateway


def deadPid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def freePort() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def run(capsys: pytest.CaptureFixture[str], stateDir: Path, *args: str
        ) -> tuple[int, str, str]:
    code = cli.main([*args, "--state-dir", str(stateDir)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(stateDir: Path, name: str) -> cli.Check:
    return dict(cli.runChecks(stateDir))[name]


class FakeClaudeConfig:
    """Stands in for mcpgateway.clientconfigs.claude.ClaudeConfig."""

    calls: list[tuple[Path, Path]] = []

    def __init__(self, path: Path, stateDir: Path) -> None:
        self.path, self.stateDir = path, stateDir

    def restore(self) -> Any:
        FakeClaudeConfig.calls.append((self.path, self.stateDir))

        class Report:
            restored = ["search", "thinking"]
            kept = ["remote"]
            notes = ["search: restored from the backup"]

        return Report()


@pytest.fixture
def fakeClaude(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, Path]]:
    FakeClaudeConfig.calls = []
    monkeypatch.setattr(cli, "_claudeConfigClass", lambda: FakeClaudeConfig)
    return FakeClaudeConfig.calls


# -- doctor: gateway running --------------------------------------------------------

def test_gateway_check_passes_for_a_live_pid_holding_the_lock(
        stateDir: Path, running: FakeGateway) -> None:
    result = check(stateDir, "gateway")
    assert result.status == "pass"
    assert result.message == f"Gateway running (PID {os.getpid()}, port {running.port})"


def test_gateway_check_fails_without_state(stateDir: Path) -> None:
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert "no state.json" in result.message
    assert result.fix == "run `mcpgateway start`"


def test_gateway_check_fails_on_a_stale_state_file(stateDir: Path) -> None:
    pid = deadPid()
    writeState(stateDir, pid, 9100)
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert f"pid {pid} is gone" in result.message
    assert result.fix is not None and "mcpgateway stop" in result.fix


def test_gateway_check_fails_for_a_recycled_pid_without_the_lock(
        stateDir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "isGatewayProcess", lambda pid: False)
    writeState(stateDir, os.getpid(), 9100)  # alive, but holds no lock
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert "not the gateway" in result.message


def test_gateway_check_fails_on_an_unreadable_state_file(stateDir: Path) -> None:
    (stateDir / STATE_FILE).write_text("{not json")
    result = check(stateDir, "gateway")
    assert result.status == "fail"
    assert "unreadable" in result.message


# -- doctor: health ------------------------------------------------------------------

def test_health_check_passes_with_counts_and_one_line_per_server(
        stateDir: Path, running: FakeGateway) -> None:
    result = check(stateDir, "health")
    assert result.status == "pass"
    assert result.message == "Health endpoint OK — 3 servers, 3 children, 56 MB"
    assert result.details == (
        "○ context7 (stateless, 1 child, 142 reqs)",
        "◆ serena (stateful, 2 children, 89 reqs)",
        "○ tavily (stateless, idle, 0 reqs)",
    )
    assert running.requests == ["/health"]


def test_health_check_fails_when_a_server_is_unavailable(
        stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, WITH_BROKEN)
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert result.message == ("Health endpoint OK — 4 servers, 3 children, 56 MB;"
                              " 1 unavailable (broken)")
    assert result.fix is not None and result.fix.startswith("install the command of broken")
    assert result.details[0] == (
        "○ broken (stateless, unavailable: command 'nope' not found on PATH, 0 reqs)")


def test_health_check_fails_when_nothing_answers(stateDir: Path, locked: None) -> None:
    writeState(stateDir, os.getpid(), freePort())
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert "no answer from http://127.0.0.1:" in result.message
    assert result.fix is not None and "gateway.log" in result.fix


def test_health_check_fails_when_another_process_answers(
        stateDir: Path, running: FakeGateway) -> None:
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


def test_health_check_ignores_proxy_settings(stateDir: Path, running: FakeGateway,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert check(stateDir, "health").status == "pass"


# -- doctor: config backup -----------------------------------------------------------

def test_backup_check_is_info_without_a_backup(stateDir: Path) -> None:
    assert check(stateDir, "backup").status == "info"


def backupDocument(configPath: Path, **extra: Any) -> dict[str, Any]:
    """A backup as mcpgateway.clientconfigs.claude writes it."""
    def record(name: str) -> dict[str, Any]:
        return {"url": f"http://127.0.0.1:9100/{name}/mcp",
                "original": {"command": "npx", "args": ["-y", name]}}

    return {"version": 1, "configPath": os.path.realpath(configPath), "timestampAdded": False,
            "mcpServers": {"a": record("a"), "b": record("b")},
            "projects": {"/p": {"mcpServers": {"c": record("c")}}}, **extra}


def test_backup_check_counts_the_servers_backed_up(stateDir: Path, home: Path) -> None:
    (stateDir / cli.BACKUP_FILE).write_text(json.dumps(backupDocument(home / ".claude.json")))
    result = check(stateDir, "backup")
    assert result == cli.Check("pass", "Config backup valid (3 servers backed up)")


def without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


REJECTED_BACKUPS: list[tuple[Any, str]] = [
    # Each of these is refused by `mcpgateway restore`; the first two were
    # "Config backup valid" for doctor's own copy of the parser.
    (lambda doc: {**doc, "mcpServers": {"a": {"original": {"command": "a"}}}},
     "the record of 'a' has no 'url' and 'original'"),
    (lambda doc: without(doc, "version"), "version None, expected 1"),
    (lambda doc: {**doc, "version": 2}, "version 2, expected 1"),
    (lambda doc: {**doc, "projects": []}, "'projects' is not an object"),
    (lambda doc: {**doc, "mcpServers": {"a": {"url": "x"}}},
     "the record of 'a' has no 'url' and 'original'"),
    (lambda doc: '{"user": ', "is not valid JSON"),
    (lambda doc: [doc], "must hold a JSON object"),
]


@pytest.mark.parametrize(("change", "problem"), REJECTED_BACKUPS)
def test_a_backup_restore_rejects_makes_doctor_fail(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path, change: Any,
        problem: str) -> None:
    """doctor reads the backup with restore's own reader: whatever restore
    refuses, doctor fails on, with the same reason."""
    config = home / ".claude.json"
    config.write_text(json.dumps({"mcpServers": {"a": {
        "type": "http", "url": "http://127.0.0.1:9100/a/mcp"}}}))
    document = change(backupDocument(config))
    (stateDir / cli.BACKUP_FILE).write_text(
        document if isinstance(document, str) else json.dumps(document))
    result = check(stateDir, "backup")
    assert result.status == "fail"
    assert problem in result.message
    assert result.fix is not None and "`mcpgateway restore` refuses it" in result.fix
    code, out, err = run(capsys, stateDir, "restore")  # the real library, no fake
    assert (code, out) == (1, "")
    assert problem in err
    code, out, _ = run(capsys, stateDir, "doctor", "--json")
    assert code == 1
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["backup"]["status"] == "fail" and problem in checks["backup"]["message"]


def test_backup_check_fails_on_the_backup_of_another_file(stateDir: Path, home: Path) -> None:
    (stateDir / cli.BACKUP_FILE).write_text(json.dumps(backupDocument(home / "elsewhere.json")))
    result = check(stateDir, "backup")
    assert result.status == "fail"
    assert f"mcpgateway restore --config {home / 'elsewhere.json'}" in result.message
    assert result.fix is not None


# -- doctor: Claude config -----------------------------------------------------------

def claudeJson(port: int) -> dict[str, Any]:
    gateway = {"type": "http", "url": f"http://127.0.0.1:{port}/x/mcp"}
    return {
        "numStartups": 3,
        "mcpServers": {"a": gateway, "b": {"command": "npx", "args": ["-y", "b"]},
                       "remote": {"type": "http", "url": "https://example.com/mcp"}},
        "projects": {"/work/p": {"mcpServers": {
            "c": {"type": "http", "url": f"http://localhost:{port}/c/mcp"},
            "d": {"type": "stdio", "command": "d"},
            "e": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
            "f": {"type": "http", "url": "http://127.0.0.1:1/f/mcp"}}},
            "/work/q": {"allowedTools": []}},
    }


def writeBackup(stateDir: Path, configPath: Path) -> None:
    (stateDir / cli.BACKUP_FILE).write_text(json.dumps(backupDocument(configPath)))


def test_claude_config_check_counts_every_scope(stateDir: Path, home: Path,
                                                running: FakeGateway) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    writeBackup(stateDir, home / ".claude.json")
    result = check(stateDir, "claudeConfig")
    assert result == cli.Check("pass", "Claude config: 2 via gateway, 2 stdio, 3 other")


def test_claude_config_check_reads_the_config_named_in_the_state(
        stateDir: Path, tmp_path: Path, locked: None, fakeGateway: FakeGateway) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"mcpServers": {"x": {"command": "x"}}}))
    writeState(stateDir, os.getpid(), fakeGateway.port, config=str(other))
    assert check(stateDir, "claudeConfig").message == \
        "Claude config: 0 via gateway, 1 stdio, 0 other"


def test_claude_config_check_is_info_without_a_config(stateDir: Path) -> None:
    assert check(stateDir, "claudeConfig").status == "info"


def test_claude_config_check_fails_on_invalid_json(stateDir: Path, home: Path) -> None:
    (home / ".claude.json").write_text("{")
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert "unreadable" in result.message


def test_claude_config_check_fails_when_entries_point_at_a_stopped_gateway(
        stateDir: Path, home: Path) -> None:
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
        stateDir: Path, home: Path) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert result.message == (
        "Claude config: 2 via gateway, 2 stdio, 3 other; 2 entries point at"
        " http://127.0.0.1:9100, where the gateway is not running, and no usable backup holds"
        f" their originals (there is no {stateDir / cli.BACKUP_FILE}): `mcpgateway restore`"
        " cannot put them back")
    assert result.fix is not None
    assert result.fix.startswith("re-add a, c (project /work/p) with `claude mcp add NAME --"
                                 " COMMAND [ARGS...]`")
    assert str(home / ".claude.json") in result.fix


def test_claude_config_check_is_loud_when_the_backup_is_unusable(
        stateDir: Path, home: Path, running: FakeGateway) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    (stateDir / cli.BACKUP_FILE).write_text(json.dumps(
        {**backupDocument(home / ".claude.json"), "version": 7}))
    result = check(stateDir, "claudeConfig")
    assert result.status == "fail"
    assert f"2 entries point at http://127.0.0.1:{running.port}, and {LOST}" in result.message
    assert "version 7, expected 1" in result.message
    assert result.fix is not None and "claude mcp add" in result.fix


def test_claude_config_check_passes_for_entries_a_non_adopting_gateway_serves(
        stateDir: Path, home: Path, locked: None, fakeGateway: FakeGateway) -> None:
    writeState(stateDir, os.getpid(), fakeGateway.port, rewriteConfig=False)
    (home / ".claude.json").write_text(json.dumps(claudeJson(fakeGateway.port)))
    assert check(stateDir, "claudeConfig").status == "pass"  # the user's own entries


# -- doctor: npx cache ----------------------------------------------------------------

def test_npx_cache_check_is_info_without_a_cache(stateDir: Path) -> None:
    assert check(stateDir, "npxCache").status == "info"


def npxCache(entries: dict[str, list[str]], **extra: Any) -> str:
    """A cache as mcpgateway.config.resolve writes it."""
    return json.dumps({"version": 1, "entries": {
        key: {"command": command, "resolvedAt": 1.0} for key, command in entries.items()},
        **extra})


def test_npx_cache_check_passes_when_every_path_exists(stateDir: Path, tmp_path: Path) -> None:
    script = tmp_path / "index.js"
    script.write_text("")
    (stateDir / cli.NPX_CACHE_FILE).write_text(npxCache({
        "npx:@upstash/context7-mcp": [sys.executable, str(script)],
        "uvx:some-tool": [sys.executable, "--flag"]}))
    assert check(stateDir, "npxCache") == cli.Check(
        "pass", "npx cache: 2 resolved path(s), all existing")


def test_npx_cache_check_reports_stale_entries(stateDir: Path, tmp_path: Path) -> None:
    (stateDir / cli.NPX_CACHE_FILE).write_text(npxCache({
        "npx:x": [sys.executable, str(tmp_path / "gone.js")], "npx:y": [sys.executable]}))
    result = check(stateDir, "npxCache")
    assert result.status == "info"  # the gateway resolves it again by itself
    assert result.message.startswith("npx cache: 2 resolved path(s), 1 stale (e.g. npx:x: ")


@pytest.mark.parametrize(("content", "problem"), [
    ("[", "not JSON"),
    ('{"version": 1}', "no 'entries' object"),
    # The gateway's reader refuses these (and ignores the cache); doctor's own
    # copy of the parser passed them.
    ('{"entries": {}}', "version None, expected 1"),
    ('{"version": 1, "entries": {"npx:x": {"command": ["/bin/node"]}}}',
     "'npx:x' has no 'resolvedAt'"),
    (npxCache({}, version=2), "version 2, expected 1"),
    ('{"version": 1, "entries": {"npx:x": {"command": "node"}}}', "'npx:x' has no 'command'"),
])
def test_npx_cache_check_fails_on_a_broken_file(stateDir: Path, content: str,
                                                problem: str) -> None:
    (stateDir / cli.NPX_CACHE_FILE).write_text(content)
    result = check(stateDir, "npxCache")
    assert result.status == "fail"
    assert problem in result.message
    assert result.fix is not None and result.fix.startswith("delete ")


# -- doctor: classification ------------------------------------------------------------

def test_classification_check_is_info_without_overrides(stateDir: Path) -> None:
    assert check(stateDir, "classification") == cli.Check(
        "info", "No classification overrides (using defaults)")


def test_classification_check_passes_on_valid_overrides(stateDir: Path) -> None:
    (stateDir / cli.CLASSIFICATION_FILE).write_text(json.dumps({
        "my-server": {"mode": "stateful"},
        "another": {"mode": "stateless", "requestTimeout": 30000}}))
    assert check(stateDir, "classification") == cli.Check(
        "pass", "Classification overrides: 2 servers (1 stateful, 1 stateless)")


@pytest.mark.parametrize(("overrides", "named"), [
    ({"srv": {"mode": "shared"}}, "'srv'.mode"),
    ({"srv": {"requestTimeout": -1}}, "'srv'.requestTimeout"),
    ({"srv": {"requestTimeout": "30s"}}, "'srv'.requestTimeout"),
    ({"srv": {"mdoe": "stateful"}}, "'srv' has unknown key(s) mdoe"),
    ({"srv": "stateful"}, "'srv' must be an object"),
    (["srv"], "JSON object"),
])
def test_classification_check_fails_naming_the_bad_key(stateDir: Path, overrides: Any,
                                                       named: str) -> None:
    (stateDir / cli.CLASSIFICATION_FILE).write_text(json.dumps(overrides))
    result = check(stateDir, "classification")
    assert result.status == "fail"
    assert named in result.message
    assert result.fix is not None and cli.CLASSIFICATION_FILE in result.fix


def test_classification_check_fails_on_invalid_json(stateDir: Path) -> None:
    (stateDir / cli.CLASSIFICATION_FILE).write_text("{'a': 1}")
    assert check(stateDir, "classification").status == "fail"


def test_classification_check_says_what_the_gateway_warns(stateDir: Path) -> None:
    """The gateway's reader: every warning it logs at start, doctor shows."""
    from mcpgateway.config.classification import loadOverrides

    (stateDir / cli.CLASSIFICATION_FILE).write_text(json.dumps({
        "a": {"mode": "shared"}, "b": {"requestTimeout": 0}, "c": {"mode": "stateful"},
        "d": []}))
    path = stateDir / cli.CLASSIFICATION_FILE
    warnings = [w.removeprefix(f"{path}: ") for w in loadOverrides(stateDir).warnings]
    assert len(warnings) == 3
    result = check(stateDir, "classification")
    assert result.status == "fail"
    assert result.message == f"Classification overrides: {warnings[0]} (and 2 more)"
    assert result.details == tuple(warnings[1:])


# -- doctor: log file -----------------------------------------------------------------

def test_log_file_check(stateDir: Path) -> None:
    assert check(stateDir, "logFile").status == "info"
    (stateDir / cli.LOG_FILE).write_bytes(b"x" * 300 * 1024)
    result = check(stateDir, "logFile")
    assert result.status == "pass"
    assert result.message.startswith("Log file: 0.3 MB")


# -- doctor: the command ------------------------------------------------------------

def test_doctor_exits_0_when_nothing_fails(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                           home: Path, running: FakeGateway) -> None:
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"x": {
        "type": "http", "url": f"http://127.0.0.1:{running.port}/x/mcp"}}}))
    writeBackup(stateDir, home / ".claude.json")
    (stateDir / cli.LOG_FILE).write_text("log\n")
    code, out, _ = run(capsys, stateDir, "doctor")
    assert code == 0
    lines = out.splitlines()
    assert f"  ✓ Gateway running (PID {os.getpid()}, port {running.port})" in lines
    assert "    ◆ serena (stateful, 2 children, 89 reqs)" in lines
    assert "  ○ No classification overrides (using defaults)" in lines
    assert "  ○ No npx/uvx server to resolve" in lines
    assert "  ✓ Server-to-client requests: none refused" in lines
    assert "6 passed, 0 issue(s)" in lines
    assert lines[-1] == cli.LEGEND
    assert "\x1b[" not in out  # captured stdout is not a terminal


def test_doctor_exits_1_and_prints_a_fix_for_every_failure(
        capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    (stateDir / cli.CLASSIFICATION_FILE).write_text(json.dumps({"s": {"mode": "x"}}))
    code, out, _ = run(capsys, stateDir, "doctor")
    assert code == 1
    lines = out.splitlines()
    failures = [i for i, line in enumerate(lines) if line.startswith("  ✗ ")]
    assert len(failures) == 2
    for i in failures:
        assert lines[i + 1].startswith("    → ")
    assert "0 passed, 2 issue(s)" in lines


def test_doctor_json(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    code, out, _ = run(capsys, stateDir, "doctor", "--json")
    assert code == 1
    document = json.loads(out)
    assert set(document) == {"checks", "ok"}
    assert document["ok"] is False
    assert [c["name"] for c in document["checks"]] == [
        "gateway", "health", "resolution", "serverRequests", "backup", "claudeConfig",
        "npxCache", "classification", "logFile"]
    for entry in document["checks"]:
        assert set(entry) == {"name", "status", "message", "fix", "details"}
        assert isinstance(entry["details"], list)
        assert entry["status"] in ("pass", "info", "fail")
        assert (entry["fix"] is not None) == (entry["status"] == "fail")


def test_doctor_json_ok(capsys: pytest.CaptureFixture[str], stateDir: Path,
                        running: FakeGateway) -> None:
    code, out, _ = run(capsys, stateDir, "--json", "doctor")  # --json before the command
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_a_crashing_check_is_reported_and_the_others_still_run(
        stateDir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: cli.DoctorContext) -> cli.Check:
        raise RuntimeError("oops")

    checks = [("boom", boom), *cli.DOCTOR_CHECKS[2:]]
    monkeypatch.setattr(cli, "DOCTOR_CHECKS", checks)
    results = dict(cli.runChecks(stateDir))
    assert results["boom"].status == "fail"
    assert "RuntimeError: oops" in results["boom"].message
    assert list(results) == [name for name, _ in checks]


# -- colours --------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colours_only_on_a_terminal(stateDir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert cli.main(["doctor", "--state-dir", str(stateDir)]) == 1
    assert "\x1b[31m✗\x1b[0m Gateway not running" in terminal.getvalue()
    assert "\x1b[33m○\x1b[0m" in terminal.getvalue()

    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    monkeypatch.setattr(sys, "stdout", plain)
    cli.main(["doctor", "--state-dir", str(stateDir)])
    assert "\x1b[" not in plain.getvalue()
    assert "✗ Gateway not running" in plain.getvalue()


def test_useColour() -> None:
    assert cli.useColour(Terminal())
    assert not cli.useColour(io.StringIO())


# -- status -----------------------------------------------------------------------------

def test_status_shows_one_screen(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                 running: FakeGateway) -> None:
    running.answers["/health"] = (200, WITH_BROKEN)
    code, out, err = run(capsys, stateDir, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"mcpgateway 0.1.0 running: pid {os.getpid()}, port {running.port}," \
                       " up 1h 02m"
    assert lines[1] == "  4 servers, 3 children, 231 requests, 3 sessions, 56 MB"
    assert "config the bundled demo (rewritten to point at the gateway)" in lines[2]
    serena = next(line for line in lines if "serena" in line)
    assert serena.startswith("  ◆ serena  ")
    assert "stateful" in serena and "2 children" in serena and "89 reqs" in serena
    assert "2 sessions" in serena and "1 in flight" in serena and "2 restarts" in serena
    assert "      ! route them exactly" in lines
    broken = next(line for line in lines if "broken" in line)
    assert broken.startswith("  ○ broken") and "not found on PATH" in broken
    assert "  3 sessions from 2 clients: pid 4242 (2), unknown pid (1)" in lines
    assert running.requests == ["/health", "/sessions"]


def test_status_json(capsys: pytest.CaptureFixture[str], stateDir: Path,
                     running: FakeGateway) -> None:
    code, out, _ = run(capsys, stateDir, "status", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["running"] is True
    assert document["pid"] == os.getpid()
    assert document["port"] == running.port
    assert document["health"] == HEALTH
    assert document["stateDir"] == str(stateDir)
    assert document["sessions"] == SESSIONS["sessions"]


def test_status_when_not_running(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    code, out, _ = run(capsys, stateDir, "status")
    assert (code, out) == (1, "mcpgateway is not running\n")
    writeState(stateDir, deadPid(), 9100)
    code, out, _ = run(capsys, stateDir, "status", "--json")
    document = json.loads(out)
    assert (code, document["running"], document["stale"]) == (1, False, True)


def test_status_when_the_gateway_does_not_answer(capsys: pytest.CaptureFixture[str],
                                                 stateDir: Path, locked: None) -> None:
    writeState(stateDir, os.getpid(), freePort())
    code, out, _ = run(capsys, stateDir, "status")
    assert code == 1
    assert "running" in out and "no answer from" in out
    assert "Traceback" not in out


def test_renderStatus_without_servers_or_sessions(stateDir: Path) -> None:
    found = cli.GatewayProbe(stateDir, {"pid": 7, "port": 9100, "config": "/c.json"})
    lines = cli.renderStatus(found, {"servers": {}, "uptime": 5}, [])
    assert lines[0] == "mcpgateway ? running: pid 7, port 9100, up 5s"
    assert "  (no servers configured)" in lines
    assert "  no sessions" in lines


# -- stop -------------------------------------------------------------------------------

def test_stop_with_a_stale_state_restores_and_removes_it(
        capsys: pytest.CaptureFixture[str], stateDir: Path, tmp_path: Path,
        fakeClaude: list[tuple[Path, Path]]) -> None:
    config = tmp_path / "claude.json"
    state = writeState(stateDir, deadPid(), 9100, config=str(config))
    code, out, _ = run(capsys, stateDir, "stop")
    assert code == 0
    assert fakeClaude == [(config, stateDir)]
    assert not state.exists()
    assert "stale state.json" in out
    assert "restored 2 servers" in out and "search, thinking" in out
    assert "kept as they are: remote" in out


def test_stop_with_a_stale_state_restores_the_default_config(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path,
        fakeClaude: list[tuple[Path, Path]]) -> None:
    writeState(stateDir, deadPid(), 9100)
    code, out, _ = run(capsys, stateDir, "stop", "--json")
    assert code == 0
    assert fakeClaude == [(home / ".claude.json", stateDir)]
    document = json.loads(out)
    assert document["stale"] is True
    assert document["restore"]["restored"] == ["search", "thinking"]


def test_stop_with_a_stale_state_that_did_not_rewrite_skips_restore(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        fakeClaude: list[tuple[Path, Path]]) -> None:
    state = writeState(stateDir, deadPid(), 9100, rewriteConfig=False)
    code, _, _ = run(capsys, stateDir, "stop")
    assert code == 0
    assert fakeClaude == []
    assert not state.exists()


def test_stop_keeps_a_stale_state_when_restore_fails(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(FakeClaudeConfig):
        def restore(self) -> Any:
            raise OSError("disk full")

    monkeypatch.setattr(cli, "_claudeConfigClass", lambda: Failing)
    state = writeState(stateDir, deadPid(), 9100)
    code, _, err = run(capsys, stateDir, "stop")
    assert code == 1
    assert err.startswith("mcpgateway: cannot restore ") and "disk full" in err
    assert len(err.splitlines()) == 1
    assert state.exists()  # the config path in it is still needed


def test_stop_when_not_running(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    code, out, _ = run(capsys, stateDir, "stop")
    assert (code, out) == (0, "mcpgateway is not running\n")


GATEWAY_STANDIN = """
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
time.sleep(60)
"""


def test_stop_terminates_the_running_gateway(capsys: pytest.CaptureFixture[str],
                                             stateDir: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_STANDIN, str(stateDir / LOCK_FILE)],
        stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        state = writeState(stateDir, process.pid, 9100)
        code, out, _ = run(capsys, stateDir, "stop")
        assert (code, out) == (0, f"mcpgateway stopped (pid {process.pid})\n")
        assert process.wait(5) == 0
        assert not state.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def standIn(stateDir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that holds the lock and exits on SIGTERM, as the gateway."""
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_STANDIN, str(stateDir / LOCK_FILE)],
        stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_stop_fails_when_entries_still_point_at_the_stopped_gateway(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path) -> None:
    """The gateway's restore failed (or a client wrote its copy back): stop
    names the file and the way out, and exits 1."""
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, config)
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, err = run(capsys, stateDir, "stop")
    assert (code, out) == (1, f"mcpgateway stopped (pid {process.pid})\n")
    assert err == (f"mcpgateway: {config} still has 2 entries pointing at the stopped gateway"
                   " http://127.0.0.1:9100: a, c (project /work/p); `mcpgateway restore` puts"
                   f" the stdio entries back (the log, {stateDir / cli.LOG_FILE}, says why the"
                   " gateway did not)\n")


def test_stop_json_names_the_entries_left(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                          home: Path) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    with standIn(stateDir) as process:  # and no backup: restore cannot help
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, _ = run(capsys, stateDir, "stop", "--json")
    document = json.loads(out)
    assert code == 1
    assert document["ok"] is False and document["stopped"] is True
    assert document["pid"] == process.pid
    assert document["config"] == str(config)
    assert document["viaGateway"] == ["a", "c (project /work/p)"]
    assert "`mcpgateway restore` cannot put them back" in document["error"]
    assert "claude mcp add" in document["error"]


def test_stop_passes_when_the_config_was_restored(capsys: pytest.CaptureFixture[str],
                                                  stateDir: Path, home: Path) -> None:
    """Only the config says whether the restore worked: a backup the gateway
    keeps after restoring is not a failure (stop used to say so)."""
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(1)))  # no entry points at port 9100
    writeBackup(stateDir, config)
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, err = run(capsys, stateDir, "stop", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"ok": True, "stopped": True, "pid": process.pid,
                               "config": str(config), "viaGateway": []}


def test_stop_fails_when_the_config_cannot_be_read_after(
        capsys: pytest.CaptureFixture[str], stateDir: Path, tmp_path: Path) -> None:
    config = tmp_path / "work" / ".mcp.json"
    config.parent.mkdir()
    config.write_text('{"mcpServers": {')
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, _, err = run(capsys, stateDir, "stop")
    assert code == 1
    assert err.startswith(f"mcpgateway: cannot check that {config} was restored: ")
    assert err.endswith(f"fix it, then `mcpgateway restore --config {config}`\n")


def test_stop_of_a_non_adopting_gateway_does_not_check_the_config(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))  # the user's own entries
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config), rewriteConfig=False)
        code, out, err = run(capsys, stateDir, "stop")
    assert (code, out, err) == (0, f"mcpgateway stopped (pid {process.pid})\n", "")


def test_stop_with_a_stale_state_fails_when_the_restore_left_entries(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path,
        fakeClaude: list[tuple[Path, Path]]) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    writeState(stateDir, deadPid(), 9100, config=str(config))
    code, out, err = run(capsys, stateDir, "stop")
    assert code == 1
    assert "stale state.json" in out
    assert err.startswith(f"mcpgateway: {config} still has 2 entries pointing at the stopped"
                          " gateway http://127.0.0.1:9100")
    assert not (stateDir / STATE_FILE).exists()


def test_stop_gives_up_after_the_timeout(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_STANDIN.replace("sys.exit(0)", "None"),
         str(stateDir / LOCK_FILE)], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        writeState(stateDir, process.pid, 9100)
        monkeypatch.setattr(cli, "STOP_TIMEOUT", 0.3)
        code, _, err = run(capsys, stateDir, "stop")
        assert code == 1
        assert f"(pid {process.pid}) is still running" in err
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


# -- restore ----------------------------------------------------------------------------

def test_restore_refuses_while_the_gateway_runs(
        capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway,
        fakeClaude: list[tuple[Path, Path]]) -> None:
    code, _, err = run(capsys, stateDir, "restore")
    assert code == 1
    assert "`mcpgateway stop`" in err
    assert fakeClaude == []


def test_restore(capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path,
                 fakeClaude: list[tuple[Path, Path]]) -> None:
    code, out, _ = run(capsys, stateDir, "restore", "--json")
    assert code == 0
    assert fakeClaude == [(home / ".claude.json", stateDir)]
    assert json.loads(out) == {"ok": True, "config": str(home / ".claude.json"),
                               "restored": ["search", "thinking"], "kept": ["remote"],
                               "notes": ["search: restored from the backup"]}


def test_restore_a_named_config(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                tmp_path: Path, fakeClaude: list[tuple[Path, Path]]) -> None:
    code, out, _ = run(capsys, stateDir, "restore", "--config", str(tmp_path / "x.json"))
    assert code == 0
    assert fakeClaude == [(tmp_path / "x.json", stateDir)]
    assert out.splitlines()[0] == f"restored 2 servers in {tmp_path / 'x.json'}: search, thinking"


def test_restore_without_the_clients_module_is_one_line(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise cli.CliError("cannot restore: No module named 'mcpgateway.clientconfigs'")

    monkeypatch.setattr(cli, "_claudeConfigClass", missing)
    code, out, err = run(capsys, stateDir, "restore")
    assert (code, out) == (1, "")
    assert err == "mcpgateway: cannot restore: No module named 'mcpgateway.clientconfigs'\n"


# -- start ------------------------------------------------------------------------------

def noLaunch(argv: list[str], **kwargs: Any) -> Any:
    raise AssertionError(f"must not launch {argv}")


def test_start_when_already_running_on_that_port(
        capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_launch", noLaunch)
    code, out, _ = run(capsys, stateDir, "start", "--port", str(running.port))
    assert code == 0
    assert out == f"mcpgateway is already running (pid {os.getpid()}, port {running.port})\n"
    code, out, _ = run(capsys, stateDir, "start")  # no --port: whatever port it has
    assert code == 0


def test_start_refuses_a_second_gateway_on_another_port(
        capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_launch", noLaunch)
    code, out, err = run(capsys, stateDir, "start", "--port", "1")
    assert (code, out) == (1, "")
    assert "already running" in err and "mcpgateway stop" in err


def test_gatewayArgv(tmp_path: Path) -> None:
    argv = cli.gatewayArgv(tmp_path, 9200, tmp_path / "c.json", foreground=False, rewrite=True)
    assert argv == [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                    "--pidfile", str(tmp_path / "twistd.pid"), "--logfile", "/dev/null",
                    "mcpgateway", "--port", "9200", "--state-dir", str(tmp_path),
                    "--log-file", str(tmp_path / "gateway.log"), "--rewrite-config",
                    "--config", str(tmp_path / "c.json")]
    foreground = cli.gatewayArgv(tmp_path, 9100, None, foreground=True, rewrite=False)
    assert foreground[foreground.index("mcpgateway") - 1] == "-n"
    assert "--rewrite-config" not in foreground and "--config" not in foreground


class FakeLauncher:
    """Plays twistd: exits with C{code}, and on success 'starts' the fake
    gateway by writing its state.json (pid: this process, lock held)."""

    def __init__(self, stateDir: Path, gateway: FakeGateway | None, code: int = 0,
                 output: bytes = b"", log: str = "") -> None:
        self.stateDir, self.gateway, self.code, self.output = stateDir, gateway, code, output
        self.log = log
        """What this run appends to gateway.log."""
        self.argv: list[str] = []
        self.returncode: int | None = None

    def __call__(self, argv: list[str], **kwargs: Any) -> FakeLauncher:
        self.argv = argv
        return self

    def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
        self.returncode = self.code
        if self.log:
            with open(self.stateDir / cli.LOG_FILE, "a") as f:
                f.write(self.log)
        if self.code == 0 and self.gateway is not None:
            writeState(self.stateDir, os.getpid(), self.gateway.port)
        return self.output, None


def test_start_launches_twistd_and_waits_for_health(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path, locked: None,
        fakeGateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    launcher = FakeLauncher(stateDir, fakeGateway)
    monkeypatch.setattr(cli, "_launch", launcher)
    code, out, _ = run(capsys, stateDir, "start", "--port", str(fakeGateway.port))
    assert code == 0
    assert "--rewrite-config" in launcher.argv
    assert launcher.argv[launcher.argv.index("--port") + 1] == str(fakeGateway.port)
    assert out.splitlines()[0] == (f"mcpgateway started (pid {os.getpid()}): 3 servers at"
                                   f" http://127.0.0.1:{fakeGateway.port}/<server>/mcp")
    assert "/health" in fakeGateway.requests


def test_start_without_a_claude_config_does_not_rewrite(
        capsys: pytest.CaptureFixture[str], stateDir: Path, locked: None,
        fakeGateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = FakeLauncher(stateDir, fakeGateway)
    monkeypatch.setattr(cli, "_launch", launcher)
    code, out, err = run(capsys, stateDir, "start", "--json", "--port", str(fakeGateway.port))
    assert code == 0
    assert "--rewrite-config" not in launcher.argv
    assert "bundled demo" in err
    document = json.loads(out)
    assert document["ok"] is True and document["pid"] == os.getpid()
    assert document["servers"] == ["context7", "serena", "tavily"]


def test_start_failure_shows_the_output_and_the_log(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_launch", FakeLauncher(
        stateDir, None, code=1, output=b"mcpgateway: bad config\n",
        log="".join(f"log line {i}\n" for i in range(30))))
    code, out, err = run(capsys, stateDir, "start", "--no-rewrite")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == "mcpgateway: the gateway did not start (twistd exit status 1)"
    assert "  mcpgateway: bad config" in lines
    assert f"last lines of {stateDir / cli.LOG_FILE} from this start:" in lines
    assert "  log line 29" in lines and "  log line 10" in lines
    assert "  log line 9" not in lines  # the last 20 lines only


def test_start_failure_shows_only_this_runs_log_lines(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (stateDir / cli.LOG_FILE).write_text("".join(f"earlier run {i}\n" for i in range(30)))
    monkeypatch.setattr(cli, "_launch", FakeLauncher(
        stateDir, None, code=1, log="this run: cannot listen on port 9100\n"))
    code, out, err = run(capsys, stateDir, "start", "--no-rewrite")
    assert code == 1
    assert "earlier run" not in err
    assert err.splitlines()[-2:] == [f"last lines of {stateDir / cli.LOG_FILE} from this start:",
                                     "  this run: cannot listen on port 9100"]
    code, out, _ = run(capsys, stateDir, "start", "--no-rewrite", "--json")
    assert json.loads(out)["log"] == ["this run: cannot listen on port 9100"]


def test_start_failure_prints_no_log_lines_when_this_run_wrote_none(
        capsys: pytest.CaptureFixture[str], stateDir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (stateDir / cli.LOG_FILE).write_text("earlier run\n")
    monkeypatch.setattr(cli, "_launch", FakeLauncher(stateDir, None, code=1, output=b"boom\n"))
    code, _, err = run(capsys, stateDir, "start", "--no-rewrite")
    assert code == 1
    assert err.splitlines() == ["mcpgateway: the gateway did not start (twistd exit status 1)",
                                "twistd said:", "  boom"]


def test_tail_since_a_position(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    assert cli.logPosition(log) is None
    log.write_text("old 1\nold 2\n")
    position = cli.logPosition(log)
    with open(log, "a") as f:
        f.write("new 1\nnew 2\n")
    assert cli.tail(log, since=position) == ["new 1", "new 2"]
    assert cli.tail(log, 1, since=position) == ["new 2"]
    assert cli.tail(log) == ["old 1", "old 2", "new 1", "new 2"]
    log.rename(tmp_path / "gateway.log.1")  # rotated: a new file, all of it this run's
    log.write_text("after rotation\n")
    assert cli.tail(log, since=position) == ["after rotation"]


def test_start_fails_when_the_daemon_dies(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (stateDir / cli.PID_FILE).write_text(str(deadPid()))
    monkeypatch.setattr(cli, "_launch", FakeLauncher(stateDir, None))
    code, _, err = run(capsys, stateDir, "start", "--port", str(freePort()))
    assert code == 1
    assert "exited while starting" in err


def test_start_times_out_when_health_never_answers(
        capsys: pytest.CaptureFixture[str], stateDir: Path, locked: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    port = freePort()

    class Launcher(FakeLauncher):
        def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
            self.returncode = 0
            writeState(stateDir, os.getpid(), port)
            return b"", None

    monkeypatch.setattr(cli, "_launch", Launcher(stateDir, None))
    monkeypatch.setattr(cli, "START_TIMEOUT", 0.5)
    code, _, err = run(capsys, stateDir, "start", "--port", str(port))
    assert code == 1
    assert f"did not answer http://127.0.0.1:{port}/health within" in err


@pytest.mark.parametrize(("exit", "code"), [
    (-signal.SIGTERM, 0), (-signal.SIGINT, 0), (-signal.SIGKILL, 137), (1, 1), (0, 0)])
def test_start_foreground_runs_twistd_in_this_terminal(
        capsys: pytest.CaptureFixture[str], stateDir: Path, monkeypatch: pytest.MonkeyPatch,
        exit: int, code: int) -> None:
    launched: list[tuple[list[str], dict[str, Any]]] = []

    class Process:
        def wait(self) -> int:
            return exit

    def launch(argv: list[str], **kwargs: Any) -> Process:
        launched.append((argv, kwargs))
        return Process()

    monkeypatch.setattr(cli, "_launch", launch)
    assert cli.main(["start", "--foreground", "--no-rewrite", "--state-dir", str(stateDir)]) \
        == code
    [(argv, kwargs)] = launched
    assert kwargs == {}  # stdio inherited
    assert argv[argv.index("mcpgateway") - 1] == "-n"
    assert argv[argv.index("--logfile") + 1] == "-"
    assert "running in the foreground" in capsys.readouterr().err


def test_start_refuses_a_missing_config(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_launch", noLaunch)
    code, _, err = run(capsys, stateDir, "start", "--config", "/nonexistent.json")
    assert code == 1
    assert err == "mcpgateway: --config /nonexistent.json: no such file\n"


def test_start_rejects_port_0(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    assert cli.main(["start", "--port", "0", "--state-dir", str(stateDir)]) == 2
    assert capsys.readouterr().err == (
        "mcpgateway start: argument --port: 0 is not a port (1-65535)\n"
        "`mcpgateway start --help` lists the options\n")


# -- the command line --------------------------------------------------------------------

def test_state_dir_defaults_to_MCPGATEWAY_HOME(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("MCPGATEWAY_HOME", str(tmp_path / "gw"))
    assert cli.resolveStateDir(None) == tmp_path / "gw"
    monkeypatch.delenv("MCPGATEWAY_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.resolveStateDir(None) == tmp_path / ".mcpgateway"


def test_unexpected_errors_are_one_line(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(stateDir: Path) -> Any:
        raise ValueError("surprise")

    monkeypatch.setattr(cli, "probe", boom)
    code, out, err = run(capsys, stateDir, "status")
    assert code == 1
    assert err == ("mcpgateway: unexpected error: ValueError: surprise"
                   " (MCPGATEWAY_DEBUG=1 shows more)\n")
    code, out, err = run(capsys, stateDir, "status", "--json")
    assert json.loads(out)["ok"] is False


def test_module_runs_as_a_script(stateDir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(stateDir),
                           "doctor", "--json"], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 1
    assert json.loads(done.stdout)["checks"][0]["name"] == "gateway"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (59.9, "59s"), (61, "1m 01s"), (3725, "1h 02m"), (90000, "1d 1h")])
def test_formatDuration(seconds: float, text: str) -> None:
    assert cli.formatDuration(seconds) == text


# -- servers and logs: the management API ---------------------------------------------

SERVERS: list[dict[str, Any]] = [
    {"name": "demo", "origin": "config", "mode": "stateless", "state": "running",
     "children": 1, "pids": [11], "requests": 5, "inFlight": 0, "restarts": 0,
     "failures": 0, "circuit": "closed", "sessions": 2},
    {"name": "extra", "origin": "api", "mode": "stateful", "state": "error", "children": 0,
     "pids": [], "requests": 0, "inFlight": 0, "restarts": 3, "failures": 5,
     "circuit": "open", "sessions": 0, "error": "server 'extra' is failing: 5 failure(s)"},
]
SUMMARY = {"name": "demo2", "origin": "api", "mode": "stateless", "state": "stopped",
           "children": 0}


def api(fake: FakeGateway, method: str, path: str, status: int, body: Any) -> None:
    fake.routes[(method, "/api/v1" + path)] = (status, body)


def lastCall(fake: FakeGateway) -> tuple[str, str, dict[str, str], Any]:
    method, path, headers, body = fake.calls[-1]
    return method, path, headers, json.loads(body) if body else None


def sse(*events: dict[str, Any]) -> bytes:
    frames = [b": keep-alive\n\n"]
    frames += [b"event: message\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return b"".join(frames)


def test_servers_list_prints_a_table(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                     running: FakeGateway) -> None:
    api(running, "GET", "/servers", 200, {"servers": SERVERS})
    code, out, err = run(capsys, stateDir, "servers", "list")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "NAME   STATE    MODE       CHILDREN  SESSIONS  REQUESTS  RESTARTS  FROM",
        "demo   running  stateless  1         2         5         0         config",
        "extra  error    stateful   0         0         0         3         api",
        "  ! extra: server 'extra' is failing: 5 failure(s)",
    ]
    method, path, headers, body = lastCall(running)
    assert (method, path, body) == ("GET", "/api/v1/servers", None)
    assert "authorization" not in headers


def test_servers_list_json_and_no_servers(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                          running: FakeGateway) -> None:
    api(running, "GET", "/servers", 200, {"servers": SERVERS})
    code, out, _ = run(capsys, stateDir, "servers", "list", "--json")
    assert code == 0 and json.loads(out) == {"servers": SERVERS}
    api(running, "GET", "/servers", 200, {"servers": []})
    code, out, _ = run(capsys, stateDir, "servers", "list")
    assert code == 0 and "no servers" in out


def test_state_dir_and_json_go_anywhere(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                        running: FakeGateway) -> None:
    api(running, "GET", "/servers", 200, {"servers": []})
    for argv in (["--state-dir", str(stateDir), "--json", "servers", "list"],
                 ["servers", "--state-dir", str(stateDir), "--json", "list"],
                 ["servers", "list", "--json", "--state-dir", str(stateDir)]):
        assert cli.main(argv) == 0
        assert json.loads(capsys.readouterr().out) == {"servers": []}


def test_the_token_is_sent_from_the_environment(capsys: pytest.CaptureFixture[str],
                                                stateDir: Path, running: FakeGateway,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "tok-123")
    api(running, "GET", "/servers", 200, {"servers": []})
    assert run(capsys, stateDir, "servers", "list")[0] == 0
    assert lastCall(running)[2]["authorization"] == "Bearer tok-123"


def test_a_refused_token_is_one_line(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                     running: FakeGateway,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = {"error": "this gateway's management API needs Authorization: Bearer <token>"}
    api(running, "GET", "/servers", 401, refusal)
    code, out, err = run(capsys, stateDir, "servers", "list")
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: {refusal['error']}; MCPGATEWAY_API_TOKEN is not set\n"
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "wrong")
    code, out, err = run(capsys, stateDir, "servers", "list")
    assert err == f"mcpgateway: {refusal['error']}\n"
    assert "wrong" not in err
    code, out, err = run(capsys, stateDir, "servers", "list", "--json")
    assert json.loads(out) == {"ok": False, "error": refusal["error"]}


def test_servers_commands_need_a_running_gateway(capsys: pytest.CaptureFixture[str],
                                                 stateDir: Path) -> None:
    for args in (["servers", "list"], ["servers", "remove", "x"], ["logs", "x"],
                 ["servers", "restart", "x"]):
        code, _out, err = run(capsys, stateDir, *args)
        assert code == 1
        assert err == "mcpgateway: the gateway is not running; `mcpgateway start` starts it\n"


def test_an_older_gateway_without_the_api_is_named(capsys: pytest.CaptureFixture[str],
                                                   stateDir: Path,
                                                   running: FakeGateway) -> None:
    code, _, err = run(capsys, stateDir, "servers", "list")
    assert code == 1
    assert "this gateway has no management API (/api/v1); restart it" in err


def test_servers_add_posts_the_command_and_its_options(
        capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FROM_SHELL", "shell-value")
    monkeypatch.chdir(tmp_path)
    api(running, "POST", "/servers", 201, SUMMARY)
    code = cli.main(["servers", "add", "--state-dir", str(stateDir), "demo2", "--env", "A=1",
                     "--env", "B=x=y", "--env", "FROM_SHELL", "--mode", "stateless",
                     "--cwd", "work", "--", "./bin/server", "-m", "mod", "--verbose"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"added demo2 (stateless): http://127.0.0.1:{running.port}/demo2/mcp\n"
    method, path, headers, body = lastCall(running)
    assert (method, path) == ("POST", "/api/v1/servers")
    assert headers["content-type"] == "application/json"
    assert body == {"name": "demo2", "command": str(tmp_path / "bin" / "server"),
                    "args": ["-m", "mod", "--verbose"],
                    "env": {"A": "1", "B": "x=y", "FROM_SHELL": "shell-value"},
                    "mode": "stateless", "cwd": str(tmp_path / "work")}


def test_servers_add_minimal_and_json(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                      running: FakeGateway) -> None:
    api(running, "POST", "/servers", 201, SUMMARY)
    code = cli.main(["--json", "--state-dir", str(stateDir), "servers", "add", "demo2",
                     "python3"])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out) == {"ok": True, "server": SUMMARY,
                               "url": f"http://127.0.0.1:{running.port}/demo2/mcp"}
    assert lastCall(running)[3] == {"name": "demo2", "command": "python3", "args": []}


def test_servers_add_refusals_are_one_line(capsys: pytest.CaptureFixture[str],
                                           stateDir: Path, running: FakeGateway,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    api(running, "POST", "/servers", 400, {"error": "env: key(s) not allowed: LD_PRELOAD"})
    base = ["servers", "add", "--state-dir", str(stateDir)]
    assert cli.main([*base, "x", "--env", "LD_PRELOAD=/x.so", "--", "cmd"]) == 1
    assert capsys.readouterr().err == "mcpgateway: env: key(s) not allowed: LD_PRELOAD\n"
    calls = len(running.calls)
    assert cli.main([*base, "x", "--env", "=v", "--", "cmd"]) == 1
    assert "--env '=v': must be KEY=VALUE" in capsys.readouterr().err
    assert cli.main([*base, "x", "--env", "NOT_SET_HERE", "--", "cmd"]) == 1
    assert "NOT_SET_HERE is not set in this shell" in capsys.readouterr().err
    assert len(running.calls) == calls  # refused before asking the gateway
    assert cli.main([*base, "x"]) == 2  # no command
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "method", "path", "body", "answer", "printed"), [
    (["remove", "demo2"], "DELETE", "/servers/demo2", None, {"removed": "demo2"},
     "removed demo2"),
    (["enable", "demo2"], "PATCH", "/servers/demo2", {"enabled": True},
     {**SUMMARY, "state": "stopped"}, "enabled demo2 (state: stopped)"),
    (["disable", "demo2"], "PATCH", "/servers/demo2", {"enabled": False},
     {**SUMMARY, "state": "disabled"}, "disabled demo2: its children are stopped and its"
                                       " requests refused until `mcpgateway servers enable`"),
    (["restart", "demo2"], "POST", "/servers/demo2/restart", None,
     {"restarted": "demo2", "stopped": [41, 42]},
     "restarted demo2: stopped pid 41, 42; the next request starts a fresh child"),
    (["restart", "demo2"], "POST", "/servers/demo2/restart", None,
     {"restarted": "demo2", "stopped": []}, "restarted demo2 (no child was running)"),
    (["reset-circuit", "demo2"], "POST", "/servers/demo2/reset-circuit", None,
     {**SUMMARY, "state": "stopped", "circuit": "closed"},
     "reset the circuit of demo2 (state: stopped)"),
])
def test_server_changes(capsys: pytest.CaptureFixture[str], stateDir: Path,
                        running: FakeGateway, args: list[str], method: str, path: str,
                        body: Any, answer: Any, printed: str) -> None:
    api(running, method, path, 200, answer)
    code, out, err = run(capsys, stateDir, "servers", *args)
    assert (code, out, err) == (0, printed + "\n", "")
    assert lastCall(running)[:2] == (method, "/api/v1" + path)
    assert lastCall(running)[3] == body
    code, out, _ = run(capsys, stateDir, "servers", *args, "--json")
    assert json.loads(out) == {"ok": True, **answer}


@pytest.mark.parametrize("args", [["remove", "nope"], ["enable", "nope"], ["disable", "nope"],
                                  ["restart", "nope"], ["reset-circuit", "nope"]])
def test_server_changes_of_unknown_servers(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                           running: FakeGateway, args: list[str]) -> None:
    for method in ("DELETE", "PATCH", "POST"):
        for suffix in ("", "/restart", "/reset-circuit"):
            api(running, method, "/servers/nope" + suffix, 404,
                {"error": "no server named 'nope'"})
    code, out, err = run(capsys, stateDir, "servers", *args)
    assert (code, out, err) == (1, "", "mcpgateway: no server named 'nope'\n")


def test_remove_of_a_main_config_server_says_why(capsys: pytest.CaptureFixture[str],
                                                 stateDir: Path, running: FakeGateway) -> None:
    message = ("server 'demo' comes from /home/u/.claude.json; remove it there, or disable"
               " it here")
    api(running, "DELETE", "/servers/demo", 409, {"error": message})
    assert run(capsys, stateDir, "servers", "remove", "demo")[2] == f"mcpgateway: {message}\n"


EVENTS: list[dict[str, Any]] = [
    {"time": 1700000000.5, "kind": "started", "text": "child pid 7 started", "pid": 7},
    {"time": 1700000001.0, "kind": "stderr", "text": "listening on stdio"}]


def stamp(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def test_logs_no_follow_prints_the_recent_events(capsys: pytest.CaptureFixture[str],
                                                 stateDir: Path, running: FakeGateway) -> None:
    api(running, "GET", "/servers/demo/logs?follow=false", 200,
        {"server": "demo", "events": EVENTS})
    code, out, err = run(capsys, stateDir, "logs", "demo", "--no-follow")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{stamp(EVENTS[0]['time'])} started       child pid 7 started",
        f"{stamp(EVENTS[1]['time'])} stderr        listening on stdio"]
    code, out, _ = run(capsys, stateDir, "logs", "demo", "--no-follow", "--json")
    assert [json.loads(line) for line in out.splitlines()] == EVENTS
    api(running, "GET", "/servers/demo/logs?follow=false", 200, {"server": "demo", "events": []})
    code, out, err = run(capsys, stateDir, "logs", "demo", "--no-follow")
    assert (code, out, err) == (0, "", "mcpgateway: no events for demo yet\n")


def test_logs_follow_the_stream(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                running: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "tok-123")
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS, removed))
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert (code, err) == (0, "")
    assert [line.split(None, 2)[1] for line in out.splitlines()] == [
        "started", "stderr", "removed"]
    headers = lastCall(running)[2]
    assert headers["accept"] == "text/event-stream"
    assert headers["authorization"] == "Bearer tok-123"
    code, out, _ = run(capsys, stateDir, "logs", "demo", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [*EVENTS, removed]


def test_logs_say_when_the_gateway_ends_the_stream(capsys: pytest.CaptureFixture[str],
                                                   stateDir: Path,
                                                   running: FakeGateway) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err == "mcpgateway: the gateway ended the log stream of demo\n"


def test_logs_refusals(capsys: pytest.CaptureFixture[str], stateDir: Path,
                       running: FakeGateway) -> None:
    api(running, "GET", "/servers/demo/logs", 503,
        {"error": "too many log streams: 20 are open"})
    api(running, "GET", "/servers/nope/logs", 404, {"error": "no server named 'nope'"})
    api(running, "GET", "/servers/nope/logs?follow=false", 404,
        {"error": "no server named 'nope'"})
    assert run(capsys, stateDir, "logs", "demo")[2] == (
        "mcpgateway: too many log streams: 20 are open\n")
    assert run(capsys, stateDir, "logs", "nope")[2] == "mcpgateway: no server named 'nope'\n"
    assert run(capsys, stateDir, "logs", "nope", "--no-follow")[2] == (
        "mcpgateway: no server named 'nope'\n")


def test_logs_stop_quietly_on_ctrl_c(capsys: pytest.CaptureFixture[str], stateDir: Path,
                                     running: FakeGateway,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    printed: list[dict[str, Any]] = []

    def interrupt(out: cli.Output, event: dict[str, Any]) -> None:
        printed.append(event)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "printEvent", interrupt)
    code, out, err = run(capsys, stateDir, "logs", "demo")
    assert (code, out, err) == (0, "", "")
    assert printed == EVENTS[:1]


def test_readEvents_parses_sse_frames() -> None:
    lines = iter([b": keep-alive\n", b"\n", b"event: message\n", b'data: {"a":\n',
                  b"data: 1}\n", b"\n", b"data: not json\n", b"\n", b"data: [1]\n", b"\n",
                  b"data:{\"b\": 2}\r\n", b"\r\n", b'data: {"c": 3}\n'])
    assert list(cli.readEvents(lines)) == [{"a": 1}, {"b": 2}]


# -- doctor and status: npx/uvx resolution, refused server-to-client requests -----------

def withServers(**servers: dict[str, Any]) -> dict[str, Any]:
    """HEALTH with these servers added (or changed), as /health answers them."""
    return {**HEALTH, "servers": {**HEALTH["servers"], **servers}}


def npxServer(state: str, detail: str) -> dict[str, Any]:
    return {**HEALTH["servers"]["tavily"], "resolution": {"state": state, "detail": detail}}


def test_doctor_fails_on_a_failed_resolution(capsys: pytest.CaptureFixture[str],
                                             stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, withServers(
        memory=npxServer("failed", "npm install @modelcontextprotocol/server-memory: E404"),
        fetch=npxServer("pending", "installing mcp-server-fetch with uv"),
        context7={**HEALTH["servers"]["context7"],
                  "resolution": {"state": "resolved", "detail": "/x/bin/context7-mcp"}}))
    result = check(stateDir, "resolution")
    assert result.status == "fail"
    assert result.message == "npx/uvx resolution failed for memory; under way for fetch"
    assert result.details == (
        "fetch: pending: installing mcp-server-fetch with uv",
        "memory: failed: npm install @modelcontextprotocol/server-memory: E404")
    assert result.fix is not None and "network, registry, package name" in result.fix
    assert "`mcpgateway stop` and `mcpgateway start`" in result.fix
    code, out, _ = run(capsys, stateDir, "doctor")
    assert code == 1
    lines = out.splitlines()
    at = lines.index("  ✗ npx/uvx resolution failed for memory; under way for fetch")
    assert lines[at + 1:at + 4] == [
        "    fetch: pending: installing mcp-server-fetch with uv",
        "    memory: failed: npm install @modelcontextprotocol/server-memory: E404",
        f"    → {result.fix}"]
    code, out, _ = run(capsys, stateDir, "status")
    assert code == 0
    lines = out.splitlines()
    memory = next(i for i, line in enumerate(lines) if line.startswith("  ○ memory"))
    assert lines[memory + 1] == ("      ! npx/uvx resolution failed: npm install"
                                 " @modelcontextprotocol/server-memory: E404")
    fetch = next(i for i, line in enumerate(lines) if line.startswith("  ○ fetch"))
    assert lines[fetch + 1] == ("      … npx/uvx resolution under way: installing"
                                " mcp-server-fetch with uv")
    context7 = next(i for i, line in enumerate(lines) if line.startswith("  ○ context7"))
    assert "resolution" not in lines[context7 + 1]


def test_doctor_reports_a_pending_resolution_as_info(stateDir: Path,
                                                     running: FakeGateway) -> None:
    running.answers["/health"] = (200, withServers(fetch=npxServer("pending", "")))
    result = check(stateDir, "resolution")
    assert result == cli.Check("info", "npx/uvx resolution under way for fetch: their requests"
                                       " wait for it (at most the request timeout)",
                               None, ("fetch: pending",))
    assert all(status != "fail" for name, c in cli.runChecks(stateDir)
               for status in [c.status] if name == "resolution")


def test_doctor_resolution_passes_or_has_nothing_to_say(stateDir: Path,
                                                        running: FakeGateway) -> None:
    assert check(stateDir, "resolution") == cli.Check("info", "No npx/uvx server to resolve")
    running.answers["/health"] = (200, withServers(fetch=npxServer("resolved", "/bin/x")))
    assert check(stateDir, "resolution") == cli.Check(
        "pass", "npx/uvx resolution: 1 server resolved")


def test_resolution_and_server_requests_are_not_checked_without_a_gateway(
        stateDir: Path) -> None:
    assert check(stateDir, "resolution") == cli.Check(
        "info", "npx/uvx resolution not checked (gateway not running)")
    assert check(stateDir, "serverRequests") == cli.Check(
        "info", "Server-to-client requests not checked (gateway not running)")


AMBIGUOUS_WARNING = ("3 server-to-client request(s) arrived while several sessions had"
                     " requests in flight; run this server stateful to route them exactly")


def test_doctor_fails_on_refused_server_to_client_requests(
        capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, withServers(everything={
        **HEALTH["servers"]["context7"], "ambiguousServerRequests": 3,
        "warning": AMBIGUOUS_WARNING}))
    result = check(stateDir, "serverRequests")
    assert result.status == "fail"
    assert result.message == ("Server-to-client requests refused (no way to tell which session"
                              " they belong to on a shared child): everything (3)")
    assert result.fix == ("run everything per session (\"mode\": \"stateful\" in its entry or"
                          f" {stateDir / cli.CLASSIFICATION_FILE})")
    assert result.details == (f"everything: {AMBIGUOUS_WARNING}",)
    code, out, _ = run(capsys, stateDir, "doctor", "--json")
    assert code == 1
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["serverRequests"]["status"] == "fail"
    assert checks["serverRequests"]["details"] == [f"everything: {AMBIGUOUS_WARNING}"]
    code, out, _ = run(capsys, stateDir, "status")
    assert f"      ! {AMBIGUOUS_WARNING}" in out.splitlines()


def test_status_shows_refused_requests_without_a_warning_text(stateDir: Path) -> None:
    found = cli.GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = {**HEALTH["servers"]["context7"], "ambiguousServerRequests": 2}
    lines = cli.renderStatus(found, {"servers": {"everything": server}}, [])
    assert ("      ! 2 server-to-client requests refused: no way to tell which session they"
            " belong to; run it per session (\"mode\": \"stateful\")") in lines


def test_server_requests_of_an_older_gateway_are_not_counted(
        stateDir: Path, running: FakeGateway) -> None:
    old = {name: {k: v for k, v in server.items() if k != "ambiguousServerRequests"}
           for name, server in HEALTH["servers"].items()}
    running.answers["/health"] = (200, {**HEALTH, "servers": old})
    assert check(stateDir, "serverRequests") == cli.Check(
        "info", "Server-to-client requests not counted by this gateway")


# -- status: entries pointing at a gateway that cannot serve or restore them -------------

def test_status_is_loud_about_entries_no_gateway_serves_and_no_backup_restores(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    code, out, _ = run(capsys, stateDir, "status")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "mcpgateway is not running"
    assert lines[1] == (
        "  ! 2 entries point at http://127.0.0.1:9100, where the gateway is not running, and"
        f" no usable backup holds their originals (there is no {stateDir / cli.BACKUP_FILE}):"
        " `mcpgateway restore` cannot put them back")
    assert lines[2].startswith("    → re-add a, c (project /work/p) with `claude mcp add")
    code, out, _ = run(capsys, stateDir, "status", "--json")
    document = json.loads(out)
    assert document["running"] is False
    client = document["clientConfig"]
    assert client["path"] == str(home / ".claude.json")
    assert client["viaGateway"] == ["a", "c (project /work/p)"]
    assert client["backup"] == {"path": str(stateDir / cli.BACKUP_FILE), "servers": None,
                                "error": None}
    assert client["problem"]["message"] == lines[1].removeprefix("  ! ")


def test_status_names_the_way_out_when_a_backup_can_restore(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, home / ".claude.json")
    code, out, _ = run(capsys, stateDir, "status")
    assert code == 1
    assert out.splitlines() == [
        "mcpgateway is not running",
        "  ! 2 entries point at http://127.0.0.1:9100, where the gateway is not running",
        "    → run `mcpgateway start` to serve them again, or `mcpgateway restore` to put the"
        " stdio entries back"]


def test_status_of_a_running_gateway_whose_backup_is_gone(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path,
        running: FakeGateway) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    code, out, _ = run(capsys, stateDir, "status")
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  config "))
    assert lines[at + 1] == (
        f"  ! 2 entries point at http://127.0.0.1:{running.port}, and no usable backup holds"
        f" their originals (there is no {stateDir / cli.BACKUP_FILE}): `mcpgateway restore`"
        " cannot put them back")
    assert lines[at + 2].startswith("    → re-add a, c (project /work/p)")
    writeBackup(stateDir, home / ".claude.json")
    code, out, _ = run(capsys, stateDir, "status")
    assert " ! " not in out.replace("      ! route them exactly", "")
    document = json.loads(run(capsys, stateDir, "status", "--json")[1])
    assert document["clientConfig"]["problem"] is None
    assert document["clientConfig"]["backup"]["servers"] == 3


def test_status_without_a_config_says_nothing_more(capsys: pytest.CaptureFixture[str],
                                                   stateDir: Path) -> None:
    code, out, _ = run(capsys, stateDir, "status", "--json")
    assert code == 1
    client = json.loads(out)["clientConfig"]
    assert client["exists"] is False and client["viaGateway"] == []
    assert client["problem"] is None


# -- start: a config the gateway will not rewrite -----------------------------------------

def test_start_refuses_a_config_outside_home_and_says_how_to_serve_it(
        capsys: pytest.CaptureFixture[str], stateDir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "team" / "servers.json"
    outside.parent.mkdir()
    outside.write_text('{"mcpServers": {}}')
    monkeypatch.setattr(cli, "_launch", noLaunch)
    code, out, err = run(capsys, stateDir, "start", "--config", str(outside))
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert "is outside the home directory" in err
    assert (f"add --no-rewrite (`mcpgateway start --no-rewrite --config {outside}`" in err)
    code, out, _ = run(capsys, stateDir, "start", "--config", str(outside), "--json")
    assert code == 1 and "--no-rewrite" in json.loads(out)["error"]


def test_start_refuses_a_symlink_in_home_to_a_file_outside(
        capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "dotfiles" / ".claude.json"
    real.parent.mkdir()
    real.write_text('{"mcpServers": {}}')
    (home / ".claude.json").symlink_to(real)
    monkeypatch.setattr(cli, "_launch", noLaunch)
    code, _, err = run(capsys, stateDir, "start")  # the default config
    assert code == 1
    assert f"(resolved: {real})" in err
    assert "add --no-rewrite (`mcpgateway start --no-rewrite`" in err


def test_start_no_rewrite_serves_a_config_outside_home(
        capsys: pytest.CaptureFixture[str], stateDir: Path, tmp_path: Path, locked: None,
        fakeGateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "servers.json"
    outside.write_text('{"mcpServers": {}}')
    launcher = FakeLauncher(stateDir, fakeGateway)
    monkeypatch.setattr(cli, "_launch", launcher)
    code, _, err = run(capsys, stateDir, "start", "--no-rewrite", "--config", str(outside),
                       "--port", str(fakeGateway.port))
    assert (code, err) == (0, "")
    assert "--rewrite-config" not in launcher.argv
    assert launcher.argv[launcher.argv.index("--config") + 1] == str(outside)


# -- the command line: errors and help ----------------------------------------------------

@pytest.mark.parametrize(("argv", "first", "command"), [
    (["start", "--bogus"], "mcpgateway start: unrecognized arguments: --bogus",
     "mcpgateway start"),
    (["--bogus", "status"], "mcpgateway status: unrecognized arguments: --bogus",
     "mcpgateway status"),
    ([], "mcpgateway: the following arguments are required: COMMAND", "mcpgateway"),
    (["stop", "now"], "mcpgateway stop: unrecognized arguments: now", "mcpgateway stop"),
    (["servers", "frob"], "mcpgateway servers: argument ACTION: invalid choice: 'frob'",
     "mcpgateway servers"),
    (["--state-dir", "/x", "servers", "add"],
     "mcpgateway servers add: the following arguments are required: NAME, COMMAND",
     "mcpgateway servers add"),
    (["servers", "restart", "a", "--mode", "x"],
     "mcpgateway servers restart: unrecognized arguments: --mode x",
     "mcpgateway servers restart"),
])
def test_a_bad_command_line_is_one_line_and_a_pointer_to_help(
        capsys: pytest.CaptureFixture[str], argv: list[str], first: str, command: str) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(first)
    assert lines[1:] == [f"`{command} --help` lists the options"]
    assert "usage:" not in err


def test_a_bad_command_line_with_json_is_a_json_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--json", "--bogus"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {"ok": False,
                               "error": "mcpgateway status: unrecognized arguments: --bogus"}


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


def test_every_command_has_a_description_in_its_help(
        capsys: pytest.CaptureFixture[str]) -> None:
    found = dict(subcommands(cli.makeParser()))
    assert {("stop",), ("status",), ("doctor",), ("servers", "list"),
            ("servers", "restart")} <= set(found)
    for path, parser in found.items():
        assert parser.description, f"`mcpgateway {' '.join(path)} --help` has no description"
        with pytest.raises(SystemExit) as exit:
            cli.main([*path, "--help"])
        assert exit.value.code == 0
        text = capsys.readouterr().out
        assert parser.description.split()[0] in text.split("\n\n")[1], path
