# -*- test-case-name: tests.ops.test_systemd -*-
"""Telling a service manager how the gateway is doing: systemd's
C{sd_notify} protocol, in a few lines and without a dependency.

Under C{Type=notify} systemd hands the gateway C{$NOTIFY_SOCKET}, an
C{AF_UNIX} datagram socket (a path, or C{@name} in the abstract namespace).
L{SystemdNotifyService} sends C{READY=1} (and C{MAINPID}) once the gateway listens,
so C{systemctl start} returns when it serves, and C{STOPPING=1} when it
starts to stop, so systemd waits (up to C{TimeoutStopSec}) for the drain and
the restore of the client configs. Without C{NOTIFY_SOCKET} it does nothing.
The gateway's children never see the variable (L{mcpgateway.core.environment}
strips it); the wiring reads it from C{os.environ} and passes it in.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable

from twisted.application.service import Service
from twisted.logger import Logger

from mcpgateway.runtime import logs

Notifier = Callable[[str | None, str], bool]
"""Sends one state string to a notify socket: L{sdNotify}'s signature."""


def notifyAddress(path: str | None) -> str | bytes | None:
    """The address to send to for C{$NOTIFY_SOCKET} = C{path}: a file system
    path as it is, C{@name} as the abstract name C{b"\\0name"}; C{None} for
    no socket or one this module cannot reach (systemd also knows
    C{vsock:}, which the gateway never gets on a desktop)."""
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + os.fsencode(path[1:])
    if path.startswith("/"):
        return path
    return None


def sdNotify(path: str | None, state: str) -> bool:
    """Send C{state} (C{READY=1}, lines of C{KEY=value}) to the notify socket
    at C{path}; whether it was sent. Never blocks: a full or missing socket is
    C{False} and a log line, not an exception."""
    address = notifyAddress(path)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.sendto(state.encode("utf-8"), address)
    except OSError as e:
        SystemdNotifyService.log.warn(
            "cannot notify the service manager at {path}: {why}", path=path, why=e.strerror or e
        )
        return False
    return True


def adoptsLoopback(endpoint: object) -> bool:
    """Whether C{endpoint} adopts a socket the service manager passed in
    (C{--port systemd:...}) that is bound to a loopback address: then the
    gateway keeps its loopback-only Host check, as for C{--port 9100}. Reads
    the address of a duplicate of the descriptor; the original is untouched."""
    fileno = getattr(endpoint, "fileno", None)
    family = getattr(endpoint, "addressFamily", None)
    if not isinstance(fileno, int) or family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        with socket.fromfd(fileno, family, socket.SOCK_STREAM) as sock:
            host = sock.getsockname()[0]
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except (OSError, ValueError):
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


class SystemdNotifyService(Service):
    """C{READY=1} once the gateway listens (call L{listening}), C{STOPPING=1}
    when the service tree stops; nothing without a notify socket."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        socketPath: str | None,
        notify: Notifier = sdNotify,
        getpid: Callable[[], int] = os.getpid,
    ) -> None:
        self._socketPath = socketPath or None
        self._notify = notify
        self._getpid = getpid
        self._ready = False

    @property
    def enabled(self) -> bool:
        """Whether a service manager is listening (C{NOTIFY_SOCKET} was set)."""
        return self._socketPath is not None

    def listening(self, port: int) -> None:
        """The gateway accepts connections on C{port}: tell the manager, once."""
        if self._socketPath is None or self._ready:
            return
        self._ready = True
        self._notify(
            self._socketPath,
            f"READY=1\nMAINPID={self._getpid()}\nSTATUS=listening on port {port}",
        )

    def stopService(self) -> None:
        super().stopService()
        if self._socketPath is None:
            return
        self._notify(self._socketPath, "STOPPING=1\nSTATUS=stopping: draining, restoring configs")
