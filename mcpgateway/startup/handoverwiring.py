# -*- test-case-name: tests.startup.test_handoverwiring,tests.ops.test_handover -*-
"""The restart's wiring: in a process a restart started, its link to its
predecessor (L{successorOf}); in every gateway, the predecessor that starts
a successor on C{SIGUSR2} and hands over to it (L{wirePredecessor}, see
L{mcpgateway.ops.handover}), with the sessions saved, the children passed,
and the user's recorded C{PATH} for the successor.

The restart's machinery (L{mcpgateway.ops.handover},
L{mcpgateway.ops.childhandover}) loads when a restart asks for it: at the
first C{SIGUSR2} (L{RestartOnSignal}), or in the process a restart started.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.application.service import Service
from twisted.logger import Logger

from mcpgateway.runtime import logs
from mcpgateway.runtime.pathrecord import recordedPath
from mcpgateway.startup.childwiring import childSender
from mcpgateway.startup.options import Options

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from mcpgateway.config.configservice import ConfigService
    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.ops.handover import Predecessor, Successor
    from mcpgateway.ops.lateanswers import AnswerTaking
    from mcpgateway.ops.services import InstanceService, ListenerService
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.preflight import Preflight
    from mcpgateway.web.app import GatewaySite


def successorOf(options: Options, reactor: IReactor, top: InstanceService) -> Successor | None:
    """In a process a restart started: the link to its predecessor, whose
    C{gone} fires when that process has stopped; else C{None}. Until then
    C{state.json} names that process (L{InstanceService.handingOver}), for
    C{mcpgateway restart}, C{stop} and C{status}."""
    inherited = options.get("handover")
    if inherited is None:
        return None
    from twisted.internet.defer import Deferred

    from mcpgateway.ops.handover import Successor
    from mcpgateway.runtime.paths import HANDOVER_ENV

    os.environ.pop(HANDOVER_ENV, None)  # the next restart sets its own
    # The predecessor lets its connections finish, hands the children over, then drains.
    within = options["restart-timeout"] + options["drain-timeout"] + 15.0
    top.handingOver(inherited.predecessor, within)
    successor = Successor(reactor, inherited, Deferred())
    successor.gone.addCallback(lambda _: top.handingOver(None))
    successor.setServiceParent(top)
    return successor


def wirePredecessor(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    top: InstanceService,
    gateway: Gateway,
    configService: ConfigService,
    listener: ListenerService,
    site: GatewaySite,
    successor: Successor | None = None,
) -> None:
    """Restart on C{SIGUSR2}: start a successor and hand over to it (see
    L{mcpgateway.ops.handover}), the predecessor made at the first signal.
    In a process a restart started (C{successor}: its link to its own
    predecessor), a restart asked while that predecessor still hands over
    follows once it is done."""
    RestartOnSignal(
        reactor,
        lambda: _predecessor(options, pre, reactor, top, gateway, configService, listener, site),
        pending=successor,
    ).setServiceParent(top)


def _predecessor(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    top: InstanceService,
    gateway: Gateway,
    configService: ConfigService,
    listener: ListenerService,
    site: GatewaySite,
) -> Predecessor:
    """The predecessor of L{wirePredecessor}, which starts the successor."""
    from mcpgateway.ops.handover import Predecessor, successorCommand

    args = list(getattr(options, "pluginArgs", []))
    if options["log-file"] is None:
        # Detached, the successor's log would go nowhere: it writes the state dir's.
        from mcpgateway.runtime.paths import LOG_FILE

        args += ["--log-file", str(pre.stateDir / LOG_FILE)]

    def prepare() -> None:
        gateway.continuity.save(always=True)  # whatever it finds, changed or not

    children = childSender(gateway, reactor)

    def handOver() -> Any:
        listener.handOver()
        configService.handOver()
        top.handOver()
        return site.handOver(options["restart-timeout"], atDeadline=children.letGo)

    predecessor = Predecessor(
        reactor,
        # The successor keeps its bytecode where this process does.
        successorCommand(args, bytecodeFolder=sys.pycache_prefix),
        os.environ,
        listener.fileno,
        pre.lock.fileno,
        prepare,
        handOver,
        children=children,
        userPath=lambda: recordedPath(pre.stateDir),
    )
    predecessor.answers = answerTaking(gateway, site).take
    return predecessor


def answerTaking(gateway: Gateway, site: GatewaySite) -> AnswerTaking:
    """What gives the clients' answers a successor passes back to this
    process's sessions, each through its endpoint of C{site}."""
    from mcpgateway.ops.lateanswers import AnswerTaking
    from mcpgateway.web.app import backendOf

    return AnswerTaking(gateway.sessions.get, lambda session: backendOf(site, session))


