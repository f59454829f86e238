"""What tests/cli/test_start.py shares with the other tests: FakeLauncher,
noLaunch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcpgateway.runtime.paths import LOG_FILE
from tests.cli.support import FakeGateway, writeState


def noLaunch(argv: list[str], **kwargs: Any) -> Any:
    raise AssertionError(f"must not launch {argv}")


class FakeLauncher:
    """Plays twistd: exits with C{code}, and on success 'starts' the fake
    gateway by writing its state.json (pid: this process, lock held)."""

    def __init__(
        self,
        stateDir: Path,
        gateway: FakeGateway | None,
        code: int = 0,
        output: bytes = b"",
        log: str = "",
    ) -> None:
        self.stateDir, self.gateway, self.code, self.output = stateDir, gateway, code, output
        self.log = log
        """What this run appends to gateway.log."""
        self.argv: list[str] = []
        self.returncode: int | None = None

    def __call__(self, argv: list[str], **kwargs: Any) -> FakeLauncher:
        self.argv = argv
        return self

    def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
        self.returncode = self.code
        if self.log:
            with open(self.stateDir / LOG_FILE, "a") as f:
                f.write(self.log)
        if self.code == 0 and self.gateway is not None:
            writeState(self.stateDir, os.getpid(), self.gateway.port)
        return self.output, None

    def wait(self, timeout: float | None = None) -> int:
        return self.code

    def kill(self) -> None:
        pass

    def send_signal(self, sig: int) -> None:
        pass
