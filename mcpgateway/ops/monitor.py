"""Per-server watches on running children: idle stop, memory cap, health ping.

Every C{interval} seconds, for servers that ask for it in their config:
C{idleTimeout} stops a shared child with no traffic for that long (sessions
stay; the next request starts and initializes a fresh child); C{maxRssMb}
restarts a child whose resident memory grew past the cap (read from /proc:
a few bytes per child, off the request path); C{healthPing} pings a shared
child idle for that long with the gateway's own request id, and kills it if
it does not answer (the restart policy brings it back).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway import jsonrpc, logs
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.upstream import Upstream
from mcpgateway.ops.services import PeriodicService

RssReader = Callable[[int], int | None]


def readRss(pid: int) -> int | None:
    """Resident bytes of process C{pid} (Linux), or C{None}."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Monitor:
    """One pass over every server's children."""

    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, clock: IReactorTime, rss: RssReader = readRss) -> None:
        self._gateway = gateway
        self._clock = clock
        self._rss = rss
        self._pinging: set[int] = set()

    def check(self) -> None:
        now = self._clock.seconds()
        for name, pool in list(self._gateway.pools.items()):
            spec = pool.spec
            for upstream in pool.upstreams():
                try:
                    if spec.maxRssMb is not None:
                        self._memory(name, upstream, spec.maxRssMb)
                    if upstream is not pool.shared or upstream.state != "running":
                        continue
                    idle = now - upstream.router.lastActivity
                    if upstream.router.inFlight:
                        continue
                    if spec.idleTimeout is not None and idle >= spec.idleTimeout:
                        self.log.info("server {server}: no traffic for {seconds:.0f} s; stopping"
                                      " its shared child (restarts on the next request)",
                                      server=name, seconds=idle)
                        pool.events.emit("idle-stop", f"no traffic for {idle:.0f} s")
                        upstream.stop()
                    elif spec.healthPing is not None and idle >= spec.healthPing:
                        self._ping(name, upstream)
                except Exception:
                    self.log.failure("monitor: checking server {server} failed", server=name)

    def _memory(self, name: str, upstream: Upstream, capMb: float) -> None:
        pid = upstream.pid
        rss = self._rss(pid) if pid is not None else None
        if rss is None or rss <= capMb * 1024 * 1024:
            return
        text = f"child pid {pid} uses {rss / 1048576:.0f} MB, over its {capMb:g} MB cap; restarting"
        self.log.warn("server {server}: {text}", server=name, text=text)
        upstream.events.emit("memory-cap", text, pid=pid)
        upstream.stop()

    def _ping(self, name: str, upstream: Upstream) -> None:
        child = upstream.child
        if child is None or id(child) in self._pinging:
            return
        self._pinging.add(id(child))

        def answered(response: jsonrpc.Message) -> None:
            self._pinging.discard(id(child))
            if response.get("error", {}).get("code") == jsonrpc.REQUEST_TIMEOUT \
                    and upstream.child is child:
                text = "did not answer a health ping; killing it"
                self.log.warn("server {server}: child pid {pid} {text}", server=name,
                              pid=child.pid, text=text)
                upstream.events.emit("ping-timeout", text, pid=child.pid)
                child.signal("KILL")

        upstream.router.call("ping").addCallback(answered)


class MonitorService(PeriodicService):
    """Runs L{Monitor.check} every C{interval} seconds."""

    failure = "monitor pass failed"

    def __init__(self, monitor: Monitor, clock: IReactorTime, interval: float = 10.0) -> None:
        super().__init__(clock, interval)
        self.monitor = monitor

    def run(self) -> None:
        self.monitor.check()
