"""What C{start}, C{status} and C{doctor} say of the config a running gateway
serves: C{start} names the client files it adopted and only those (a file
refused, a Cursor file with comments, is named apart with the reason), and
all three name each entry the gateway does not serve, with its file and
why (L{mcpgateway.cli.configreport}, from C{/health}'s C{"config"})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.cli.checks import DoctorContext
from mcpgateway.cli.configreport import (
    checkConfigEntries,
    invalidEntries,
    refusedFiles,
    refusedLine,
    startLines,
)
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor, Windsurf
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.problems import ConfigProblems
from mcpgateway.config.servers import parseConfig
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.report.health import configLine
from tests.cli.support import HEALTH, Cli, FakeGateway
from tests.clientconfigs.adoptkit import urlFor
from tests.support.cli.started import Start

CURSOR_WITH_COMMENTS = """{
  // the servers of this machine
  "mcpServers": {"fs": {"command": "fs-server"}}
}
"""


def adoptedWithCursorRefused(home: Path, stateDir: Path) -> ConfigProblems:
    """What a gateway adopting Cursor and Windsurf leaves when Cursor's file
    has comments (which Cursor's JSON may not hold: the gateway does not
    rewrite it), and a Claude config with an entry it cannot serve: the
    backups in the state directory, and what its C{/health} shows."""
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir(parents=True)
    cursor.write_text(CURSOR_WITH_COMMENTS)
    windsurf = home / ".codeium" / "windsurf" / "mcp_config.json"
    windsurf.parent.mkdir(parents=True)
    windsurf.write_text(json.dumps({"mcpServers": {"notes": {"command": "notes-server"}}}))
    engine = AdoptionEngine(stateDir, [Cursor(), Windsurf()], Host(home), bridgeArgv=["/bin/gw"])
    engine.adopt(urlFor)
    claude = parseConfig(
        {"mcpServers": {"bad": {"args": ["x"]}}}, str(home / ".claude.json"), defaultScope="user"
    )
    return ConfigProblems(tuple(claude.invalid), engine.refused)


def healthWith(problems: ConfigProblems) -> dict[str, Any]:
    """The C{/health} of that gateway: Windsurf's server served, and the
    config's problems as the gateway renders them."""
    servers = {**HEALTH["servers"], "notes": HEALTH["servers"]["context7"]}
    return {**HEALTH, "servers": servers, "config": configLine(problems)}


def test_start_names_only_the_files_it_adopted(
    home: Path, stateDir: Path, fakeGateway: FakeGateway, start: Start
) -> None:
    fakeGateway.answers["/health"] = (200, healthWith(adoptedWithCursorRefused(home, stateDir)))
    code, out, _ = start().outcome
    assert code == 0
    lines = out.splitlines()
    assert "  adopted: ~/.codeium/windsurf/mcp_config.json (Windsurf)" in lines
    [refused] = [line for line in lines if "Cursor" in line]
    assert refused.startswith(
        "  ! ~/.cursor/mcp.json (Cursor) is not adopted: it is not valid JSON:"
    )
    assert refused.endswith("; its servers are left to the client")
    assert (
        "  ! server 'bad' of ~/.claude.json (user scope) is not served: it has neither"
        " 'command' (a stdio server) nor 'url' (a remote one)"
    ) in lines


def test_start_json_lists_them_apart(
    home: Path, stateDir: Path, fakeGateway: FakeGateway, start: Start
) -> None:
    fakeGateway.answers["/health"] = (200, healthWith(adoptedWithCursorRefused(home, stateDir)))
    code, out, _ = start("--json").outcome
    assert code == 0
    document = json.loads(out)
    windsurf = home / ".codeium" / "windsurf" / "mcp_config.json"
    assert document["adoptedFiles"] == [{"file": str(windsurf), "client": "windsurf"}]
    [refused] = document["refusedFiles"]
    assert (refused["file"], refused["client"]) == (str(home / ".cursor" / "mcp.json"), "cursor")
    assert "is not valid JSON" in refused["why"]
    assert [(e["server"], e["file"], e["scope"]) for e in document["invalidEntries"]] == [
        ("bad", str(home / ".claude.json"), "user scope")
    ]


def test_start_of_a_gateway_with_nothing_to_say_adds_no_line(
    home: Path, fakeGateway: FakeGateway, start: Start
) -> None:
    fakeGateway.answers["/health"] = (200, HEALTH)
    code, out, _ = start().outcome
    assert code == 0
    assert not [line for line in out.splitlines() if "adopted" in line or "not served" in line]


