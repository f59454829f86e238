"""The management API and C{--self-service}'s token: good for the servers
endpoints only (list, read, add, remove, enable, disable), on a gateway
with an C{--api-token} or without one; every other route refuses it; a
change made with it is written to the audit log as the self-service
server's; the C{--api-token} goes on answering everything, its changes
recorded as its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from twisted.web.resource import IResource

from mcpgateway.ops.audit import AuditRecord
from mcpgateway.ops.management import ServerChanges
from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.app import makeSite
from tests.support.web.api import FAKE, TOKEN, ApiHarness, error
from tests.support.web.team_web import LEAK, TeamHarness, crashWithStderr

SERVERS_TOKEN = "servers-only-token-abcdef0123456789"
AS_SERVICE = {"authorization": f"Bearer {SERVERS_TOKEN}"}
AS_ADMIN = {"authorization": f"Bearer {TOKEN}"}


class FakeAudit:
    payloads = False

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)


class SelfServiceHarness(ApiHarness):
    """The API with the self-service token and an audit log."""

    def __init__(self, stateDir: Path, token: str | None) -> None:
        super().__init__(stateDir, token=token)
        self.audit = FakeAudit()
        self.apiApp = ApiApp(
            self.management,
            self.gateway,
            self.reactor,
            token,
            serversToken=SERVERS_TOKEN,
            audit=self.audit,
        )
        self.site = makeSite(
            self.gateway, self.reactor, loopbackOnly=True, maxBody=4096, api=self.apiApp.resource
        )


@pytest.mark.parametrize("token", [TOKEN, None])
def test_the_servers_endpoints_answer_the_self_service_token(
    tmp_path: Path, token: str | None
) -> None:
    h = SelfServiceHarness(tmp_path / "state", token)
    added = h.api("POST", "/servers", {"name": "extra", "command": FAKE}, headers=AS_SERVICE)
    assert added.status == 201, added.body
    assert h.api("GET", "/servers", headers=AS_SERVICE).status == 200
    assert h.api("GET", "/servers/extra", headers=AS_SERVICE).status == 200
    disabled = h.api("PATCH", "/servers/extra", {"enabled": False}, headers=AS_SERVICE)
    assert disabled.status == 200 and h.gateway.pools["extra"].disabled
    assert h.api("DELETE", "/servers/extra", headers=AS_SERVICE).status == 200
    assert set(h.gateway.pools) == {"srv"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("GET", "/tools", None),
        ("GET", "/catalog", None),
        ("POST", "/catalog/refresh", None),
        ("GET", "/servers/srv/logs?follow=false", None),
        ("POST", "/servers/srv/restart", None),
        ("POST", "/servers/srv/reset-circuit", None),
        ("PUT", "/servers/srv", {"enabled": False}),
        ("POST", "/servers/srv", {"enabled": False}),
        ("DELETE", "/servers", None),
        ("GET", "/servers/", None),
        ("GET", "/nope", None),
    ],
)
def test_every_other_route_refuses_it(tmp_path: Path, method: str, path: str, body: Any) -> None:
    h = SelfServiceHarness(tmp_path / "state", TOKEN)
    response = h.api(method, path, body, headers=AS_SERVICE)
    assert response.status == 403, (method, path, response.body)
    assert error(response) == "this token is good for the servers endpoints only"
    asAdmin = h.api(method, path, body, headers=AS_ADMIN)
    assert not asAdmin.transport.value() or asAdmin.status != 403  # (a refresh answers later)


def test_a_wrong_token_is_still_refused(tmp_path: Path) -> None:
    h = SelfServiceHarness(tmp_path / "state", TOKEN)
    wrong = {"authorization": f"Bearer {SERVERS_TOKEN}x"}
    assert h.api("GET", "/servers", headers=wrong).status == 401


def test_the_team_door_lets_it_through_to_the_api(tmp_path: Path) -> None:
    """The admin door asks the API whether a request carries a token it
    takes (then no admin principal is needed); the API then answers the
    servers endpoints only."""
    h = SelfServiceHarness(tmp_path / "state", None)
    resource: Any = h.apiApp.resource()

    class Request:
        def __init__(self, value: bytes) -> None:
            self.value = value

        def getHeader(self, name: bytes) -> bytes | None:
            return self.value if name == b"authorization" else None

    class ServersRequest(Request):
        path, method = b"/api/v1/servers", b"GET"

    class HealthRequest(Request):
        path, method = b"/api/v1/health", b"GET"

    token = f"Bearer {SERVERS_TOKEN}".encode()
    assert resource.doorMatches(ServersRequest(token))
    assert not resource.doorMatches(HealthRequest(token))
    assert not resource.doorMatches(ServersRequest(b"Bearer another"))
    assert not resource.doorMatches(ServersRequest(b""))
    # Not the --api-token: it does not open all of /health and /metrics.
    assert not resource.tokenMatches(ServersRequest(token))


def test_its_token_does_not_open_the_whole_health_or_metrics() -> None:
    """On a team gateway, /health and /metrics show a caller without an
    admin's token only that the gateway lives: the self-service server's
    token is not one."""
    holder: list[TeamHarness] = []

    def api() -> IResource:
        h = holder[0]
        management = ServerChanges(h.gateway, cast(Any, None), cast(Any, None))
        return ApiApp(management, h.gateway, h.reactor, None, serversToken="ss").resource()

    h = TeamHarness(api=api)
    holder.append(h)
    crashWithStderr(h)
    token = {"authorization": "Bearer ss"}
    health = h.request("GET", "/health", headers=token)
    assert LEAK not in health.body
    assert h.request("GET", "/metrics", headers=token).body == h.request("GET", "/metrics").body


def test_its_changes_are_audited(tmp_path: Path) -> None:
    h = SelfServiceHarness(tmp_path / "state", TOKEN)
    h.reactor.advance(100.0)
    h.api("POST", "/servers", {"name": "extra", "command": FAKE}, headers=AS_SERVICE)
    h.api("PATCH", "/servers/extra", {"enabled": False}, headers=AS_SERVICE)
    h.api("DELETE", "/servers/extra", headers=AS_SERVICE)
    h.api("POST", "/servers", {"name": "bad", "command": "no-such-command-x"}, headers=AS_SERVICE)
    h.api("DELETE", "/servers/srv", headers=AS_SERVICE)  # from the config: refused
    h.api("PATCH", "/servers/missing", {"enabled": True}, headers=AS_SERVICE)
    h.api("GET", "/servers", headers=AS_SERVICE)  # reading is no change
    h.api("POST", "/servers", {"name": "byadmin", "command": FAKE}, headers=AS_ADMIN)
    lines = [
        (r.method, r.server, r.outcome, r.status, r.via, r.principal, r.peer)
        for r in h.audit.records
    ]
    assert lines == [
        ("servers/add", "extra", "ok", 201, "self-service", "", "127.0.0.1"),
        ("servers/change", "extra", "ok", 200, "self-service", "", "127.0.0.1"),
        ("servers/remove", "extra", "ok", 200, "self-service", "", "127.0.0.1"),
        ("servers/add", "bad", "error", 400, "self-service", "", "127.0.0.1"),
        ("servers/remove", "srv", "error", 409, "self-service", "", "127.0.0.1"),
        ("servers/change", "missing", "error", 404, "self-service", "", "127.0.0.1"),
        ("servers/add", "byadmin", "ok", 201, "api-token", "", "127.0.0.1"),
    ]
    assert all(r.ts == 100.0 and r.tool is None for r in h.audit.records)
