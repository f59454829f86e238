# -*- test-case-name: tests.ops.test_manhole -*-
"""The debugging manhole: a Python prompt inside the running gateway, over SSH.

Off unless C{--manhole PATH} or C{--manhole-ssh PORT} is given. When on, it is
SSH with public-key authentication only (keys from
C{<state-dir>/manhole_authorized_keys}, no passwords, never telnet), served on
a UNIX socket with mode 0600 inside a directory only we can enter, or on a
loopback TCP port. The prompt evaluates Python in the reactor thread: whatever
blocks there blocks the gateway.

Twisted's SSH support (conch, the C{mcpgateway[manhole]} extra) is imported
only by L{makeManholeService}, so a gateway without a manhole never loads it.

Connect (the relay is L{mcpgateway.manholeproxy} run as a script)::

    ssh -t -i ~/.ssh/id_ed25519 \\
        -o ProxyCommand='python3 -m mcpgateway.manholeproxy ~/.mcpgateway/manhole.sock' \\
        -o HostKeyAlias=mcpgateway-manhole \\
        -o UserKnownHostsFile=~/.mcpgateway/manhole_known_hosts \\
        admin@manhole
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService, MultiService, Service
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ISSHPrivateKey
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.core.pools.pool import NoSharedChild
from mcpgateway.report.health import healthBody, serverLine, sessionsBody
from mcpgateway.runtime import logs, paths
from mcpgateway.runtime.atomicfile import writeFileAtomic

if TYPE_CHECKING:
    from twisted.conch.manhole_ssh import TerminalSession
    from twisted.conch.ssh.factory import SSHFactory
    from twisted.conch.ssh.keys import Key

    from mcpgateway.runtime.reactortype import IReactor

AUTHORIZED_KEYS = paths.MANHOLE_AUTHORIZED_KEYS
"""The manhole's authorized keys, in the state directory (OpenSSH format)."""
HOST_KEY = paths.MANHOLE_HOST_KEY
"""The manhole's SSH host key, in the state directory (generated once, mode 0600)."""
KNOWN_HOSTS = paths.MANHOLE_KNOWN_HOSTS
"""A known_hosts file for the host key, under L{HOST_ALIAS} (for C{ssh -o UserKnownHostsFile})."""
HOST_ALIAS = "mcpgateway-manhole"
"""The host name L{KNOWN_HOSTS} names the host key by (C{ssh -o HostKeyAlias})."""
MAX_SOCKET_PATH = 107
"""Longest UNIX socket path Linux accepts, in bytes (C{sun_path} is 108 with its NUL)."""

_KEY_TYPES = (b"ssh-", b"ecdsa-sha2-", b"sk-")


class ManholeError(Exception):
    """The manhole is misconfigured; the message is one line that says how to fix it."""


def makeManholeService(
    reactor: IReactor,
    stateDir: Path,
    namespace: dict[str, Any],
    socketPath: Path | None = None,
    sshPort: int | None = None,
    sshInterface: str = "127.0.0.1",
) -> ManholeService:
    """The manhole's service: SSH with public-key auth, a Python prompt on C{namespace}.

    Checks everything before it returns; nothing listens until the service starts.

    @param reactor: where to listen (C{IReactorUNIX} and/or C{IReactorTCP}).
    @param stateDir: holds L{AUTHORIZED_KEYS}, L{HOST_KEY} (made if absent) and
        L{KNOWN_HOSTS} (rewritten each time).
    @param namespace: what the prompt sees (see L{gatewayNamespace}); each
        login gets its own copy.
    @param socketPath: listen on this UNIX socket (mode 0600); a relative path
        is taken in C{stateDir}. Its directory must be ours and closed to
        group and others.
    @param sshPort: listen on this TCP port of C{sshInterface} (0: any free port).
    @param sshInterface: a loopback address; anything else is refused.
    @raise ManholeError: misconfigured, or conch is not installed.
    """
    if socketPath is None and sshPort is None:
        raise ManholeError("the manhole needs a UNIX socket path or a loopback SSH port")
    stateDir = Path(stateDir).expanduser()
    socket_ = _socketPathIn(stateDir, socketPath) if socketPath is not None else None
    if sshPort is not None:
        _checkLoopback(sshInterface)
        if not 0 <= sshPort <= 65535:
            raise ManholeError(f"manhole SSH port {sshPort} is out of range")
    _requireConch()
    from twisted.conch import manhole, manhole_ssh
    from twisted.conch.insults import insults
    from twisted.cred.portal import Portal

    _checkStateDir(stateDir)
    keys = loadAuthorizedKeys(stateDir / AUTHORIZED_KEYS)
    hostKey = loadHostKey(stateDir / HOST_KEY)
    writeFileAtomic(
        stateDir / KNOWN_HOSTS,
        HOST_ALIAS.encode() + b" " + hostKey.public().toString("openssh") + b"\n",
        mode=0o644,
    )

    realm = manhole_ssh.TerminalRealm()

    def chainedProtocol() -> insults.ServerProtocol:
        return insults.ServerProtocol(manhole.ColoredManhole, namespace)

    realm.chainedProtocolFactory = chainedProtocol  # type: ignore[assignment]  # twisted typing gap
    realm.sessionFactory = terminalSessionType()
    portal = Portal(LoggingRealm(realm), [AuthorizedKeysChecker(keys)])
    factory = manhole_ssh.ConchFactory(portal)
    # Instance dicts: ConchFactory's class-level ones are shared by every user of the class.
    factory.publicKeys = {hostKey.sshType(): hostKey.public()}
    factory.privateKeys = {hostKey.sshType(): hostKey}  # type: ignore[dict-item]  # typing gap

    service = ManholeService(factory, hostKey, keys)
    if socket_ is not None:
        from twisted.internet.endpoints import UNIXServerEndpoint

        ManholeListener(
            UNIXServerEndpoint(reactor, str(socket_), mode=0o600, wantPID=True),
            str(socket_),
            factory,
        ).setServiceParent(service)
    if sshPort is not None:
        from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint

        endpointType = TCP6ServerEndpoint if ":" in sshInterface else TCP4ServerEndpoint
        ManholeListener(
            endpointType(reactor, sshPort, interface=sshInterface),
            f"{sshInterface}:{sshPort}",
            factory,
        ).setServiceParent(service)
    return service


