# -*- test-case-name: tests.ops.test_auditexport -*-
"""The audit trail's copies elsewhere: syslog (C{--audit-syslog}).

Each sealed line (L{mcpgateway.ops.auditchain}) is sent as it is written
to the file (batched, once a second: never on a request's path) as one
RFC 5424 message: C{<PRI>1 TIMESTAMP HOST mcpgateway PID audit - LINE},
facility C{authpriv}, severity C{info} for an allowed request, C{warning}
for a denied or limited one, C{notice} for a segment's start, end or a
rotation. The message is the line itself, so a collector's copy verifies
as the file does (a line longer than L{MAX_DATAGRAM} is cut, and then no
longer verifies). Datagrams only (a Unix datagram socket such as
C{/dev/log}, or UDP): a send never waits; one lost is lost (syslog's own
rule), counted and logged once.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet.protocol import ConnectedDatagramProtocol, DatagramProtocol
from twisted.logger import Logger

from mcpgateway.runtime import logs

AUTHPRIV = 10
"""The syslog facility of the messages (security/authorization, private)."""
SEVERITY = {"notice": 5, "info": 6, "warning": 4}
MAX_DATAGRAM = 8192
"""The most bytes one message takes (RFC 5426 asks receivers for 2048 at least)."""


@dataclass(frozen=True)
class SyslogTarget:
    """Where C{--audit-syslog} sends: a Unix datagram socket's path, or a
    UDP host and port."""

    unix: str | None = None
    host: str | None = None
    port: int = 514


def parseTarget(text: str) -> SyslogTarget:
    """C{unix:///dev/log}, C{unix:/dev/log}, C{udp:HOST:PORT} or
    C{udp:[V6]:PORT} (C{ValueError}: none of them)."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path.startswith("/"):
            raise ValueError(f"{text!r}: a Unix socket's path is absolute (unix:///dev/log)")
        return SyslogTarget(unix=path)
    if text.startswith("udp:"):
        rest = text[len("udp:") :].removeprefix("//")
        host, colon, port = rest.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r}: give udp:HOST:PORT (udp:127.0.0.1:514)")
        return SyslogTarget(host=host.strip("[]"), port=int(port))
    raise ValueError(f"{text!r}: give unix:///dev/log or udp:HOST:PORT")


def syslogTarget(text: str) -> str:
    """C{text}, a good C{--audit-syslog} value (else C{ValueError}, which
    the option's parser shows)."""
    parseTarget(text)
    return text


def severityOf(record: dict[str, Any]) -> str:
    """The syslog severity of a record."""
    if record.get("kind", "request") != "request":
        return "notice"
    return "info" if record.get("decision", "allowed") == "allowed" else "warning"


def frame(
    line: bytes, record: dict[str, Any], host: str, pid: int, now: float | None = None
) -> bytes:
    """The RFC 5424 message of one sealed C{line}."""
    ts = record.get("ts")
    when = float(ts) if isinstance(ts, (int, float)) else (time.time() if now is None else now)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"
    pri = AUTHPRIV * 8 + SEVERITY[severityOf(record)]
    head = f"<{pri}>1 {stamp} {host or '-'} mcpgateway {pid} audit - ".encode("ascii", "replace")
    return (head + line)[:MAX_DATAGRAM]


class DatagramReactor(Protocol):
    """The two methods of a reactor a syslog target opens its socket with
    (C{IReactorUNIXDatagram}'s and C{IReactorUDP}'s), every argument given."""

    def connectUNIXDatagram(
        self,
        address: str,
        protocol: ConnectedDatagramProtocol,
        maxPacketSize: int,
        mode: int,
        bindAddress: tuple[str, int] | None,
        /,
    ) -> Any: ...

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, interface: str, maxPacketSize: int, /
    ) -> Any: ...


class SyslogExporter:
    """Sends each sealed line to syslog (see the module)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, target: SyslogTarget, reactor: DatagramReactor, host: str | None = None
    ) -> None:
        """
        @param reactor: opens the datagram socket at the first send (after
            twistd daemonized): an C{IReactorUDP} or C{IReactorUNIXDatagram}
            (L{DatagramReactor}).
        """
        self.target = target
        self._reactor = reactor
        self._host = (host if host is not None else socket.gethostname()).split(".")[0][:255]
        self._pid = os.getpid()
        self._transport: Any = None
        self.lost = 0
        """Messages that could not be sent."""

    def _open(self) -> Any:
        if self._transport is None:
            if self.target.unix is not None:
                self._transport = self._reactor.connectUNIXDatagram(
                    self.target.unix, ConnectedDatagramProtocol(), MAX_DATAGRAM, 0o666, None
                )
            else:
                self._transport = self._reactor.listenUDP(0, DatagramProtocol(), "", MAX_DATAGRAM)
        return self._transport

    def export(self, line: bytes, record: dict[str, Any]) -> None:
        """Send one line (never blocks: a datagram, or nothing)."""
        data = frame(line, record, self._host, self._pid)
        try:
            transport = self._open()
            if self.target.unix is not None:
                transport.write(data)
            else:
                transport.write(data, (self.target.host, self.target.port))
        except Exception as e:
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                self.log.warn(
                    "audit syslog {target}: a message could not be sent ({why});"
                    " {lost} lost so far",
                    target=self.target.unix or f"{self.target.host}:{self.target.port}",
                    why=str(e) or type(e).__name__,
                    lost=self.lost,
                )

    def close(self) -> None:
        """Close the socket."""
        transport, self._transport = self._transport, None
        if transport is not None:
            stop = getattr(transport, "stopListening", None) or transport.loseConnection
            stop()
