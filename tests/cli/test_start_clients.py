"""What C{start} says of the clients it adopts when there is no
C{~/.claude.json} yet: the gateway serves the bundled demo and awaits the
file, with C{--clients none} as without it (that option leaves out the
other clients, never Claude Code); the note says what is awaited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.cli.startclients import demoNote
from tests.support.cli.started import Start


@pytest.fixture(autouse=True)
def _noClaudeConfigDir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)


def test_start_of_claude_code_alone_without_its_config_serves_the_demo_and_awaits_it(
    home: Path, start: Start
) -> None:
    started = start("--clients", "none")
    code, _, err = started.outcome
    assert code == 0
    claude = home / ".claude.json"
    assert err.splitlines()[0] == (
        f"mcpgateway: no {claude}: serving the bundled demo server; {claude}, once Claude"
        " Code writes it, is adopted within seconds"
    )
    gateway = started.gateway
    assert "--rewrite-config" in gateway and "--config" not in gateway
    assert gateway[gateway.index("--clients") + 1] == "none"


def test_the_note_names_what_is_awaited_and_what_is_adopted(home: Path) -> None:
    claude = home / ".claude.json"
    head = f"mcpgateway: no {claude}: serving the bundled demo server"
    assert demoNote(claude, "all") == (
        f"{head}; a client's config written later is adopted within seconds"
    )
    assert demoNote(claude, "none") == (
        f"{head}; {claude}, once Claude Code writes it, is adopted within seconds"
    )
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_text(json.dumps({"mcpServers": {}}))
    assert demoNote(claude, "cursor,vscode") == f"{head}, and what it adopts of Cursor"
    assert demoNote(claude, "none").endswith(
        "once Claude Code writes it, is adopted within seconds"
    )