class ManholeService(MultiService):
    """The manhole's listeners, and what they serve (for tests and debugging)."""

    def __init__(self, factory: SSHFactory, hostKey: Key, authorizedKeys: Sequence[Key]) -> None:
        super().__init__()
        self.factory = factory
        """The SSH server factory; C{factory.portal} checks the logins."""
        self.hostKey = hostKey
        self.authorizedKeys = list(authorizedKeys)


class ManholeListener(Service):
    """Listens on one endpoint. If it cannot, says so and leaves the gateway
    serving: the manhole is a debugging aid, not what clients depend on."""

    log = Logger(observer=logs.observer)

    def __init__(self, endpoint: IStreamServerEndpoint, description: str, factory: Any) -> None:
        self.endpoint = endpoint
        self.description = description
        self._factory = factory
        self.port: IListeningPort | None = None

    def startService(self) -> None:
        super().startService()
        self.endpoint.listen(self._factory).addCallbacks(self._listening, self._failed)

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        address = port.getHost()
        where = _printable(getattr(address, "name", None) or self.description)
        if hasattr(address, "port"):
            where = f"{getattr(address, 'host', '')}:{address.port}"
        self.log.info("manhole listening on {where} (SSH, public-key auth only)", where=where)

    def _failed(self, reason: Failure) -> None:
        self.log.critical(
            "manhole: cannot listen on {where}: {why}",
            where=self.description,
            why=reason.getErrorMessage(),
        )

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        port, self.port = self.port, None
        return None if port is None else port.stopListening()


@implementer(ICredentialsChecker)
class AuthorizedKeysChecker:
    """Public-key logins by any user name with one of C{keys}; nothing else.

    A key is checked before the client is asked to sign with it, so clients
    offer their other keys instead of signing with an unknown one; the
    signature itself is verified by conch's own
    C{twisted.conch.checkers.SSHPublicKeyChecker}.
    Logs every login and every refused key, with the key's fingerprint.

    @ivar keys: the authorized keys.
    """

    credentialInterfaces = (ISSHPrivateKey,)
    log = Logger(observer=logs.observer)

    def __init__(self, keys: Sequence[Key]) -> None:
        self.keys = list(keys)

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes | tuple[()]]:
        """The user name of C{credentials} (an C{ISSHPrivateKey}) if its key
        is authorized and its signature valid; fails with C{UnauthorizedLogin}
        otherwise, or with C{ValidPublicKey} when the client merely asks
        whether a key would do."""
        from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
        from twisted.conch.ssh.keys import BadKeyError, Key

        user = _printable(credentials.username)
        fingerprint = fingerprintOf(credentials.blob)
        try:
            offered = Key.fromString(credentials.blob)
        except (BadKeyError, ValueError):
            offered = None
        if offered is None or offered not in self.keys:
            self.log.warn(
                "manhole: refused key {fingerprint} for user {user}: not in {file}",
                fingerprint=fingerprint,
                user=user,
                file=AUTHORIZED_KEYS,
            )
            return fail(UnauthorizedLogin("key not authorized"))
        checker = SSHPublicKeyChecker(InMemorySSHKeyDB({credentials.username: self.keys}))
        checked: Deferred[bytes | tuple[()]] = checker.requestAvatarId(credentials)
        if not credentials.signature:
            return checked  # fails with ValidPublicKey: "sign with it, then"

        def loggedIn(avatarId: bytes | tuple[()]) -> bytes | tuple[()]:
            self.log.info(
                "manhole login: user {user}, key {fingerprint}", user=user, fingerprint=fingerprint
            )
            return avatarId

        def refused(reason: Failure) -> Failure:
            self.log.warn(
                "manhole: refused user {user}, key {fingerprint}: {why}",
                user=user,
                fingerprint=fingerprint,
                why=reason.getErrorMessage(),
            )
            return reason

        return checked.addCallbacks(loggedIn, refused)


