# -*- test-case-name: tests.startup.test_wiring,tests.ops.test_handover -*-
"""The restart's wiring: in a process a restart started, its link to its
predecessor (L{successorOf}); in every gateway, the predecessor that starts
a successor on C{SIGUSR2} and hands over to it (L{wirePredecessor}, see
L{mcpgateway.ops.handover}), with the sessions saved, the children passed,
and the user's recorded C{PATH} for the successor.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService

from mcpgateway.runtime.pathrecord import recordedPath
from mcpgateway.startup.childwiring import childSender
from mcpgateway.startup.options import Options

if TYPE_CHECKING:
    from mcpgateway.config.configservice import ConfigService
    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.ops.handover import Successor
    from mcpgateway.ops.services import InstanceService, ListenerService
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.preflight import Preflight
    from mcpgateway.web.app import GatewaySite


def successorOf(options: Options, reactor: IReactor, top: IService) -> Successor | None:
    """In a process a restart started: the link to its predecessor, whose
    C{gone} fires when that process has exited; else C{None}."""
    from twisted.internet.defer import Deferred

    from mcpgateway.ops.handover import HANDOVER_ENV, Successor

    inherited = options.get("handover")
    if inherited is None:
        return None
    os.environ.pop(HANDOVER_ENV, None)  # the next restart sets its own
    successor = Successor(reactor, inherited, Deferred())
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
) -> None:
    """Restart on C{SIGUSR2}: start a successor and hand over to it (see
    L{mcpgateway.ops.handover})."""
    from mcpgateway.ops.handover import Predecessor, successorCommand

    args = list(getattr(options, "pluginArgs", []))
    if options["log-file"] is None:
        # Detached, the successor's log would go nowhere: it writes the state dir's.
        from mcpgateway.runtime.paths import LOG_FILE

        args += ["--log-file", str(pre.stateDir / LOG_FILE)]

    def prepare() -> None:
        gateway.continuity.save(always=True)  # whatever it finds, changed or not

    def handOver() -> Any:
        listener.handOver()
        configService.handOver()
        top.handOver()
        return site.handOver(options["restart-timeout"])

    Predecessor(
        reactor,
        successorCommand(args),
        os.environ,
        listener.fileno,
        pre.lock.fileno,
        prepare,
        handOver,
        children=childSender(gateway, reactor),
        userPath=lambda: recordedPath(pre.stateDir),
    ).setServiceParent(top)
