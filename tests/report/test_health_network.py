"""A confined server's line of the sandbox's allow-list proxy in
C{/health}: shown for the servers that use it, with detail only."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.status import GatewayStatus
from mcpgateway.report.health import healthBody
from tests.support.report.status import gatewayStatus
from tests.support.web.health import SERVER

LINE = {"open": 1, "refused": 2, "refusedHosts": ["evil.example:443"]}


def proxied(server: str) -> dict[str, Any] | None:
    return LINE if server == "mem" else None


def status() -> GatewayStatus:
    return gatewayStatus({"mem": SERVER, "other": SERVER})


def test_a_server_behind_the_proxy_shows_its_connections_and_refusals() -> None:
    body = healthBody(status(), network=proxied)
    assert body["servers"]["mem"]["network"] == LINE
    assert "network" not in body["servers"]["other"]


def test_without_detail_or_a_proxy_there_is_no_network_line() -> None:
    assert "network" not in healthBody(status(), network=proxied, detail=False)["servers"]["mem"]
    assert "network" not in healthBody(status())["servers"]["mem"]