def terminalSessionType() -> type[TerminalSession]:
    """conch's C{TerminalSession}, completed: a window resize is accepted and
    end of input ends the session (like ^D), where conch's own logs a
    C{NotImplementedError} traceback for each. Made on demand: conch is
    imported only when the manhole is enabled."""
    from twisted.conch.interfaces import IConchUser
    from twisted.conch.manhole_ssh import TerminalSession

    class CompleteTerminalSession(TerminalSession):
        terminal: Any = None

        def openShell(self, proto: Any) -> None:
            self.terminal = self.chainedProtocolFactory()
            self.transportFactory(
                proto, self.terminal, IConchUser(self.original), self.width, self.height
            )

        def windowChanged(self, newWindowSize: Any) -> None:
            self.height, self.width = newWindowSize[:2]

        def eofReceived(self) -> None:
            if self.terminal is not None:
                self.terminal.loseConnection()

    return CompleteTerminalSession


@implementer(IRealm)
class LoggingRealm:
    """Wraps a realm (conch's C{TerminalRealm}) to log every logout.

    @ivar realm: the wrapped realm.
    """

    log = Logger(observer=logs.observer)

    def __init__(self, realm: Any) -> None:
        self.realm = realm

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        interface, avatar, logout = self.realm.requestAvatar(avatarId, mind, *interfaces)
        user = _printable(avatarId)

        def loggedOut() -> None:
            self.log.info("manhole logout: user {user}", user=user)
            logout()

        return interface, avatar, loggedOut


def gatewayNamespace(gateway: Any, top: IService, reactor: IReactor) -> dict[str, Any]:
    """What the manhole's prompt sees: live objects and a few helpers.

      - C{servers()}: each server's line of C{/health}, by name (all three
        render C{gateway.readModel.status()}, the read model, as the HTTP bodies do);
      - C{sessions()}: the body of C{GET /sessions};
      - C{health()}: the body of C{GET /health};
      - C{restart(name)}: stop a stateless server's shared child (the next
        request spawns a fresh one); a Deferred that fires once it has exited;
      - C{gateway}, C{pools}, C{sessions_registry}, C{service} (the top of
        the service tree) and C{reactor}.

    No credentials and no environment values: C{gateway.pools[...].spec}
    holds a server's configured env, so reading it is a deliberate act.
    """

    def servers() -> dict[str, dict[str, Any]]:
        """Each server's line of C{/health}, by name."""
        return {
            name: serverLine(server) for name, server in gateway.readModel.status().servers.items()
        }

    def sessions() -> list[dict[str, Any]]:
        """Every session, as C{GET /sessions} lists them."""
        listed: list[dict[str, Any]] = sessionsBody(gateway.readModel.status())["sessions"]
        return listed

    def health() -> dict[str, Any]:
        """The body of C{GET /health}."""
        return healthBody(gateway.readModel.status(), aggregate=gateway.aggregateSide.status())

    def restart(name: str) -> Deferred[Any]:
        """Stop server C{name}'s shared child; the next request spawns a fresh one."""
        pool = gateway.pools.get(name)
        if pool is None:
            raise KeyError(f"no server {name!r}; servers: {', '.join(sorted(gateway.pools))}")
        try:
            return pool.stopShared()  # type: ignore[no-any-return]
        except NoSharedChild:
            raise ValueError(
                f"server {name!r} is stateful: each session has its own child; to restart"
                " them, end the sessions: [gateway.endSession(s) for s in"
                f" sessions_registry.forServer({name!r})]"
            ) from None

    return {
        "servers": servers,
        "sessions": sessions,
        "health": health,
        "restart": restart,
        "gateway": gateway,
        "pools": gateway.pools,
        "sessions_registry": gateway.sessions,
        "service": top,
        "reactor": reactor,
    }


