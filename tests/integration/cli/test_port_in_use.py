"""A port another process listens on, on the real path: C{mcpgateway
start} says it in one line naming the port and the process holding it
(this test's), as C{--json} one object; the gateway run by hand
(C{twistd -n mcpgateway}) says the same in its log line; and a port taken
after C{start} looked (its check skipped) is read from what the real
gateway logged."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgateway.runtime.portuse import portTaken
from tests.integration.gateway import launchCommand
from tests.support.integration.detached import environment

pytestmark = pytest.mark.integration


@pytest.fixture
def held() -> Iterator[int]:
    """A loopback port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def cli(home: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS} on a fresh HOME (or C{-c code ARGS})."""
    head = ["-m", "mcpgateway.cli"] if code is None else ["-c", code]
    return subprocess.run(
        [sys.executable, *head, *args, "--state-dir", str(home / "state")],
        env=environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_on_a_port_in_use_says_it_in_one_line(tmp_path: Path, held: int) -> None:
    expected = (
        f"port {held} is in use (by pid {os.getpid()}); stop that process,"
        " or pick another port with --port"
    )
    done = cli(tmp_path, "start", "--port", str(held))
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.splitlines() == [f"mcpgateway: {expected}"]
    done = cli(tmp_path, "start", "--port", str(held), "--json")
    assert (done.returncode, done.stderr) == (1, "")
    assert json.loads(done.stdout) == {
        "ok": False,
        "error": expected,
        "port": held,
        "pid": os.getpid(),
        "uid": os.geteuid(),
    }
    assert not (tmp_path / "state" / "state.json").exists()


@pytest.fixture
def foreign() -> Iterator[tuple[int, int]]:
    """A loopback port a throwaway account's process listens on: the port
    and the account's uid."""
    from tests.integration.sandboxkit import accountOrSkip

    account = accountOrSkip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    code = (
        "import socket, sys, time; s = socket.socket();"
        f" s.bind(('127.0.0.1', {port})); s.listen(); print('up', flush=True); time.sleep(120)"
    )
    listener = subprocess.Popen(
        [*account.prefix(), "/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        yield port, account.uid
    finally:
        listener.kill()
        listener.wait()
        account.remove()


def test_a_port_another_account_listens_on_is_named_as_that_accounts(
    tmp_path: Path, foreign: tuple[int, int]
) -> None:
    """A gateway that died left its port to whoever takes it: C{start}
    names the account whose process listens there, read from the kernel's
    table (its process's fds are not this account's to read)."""
    port, uid = foreign
    done = cli(tmp_path, "start", "--port", str(port))
    assert done.returncode == 1, done.stderr
    assert f"port {port} is held by another account's process (uid {uid}," in done.stderr, (
        done.stderr
    )
    assert "reaches that account, not your gateway" in done.stderr


def test_the_gateway_run_by_hand_puts_back_entries_pointing_at_another_accounts_port(
    tmp_path: Path, foreign: tuple[int, int]
) -> None:
    """A gateway that crashed left ~/.claude.json's entries pointing at its
    port, which another account now listens on: the gateway run by hand
    cannot listen there, and before it exits it puts the entries back, so
    that Claude Code's next start talks to its own servers, not to that
    account."""
    from mcpgateway.clientconfigs.claude import ClaudeConfig

    port, uid = foreign
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    claude = tmp_path / ".claude.json"
    servers = {"mem": {"command": "mem-server", "args": ["--keep"]}}
    claude.write_text(json.dumps({"mcpServers": servers}, indent=2))
    config = ClaudeConfig(claude, state, home=tmp_path, environ={})
    config.adopt(lambda name, workspace: f"http://127.0.0.1:{port}/{name}/mcp")
    assert f"127.0.0.1:{port}" in claude.read_text()
    done = subprocess.run(
        [*launchCommand(), "--port", str(port), "--state-dir", str(state)],
        env=environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"held by another account's process (uid {uid}," in done.stdout
    [said] = [line for line in done.stdout.splitlines() if "put back as they were" in line]
    assert "mem (user scope)" in said
    assert json.loads(claude.read_text())["mcpServers"] == servers


def test_the_gateway_run_by_hand_says_it_too(tmp_path: Path, held: int) -> None:
    (tmp_path / "state").mkdir()
    done = subprocess.run(
        [*launchCommand(), "--port", str(held), "--state-dir", str(tmp_path / "state")],
        env=environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if "#critical]" in line]
    assert line.endswith(
        f" cannot listen on tcp:{held}:interface=127.0.0.1: port {held} is in use"
        f" (by pid {os.getpid()}); stop that process, or pick another port with --port"
    )


def test_the_gateway_on_a_port_in_use_starts_no_server(tmp_path: Path, held: int) -> None:
    """A server the gateway starts at once (C{prewarm}) is not started: the
    port's line is the first warning or error the gateway says after
    twistd's own lines, and no child was spawned (none logged, and its
    command never ran)."""
    spawned = tmp_path / "spawned"
    config = tmp_path / "servers.json"
    command = f"touch {spawned}; exec {sys.executable} -m mcpgateway.demo"
    config.write_text(
        json.dumps(
            {"mcpServers": {"demo": {"command": "sh", "args": ["-c", command], "prewarm": True}}}
        )
    )
    (tmp_path / "state").mkdir(mode=0o700)
    done = subprocess.run(
        [
            *launchCommand(),
            "--port",
            str(held),
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    said = [line for line in lines if re.search(r"#(warn|error|critical)\]", line)]
    assert said and said[0].endswith(
        f" cannot listen on tcp:{held}:interface=127.0.0.1: port {held} is in use"
        f" (by pid {os.getpid()}); stop that process, or pick another port with --port"
    ), done.stdout
    assert not [line for line in lines if "started child" in line or " serving " in line]
    assert not spawned.exists()


UNCHECKED_START = (
    "import sys; from mcpgateway.cli.context import CliContext;"
    " from mcpgateway.cli.main import main;"
    " sys.exit(main(sys.argv[1:], CliContext(checkPort=lambda port: None)))"
)
"""C{mcpgateway start} that finds every port free: the gateway itself meets
the port taken, as when it is taken between the check and the listen."""


def test_a_port_the_gateway_met_taken_is_read_from_its_log(tmp_path: Path, held: int) -> None:
    (tmp_path / ".claude.json").write_text('{"mcpServers": {}}')
    expected = (
        f"port {held} is in use (by pid {os.getpid()}); stop that process,"
        " or pick another port with --port"
    )
    done = cli(tmp_path, "start", "--port", str(held), code=UNCHECKED_START)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.splitlines() == [f"mcpgateway: {expected}"]
    log = (tmp_path / "state" / "gateway.log").read_text()
    assert f"cannot listen on tcp:{held}:interface=127.0.0.1: {expected}" in log
    # Nothing was adopted: the file is as it was.
    assert (tmp_path / ".claude.json").read_text() == '{"mcpServers": {}}'


def test_the_check_tells_a_listening_port_from_a_free_one(held: int) -> None:
    assert portTaken(held)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        freed = int(sock.getsockname()[1])
    assert not portTaken(freed)