RESTART_SIGNAL = signal.SIGUSR2
"""The signal that restarts the gateway (L{mcpgateway.ops.handover.RESTART_SIGNAL})."""


class PendingHandOver(Protocol):
    """A hand-over to this process that may still be under way
    (L{mcpgateway.ops.handover.Successor})."""

    @property
    def predecessorPid(self) -> int: ...

    def pending(self) -> Deferred[None] | None:
        """Fires once the predecessor has stopped; C{None}: it has."""
        ...


class RestartOnSignal(Service):
    """Restarts the gateway on C{SIGUSR2}: the predecessor
    (L{mcpgateway.ops.handover.Predecessor}) is made by C{make} at the first
    signal, on the reactor thread, and asked again at each one after.

    A restart asked while this process still takes over from its own
    predecessor (C{pending}: that one has not handed the children over, or
    not stopped, yet) is deferred until it has: handing over then would
    pass on no children and no sessions of its, while the children stay
    with the old process, which stops them at its C{--restart-timeout}
    (a restart by hand, then one by an upgrade script, right after).
    C{mcpgateway restart} waits for it (C{state.json} says the hand-over
    is pending: L{mcpgateway.ops.services.InstanceService.handingOver})."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: IReactor,
        make: Callable[[], Predecessor],
        installSignal: Callable[[int, Any], Any] = signal.signal,
        pending: PendingHandOver | None = None,
    ) -> None:
        self._reactor = reactor
        self._make = make
        self._installSignal = installSignal
        self._pending = pending
        self._deferred = False
        """Whether a restart waits for the pending hand-over."""
        self._previous: Any = None
        self.predecessor: Predecessor | None = None
        """The predecessor, once a restart asked for it."""

    def startService(self) -> None:
        super().startService()
        self._previous = self._installSignal(RESTART_SIGNAL, self._signalled)

    def stopService(self) -> None:
        super().stopService()
        if self._previous is not None:
            self._installSignal(RESTART_SIGNAL, self._previous)
            self._previous = None

    def _signalled(self, signum: int, frame: Any) -> None:
        self._reactor.callFromThread(self.restart)

    def restart(self) -> bool:
        """Start a successor (L{mcpgateway.ops.handover.Predecessor.restart}),
        or once the hand-over to this process is done, if it is pending."""
        waiting = None if self._pending is None else self._pending.pending()
        if waiting is not None:
            if self._deferred:
                self.log.info("restart asked again; one waits already for the hand-over")
                return True
            self._deferred = True
            self.log.info(
                "restart deferred: this process still takes over from pid {pid} (the previous"
                " restart); it restarts once that one has handed its children over and stopped",
                pid=self._pending.predecessorPid if self._pending is not None else 0,
            )
            waiting.addCallback(lambda _: self._reactor.callLater(0, self._afterPending))
            return True
        if self.predecessor is None:
            self.predecessor = self._make()
        return self.predecessor.restart()

    def _afterPending(self) -> None:
        """The hand-over the deferred restart waited for is done."""
        self._deferred = False
        if not self.running:
            return  # this process stops: the restart asked meanwhile is moot
        self.log.info("restart: the previous restart is done; restarting as asked")
        self.restart()
