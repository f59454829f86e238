"""The manhole without sockets: what it refuses, its host key, the key checker,
the prompt on an in-memory terminal, the namespace helpers against a gateway
with fake children, and that conch stays unimported unless it is enabled."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import MultiService
from twisted.cred.credentials import ISSHPrivateKey, SSHPrivateKey
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.ops.manhole import (
    AUTHORIZED_KEYS,
    HOST_ALIAS,
    HOST_KEY,
    KNOWN_HOSTS,
    ManholeError,
    fingerprintOf,
    gatewayNamespace,
    loadAuthorizedKeys,
    makeManholeService,
)
from mcpgateway.report.health import serverLine, sessionsBody
from tests.fakes import FakeProcessReactor, capturedGatewayLogs
from tests.http import Harness, spec

REPO = Path(__file__).resolve().parents[2]
sync = SynchronousTestCase()
"""For C{successResultOf} and C{failureResultOf} in plain test functions."""


def haveConch() -> bool:
    try:
        import bcrypt  # noqa: F401
        import twisted.conch.manhole_ssh  # noqa: F401
    except ImportError:
        return False
    return True


NEEDS_CONCH = pytest.mark.skipif(
    not haveConch(), reason="the manhole extra is not installed: pip install 'mcpgateway[manhole]'"
)


def newKey() -> Any:
    """A new ed25519 conch L{Key} (private)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from twisted.conch.ssh.keys import Key

    return Key(Ed25519PrivateKey.generate())


def authorize(stateDir: Path, *keys: Any) -> None:
    lines = [key.public().toString("openssh", comment=b"test@host") for key in keys]
    (stateDir / AUTHORIZED_KEYS).write_bytes(b"# manhole keys\n\n" + b"\n".join(lines) + b"\n")


@pytest.fixture
def stateDir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def adminKey(stateDir: Path) -> Any:
    if not haveConch():
        pytest.skip("the manhole extra is not installed: pip install 'mcpgateway[manhole]'")
    key = newKey()
    authorize(stateDir, key)
    return key


