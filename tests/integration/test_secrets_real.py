"""Secrets by reference in a real gateway (twistd, a fresh state directory).

A secret is kept with C{mcpgateway secret set} (the value on stdin) in the
headless store (the keyring's fail backend: the encrypted file); a stdio
entry names it as C{${keyring:NAME}} in its C{env}. The child gets the
value; the value is nowhere else: not in the gateway's log (though the child
prints it to its stderr), not in plain text in any file of the state
directory, not in C{/health}, C{mcpgateway status --json}, the management
API's view of the server or the audit log. An entry whose secret is missing does not start,
and says which reference is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import (
    REPO,
    RunningGateway,
    callEcho,
    twistdCommand,
    waitFor,
    writeConfig,
)

pytestmark = pytest.mark.integration

SECRET = "ghp_s3cr3tValue0123456789abcdefXYZ"
HEADLESS = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS --state-dir <home>/state}, headless."""
    env = {
        **os.environ,
        **HEADLESS,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MCPGATEWAY_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args, "--state-dir", str(home / "state")],
        env=env,
        cwd=home,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


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

    envFile = home / "child-env.json"
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

    assert waitFor(envFile.exists, timeout=20), gateway.text()[-3000:]
    assert waitFor(lambda: "my token is" in gateway.text(), timeout=10), gateway.text()[-3000:]
    childEnv = json.loads(envFile.read_text())
    assert childEnv["GITHUB_TOKEN"] == SECRET
    assert childEnv["LABEL"] == f"token {SECRET}"
    assert not (home / "never.json").exists()

    assert callEcho(gateway.url("envdump"), "hello") == "hello"
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
    assert plainTextIn(home / "state", SECRET) == []
    assert plainTextIn(config.parent, SECRET) == [str(envFile)]  # the child's own dump only
