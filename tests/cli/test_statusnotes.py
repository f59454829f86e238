"""What C{status} and C{doctor} tell a user who has something to do: the
calls that wait for their yes (C{/health}'s C{"approvals"}), and a gateway
that runs another version than the one installed (C{mcpgateway restart})."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli import statusnotes
from mcpgateway.cli.checks import Check
from mcpgateway.cli.statusnotes import VersionSkew, heldCalls, noteLines, versionSkew
from tests.cli.support import HEALTH, Cli, FakeGateway, check, writeState

HELD = "  ! 3 calls wait for your yes: `mcpgateway approvals list`"


def configLine(lines: list[str]) -> int:
    """Where C{status}'s config line is."""
    return next(i for i, line in enumerate(lines) if line.startswith("  config "))


# -- held calls ------------------------------------------------------------------------


def test_status_says_how_many_calls_wait_for_a_yes(running: FakeGateway, cli: Cli) -> None:
    running.answers["/health"] = (200, {**HEALTH, "approvals": {"pending": 3}})
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    assert lines[configLine(lines) + 1] == HELD  # under the config line, where it is seen
    assert json.loads(cli("status", "--json")[1])["heldCalls"] == 3
    running.answers["/health"] = (200, {**HEALTH, "approvals": {"pending": 1}})
    one = "  ! 1 call waits for your yes: `mcpgateway approvals list`"
    assert one in cli("status")[1].splitlines()


def test_status_says_nothing_of_held_calls_when_none_waits(running: FakeGateway, cli: Cli) -> None:
    for health in (HEALTH, {**HEALTH, "approvals": {"pending": 0}}):
        running.answers["/health"] = (200, health)
        code, out, _ = cli("status")
        assert code == 0 and "yes" not in out
    document = json.loads(cli("status", "--json")[1])
    assert (document["heldCalls"], document["versionSkew"]) == (0, None)
    running.answers["/health"] = (200, HEALTH)  # an older gateway: it does not say
    assert json.loads(cli("status", "--json")[1])["heldCalls"] is None


