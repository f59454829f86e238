# -*- test-case-name: tests.cli.test_sandboxrefusals -*-
"""What C{mcpgateway status} and C{doctor} say of the refusals of a
server's sandbox.

A confined child refused a file or a host fails in its own words; the
gateway reads them (its stderr, and its tools' error results:
L{mcpgateway.core.refusals}) and says, once per path, what the sandbox
likely refused and the key of its entry that allows it (or that nothing
does). A child that died of it has that line in its exit reason
(C{/health}'s C{lastExit}); a tool call that failed of it leaves it in the
server's C{sandboxRefusals}. L{refusalNotes} are the lines C{status}
prints under the server; L{checkSandboxRefusals} is C{doctor}'s check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext, notChecked
from mcpgateway.cli.health import healthServers

SHOWN = 3
"""The refusals C{status} prints under a server (C{doctor} prints them all)."""
MAX_LINE = 400
"""The longest refusal line printed."""
RULE = "docs/guide/sandbox.md"


def refusalsOf(server: Mapping[str, Any]) -> list[str]:
    """A server's C{sandboxRefusals} of C{/health}, as lines (none from a
    gateway that does not report them)."""
    refusals = server.get("sandboxRefusals")
    if not isinstance(refusals, list):
        return []
    return [str(line)[:MAX_LINE] for line in refusals if isinstance(line, str) and line]


def learnFix(name: str) -> str:
    """How to find everything a server needs at once: learn it."""
    return (
        f'or let it learn what it needs: "sandbox": "learn" in its entry, use it, then'
        f" `mcpgateway sandbox suggest {name}`"
    )


def refusalNotes(server: Mapping[str, Any], name: str) -> list[str]:
    """The lines under a server in C{status}: what its sandbox likely
    refused its tool calls (the first L{SHOWN}), and what to do."""
    refusals = refusalsOf(server)
    if not refusals:
        return []
    notes = [f"! {line}" for line in refusals[:SHOWN]]
    if len(refusals) > SHOWN:
        notes.append(f"  and {len(refusals) - SHOWN} more (`mcpgateway doctor` lists them)")
    notes.append(f'  → add what each names to its "sandbox" entry ({RULE}), {learnFix(name)}')
    return notes


def checkSandboxRefusals(ctx: DoctorContext) -> Check:
    """The servers whose tool calls their sandbox likely refused something
    (C{/health}'s C{sandboxRefusals}), each line naming the path and the
    key that allows it."""
    if ctx.health is None:
        return notChecked(ctx, "Sandbox refusals")
    servers = healthServers(ctx.health)
    refused = {name: refusalsOf(server) for name, server in sorted(servers.items())}
    refused = {name: lines for name, lines in refused.items() if lines}
    if not refused:
        return Check("pass", "Sandbox refusals: no tool call failed because of its sandbox")
    details = tuple(f"{name}: {line}" for name, lines in refused.items() for line in lines)
    names = ", ".join(refused)
    first = next(iter(refused))
    return Check(
        "fail",
        f"Sandbox refusals: tool calls of {names} failed, likely because of their sandbox",
        f'if a server needs what its line names, add that key to its "sandbox" entry ({RULE});'
        f" {learnFix(first)}; what it should not reach, the sandbox kept from it",
        details,
    )
