# -*- test-case-name: tests.cli.test_serverrequests,tests.cli.test_doctor,tests.cli.test_cli_properties -*-
"""C{doctor}'s check of the server-to-client requests (sampling,
elicitation, roots) the gateway refused a server's child, from C{/health}
(L{checkServerRequests}), of two kinds:

 - on a shared child, a request no session could be proven to own
   (C{ambiguousServerRequests}): a ✗, whose fix is to run the server per
   session, unless the gateway promoted it already;
 - a request a 2026-07-28 client could not be asked
   (C{refusedServerRequests}): asked during a request whose answer cannot
   ask the client anything (C{tools/list}, any list: only C{tools/call},
   C{prompts/get} and C{resources/read} can), one the client cannot
   answer, or needing a capability it did not declare. The child was
   answered with an error; nothing in the gateway's settings changes
   that, so it is a ○ that names the servers and counts.

A gateway that counts neither (an older one) is said to."""

from __future__ import annotations

from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext, notChecked
from mcpgateway.cli.health import healthServers
from mcpgateway.runtime.paths import OVERRIDES_FILE

AMBIGUOUS = "ambiguousServerRequests"
ERA2026 = "refusedServerRequests"
ERA2026_WHY = (
    "a 2026-07-28 client can be asked only during tools/call, prompts/get and"
    " resources/read, and only what it declared; the child was answered with an error"
)
"""Why a 2026 client's refusals happen, under the check."""


def counts(servers: dict[str, dict[str, Any]], key: str) -> dict[str, int]:
    """Each server's count C{key}, for the servers whose line has it."""
    return {
        name: server[key]
        for name, server in servers.items()
        if isinstance(server.get(key), int) and not isinstance(server.get(key), bool)
    }


def era2026Lines(refused: dict[str, int]) -> tuple[str, ...]:
    """A line per server with requests refused to 2026 clients, then why."""
    named = sorted(name for name, n in refused.items() if n > 0)
    if not named:
        return ()
    return (
        *(f"{name}: {refused[name]} refused to 2026-07-28 clients" for name in named),
        ERA2026_WHY,
    )


def checkServerRequests(ctx: DoctorContext) -> Check:
    """The server-to-client requests refused (see the module)."""
    if ctx.health is None:
        return notChecked(ctx, "Server-to-client requests")
    servers = healthServers(ctx.health)
    counted = counts(servers, AMBIGUOUS)
    era2026 = counts(servers, ERA2026)
    promoted = {name for name, server in servers.items() if isinstance(server.get("promoted"), str)}
    refused = sorted(name for name, n in counted.items() if n > 0 and name not in promoted)
    if refused:
        details = tuple(
            f"{name}: {servers[name]['warning']}"
            if isinstance(servers[name].get("warning"), str)
            else name
            for name in refused
        )
        return Check(
            "fail",
            "Server-to-client requests refused (no way to tell which session"
            " they belong to on a shared child): "
            + ", ".join(f"{name} ({counted[name]})" for name in refused),
            f'run {", ".join(refused)} per session ("share": "session" in its'
            f" entry or {ctx.stateDir / OVERRIDES_FILE})",
            (*details, *era2026Lines(era2026)),
        )
    if not counted and not era2026:
        return Check("info", "Server-to-client requests not counted by this gateway")
    lines = era2026Lines(era2026)
    if lines:
        named = sorted(name for name, n in era2026.items() if n > 0)
        return Check(
            "info",
            "Server-to-client requests refused to 2026-07-28 clients, who cannot be asked"
            " them: " + ", ".join(f"{name} ({era2026[name]})" for name in named),
            None,
            lines,
        )
    if promoted & set(counted):
        return Check(
            "pass",
            "Server-to-client requests: those refused were on servers now promoted"
            f" ({', '.join(sorted(promoted & set(counted)))}; see the promotions check)",
        )
    if not era2026:
        return Check(
            "pass",
            "Server-to-client requests: none refused on shared children (this gateway does not"
            " count those refused to 2026-07-28 clients)",
        )
    return Check(
        "pass",
        "Server-to-client requests: none refused (neither on a shared child nor to a"
        " 2026-07-28 client)",
    )
