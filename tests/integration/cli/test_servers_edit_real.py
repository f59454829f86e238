"""C{mcpgateway servers edit} against a real gateway that adopted
C{~/.claude.json}: an edit of the adopted entry's env applies at once (its
child restarts with it), and an C{env} a user adds next to the gateway's
URL in C{~/.claude.json} is refused, in C{/health} with the fix."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import callEcho, waitFor
from tests.support.integration.cli_real import Cli, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def childEnv(path: Path) -> dict[str, str] | None:
    """What the child wrote, once it is whole."""
    try:
        text = path.read_text()
        env: dict[str, str] | None = json.loads(text) if text.endswith("}") else None
        return env
    except (OSError, ValueError):
        return None


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_an_edit_of_an_adopted_entry_restarts_its_child_with_it(cli: Cli) -> None:
    records = cli.home / "records"  # where the confined envdump may write
    records.mkdir()
    envFile = records / "env.json"
    claude = cli.home / ".claude.json"
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "envdump": {
                        "type": "stdio",
                        "command": sys.executable,
                        "args": [str(REPO / "tests" / "fixtures" / "env_server.py"), str(envFile)],
                        "env": {"FIRST": "1"},
                        "sandbox": {"filesystem": {"allowWrite": [f"{records}/"]}},
                    }
                }
            }
        )
    )
    port = freePort()
    started = cli("start", "--port", str(port), "--clients", "none", timeout=120)
    assert started.returncode == 0, started.stderr + started.stdout
    url = json.loads(claude.read_text())["mcpServers"]["envdump"]["url"]
    assert callEcho(url, "before") == "before"
    first = childEnv(envFile)
    assert first is not None and first["FIRST"] == "1" and "EDITED" not in first
    envFile.unlink()

    edited = cli("servers", "edit", "envdump", "--set", 'env.EDITED="yes"', timeout=120)
    assert edited.returncode == 0, edited.stderr + edited.stdout
    assert "env.EDITED: (unset) -> ***" in edited.stdout
    assert "applied" in edited.stdout and "yes" not in edited.stdout

    def restarted() -> bool:
        callEcho(url, "after")  # starts the new child, if the reload did not
        now = childEnv(envFile)
        return now is not None and now.get("EDITED") == "yes" and now.get("FIRST") == "1"

    assert waitFor(restarted, timeout=60, interval=0.5)

    # An env added next to the gateway's URL has no effect: refused, with the fix.
    data = json.loads(claude.read_text())
    data["mcpServers"]["envdump"]["env"] = {"IGNORED": "1"}
    claude.write_text(json.dumps(data))

    def refused() -> list[dict[str, Any]]:
        listed = health(port).get("config", {}).get("ignoredKeys", [])
        return listed if isinstance(listed, list) else []

    assert waitFor(lambda: bool(refused()), timeout=60, interval=0.5), health(port)
    [problem] = refused()
    assert (problem["server"], problem["file"], problem["keys"]) == (
        "envdump",
        str(claude),
        ["env"],
    )
    assert "mcpgateway servers edit envdump --set env=JSON" in problem["fix"]
    stopped = cli("stop", timeout=120)
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
