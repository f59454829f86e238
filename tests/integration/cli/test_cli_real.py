"""The C{mcpgateway} command against a real gateway: C{start} (detached
twistd), C{status}, C{doctor}, C{stop}, and the crash path (SIGKILL, then
C{stop} restores the config), with HOME and the state directory in
C{tmp_path} and a C{~/.claude.json} holding one stdio entry (the demo)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

import anyio
import pytest
from mcp import Client

from mcpgateway import __version__
from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import waitFor
from tests.support.integration.cli_real import Cli, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture
from tests.support.integration.detached import startForeground

pytestmark = pytest.mark.integration


CLAUDE_JSON = {
    "numStartups": 7,
    "mcpServers": {
        "demo": {
            "type": "stdio",
            "command": sys.executable,
            "args": ["-m", "mcpgateway.demo"],
            "env": {},
        }
    },
    "projects": {"/work/p": {"allowedTools": [], "mcpServers": {}}},
    "userID": "abc",
}


def withoutTimestamp(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "_mcp_gateway_ts"}


async def echo(url: str) -> str:
    async with Client(url, mode="legacy") as client:
        result = await client.call_tool("echo", {"message": "through the cli's gateway"})
        return str(result.content[0].text)  # type: ignore[union-attr]


async def statusWithAnAggregateSession(cli: Cli, port: int) -> tuple[list[str], str]:
    """C{status}'s lines while one session is open on the demo's endpoint
    and one on C{/mcp} that called the demo (a member session on it), and
    what the call through C{/mcp} answered."""
    base = f"http://127.0.0.1:{port}"
    async with (
        Client(f"{base}/mcp", mode="legacy") as whole,
        Client(f"{base}/demo/mcp", mode="legacy") as own,
    ):
        result = await whole.call_tool("demo__echo", {"message": "through /mcp"})
        await own.call_tool("echo", {"message": "on its own endpoint"})
        status = await anyio.to_thread.run_sync(cli, "status")
    assert status.returncode == 0, status.stderr
    return status.stdout.splitlines(), str(result.content[0].text)  # type: ignore[union-attr]


def test_start_status_doctor_stop_round_trip(cli: Cli) -> None:
    config = cli.home / ".claude.json"
    config.write_text(json.dumps(CLAUDE_JSON, indent=2))
    port = freePort()

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert f"http://127.0.0.1:{port}/demo/mcp" in started.stdout
    state = cli.state()
    assert state is not None and state["port"] == port and state["rewriteConfig"] is True
    gatewayPid = state["pid"]
    assert pidAlive(gatewayPid)

    rewritten = json.loads(config.read_text())
    demo = rewritten["mcpServers"]["demo"]
    assert demo["type"] == "http" and f"127.0.0.1:{port}/demo/mcp" in demo["url"]
    assert rewritten["numStartups"] == 7 and rewritten["userID"] == "abc"

    assert "through the cli's gateway" in anyio.run(echo, demo["url"])

    again = cli("start", "--port", str(port))
    assert again.returncode == 0 and "already running" in again.stdout
    other = cli("start", "--port", str(freePort()))
    assert other.returncode == 1 and "already running" in other.stderr

    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["running"] is True and document["pid"] == gatewayPid
    server = document["health"]["servers"]["demo"]
    assert server["children"] == 1 and server["requests"] >= 1
    childPids = server["pids"]
    assert all(pidAlive(pid) for pid in childPids)
    text = cli("status")
    assert text.returncode == 0
    assert f"running: pid {gatewayPid}, port {port}" in text.stdout
    assert "● demo  global  " in text.stdout  # adopted from the user's entries: shared by all
    assert "share: ● global · ◐ workspace · ◔ credential · ◆ session" in text.stdout

    # A session on the aggregate endpoint counts in the gateway's line, on a line of its own.
    lines, answer = anyio.run(statusWithAnAggregateSession, cli, port)
    assert answer == "through /mcp"
    assert lines[1].startswith("  1 server, 1 child, ") and ", 2 sessions" in lines[1]
    [demoLine] = [line for line in lines if line.startswith("  ● demo ")]
    assert demoLine.endswith("  1 session")  # its own endpoint's, not the member of /mcp's
    [aggregate] = [line for line in lines if line.startswith("    /mcp ")]
    assert aggregate.split() == [
        "/mcp", "aggregate", "1", "session", "·", "using", "demo", "(not", "in", "their",
        "counts)",
    ]  # fmt: skip

    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert f"✓ Gateway running (PID {gatewayPid}, port {port})" in doctor.stdout
    assert "✓ Claude config: 1 via gateway, 0 stdio, 0 other" in doctor.stdout
    assert "✓ Config backup valid (1 server backed up)" in doctor.stdout
    assert "● demo (global, 1 child," in doctor.stdout
    assert f"✓ Version: the gateway runs mcpgateway {__version__}, the one installed" in (
        doctor.stdout
    )
    assert "✓ Held calls: none waits for your yes" in doctor.stdout
    assert "\x1b[" not in doctor.stdout
    assert json.loads(cli("doctor", "--json").stdout)["ok"] is True

    stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"mcpgateway stopped (pid {gatewayPid})\n"
    assert not pidAlive(gatewayPid)
    assert waitFor(lambda: not any(pidAlive(pid) for pid in childPids), 10)
    assert cli.state() is None
    assert cli.gatewayPids() == []
    assert withoutTimestamp(json.loads(config.read_text())) == CLAUDE_JSON
    assert not (cli.stateDir / "config-backup.json").exists()

    status = cli("status")
    assert (status.returncode, status.stdout) == (1, "mcpgateway is not running\n")


def test_stop_after_a_crash_restores_the_config(cli: Cli) -> None:
    config = cli.home / ".claude.json"
    config.write_text(json.dumps(CLAUDE_JSON))
    started = cli("start", "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout
    state = cli.state()
    assert state is not None
    assert json.loads(config.read_text())["mcpServers"]["demo"]["type"] == "http"

    os.kill(state["pid"], signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(state["pid"]), 10)

    status = cli("status")
    assert status.returncode == 1 and "stale state.json" in status.stdout
    doctor = cli("doctor", "--json")
    assert doctor.returncode == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["gateway"]["status"] == "fail" and "mcpgateway stop" in checks["gateway"]["fix"]
    assert checks["claudeConfig"]["status"] == "fail"
    assert checks["backup"]["status"] == "pass"
    restored = cli("restore")  # allowed: the gateway is gone
    assert restored.returncode == 0, restored.stderr
    assert "restored 1 server" in restored.stdout
    assert withoutTimestamp(json.loads(config.read_text())) == CLAUDE_JSON

    # The same crash, cleaned up by `stop` instead of `restore`.
    started = cli("start", "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout
    state = cli.state()
    assert state is not None
    os.kill(state["pid"], signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(state["pid"]), 10)
    stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stale state.json" in stopped.stdout and "restored 1 server" in stopped.stdout
    assert cli.state() is None
    assert withoutTimestamp(json.loads(config.read_text())) == CLAUDE_JSON
    checks = {c["name"]: c["status"] for c in json.loads(cli("doctor", "--json").stdout)["checks"]}
    assert checks["gateway"] == "fail"  # stopped is not running: the one issue left
    assert checks["claudeConfig"] == "pass" and checks["backup"] == "info"


def test_no_rewrite_serves_a_config_as_it_is(cli: Cli) -> None:
    servers = cli.home / "servers.json"
    servers.write_text(json.dumps({"mcpServers": CLAUDE_JSON["mcpServers"]}))
    before = servers.read_bytes()
    started = cli(
        "start", "--no-rewrite", "--config", str(servers), "--port", str(freePort()), "--json"
    )
    assert started.returncode == 0, started.stderr + started.stdout
    document = json.loads(started.stdout)
    assert document["ok"] is True and document["servers"] == ["demo"]
    assert servers.read_bytes() == before
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert f"Config file {servers}: 0 via gateway, 1 stdio, 0 other" in doctor.stdout
    restore = cli("restore")
    assert restore.returncode == 1 and "mcpgateway stop" in restore.stderr
    assert cli("stop").returncode == 0
    assert servers.read_bytes() == before
    assert cli.gatewayPids() == []


def test_start_reports_a_broken_config_in_one_place(cli: Cli) -> None:
    (cli.home / ".claude.json").write_text('{"mcpServers": {')
    started = cli("start", "--port", str(freePort()))
    assert started.returncode == 1
    assert started.stderr.startswith("mcpgateway: the gateway did not start")
    assert ".claude.json" in started.stderr
    assert cli.gatewayPids() == []


def test_start_in_the_foreground_until_sigterm(cli: Cli) -> None:
    port = freePort()
    process = startForeground(port, cli.stateDir, cli.env, cli.home)
    try:
        assert waitFor(lambda: cli("status").returncode == 0, 20), process.poll()
        state = cli.state()
        assert state is not None and state["port"] == port
        process.send_signal(signal.SIGTERM)  # passed on to twistd: a clean stop
        assert process.wait(20) == 0
        assert not pidAlive(state["pid"])
        assert cli.state() is None
        assert b"listening on 127.0.0.1:" in (process.stdout.read() if process.stdout else b"")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_start_refuses_a_config_outside_home_and_names_no_rewrite(
    cli: Cli, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "servers.json"
    outside.write_text(json.dumps({"mcpServers": CLAUDE_JSON["mcpServers"]}))
    before = outside.read_bytes()
    refused = cli("start", "--config", str(outside), "--port", str(freePort()))
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1
    assert "outside the home directory" in refused.stderr
    assert f"`mcpgateway start --no-rewrite --config {outside}`" in refused.stderr
    assert cli.gatewayPids() == []
    started = cli("start", "--no-rewrite", "--config", str(outside), "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout
    assert cli("stop").returncode == 0
    assert outside.read_bytes() == before


def test_a_failed_start_on_a_busy_port_prints_one_line_of_its_own(cli: Cli) -> None:
    first = freePort()
    assert cli("start", "--no-rewrite", "--port", str(first)).returncode == 0
    assert cli("stop").returncode == 0
    log = (cli.stateDir / "gateway.log").read_text()
    assert f"listening on 127.0.0.1:{first}" in log
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        failed = cli("start", "--no-rewrite", "--port", str(port))
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"mcpgateway: port {port} is in use (by pid {os.getpid()}); stop that process,"
        " or pick another port with --port"
    ]
    assert f"127.0.0.1:{first}" not in failed.stderr  # the earlier run's lines
    assert f"Site starting on {first}" not in failed.stderr  # either runtime's site
    assert cli.gatewayPids() == []


def test_entries_left_without_a_backup_are_loud_in_status_doctor_and_stop(cli: Cli) -> None:
    """A crash, then the backup is lost: every command says the entries
    cannot be restored, and what to do instead."""
    config = cli.home / ".claude.json"
    config.write_text(json.dumps(CLAUDE_JSON))
    port = freePort()
    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    state = cli.state()
    assert state is not None
    os.kill(state["pid"], signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(state["pid"]), 10)
    for path in list(cli.stateDir.rglob("*backup*")):
        if path.is_file():
            path.unlink()

    status = cli("status")
    assert status.returncode == 1
    assert (
        f"1 entry points at http://127.0.0.1:{port}, where the gateway is not running, and"
        " no usable backup holds their originals"
    ) in status.stdout
    assert "re-add demo with `claude mcp add" in status.stdout
    doctor = cli("doctor", "--json")
    assert doctor.returncode == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["claudeConfig"]["status"] == "fail"
    assert "no usable backup" in checks["claudeConfig"]["message"]
    assert "claude mcp add" in checks["claudeConfig"]["fix"]

    stopped = cli("stop")
    assert stopped.returncode == 1
    assert "stale state.json" in stopped.stdout
    assert (
        f"mcpgateway: {config} still has 1 entry pointing at the stopped gateway"
        f" http://127.0.0.1:{port}: demo;"
    ) in stopped.stderr
    assert "`mcpgateway restore` cannot put them back" in stopped.stderr
    assert cli.state() is None


def test_bad_options_and_help(cli: Cli) -> None:
    bad = cli("stop", "--frobnicate")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "mcpgateway stop: unrecognized arguments: --frobnicate",
        "`mcpgateway stop --help` lists the options",
    ]
    for command in ("stop", "status", "doctor"):
        helped = cli(command, "--help")
        assert helped.returncode == 0
        description = helped.stdout.split("\n\n")[1]
        assert len(description.split()) > 10, (command, helped.stdout)


def test_stop_fails_when_the_gateway_could_not_restore_the_config(cli: Cli) -> None:
    """The user broke the file while the gateway ran: its restore at stop
    fails, and `stop` says so, naming the file, and exits 1."""
    config = cli.home / ".claude.json"
    config.write_text(json.dumps(CLAUDE_JSON))
    started = cli("start", "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout
    adopted = config.read_text()
    config.write_text(adopted[:-5])  # cut short: not JSON any more
    stopped = cli("stop")
    assert stopped.returncode == 1
    assert stopped.stdout.startswith("mcpgateway stopped (pid ")
    assert stopped.stderr.startswith(f"mcpgateway: cannot check that {config} was restored: ")
    assert stopped.stderr.rstrip().endswith("fix it, then `mcpgateway restore`")
    assert cli.gatewayPids() == []
    config.write_text(adopted)  # fixed: restore puts the stdio entry back
    restored = cli("restore")
    assert restored.returncode == 0, restored.stderr
    assert withoutTimestamp(json.loads(config.read_text())) == CLAUDE_JSON


def test_doctor_and_status_report_a_failed_npx_resolution(cli: Cli) -> None:
    """An npx server whose install fails (a stand-in npm that refuses, so no
    network is needed): doctor fails naming it, status shows why."""
    bin = cli.home / "bin"
    bin.mkdir()
    for name, script in [
        ("npm", "echo 'npm ERR! 404 Not Found - @fake/server-memory' >&2; exit 1"),
        ("npx", "exit 1"),
    ]:
        (bin / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin / name).chmod(0o755)
    cli.env["PATH"] = os.pathsep.join([str(bin), cli.env.get("PATH", "")])
    config = cli.home / "servers.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@fake/server-memory"]}}}
        )
    )
    started = cli("start", "--no-rewrite", "--config", str(config), "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout

    def resolution() -> dict[str, Any]:
        checks = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)["checks"]}
        return checks["resolution"]  # type: ignore[no-any-return]

    # The install runs in the sandbox beside the other workers' tests: give it time.
    assert waitFor(lambda: resolution()["status"] != "info", 60)
    check = resolution()
    assert check["status"] == "fail", check
    assert check["message"] == "npx/uvx resolution failed for memory"
    assert "404" in check["details"][0] and check["fix"]
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert "  ✗ npx/uvx resolution failed for memory" in doctor.stdout.splitlines()
    status = cli("status")
    assert "      ! npx/uvx resolution failed: npx @fake/server-memory:" in status.stdout
    assert cli("stop").returncode == 0
