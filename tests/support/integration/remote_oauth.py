"""What tests/integration/remote/test_remote_oauth.py shares with the other tests:
cli, login, textOf."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture


def textOf(result: Any) -> str:
    return "".join(getattr(item, "text", "") for item in result.content)


def cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(home / "state"), *args]


def login(home: Path, server: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """C{mcpgateway login SERVER --no-browser}, its printed URL followed as a
    browser would (the authorization server approves at once)."""
    process = subprocess.Popen(
        cli(home, "login", server, "--no-browser", "--timeout", "30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    seen: list[str] = []

    def follow() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            found = re.search(r"(https?://\S+/authorize\?\S+)", line)
            if found:
                try:
                    with urllib.request.urlopen(found.group(1), timeout=10) as page:
                        page.read()
                except OSError as e:
                    seen.append(f"following the URL failed: {e}\n")

    # The thread alone reads stderr (communicate() would race it for the URL's line).
    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait(timeout)
    reader.join(5)
    return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(seen))
