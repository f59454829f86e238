"""A child kept through a crash never has more than the next gateway
would give it, and only that gateway gets it.

A confined child may read a folder its entry allows; the next gateway
serves a config file in that very folder (C{--config}), which it masks
for every child of its own: the child the crashed gateway started would
read it, so it is not kept but started anew, and its successor cannot
read the file. And the crashed gateway's warden, waiting with the
children, hands nothing to a process of the same user that cannot prove
it is a gateway of the state directory (the secret in the state
directory, which no confined child can read): the next gateway still
gets every child."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    count,
    freePort,
    health,
    hostPidOf,
    openSession,
    post,
    running,
    sandboxProbed,
    state,
)
from tests.integration.sandboxkit import bwrapOrSkip

pytestmark = pytest.mark.integration
HOSTILE = REPO / "tests" / "fixtures" / "hostile_server.py"


def start(home: Path, port: int, config: Path, sandbox: str) -> None:
    started = cli(home, "start", "--port", str(port), "--config", str(config), "--sandbox", sandbox)
    assert started.returncode == 0, started.stdout + started.stderr


def crash(home: Path) -> None:
    pid = state(home)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert waitFor(lambda: not running(pid), timeout=10)


def readThrough(port: int, session: str, path: Path, number: int) -> dict[str, Any]:
    """What the child of server C{reader} finds reading C{path}."""
    call = {
        "jsonrpc": "2.0",
        "id": number,
        "method": "tools/call",
        "params": {"name": "read", "arguments": {"path": str(path)}},
    }
    answer, _ = post(port, "reader", call, session)
    return json.loads(answer["result"]["content"][0]["text"])  # type: ignore[no-any-return]


def test_a_kept_child_is_never_shown_a_file_the_next_gateway_masks(home: Path) -> None:
    bwrapOrSkip()
    shared = home / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("the entry allows this folder")
    profile = {"filesystem": {"allowRead": [str(shared)]}}
    servers = {"reader": {"command": sys.executable, "args": [str(HOSTILE)], "sandbox": profile}}
    first = home / "first.json"
    first.write_text(json.dumps({"mcpServers": servers}))
    port = freePort()
    start(home, port, first, "bubblewrap")
    try:
        sandboxProbed(home)  # the child is laid out with what it found
        session = openSession(port, "reader")
        assert readThrough(port, session, shared / "notes.txt", 1)["ok"]
        # The state directory, and the secret the next gateway proves itself with, are hidden.
        key = home / "state" / "warden.key"
        assert not readThrough(port, session, key, 2).get("text")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        old = hostPidOf(home, "reader")
        time.sleep(2.5)  # by now the warden holds every child (given at initialize)
        crash(home)
        assert running(old)  # held by the warden

        # The next gateway's config is in the folder the child may read.
        second = shared / "servers.json"
        second.write_text(json.dumps({"mcpServers": servers}))
        start(home, port, second, "bubblewrap")
        assert waitFor(lambda: not running(old), timeout=20), "the old child was kept"
        report = health(port)["restart"]
        assert report["kept"] == 0 and report["started"] == 1, report
        [anew] = report["anew"]
        assert anew["server"] == "reader" and "the gateway's own files" in anew["why"]
        found = readThrough(port, session, second, 3)  # its new child
        assert "mcpServers" not in found.get("text", ""), found
        assert readThrough(port, session, shared / "notes.txt", 4)["ok"]
        status = cli(home, "status")
        assert "started anew: reader (pid" in status.stdout, status.stdout
    finally:
        cli(home, "stop")


def offered(path: Path, said: bytes) -> tuple[bytes, list[int]]:
    """Connect to the warden's socket as a process of the same user, say
    C{said}: what comes back (bytes, descriptors) before the warden closes."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(path))
    fds: list[int] = []
    data = b""
    try:
        if said:
            conn.sendall(said)
        while True:
            chunk, got, _, _ = socket.recv_fds(conn, 65536, 16)
            fds += got
            if not chunk and not got:
                return data, fds
            data += chunk
    finally:
        conn.close()
        for fd in fds:
            os.close(fd)


def test_the_warden_hands_its_children_only_to_the_gateways_successor(home: Path) -> None:
    servers = {"shared": {"command": COUNTER[0], "args": COUNTER[1:]}}
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    port = freePort()
    start(home, port, config, "off")
    try:
        session = openSession(port, "shared")
        counted, pid = count(port, "shared", session, 1)
        time.sleep(2.5)  # by now the warden holds every child (given at initialize)
        crash(home)
        sock = home / "state" / "warden.sock"
        assert waitFor(sock.exists, timeout=10)
        # Processes of the same user, but not the gateway's successor.
        for said in (b"", b"gateway \n", b"gateway " + b"0" * 64 + b"\n", b"adopted\n"):
            assert offered(sock, said) == (b"", []), said
        start(home, port, config, "off")  # the successor: it reads the secret
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20)
        assert count(port, "shared", session, 2) == (counted + 1, pid)
    finally:
        cli(home, "stop")
