# -*- test-case-name: tests.startup.test_sandboxing -*-
"""The C{--sandbox} option (docs/guide/sandbox.md), and the gateway's
L{mcpgateway.sandbox.confine.Sandbox} made of it.

C{--sandbox auto} (the default) confines every stdio child with the best
mechanism that works here (found after daemonizing,
L{mcpgateway.sandbox.detect}), but for the servers whose entry says
C{"sandbox": false}; C{--sandbox bubblewrap} and C{--sandbox landlock}
confine the same servers with that mechanism only (a child it cannot
confine does not start); C{--sandbox off} confines only the servers whose
entry asks for it (C{"sandbox": true}, a profile object, VS Code's
C{"sandboxEnabled": true}). Without C{--sandbox}, C{$MCPGATEWAY_SANDBOX}
decides, as the other options' environment fallbacks do.

The gateway's own files, named by its options (L{gatewayFiles}: its
config, tokens, keys, logs), are masked in every child.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twisted.application.service import IService

    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.sandbox.confine import Sandbox

MODES = ("auto", "off", "bubblewrap", "landlock")
"""The words of C{--sandbox} (L{mcpgateway.sandbox.confine.MODES})."""
DEFAULT = "auto"
SANDBOX_ENV = "MCPGATEWAY_SANDBOX"
"""The environment variable C{--sandbox} falls back to."""
SANDBOX_HELP = (
    "Confine the servers' children (docs/guide/sandbox.md): auto (every stdio server, with"
    ' bubblewrap, else Landlock, but those whose entry says "sandbox": false), bubblewrap or'
    " landlock (the same servers, with that mechanism only: a child it cannot confine does"
    ' not start), or off (only the servers whose entry asks for it: "sandbox": true or a'
    " profile). Default: auto. Env: " + SANDBOX_ENV + "."
)
LOG_FILES_KEPT = 3
"""The rotated files C{--log-file} keeps (C{path.1}...;
L{mcpgateway.runtime.logs.LogFileService})."""
AUDIT_FILES_KEPT = 10
"""The rotated files C{--audit-log} keeps (L{mcpgateway.ops.audit.AuditLog})."""


def sandboxMode(value: str) -> str:
    """C{--sandbox}'s value, checked."""
    if value not in MODES:
        raise ValueError(f"use {', '.join(MODES[:-1])} or {MODES[-1]}")
    return value


START_HELP = (
    "Seconds a child may take to start and answer its handshake (initialize), whatever"
    " shorter request timeout its calls have (a confined child's sandbox, an npx resolving"
    " its package; a server's longer request timeout is its handshake's too). Default: 60."
)


