# -*- test-case-name: tests.cli.test_start_team -*-
"""C{mcpgateway start}'s team options (authentication, the policy, the audit
log) reach the gateway it starts as the gateway takes them, files made
absolute; the command line policy.md gives is one C{start} runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.support.cli.started import Start

DOCS = Path(__file__).parents[2] / "docs" / "guide"


def documented() -> list[str]:
    """The arguments of policy.md's C{mcpgateway start} line."""
    [line] = re.findall(r"^mcpgateway start .*$", (DOCS / "policy.md").read_text(), re.M)
    return shlex.split(line)[2:]


def test_the_documented_command_line_starts_a_governed_gateway(
    home: Path, tmp_path: Path, start: Start
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    etc = tmp_path / "etc"
    etc.mkdir()
    arguments = [a.replace("/etc/mcpgateway", str(etc)) for a in documented()]
    assert "--policy" in arguments and "--auth-tokens" in arguments
    started = start(*arguments)
    assert started.code == 0, started.err
    options = started.options()  # the gateway takes the command line start gives it
    assert options["policy"] == str(etc / "team.cedar")
    assert options["auth-tokens"] == str(etc / "tokens.json")


def test_every_team_option_reaches_the_gateway_files_absolute(
    monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path, start: Start
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    monkeypatch.chdir(tmp_path)
    given = [
        "--oauth-issuer", "https://id.example.com/realms/dev",
        "--resource-uri", "https://mcp.example.com",
        "--oauth-scopes", "mcp:use",
        "--policy", "team.cedar",
        "--policy-default", "allow",
        "--audit-log", "audit.jsonl",
        "--audit-key-file", "keys/audit.key",
        "--audit-payloads",
    ]  # fmt: skip
    started = start(*given)
    assert started.code == 0, started.err
    options = started.options()
    assert options["oauth-issuer"] == "https://id.example.com/realms/dev"
    assert options["resource-uri"] == "https://mcp.example.com"
    assert options["oauth-scopes"] == ("mcp:use",)
    assert options["policy"] == str(tmp_path / "team.cedar")
    assert options["policy-default"] == "allow"
    assert options["audit-log"] == str(tmp_path / "audit.jsonl")
    assert options["audit-key-file"] == str(tmp_path / "keys" / "audit.key")
    assert options["audit-payloads"]


def test_start_without_them_passes_none(start: Start) -> None:
    started = start()
    assert started.code == 0
    assert not {"--policy", "--auth-tokens", "--audit-log", "--audit-key-file"} & set(started.argv)
