"""After a stop, a client saves back the copy of its file
it read while the gateway served it; its entries point at the stopped
gateway. C{doctor} fails on it (with the fix), C{clients} marks the entries,
and C{restore} puts their originals back from the kept backups, byte for
byte, as the next C{start} would."""

from __future__ import annotations

import json
from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.restoring import restoreAll
from tests.cli.support import Cli, FakeGateway, check
from tests.support.cli.clients import adopt, cursorFile


def staleCopy(home: Path, stateDir: Path, base: str | None = None) -> tuple[Path, bytes]:
    """Cursor adopted (by a gateway at C{base}, default the one of
    L{adopt}), the gateway stopped (the file restored), then Cursor saves
    the adopted copy it had read: the file and its original bytes."""
    path = cursorFile(home)
    before = path.read_bytes()
    if base is None:
        adopt(home, stateDir)
    else:
        AdoptionEngine(stateDir, [Cursor()], Host(home), bridgeArgv=["/bin/gw"]).adopt(
            lambda name, workspace: f"{base}/{name}/mcp"
        )
    adopted = path.read_bytes()
    restoreAll(stateDir)  # the stop
    assert path.read_bytes() == before
    path.write_bytes(adopted)
    return path, before


def test_doctor_fails_on_entries_a_client_wrote_back_after_a_stop(
    stateDir: Path, home: Path
) -> None:
    path, _ = staleCopy(home, stateDir)

    result = check(stateDir, "clientBackups")

    assert result.status == "fail" and "not running" in result.message
    assert result.details == (f"{path} (cursor): fs at http://127.0.0.1:9100",)
    assert result.fix is not None and "`mcpgateway restore`" in result.fix


def test_doctor_fails_on_entries_at_another_address_than_the_running_gateway(
    stateDir: Path, home: Path, running: FakeGateway, ctx: CliContext
) -> None:
    staleCopy(home, stateDir)  # at :9100; the gateway runs on another port
    assert not ctx.probe(stateDir).baseUrl().endswith(":9100")

    result = check(stateDir, "clientBackups", ctx)

    assert result.status == "fail"
    assert result.details == (f"{home}/.cursor/mcp.json (cursor): fs at http://127.0.0.1:9100",)


def test_clients_marks_the_entries_pointing_at_a_stopped_gateway(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    path, _ = staleCopy(home, stateDir)

    code, out, _ = cli("clients", "--json")
    [cursor] = [c for c in json.loads(out)["clients"] if c["id"] == "cursor"]
    assert code == 0
    assert cursor["files"][0]["stale"] == [{"name": "fs", "url": "http://127.0.0.1:9100/fs/mcp"}]
    code, out, _ = cli("clients")
    assert f"{path}: 0 adopted, 1 skipped, 1 other, 1 pointing at a stopped gateway" in out
    assert "✗ fs: points at http://127.0.0.1:9100/fs/mcp, where no gateway runs" in out


def test_restore_puts_the_originals_back_from_the_kept_backup(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    path, before = staleCopy(home, stateDir)

    code, out, err = cli("restore")

    assert (code, err) == (0, "")
    assert path.read_bytes() == before
    assert f"{path} (cursor): restored: fs" in out
    assert "pointed at a stopped gateway (http://127.0.0.1:9100/fs/mcp)" in out
    assert check(stateDir, "clientBackups").status == "info"
    code, out, _ = cli("restore")  # nothing left to do
    assert code == 0 and "cursor" not in out
