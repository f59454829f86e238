"""What a cloned repository's child gets of the user's environment, with a
real gateway (C{mcpgateway start} on a temporary HOME) that adopts the
repository's own C{.mcp.json} (approved in Claude Code):

 - its workspace C{.env} is a symbolic link to C{~/.aws/credentials}, and
   its entry lists the INI's names: the file is not read (the log says it
   is a link), the child gets the entry's placeholders;
 - the user's secrets, in the gateway's C{<state-dir>/.env} and exported
   where the gateway started, are not in its child's environment; the log
   names them (never a value);
 - its C{${ANTHROPIC_API_KEY}} is refused as C{${env:ANTHROPIC_API_KEY}}
   is, saying how to allow it; once C{mcpgateway secret allow} records the
   entry, the child gets that one value and still none of the others.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, callEcho, errorText, freePort, waitFor
from tests.support.integration.cli_real import Cli

pytestmark = pytest.mark.integration

AWS_KEY = "ALICE-AWS-SECRET-KEY-0123456789"
STATE_TOKEN = "ghp_USER_SECRET_FROM_STATE_DOTENV"
SHELL_KEY = "sk-ant-SHELL-EXPORTED-0123456789"
SHELL_AWS = "SHELL-EXPORTED-AWS-SECRET-0123456789"
SECRETS = (AWS_KEY, STATE_TOKEN, SHELL_KEY, SHELL_AWS)
DUMPER = REPO / "tests" / "fixtures" / "env_server.py"


@pytest.fixture
def adopter(tmp_path: Path) -> Iterator[Cli]:
    """C{mcpgateway start} on a temporary HOME, with the user's secrets
    exported in its environment."""
    runner = Cli(tmp_path)
    runner.env.update(
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        ANTHROPIC_API_KEY=SHELL_KEY,
        AWS_SECRET_ACCESS_KEY=SHELL_AWS,
    )
    yield runner
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)


def shadowUrl(config: Path, project: Path, name: str) -> str | None:
    entry = json.loads(config.read_text())["projects"][str(project)].get("mcpServers", {})
    found = entry.get(name)
    return str(found["url"]) if isinstance(found, dict) and found.get("type") == "http" else None


def dumper(out: Path, env: dict[str, str]) -> dict[str, object]:
    return {"type": "stdio", "command": sys.executable, "args": [str(DUMPER), str(out)], "env": env}


def echoes(url: str) -> bool:
    try:
        return callEcho(url, "hi") == "hi"
    except Exception as e:  # the reload that serves it, or a backoff, may be pending
        print("call failed:", errorText(e))
        return False


def test_a_repository_gets_none_of_the_users_secrets(adopter: Cli) -> None:
    home = adopter.home
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIAALICE\naws_secret_access_key = {AWS_KEY}\n"
    )
    adopter.stateDir.mkdir(mode=0o700)
    (adopter.stateDir / ".env").write_text(f"GITHUB_TOKEN={STATE_TOKEN}\n")
    clone = home / "clone"
    clone.mkdir()
    (clone / ".env").symlink_to(home / ".aws" / "credentials")
    dumped, asked = clone / "dump.json", clone / "ask.json"
    for written in (dumped, asked):  # in place: the top of its workspace takes no new file
        written.touch()
    servers = {
        "dump": dumper(dumped, {"aws_secret_access_key": "placeholder", "MODE": "fast"}),
        "ask": dumper(asked, {"T": "${ANTHROPIC_API_KEY}"}),
    }
    (clone / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "projects": {
                    str(clone): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
                }
            }
        )
    )
    os.chmod(config, 0o600)

    started = adopter("start", "--port", str(freePort()))
    assert started.returncode == 0, started.stderr + started.stdout
    assert waitFor(lambda: shadowUrl(config, clone, "ask") is not None, 15)
    dumpUrl, askUrl = shadowUrl(config, clone, "dump"), shadowUrl(config, clone, "ask")
    assert dumpUrl is not None and askUrl is not None

    assert waitFor(lambda: echoes(dumpUrl), 30, 0.5)
    env = json.loads(dumped.read_text())
    assert env["aws_secret_access_key"] == "placeholder" and env["MODE"] == "fast"
    assert "PATH" in env
    for name in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "aws_access_key_id"):
        assert name not in env, name
    assert not any(secret in dumped.read_text() for secret in SECRETS)

    allowCommand = f"mcpgateway secret allow ask --workspace {os.path.realpath(clone)}"

    def refused() -> bool:
        echoes(askUrl)
        status = adopter("status", "--json").stdout
        return allowCommand in status and "${env:ANTHROPIC_API_KEY}" in status

    assert waitFor(refused, 30, 0.5), adopter("status", "--json").stdout
    assert asked.read_text() == ""  # the child never ran

    allowed = adopter("secret", "allow", "ask", "--workspace", str(clone), "--yes")
    assert allowed.returncode == 0, allowed.stderr
    assert "${env:ANTHROPIC_API_KEY}" in allowed.stderr and SHELL_KEY not in allowed.stderr
    assert waitFor(lambda: echoes(askUrl), 30, 0.5)
    env = json.loads(asked.read_text())
    assert env["T"] == SHELL_KEY  # the one value allowed, through its reference
    assert "ANTHROPIC_API_KEY" not in env and "GITHUB_TOKEN" not in env
    assert STATE_TOKEN not in asked.read_text() and SHELL_AWS not in asked.read_text()

    stopped = adopter("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    log = (adopter.stateDir / "gateway.log").read_text()
    assert f"{clone}/.env: a symbolic link to" in log
    assert "not given: " in log and "ANTHROPIC_API_KEY" in log and "GITHUB_TOKEN" in log
    for secret in SECRETS:
        assert secret not in log
