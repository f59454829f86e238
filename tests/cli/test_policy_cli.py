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


def test_policy_test_takes_the_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "labels.cedar"
    policy.write_text(
        '@id("all") permit(principal, action, resource);\n'
        '@id("ask") @approval("egress after untrusted content")\n'
        'forbid(principal, action == Gateway::Action::"tools/call", resource)\n'
        'when { resource.labels.contains("egress") && context.labels.contains("untrusted") };\n'
    )
    base = ["policy", "test", "--policy", str(policy), "--principal", "ann", "--call", "gh/post"]
    code, out = run(capsys, *base, "--tool-label", "egress")
    assert code == 0 and out.startswith("ALLOWED")
    code, out = run(capsys, *base, "--tool-label", "egress", "--label", "untrusted", "--json")
    decided = json.loads(out)
    assert code == 1 and decided["outcome"] == "approval" and decided["policies"] == ["ask"]
    assert decided["listed"]  # a tool that needs a yes is listed
    code, out = run(capsys, *base, "--label", "secret")
    assert code == 2 and "unknown label(s) secret" in out


def test_policy_test_says_why_and_what_the_schema_finds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "typo.cedar"
    policy.write_text(
        '@id("all") permit(principal, action, resource);\n'
        '@id("typo") forbid(principal, action, resource) when { resource.tool == "x" };\n'
    )
    argv = ["policy", "test", "--policy", str(policy), "--principal", "bob"]
    code = main([*argv, "--call", "fs/read_text_file"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out.startswith("DENIED tools/call fs/read_text_file: typo")
    assert "failed to evaluate" in captured.err
    assert (
        "warning: typo: attribute `tool` on entity type `Gateway::Tool` not found" in captured.err
    )
