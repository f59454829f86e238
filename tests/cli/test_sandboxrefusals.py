"""What C{mcpgateway status} and C{doctor} say of the sandbox's refusals:
a tool call it likely refused (C{/health}'s C{sandboxRefusals}) and a child
that died of one (its C{lastExit}), each with the path and the key that
allows it, and a fix whose commands exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mcpgateway.cli.main import makeParser
from mcpgateway.cli.sandboxrefusals import SHOWN, refusalNotes
from mcpgateway.cli.status import renderStatus
from mcpgateway.ops.gatewayprobe import GatewayProbe
from tests.cli.support import HEALTH, Cli, FakeGateway, check

TOLD = (
    "a tool call failed, likely because of the sandbox: the sandbox denied writing"
    ' /srv/out.txt: allow it with "sandbox": {"filesystem": {"allowWrite": ["/srv/out.txt"]}}'
)
REFUSED: dict[str, Any] = {**HEALTH["servers"]["context7"], "sandboxRefusals": [TOLD]}


def test_status_shows_what_the_sandbox_likely_refused_under_its_server(
    running: FakeGateway, cli: Cli
) -> None:
    running.answers["/health"] = (200, {**HEALTH, "servers": {"notes": REFUSED}})
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "notes" in line)
    assert lines[at + 1] == f"      ! {TOLD}"
    assert "mcpgateway sandbox suggest notes" in lines[at + 2]


def test_status_shows_a_few_and_says_how_many_more() -> None:
    server = {"sandboxRefusals": [f"line {i}" for i in range(SHOWN + 2)]}
    notes = refusalNotes(server, "x")
    assert notes[:SHOWN] == [f"! line {i}" for i in range(SHOWN)]
    assert "and 2 more" in notes[SHOWN]
    assert refusalNotes({}, "x") == [] and refusalNotes({"sandboxRefusals": "x"}, "x") == []


def test_status_of_a_server_without_refusals_has_no_such_line(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    assert not any("sandbox" in line for line in renderStatus(found, HEALTH, []))


def test_doctor_fails_naming_the_path_and_the_fix(stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, {**HEALTH, "servers": {"notes": REFUSED}})
    result = check(stateDir, "sandboxRefusals")
    assert result.status == "fail"
    assert "notes" in result.message and "likely because of their sandbox" in result.message
    assert result.details == (f"notes: {TOLD}",)
    assert result.fix is not None and "mcpgateway sandbox suggest notes" in result.fix


def test_doctor_passes_without_refusals_and_says_when_it_cannot_look(
    stateDir: Path, running: FakeGateway
) -> None:
    assert check(stateDir, "sandboxRefusals").status == "pass"


def test_doctor_cannot_look_without_a_gateway(stateDir: Path) -> None:
    result = check(stateDir, "sandboxRefusals")
    assert result.status == "info" and "not checked" in result.message


def test_doctor_tells_a_child_its_sandbox_killed_with_the_sandbox_fix(
    stateDir: Path, running: FakeGateway
) -> None:
    died = {
        **HEALTH["servers"]["tavily"],
        "state": "stopped",
        "failures": 1,
        "circuit": "closed",
        "lastExit": "exited with code 1 (the sandbox denied writing ~/notes/a.md: allow it with"
        ' "sandbox": {"filesystem": {"allowWrite": ["~/notes/a.md"]}})',
    }
    running.answers["/health"] = (200, {**HEALTH, "servers": {"notes": died}})
    result = check(stateDir, "health")
    assert result.status == "fail"
    assert any('"allowWrite": ["~/notes/a.md"]' in detail for detail in result.details)
    assert result.fix is not None
    assert "failed because of its sandbox" in result.fix
    assert "mcpgateway sandbox suggest notes" in result.fix


def test_every_command_the_fixes_name_exists(stateDir: Path, running: FakeGateway) -> None:
    running.answers["/health"] = (200, {**HEALTH, "servers": {"notes": REFUSED}})
    texts = [check(stateDir, "sandboxRefusals").fix or "", *refusalNotes(REFUSED, "notes")]
    parser = makeParser()
    named = {c for text in texts for c in re.findall(r"`mcpgateway ([a-z ]+?) notes`", text)}
    assert named == {"sandbox suggest"}
    for command in named:
        assert parser.parse_args([*command.split(), "notes"]).handler
