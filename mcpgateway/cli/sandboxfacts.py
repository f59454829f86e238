# -*- test-case-name: tests.cli.test_sandbox, tests.cli.test_sandboxfacts -*-
"""Whose sandbox C{sandbox check}, C{sandbox show} and C{doctor} describe.

What confines a child is decided in the gateway's process, by its own probe
in its own environment (its C{PATH}: the C{bwrap} it finds). A shell whose
C{PATH} has no C{bwrap} would find Landlock where the gateway runs
bubblewrap. So, when a gateway runs, the commands ask it (C{GET
/api/v1/sandbox}: L{mcpgateway.web.admin.sandboxapi}) and say so ("the
running gateway (pid N) uses bubblewrap"); only when none runs, or it does
not say, do they probe here, and say that too ("no gateway running: this is
what one started from this shell would use").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.sandbox import mechanisms, probe

NAMES = {
    "bwrap": "bubblewrap",
    "landlock": "Landlock",
    "seatbelt": "sandbox-exec",
    "none": "nothing",
}
MECHANISMS = frozenset(NAMES)
ASK_TIMEOUT = 15.0
"""Seconds to wait for the gateway's answer: one that never probed (C{--sandbox
off}) probes first, up to 10 s."""
HERE = "this is what one started from this shell would use"


@dataclass(frozen=True)
class SandboxFacts:
    """What confines the children, and who says so.

    @ivar found: what the probe found (L{mcpgateway.sandbox.probe.probe}'s object).
    @ivar mechanism: what confines a confined child: C{bwrap}, C{landlock},
        C{seatbelt} or C{none}.
    @ivar mode: the running gateway's C{--sandbox}, when it said (C{None}:
        found here).
    @ivar pid: the gateway that said (C{None}: found here).
    @ivar why: why a running gateway's word is not used (C{None}: it is,
        or none runs).
    @ivar running: the pid of the running gateway, asked or not.
    """

    found: dict[str, Any]
    mechanism: str
    mode: str | None = None
    pid: int | None = None
    why: str | None = None
    running: int | None = None

    @property
    def fromGateway(self) -> bool:
        return self.pid is not None

    def said(self) -> str:
        """Whose facts these are, in a line (C{check}'s first)."""
        name = NAMES.get(self.mechanism, self.mechanism)
        if self.pid is not None:
            if self.mode == "off":
                return (
                    f"the running gateway (pid {self.pid}) uses {name} for the servers whose"
                    " entry asks (--sandbox off)"
                )
            return f"the running gateway (pid {self.pid}) uses {name} (--sandbox {self.mode})"
        if self.running is not None:
            return (
                f"the running gateway (pid {self.running}) did not say which sandbox it uses"
                f" ({self.why}): {HERE}"
            )
        return f"no gateway running: {HERE}"

    def origin(self) -> str:
        """Whose facts these are, in a few words (after C{show}'s mechanism)."""
        if self.pid is not None:
            return f"the running gateway's, pid {self.pid}"
        if self.running is not None:
            return f"the running gateway (pid {self.running}) did not say: {HERE}"
        return f"no gateway running: {HERE}"

    def toJson(self) -> dict[str, Any]:
        """C{--json}'s C{"source"}."""
        return {
            "gateway": self.pid,
            "mode": self.mode,
            "running": self.running,
            "why": self.why,
            "said": self.said(),
            "origin": self.origin(),
        }


def sandboxFacts(cli: CliContext, found: GatewayProbe, mode: str | None = None) -> SandboxFacts:
    """The running gateway's sandbox, when one runs and says; else what the
    probe finds here, C{mode} (a C{--sandbox}) naming the mechanism when it
    names one."""
    running = found.pid if found.running else None
    why = None
    if running is not None:
        try:
            answer = cli.http.api(found, "GET", "/sandbox", timeout=ASK_TIMEOUT)
        except CliError as e:
            why = e.message
        else:
            facts = _answered(answer)
            if isinstance(facts, SandboxFacts):
                return facts
            why = facts
    here = probe.probe()
    mechanism = mechanisms.FORCED.get(mode or "") or str(here.get("mechanism") or "none")
    return SandboxFacts(here, mechanism, why=why, running=running)


def _answered(answer: Any) -> SandboxFacts | str:
    """The gateway's answer as facts, or why it cannot be used."""
    if not isinstance(answer, dict):
        return "it answered something else"
    found, mechanism = answer.get("probe"), answer.get("mechanism")
    pid, mode = answer.get("pid"), answer.get("mode")
    if answer.get("mode") is None:
        return "it has no sandbox"
    if not isinstance(found, dict) or mechanism == "auto":
        return "its probe has not answered yet"
    if mechanism not in MECHANISMS or type(pid) is not int or not isinstance(mode, str):
        return "it answered something else"
    return SandboxFacts(found, str(mechanism), mode, pid, running=pid)