def test_doctor_reports_held_calls_as_an_item_for_the_user_not_a_failure(
    stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    running.answers["/health"] = (200, {**HEALTH, "approvals": {"pending": 3}})
    assert check(stateDir, "heldCalls") == Check(
        "info", "3 calls wait for your yes: `mcpgateway approvals list`"
    )
    code, out, _ = cli("doctor")
    assert code == 0  # the gateway works: the calls wait for a person
    assert HELD.replace("  !", "  ○") in out.splitlines()
    running.answers["/health"] = (200, {**HEALTH, "approvals": {"pending": 0}})
    assert check(stateDir, "heldCalls") == Check("pass", "Held calls: none waits for your yes")


def test_held_calls_are_not_checked_without_a_gateway(stateDir: Path) -> None:
    assert check(stateDir, "heldCalls") == Check(
        "info", "Held calls not checked (gateway not running)"
    )
    assert check(stateDir, "version") == Check("info", "Version not checked (gateway not running)")


def test_a_malformed_count_is_read_as_none_waiting() -> None:
    for approvals in ({"pending": True}, {"pending": -2}, {"pending": "3"}):
        assert heldCalls({"approvals": approvals}) == 0
    said: list[dict[str, Any]] = [{}, {"approvals": 3}, {"approvals": {}}]
    for health in said:
        assert heldCalls(health) is None


# -- a version skew ---------------------------------------------------------------------


@pytest.fixture
def upgraded(running: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    """A gateway that runs 0.1.1 while this command, as installed, is 0.1.2."""
    monkeypatch.setattr(statusnotes, "__version__", "0.1.2")
    running.answers["/health"] = (200, {**HEALTH, "version": "0.1.1"})
    return running


SKEW = (
    "  ! the gateway runs mcpgateway 0.1.1, but 0.1.2 is installed: `mcpgateway restart`"
    " runs 0.1.2 in a fresh process, keeping the sessions and the running children"
)


def test_status_says_a_restart_runs_the_version_installed(upgraded: FakeGateway, cli: Cli) -> None:
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("mcpgateway 0.1.1 running: ")
    assert lines[configLine(lines) + 1] == SKEW
    skew = json.loads(cli("status", "--json")[1])["versionSkew"]
    assert skew == {
        "running": "0.1.1",
        "installed": "0.1.2",
        "python": None,
        "here": sys.executable,
    }


def test_doctor_fails_until_the_restart(stateDir: Path, upgraded: FakeGateway, cli: Cli) -> None:
    result = check(stateDir, "version")
    assert result == Check(
        "fail",
        "The gateway runs mcpgateway 0.1.1, but 0.1.2 is installed",
        "`mcpgateway restart` runs 0.1.2 in a fresh process, keeping the sessions and the"
        " running children",
    )
    code, out, _ = cli("doctor")
    assert code == 1
    lines = out.splitlines()
    at = lines.index("  ✗ The gateway runs mcpgateway 0.1.1, but 0.1.2 is installed")
    assert lines[at + 1] == f"    → {result.fix}"
    upgraded.answers["/health"] = (200, {**HEALTH, "version": "0.1.2"})  # restarted
    assert check(stateDir, "version") == Check(
        "pass", "Version: the gateway runs mcpgateway 0.1.2, the one installed"
    )


def test_a_gateway_of_another_installation_is_named_with_its_interpreter(
    stateDir: Path, upgraded: FakeGateway
) -> None:
    """A restart runs what the gateway's own interpreter has installed: when
    that is not this command's, the fix says so rather than promise the
    version installed here."""
    theirs = "/opt/other/venv/bin/python"
    writeState(stateDir, os.getpid(), upgraded.port, python=theirs)
    result = check(stateDir, "version")
    assert result.status == "fail"
    assert result.message == (
        f"The gateway runs mcpgateway 0.1.1 (under {theirs}), this command is 0.1.2"
        f" (under {sys.executable})"
    )
    assert result.fix == (
        f"`mcpgateway restart` runs what {theirs} has installed: upgrade that one, or"
        " `mcpgateway stop` and `mcpgateway start` with this one"
    )
    sibling = os.path.join(os.path.dirname(sys.executable), "python3")  # the same environment
    writeState(stateDir, os.getpid(), upgraded.port, python=sibling)
    assert check(stateDir, "version").message == (
        "The gateway runs mcpgateway 0.1.1, but 0.1.2 is installed"
    )


def test_the_running_version_is_health_s_else_state_json_s() -> None:
    state = {"version": "0.1.1", "python": "/v/bin/python"}
    here = "/v/bin/python"
    assert versionSkew({"detail": "liveness"}, state, "0.1.2", here) == VersionSkew(
        "0.1.1", "0.1.2", None, here
    )
    assert versionSkew({"version": "0.1.2"}, state, "0.1.2", here) is None
    assert versionSkew({}, {}, "0.1.2", here) is None  # it does not say: nothing to compare
    assert versionSkew({"version": 7}, {}, "0.1.2", here) is None
    assert versionSkew(None, {"version": __version__}) is None


def test_status_lines_of_both_in_order() -> None:
    health = {"version": "0.1.1", "approvals": {"pending": 3}}
    lines = noteLines(health, {"python": sys.executable})
    assert lines[0] == HELD
    assert lines[1].startswith(f"  ! the gateway runs mcpgateway 0.1.1, but {__version__} is")
    assert noteLines({"version": __version__}, {}) == []


def test_doctor_on_a_liveness_only_health_reads_the_version_of_state_json(
    stateDir: Path, running: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    running.answers["/health"] = (200, {"status": "ok", "detail": "liveness"})
    assert check(stateDir, "version").status == "pass"
    monkeypatch.setattr(statusnotes, "__version__", "0.1.2")
    assert check(stateDir, "version").message.endswith(", but 0.1.2 is installed")
    assert check(stateDir, "heldCalls").message.startswith("Held calls not checked (/health")