def make(stateDir: Path, namespace: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("socketPath", Path("manhole.sock"))
    return makeManholeService(FakeProcessReactor(), stateDir, namespace or {}, **kwargs)


# What it refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o770, 0o711, 0o701, 0o707])
def test_refuses_a_socket_directory_open_to_group_or_others(stateDir: Path, mode: int) -> None:
    socketDir = stateDir / "run"
    socketDir.mkdir()
    socketDir.chmod(mode)
    with pytest.raises(ManholeError) as e:
        make(stateDir, socketPath=socketDir / "manhole.sock")
    assert str(e.value) == (
        f"{socketDir} is open to group or others (mode {mode:04o}); the"
        f" manhole refuses it: chmod {mode & 0o700:o} {socketDir}"
    )


def test_refuses_the_state_directory_as_socket_directory_when_it_is_0755(tmp_path: Path) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    stateDir.chmod(0o755)
    with pytest.raises(ManholeError, match=r"open to group or others \(mode 0755\).*chmod 700"):
        make(stateDir)
    assert not (stateDir / "manhole.sock").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory away")
def test_refuses_a_socket_directory_owned_by_someone_else(stateDir: Path) -> None:
    socketDir = stateDir / "theirs"
    socketDir.mkdir(mode=0o700)
    os.chown(socketDir, 4321, -1)
    with pytest.raises(ManholeError, match="belongs to uid 4321, not to this user"):
        make(stateDir, socketPath=socketDir / "manhole.sock")


def test_refuses_a_socket_path_that_is_not_a_socket(stateDir: Path) -> None:
    (stateDir / "manhole.sock").write_text("not a socket")
    with pytest.raises(ManholeError, match="exists and is not a socket"):
        make(stateDir)


def test_refuses_a_socket_path_too_long_for_unix_sockets(stateDir: Path) -> None:
    with pytest.raises(ManholeError, match="longer than 107 bytes"):
        make(stateDir, socketPath=Path("s" * 110))


def test_makes_a_missing_socket_directory_0700(stateDir: Path, adminKey: Any) -> None:
    make(stateDir, socketPath=Path("run/manhole.sock"))
    assert stat.S_IMODE((stateDir / "run").stat().st_mode) == 0o700


@pytest.mark.parametrize("interface", ["0.0.0.0", "::", "192.168.1.10", "localhost", ""])
def test_refuses_a_tcp_port_off_loopback(stateDir: Path, interface: str) -> None:
    with pytest.raises(ManholeError, match=r"loopback|not an IP address"):
        make(stateDir, socketPath=None, sshPort=2222, sshInterface=interface)


def test_refuses_to_start_with_nowhere_to_listen(stateDir: Path) -> None:
    with pytest.raises(ManholeError, match="needs a UNIX socket path or a loopback SSH port"):
        make(stateDir, socketPath=None)


@NEEDS_CONCH
def test_refuses_without_authorized_keys_and_says_how_to_add_one(stateDir: Path) -> None:
    # The commands work on a fresh install, where the folder may not exist yet.
    path = stateDir / AUTHORIZED_KEYS
    with pytest.raises(ManholeError) as e:
        make(stateDir)
    assert str(e.value) == (
        "no manhole authorized keys: add your public key to"
        f" {path} (e.g. mkdir -p -m 700 {stateDir} && cat ~/.ssh/id_ed25519.pub >> {path}"
        f" && chmod 600 {path})"
    )
    assert not (stateDir / HOST_KEY).exists()


@NEEDS_CONCH
def test_the_refusals_commands_work_on_a_fresh_install(tmp_path: Path, stateDir: Path) -> None:
    # Item 7: `cat ... >> ~/.mcpgateway/manhole_authorized_keys`
    # failed where the folder did not exist yet.
    with pytest.raises(ManholeError) as e:
        make(stateDir)
    commands = str(e.value).split("(e.g. ", 1)[1].rstrip(")")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = newKey()
    (home / ".ssh" / "id_ed25519.pub").write_bytes(key.public().toString("openssh"))
    stateDir.rmdir()  # a fresh install: no state dir yet
    subprocess.run(["sh", "-c", commands], check=True, env={**os.environ, "HOME": str(home)})
    assert stat.S_IMODE(stateDir.stat().st_mode) == 0o700
    assert loadAuthorizedKeys(stateDir / AUTHORIZED_KEYS) == [key.public()]


@NEEDS_CONCH
def test_refuses_an_authorized_keys_file_without_keys(stateDir: Path) -> None:
    (stateDir / AUTHORIZED_KEYS).write_text("# nobody yet\n\n")
    with pytest.raises(ManholeError, match=r"^no key in .*cat ~/\.ssh/id_ed25519\.pub >>"):
        make(stateDir)


@NEEDS_CONCH
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('from="10.0.0.1" ssh-ed25519 AAAA', "line 2: not a plain public key"),
        ("hello world", "line 2: not a plain public key"),
        ("ssh-ed25519 bm90IGEga2V5", "line 2: not a public key"),
    ],
)
def test_refuses_lines_that_are_not_plain_keys(stateDir: Path, line: str, problem: str) -> None:
    (stateDir / AUTHORIZED_KEYS).write_text("# comment\n" + line + "\n")
    with pytest.raises(ManholeError, match=problem):
        make(stateDir)


@NEEDS_CONCH
def test_refuses_an_authorized_keys_file_others_may_write(stateDir: Path, adminKey: Any) -> None:
    (stateDir / AUTHORIZED_KEYS).chmod(0o664)
    with pytest.raises(ManholeError, match=r"writable by group or others \(mode 0664\).*chmod 644"):
        make(stateDir)


@NEEDS_CONCH
def test_refuses_a_state_directory_others_may_write(tmp_path: Path) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    stateDir.chmod(0o777)
    authorize(stateDir, newKey())
    with pytest.raises(ManholeError, match=r"writable by group or others \(mode 0777\)"):
        make(stateDir, socketPath=None, sshPort=2222)


# Host key, endpoints -----------------------------------------------------------------------


def test_host_key_is_generated_0600_once_and_reused(stateDir: Path, adminKey: Any) -> None:
    first = make(stateDir)
    hostKey = stateDir / HOST_KEY
    assert stat.S_IMODE(hostKey.stat().st_mode) == 0o600
    assert first.hostKey.isPublic() is False and first.hostKey.sshType() == b"ssh-ed25519"
    content = hostKey.read_bytes()
    second = make(stateDir)
    assert hostKey.read_bytes() == content
    assert second.hostKey == first.hostKey
    known = (stateDir / KNOWN_HOSTS).read_bytes()
    assert known == (
        HOST_ALIAS.encode() + b" " + first.hostKey.public().toString("openssh") + b"\n"
    )


def test_refuses_a_host_key_others_can_read(stateDir: Path, adminKey: Any) -> None:
    make(stateDir)
    (stateDir / HOST_KEY).chmod(0o644)
    with pytest.raises(ManholeError, match=r"readable by group or others \(mode 0644\)"):
        make(stateDir)


