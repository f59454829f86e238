"""A gateway and one 2026-07-28 Tasks client of it for the length of a
C{with} block: what the Tasks integration tests that drive one gateway
each share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.integration.gateway import RunningGateway
from tests.support.integration.tasks import Client2026


@contextmanager
def clientOf(gateway: RunningGateway, server: str | None) -> Iterator[Client2026]:
    """A raw 2026-07-28 client of C{gateway}'s route to C{server} (of its
    one endpoint, C{/mcp}, when C{server} is None); C{gateway} stops when
    the block ends, however it ends, so a failing test leaves no gateway
    behind."""
    try:
        url = gateway.url(server) if server else f"http://127.0.0.1:{gateway.port}/mcp"
        yield Client2026(url)
    finally:
        gateway.stop()
