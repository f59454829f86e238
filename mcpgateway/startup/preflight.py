# -*- test-case-name: tests.startup.test_preflight -*-
"""What must succeed, or fail in one line, before twistd daemonizes.

L{preflight} runs in C{makeService}, in the process the user started, so a
problem is told on their terminal with exit status 1 instead of in a log
file after the terminal returned: the state directory (created 0700), the
single-instance lock (held from here on: a C{flock} survives the fork; a
restart's successor inherits it from its predecessor),
crash recovery of an adopted config, reading the config, and the scan for
children a SIGKILLed predecessor left behind.

A team gateway's files and extras come first (L{checkTeam}): its tokens
file, its TLS key and certificate, its audit log's folder, and the
packages its options need (C{mcpgateway[tls]}, C{mcpgateway[team]}); a
cluster replica's key file is read there too (L{readClusterKeys}).

Nothing here spawns a process, opens a file for later, or starts a timer:
those belong to C{startService}, after daemonizing. The log file is the
one exception that is I{made} here, because it holds the events of these
steps in memory and writes them once it opens (see L{logs.LogFileService}).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from twisted.logger import Logger

from mcpgateway.config import servers as config
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.config.watched import ConfigSource, PlainFile
from mcpgateway.ops.statedir import (
    AlreadyRunning,
    InstanceLock,
    findOrphans,
    openStateDir,
    staleState,
    unsafeSecrets,
    unsafeStateDir,
)
from mcpgateway.ops.wardenfiles import wardenWaits
from mcpgateway.runtime import logs

log = Logger(observer=logs.observer, namespace="mcpgateway.tap")


class PreflightError(Exception):
    """The gateway must not start; the message is the one line to show."""


@dataclass(frozen=True)
class Preflight:
    """What the checks found, for the wiring in C{makeService}."""

    stateDir: Path
    lock: InstanceLock
    configPath: Path | None
    source: ConfigSource
    loaded: LoadedConfig
    orphans: list[tuple[int, str]]
    logFile: logs.LogFileService | None
    clusterKeys: tuple[bytes, ...] = ()
    """The keys of C{--cluster-key-file} (empty: not clustered)."""


def preflight(options: Any, clientHost: str) -> Preflight:
    """Run the checks of the module docstring for parsed C{options}.

    @param clientHost: the address clients reach the gateway at (written
        into an adopted config's entries).
    @raise PreflightError: with one line saying what is wrong and what to do.
    """
    logs.setLevel(options["log-level"])
    checkTeam(options)
    clusterKeys = readClusterKeys(options)
    # First, so the warnings of the steps below reach the log file too.
    logFile = logs.LogFileService(options["log-file"]) if options["log-file"] else None
    stateDir = Path(options["state-dir"]).expanduser()
    stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    refuseUnsafeStateDir(stateDir)
    warnOpenStateDir(stateDir)
    inherited = options.get("handover")
    try:
        if inherited is not None:
            # A restart: the predecessor runs on and passed its lock down.
            lock = InstanceLock.inherited(stateDir, inherited.lockFd)
        else:
            lock = InstanceLock(stateDir)
            lock.acquire()
    except AlreadyRunning as e:
        raise PreflightError(str(e)) from None
    try:
        configPath, source, loaded = _loadConfig(
            options, stateDir, clientHost, inherited is not None
        )
    except BaseException:
        lock.release()
        raise
    # A crashed gateway's warden keeping its children stops those not taken (ops/crashkeep.py).
    orphans = [] if wardenWaits(stateDir) else findOrphans(stateDir)
    return Preflight(stateDir, lock, configPath, source, loaded, orphans, logFile, clusterKeys)


def refuseUnsafeStateDir(stateDir: Path) -> None:
    """Refuse, in one line, a state directory another user can write in or
    that is not this user's, and a workspace key or owner token another user may have read
    (L{mcpgateway.ops.statedir.unsafeStateDir}, C{unsafeSecrets}): the
    gateway would trust what they put there.

    @raise PreflightError: what is wrong and the command that fixes it.
    """
    why = unsafeStateDir(stateDir) or unsafeSecrets(stateDir)
    if why is not None:
        raise PreflightError(why)


def warnOpenStateDir(stateDir: Path) -> bool:
    """Warn (once, at start) when other users may read or enter C{stateDir}
    (L{openStateDir}): it holds the sessions, the logs, the workspace key and
    the npx/uvx installs. Not changed here: it may be a directory the user
    chose for more than the gateway. Whether it warned."""
    opened = openStateDir(stateDir)
    if opened is None:
        return False
    log.warn("{why}", why=opened[1], path=str(stateDir), mode=opened[0])
    return True


def checkTeam(options: Any) -> None:
    """The team gateway's checks (docs/guide/team.md), each a one-line refusal
    saying what to do: a C{ssl:} endpoint needs pyOpenSSL and readable key,
    certificate and chain files; C{--auth-tokens} a valid tokens file;
    C{--oauth-issuer} PyJWT, treq and cryptography (and, for https, pyOpenSSL
    and service_identity: Twisted would not check the issuer's hostname
    without it) and a readable C{--oauth-ca-file}; C{--audit-log} an
    existing folder, and its key (C{--audit-key-file}, else the state
    directory's) in another folder (L{mcpgateway.ops.auditkey.misplacedKey}).

    @raise PreflightError: the first problem found.
    """
    endpoint = str(options.get("endpoint") or "")
    if endpoint.split(":", 1)[0].lower() in ("ssl", "tls"):
        _checkTLS(endpoint)
    tokens = options.get("auth-tokens")
    if tokens:
        _checkTokens(Path(tokens))
    issuer = options.get("oauth-issuer")
    if issuer:
        _checkImports(
            ("jwt", "treq", "cryptography"),
            f"--oauth-issuer {issuer} needs PyJWT, treq and cryptography:"
            " pip install 'mcpgateway[team]'",
        )
        urls = (issuer, options.get("oauth-jwks-uri") or "")
        if any(url.lower().startswith("https:") for url in urls):
            _checkImports(
                ("OpenSSL", "service_identity"),
                f"--oauth-issuer {issuer}: an https issuer needs pyOpenSSL and service_identity"
                " (without it the issuer's certificate would not be checked against its name):"
                " pip install 'mcpgateway[team]'",
            )
        ca = options.get("oauth-ca-file")
        if ca:
            _readable(Path(ca), "--oauth-ca-file", b"-----BEGIN CERTIFICATE-----")
    audit = options.get("audit-log")
    if audit:
        folder = Path(audit).expanduser().absolute().parent
        if not folder.is_dir():
            raise PreflightError(f"--audit-log {audit}: the folder {folder} does not exist")
        from mcpgateway.ops.auditkey import keyPath, misplacedKey

        key = keyPath(options.get("audit-key-file"), options.get("state-dir") or ".")
        misplaced = misplacedKey(key, audit)
        if misplaced is not None:
            raise PreflightError(f"--audit-log {audit}: {misplaced}")


def readClusterKeys(options: Any) -> tuple[bytes, ...]:
    """The keys of C{--cluster-key-file} (docs/guide/cluster.md), or C{()} when
    not clustered.

    @raise PreflightError: cryptography is missing, or the file is
        missing, unreadable, open to group or others, empty or malformed
        (one line naming the file, and the line number: never a key).
    """
    path = options.get("cluster-key-file")
    if not path:
        return ()
    _checkImports(
        ("cryptography",),
        f"--cluster-key-file {path}: a cluster needs cryptography: pip install 'mcpgateway[team]'",
    )
    from mcpgateway.cluster.keyfile import ClusterKeyError, loadClusterKeys

    try:
        return loadClusterKeys(Path(path))
    except ClusterKeyError as e:
        raise PreflightError(f"--cluster-key-file: {e}") from None


def _checkTLS(endpoint: str) -> None:
    """An C{ssl:} endpoint: pyOpenSSL, and its files (Twisted would read
    them with a traceback, or say the restart passed no socket)."""
    from mcpgateway.runtime.twistedprivate import parseEndpoint

    _checkImports(
        ("OpenSSL",),
        f"--port {endpoint}: TLS needs pyOpenSSL: pip install 'mcpgateway[tls]'",
    )
    try:
        _args, kwargs = parseEndpoint(endpoint)
    except (ValueError, IndexError) as e:
        raise PreflightError(f"--port {endpoint}: {e}") from None
    privateKey = kwargs.get("privateKey", "server.pem")
    files = [
        ("private key", privateKey, b"PRIVATE KEY-----"),
        ("certificate", kwargs.get("certKey") or privateKey, b"-----BEGIN CERTIFICATE-----"),
    ]
    if kwargs.get("extraCertChain"):
        files.append(
            ("certificate chain", kwargs["extraCertChain"], b"-----BEGIN CERTIFICATE-----")
        )
    read = [
        _readable(Path(name).expanduser(), f"--port: the TLS {what} file", marker)
        for what, name, marker in files
    ]
    _checkKeyPair(Path(files[0][1]).expanduser(), read[0], Path(files[1][1]).expanduser(), read[1])


class _Encrypted(Exception):
    """The private key asked for a passphrase (the gateway has none to give)."""


def _refusePassphrase(*_: object) -> bytes:
    raise _Encrypted()


def _checkKeyPair(keyPath: Path, keyData: bytes, certPath: Path, certData: bytes) -> None:
    """The key and certificate load as Twisted's C{ssl:} endpoint loads
    them, without a passphrase, and belong together; else one line (Twisted
    would say it with a traceback, or OpenSSL would ask for a passphrase on
    a terminal a daemon does not have)."""
    from OpenSSL import SSL, crypto

    what = f"--port: the TLS private key file {keyPath}"
    try:
        key = crypto.load_privatekey(crypto.FILETYPE_PEM, keyData, _refusePassphrase)
    except _Encrypted:
        raise PreflightError(_encrypted(what, keyPath)) from None
    except (crypto.Error, ValueError, TypeError) as e:
        raise PreflightError(f"{what}: not a private key OpenSSL can read ({_why(e)})") from None
    try:
        cert = crypto.load_certificate(crypto.FILETYPE_PEM, certData)
    except (crypto.Error, ValueError, TypeError) as e:
        raise PreflightError(
            f"--port: the TLS certificate file {certPath}: not a certificate OpenSSL can read"
            f" ({_why(e)})"
        ) from None
    context = SSL.Context(SSL.TLS_METHOD)
    try:
        try:  # pyOpenSSL 24.3 and later take (and prefer) cryptography's objects
            context.use_certificate(cert.to_cryptography())
            # A private key (load_privatekey), typed as either kind.
            context.use_privatekey(cast(Any, key.to_cryptography_key()))
        except TypeError:
            context.use_certificate(cert)
            context.use_privatekey(key)
        context.check_privatekey()
    except SSL.Error as e:
        raise PreflightError(
            f"{what} does not match the certificate {certPath} (not the key it was made"
            f" for: {_why(e)})"
        ) from None


def _encrypted(what: str, path: Path) -> str:
    return (
        f"{what} is encrypted (it needs a passphrase, which the gateway cannot ask for):"
        f" write it unencrypted, readable by you only: openssl pkey -in {path} -out"
        " key-plain.pem && chmod 600 key-plain.pem"
    )


def _why(error: Exception) -> str:
    """OpenSSL's reason, short: the last C{(lib, func, reason)} of its
    error queue, or the message."""
    args = error.args[0] if error.args else None
    if isinstance(args, list) and args and isinstance(args[-1], tuple):
        return str(args[-1][-1])
    return str(error) or type(error).__name__


def _readable(path: Path, what: str, marker: bytes) -> bytes:
    """C{path} can be read and holds C{marker} (a PEM block), or one line;
    its content."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PreflightError(f"{what} {path}: {e.strerror or e}") from None
    if marker not in data:
        raise PreflightError(f"{what} {path}: not PEM (no {marker.decode()!r} in it)")
    return data


def _checkTokens(path: Path) -> None:
    from mcpgateway.auth.tokenfile import TokensFileError, readTokens

    try:
        readTokens(path)
    except TokensFileError as e:
        raise PreflightError(str(e)) from None
    except OSError as e:
        raise PreflightError(
            f"--auth-tokens {path}: {e.strerror or e} (`mcpgateway token new NAME --file"
            f" {path}` makes one)"
        ) from None


def _checkImports(modules: tuple[str, ...], message: str) -> None:
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise PreflightError(message) from None


def _loadConfig(
    options: Any,
    stateDir: Path,
    clientHost: str,
    takingOver: bool = False,
) -> tuple[Path | None, ConfigSource, LoadedConfig]:
    stale = None if takingOver else staleState(stateDir)
    path = options["config"]
    configPath = Path(path).expanduser() if path else config.defaultConfigPath()
    source: ConfigSource
    remotes = options.get("remote") == "adopt"
    try:
        if options["rewrite-config"]:
            headers = _ownerHeaders(options, stateDir)
            engine = _engine(options, stateDir, configPath, headers)
            base: ConfigSource = PlainFile(None)  # no ~/.claude.json: the demo, and the clients
            if configPath is not None:
                from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
                from mcpgateway.clientconfigs.claude import hasBackup

                adopted = AdoptedClaudeConfig(
                    configPath,
                    stateDir,
                    clientHost,
                    remotes=remotes,
                    gatewayPort=listeningPort(options),
                    ownerHeaders=headers,
                )
                if takingOver:
                    # Adopted by the predecessor, which still serves it: nothing to recover.
                    adopted.continueAdoption()
                elif stale is not None or hasBackup(stateDir, configPath):
                    for note in adopted.recover():
                        log.warn("config: {note}", note=note)
                base = adopted
            source = base
            if engine is not None:
                from mcpgateway.clientconfigs.clientsource import ClientsSource

                if not takingOver:  # a restart's predecessor still serves the files
                    _recoverClients(engine)
                source = ClientsSource(
                    base,
                    engine,
                    stateDir,
                    clientHost,
                    projectsFrom=configPath or Path.home() / ".claude.json",
                )
        else:
            source = PlainFile(configPath)
        return configPath, source, source.load()
    except config.ConfigError as e:
        # One line, no traceback: the user's file is wrong, not the gateway.
        raise PreflightError(str(e)) from None
    except ValueError as e:
        raise PreflightError(
            f"cannot adopt {configPath}: {e}; serve it as it is without --rewrite-config"
            " (with mcpgateway start: --no-rewrite)"
        ) from None


def _ownerHeaders(options: Any, stateDir: Path) -> dict[str, str]:
    """The headers the adopted entries carry
    (L{mcpgateway.startup.dooroptions.ownerHeaders}: the owner token where
    this process cannot name a connection's account)."""
    from mcpgateway.startup.dooroptions import ownerHeaders

    try:
        return ownerHeaders(options, stateDir)
    except ValueError as e:
        raise PreflightError(str(e)) from None


def _engine(
    options: Any, stateDir: Path, configPath: Path | None, headers: dict[str, str] | None = None
) -> Any:
    """The adoption engine of the clients C{--clients} names, on this
    user's home; the projects are those of the Claude config (the keys of
    its C{projects}); C{headers}: what every entry it writes carries.
    C{None} for C{none} or an empty list, unless there is no Claude config
    (C{configPath} C{None}): then an engine of no client, whose source
    serves the bundled demo and awaits C{~/.claude.json}, as a start that
    adopts other clients does (C{--clients none} leaves out the other
    clients, never Claude Code)."""
    import os
    import sys

    from mcpgateway.clientconfigs.bridgecommand import defaultBridgeArgv
    from mcpgateway.clientconfigs.clients import select
    from mcpgateway.clientconfigs.clients.base import Host
    from mcpgateway.clientconfigs.clientsource import claudeProjects
    from mcpgateway.clientconfigs.engine import AdoptionEngine

    spec = options.get("clients")
    try:
        adapters = select("all" if spec is None else spec)
    except KeyError as e:
        raise PreflightError(f"--clients: no client named {e}") from None
    if not adapters and configPath is not None:
        # `none`, and a list that names no client (`--clients ''`, as
        # `mcpgateway start` checks it): Claude Code's config only.
        return None
    return AdoptionEngine(
        stateDir,
        adapters,
        Host(Path.home(), sys.platform, os.environ),
        projects=claudeProjects(configPath or Path.home() / ".claude.json"),
        # ~/.mcpgateway itself, not $MCPGATEWAY_HOME: a client launched from
        # the desktop does not have the gateway's environment.
        bridgeArgv=defaultBridgeArgv(stateDir, Path.home() / ".mcpgateway"),
        remotes=options.get("remote") == "adopt",
        gatewayPort=listeningPort(options),
        ownerHeaders=headers,
    )


def listeningPort(options: Any) -> int | None:
    """The TCP port the gateway will listen on, as its endpoint names it
    (C{None}: not a TCP endpoint, or port 0, known once it listens)."""
    endpoint = str(options.get("endpoint") or "")
    kind, _, rest = endpoint.partition(":")
    if kind.lower() not in ("tcp", "tcp6", "ssl", "tls"):
        return None
    port = rest.split(":", 1)[0]
    if port.startswith("port="):
        port = port[len("port=") :]
    return int(port) if port.isdigit() and int(port) > 0 else None


def _recoverClients(engine: Any) -> None:
    """Put back the client files an unclean stop left adopted (before
    adopting them again); say what was done."""
    report = engine.recover()
    for message in report.messages():
        log.warn("config: restored after an unclean stop: {note}", note=message)
    for warning in report.warnings:
        log.warn("config: {warning}", warning=warning)
