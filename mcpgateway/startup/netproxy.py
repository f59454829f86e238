# -*- test-case-name: tests.startup.test_netproxy, tests.startup.test_netproxy_stop -*-
"""The network allow-list proxy the gateway runs for its confined children.

A child whose profile allows some domains (its C{allowedDomains}, or its
launcher's package registries) runs in a network namespace of its own,
with no route out: its only way out is a unix socket the gateway listens
on, bound into its sandbox, where a forwarder (L{mcpgateway.sandbox.forward})
makes it an HTTP proxy on C{127.0.0.1} for the child's C{HTTP(S)_PROXY}.
Each server gets sockets of its own, one per allow list, in a private
runtime directory (mode 0700): which socket a connection came in on says
whose it is, and nothing the child sends can change that. Under Landlock,
which has no network namespace but can restrict TCP connect to ports, a
server gets a loopback TCP port of its own instead (L{NetworkProxy.portFor}).

The proxy serves C{CONNECT host:port} (HTTPS, or any TCP) and plain HTTP
requests in absolute form, for the hosts the allow list names
(L{mcpgateway.sandbox.netproxy.AllowList}); it resolves names without
blocking (the reactor's name resolver), and connects only to public
addresses, or to an address the allow list names literally: no name
leads a child to the gateway's own port or another local service.

Bounded per server: its open connections, each connection's head (the
rest waits in the kernel while the upstream connects), what is buffered
each way (each side is the producer of the other's transport, which
pauses it when the other falls behind), and how long a connection may
stay idle. A refusal is logged once per server and host, naming the
profile line that would allow it, and counted (L{NetworkProxy.status}).

A learning server (C{"sandbox": "learn"}) gets a recording socket
(L{NetworkProxy.recorderFor}): every host it asks for may go out, to
public addresses only as always (a local address still only when named
literally, which learning never does), and each host and port asked for
is appended once to its record (L{HostRecord}), written off the reactor
thread, for C{mcpgateway sandbox suggest}.

A restart hands its listening sockets to the next process with the
children it keeps (L{NetworkProxy.listening}, L{NetworkProxy.adopt}): a
kept child's sandbox has its socket file bound in (which pins the file,
so the next process cannot listen anew at that path), and a kept
Landlock child knows its port. The old process stops accepting on them
and leaves their files in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from twisted.application.service import Service
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHostResolution,
    IListeningPort,
    IReactorPluggableNameResolver,
    IReactorTime,
    IResolutionReceiver,
)
from twisted.internet.protocol import Factory, Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.runtime import logs
from mcpgateway.runtime.reactortype import IReactor
from mcpgateway.runtime.threads import RunInThread, SerialJobs, runInline
from mcpgateway.sandbox.netproxy import (
    MAX_HEAD,
    AllowList,
    IPAddress,
    ProxyRequest,
    ProxyRequestError,
    addressOf,
    allowLine,
    parseHead,
)

MAX_CONNECTIONS = 64
"""The connections one server's children may hold open through the proxy."""
HEAD_TIMEOUT = 30.0
"""Seconds a connection may take to send its request head."""
IDLE_TIMEOUT = 300.0
"""Seconds a connection may pass without a byte either way."""
CONNECT_TIMEOUT = 30
STOP_WAIT = 120.0
"""Seconds a stopping proxy waits at most for the confined children still
running (the gateway stops them after its drain: stdin closed, TERM,
KILL): a bound, should a child's end never be seen."""
MAX_HOSTS_SHOWN = 16
"""The refused hosts a server's status names (the count counts them all)."""
MAX_HOSTS_KEPT = 256
"""The refused hosts counted one by one per socket (and logged once each)."""
OTHER_HOSTS = "(other hosts)"
LEARNING = "(learning)"
"""The allow-list key of a learning server's recording socket."""

Resolver = Callable[[str], Deferred[list[IPAddress]]]
"""A host name's addresses."""