def test_status_names_each_entry_and_file_with_what_to_do(
    home: Path, stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    running.answers["/health"] = (200, healthWith(adoptedWithCursorRefused(home, stateDir)))
    running.answers["/sessions"] = (200, {"sessions": []})
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    at = lines.index(
        "  ! server 'bad' of ~/.claude.json (user scope) is not served: it has neither"
        " 'command' (a stdio server) nor 'url' (a remote one)"
    )
    assert lines[at + 1].startswith("    → fix or remove the entry in its file")
    [cursor] = [i for i, line in enumerate(lines) if "~/.cursor/mcp.json (Cursor)" in line]
    assert lines[cursor + 1].startswith("    → make the file what the client reads")
    code, out, _ = cli("status", "--json")
    assert invalidEntries(json.loads(out)["health"])[0]["server"] == "bad"


def doctorOf(stateDir: Path, health: dict[str, Any] | None) -> DoctorContext:
    return DoctorContext(stateDir, GatewayProbe(stateDir), health=health)


def test_doctor_fails_naming_each_entry_and_file(home: Path, stateDir: Path) -> None:
    check = checkConfigEntries(
        doctorOf(stateDir, healthWith(adoptedWithCursorRefused(home, stateDir)))
    )
    assert check.status == "fail"
    assert check.message == (
        "Config: 1 entry not served: server 'bad' of ~/.claude.json (user scope) is not"
        " served: it has neither 'command' (a stdio server) nor 'url' (a remote one)"
    )
    [cursor] = check.details
    assert cursor.startswith("~/.cursor/mcp.json (Cursor) is not adopted: it is not valid JSON")
    assert check.fix is not None and "'command'" in check.fix


def test_doctor_fails_on_a_refused_file_alone(home: Path, stateDir: Path) -> None:
    problems = adoptedWithCursorRefused(home, stateDir)
    check = checkConfigEntries(
        doctorOf(stateDir, healthWith(ConfigProblems(refusedFiles=problems.refusedFiles)))
    )
    assert check.status == "fail"
    assert check.message.startswith("Client files: 1 file not adopted: ~/.cursor/mcp.json")


def test_doctor_passes_without_problems_and_looks_only_at_what_it_is_shown(
    stateDir: Path,
) -> None:
    assert checkConfigEntries(doctorOf(stateDir, dict(HEALTH))).status == "pass"
    assert checkConfigEntries(doctorOf(stateDir, None)).status == "info"
    hidden = checkConfigEntries(doctorOf(stateDir, {**HEALTH, "detail": "hidden"}))
    assert hidden.status == "info" and "admin" in hidden.message


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
def test_any_config_section_is_read_without_failing(config: Any) -> None:
    """A gateway of another version may show anything there."""
    health = {**HEALTH, "config": {"invalidEntries": config, "refusedFiles": config}}
    assert startLines([], health) == startLines([], health)
    assert all(isinstance(entry["server"], str) for entry in invalidEntries(health))
    assert all(isinstance(refused["why"], str) for refused in refusedFiles(health))


@pytest.mark.parametrize(
    ("why", "said"),
    [
        ("/h/f.json is not valid JSON: x", "it is not valid JSON: x"),
        ("/h/settings.json sets chat.mcp.access", "/h/settings.json sets chat.mcp.access"),
    ],
)
def test_a_reason_naming_the_file_again_says_it(why: str, said: str) -> None:
    line = refusedLine({"file": "/h/f.json", "client": "vscode", "why": why})
    assert line == f"/h/f.json (VS Code) is not adopted: {said}; its servers are left to the client"


@pytest.mark.parametrize(
    ("file", "title"),
    [
        ("/h/.claude.json", "Claude Code"),
        ("/h/project/.mcp.json", "Claude Code"),
        ("/h/servers.json", "--config"),
        ("/h/claude.json", "--config"),
    ],
)
def test_the_claude_configs_adoption_names_who_reads_the_file(file: str, title: str) -> None:
    """The Claude config's adoption holds Claude Code's own files and a file
    the gateway was given with C{--config} alike: only the first are named
    as Claude Code's."""
    lines = startLines([{"file": file, "client": "claude-code"}], None)
    assert lines == [f"  adopted: {file} ({title})"]


def linkedClaudeConfig(home: Path, stateDir: Path) -> Path:
    """C{~/.claude.json} a link into a dotfiles folder, adopted (its backup
    records the link's target); the target."""
    real = home / "dotfiles" / "claude.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"mcpServers": {"fs": {"command": "fs-server"}}}))
    (home / ".claude.json").symlink_to(real)
    claude = ClaudeConfig(home / ".claude.json", stateDir, home=home, environ={})
    assert claude.adopt(lambda name, workspace: f"http://127.0.0.1:9100/{name}/mcp").adopted
    return real


def test_start_names_a_linked_claude_config_as_claude_codes_by_both_names(
    home: Path, stateDir: Path, fakeGateway: FakeGateway, start: Start
) -> None:
    """No C{--config} was given: the file is Claude Code's, named by the
    link Claude Code reads and the file it points at."""
    linkedClaudeConfig(home, stateDir)
    servers = {**HEALTH["servers"], "fs": HEALTH["servers"]["context7"]}
    fakeGateway.answers["/health"] = (200, {**HEALTH, "servers": servers})
    code, out, _ = start().outcome
    assert code == 0
    assert "  adopted: ~/.claude.json → ~/dotfiles/claude.json (Claude Code)" in out.splitlines()


def test_a_file_like_the_links_target_is_still_the_config_files(home: Path) -> None:
    """Only the file C{~/.claude.json} links to is Claude Code's: another
    of its name, or a link elsewhere, is the C{--config} file."""
    (home / "dotfiles").mkdir()
    real, other = home / "dotfiles" / "claude.json", home / "claude.json"
    real.write_text("{}")
    other.write_text("{}")
    (home / ".claude.json").symlink_to(real)
    [line] = startLines([{"file": str(other), "client": "claude-code"}], None)
    assert line == "  adopted: ~/claude.json (--config)"
    [line] = startLines([{"file": str(real), "client": "claude-code"}], None)
    assert line == "  adopted: ~/.claude.json → ~/dotfiles/claude.json (Claude Code)"
    assert refusedLine({"file": str(real), "client": "claude-code", "why": "x"}).startswith(
        "~/dotfiles/claude.json (Claude Code) is not adopted: x"
    )
