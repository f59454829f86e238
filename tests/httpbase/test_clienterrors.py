"""What clients sent that was refused is logged one warning line a refusal,
at most C{perSecond} lines a second, the next line saying how many were
left out; and every refusal is counted."""

from __future__ import annotations

from typing import cast

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.web.iweb import IRequest

from mcpgateway.httpbase.clienterrors import ClientErrors
from tests.fakes import capturedGatewayLogs


def refused(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in events if str(e["log_format"]).startswith("refused")]


def test_a_refused_request_is_one_warning_line_naming_it() -> None:
    class Request:
        method = b"POST"
        path = b"/srv/mcp"

        def getClientAddress(self) -> IPv4Address:
            return IPv4Address("TCP", "10.0.0.2", 50000)

    errors = ClientErrors(Clock())
    with capturedGatewayLogs() as events:
        errors.note(cast(IRequest, Request()), 400, "Parse error")
    [line] = refused(events)
    assert line["log_level"] == LogLevel.warn and "log_failure" not in line
    said = (line["method"], line["path"], line["peer"], line["status"], line["reason"])
    assert said == ("POST", "/srv/mcp", "10.0.0.2", 400, "Parse error") and line["more"] == ""


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=10))
def test_a_flood_is_a_line_a_refusal_up_to_the_rate_then_one_saying_how_many_more(
    flood: int, perSecond: int
) -> None:
    clock = Clock()
    errors = ClientErrors(clock, perSecond=perSecond)
    with capturedGatewayLogs() as events:
        for _ in range(flood):
            errors.noteConnection("10.0.0.1", 408, "too slow")
        clock.advance(1.0)
        errors.noteConnection(None, 503, "crowded")
    lines = refused(events)
    left = max(0, flood - perSecond)
    assert len(lines) == min(flood, perSecond) + 1
    assert lines[-1]["peer"] == "?" and lines[-1]["more"] == (
        f" ({left} more refusals not logged)" if left else ""
    )
    assert errors.count == flood + 1 and errors.suppressed == 0


def test_a_refusals_line_names_the_principal_it_came_from() -> None:
    """On a team gateway behind a proxy every peer is the proxy: the
    principal's key says who was refused (never a token)."""

    class Request:
        method = b"POST"
        path = b"/srv/mcp"

        def getClientAddress(self) -> IPv4Address:
            return IPv4Address("TCP", "10.0.0.9", 50000)

    errors = ClientErrors(Clock(), principalOf=lambda request: "dvskob54uvjvr2nm")
    with capturedGatewayLogs() as events:
        errors.note(cast(IRequest, Request()), 404, "Session not found")
    [line] = refused(events)
    assert (
        line["principal"] == "dvskob54uvjvr2nm" and line["who"] == " (principal dvskob54uvjvr2nm)"
    )
    anonymous = ClientErrors(Clock(), principalOf=lambda request: "")
    with capturedGatewayLogs() as events:
        anonymous.note(cast(IRequest, Request()), 404, "Session not found")
    [line] = refused(events)
    assert line["who"] == "" and line["principal"] == ""
