"""The manhole for real: the real reactor listens on a UNIX socket, OpenSSH's
C{ssh} connects through C{python -m mcpgateway.manholeproxy} as its ProxyCommand,
checks the host key against C{manhole_known_hosts}, logs in with a key and
evaluates Python in the gateway's namespace; another key is refused."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.application.service import MultiService
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.logger import LogEvent, LogLevel
from twisted.python.failure import Failure

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.manhole import (
    AUTHORIZED_KEYS,
    HOST_ALIAS,
    KNOWN_HOSTS,
    fingerprintOf,
    gatewayNamespace,
    makeManholeService,
)
from tests.fakes import capturedGatewayLogs

for _module in ("twisted.conch.manhole_ssh", "bcrypt"):
    pytest.importorskip(
        _module, reason="the manhole extra is not installed: pip install 'mcpgateway[manhole]'"
    )

SSH = shutil.which("ssh")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SSH is None, reason="OpenSSH client (ssh) not found"),
]
reactor: Any = _reactor
REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0


def writeKey(path: Path) -> bytes:
    """A new ed25519 private key in C{path} (0600, as ssh wants); its public line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public + b" test@manhole\n"


def fingerprintOfLine(publicLine: bytes) -> str:
    return fingerprintOf(base64.b64decode(publicLine.split()[1]))


async def eventually(events: list[LogEvent], text: str) -> list[LogEvent]:
    """The events whose format contains C{text}, once there is one (the
    server may log a logout just after ssh has exited)."""
    for _ in range(100):
        found = [e for e in events if text in (e.get("log_format") or "")]
        if found:
            return found
        await deferLater(reactor, 0.05)
    raise AssertionError(f"no {text!r} event in {events}")


@dataclass
class Manhole:
    home: Path
    stateDir: Path
    socket: Path
    key: Path
    wrongKey: Path
    fingerprint: str = ""
    wrongFingerprint: str = ""


class SSHSession(ProcessProtocol):
    """C{ssh} as a child: types C{keystrokes} once the prompt shows (then
    closes its stdin if C{closeInput}), collects everything; C{done} fires
    with (exit code, stdout, stderr)."""

    def __init__(self, keystrokes: bytes, closeInput: bool = False) -> None:
        self.keystrokes = keystrokes
        self.closeInput = closeInput
        self.out = b""
        self.err = b""
        self.done: Deferred[tuple[int | None, bytes, bytes]] = Deferred()

    def outReceived(self, data: bytes) -> None:
        before, self.out = self.out, self.out + data
        if b">>> " in self.out and b">>> " not in before:
            assert self.transport is not None
            self.transport.write(self.keystrokes)
            if self.closeInput:
                self.transport.closeStdin()

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        self.done.callback((getattr(reason.value, "exitCode", None), self.out, self.err))


