"""C{doctor}, C{status} and the console name the file an entry came from
(its C{/health} line's C{configFile}), and say what to do about keys added
next to the gateway's URL in a client's file (C{/health}'s
C{config.ignoredKeys})."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.cli.checks import DoctorContext, unavailableFix
from mcpgateway.cli.configreport import checkConfigEntries, ignoredEntries, statusLines
from mcpgateway.clientconfigs.ignoredkeys import ignoredKeys
from mcpgateway.config.problems import ConfigProblems
from mcpgateway.core.status import ServerState
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.report.health import configLine
from mcpgateway.web.pages.statusneeds import fix
from mcpgateway.web.pages.statuspage import pageData
from tests.cli.support import HEALTH
from tests.http import Harness

MISSING = {"state": "error", "circuit": "closed", "error": "command 'x' not found on PATH"}
FALLBACK = Path("/home/u/.claude.json")


def test_doctor_names_the_file_each_missing_command_came_from() -> None:
    servers = {
        "a": {**MISSING, "configFile": "/home/u/.cursor/mcp.json"},
        "b": {**MISSING, "configFile": "/state/servers.json"},
    }
    assert unavailableFix(servers, ["a"], FALLBACK) == (
        "install the command of a or fix its entry in /home/u/.cursor/mcp.json"
    )
    assert unavailableFix(servers, ["a", "b"], FALLBACK) == (
        "install the command of a, b or fix a in /home/u/.cursor/mcp.json; b in /state/servers.json"
    )
    assert unavailableFix({"c": MISSING}, ["c"], FALLBACK).endswith(f"its entry in {FALLBACK}")


def test_the_console_names_the_file_of_the_entry() -> None:
    server = {"name": "s", **MISSING, "configFile": "/home/u/.claude.json"}
    assert fix(server) == "install its command or fix its entry in /home/u/.claude.json"
    assert fix({"name": "s", **MISSING}).endswith("fix its entry in its config file")


def health(problems: ConfigProblems) -> dict[str, Any]:
    return {**HEALTH, "config": configLine(problems)}


def test_keys_added_next_to_the_url_fail_doctor_and_show_in_status(tmp_path: Path) -> None:
    problem = ignoredKeys("fs", "/home/u/.cursor/mcp.json", ("env",))
    shown = health(ConfigProblems(ignoredKeys=(problem,)))
    assert shown["config"]["ignoredKeys"] == [
        {"server": "fs", "file": problem.file, "keys": ["env"], "fix": problem.fix}
    ]
    check = checkConfigEntries(DoctorContext(tmp_path, GatewayProbe(tmp_path), health=shown))
    assert check.status == "fail"
    assert "env of 'fs' next to the gateway's URL has no effect" in check.message
    assert check.fix is not None and "mcpgateway servers edit fs --set env=JSON" in check.fix
    lines = statusLines(shown)
    assert lines[0].startswith("  ! /home/u/.cursor/mcp.json: env of 'fs'")
    assert lines[1] == f"    → {problem.fix}"


def test_a_gateway_without_ignored_keys_shows_none() -> None:
    assert "ignoredKeys" not in configLine(ConfigProblems())


@settings(deadline=None)  # a loaded machine: the values are large, not slow
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
def test_any_ignored_keys_section_is_read_without_failing(section: Any) -> None:
    """A gateway of another version may show anything there."""
    shown = {**HEALTH, "config": {"ignoredKeys": section}}
    assert all(isinstance(entry["keys"], str) for entry in ignoredEntries(shown))
    statusLines(shown)


def test_the_consoles_data_carries_the_file_to_its_fix() -> None:
    h = Harness()
    status = h.gateway.readModel.status()
    spec = replace(status.servers["srv"].spec, configFile="/home/u/.cursor/mcp.json")
    srv = replace(
        status.servers["srv"], spec=spec, state=ServerState.ERROR, error="command 'x' not found"
    )
    [line] = pageData(replace(status, servers={"srv": srv}))["servers"]
    assert fix(line).endswith("fix its entry in /home/u/.cursor/mcp.json")
