"""C{mcpgateway policy test} (L{mcpgateway.cli.policy}): one call decided
offline, the policies that decided, the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.cli.main import main
from tests.support.governance.policy import TEAM


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_policy_test_prints_the_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "team.cedar"
    policy.write_text(TEAM)
    base = ["policy", "test", "--policy", str(policy), "--principal", "ann", "--group", "analysts"]
    code, out = run(capsys, *base, "--call", "files/read_file", '{"path": "/data/public/a"}')
    assert code == 0 and out.startswith("ALLOWED tools/call files/read_file: analysts-read-public")
    code, out = run(capsys, *base, "--call", "files/write_file", "--json")
    assert code == 1
    assert json.loads(out)["policies"] == ["default-deny"] and not json.loads(out)["listed"]
    policy.write_text("permit(")
    code, out = run(capsys, *base, "--call", "files/x")
    assert code == 2 and "does not parse" in out