async def runSSH(
    manhole: Manhole, key: Path, keystrokes: bytes, closeInput: bool = False
) -> tuple[int | None, str, str]:
    """Log in with C{key}, type C{keystrokes} at the first prompt; the exit
    code, the terminal output and ssh's own messages."""
    assert SSH is not None
    relay = f"{sys.executable} -m mcpgateway.manholeproxy {manhole.socket}"
    argv = [
        SSH,
        "-F",
        "/dev/null",
        "-tt",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "BatchMode=yes",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "KbdInteractiveAuthentication=no",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"HostKeyAlias={HOST_ALIAS}",
        "-o",
        f"UserKnownHostsFile={manhole.stateDir / KNOWN_HOSTS}",
        "-o",
        f"ProxyCommand={relay}",
        "-o",
        "LogLevel=ERROR",
        "admin@manhole",
    ]
    env = {
        "HOME": str(manhole.home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "TERM": "xterm",
    }
    session = SSHSession(keystrokes, closeInput)
    process = reactor.spawnProcess(session, SSH, argv, env=env)
    timer = reactor.callLater(TIMEOUT, process.signalProcess, "KILL")
    code, out, err = await session.done
    assert timer.active(), f"ssh did not finish within {TIMEOUT}s: {out!r} {err!r}"
    timer.cancel()
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@pytest_twisted.async_yield_fixture
async def manhole(tmp_path: Path) -> AsyncIterator[Manhole]:
    stateDir = tmp_path / "state"
    stateDir.mkdir(mode=0o700)
    running = Manhole(
        tmp_path,
        stateDir,
        stateDir / "manhole.sock",
        tmp_path / "admin_key",
        tmp_path / "wrong_key",
    )
    public = writeKey(running.key)
    (stateDir / AUTHORIZED_KEYS).write_bytes(public)
    running.fingerprint = fingerprintOfLine(public)
    running.wrongFingerprint = fingerprintOfLine(writeKey(running.wrongKey))
    demo = ServerSpec(name="demo", command=sys.executable, executable=sys.executable)
    gateway = Gateway(
        {"demo": demo},
        Spawner(reactor=reactor, clock=reactor, environ={}, setsid=shutil.which("setsid")),
    )
    top = MultiService()
    service = makeManholeService(
        reactor, stateDir, gatewayNamespace(gateway, top, reactor), socketPath=Path("manhole.sock")
    )
    service.setServiceParent(top)
    top.startService()
    try:
        yield running
    finally:
        await top.stopService()
    assert not running.socket.exists()


@pytest_twisted.ensureDeferred
async def test_the_socket_is_0600_in_a_0700_directory(manhole: Manhole) -> None:
    info = manhole.socket.stat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(manhole.stateDir.stat().st_mode) == 0o700


@pytest_twisted.ensureDeferred
async def test_ssh_with_the_authorized_key_evaluates_in_the_gateway_namespace(
    manhole: Manhole,
) -> None:
    with capturedGatewayLogs() as events:
        _, out, err = await runSSH(
            manhole, manhole.key, b"sorted(servers())\rstr(6 * 7) + 'ok'\r\x04"
        )
        [logout] = await eventually(events, "manhole logout")
    assert "['demo']" in out, (out, err)
    assert "'42ok'" in out, (out, err)
    [login] = [e for e in events if (e.get("log_format") or "").startswith("manhole login")]
    assert (login["user"], login["fingerprint"]) == ("admin", manhole.fingerprint)
    assert logout["user"] == "admin"
    # No traceback (conch itself logs the client's normal disconnect at error level).
    assert not [e.get("log_failure") for e in events if "log_failure" in e]


@pytest_twisted.ensureDeferred
async def test_end_of_input_ends_the_session_quietly(manhole: Manhole) -> None:
    with capturedGatewayLogs() as events:
        _, out, err = await runSSH(manhole, manhole.key, b"1 + 41\r", closeInput=True)
        await eventually(events, "manhole logout")
    assert "\r\n42\r\n" in out, (out, err)
    assert not [e.get("log_failure") for e in events if "log_failure" in e]


@pytest_twisted.ensureDeferred
async def test_another_key_is_refused(manhole: Manhole) -> None:
    with capturedGatewayLogs() as events:
        code, out, err = await runSSH(manhole, manhole.wrongKey, b"\x04")
    assert code == 255, (out, err)
    assert "Permission denied (publickey)" in err, err
    assert ">>> " not in out
    formats = [e.get("log_format") or "" for e in events]
    refused = [e for e, f in zip(events, formats, strict=True) if f.startswith("manhole: refused")]
    assert refused and {e["fingerprint"] for e in refused} == {manhole.wrongFingerprint}
    assert {e["log_level"] for e in refused} == {LogLevel.warn}
    assert not [f for f in formats if f.startswith("manhole login")]


def test_the_relay_says_when_there_is_no_manhole(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mcpgateway.manholeproxy", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"mcpgateway manhole: cannot connect to {tmp_path / 'none'}: No such file or directory\n"
    )
