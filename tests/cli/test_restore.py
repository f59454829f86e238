"""C{mcpgateway restore}: putting the backed-up entries back, refused while
the gateway runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError
from tests.cli.support import FakeGateway, run

# -- restore ----------------------------------------------------------------------------


def test_restore_refuses_while_the_gateway_runs(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    fakeClaude: list[tuple[Path, Path]],
    ctx: CliContext,
) -> None:
    code, _, err = run(capsys, stateDir, "restore", ctx=ctx)
    assert code == 1
    assert "`mcpgateway stop`" in err
    assert fakeClaude == []


def test_restore(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    home: Path,
    fakeClaude: list[tuple[Path, Path]],
    ctx: CliContext,
) -> None:
    code, out, _ = run(capsys, stateDir, "restore", "--json", ctx=ctx)
    assert code == 0
    assert fakeClaude == [(home / ".claude.json", stateDir)]
    assert json.loads(out) == {
        "ok": True,
        "config": str(home / ".claude.json"),
        "restored": ["search", "thinking"],
        "kept": ["remote"],
        "notes": ["search: restored from the backup"],
        "clients": {"files": [], "warnings": []},  # no other client's backup
    }


def test_restore_a_named_config(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    tmp_path: Path,
    fakeClaude: list[tuple[Path, Path]],
    ctx: CliContext,
) -> None:
    code, out, _ = run(capsys, stateDir, "restore", "--config", str(tmp_path / "x.json"), ctx=ctx)
    assert code == 0
    assert fakeClaude == [(tmp_path / "x.json", stateDir)]
    assert out.splitlines()[0] == f"restored 2 servers in {tmp_path / 'x.json'}: search, thinking"


def test_restore_without_the_clients_module_is_one_line(
    capsys: pytest.CaptureFixture[str], stateDir: Path, ctx: CliContext
) -> None:
    def missing() -> Any:
        raise CliError("cannot restore: No module named 'mcpgateway.clientconfigs'")

    ctx.claudeConfigClass = missing
    code, out, err = run(capsys, stateDir, "restore", ctx=ctx)
    assert (code, out) == (1, "")
    assert err == "mcpgateway: cannot restore: No module named 'mcpgateway.clientconfigs'\n"