@implementer(IResolutionReceiver)
class _Addresses:
    """Collects what the reactor's name resolver finds for one name."""

    def __init__(self) -> None:
        self.found: list[IPAddress] = []
        self.done: Deferred[list[IPAddress]] = Deferred()

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        pass

    def addressResolved(self, address: IAddress) -> None:
        host = addressOf(str(getattr(address, "host", "")))
        if host is not None and host not in self.found:
            self.found.append(host)

    def resolutionComplete(self) -> None:
        self.done.callback(self.found)


FactoryT = TypeVar("FactoryT", bound="Factory[Any]")


def quiet(factory: FactoryT) -> FactoryT:
    """C{factory}, logging nothing as it starts and stops: the proxy makes
    one per connection a child opens (an C{npm install} opens dozens), and
    a line for each would bury the proxy's own, which name what it refused."""
    factory.noisy = False
    return factory


def reactorResolver(reactor: IReactorPluggableNameResolver) -> Resolver:
    """Resolves with C{reactor}'s name resolver (C{getaddrinfo} in its
    thread pool: the reactor never waits)."""

    def resolve(host: str) -> Deferred[list[IPAddress]]:
        receiver = _Addresses()
        reactor.nameResolver.resolveHostName(receiver, host)
        return receiver.done

    return resolve


class RecordAll(AllowList):
    """A learning server's list: every host may be asked for (its addresses
    are still judged: public ones only)."""

    def __init__(self) -> None:
        super().__init__(())

    def allows(self, host: str, port: int) -> bool:
        return True


class HostRecord:
    """The hosts a learning server asked its proxy for: one line each
    (C{host port asked}, or C{host port local} when it resolved to a local
    address), appended to C{path} once, at most L{MAX_HOSTS_KEPT}."""

    def __init__(self, path: str, jobs: SerialJobs) -> None:
        self.path = path
        self.jobs = jobs
        self.seen: set[tuple[str, int, str]] = set()

    def add(self, host: str, port: int, outcome: str) -> None:
        """Record C{host:port} (its C{outcome}), the first time."""
        key = (host, port, outcome)
        if key in self.seen or len(self.seen) >= MAX_HOSTS_KEPT:
            return
        self.seen.add(key)
        line = f"{host} {port} {outcome}\n"
        self.jobs.run(lambda: _append(self.path, line)).addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        NetworkProxy.log.warn(
            "sandbox: cannot record a learning server's host in {path}: {why}",
            path=self.path,
            why=failure.getErrorMessage(),
        )


def _append(path: str, line: str) -> None:
    """Append C{line} to C{path} (its directory made, mode 0700)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


@dataclass
class ChildNetwork:
    """What one socket of the proxy serves: a server's allow list, its
    open connections and its refusals."""

    server: str
    allow: AllowList
    active: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    """Refusals by C{host:port}."""
    record: HostRecord | None = None
    """Where a learning server's hosts are recorded."""

    @property
    def refusals(self) -> int:
        return sum(self.refused.values())


class _Upstream(Protocol):
    """The proxy's connection to the host a child asked for."""

    def __init__(self, client: ProxyProtocol) -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.client.upstreamReady(self)

    def dataReceived(self, data: bytes) -> None:
        self.client.touch()
        self.client.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.client.upstreamLost()


