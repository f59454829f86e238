"""What tests/integration/remote/test_remote_backends.py shares with the other tests:
RemoteEverything."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.integration.gateway import freePort, listening, waitFor


class RemoteEverything:
    """server-everything serving one HTTP transport on a loopback port."""

    def __init__(self, everything: list[str], transport: str, home: Path) -> None:
        self.argv = [everything[0], everything[1], transport]
        self.port = freePort()
        self.log = home / f"everything-{transport}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env={**os.environ, "PORT": str(self.port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert waitFor(lambda: listening(self.port), timeout=20), self.log.read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        assert waitFor(lambda: not listening(self.port), timeout=10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"
