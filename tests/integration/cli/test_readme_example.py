"""The README's Python SDK example runs as printed, against the README's
command, with the SDK version the tests install: a newcomer who pastes it
sees the demo server's answer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, twistdCommand

pytestmark = pytest.mark.integration


def readmeExample() -> str:
    """The one Python block of the README's "Connect a client" section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Connect a client", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, blocks
    return str(blocks[0])


def test_the_readmes_sdk_example_prints_the_echo(start: Any, home: Path) -> None:
    gateway: RunningGateway = start(command=twistdCommand())
    code = readmeExample()
    assert "http://127.0.0.1:9100/demo/mcp" in code
    code = code.replace("127.0.0.1:9100", f"127.0.0.1:{gateway.port}")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "hello\n"
