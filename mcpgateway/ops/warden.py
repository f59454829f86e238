# -*- test-case-name: tests.ops.test_warden -*-
"""The gateway's side of its warden (L{mcpgateway.ops.wardenrun}): the
process that stops what the children left running once the gateway is
gone, however it went (C{SIGKILL} included).

L{Warden} is the spawner's L{mcpgateway.core.spawn.ChildWatcher}: it
passes every spawn and exit on to the state directory's ledger (which a
successor reads if the warden itself was killed too) and writes it to the
warden's stdin. The warden starts with the first child (nothing is spawned
before twistd has daemonized), and again with the next child if it ended
while the gateway runs (told then of every child running).
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IReactorProcess, ITransport
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.spawn import ChildWatcher

MARKER = "MCPGATEWAY_CHILD_OF"
"""The variable every child is given (L{Warden.marker}): the warden finds
by it what a child started that left the child's session."""
PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wardenrun.py")


def wardenCommand(python: str = sys.executable) -> list[str]:
    """The warden's command line: isolated mode, no C{site}."""
    return [python, "-I", "-S", PROGRAM]


class _WardenProtocol(ProcessProtocol):
    log = Logger(observer=logs.observer)

    def __init__(self, owner: Warden) -> None:
        self._owner = owner
        self._partial = b""

    def errReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-4096:]
        for line in lines:
            if line.strip():
                self.log.warn("{line}", line=line.decode("utf-8", "replace")[:4096])

    def processEnded(self, reason: Failure) -> None:
        self._owner._ended(self)


class Warden:
    """Tells the warden process of every child (and the ledger C{inner})."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: IReactorProcess,
        inner: ChildWatcher | None = None,
        command: list[str] | None = None,
    ) -> None:
        """
        @param inner: told of every spawn and exit first (the ledger).
        @param command: the warden's command line (L{wardenCommand}).
        """
        self._reactor = reactor
        self._inner = inner
        self._command = command or wardenCommand()
        self._running: set[int] = set()
        self._protocol: _WardenProtocol | None = None
        self._transport: ITransport | None = None
        self.marker = (MARKER, f"{os.getpid()}-{secrets.token_hex(8)}")
        """What every child's environment gets (the spawner adds it): unique
        to this gateway process."""

    def guard(self) -> bool:
        """Whether the warden runs (started now if it does not): a child
        started while it does need not die with this process, since the
        warden stops it when this process dies without handing it over
        (L{mcpgateway.sandbox.confine.Sandbox.tiesToGateway})."""
        if self._transport is None:
            self._start()
        return self._transport is not None

    def spawned(self, server: str, pid: int) -> None:
        if self._inner is not None:
            self._inner.spawned(server, pid)
        self._running.add(pid)
        if self._transport is None:
            self._start()  # told of every child running, this one among them
        else:
            self._tell(f"+{pid}\n")

    def exited(self, pid: int) -> None:
        if self._inner is not None:
            self._inner.exited(pid)
        if pid in self._running:
            self._running.discard(pid)
            self._tell(f"-{pid}\n")

    def handedOver(self, pid: int) -> None:
        """Child C{pid} went to a restart's next process
        (L{mcpgateway.ops.childhandover}): this warden no longer stops it,
        nor what runs in its session (its environment holds this gateway's
        marker all the same). The ledger is the next process's to write."""
        self._running.discard(pid)
        self._tell(f"!{pid}\n")

    def _start(self) -> None:
        protocol = _WardenProtocol(self)
        try:
            self._transport = self._reactor.spawnProcess(
                protocol,
                self._command[0],
                self._command,
                env={},
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except OSError as e:
            self.log.warn(
                "cannot start the warden ({why}): children outlive a killed gateway"
                " until the next one starts",
                why=str(e),
            )
            return
        self._protocol = protocol
        name, value = self.marker
        self._tell(f"={name}={value}\n" + "".join(f"+{pid}\n" for pid in sorted(self._running)))

    def _tell(self, text: str) -> None:
        if self._transport is not None and text:
            self._transport.write(text.encode("ascii"))

    def _ended(self, protocol: _WardenProtocol) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        self._transport = None
        self.log.warn("the warden exited; it starts again with the next child")
