"""C{start}, C{status} and C{doctor} against a real gateway name what it
cannot use, with the file and why: a Cursor file with comments (not
adopted, and not said to be), and a Claude config entry with neither a
command nor a url (not served); the Windsurf file it did adopt is named
as adopted."""

from __future__ import annotations

import json
import sys

import pytest

from tests.support.integration.cli_real import Cli, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
CURSOR_WITH_COMMENTS = '{\n  // mine\n  "mcpServers": {"fs": {"command": "fs-server"}}\n}\n'
REFUSED = "  ! ~/.cursor/mcp.json (Cursor) is not adopted: it is not valid JSON:"
INVALID = (
    "  ! server 'bad' of ~/.claude.json (user scope) is not served: it has neither"
    " 'command' (a stdio server) nor 'url' (a remote one)"
)


def test_start_status_and_doctor_name_what_the_gateway_cannot_use(cli: Cli) -> None:
    (cli.home / ".claude.json").write_text(
        json.dumps({"mcpServers": {"demo": DEMO, "bad": {"args": ["x"]}}})
    )
    cursor = cli.home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(CURSOR_WITH_COMMENTS)
    windsurf = cli.home / ".codeium" / "windsurf" / "mcp_config.json"
    windsurf.parent.mkdir(parents=True)
    windsurf.write_text(json.dumps({"mcpServers": {"notes": DEMO}}))
    try:
        started = cli("start", "--port", str(freePort()))
        assert started.returncode == 0, started.stderr + started.stdout
        lines = started.stdout.splitlines()
        assert (
            "  adopted: ~/.claude.json (Claude Code), ~/.codeium/windsurf/mcp_config.json"
            " (Windsurf)"
        ) in lines, started.stdout
        assert [line for line in lines if line.startswith(REFUSED)], started.stdout
        assert INVALID in lines, started.stdout
        assert cursor.read_text() == CURSOR_WITH_COMMENTS  # refused: never written

        status = cli("status")
        assert status.returncode == 0, status.stderr
        assert INVALID in status.stdout.splitlines(), status.stdout
        assert [line for line in status.stdout.splitlines() if line.startswith(REFUSED)]

        doctor = cli("doctor", "--json")
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["configEntries"]["status"] == "fail"
        assert "server 'bad' of ~/.claude.json" in checks["configEntries"]["message"]
        assert any("~/.cursor/mcp.json" in d for d in checks["configEntries"]["details"])
    finally:
        assert cli("stop").returncode == 0
    assert cli.gatewayPids() == []