def test_host_keys_are_the_factory_s_own(stateDir: Path, adminKey: Any) -> None:
    from twisted.conch.manhole_ssh import ConchFactory

    service = make(stateDir)
    factory = service.factory
    assert factory.privateKeys == {b"ssh-ed25519": service.hostKey}
    assert factory.publicKeys == {b"ssh-ed25519": service.hostKey.public()}
    assert "publicKeys" in vars(factory) and "privateKeys" in vars(factory)
    assert ConchFactory.publicKeys == {} and ConchFactory.privateKeys == {}


def test_listens_on_a_0600_unix_socket_with_a_pid_lock(stateDir: Path, adminKey: Any) -> None:
    reactor = FakeProcessReactor()
    service = makeManholeService(reactor, stateDir, {}, socketPath=Path("manhole.sock"))
    service.startService()
    [(path, factory, _, mode, wantPID)] = reactor.unixServers
    assert (path, factory, mode, wantPID) == (
        str(stateDir / "manhole.sock"),
        service.factory,
        0o600,
        True,
    )
    assert reactor.tcpServers == []
    service.stopService()


@pytest.mark.parametrize("interface", ["127.0.0.1", "::1"])
def test_listens_on_loopback_tcp(stateDir: Path, adminKey: Any, interface: str) -> None:
    reactor = FakeProcessReactor()
    service = makeManholeService(reactor, stateDir, {}, sshPort=2222, sshInterface=interface)
    service.startService()
    [(port, factory, _, bound)] = reactor.tcpServers
    assert (port, factory, bound) == (2222, service.factory, interface)
    assert reactor.unixServers == []


# Logins ------------------------------------------------------------------------------------


def credentials(
    key: Any, signed: bool = True, user: bytes = b"admin", tamper: bool = False
) -> SSHPrivateKey:
    sigData = b"session id and userauth request"
    signature = key.sign(sigData) if signed else None
    if tamper:
        sigData += b"!"
    return SSHPrivateKey(user, key.sshType(), key.public().blob(), sigData, signature)


def login(service: Any, creds: SSHPrivateKey) -> Any:
    from twisted.conch.interfaces import IConchUser

    return service.factory.portal.login(creds, None, IConchUser)


def test_only_public_keys_are_accepted_credentials(stateDir: Path, adminKey: Any) -> None:
    assert make(stateDir).factory.portal.listCredentialsInterfaces() == [ISSHPrivateKey]


def test_the_authorized_key_logs_in_and_out_and_both_are_logged(
    stateDir: Path, adminKey: Any
) -> None:
    from twisted.conch.interfaces import IConchUser

    service = make(stateDir)
    with capturedGatewayLogs() as events:
        interface, avatar, logout = sync.successResultOf(
            login(service, credentials(adminKey, user=b"anyone"))
        )
        assert interface is IConchUser and IConchUser.providedBy(avatar)
        logout()
    fingerprint = fingerprintOf(adminKey.public().blob())
    assert [(e["log_format"].split(":")[0], e["user"], e.get("fingerprint")) for e in events] == [
        ("manhole login", "anyone", fingerprint),
        ("manhole logout", "anyone", None),
    ]


@pytest.mark.parametrize("signed", [True, False])
def test_an_unknown_key_is_refused_and_logged(stateDir: Path, adminKey: Any, signed: bool) -> None:
    service = make(stateDir)
    stranger = newKey()
    with capturedGatewayLogs() as events:
        sync.failureResultOf(
            login(service, credentials(stranger, signed=signed)), UnauthorizedLogin
        )
    [refused] = events
    assert refused["log_level"] == LogLevel.warn
    assert refused["fingerprint"] == fingerprintOf(stranger.public().blob())


def test_a_bad_signature_is_refused(stateDir: Path, adminKey: Any) -> None:
    service = make(stateDir)
    with capturedGatewayLogs() as events:
        sync.failureResultOf(login(service, credentials(adminKey, tamper=True)), UnauthorizedLogin)
    assert [e["log_level"] for e in events] == [LogLevel.warn]


def test_an_authorized_key_without_signature_is_asked_to_sign(
    stateDir: Path, adminKey: Any
) -> None:
    from twisted.conch.error import ValidPublicKey

    service = make(stateDir)
    with capturedGatewayLogs() as events:
        sync.failureResultOf(login(service, credentials(adminKey, signed=False)), ValidPublicKey)
    assert events == []


def test_the_prompt_evaluates_in_the_namespace(stateDir: Path, adminKey: Any) -> None:
    service = make(stateDir, {"answer": 21})
    terminal = service.factory.portal.realm.realm.chainedProtocolFactory()
    transport = StringTransport()
    terminal.makeConnection(transport)
    terminal.terminalProtocol.terminalSize(80, 24)
    transport.clear()
    terminal.dataReceived(b"str(answer * 2) + 'ok'\r")
    assert b"'42ok'" in transport.value()


