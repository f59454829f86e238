# -*- test-case-name: tests.web.admin.test_sandboxapi -*-
"""C{GET /api/v1/sandbox}: the sandbox this gateway's children get.

What confines a child is found by the gateway's own probe, in the gateway's
environment (its C{PATH}: the C{bwrap} it finds), not the caller's: so
C{mcpgateway sandbox check}, C{sandbox show} and C{doctor} ask the running
gateway here rather than probe from the shell they run in, whose C{PATH}
may have no C{bwrap} (docs/guide/sandbox.md). The body::

    {"pid": 1234, "mode": "auto", "mechanism": "bwrap", "probe": {...}}

C{mode} is the gateway's C{--sandbox}; C{mechanism} what confines its
children (C{bwrap}, C{landlock}, C{seatbelt}, C{none}; the one C{--sandbox}
names, whatever the probe found; C{auto} while the probe has not answered:
each child's launcher tries bubblewrap); C{probe} what the probe found
(L{mcpgateway.sandbox.probe.probe}'s object), C{null} until it answered. A
gateway that has not probed yet (C{--sandbox off} probes at its first
confined child) starts its probe and answers when it has, or after
L{PROBE_WAIT} seconds.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

PROBE_WAIT = 10.0
"""Seconds a request waits for a probe that has not answered."""


class SandboxLike(Protocol):
    """What the route reads of the gateway's sandbox
    (L{mcpgateway.sandbox.confine.Sandbox})."""

    default: str
    found: dict[str, Any] | None

    @property
    def mechanism(self) -> str: ...

    def detect(self) -> Deferred[dict[str, Any]] | None: ...


def sandboxBody(sandbox: SandboxLike | None, pid: int) -> dict[str, Any]:
    """The body of the route, as the gateway knows it now; a gateway
    without a sandbox (none wired) says C{null} for each."""
    if sandbox is None:
        return {"pid": pid, "mode": None, "mechanism": None, "probe": None}
    return {
        "pid": pid,
        "mode": sandbox.default,
        "mechanism": sandbox.mechanism,
        "probe": sandbox.found,
    }


def sandboxAnswer(
    sandbox: SandboxLike | None, pid: int, clock: IReactorTime, wait: float = PROBE_WAIT
) -> Deferred[dict[str, Any]]:
    """L{sandboxBody} once the probe has answered (started now if it never
    ran), or after C{wait} seconds with what is known then. The probe's own
    Deferred is left as it was: its result goes on to its other callbacks."""
    probing = None if sandbox is None or sandbox.found is not None else sandbox.detect()
    if probing is None:
        return succeed(sandboxBody(sandbox, pid))
    answered: Deferred[dict[str, Any]] = Deferred()

    def answer() -> None:
        if not answered.called:
            answered.callback(sandboxBody(sandbox, pid))

    timer = clock.callLater(wait, answer)

    def probed(result: object) -> object:
        if timer.active():
            timer.cancel()
        answer()
        return result

    probing.addBoth(probed)
    return answered