class ProxyProtocol(Protocol):
    """One connection of a child to its proxy: its request head, then
    bytes both ways."""

    def __init__(self, proxy: NetworkProxy, network: ChildNetwork) -> None:
        self.proxy = proxy
        self.network = network
        self.head = b""
        self.upstream: _Upstream | None = None
        self.request: ProxyRequest | None = None
        self.timer: IDelayedCall | None = None
        self.counted = False
        self.closed = False

    def connectionMade(self) -> None:
        foreign = self.proxy.foreignAccount(self.transport)
        if foreign is not None:
            self.refuse(403, f"this proxy serves its owner's children only, not uid {foreign}")
            return
        if self.network.active >= self.proxy.maxConnections:
            self.refuse(503, f"{self.proxy.maxConnections} connections are open already")
            return
        self.counted = True
        self.network.active += 1
        self.timer = self.proxy.clock.callLater(self.proxy.headTimeout, self.expire)

    def touch(self) -> None:
        """A byte went through: the idle timer starts again."""
        if self.timer is not None and self.timer.active():
            self.timer.reset(self.proxy.idleTimeout)

    def expire(self) -> None:
        self.timer = None
        if self.upstream is None and self.request is None:
            self.refuse(408, "the request head took too long")
            return
        self.close()

    def dataReceived(self, data: bytes) -> None:
        if self.request is not None:
            self.touch()
            if self.upstream is not None and self.upstream.transport is not None:
                self.upstream.transport.write(data)
            else:
                self.head += data  # only what arrived with the head: reading is paused
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEAD:
                self.refuse(431, "the request head is too long")
            return
        head, self.head = self.head[: end + 4], self.head[end + 4 :]
        try:
            self.request = parseHead(head)
        except ProxyRequestError as e:
            self.refuse(400, str(e))
            return
        self.transport.pauseProducing()  # type: ignore[union-attr]
        self.judge(self.request)

    def judge(self, request: ProxyRequest) -> None:
        """Allow or refuse C{request} by its host, then by its addresses."""
        if not self.network.allow.allows(request.host, request.port):
            self.deny(request, "not on its allow list")
            return
        if self.network.record is not None:
            self.network.record.add(request.host, request.port, "asked")
        literal = addressOf(request.host)
        found = succeed([literal]) if literal is not None else self.proxy.resolve(request.host)
        found.addCallbacks(self.resolved, self.unresolved)

    def unresolved(self, failure: Failure) -> None:
        self.refuse(502, f"cannot resolve {self.request.host if self.request else '?'}")

    def resolved(self, addresses: list[IPAddress]) -> None:
        request = self.request
        if self.closed or request is None:
            return
        if not addresses:
            self.refuse(502, f"{request.host} has no address")
            return
        usable = [a for a in addresses if self.network.allow.addressAllowed(a, request.port)]
        if not usable:
            if self.network.record is not None:
                self.network.record.add(request.host, request.port, "local")
            self.deny(request, f"it resolves to {addresses[0]}, a local address")
            return
        self.connectTo(usable)

    def connectTo(self, addresses: list[IPAddress]) -> None:
        """Connect to the first of C{addresses} that answers."""
        proxy = self.proxy
        request = self.request
        assert request is not None
        address, rest = addresses[0], addresses[1:]
        kind = TCP6ClientEndpoint if address.version == 6 else TCP4ClientEndpoint
        endpoint = kind(proxy.reactor, str(address), request.port, timeout=CONNECT_TIMEOUT)
        connecting = endpoint.connect(quiet(Factory.forProtocol(lambda: _Upstream(self))))

        def failed(failure: Failure) -> None:
            if self.closed:
                return
            if rest:
                self.connectTo(rest)
            else:
                self.refuse(502, f"cannot connect to {request.host}:{request.port}")

        connecting.addErrback(failed)

    def upstreamReady(self, upstream: _Upstream) -> None:
        if self.closed:
            upstream.transport.loseConnection()  # type: ignore[union-attr]
            return
        self.upstream = upstream
        request = self.request
        assert request is not None and upstream.transport is not None
        assert self.transport is not None
        self.transport.registerProducer(upstream.transport, True)  # type: ignore[attr-defined]
        upstream.transport.registerProducer(self.transport, True)  # type: ignore[attr-defined]
        if request.tunnel:
            self.transport.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        pending, self.head = request.head + self.head, b""
        if pending:
            upstream.transport.write(pending)
        self.touch()
        if self.timer is not None and self.timer.active():
            self.timer.reset(self.proxy.idleTimeout)
        self.transport.resumeProducing()  # type: ignore[attr-defined]

    def upstreamLost(self) -> None:
        self.upstream = None
        self.close()

    def deny(self, request: ProxyRequest, why: str) -> None:
        """Refuse C{request} as the allow list says, and tell of it once."""
        self.proxy.refused(self.network, request.host, request.port, why)
        self.refuse(
            403,
            f"mcpgateway sandbox: {request.host}:{request.port} is refused ({why}):"
            f" {allowLine(request.host, request.port)} in server {self.network.server}'s entry",
        )

    def refuse(self, code: int, why: str) -> None:
        """Answer C{code} with C{why} and close."""
        if self.closed or self.transport is None:
            return
        body = (why + "\n").encode("utf-8", "replace")
        reason = REASONS.get(code, "Error")
        self.transport.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length:"
            f" {len(body)}\r\nConnection: close\r\n\r\n".encode("ascii")
            + body
        )
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.loseConnection()
        if self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.counted:
            self.counted = False
            self.network.active -= 1
        self.close()


REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class NetworkProxy(Service):
    """The gateway's allow-list proxy: a listening unix socket per server
    and allow list, in a private runtime directory (or a loopback port,
    under Landlock)."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.sandbox")

    def __init__(
        self,
        reactor: IReactor,
        clock: IReactorTime | None = None,
        resolve: Resolver | None = None,
        runtimeDir: Callable[[], str] = lambda: tempfile.mkdtemp(prefix="mcpgw-net-"),
        maxConnections: int = MAX_CONNECTIONS,
        headTimeout: float = HEAD_TIMEOUT,
        idleTimeout: float = IDLE_TIMEOUT,
        runInThread: RunInThread = runInline,
        tcpPeer: Callable[[str, int, str, int], object] | None = None,
    ) -> None:
        """
        @param runtimeDir: makes the private directory of the sockets (mode
            0700; short: a unix socket's path has at most 107 bytes).
        @param runInThread: writes learning servers' records off the reactor.
        @param tcpPeer: who holds the other end of a loopback connection
            (L{mcpgateway.runtime.peeruid.SockDiag.tcpPeer}, as the
            gateway's door asks; made at the first connection by default).
        """
        self._tcpPeer = tcpPeer
        self.reactor = reactor
        self.clock = clock or reactor
        self.resolve = resolve or reactorResolver(reactor)
        self._makeDir = runtimeDir
        self.directory: str | None = None
        self.maxConnections = maxConnections
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.sockets: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}
        self.tcpPorts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], int] = {}
        self.networks: dict[str, ChildNetwork] = {}
        """By socket path (C{tcp:PORT} for a loopback port)."""
        self.ports: list[IListeningPort] = []
        self._told: set[tuple[str, str]] = set()
        self.jobs = SerialJobs(runInThread)
        self._held: set[Deferred[None]] = set()
        """Fire when the confined children still running end (L{hold})."""
        self._portAt: dict[str, IListeningPort] = {}
        """Each listening port, by socket path (C{tcp:PORT} for a loopback port)."""
        self.handedOver = False
        """A restart's next process took the sockets: this one leaves them."""
        self._directories: list[str] = []
        """Directories of sockets taken from a previous process, but this one's."""

    def socketFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...] = ()) -> str:
        """The socket a child of C{server} with this allow list reaches the
        proxy through (listening from now on)."""
        key = (server, allowed, denied)
        known = self.sockets.get(key)
        if known is not None:
            return known
        return self._listen(key, ChildNetwork(server, AllowList(allowed, denied)))

    def recorderFor(self, server: str, record: str) -> str:
        """The socket of a learning server's children: every host they ask
        for may go out (public addresses only), and is appended to
        C{record} once (L{HostRecord})."""
        key = (server, (LEARNING,), (record,))
        known = self.sockets.get(key)
        if known is not None:
            return known
        return self._listen(
            key, ChildNetwork(server, RecordAll(), record=HostRecord(record, self.jobs))
        )

    def _listen(
        self, key: tuple[str, tuple[str, ...], tuple[str, ...]], network: ChildNetwork
    ) -> str:
        if self.directory is None:
            self.directory = self._makeDir()
            os.chmod(self.directory, 0o700)
        number = len(self.sockets)
        while os.path.lexists(path := os.path.join(self.directory, f"{number}.sock")):
            number += 1  # a socket taken from a previous process has that name
        port = self.reactor.listenUNIX(
            path, quiet(Factory.forProtocol(lambda: ProxyProtocol(self, network))), mode=0o600
        )
        self.ports.append(port)
        self._portAt[path] = port
        self.sockets[key] = path
        self.networks[path] = network
        return path

    def portFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...] = ()) -> int:
        """The loopback TCP port of C{server}'s children with this allow
        list, for Landlock, which confines by port, not socket (listening
        from now on): one per server and allow list, so the port still says
        whose a connection is (any local process may connect to it, and
        reach that allow list's hosts, nothing more)."""
        key = ("tcp:" + server, allowed, denied)
        known = self.tcpPorts.get(key)
        if known is not None:
            return known
        network = ChildNetwork(server, AllowList(allowed, denied))
        # forProtocol makes an instance of the class it is called on; its type says Factory.
        factory = cast(
            "ServerFactory[Any]",
            quiet(ServerFactory.forProtocol(lambda: ProxyProtocol(self, network))),
        )
        port = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.ports.append(port)
        number = int(cast(IPv4Address, port.getHost()).port)  # a TCP port's address
        self._portAt[f"tcp:{number}"] = port
        self.tcpPorts[key] = number
        self.networks[f"tcp:{number}"] = network
        return number

    def foreignAccount(self, transport: Any) -> int | None:
        """The uid of another account holding the other end of a loopback
        connection to a Landlock child's port (any local process may
        connect to it, and would reach that allow list's hosts as this
        account); C{None}: this account's (or root's), a unix socket's (in
        the private directory), or one the kernel does not name. Said in
        the log, once per account."""
        peer, host = transport.getPeer(), transport.getHost()
        if not isinstance(peer, IPv4Address | IPv6Address):
            return None
        if self._tcpPeer is None:
            from mcpgateway.runtime.peeruid import SockDiag

            self._tcpPeer = SockDiag().tcpPeer
        named = self._tcpPeer(peer.host, peer.port, host.host, host.port)
        uid = getattr(named, "uid", None)
        if not isinstance(uid, int) or uid in (os.geteuid(), 0):
            return None
        if ("uid", str(uid)) not in self._told:
            self._told.add(("uid", str(uid)))
            self.log.warn(
                "sandbox: the network proxy refused a connection of uid {uid}: its ports"
                " serve this account's confined children only",
                uid=uid,
            )
        return uid

    def refused(self, network: ChildNetwork, host: str, port: int, why: str) -> None:
        """Count a refusal; log it the first time for this server and host."""
        where = f"{host}:{port}"
        if where not in network.refused and len(network.refused) >= MAX_HOSTS_KEPT:
            where = OTHER_HOSTS  # a child trying every name keeps no more of the gateway's memory
        network.refused[where] = network.refused.get(where, 0) + 1
        if (network.server, where) in self._told or where == OTHER_HOSTS:
            return
        self._told.add((network.server, where))
        self.log.warn(
            "sandbox: server {server}: the network proxy refused {host}:{port} ({why}): allow"
            " it with {line}",
            server=network.server,
            host=host,
            port=port,
            why=why,
            line=allowLine(host, port),
        )

    def status(self, server: str) -> dict[str, Any] | None:
        """A server's proxy line: its open connections and refusals, or
        C{None} when none of its children uses the proxy."""
        mine = [n for n in self.networks.values() if n.server == server]
        if not mine:
            return None
        refused: dict[str, int] = {}
        for network in mine:
            for where, count in network.refused.items():
                refused[where] = refused.get(where, 0) + count
        return {
            "open": sum(n.active for n in mine),
            "refused": sum(refused.values()),
            "refusedHosts": sorted(refused, key=lambda w: -refused[w])[:MAX_HOSTS_SHOWN],
        }

    def hold(self, ended: Deferred[None]) -> None:
        """Keep the sockets open until C{ended} fires (a confined child's
        end): a stopping gateway drains its calls in flight before it stops
        its children, and they may still need their way out."""
        held: Deferred[None] = Deferred()
        self._held.add(held)

        def release(result: Any) -> Any:
            self._held.discard(held)
            held.callback(None)
            return result

        ended.addBoth(release)

    def listening(self) -> list[tuple[dict[str, Any], int]]:
        """Each listening socket's descriptor, with what names it (its
        path or port, its server and allow list), for a restart's next
        process (L{adopt})."""
        out = []
        keys = [*self.sockets.items(), *((k, f"tcp:{n}") for k, n in self.tcpPorts.items())]
        for (server, allowed, denied), where in keys:
            port = self._portAt.get(where)
            if port is not None:
                record: dict[str, Any] = {"where": where, "server": server.removeprefix("tcp:")}
                record.update(allowed=list(allowed), denied=list(denied))
                out.append((record, cast(Any, port).fileno()))
        return out

    def handOver(self) -> None:
        """A restart's next process took the sockets (L{listening}): stop
        accepting on them, and leave them and their files to it."""
        self.handedOver = True
        for port in self.ports:
            cast(Any, port).stopReading()

    def adopt(self, record: dict[str, Any], fd: int) -> bool:
        """Listen on the socket C{fd} a previous process listened on
        (L{listening}), for the same server and allow list; C{False} (and
        C{fd} closed) when C{record} is not what L{listening} makes."""
        import socket

        try:
            where, server = record["where"], record["server"]
            allowed, denied = tuple(record["allowed"]), tuple(record["denied"])
            if not (
                isinstance(where, str)
                and isinstance(server, str)
                and all(isinstance(x, str) for x in (*allowed, *denied))
            ):
                raise TypeError(where)
            tcp = where.startswith("tcp:")
            number = int(where[4:]) if tcp else 0
            if not tcp and not os.path.isabs(where):
                raise ValueError(where)
        except (KeyError, TypeError, ValueError):
            os.close(fd)
            return False
        if allowed == (LEARNING,) and denied and not tcp:
            network = ChildNetwork(server, RecordAll(), record=HostRecord(denied[0], self.jobs))
        else:
            network = ChildNetwork(server, AllowList(allowed, denied))
        factory = cast(
            "ServerFactory[Any]",
            quiet(ServerFactory.forProtocol(lambda: ProxyProtocol(self, network))),
        )
        family = socket.AF_INET if tcp else socket.AF_UNIX
        try:
            port = self.reactor.adoptStreamPort(fd, family, factory)
        finally:
            os.close(fd)  # the reactor listens on a duplicate
        self.ports.append(port)
        self._portAt[where] = port
        self.networks[where] = network
        if tcp:
            self.tcpPorts[("tcp:" + server, allowed, denied)] = number
        else:
            self.sockets[(server, allowed, denied)] = where
            directory = os.path.dirname(where)
            if self.directory is None:
                self.directory = directory
            elif directory != self.directory and directory not in self._directories:
                self._directories.append(directory)
        return True

    def stopService(self) -> Deferred[None] | None:
        """Close the sockets and remove their directory once every child
        held (L{hold}) has ended, at most L{STOP_WAIT} seconds from now
        (nothing when a restart's next process took them: L{handOver})."""
        super().stopService()
        if self.handedOver:
            return None
        if not self._held or not self.ports:
            self._close()
            return None
        waiting: Deferred[Any] = DeferredList(list(self._held))
        waiting.addTimeout(STOP_WAIT, self.clock)
        return waiting.addBoth(lambda _: self._close())

    def _close(self) -> None:
        ports, self.ports = self.ports, []
        for port in ports:
            port.stopListening()
        for directory in [*self._directories, self.directory]:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
