"""C{GET /api/v1/catalog} and C{POST /api/v1/catalog/refresh}: the
catalogs' status, a refresh that starts each enabled server once (fake
children answering on a fake clock), errors per server, the body's checks,
and the same auth as every other route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.ops.management import ServerChanges
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess
from tests.support.core.catalog_status import UNLISTED
from tests.support.web.api import FAKE, SECRET, TOKEN, ApiHarness, assertNoSecrets, error, logged

__all__ = ["logged"]  # the fixture, shared with test_api


def withCatalogs(harness: ApiHarness) -> Catalogs:
    """The gateway's catalogs (set here, as the gateway wiring sets them)."""
    catalogs = Catalogs(harness.reactor, timeout=10.0)
    harness.gateway.catalogs = catalogs
    for pool in harness.gateway.pools.values():
        catalogs.attach(pool)
    return catalogs


def answerLists(proc: FakeProcess, tools: list[str]) -> None:
    """Answer the child's handshake (tools declared) and every list it is asked."""
    for message in proc.takeMessages():
        method, mid = message.get("method"), message.get("id")
        if mid is None:
            continue
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}, "prompts": {}},
                "serverInfo": {"name": "fake", "version": "0"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": t, "inputSchema": {"type": "object"}} for t in tools]}
        elif method == "prompts/list":
            result = {"prompts": [{"name": "p"}]}
        else:
            proc.reply(jsonrpc.errorResponse(mid, jsonrpc.METHOD_NOT_FOUND, "no"))
            continue
        proc.reply(jsonrpc.resultResponse(mid, result))
    if proc.sentMessages():
        answerLists(proc, tools)


@pytest.fixture
def h(tmp_path: Path, logged: list[Any]) -> Iterator[ApiHarness]:
    harness = ApiHarness(
        tmp_path / "state",
        mainServers={
            "srv": {"command": FAKE, "args": ["-m", "srv"], "env": {"SRV_KEY": SECRET}},
            "off": {"command": FAKE, "args": ["-m", "off"]},
        },
    )
    yield harness
    assertNoSecrets(harness)


def test_catalog_status_before_and_after_a_refresh(h: ApiHarness) -> None:
    withCatalogs(h)
    h.gateway.pools["off"].disabled = True
    response = h.api("GET", "/catalog")
    assert response.status == 200
    assert response.json()["servers"]["srv"] == UNLISTED
    refreshing = h.api("POST", "/catalog/refresh")
    assert not refreshing.complete  # the child is starting
    assert len(h.reactor.processes) == 1  # the disabled server is not started
    h.reactor.advance(0.25)
    answerLists(h.process(), ["a", "b"])
    assert refreshing.status == 200, refreshing.body
    assert refreshing.json() == {
        "servers": {"srv": {"tools": 2, "prompts": 1, "resources": 0, "ms": 250.0, "error": None}}
    }
    status = h.api("GET", "/catalog").json()["servers"]["srv"]
    assert (status["tools"], status["prompts"], status["error"]) == (2, 1, None)
    assert status["source"] in ("live", "probe")


def test_refresh_named_servers_and_their_errors(h: ApiHarness) -> None:
    withCatalogs(h)
    h.gateway.pools["off"].disabled = True
    response = h.api("POST", "/catalog/refresh", {"servers": ["off"]})
    assert response.status == 200
    assert response.json()["servers"]["off"]["error"] == "server 'off' is disabled"
    assert h.reactor.processes == []
    refreshing = h.api("POST", "/catalog/refresh", {"servers": ["srv"]})
    h.reactor.advance(10)  # the child never answers
    assert refreshing.status == 200
    line = refreshing.json()["servers"]["srv"]
    assert line["tools"] == 0 and "within 10 s" in line["error"]


def test_refresh_refusals(h: ApiHarness) -> None:
    withCatalogs(h)
    assert h.api("POST", "/catalog/refresh", {"servers": ["nope"]}).status == 404
    bad = h.api("POST", "/catalog/refresh", {"servers": "srv"})
    assert (bad.status, error(bad)) == (400, "servers: must be a list of server names")
    bad = h.api("POST", "/catalog/refresh", {"server": ["srv"]})
    assert (bad.status, error(bad)) == (400, "unknown field(s): server")
    bad = h.api("POST", "/catalog/refresh", [1])
    assert bad.status == 400
    assert h.api("PUT", "/catalog").status == 405


def test_a_gateway_without_catalogs_says_so(h: ApiHarness) -> None:
    h.gateway.catalogs = None  # type: ignore[assignment]
    response = h.api("GET", "/catalog")
    assert (response.status, error(response)) == (503, "this gateway keeps no catalogs")


def test_the_catalog_routes_need_the_token(tmp_path: Path, logged: list[Any]) -> None:
    harness = ApiHarness(tmp_path / "state", token=TOKEN)
    withCatalogs(harness)
    assert harness.api("GET", "/catalog").status == 401
    assert harness.api("POST", "/catalog/refresh").status == 401
    assert harness.reactor.processes == []
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert harness.api("GET", "/catalog", headers=auth).status == 200


def test_a_per_session_server_s_refresh_keeps_its_route_s_catalog(
    tmp_path: Path, logged: list[Any]
) -> None:
    h = ApiHarness(
        tmp_path / "state",
        mainServers={"own": {"command": FAKE, "args": ["-m", "own"], "share": "session"}},
    )
    withCatalogs(h)
    refreshing = h.api("POST", "/catalog/refresh")
    h.reactor.advance(0.25)
    answerLists(h.process(), ["a"])
    h.reactor.advance(1)
    line = refreshing.json()["servers"]["own"]
    assert line["scopes"] == {"/own/mcp": {"tools": 1, "prompts": 1, "resources": 0, "error": None}}
    team = ServerChanges(h.gateway, h.configService, h.managed, principals=True)
    answered: list[dict[str, Any]] = []
    team.refreshCatalogs(None).addCallback(answered.append)
    h.reactor.advance(0.25)
    answerLists(h.reactor.processes[-1], ["a"])
    h.reactor.advance(1)
    [body] = answered
    assert "scopes" not in body["servers"]["own"]
    assert "per principal" in body["servers"]["own"]["unsaved"][0]
