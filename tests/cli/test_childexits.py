"""C{doctor}'s check of the children that exited unexpectedly and run
again: a server C{/health} says is degraded is a ✗ with the last exit the
gateway recorded and the way to read the rest; one that failed earlier
and runs well since, a ○."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.cli.checks import Check
from tests.cli.support import HEALTH, Cli, FakeGateway, check

LONG_LINE = (
    "killed by the gateway: it wrote a stdout line of 16785408 bytes, over the 16777216-byte limit"
)
FILESYSTEM = {
    **HEALTH["servers"]["context7"],
    "share": "global",
    "state": "degraded",
    "children": 1,
    "requests": 19,
    "sessions": 1,
    "restarts": 5,
    "failures": 5,
    "lastExit": LONG_LINE,
}
"""A server whose child was killed five times for an over-long stdout line,
and runs again: what C{status} shows as C{degraded ... · 5 restarts}."""


def serving(running: FakeGateway, **servers: dict[str, Any]) -> None:
    running.answers["/health"] = (200, {**HEALTH, "servers": {**HEALTH["servers"], **servers}})


def test_doctor_fails_on_a_degraded_server_with_its_last_exit(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    serving(running, filesystem=FILESYSTEM)
    result = check(stateDir, "childExits")
    assert result.status == "fail"
    assert result.message == (
        "Children exited unexpectedly within the last 5 minutes and were started again: filesystem"
    )
    assert result.details == (
        f"filesystem: degraded, 5 unexpected exits, 5 restarts; last: {LONG_LINE}",
    )
    assert result.fix == (
        "`mcpgateway logs filesystem --no-follow` shows each exit and what the child wrote"
        " before it; the gateway starts a child again on its own, and the server is running"
        " again 5 minutes after its last failure; filesystem wrote a stdout line over the"
        " gateway's --max-line: a tool that answers this much needs a larger one"
        " (docs/guide/limits.md)"
    )
    assert check(stateDir, "health").status == "pass"  # it runs: the health check says nothing
    code, out, _ = cli("doctor")
    assert code == 1
    lines = out.splitlines()
    at = lines.index(f"  ✗ {result.message}")
    assert lines[at + 1 : at + 3] == [f"    {result.details[0]}", f"    → {result.fix}"]


def test_an_exit_of_another_kind_gets_the_logs_alone(stateDir: Path, running: FakeGateway) -> None:
    crashed = {**FILESYSTEM, "restarts": 1, "failures": 1, "lastExit": "exited with code 1"}
    serving(running, a=crashed, b=crashed, c=crashed, d={**crashed, "state": "restarting"})
    result = check(stateDir, "childExits")
    assert result.status == "fail" and result.message.endswith(": a, b, c, d")
    assert result.fix == (
        "`mcpgateway logs a --no-follow` and `mcpgateway logs b --no-follow` and"
        " `mcpgateway logs c --no-follow` show each exit and what the child wrote before it"
        " (and the same for d); the gateway starts a child again on its own, and the server"
        " is running again 5 minutes after its last failure"
    )
    assert (
        result.details[3] == "d: restarting, 1 unexpected exit, 1 restart; last: exited with code 1"
    )


def test_failures_of_earlier_that_run_well_since_are_worth_knowing(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    serving(running, filesystem={**FILESYSTEM, "state": "running"})
    assert check(stateDir, "childExits") == Check(
        "info",
        "Children exited unexpectedly earlier, and run again since: filesystem",
        None,
        (f"filesystem: running, 5 unexpected exits, 5 restarts; last: {LONG_LINE}",),
    )
    code, _, _ = cli("doctor")
    assert code == 0


def test_a_server_the_health_check_fails_is_left_to_it(
    stateDir: Path, running: FakeGateway
) -> None:
    """No child runs since its last failed (or it is in error): the health
    check says so, with its fix; this one does not say it twice."""
    stopped = {**FILESYSTEM, "state": "stopped", "children": 0, "lastExit": "exited with code 3"}
    broken = {**FILESYSTEM, "state": "error", "error": "5 crashes in 300 s"}
    serving(running, stopped=stopped, broken=broken)
    assert check(stateDir, "health").status == "fail"
    assert check(stateDir, "childExits") == Check("pass", "Child exits: none unexpected")


def test_restarts_the_gateway_asked_for_are_no_failure(
    stateDir: Path, running: FakeGateway
) -> None:
    """C{serena} of the canned answer restarted twice, none a failure."""
    assert HEALTH["servers"]["serena"]["restarts"] == 2
    assert check(stateDir, "childExits") == Check("pass", "Child exits: none unexpected")


def test_child_exits_are_not_checked_without_a_gateway(stateDir: Path) -> None:
    assert check(stateDir, "childExits") == Check(
        "info", "Child exits not checked (gateway not running)"
    )