def test_a_window_resize_is_accepted(stateDir: Path, adminKey: Any) -> None:
    from twisted.conch.interfaces import IConchUser, ISession

    realm = make(stateDir).factory.portal.realm
    _, avatar, _ = realm.requestAvatar(b"admin", None, IConchUser)
    session = ISession(avatar)
    session.windowChanged((30, 100, 0, 0))  # conch's own raises NotImplementedError
    assert (getattr(session, "height", None), getattr(session, "width", None)) == (30, 100)


# The namespace -----------------------------------------------------------------------------


def namespaceOf(harness: Harness) -> dict[str, Any]:
    return gatewayNamespace(harness.gateway, MultiService(), harness.reactor)


def test_namespace_holds_live_objects_and_helpers_only() -> None:
    harness = Harness()
    namespace = namespaceOf(harness)
    assert sorted(namespace) == [
        "gateway",
        "health",
        "pools",
        "reactor",
        "restart",
        "servers",
        "service",
        "sessions",
        "sessions_registry",
    ]
    assert namespace["pools"] is harness.gateway.pools
    assert namespace["sessions_registry"] is harness.gateway.sessions
    assert namespace["reactor"] is harness.reactor
    assert not any(value is os.environ for value in namespace.values())


def test_servers_and_sessions_describe_the_gateway() -> None:
    harness = Harness({"srv": spec("srv"), "other": spec("other", mode="stateful")})
    namespace = namespaceOf(harness)
    sid = harness.initialize("srv")
    assert namespace["servers"]() == {
        name: serverLine(harness.gateway.readModel.server(name)) for name in harness.gateway.pools
    }
    assert namespace["servers"]()["srv"]["state"] == "running"
    assert [s["id"] for s in namespace["sessions"]()] == [sid]
    assert namespace["sessions"]() == sessionsBody(harness.gateway.readModel.status())["sessions"]
    assert namespace["health"]()["sessions"] == 1


def test_restart_stops_the_shared_child_and_the_next_request_spawns_one() -> None:
    harness = Harness()
    restart = namespaceOf(harness)["restart"]
    assert sync.successResultOf(restart("srv")) is None  # no child yet: nothing to stop
    sid = harness.initialize()
    child = harness.process()
    stopping = restart("srv")
    sync.assertNoResult(stopping)
    assert child.stdinClosed
    child.exit(0)
    sync.successResultOf(stopping)
    assert len(harness.reactor.processes) == 1
    harness.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=sid
    )
    assert len(harness.reactor.processes) == 2


def test_restart_names_the_servers_and_refuses_stateful_ones() -> None:
    harness = Harness({"srv": spec("srv"), "mine": spec("mine", mode="stateful")})
    restart = namespaceOf(harness)["restart"]
    with pytest.raises(KeyError, match="no server 'nope'; servers: mine, srv"):
        restart("nope")
    with pytest.raises(ValueError, match="stateful"):
        restart("mine")


# Footprint ---------------------------------------------------------------------------------

BUILD_THE_NORMAL_TREE = """
import sys
from twisted.internet.testing import MemoryReactorClock
from mcpgateway import tap
from mcpgateway.ops import manhole
options = tap.Options()
options.parseOptions(["--state-dir", sys.argv[1], "--config", sys.argv[2], "--no-resolve"])
top = tap.makeService(options, reactor=MemoryReactorClock())
assert list(top), "no service tree"
print(sorted(name for name in sys.modules if name.startswith("twisted.conch")))
"""


def test_conch_is_not_imported_by_the_normal_service_tree(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text('{"mcpServers": {"demo": {"command": "python3", "args": []}}}')
    proc = subprocess.run(
        [sys.executable, "-c", BUILD_THE_NORMAL_TREE, str(tmp_path / "state"), str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


WITHOUT_CONCH = """
import sys
from pathlib import Path
sys.modules["twisted.conch"] = None  # as if the extra were not installed
from mcpgateway.ops.manhole import ManholeError, makeManholeService
try:
    makeManholeService(None, Path(sys.argv[1]), {}, socketPath=Path("manhole.sock"))
except ManholeError as e:
    print(e)
"""


def test_without_conch_the_error_names_the_extra(stateDir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_CONCH, str(stateDir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("the manhole needs Twisted's SSH support (")
    assert proc.stdout.rstrip().endswith("pip install 'mcpgateway[manhole]'")
