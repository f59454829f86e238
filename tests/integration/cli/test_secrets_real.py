"""Secrets by reference in a real gateway (twistd, a fresh state directory).

A secret is kept with C{mcpgateway secret set} (the value on stdin) in the
headless store (the keyring's fail backend: the encrypted file); a stdio
entry names it as C{${keyring:NAME}} in its C{env}. The child gets the
value; the value is nowhere else: not in the gateway's log (though the child
prints it to its stderr), not in plain text in any file of the state
directory, not in C{/health}, C{mcpgateway status --json}, the management
API's view of the server or the audit log. An entry whose secret is missing does not start,
and says which reference is missing.

A cloned repository's C{.mcp.json} (approved in Claude Code, adopted by
C{mcpgateway start}) naming the same secret does not get it: its server does
not start and says how to allow it; once C{mcpgateway secret allow} records
the entry, the next start gets the value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import (
    REPO,
    RunningGateway,
    callEcho,
    errorText,
    freePort,
    twistdCommand,
    waitFor,
    writeConfig,
)
from tests.support.integration.cli_real import Cli
from tests.support.integration.detached import environment, runCli

pytestmark = pytest.mark.integration

SECRET = "ghp_s3cr3tValue0123456789abcdefXYZ"
HEADLESS = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
CLI = (sys.executable, "-m", "mcpgateway.cli")


def cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS --state-dir <home>/state}, headless."""
    return runCli(home, *args, env=environment(home, **HEADLESS), stdin=stdin)


def getJson(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def plainTextIn(folder: Path, value: str) -> list[str]:
    """The files under C{folder} that hold C{value} as it is."""
    needle = value.encode()
    return [
        str(path) for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()
    ]


def test_a_keyring_reference_reaches_the_child_and_nothing_else(home: Path, start: Any) -> None:
    kept = cli(home, "secret", "set", "github", stdin=SECRET + "\n")
    assert kept.returncode == 0, kept.stderr
    assert SECRET not in kept.stdout + kept.stderr
    listed = cli(home, "secret", "list")
    assert listed.stdout.split() == ["github"] and SECRET not in listed.stdout + listed.stderr

    records = home / "records"  # where the confined envdump may write
    records.mkdir()
    envFile = records / "child-env.json"
    script = REPO / "tests" / "fixtures" / "env_server.py"
    config = writeConfig(
        home / "servers.json",
        {
            "envdump": {
                # The child prints its token to stderr (which the gateway logs)
                # before it becomes the demo server.
                "command": "/bin/sh",
                "args": [
                    "-c",
                    'echo "my token is $GITHUB_TOKEN" >&2; exec "$0" "$1" "$2"',
                    sys.executable,
                    str(script),
                    str(envFile),
                ],
                "env": {"GITHUB_TOKEN": "${keyring:github}", "LABEL": "token ${keyring:github}"},
                "prewarm": True,
                "sandbox": {"filesystem": {"allowWrite": [f"{records}/"]}},
            },
            "missing": {
                "command": sys.executable,
                "args": [str(script), str(home / "never.json")],
                "env": {"API_KEY": "${keyring:nowhere}"},
                "prewarm": True,
            },
        },
    )
    audit = home / "audit.jsonl"
    gateway: RunningGateway = start(
        "--config",
        str(config),
        "--audit-log",
        str(audit),
        "--audit-payloads",
        command=twistdCommand(),
        env=HEADLESS,
    )

    def written() -> bool:  # whole: the child may be mid-write
        return envFile.exists() and envFile.read_text().endswith("}")

    assert waitFor(written, timeout=20), gateway.text()[-3000:]
    assert waitFor(lambda: "my token is" in gateway.text(), timeout=10), gateway.text()[-3000:]
    childEnv = json.loads(envFile.read_text())
    assert childEnv["GITHUB_TOKEN"] == SECRET
    assert childEnv["LABEL"] == f"token {SECRET}"
    assert not (home / "never.json").exists()

    assert callEcho(gateway.url("envdump"), "hello") == "hello"
    # A call whose arguments and result hold the value: --audit-payloads keeps neither.
    assert callEcho(gateway.url("envdump"), f"mine is {SECRET}") == f"mine is {SECRET}"
    base = f"http://127.0.0.1:{gateway.port}"
    assert waitFor(
        lambda: "nowhere" in json.dumps(getJson(base + "/health")["servers"]["missing"]),
        timeout=10,
    ), getJson(base + "/health")
    health = getJson(base + "/health")
    shown = [
        json.dumps(health),
        json.dumps(getJson(base + "/api/v1/servers/envdump")),
        json.dumps(getJson(base + "/api/v1/servers/missing")),
        json.dumps(getJson(base + "/api/v1/servers")),
    ]
    status = cli(home, "status", "--json")
    assert status.returncode == 0, status.stderr
    shown.append(status.stdout + status.stderr)
    for text in shown:
        assert SECRET not in text
    assert "${keyring:nowhere}" in json.dumps(health["servers"]["missing"])
    assert "my token is ${keyring:github}" in gateway.text()  # its stderr, redacted

    gateway.stop()
    assert SECRET not in gateway.text()
    assert "envdump" in audit.read_text() and SECRET not in audit.read_text()
    assert "mine is ${keyring:github}" in audit.read_text()
    assert plainTextIn(home / "state", SECRET) == []
    assert plainTextIn(config.parent, SECRET) == [str(envFile)]  # the child's own dump only


@pytest.fixture
def adopter(tmp_path: Path) -> Iterator[Cli]:
    """C{mcpgateway start} on a temporary HOME, headless."""
    runner = Cli(tmp_path)
    runner.env.update(HEADLESS)
    yield runner
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)


