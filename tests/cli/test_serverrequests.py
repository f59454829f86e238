"""C{doctor}'s check of the server-to-client requests the gateway refused a
child: those no session could be proven to own on a shared child (✗, run
it per session), and those a 2026-07-28 client could not be asked (○:
counted and named, so the check never says "none refused" over them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.cli.checks import Check
from tests.cli.support import HEALTH, Cli, FakeGateway, check

WHY = (
    "a 2026-07-28 client can be asked only during tools/call, prompts/get and resources/read,"
    " and only what it declared; the child was answered with an error"
)


def counting(running: FakeGateway, **refused: int) -> None:
    """Every server of the canned answer counts both kinds; C{refused}:
    each named server's requests refused to 2026 clients."""
    servers: dict[str, Any] = {
        name: {**server, "refusedServerRequests": refused.get(name, 0)}
        for name, server in HEALTH["servers"].items()
    }
    running.answers["/health"] = (200, {**HEALTH, "servers": servers})


def test_a_roots_list_refused_to_a_2026_client_is_counted(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    """The child asked C{roots/list} during a 2026 client's C{tools/list}:
    the check names it, and it is no failure of the gateway."""
    counting(running, context7=2)
    assert check(stateDir, "serverRequests") == Check(
        "info",
        "Server-to-client requests refused to 2026-07-28 clients, who cannot be asked them:"
        " context7 (2)",
        None,
        ("context7: 2 refused to 2026-07-28 clients", WHY),
    )
    code, out, _ = cli("doctor")
    assert code == 0
    assert "none refused" not in out


def test_none_refused_of_either_kind(stateDir: Path, running: FakeGateway) -> None:
    counting(running)
    assert check(stateDir, "serverRequests") == Check(
        "pass",
        "Server-to-client requests: none refused (neither on a shared child nor to a"
        " 2026-07-28 client)",
    )


def test_a_gateway_that_does_not_count_2026_refusals_says_what_it_counts(
    stateDir: Path, running: FakeGateway
) -> None:
    assert check(stateDir, "serverRequests") == Check(
        "pass",
        "Server-to-client requests: none refused on shared children (this gateway does not"
        " count those refused to 2026-07-28 clients)",
    )


def test_both_kinds_the_ambiguous_ones_fail_the_others_are_listed_under(
    stateDir: Path, running: FakeGateway
) -> None:
    counting(running, serena=1)
    health = running.answers["/health"][1]
    health["servers"]["context7"]["ambiguousServerRequests"] = 3
    result = check(stateDir, "serverRequests")
    assert result.status == "fail"
    assert result.message.endswith("on a shared child): context7 (3)")
    assert result.details == ("context7", "serena: 1 refused to 2026-07-28 clients", WHY)


def test_only_the_2026_count_is_still_a_count(stateDir: Path, running: FakeGateway) -> None:
    servers = {"new": {"state": "running", "refusedServerRequests": 0}}
    running.answers["/health"] = (200, {**HEALTH, "servers": servers})
    assert check(stateDir, "serverRequests").status == "pass"
