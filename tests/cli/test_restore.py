"""C{mcpgateway restore}: putting the backed-up entries back, refused while
the gateway runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError
from tests.cli.support import Cli, FakeGateway

# -- restore ----------------------------------------------------------------------------


def test_restore_refuses_while_the_gateway_runs(
    running: FakeGateway,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    code, _, err = cli("restore")
    assert code == 1
    assert "`mcpgateway stop`" in err
    assert fakeClaude == []


def test_restore(
    stateDir: Path,
    home: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    code, out, _ = cli("restore", "--json")
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
    stateDir: Path,
    tmp_path: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    code, out, _ = cli("restore", "--config", str(tmp_path / "x.json"))
    assert code == 0
    assert fakeClaude == [(tmp_path / "x.json", stateDir)]
    assert out.splitlines()[0] == f"restored 2 servers in {tmp_path / 'x.json'}: search, thinking"


def test_restore_without_the_clients_module_is_one_line(ctx: CliContext, cli: Cli) -> None:
    def missing() -> Any:
        raise CliError("cannot restore: No module named 'mcpgateway.clientconfigs'")

    ctx.claudeConfigClass = missing
    code, out, err = cli("restore")
    assert (code, out) == (1, "")
    assert err == "mcpgateway: cannot restore: No module named 'mcpgateway.clientconfigs'\n"