def loadAuthorizedKeys(path: Path) -> list[Key]:
    """The public keys of an OpenSSH C{authorized_keys} file.

    @raise ManholeError: the file is missing, holds no key, has a line that
        is not a plain key (options such as C{from=} are refused rather than
        silently ignored), or others could write to it.
    """
    from twisted.conch.ssh.keys import BadKeyError, Key

    howTo = (
        f"add your public key to {path} (e.g. mkdir -p -m 700 {path.parent} &&"
        f" cat ~/.ssh/id_ed25519.pub >> {path} && chmod 600 {path})"
    )
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManholeError(f"no manhole authorized keys: {howTo}") from None
    except OSError as e:
        raise ManholeError(f"cannot read {path}: {e.strerror}") from None
    _checkOwned(path, info, 0o022, "writable by group or others")
    keys = []
    for number, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        if not line.startswith(_KEY_TYPES):
            raise ManholeError(
                f"{path}, line {number}: not a plain public key (key options are not supported)"
            )
        try:
            keys.append(Key.fromString(b" ".join(line.split()[:2])))
        except (BadKeyError, ValueError, IndexError) as e:
            raise ManholeError(f"{path}, line {number}: not a public key ({e})") from None
    if not keys:
        raise ManholeError(f"no key in {path}: {howTo}")
    return keys


def loadHostKey(path: Path) -> Key:
    """The manhole's SSH host key; an ed25519 key is generated into C{path}
    (mode 0600) the first time.

    @raise ManholeError: the existing key is readable by others, or unreadable.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from twisted.conch.ssh.keys import BadKeyError, Key

    try:
        info = path.stat()
    except FileNotFoundError:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        writeFileAtomic(path, pem, mode=0o600)
        info = path.stat()
    _checkOwned(path, info, 0o077, "readable by group or others")
    try:
        key: Key = Key.fromString(path.read_bytes())
        return key
    except (BadKeyError, ValueError, OSError) as e:
        raise ManholeError(
            f"cannot use the manhole host key {path}: {e}; remove it to have a new one generated"
        ) from None


def fingerprintOf(blob: bytes) -> str:
    """A public key's fingerprint as OpenSSH shows it (C{SHA256:...})."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).rstrip(b"=")
    return "SHA256:" + digest.decode("ascii")


def checkPrivateDirectory(path: Path) -> None:
    """Refuse a directory that is not ours or that group or others may enter.

    @raise ManholeError: saying what is wrong and the command that fixes it.
    """
    try:
        info = path.stat()
    except OSError as e:
        raise ManholeError(f"manhole socket directory {path}: {e.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ManholeError(f"manhole socket directory {path} is not a directory")
    _checkOwned(path, info, 0o077, "open to group or others")


def _socketPathIn(stateDir: Path, socketPath: Path) -> Path:
    """Where the socket goes; its directory is made (0700) or checked."""
    path = Path(socketPath).expanduser()
    if not path.is_absolute():
        path = stateDir / path
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ManholeError(
            f"manhole socket path {path} is longer than {MAX_SOCKET_PATH} bytes;"
            " choose a shorter one"
        )
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    checkPrivateDirectory(path.parent)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISSOCK(mode):
        raise ManholeError(f"manhole socket path {path} exists and is not a socket")
    return path


def _checkStateDir(stateDir: Path) -> None:
    """The state directory holds the keys: others may not write to it."""
    stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _checkOwned(stateDir, stateDir.stat(), 0o022, "writable by group or others")


def _checkOwned(path: Path, info: os.stat_result, forbidden: int, problem: str) -> None:
    if info.st_uid != os.geteuid():
        raise ManholeError(
            f"{path} belongs to uid {info.st_uid}, not to this user"
            f" (uid {os.geteuid()}); the manhole refuses it"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & forbidden:
        fixed = mode & ~forbidden & 0o7777
        raise ManholeError(
            f"{path} is {problem} (mode {mode:04o}); the manhole refuses it: chmod {fixed:o} {path}"
        )


def _checkLoopback(interface: str) -> None:
    try:
        address = ipaddress.ip_address(interface)
    except ValueError:
        raise ManholeError(
            f"manhole SSH interface {interface!r} is not an IP address; use 127.0.0.1 or ::1"
        ) from None
    if not address.is_loopback:
        raise ManholeError(f"the manhole listens on loopback only, not on {interface}")


def _requireConch() -> None:
    """Import conch and its dependencies now, or say how to install them."""
    try:
        import cryptography  # noqa: F401
        import twisted.conch.manhole_ssh  # noqa: F401
    except ImportError as e:
        raise ManholeError(
            f"the manhole needs Twisted's SSH support ({e}): pip install 'mcpgateway[manhole]'"
        ) from None


def _printable(name: Any) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return str(name)
