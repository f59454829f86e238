"""L{PidWatch}: every pid of a server's children that C{/health} showed
while a test ran, polled in a thread, and the most at once."""

from __future__ import annotations

import threading

from tests.integration.gateway import RunningGateway


class PidWatch:
    """Every pid of the server's children that C{/health} showed while it
    ran, polled in a thread, and the most at once."""

    def __init__(self, gateway: RunningGateway, server: str) -> None:
        self.gateway = gateway
        self.server = server
        self.seen: set[int] = set()
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = self.gateway.health()["servers"][self.server]["pids"]
            self.seen.update(pids)
            self.most = max(self.most, len(pids))
            self._stop.wait(0.02)

    def __enter__(self) -> PidWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
