"""A repository's client file that is a symlink out of it, end to end:
C{mcpgateway start} (the real CLI, detached, on a temporary HOME) with a
project in C{~/.claude.json} whose C{.cursor/mcp.json} links to a file of
the user's and whose C{.vscode/mcp.json} is its own: the VS Code file is
adopted, the linked file is never written (byte for byte, inode and mtime),
the log says why once, C{/health} lists it among the files not adopted,
and C{mcpgateway stop} leaves it as it was."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from tests.integration.gateway import waitFor
from tests.support.integration.cli_real import Cli, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture
from tests.support.mcpclient import request

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
WHY = "(cursor) was not adopted: it is a symlink"


def test_a_project_file_linking_out_of_its_project_is_never_written(cli: Cli) -> None:
    home, port = cli.home, freePort()
    victim = home / "docs" / "victim.json"
    victim.parent.mkdir()
    victim.write_text(json.dumps({"mcpServers": {"userfs": DEMO}}) + "\n")
    project = home / "proj"
    (project / ".cursor").mkdir(parents=True)
    link = project / ".cursor" / "mcp.json"
    link.symlink_to(victim)
    own = project / ".vscode" / "mcp.json"
    own.parent.mkdir()
    own.write_text(json.dumps({"servers": {"demo": {"type": "stdio", **DEMO}}}, indent=2))
    config = home / ".claude.json"
    trusted = {"allowedTools": [], "hasTrustDialogAccepted": True}
    config.write_text(json.dumps({"projects": {str(project): trusted}}, indent=2))
    os.chmod(config, 0o600)
    before, stat = victim.read_bytes(), victim.stat()

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        assert waitFor(lambda: f":{port}/demo~" in own.read_text(), 20), own.read_text()
        log = cli.stateDir / "gateway.log"
        assert waitFor(lambda: WHY in log.read_text(), 10), log.read_text()
        health = request(f"http://127.0.0.1:{port}/health", "GET", timeout=10).json()
        refused = health["config"]["refusedFiles"]
        assert {"file": str(link), "client": "cursor"}.items() <= refused[0].items(), refused
        # a change of the linked file (watched through the link) brings a sync: still not written
        victim.write_text(before.decode())
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        own.write_text(own.read_text() + "\n")
        time.sleep(3)
        assert victim.read_bytes() == before and link.is_symlink()
        assert log.read_text().count(WHY) == 1
    finally:
        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    assert victim.read_bytes() == before
    assert victim.stat().st_ino == stat.st_ino and victim.stat().st_mtime_ns == stat.st_mtime_ns
    assert link.is_symlink() and os.readlink(link) == str(victim)
