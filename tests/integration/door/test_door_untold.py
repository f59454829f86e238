"""On a real gateway that cannot name a connection's account (as on macOS,
or a Linux whose netlink and C{/proc/net/tcp} are both closed to it),
started by the real C{mcpgateway start}: the start's wait for C{/health},
C{status} and C{stop} work (the command sends the owner token); the adopted
Claude Code and Cursor entries carry the token in their C{headers}, and
C{stop} gives both files back byte for byte; a request without the token
gets 403 naming the header, one with it is served, and C{/health} counts
the refusal; the bridge sends the token too.

The system that cannot be asked is made for the gateway and the command by
a C{sitecustomize} on their C{PYTHONPATH} (the test's, not the gateway's):
it takes C{AF_NETLINK} out of the C{socket} module and makes
C{/proc/net/tcp*} unreadable, what such a system gives a process. Nothing
in the gateway knows of it."""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.runtime.ownertoken import HEADER
from tests.integration.gateway import REPO, waitFor
from tests.support.integration.bridge import DEMO, echoed, freePort, pipedSession
from tests.support.integration.detached import environment, gatewayPids, runCli
from tests.support.mcpclient import initializeMessage

pytestmark = [pytest.mark.integration, pytest.mark.front]

UNTOLD = """
import builtins, os, socket

if hasattr(socket, "AF_NETLINK"):
    del socket.AF_NETLINK  # no NETLINK_SOCK_DIAG here

_open, _access = builtins.open, os.access


def _closed(path):
    try:
        text = os.fsdecode(path)
    except TypeError:
        return False
    return text.startswith("/proc/") and "/net/tcp" in text


class _Guarded:
    # An instance, not a function: code that keeps open as a class
    # attribute (Twisted's _FDDetector.openfile) calls it unbound.
    def __init__(self, call, refused):
        self.call, self.refused = call, refused

    def __call__(self, path, *args, **kwargs):
        if _closed(path):
            return self.refused(path)
        return self.call(path, *args, **kwargs)


def _denied(path):
    raise PermissionError(13, "Permission denied", path)


builtins.open = _Guarded(_open, _denied)
os.access = _Guarded(_access, lambda path: False)
"""
"""What a system that cannot name a connection's account gives a process."""


def untoldEnvironment(home: Path) -> dict[str, str]:
    folder = home / "untold"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(UNTOLD)
    path = [str(folder), str(REPO), os.environ.get("PYTHONPATH", "")]
    return environment(home, PYTHONPATH=os.pathsep.join(filter(None, path)))


def clientFiles(home: Path) -> tuple[Path, Path]:
    claude, cursor = home / ".claude.json", home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    demo = json.dumps(DEMO)
    # Not as json.dumps would write them: a rewrite could not give the same bytes.
    claude.write_text('{ "mcpServers" : {"demo": ' + demo + '} ,"numStartups": 3 }\n')
    cursor.write_text('{"mcpServers":{\n  "demo": ' + demo + "}}")
    return claude, cursor


def ask(url: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def bridged(home: Path, env: dict[str, str]) -> tuple[str, str]:
    """A one-shot session through C{mcpgateway bridge demo --no-start}: what
    its echo call got back, and its stderr."""
    done = runCli(
        home, "bridge", "--no-start", "--timeout", "20", "demo", env=env, stdin=pipedSession()
    )
    return echoed([json.loads(line) for line in done.stdout.splitlines()]), done.stderr


def test_where_no_account_can_be_named_the_owner_token_lets_the_owner_in(tmp_path: Path) -> None:
    home, port = tmp_path, freePort()
    env = untoldEnvironment(home)
    stateDir = home / "state"
    claude, cursor = clientFiles(home)
    before = claude.read_bytes(), cursor.read_bytes()
    started = runCli(home, "start", "--port", str(port), env=env, timeout=90)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        tokenFile = stateDir / "owner.token"
        assert stat.S_IMODE(tokenFile.stat().st_mode) == 0o600
        token = tokenFile.read_text().strip()
        assert waitFor(lambda: token in claude.read_text() and token in cursor.read_text(), 15)
        url = f"http://127.0.0.1:{port}/demo/mcp"
        assert json.loads(claude.read_text())["mcpServers"]["demo"] == {
            "type": "http",
            "url": url,
            "headers": {HEADER: token},
        }
        assert json.loads(cursor.read_text())["mcpServers"]["demo"] == {
            "url": url,
            "headers": {HEADER: token},
        }
        status = runCli(home, "status", "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "demo" in status.stdout  # /health answered it: the servers are listed

        code, body = ask(f"http://127.0.0.1:{port}/health", {})
        assert code == 403 and HEADER in body["error"]["message"]
        initialize = initializeMessage(1, name="untold")
        code, body = ask(url, {}, initialize)
        assert code == 403
        code, _ = ask(url, {HEADER: token}, initialize)
        assert code == 200
        code, health = ask(f"http://127.0.0.1:{port}/health", {HEADER: token})
        assert code == 200
        assert json.loads(health)["door"]["refused"]["token-missing"] == 2

        text, stderr = bridged(home, env)
        assert text == "through the bridge", stderr

        log = (stateDir / "gateway.log").read_text()
        assert "each request must carry the owner token" in log
        assert token not in log
    finally:
        stopped = runCli(home, "stop", env=env)
        for pid in gatewayPids(stateDir):  # a failed test must not leave a daemon behind
            os.kill(pid, 9)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert (claude.read_bytes(), cursor.read_bytes()) == before
