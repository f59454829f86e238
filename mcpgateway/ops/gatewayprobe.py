# -*- test-case-name: tests.cli.test_doctor,tests.cli.test_stop,tests.cli.test_start -*-
"""Finding the gateway of a state directory from outside.

C{state.json} (the pid, port and interface the gateway wrote) and the
C{gateway.lock} flock it holds while it runs, read with the library's own
readers (L{mcpgateway.ops.statedir}); C{twistd.pid} for a gateway that has
not written its state yet. Nothing here talks HTTP; L{GatewayProbe.baseUrl}
says where the gateway answers (https when its state.json says C{"tls"}).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.healthcheck import hostFor
from mcpgateway.ops import statedir
from mcpgateway.ops.statedir import pidAlive
from mcpgateway.runtime.paths import DEFAULT_PORT, PID_FILE, defaultStateDir


def positiveInt(value: Any) -> int | None:
    """C{value} when it is a positive integer (not a bool): a pid, a port."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


@dataclass
class GatewayProbe:
    """What the state directory says about the gateway."""

    stateDir: Path
    state: dict[str, Any] | None = None
    stateError: str | None = None
    alive: bool = False
    locked: bool = False
    isGateway: bool = False

    @property
    def pid(self) -> int | None:
        return positiveInt((self.state or {}).get("pid"))

    @property
    def port(self) -> int | None:
        return positiveInt((self.state or {}).get("port"))

    @property
    def running(self) -> bool:
        """state.json names a live process that holds the lock (or, when
        the lock is not held, is at least an mcpgateway process)."""
        return self.pid is not None and self.alive and (self.locked or self.isGateway)

    @property
    def stale(self) -> bool:
        """state.json is there, but its gateway is gone."""
        return (self.state is not None or self.stateError is not None) and not self.running

    @property
    def handingOver(self) -> tuple[int, float] | None:
        """The previous process of a restart that still hands over to this
        gateway (C{state.json}'s C{handingOver}): its pid, and the seconds
        the hand-over may take at most from this gateway's start; C{None}
        when there is none (any more)."""
        field = (self.state or {}).get("handingOver")
        if not isinstance(field, dict):
            return None
        pid, within = positiveInt(field.get("from")), field.get("within")
        if pid is None:
            return None
        if not isinstance(within, int | float) or isinstance(within, bool) or within < 0:
            within = 0.0
        return pid, float(within)

    @property
    def tls(self) -> bool:
        """Whether the gateway listens on TLS (C{"tls": true} in state.json)."""
        return (self.state or {}).get("tls") is True

    def baseUrl(self) -> str:
        """C{http://host:port}, or C{https://} when the gateway listens on TLS."""
        state = self.state or {}
        return gatewayUrl(self.port or DEFAULT_PORT, state.get("interface"), self.tls)


def probe(
    stateDir: Path, isGatewayProcess: Callable[[int], bool] = statedir.isGatewayProcess
) -> GatewayProbe:
    """Read C{state.json} and check its pid and the lock."""
    state, error = statedir.readStateOrError(stateDir)
    result = GatewayProbe(stateDir, state, error)
    pid = result.pid
    if pid is not None:
        result.alive = pidAlive(pid)
        result.locked = statedir.lockHeld(stateDir)
        result.isGateway = result.alive and isGatewayProcess(pid)
    return result


def gatewayUrl(port: int, interface: Any = None, tls: bool = False) -> str:
    """C{http://host:port} of a gateway bound to C{interface} (C{https://}
    when it listens on TLS); loopback when it listens on every address, as
    C{python -m mcpgateway.healthcheck} reaches it."""
    host = hostFor(interface)
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


def removeStalePidFile(stateDir: Path) -> None:
    """Remove C{twistd.pid} unless a live mcpgateway has it (twistd would
    refuse to start over a zombie's pid, as left where nothing reaps)."""
    path = stateDir / PID_FILE
    pid = pidFromFile(path)
    if pid is not None and pidAlive(pid) and statedir.isGatewayProcess(pid):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def pidFromFile(path: Path) -> int | None:
    """The pid in a pid file, or C{None}."""
    try:
        return positiveInt(int(path.read_text().strip()))
    except (OSError, ValueError):
        return None


def twistdPid(stateDir: Path) -> int | None:
    """The pid in C{twistd.pid} when it is a live mcpgateway (a gateway that
    wrote no state.json)."""
    pid = pidFromFile(stateDir / PID_FILE)
    return pid if pid is not None and pidAlive(pid) and statedir.isGatewayProcess(pid) else None


def waitGone(
    pid: int, timeout: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> bool:
    """Whether C{pid} exited within C{timeout} seconds."""
    deadline = clock() + timeout
    while pidAlive(pid):
        if clock() >= deadline:
            return False
        sleep(0.05)
    return True


def resolveStateDir(value: str | None) -> Path:
    return Path(value or defaultStateDir()).expanduser().absolute()


def claudeConfigPath(state: dict[str, Any] | None) -> Path:
    """The config the gateway serves (from state.json), else C{~/.claude.json}."""
    configured = (state or {}).get("config")
    if isinstance(configured, str) and configured:
        return Path(configured).expanduser()
    return Path.home() / ".claude.json"
