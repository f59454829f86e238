# -*- test-case-name: tests.sandbox.test_sandboxing -*-
"""The C{--sandbox} option (docs/guide/sandbox.md), and the gateway's
L{mcpgateway.sandbox.confine.Sandbox} made of it.

C{--sandbox auto} (the default) confines every stdio child with the best
mechanism that works here (found after daemonizing,
L{mcpgateway.sandbox.detect}), but for the servers whose entry says
C{"sandbox": false}; C{--sandbox off} confines only the servers whose entry
asks for it (C{"sandbox": true}, a profile object, VS Code's
C{"sandboxEnabled": true}). Without C{--sandbox}, C{$MCPGATEWAY_SANDBOX}
decides, as the other options' environment fallbacks do.
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

MODES = ("auto", "off")
"""The words of C{--sandbox} (L{mcpgateway.sandbox.confine.MODES})."""
DEFAULT = "auto"
SANDBOX_ENV = "MCPGATEWAY_SANDBOX"
"""The environment variable C{--sandbox} falls back to."""
SANDBOX_HELP = (
    "Confine the servers' children (docs/guide/sandbox.md): auto (every stdio server, with"
    ' bubblewrap, else Landlock, but those whose entry says "sandbox": false) or off (only'
    ' the servers whose entry asks for it: "sandbox": true or a profile). Default: auto.'
    " Env: " + SANDBOX_ENV + "."
)


def sandboxMode(value: str) -> str:
    """C{--sandbox}'s value, checked."""
    if value not in MODES:
        raise ValueError(f"use {' or '.join(MODES)}")
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
    options: Mapping[str, Any], stateDir: Path, reactor: IReactor, top: IService
) -> Sandbox:
    """The gateway's sandbox, its probe started by a service under C{top}
    once the gateway has daemonized."""
    from mcpgateway.core.environment import childEnvironment
    from mcpgateway.sandbox.confine import Sandbox
    from mcpgateway.sandbox.detect import SandboxService, probe
    from mcpgateway.startup.netproxy import NetworkProxy
    from mcpgateway.startup.process import threadRunner

    environ = childEnvironment(os.environ)  # the probe is a child too: no secret of ours
    # the allow lists' proxy: a socket per server, when asked; learning servers' hosts recorded
    proxy = NetworkProxy(reactor, runInThread=threadRunner(reactor))
    proxy.setServiceParent(top)
    sandbox = Sandbox(
        str(options.get("sandbox") or DEFAULT),
        str(stateDir),
        prober=lambda: probe(reactor, environ),
        team=bool(options.get("auth-tokens") or options.get("oauth-issuer")),
        proxy=proxy,
    )
    SandboxService(sandbox).setServiceParent(top)
    return sandbox


def serverPaths(pools: Mapping[str, Any]) -> Iterable[tuple[str, tuple[str, ...]]]:
    """Every server's name and the paths its entry (and each of its
    routes') names: its C{cwd}, its executable, its absolute arguments."""
    for name, pool in list(pools.items()):
        spec = pool.spec
        for launch in (spec, *(variant.launch for variant in spec.variants)):
            named = [launch.cwd, launch.executable, *launch.args]
            yield name, tuple(p for p in named if isinstance(p, str) and p.startswith("/"))
