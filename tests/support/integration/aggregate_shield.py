"""What tests/integration/aggregate/test_aggregate_shield.py shares with the other tests:
VERSION, post."""

from __future__ import annotations

from typing import Any

from tests.support import mcpclient

VERSION = "2025-11-25"


def post(url: str, message: dict[str, Any], session: str | None = None) -> tuple[Any, str | None]:
    """One raw POST (no SDK: a result left whole may be larger than the
    Python SDK takes in one SSE event): its answer and the session id."""
    reply = mcpclient.Session(url, VERSION, timeout=60, id=session).post(message)
    assert reply.status in (200, 202), (reply.status, reply.text[:300])
    return reply.answer, reply.session
