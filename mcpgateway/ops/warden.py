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

It is told of every process the gateway starts on a child's behalf too (a
package install, an C{op read}: L{Warden.helperSpawned}), which gets the
gateway's marker as the children do: the warden stops it if the gateway
dies first, and never names it as a child. With C{--adopt-grace}, it is
given a secret as it starts (L{mcpgateway.ops.wardenfiles.KEY}, kept in the
state directory), which
the next gateway must send it before it hands over a child, and is told
why of each child the gateway does not give it (L{Warden.note}).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorProcess, ITransport
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.spawn import ChildWatcher

MARKER = "MCPGATEWAY_CHILD_OF"
"""The variable every child is given (L{Warden.marker}): the warden finds
by it what a child started that left the child's session."""
PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wardenrun.py")


def wardenCommand(
    python: str = sys.executable, grace: float = 0.0, listen: str = "", report: str = ""
) -> list[str]:
    """The warden's command line: isolated mode, no C{site}; with a grace,
    it keeps the children that long for the next gateway, listening at
    C{listen}; with C{report}, it says there which children no gateway
    took, and why."""
    command = [python, "-I", "-S", PROGRAM]
    if grace > 0 and listen:
        command += ["--grace", f"{grace:g}", "--listen", listen]
    if report:
        command += ["--report", report]
    return command


