"""What tests/cli/test_stop.py shares with the other tests: standIn."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mcpgateway.ops.statedir import LOCK_FILE

GATEWAY_STANDIN = """
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def standIn(stateDir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that holds the lock and exits on SIGTERM, as the gateway."""
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_STANDIN, str(stateDir / LOCK_FILE)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
