"""The gateway as a service: its pools and sessions, and a clean stop.

L{Gateway} holds one L{ServerPool} per configured server and the session
registry; it opens and ends sessions. L{GatewayService} is its place in the
twistd service tree: C{stopService} ends every session and fires only after
every child has exited.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import (
    IListeningPort,
    IReactorCore,
    IReactorProcess,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__, jsonrpc, logs
from mcpgateway.child import DEFAULT_MAX_LINE
from mcpgateway.config import ServerSpec
from mcpgateway.pool import ServerPool
from mcpgateway.sessions import Session, SessionRegistry


class Gateway:
    """Every server pool and every session of this gateway process."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        specs: Mapping[str, ServerSpec],
        reactor: IReactorProcess,
        clock: IReactorTime,
        environ: Mapping[str, str],
        maxLine: int = DEFAULT_MAX_LINE,
        useProcessGroup: bool = True,
    ) -> None:
        self.clock = clock
        self.sessions = SessionRegistry(clock)
        self.pools: dict[str, ServerPool] = {
            name: ServerPool(spec, reactor, clock, environ, maxLine, useProcessGroup)
            for name, spec in specs.items()
        }
        self.started = clock.seconds()

    def openSession(self, server: str, initialize: jsonrpc.Message, protocolVersion: str,
                    ) -> tuple[Session, Deferred[jsonrpc.Message]]:
        """Create a session on C{server}; the Deferred fires with the answer
        to its C{initialize} (the session is dropped again if that fails)."""
        params = initialize.get("params") or {}
        capabilities = params.get("capabilities")
        clientInfo = params.get("clientInfo")
        session = self.sessions.create(
            server, protocolVersion,
            capabilities if isinstance(capabilities, dict) else {},
            clientInfo if isinstance(clientInfo, dict) else {})
        pid = clientInfo.get("pid") if isinstance(clientInfo, dict) else None
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            session.clientPid = pid
        pool = self.pools[server]

        def opened(response: jsonrpc.Message) -> jsonrpc.Message:
            result = response.get("result")
            if not isinstance(result, dict):
                self.endSession(session, "initialize failed")
                return response
            if pool.stateful and isinstance(result.get("protocolVersion"), str):
                session.protocolVersion = result["protocolVersion"]
            self.log.info("session {sid} opened on {server} (protocol {version}, client {client})",
                          sid=session.id[:8], server=server, version=session.protocolVersion,
                          client=session.clientInfo.get("name"))
            return response

        def failed(reason: Any) -> Any:
            self.endSession(session, "initialize failed")
            return reason

        return session, pool.open(session, initialize).addCallbacks(opened, failed)

    def endSession(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """End C{session}: cancel its requests, close its streams, stop its own child."""
        self.sessions.remove(session)
        stream, session.getStream = session.getStream, None
        if stream is not None:
            stream.close()
        return self.pools[session.server].close(session, reason)

    def stop(self) -> Deferred[Any]:
        """End every session and stop every child; fires when all have exited."""
        for session in self.sessions:
            self.endSession(session, "gateway stopping")
        return DeferredList([pool.stopAll() for pool in self.pools.values()], consumeErrors=True)

    def health(self) -> dict[str, Any]:
        """The body of C{GET /health}."""
        return {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "uptime": round(self.clock.seconds() - self.started, 3),
            "rssBytes": currentRss(),
            "sessions": len(self.sessions),
            "servers": {
                name: {**pool.describe(), "sessions": len(self.sessions.forServer(name))}
                for name, pool in self.pools.items()
            },
        }


class GatewayService(Service):
    """Stops the gateway's children when the service tree stops."""

    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def startService(self) -> None:
        super().startService()
        self.log.info("gateway {version} serving {count} server(s): {names}",
                      version=__version__, count=len(self.gateway.pools),
                      names=", ".join(sorted(self.gateway.pools)) or "(none)")

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        started = self.gateway.clock.seconds()

        def done(result: Any) -> Any:
            self.log.info("all children stopped in {seconds:.2f}s",
                          seconds=self.gateway.clock.seconds() - started)
            return result

        if not self.gateway.pools:
            return succeed(None)
        return self.gateway.stop().addCallback(done)


def currentRss() -> int | None:
    """This process's resident set size in bytes (Linux), else C{None}."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class ListenerService(Service):
    """Listens on the gateway's endpoint; if it cannot, says so in one line
    and stops the process with exit status 1 (no traceback, no half-started
    gateway)."""

    log = Logger(observer=logs.observer)

    def __init__(self, endpoint: IStreamServerEndpoint, description: str, factory: Any,
                 reactor: IReactorCore, exit: Callable[[int], Any] = os._exit) -> None:
        self._endpoint = endpoint
        self._description = description
        self._factory = factory
        self._reactor = reactor
        self._exit = exit
        self._port: IListeningPort | None = None

    def startService(self) -> None:
        super().startService()
        self._endpoint.listen(self._factory).addCallbacks(self._listening, self._failed)

    def _listening(self, port: IListeningPort) -> None:
        self._port = port
        address = port.getHost()
        self.log.info("listening on {where}", where=f"{getattr(address, 'host', address)}:"
                                                      f"{getattr(address, 'port', '')}")

    def _failed(self, reason: Failure) -> None:
        self.log.critical("cannot listen on {endpoint}: {why}", endpoint=self._description,
                          why=reason.getErrorMessage())
        self._reactor.addSystemEventTrigger("after", "shutdown", self._exit, 1)
        # Listening may fail before the reactor runs (twist starts services first).
        self._reactor.callWhenRunning(self._reactor.stop)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self._port is None:
            return None
        port, self._port = self._port, None
        return port.stopListening()