def shadowUrl(config: Path, project: Path, name: str) -> str | None:
    entry = json.loads(config.read_text())["projects"][str(project)].get("mcpServers", {})
    found = entry.get(name)
    return str(found["url"]) if isinstance(found, dict) and found.get("type") == "http" else None


def test_a_cloned_repository_gets_the_secret_only_once_allowed(adopter: Cli) -> None:
    home = adopter.home
    kept = subprocess.run(
        [*CLI, "secret", "set", "github", "--state-dir", str(adopter.stateDir)],
        env=adopter.env,
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert kept.returncode == 0, kept.stderr
    clone = home / "clone"
    clone.mkdir()
    envFile = clone / "clone-env.json"  # its workspace: a project's server writes there
    envFile.touch()  # in place: the top of a repository's workspace takes no new file
    script = REPO / "tests" / "fixtures" / "env_server.py"
    entry = {
        "type": "stdio",
        "command": sys.executable,
        "args": [str(script), str(envFile)],
        "env": {"GITHUB_TOKEN": "${keyring:github}"},
    }
    (clone / ".mcp.json").write_text(json.dumps({"mcpServers": {"envdump": entry}}))
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "projects": {
                    str(clone): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
                }
            },
            indent=2,
        )
    )
    os.chmod(config, 0o600)
    port = freePort()

    started = adopter("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert waitFor(lambda: shadowUrl(config, clone, "envdump") is not None, 15)
    url = shadowUrl(config, clone, "envdump")
    assert url is not None
    allowCommand = f"mcpgateway secret allow envdump --workspace {os.path.realpath(clone)}"

    def refused() -> bool:
        try:
            callEcho(url, "hello")
        except Exception as e:
            print("refused:", errorText(e))
        status = adopter("status", "--json")
        return allowCommand in status.stdout

    assert waitFor(refused, 30, 0.5), adopter("status", "--json").stdout
    assert envFile.read_text() == ""  # the child never ran

    allowed = adopter("secret", "allow", "envdump", "--workspace", str(clone), "--yes")
    assert allowed.returncode == 0, allowed.stderr
    assert "${keyring:github}" in allowed.stderr and SECRET not in allowed.stderr

    def answers() -> bool:
        try:
            return callEcho(url, "allowed") == "allowed"
        except Exception as e:  # the backoff after the refusal may still hold
            print("call failed:", errorText(e))
            return False

    assert waitFor(answers, 30, 0.5)
    assert json.loads(envFile.read_text())["GITHUB_TOKEN"] == SECRET
    assert plainTextIn(adopter.stateDir, SECRET) == []

    stopped = adopter("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