class _WardenLink(Protocol):
    """The gateway's end of its warden's link: the warden answers C{@PID}
    for each child whose descriptors it holds."""

    def __init__(self, owner: Warden) -> None:
        self._owner = owner
        self._partial = b""

    def dataReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-64:]
        for line in lines:
            if line[:1] == b"@" and line[1:].isdigit():
                self._owner._held(int(line[1:]))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._owner._linkLost(self)


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
        keeps: bool = False,
        socketpair: Callable[[], tuple[Any, Any]] = socket.socketpair,
        keyFile: Path | None = None,
    ) -> None:
        """
        @param inner: told of every spawn and exit first (the ledger).
        @param command: the warden's command line (L{wardenCommand}).
        @param keeps: whether it keeps the children after a crash
            (C{--adopt-grace}): it is then spoken to over a UNIX socket
            pair, which carries the children's descriptors (L{keep}).
        @param keyFile: where the secret the next gateway proves itself
            with is written as the warden starts
            (L{mcpgateway.ops.wardenfiles.KEY}; C{None}: no next gateway
            can prove it, and none is handed a child).
        """
        self._reactor = reactor
        self._inner = inner
        self._command = command or wardenCommand()
        self._running: set[int] = set()
        self._protocol: _WardenProtocol | None = None
        self._transport: ITransport | None = None
        self.keeps = keeps
        self._socketpair = socketpair
        self._link: Any = None
        self._linkProtocol: _WardenLink | None = None
        self.kept: set[int] = set()
        """The children whose descriptors were sent to the warden."""
        self.onSpawned: Callable[[], object] | None = None
        """Told when a child is spawned (L{mcpgateway.ops.crashkeep.CrashKeeping}
        then looks for it to keep, once it is initialized)."""
        self._copies: dict[int, tuple[int, ...]] = {}
        """The descriptors sent, closed once the warden holds them (C{@PID})."""
        self.marker = (MARKER, f"{os.getpid()}-{secrets.token_hex(8)}")
        """What every child's environment gets (the spawner adds it): unique
        to this gateway process."""
        self._keyFile = keyFile
        self._secret = secrets.token_hex(32)
        self._notes: dict[int, str] = {}
        """The last note told of each process (L{note}), told again to a
        warden started anew."""

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
        self._started(pid, {"server": server})
        if self.onSpawned is not None:
            self.onSpawned()

    def helperSpawned(self, server: str, pid: int, ledger: bool = True) -> None:
        """Process C{pid} was started on behalf of C{server}'s children (a
        package install, leading a process group of its own, marked as the
        children are): the warden stops it, and what it started, if the
        gateway dies before it ends (L{helperExited}). It is never kept,
        nor named as a child.

        @param ledger: whether the ledger (C{inner}) records it too, for the
            next gateway to stop if the warden dies as well. The sandbox's
            probe, started with the services, is not recorded: the ledger
            is then still the previous gateway's, whose orphans a crash's
            next gateway reads from it once its warden did not answer."""
        helper = getattr(self._inner, "helperSpawned", None)
        if helper is not None and ledger:
            helper(server, pid)
        self._started(pid, {"server": server, "helper": True})

    def helperExited(self, pid: int) -> None:
        """A process of L{helperSpawned} ended."""
        self.exited(pid)

    def exited(self, pid: int) -> None:
        if self._inner is not None:
            self._inner.exited(pid)
        self.kept.discard(pid)
        self._notes.pop(pid, None)
        if pid in self._running:
            self._running.discard(pid)
            self._tell(f"-{pid}\n")

    def note(self, pid: int, server: str, why: str) -> None:
        """Tell the warden why child C{pid} of C{server} is not given to it
        (L{mcpgateway.ops.crashkeep}): if the gateway dies, the next one is
        told so (once per change)."""
        if pid in self._running:
            self._note(pid, {"server": server, "why": why})

    def _started(self, pid: int, note: dict[str, object]) -> None:
        self._running.add(pid)
        if self._transport is None:
            self._notes[pid] = _noteLine(pid, note)
            self._start()  # told of every child running, this one among them
        else:
            self._tell(f"+{pid}\n")
            self._note(pid, note)

    def _note(self, pid: int, note: dict[str, object]) -> None:
        line = _noteLine(pid, note)
        if self._notes.get(pid) != line:
            self._notes[pid] = line
            self._tell(line)

    def keep(self, pid: int, record: bytes, fds: tuple[int, ...]) -> bool:
        """Send the warden child C{pid}'s record and its descriptors (this
        process's copies, closed once it holds them), for the next gateway
        if this one dies (L{mcpgateway.ops.crashkeep}); C{False} (and the
        copies closed) when it cannot be."""
        if self._link is None or pid not in self._running or pid in self.kept:
            _closeAll(fds)
            return False
        for fd in fds:
            self._link.sendFileDescriptor(fd)
        self._link.write(b"*%d\n" % len(record) + record)
        _closeAll(self._copies.pop(pid, ()))
        self._copies[pid] = fds
        self.kept.add(pid)
        return True

    def stopping(self, pid: int) -> None:
        """This process is stopping child C{pid}: the warden lets go of its
        descriptors, so that the child sees its stdin end."""
        if pid in self.kept:
            self.kept.discard(pid)
            self._tell(f"~{pid}\n")

    def handedOver(self, pid: int) -> None:
        """Child C{pid} went to a restart's next process
        (L{mcpgateway.ops.childhandover}): this warden no longer stops it,
        nor what runs in its session (its environment holds this gateway's
        marker all the same). The ledger is the next process's to write."""
        self._running.discard(pid)
        self.kept.discard(pid)
        self._tell(f"!{pid}\n")

    def _start(self) -> None:
        protocol = _WardenProtocol(self)
        ours = theirs = None
        childFDs: dict[int, str | int] = {0: "w", 1: "r", 2: "r"}
        try:
            if self.keeps:
                ours, theirs = self._socketpair()
                childFDs[0] = theirs.fileno()
            self._transport = self._reactor.spawnProcess(
                protocol, self._command[0], self._command, env={}, childFDs=childFDs
            )
            if ours is not None:
                link = _WardenLink(self)
                self._reactor.adoptStreamConnection(  # type: ignore[attr-defined]
                    ours.fileno(), socket.AF_UNIX, Factory.forProtocol(lambda: link)
                )
                self._linkProtocol = link
                self._link = link.transport
        except OSError as e:
            self.log.warn(
                "cannot start the warden ({why}): children outlive a killed gateway"
                " until the next one starts",
                why=str(e),
            )
            return
        finally:
            for end in (ours, theirs):
                if end is not None:
                    end.close()
        self._protocol = protocol
        self.kept.clear()
        name, value = self.marker
        told = f"={name}={value}\n" + "".join(f"+{pid}\n" for pid in sorted(self._running))
        told += "".join(self._notes[pid] for pid in sorted(self._notes) if pid in self._running)
        self._tell(self._keyLine() + told)

    def _keyLine(self) -> str:
        """The secret's line, once it is in its file
        (L{mcpgateway.ops.wardenfiles.KEY}); C{""} when
        no next gateway is to take the children."""
        if self._keyFile is None or not self.keeps:
            return ""
        from mcpgateway.runtime.atomicfile import writeFileAtomic

        try:
            writeFileAtomic(self._keyFile, self._secret.encode() + b"\n", mode=0o600)
        except OSError as e:
            self.log.warn(
                "cannot write {path} ({why}): a crash stops the children",
                path=str(self._keyFile),
                why=str(e),
            )
            return ""
        return f"&{self._secret}\n"

    def _tell(self, text: str) -> None:
        target = self._link if self._link is not None else self._transport
        if target is not None and text:
            target.write(text.encode("ascii"))

    def _held(self, pid: int) -> None:
        _closeAll(self._copies.pop(pid, ()))

    def _linkLost(self, link: _WardenLink) -> None:
        if link is not self._linkProtocol:
            return
        self._linkProtocol = None
        self._link = None
        self.kept.clear()
        for pid in list(self._copies):
            self._held(pid)

    def _ended(self, protocol: _WardenProtocol) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        self._transport = None
        if self._link is not None:
            self._link.loseConnection()
        self.log.warn("the warden exited; it starts again with the next child")


def _noteLine(pid: int, note: dict[str, object]) -> str:
    """The warden's C{#PID JSON} line (L{mcpgateway.ops.wardenrun.Tally.note})."""
    return f"#{pid} {json.dumps(note, separators=(',', ':'), ensure_ascii=True)}\n"


def _closeAll(fds: tuple[int, ...]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
