# -*- test-case-name: tests.ops.test_crashkeep -*-
"""A crash keeps the children (C{--adopt-grace}): the gateway's warden
holds each running child's pipes, and hands them to the next gateway on
the same state directory when this one dies without a hand-over.

While the gateway runs, L{CrashKeeping} gives its warden
(L{mcpgateway.ops.warden.Warden.keep}) each child that can be kept
(L{mcpgateway.core.adopted.whyNotKept}, and not a child whose own network
allow list goes through the gateway's proxy: the proxy dies with the
gateway) once it is initialized: copies of
its stdin, stdout and stderr with C{SCM_RIGHTS}, and the record a
restart's hand-over sends (L{mcpgateway.core.handedchild.HandedChild}).
Of each child it does not give, the warden is told why
(L{mcpgateway.ops.warden.Warden.note}): the next gateway names it so.
It gives a child as soon as it is initialized (its pool's C{initialized}
event, heard from the pools that spawned a child; on the reactor's next
turn, before the child's next answer is read), so that a crash right
after a first call (a package just installed, a child just started)
keeps it too. It looks once a second (L{KEEP_EVERY}) as well while
children start, for L{SETTLE} seconds after the last one started (the
warden says when one is spawned), for a child that could not be kept
when it was initialized; and not at all while none starts, so that an
idle gateway wakes for nothing. The record is written once: what changes
later is not sent again.
The next gateway's router starts its ids L{ID_JUMP} past the one the
record names, so that an answer to a request the dead gateway sent is
never taken for a new request's; the start of a line the dead gateway
had read is lost (the next gateway drops the rest as a line that is not
JSON); the child keeps the subscriptions and log level the dead gateway
told it.

When the gateway dies, the warden (L{mcpgateway.ops.wardenrun}) listens
at C{<state dir>/warden.sock} (L{mcpgateway.ops.wardenfiles.SOCKET}) for the
grace. The next gateway (L{CrashAdoption}, when it finds that socket at
its start) connects, proves it is a gateway of the state directory (the
secret the dead gateway left in C{warden.key}, L{mcpgateway.ops.wardenfiles.KEY},
read before its own warden replaces it), gets the children with the
restart's codec and takes them with the restart's adoption
(L{mcpgateway.ops.childhandover.ChildAdoption}), which serves each one
whose server is still configured the same way (its sandbox laid out the
same, its pid still naming the process its start time says) and stops the
others.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakSet

from twisted.application.service import Service
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IFileDescriptorReceiver, IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.internet.protocol import Protocol as StreamProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.core.adopted import describeChild, whyNotKept
from mcpgateway.core.pools.runningchildren import runningChildren
from mcpgateway.ops.wardenfiles import SOCKET, wardenWaits
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.ops.childhandover import ChildAdoption  # a crash's children: loaded then

PROOF = b"gateway "
"""How the proof line the warden asks for starts (its C{PROOF}): the
warden's program runs in a process of its own, and this one does not load
it (C{tests/ops/test_crashkeep.py} holds the two the same)."""
KEEP_EVERY = 1.0
"""Seconds between two looks for children to give the warden."""
SETTLE = 120.0
"""Seconds after a child is spawned during which the looks go on (a child
is initialized within its start timeout, 60 s by default)."""
ID_JUMP = 2**32
"""How far past the record's id the next gateway's router starts."""
TAKE_WAIT = 10.0
"""Seconds the next gateway holds child starts for a waiting warden."""


class Keeper(Protocol):
    """The warden, as L{CrashKeeping} uses it (L{mcpgateway.ops.warden.Warden})."""

    kept: set[int]
    onSpawned: Callable[[], object] | None

    def guard(self) -> bool: ...

    def keep(self, pid: int, record: bytes, fds: tuple[int, ...]) -> bool: ...

    def note(self, pid: int, server: str, why: str) -> None: ...


PROXIED = (
    "it reaches the network through the gateway's allow-list proxy, which ends with the"
    " gateway process"
)
"""Why a confined child with a network allow list is not kept through a crash."""


class CrashKeeping(Service):
    """Gives the warden every child it can keep (see the module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Callable[[], dict[str, Any]],
        warden: Keeper,
        clock: IReactorTime,
    ) -> None:
        """
        @param pools: the gateway's pools now, by server name.
        """
        self._pools = pools
        self._warden = warden
        self._clock = clock
        self._look: IDelayedCall | None = None
        self._lookUntil = 0.0
        self._soon: IDelayedCall | None = None
        self._heard: WeakSet[Any] = WeakSet()
        """The pools' event logs listened to (L{_initialized})."""

    def startService(self) -> None:
        super().startService()
        self._warden.onSpawned = self.spawned
        self.spawned()  # the children started before this service, if any

    def stopService(self) -> None:
        super().stopService()
        self._warden.onSpawned = None
        for call in (self._look, self._soon):
            if call is not None and call.active():
                call.cancel()
        self._look = self._soon = None

    def spawned(self) -> None:
        """A child was spawned: hear when it is initialized, and look for
        children to give the warden for the next L{SETTLE} seconds."""
        self._lookUntil = self._clock.seconds() + SETTLE
        for pool in self._pools().values():
            events = getattr(pool, "events", None)
            if events is not None and events not in self._heard:
                self._heard.add(events)
                events.listen(self._initialized)
        if self._look is None and self.running:
            self._look = self._clock.callLater(KEEP_EVERY, self._looked)

    def _initialized(self, event: dict[str, Any]) -> None:
        """An event of a pool: once a child is initialized, give it to the
        warden on the reactor's next turn (its upstream says it runs once
        the event's listeners are done)."""
        if event.get("kind") == "initialized" and self.running and self._soon is None:
            self._soon = self._clock.callLater(0, self._looked, again=False)

    def _looked(self, again: bool = True) -> None:
        if again:
            self._look = None
        else:
            self._soon = None
        try:
            self.sync()
        except Exception:
            self.log.failure("keeping the children failed")
        if again and self.running and self._clock.seconds() < self._lookUntil:
            self._look = self._clock.callLater(KEEP_EVERY, self._looked)

    def sync(self) -> int:
        """Give the warden the children it does not hold yet; how many. It
        is told why of each child it is not given (the next gateway names
        it among those started anew)."""
        count = 0
        for pool in self._pools().values():
            for running in runningChildren(pool):
                upstream = running.upstream
                pid = upstream.pid
                if pid is None or pid in self._warden.kept:
                    continue
                why = running.why or whyNotKept(upstream)
                if why is None and getattr(upstream.child, "proxied", False):
                    # Its own allow list's: what the server's package install
                    # reached its registries by is not the child's way out.
                    why = PROXIED
                if why is not None:
                    self._warden.note(pid, upstream.spec.name, why)
                    continue
                if not self._warden.guard():
                    return count
                nextId = next(upstream.router._ids) + ID_JUMP
                try:
                    handed = describeChild(
                        running.configured,
                        upstream,
                        running.session,
                        running.level,
                        running.subscriptions,
                        nextId=nextId,
                        childKey=running.childKey,
                    )
                except OSError:
                    continue
                record = json.dumps(handed.toJson(), separators=(",", ":")).encode()
                if self._warden.keep(pid, record, handed.fds):
                    count += 1
        return count


