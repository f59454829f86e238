"""An upstream server's own HTTP 429 (a remote MCP server, an OpenAPI
service) becomes the gateway's rate-limit error, with the upstream's
C{Retry-After} (L{mcpgateway.remote.ratelimited})."""

from __future__ import annotations

from email.utils import formatdate
from pathlib import Path

from mcpgateway.protocol.jsonrpc import RATE_LIMITED
from mcpgateway.remote.ratelimited import upstreamRateLimited
from tests.remote.fakehttp import FakeResponse
from tests.support.remote.openapi import child
from tests.support.remote.streamable import NAME
from tests.support.remote.streamable import Harness as StreamableHarness
from tests.support.remote.streamable import call as streamable_call


def test_a_remote_servers_429_is_the_rate_limit_error_with_its_wait() -> None:
    h = StreamableHarness()
    h.initialize()
    h.request(streamable_call(1)).answer(
        FakeResponse(429, b"slow down", headers={b"retry-after": b"12"})
    )
    [error] = h.received()
    assert error["id"] == 1
    assert error["error"]["code"] == RATE_LIMITED == -32023
    assert error["error"]["data"] == {
        "retryAfterMs": 12000,
        "limit": f"upstream.{NAME}",
        "scope": "upstream",
    }
    assert "retry in 12 s" in error["error"]["message"]


def test_an_openapi_services_429_is_the_rate_limit_error_too(tmp_path: Path) -> None:
    rest, agent, clock, got = child(tmp_path)
    clock.advance(1000.0)
    params = {"name": "getPet", "arguments": {"petId": 9}}
    rest.send({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": params})
    when = formatdate(1030.0, usegmt=True).encode()
    agent.one(b"GET").answer(FakeResponse(429, b"{}", headers={b"retry-after": when}))
    clock.advance(0)
    [error] = got
    assert error["error"]["code"] == -32023
    assert error["error"]["data"] == {
        "retryAfterMs": 30000,
        "limit": "upstream.pets",
        "scope": "upstream",
    }


def test_without_retry_after_the_wait_is_one_second() -> None:
    error = upstreamRateLimited(3, "w", None, 0.0)
    assert error["error"]["data"]["retryAfterMs"] == 1000
    assert upstreamRateLimited(3, "w", "nonsense", 0.0)["error"]["data"]["retryAfterMs"] == 1000
