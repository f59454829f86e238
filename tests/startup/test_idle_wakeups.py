"""An idle gateway's service tree wakes rarely: started on a fake clock with
no server configured and no client, after its first two minutes (start-up
passes, the first samples), it schedules nothing sooner than
L{IDLE_FLOOR} seconds ahead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import tap
from tests.fakes import FakeProcessReactor

IDLE_FLOOR = 5.0
"""The console's plot step (L{mcpgateway.ops.timeseries.STEP}) and the
C{.env} files' look (C{--env-poll}'s default): the finest figures an idle
gateway keeps up to date. Everything else idle runs every 10 s or slower
(the savings sampler, the monitor, the reaper, the tasks' expiry); the
session saver and the HTTP log date run no timer at all."""


def idleSchedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """The C{(delay, what)} of every call scheduled in five idle minutes."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    options = tap.Options()
    options.parseOptions(
        ["--port", "9311", "--config", str(config), "--state-dir", str(tmp_path / "st")]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    [(_, site, _, _)] = reactor.tcpServers
    site.doStart()  # what listening does
    try:
        reactor.pump([0.1] * 1200)
        scheduled: list[tuple[float, str]] = []
        callLater = reactor.callLater

        def recording(delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
            what = getattr(getattr(f, "__self__", None), "_f", f)
            scheduled.append((delay, getattr(what, "__qualname__", repr(what))))
            return callLater(delay, f, *args, **kwargs)

        monkeypatch.setattr(reactor, "callLater", recording)
        reactor.pump([0.1] * 3000)
        return scheduled
    finally:
        site.doStop()
        top.stopService()


def test_an_idle_gateway_schedules_nothing_sooner_than_the_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled = idleSchedule(tmp_path, monkeypatch)
    assert scheduled, "nothing at all: the recording missed the timers"
    sooner = sorted({(delay, what) for delay, what in scheduled if delay < IDLE_FLOOR})
    assert not sooner
    assert len(scheduled) <= 300 / IDLE_FLOOR * 2 + 300 / 10 * 2 + 20