def startTimeout(value: str) -> float:
    """C{--start-timeout}'s value: a positive number of seconds."""
    seconds = float(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return seconds


def sandboxParameters() -> list[list[Any]]:
    """The C{optParameters} entries of C{--sandbox} and C{--start-timeout}
    (a confined child's start is the slow one)."""
    return [
        ["sandbox", None, None, SANDBOX_HELP, sandboxMode],
        ["start-timeout", None, 60.0, START_HELP, startTimeout],
    ]


def sandboxSetting(given: str | None, environ: Mapping[str, str]) -> str:
    """The gateway's C{--sandbox}: the option when given, else
    C{$MCPGATEWAY_SANDBOX} when set, else L{DEFAULT}.

    @raise UsageError: the environment variable names no mode.
    """
    from twisted.python.usage import UsageError

    if given is not None:
        return given
    fromEnv = environ.get(SANDBOX_ENV, "").strip()
    if not fromEnv:
        return DEFAULT
    try:
        return sandboxMode(fromEnv)
    except ValueError as e:
        raise UsageError(f"${SANDBOX_ENV} {fromEnv!r}: {e}") from None


def wireSandbox(
    options: Mapping[str, Any],
    stateDir: Path,
    reactor: IReactor,
    top: IService,
    configPath: str | Path | None = None,
) -> Sandbox:
    """The gateway's sandbox, its probe started by a service under C{top}
    once the gateway has daemonized, with the pruning of its children's
    launcher caches (L{mcpgateway.ops.cachepruning}); the gateway's own files
    (L{gatewayFiles}, C{configPath} the config it serves) masked in every
    child."""
    from mcpgateway.core.environment import childEnvironment
    from mcpgateway.ops.cachepruning import CachePruning
    from mcpgateway.sandbox.confine import Sandbox
    from mcpgateway.sandbox.detect import SandboxService, probe
    from mcpgateway.startup.ondemandproxy import OnDemandProxy
    from mcpgateway.startup.process import threadRunner

    environ = childEnvironment(os.environ)  # the probe is a child too: no secret of ours
    # the allow lists' proxy: a socket per server, when asked; learning servers' hosts recorded
    proxy = OnDemandProxy(reactor, threadRunner(reactor))
    proxy.setServiceParent(top)
    sandbox = Sandbox(
        str(options.get("sandbox") or DEFAULT),
        str(stateDir),
        prober=lambda: probe(reactor, environ, warden=sandbox.warden),  # the warden's too
        team=bool(options.get("auth-tokens") or options.get("oauth-issuer")),
        proxy=proxy,
        gatewayFiles=gatewayFiles(options, os.getcwd(), configPath),
        runInThread=threadRunner(reactor),
    )
    SandboxService(sandbox).setServiceParent(top)
    # the launchers' caches no entry wants any more removed, in the thread pool
    CachePruning(str(stateDir), reactor, threadRunner(reactor)).setServiceParent(top)
    return sandbox


def gatewayFiles(
    options: Mapping[str, Any], cwd: str, configPath: str | Path | None = None
) -> list[str]:
    """The gateway's own files its options name, absolute (a relative one
    under C{cwd}, the gateway's working directory at start; C{~} expanded),
    for every child's sandbox to mask: its config (C{--config}, or the file
    it serves when none was given: C{configPath}), the tokens of
    C{--auth-tokens}, the key of C{--cluster-key-file}, the audit chain's
    key of C{--audit-key-file} (by default in the state directory), the TLS private
    key, certificate and chain of an C{ssl:}/C{tls:} endpoint, C{--audit-log}
    and C{--log-file} with their rotated files, the policy of C{--policy},
    the task journal's directory (C{--task-dir}: other callers' results)
    and the manhole's socket outside the state directory. The state
    directory itself is masked anyway. Text only: no file is touched.

    Not here: C{--api-token}, a token, not a file (a path would be written
    in the launcher's command line, a token must never be); C{--oauth-ca-file},
    a CA's certificate, public, and perhaps the system's bundle, which
    children need."""
    named: list[str] = []
    for key in (
        "config",
        "auth-tokens",
        "cluster-key-file",
        "audit-key-file",
        "policy",
        "task-dir",
    ):
        value = options.get(key)
        if value:
            named.append(str(value))
    if configPath is not None:
        named.append(str(configPath))
    endpoint = str(options.get("endpoint") or "")
    if endpoint.split(":", 1)[0].lower() in ("ssl", "tls"):
        named += tlsFiles(endpoint)
    for key, kept in (("audit-log", AUDIT_FILES_KEPT), ("log-file", LOG_FILES_KEPT)):
        value = options.get(key)
        if value:
            named += [str(value), *(f"{value}.{n}" for n in range(1, kept + 1))]
    manhole = options.get("manhole")
    if manhole and os.path.isabs(os.path.expanduser(str(manhole))):
        named.append(str(manhole))  # a relative one lies in the state directory
    out: dict[str, None] = {}
    for path in named:
        out[os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))] = None
    return list(out)


def tlsFiles(endpoint: str) -> list[str]:
    """The files of TLS endpoint C{endpoint} (as Twisted's C{ssl:}
    endpoint reads them, L{mcpgateway.startup.preflight}): its private key
    (C{server.pem} by default), its certificate (the key's file when not
    given) and its chain, as written; none when it cannot be parsed
    (preflight refuses such an endpoint)."""
    from mcpgateway.runtime.twistedprivate import parseEndpoint

    try:
        _, kwargs = parseEndpoint(endpoint)
    except (ValueError, IndexError):
        return []
    privateKey = str(kwargs.get("privateKey", "server.pem"))
    files = [privateKey, str(kwargs.get("certKey") or privateKey)]
    if kwargs.get("extraCertChain"):
        files.append(str(kwargs["extraCertChain"]))
    return files


def serverPaths(pools: Mapping[str, Any]) -> Iterable[tuple[str, tuple[str, ...]]]:
    """Every server's name and the paths its entry (and each of its
    routes') names: its C{cwd}, its executable, its absolute arguments."""
    for name, pool in list(pools.items()):
        spec = pool.spec
        for launch in (spec, *(variant.launch for variant in spec.variants)):
            named = [launch.cwd, launch.executable, *launch.args]
            yield name, tuple(p for p in named if isinstance(p, str) and p.startswith("/"))
