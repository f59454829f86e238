# -*- test-case-name: tests.startup.test_flowwiring -*-
"""The flow rule on the call path (L{mcpgateway.flow.step}), wired:
L{wireFlow}.

The step is made at start with the servers served, the C{"flow"} setting
of C{<state-dir>/servers.json} and the gateway's catalogs, and told again
at each reload (L{FlowWiring.__call__}); so is the held calls' webhook.
Its held calls are the gateway's (L{mcpgateway.startup.heldcalls}), made
on the first call held. A
repeating call (L{Every}, on the reactor's clock) forgets, every
L{SWEEP_SECONDS}, the clients idle for the ledger's idle time
(L{FlowSweep}), from the service's start to its stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from twisted.application.service import MultiService, Service
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.config.serversfile import flowSettings
from mcpgateway.flow.rule import DEFAULT_SETTINGS, FlowSettings
from mcpgateway.flow.step import FlowStep
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every

if TYPE_CHECKING:
    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.startup.heldcalls import HeldCallsService

SWEEP_SECONDS = 600.0
"""How often the clients idle too long are forgotten."""

log = Logger(observer=logs.observer, namespace="mcpgateway.startup.flowwiring")


class FlowSweep(Service):
    """Sweeps the step's ledger while the service runs."""

    name = "flow-sweep"

    def __init__(self, clock: IReactorTime, step: FlowStep, interval: float = SWEEP_SECONDS):
        self._clock = clock
        self._step = step
        self._interval = interval
        self._loop: Every | None = None

    def startService(self) -> None:
        super().startService()
        self._loop = Every(self._clock, self._interval, self._step.ledger.sweep)
        self._loop.start()

    def stopService(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        super().stopService()


class FlowWiring:
    """Tells the step the servers served and the C{"flow"} setting: at
    start, and with each reload's servers."""

    def __init__(
        self,
        step: FlowStep,
        stateDir: Path,
        gateway: Gateway,
        heldCalls: HeldCallsService | None = None,
    ) -> None:
        self.step = step
        self._stateDir = stateDir
        self._gateway = gateway
        self._heldCalls = heldCalls

    def __call__(self, specs: Mapping[str, ServerSpec]) -> None:
        settings = self.settings()
        self.step.use(specs, settings, self._gateway.catalogs)
        if self._heldCalls is not None:
            self._heldCalls.webhookUrl = settings.webhook
        log.info(
            "flow: the default rule is {state}",
            state="on"
            if self.step.ruleActive
            else "off"
            if not self.step.rule.settings.default
            else "idle (no server served gives private data)",
        )

    def settings(self) -> FlowSettings:
        """The C{"flow"} setting; the default rule on when it cannot be
        read (logged, naming the file)."""
        try:
            return flowSettings(self._stateDir)
        except ValueError as e:
            log.error("flow: {problem}; the default rule stays on", problem=str(e))
            return DEFAULT_SETTINGS


def wireFlow(
    reactor: IReactorTime,
    top: MultiService,
    gateway: Gateway,
    heldCalls: HeldCallsService,
    stateDir: Path,
) -> FlowWiring:
    """The flow step of C{gateway}, told its servers now (the wiring
    returned tells it again at each reload), its ledger swept under
    C{top}."""
    step = FlowStep(reactor, heldCalls.store)
    gateway.flow = step
    wiring = FlowWiring(step, stateDir, gateway, heldCalls)
    wiring({name: pool.spec for name, pool in gateway.pools.items()})
    FlowSweep(reactor, step).setServiceParent(top)
    return wiring
