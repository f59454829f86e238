"""What a kept child says while a restart hands it over reaches its
client: a subscriber of a resource that changes four times a second,
whose GET stream the old process ends (its client opens it again, at the
successor, as the SDKs do), gets every change, numbered, across
C{mcpgateway restart}; none is lost in the seconds the old process still
holds the child."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.gateway import REPO, waitFor
from tests.integration.restartkit import VERSION, cli, cliGateway, health, restartedFrom, state
from tests.support import mcpclient

TICKER = [sys.executable, str(REPO / "tests" / "fixtures" / "ticker_server.py")]
URI = "ticker://now"


class ReconnectingListener:
    """A session's GET stream, opened again half a second after it ends,
    as an SDK client does, until L{stop}: the ticks of every update read."""

    def __init__(self, session: mcpclient.Session) -> None:
        self.session = session
        self.ticks: list[int] = []
        self.opened = 0
        self._stopped = threading.Event()
        self._current: mcpclient.Stream | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                headers = {"accept": "text/event-stream", **self.session.sessionHeaders()}
                stream = self._current = mcpclient.stream(
                    self.session.url, "GET", None, headers, 60
                )
                if stream.status == 200:
                    self.opened += 1
                    while (event := stream.next()) is not None:
                        self._read(event)
            except (OSError, ValueError, AttributeError):
                pass  # the old process closed it (or the test did): open it again
            self._stopped.wait(0.5)

    def _read(self, event: mcpclient.SseEvent) -> None:
        if not (event.data and event.data.strip()):
            return
        message: Any = event.json()
        if message.get("method") == "notifications/resources/updated":
            self.ticks.append(message["params"]["_meta"]["tick"])

    def stop(self) -> None:
        self._stopped.set()
        if self._current is not None:
            self._current.close()
        self._thread.join(10)


def test_a_subscriber_misses_no_update_of_a_kept_child_across_a_restart(home: Path) -> None:
    config = home / "servers.json"
    ticker = {"command": TICKER[0], "args": TICKER[1:], "sandbox": False}
    config.write_text(json.dumps({"mcpServers": {"ticker": ticker}}))
    with cliGateway(home, "--config", str(config)) as port:
        session = mcpclient.Session(f"http://127.0.0.1:{port}/ticker/mcp", VERSION)
        session.open()
        listener = ReconnectingListener(session)
        try:
            assert waitFor(lambda: listener.opened == 1, timeout=30)
            session.result("resources/subscribe", {"uri": URI})
            assert waitFor(lambda: len(listener.ticks) >= 4, timeout=30), listener.ticks
            old = state(home)["pid"]
            restartedFrom(home, cli(home, "restart"), old)
            assert waitFor(lambda: health(port)["restart"]["kept"] == 1, timeout=60)
            handed = max(listener.ticks)
            # Well after the hand-over: the successor's own updates come too.
            assert waitFor(lambda: max(listener.ticks) > handed + 8, timeout=60)
            time.sleep(1.0)  # what is under way on the stream arrives
        finally:
            listener.stop()
        ticks = listener.ticks
        assert listener.opened >= 2  # its stream moved to the successor
        assert sorted(ticks) == list(range(1, max(ticks) + 1)), ticks
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert "missed while the predecessor handed over sent on" in log
