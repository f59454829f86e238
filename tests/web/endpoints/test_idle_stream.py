"""What an idle session's GET stream holds (memory per idle
session): its replay log makes its event buffer only when it keeps an event.
Structure only, no size figures."""

from __future__ import annotations

import gc
from collections import deque

from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.plumbing.replay import StreamLog
from tests.http import Harness


def endpoint(h: Harness) -> McpEndpoint:
    return h.site.resource._endpoints["srv"]  # type: ignore[no-any-return]


def buffers(log: StreamLog) -> list[deque[object]]:
    return [x for x in gc.get_referents(log) if isinstance(x, deque)]


def test_an_idle_get_stream_keeps_no_event_buffer() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert get.status == 200 and b"id: " in get.body  # resumable: primed, its log kept
    (log,) = endpoint(h).replay.logs.values()
    assert log.sessionId == sid
    assert buffers(log) == [] and list(log.events) == []

    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    assert [e.get("method") for e in get.events()] == ["notifications/tools/list_changed"]
    assert len(buffers(log)) == 1 and [seq for seq, _ in log.events] == [1]
    assert endpoint(h).replay.count()["events"] == 1