# -- the next gateway's side --------------------------------------------------------------


@implementer(IFileDescriptorReceiver)
class _WardenSide(StreamProtocol):
    """The next gateway's connection to a crashed gateway's warden."""

    def __init__(self, owner: CrashAdoption) -> None:
        self._owner = owner

    def connectionMade(self) -> None:
        if peerUid(self.transport.getHandle()) != os.getuid():  # type: ignore[union-attr]
            self._owner.log.warn("the warden's socket is another user's: not taking its children")
            self.transport.loseConnection()  # type: ignore[union-attr]
            return
        # Only a gateway of this state directory reads the secret: the warden asks for it.
        self.transport.write(PROOF + self._owner.proof + b"\n")  # type: ignore[union-attr]
        self._owner.adoption.reply = self.transport.write  # type: ignore[union-attr]

    def fileDescriptorReceived(self, descriptor: int) -> None:
        self._owner.adoption.descriptor(descriptor)

    def dataReceived(self, data: bytes) -> None:
        self._owner.adoption.data(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._owner.adoption.linkLost()


def peerUid(sock: socket.socket) -> int:
    """The uid of the process at the other end of C{sock} (C{SO_PEERCRED})."""
    size = struct.calcsize("3i")
    _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
    return int(uid)


class CrashAdoption(Service):
    """At start, takes the children a crashed gateway's warden keeps at
    C{<state dir>/warden.sock}, through C{adoption}; without such a socket,
    lets the children start at once. A socket nobody listens on (its warden
    died too) is removed, and what the crashed gateway's ledger names is
    stopped (L{mcpgateway.ops.reaper.OrphanCleanup})."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, reactor: Any, stateDir: Path, adoption: ChildAdoption, proof: bytes = b""
    ) -> None:
        """
        @param proof: the secret the crashed gateway left in the state
            directory (L{mcpgateway.ops.wardenfiles.readKey}, read before this
            process's own warden replaces it): its warden hands its
            children only to whoever sends it.
        """
        self._reactor = reactor
        self._path = stateDir / SOCKET
        self._stateDir = stateDir
        self.adoption = adoption
        self.proof = proof

    def startService(self) -> None:
        super().startService()
        self.adoption.start()
        if not wardenWaits(self._stateDir):
            self.adoption.linkLost()  # nothing to wait for
            return
        self.log.info("a previous gateway's warden keeps its children: taking them")
        endpoint = UNIXClientEndpoint(self._reactor, str(self._path), timeout=5)
        endpoint.connect(Factory.forProtocol(lambda: _WardenSide(self))).addErrback(self._nobody)

    def _nobody(self, failure: Failure) -> None:
        from mcpgateway.ops.reaper import OrphanCleanup
        from mcpgateway.ops.statedir import findOrphans, processStartTime

        self.log.info(
            "nobody listens at {path} ({why}): stopping what the previous gateway left",
            path=str(self._path),
            why=failure.getErrorMessage(),
        )
        if wardenWaits(self._stateDir):
            with contextlib.suppress(OSError):
                os.unlink(self._path)
        orphans = findOrphans(self._stateDir)
        if orphans:
            OrphanCleanup(orphans, self._reactor, processStartTime).startService()
        self.adoption.linkLost()
