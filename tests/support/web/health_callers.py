"""healthOfEachCaller: a team gateway's /health as each kind of caller sees
it, for the tests of what a health page shows to whom."""

from __future__ import annotations

from collections.abc import Iterator

from tests.http import Response
from tests.support.web.team_web import PRINCIPALS, TeamHarness


def healthOfEachCaller(h: TeamHarness) -> Iterator[tuple[str | None, Response]]:
    """GET /health with no token, as alice, with a refused token and with a
    token whose check completes late; each caller and the answer it got."""
    for who in (None, "alice", "nobody", "slow"):
        response = h.request("GET", "/health") if who is None else h.as_(who, "GET", "/health")
        if who == "slow":
            h.gate.pending.pop().callback(PRINCIPALS["bob"])
        yield who, response
