# -*- test-case-name: tests.sandbox.test_proxyplan -*-
"""How a bubblewrap sandbox reaches the gateway's allow-list proxy: the
proxy's unix socket and the forwarder (L{mcpgateway.sandbox.forward})
bound in, the forwarder run first (it listens on C{127.0.0.1:PORT} in the
sandbox's own network namespace, then C{exec}s the command), and the
variables that make clients use it.

What honours them: Python's C{urllib}, C{requests}, C{httpx} and C{aiohttp}
(with C{trust_env}), C{pip} and C{uv} read C{HTTP(S)_PROXY}; C{npm} (and so
C{npx}) reads C{npm_config_proxy}/C{npm_config_https_proxy}; Node.js's own
C{fetch} and C{http} read C{HTTP(S)_PROXY} from Node.js 24 on, with
C{NODE_USE_ENV_PROXY=1}; C{curl} and C{git} read C{http(s)_proxy}.
C{ALL_PROXY} is not set (C{curl} would read it as SOCKS) and is removed.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from mcpgateway.sandbox.bwrap import NetworkPlan

PORT = 3128
"""The forwarder's port on the sandbox's own loopback."""
INSIDE = "/.mcpgateway-proxy"
"""Where the socket and the forwarder are, in the sandbox."""
SOCKET = INSIDE + "/proxy.sock"
FORWARDER = INSIDE + "/forward.py"
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/lib", "/opt/", "/nix/", "/gnu/")
"""Where an interpreter is visible in every sandbox already."""
UNSET = ("ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
"""Proxy variables of the gateway's environment a child must not inherit."""


def variables(port: int = PORT) -> tuple[tuple[str, str], ...]:
    """The variables that send a child's clients through the forwarder."""
    url = f"http://127.0.0.1:{port}"
    names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    npm = ("npm_config_proxy", "npm_config_https_proxy")
    return (
        *((name, url) for name in (*names, *npm)),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
        ("NODE_USE_ENV_PROXY", "1"),
    )


def interpreter() -> tuple[str, str | None]:
    """The real Python that runs the forwarder, and its installation to
    bind read-only (C{None}: the system's, visible already)."""
    python = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    if python.startswith(SYSTEM_PREFIXES) and prefix.startswith(("/usr", "/opt", "/nix", "/gnu")):
        return python, None
    return python, prefix


def plan(socketPath: str, command: list[str]) -> tuple[NetworkPlan, list[str]]:
    """The network plan of a sandbox whose way out is the proxy at
    C{socketPath}, and the command that runs the forwarder, then C{command}
    (in the launcher: the gateway reads only this module's names)."""
    from mcpgateway.sandbox.bwrap import NETWORK_NONE, NetworkPlan

    python, prefix = interpreter()
    forwarder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward.py")
    readOnly = [(forwarder, FORWARDER)]
    if prefix is not None:
        readOnly.insert(0, (prefix, prefix))
    network = NetworkPlan(
        NETWORK_NONE,
        binds=((socketPath, SOCKET),),
        environment=variables(),
        readOnly=tuple(readOnly),
    )
    return network, [python, "-I", "-S", FORWARDER, str(PORT), SOCKET, "--", *command]
