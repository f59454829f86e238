# -*- test-case-name: tests.ops.test_monitor -*-
"""Per-server watches on running children: idle stop, memory cap, health ping.

Every C{interval} seconds, for servers that ask for it in their config:
C{idleTimeout} stops a shared child with no traffic for that long (sessions
stay; the next request starts and initializes a fresh child); C{maxRssMb}
restarts a child whose resident memory grew past the cap (read from /proc
through L{mcpgateway.runtime.procfs}: a few bytes per child, off the request path);
C{healthPing} pings a shared child idle for that long with the gateway's own
request id, and kills it if it does not answer (the restart policy brings it
back).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.ops.services import PeriodicService
from mcpgateway.runtime import logs, procfs

RssReader = Callable[[int], int | None]
"""Resident bytes of a process, or C{None}."""


class Monitor:
    """One pass over every server's children."""

    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, clock: IReactorTime, rss: RssReader = procfs.rss) -> None:
        self._gateway = gateway
        self._clock = clock
        self._rss = rss

    def check(self) -> None:
        now = self._clock.seconds()
        for name, pool in list(self._gateway.pools.items()):
            spec = pool.spec
            if spec.maxRssMb is not None:
                for pid in pool.pids():
                    try:
                        self._memory(name, pool, pid, spec.maxRssMb)
                    except Exception:
                        self.log.failure("monitor: checking server {server} failed", server=name)
            try:
                idle = pool.idle(now)
                if idle is None:
                    continue
                if spec.idleTimeout is not None and idle.quiet >= spec.idleTimeout:
                    self.log.info(
                        "server {server}: no traffic for {seconds:.0f} s; stopping"
                        " its shared child (restarts on the next request)",
                        server=name,
                        seconds=idle.quiet,
                    )
                    quiet = f"no traffic for {idle.quiet:.0f} s"
                    pool.events.emit("idle-stop", quiet)
                    pool.stopShared(quiet)
                elif spec.healthPing is not None and idle.quiet >= spec.healthPing:
                    pool.healthPing()
            except Exception:
                self.log.failure("monitor: checking server {server} failed", server=name)

    def _memory(self, name: str, pool: PoolLike, pid: int, capMb: float) -> None:
        rss = self._rss(pid)
        if rss is None or rss <= capMb * 1024 * 1024:
            return
        text = f"child pid {pid} uses {rss / 1048576:.0f} MB, over its {capMb:g} MB cap; restarting"
        self.log.warn("server {server}: {text}", server=name, text=text)
        pool.events.emit("memory-cap", text, pid=pid)
        pool.stopChild(pid, f"it used {rss / 1048576:.0f} MB, over its {capMb:g} MB cap")


class MonitorService(PeriodicService):
    """Runs L{Monitor.check} every C{interval} seconds."""

    failure = "monitor pass failed"

    def __init__(self, monitor: Monitor, clock: IReactorTime, interval: float = 10.0) -> None:
        super().__init__(clock, interval)
        self.monitor = monitor

    def run(self) -> None:
        self.monitor.check()
