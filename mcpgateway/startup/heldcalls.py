# -*- test-case-name: tests.startup.test_heldcalls -*-
"""The gateway's held calls (L{mcpgateway.flow.held}), as a service:
L{HeldCallsService}.

The store is made on its first use (the first call held, the first request
to C{/api/v1/approvals}): a gateway that never holds a call never loads
it, and nothing ticks for it. Once made and once the service has started
(after twistd daemonized), a C{LoopingCall} on the reactor sweeps it every
L{SWEEP_SECONDS}, so that a call nobody decided expires, and what waits on
it hears so, on time; it stops with the service.

Each change of a held call's state goes to the audit trail when the gateway
keeps one (C{--audit-log}: L{auditRecorder}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.application.service import MultiService, Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

if TYPE_CHECKING:
    from mcpgateway.flow.held import HeldCall, HeldCalls
    from mcpgateway.ops.audit import AuditSink

SWEEP_SECONDS = 5.0
"""How often the held calls are swept for expiries."""


class HeldCallsService(Service):
    """Makes the gateway's held calls on first use, and sweeps them while
    it runs."""

    name = "held-calls"

    def __init__(
        self,
        clock: IReactorTime,
        record: Callable[[HeldCall], object] | None = None,
        interval: float = SWEEP_SECONDS,
    ) -> None:
        """
        @param clock: the store's clock, and the sweep's.
        @param record: told each change of a held call's state (the audit
            trail: L{auditRecorder}; C{None}: nothing).
        @param interval: seconds between sweeps.
        """
        self._clock = clock
        self._record = record
        self._interval = interval
        self._store: HeldCalls | None = None
        self._sweep: LoopingCall | None = None
        self.webhookUrl: str | None = None
        """The C{"flow"} setting's webhook (C{None}: none), told of each
        call held (L{mcpgateway.flow.webhook}); set at each reload."""

    @property
    def made(self) -> bool:
        """Whether the store was made (something held a call, or asked)."""
        return self._store is not None

    @property
    def sweeping(self) -> bool:
        return self._sweep is not None and self._sweep.running

    def existing(self) -> HeldCalls | None:
        """The held calls when made (C{None}: nothing held one nor asked
        yet): what the console reads, without making them."""
        return self._store

    def store(self) -> HeldCalls:
        """The held calls, made now when this is their first use."""
        if self._store is None:
            from mcpgateway.flow.held import HeldCalls
            from mcpgateway.flow.webhook import HeldCallWebhook

            webhook = HeldCallWebhook(self._clock, lambda: self.webhookUrl)
            audit = self._record

            def record(call: HeldCall) -> None:
                if audit is not None:
                    audit(call)
                webhook(call)

            self._store = HeldCalls(self._clock, record)
            self._startSweeping()
        return self._store

    def startService(self) -> None:
        super().startService()
        self._startSweeping()

    def stopService(self) -> None:
        if self._sweep is not None and self._sweep.running:
            self._sweep.stop()
        self._sweep = None
        super().stopService()

    def _startSweeping(self) -> None:
        if not self.running or self._store is None or self.sweeping:
            return
        self._sweep = LoopingCall(self._store.sweep)
        self._sweep.clock = self._clock
        self._sweep.start(self._interval, now=False)


def auditRecorder(audit: AuditSink, clock: IReactorTime) -> Callable[[HeldCall], None]:
    """What records each change of a held call's state in the audit trail:
    one record each, its C{method} C{approvals/<state>} (C{held},
    C{allowed}, C{denied}, C{expired}, C{used}), its principal and
    C{argsDigest} those of the call (as the call's own C{tools/call} record
    has them), its decision the C{flow} policy's (C{allowed} for a yes:
    allowed, used; else C{denied}, its reason the state and why: the
    rule's reason, or the person's for a no), and its C{via} who decided
    (C{person:<who>}; C{clock} for an expiry)."""
    from mcpgateway.core.decision import Decision
    from mcpgateway.flow.held import HeldState
    from mcpgateway.ops.audit import AuditRecord

    def record(call: HeldCall) -> None:
        state = call.state
        word = "held" if state is HeldState.PENDING else state.value
        if state in (HeldState.ALLOWED, HeldState.USED):
            decision = Decision("allowed", ("flow",))
        else:
            why = call.denyReason if state is HeldState.DENIED and call.denyReason else call.reason
            decision = Decision("denied", ("flow",), f"{word}: {why}")
        if state in (HeldState.ALLOWED, HeldState.DENIED):
            via = f"person:{call.decidedBy}"
        elif state is HeldState.EXPIRED:
            via = "clock"
        else:
            via = None
        audit.record(
            AuditRecord(
                ts=clock.seconds(),
                principal=call.principal,
                session=None,
                server=call.server,
                route="global",
                method=f"approvals/{word}",
                tool=call.tool,
                outcome="ok",
                code=None,
                status=200,
                durationMs=0.0,
                via=via,
                peer=None,
                decision=decision,
                arguments=call.arguments,
            )
        )

    return record


def wireHeldCalls(
    reactor: IReactorTime, top: MultiService, audit: AuditSink | None
) -> HeldCallsService:
    """The gateway's held calls, under C{top} (started with the tree, after
    daemonizing), recorded in C{audit} when the gateway keeps one."""
    service = HeldCallsService(reactor, None if audit is None else auditRecorder(audit, reactor))
    service.setServiceParent(top)
    return service
