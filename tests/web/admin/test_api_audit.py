"""Every change made through the management API (the console's buttons
included) is one audit record naming who made it, on a gateway with an
audit log: an admin principal by its key, the C{--api-token} and the
self-service server by their C{via}; its log line names them too, never
a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.logger import formatEvent

from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.app import makeSite
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import capturedGatewayLogs
from tests.http import Response
from tests.support.web.api import FAKE, ApiHarness
from tests.support.web.sessions_api import initialize
from tests.support.web.team_web import FakeGate, RecordingAudit

API_TOKEN = "api-token-for-the-audit-tests-0123"


class AdminHarness(ApiHarness):
    """A team gateway (L{FakeGate}: a token is a principal's name, C{root}
    an admin) serving its management API, with an audit log."""

    def __init__(self, stateDir: Path, token: str | None = None, audit: bool = True) -> None:
        super().__init__(stateDir, token=token, loopbackOnly=False)
        self.audit = RecordingAudit()
        sink = self.audit if audit else None
        self.apiApp = ApiApp(self.management, self.gateway, self.reactor, token, audit=sink)
        self.site = makeSite(
            self.gateway,
            self.reactor,
            loopbackOnly=False,
            maxBody=4096,
            api=self.apiApp.resource,
            team=TeamServices(FakeGate(), None, sink),
        )

    def as_(self, who: str, method: str, path: str, body: Any = None) -> Response:
        headers = {"authorization": f"Bearer {who}"}
        contentType = "application/json" if body is not None else None
        return self.api(method, path, body, headers=headers, contentType=contentType)


def changes(h: AdminHarness) -> list[tuple[Any, ...]]:
    return [
        (r.method, r.server, r.outcome, r.status, r.principal, r.via)
        for r in h.audit.records
        if "/" in r.method and not r.method.startswith(("tools/", "initialize"))
    ]


def test_an_admins_changes_are_audited_with_its_key(tmp_path: Path) -> None:
    h = AdminHarness(tmp_path / "state")
    h.reactor.advance(50.0)
    assert h.as_("root", "PATCH", "/servers/srv", {"enabled": False}).status == 200
    assert h.gateway.pools["srv"].disabled
    assert h.as_("root", "PATCH", "/servers/srv", {"enabled": True}).status == 200
    assert h.as_("root", "POST", "/servers/srv/restart").status == 200
    assert h.as_("root", "POST", "/servers/srv/reset-circuit").status == 200
    assert h.as_("root", "POST", "/servers/srv/share").status == 200
    added = h.as_("root", "POST", "/servers", {"name": "extra", "command": FAKE})
    assert added.status == 201, added.body
    assert h.as_("root", "DELETE", "/servers/extra").status == 200
    assert h.as_("root", "POST", "/servers/nope/restart").status == 404
    assert h.as_("root", "GET", "/servers").status == 200  # reading is no change
    assert h.as_("alice", "PATCH", "/servers/srv", {"enabled": False}).status == 403
    assert changes(h) == [
        ("servers/change", "srv", "ok", 200, "key-root", "token"),
        ("servers/change", "srv", "ok", 200, "key-root", "token"),
        ("servers/restart", "srv", "ok", 200, "key-root", "token"),
        ("servers/reset-circuit", "srv", "ok", 200, "key-root", "token"),
        ("servers/share", "srv", "ok", 200, "key-root", "token"),
        ("servers/add", "extra", "ok", 201, "key-root", "token"),
        ("servers/remove", "extra", "ok", 200, "key-root", "token"),
        ("servers/restart", "nope", "error", 404, "key-root", "token"),
    ]
    assert all(r.ts == 50.0 and r.tool is None and r.session is None for r in h.audit.records)
    assert not h.gateway.pools["srv"].disabled


def test_pin_decisions_are_audited(tmp_path: Path) -> None:
    h = AdminHarness(tmp_path / "state")
    h.as_("root", "POST", "/pins/srv/approve", {})
    h.as_("root", "POST", "/pins/srv/forget")
    assert [(m, s, p) for m, s, _, _, p, _ in changes(h)] == [
        ("pins/approve", "srv", "key-root"),
        ("pins/forget", "srv", "key-root"),
    ]


def test_the_api_tokens_changes_are_audited_as_its(tmp_path: Path) -> None:
    h = AdminHarness(tmp_path / "state", token=API_TOKEN)
    assert h.as_(API_TOKEN, "PATCH", "/servers/srv", {"enabled": False}).status == 200
    assert changes(h) == [("servers/change", "srv", "ok", 200, "", "api-token")]


def test_without_an_audit_log_the_log_line_still_names_the_admin(tmp_path: Path) -> None:
    h = AdminHarness(tmp_path / "state", audit=False)
    with capturedGatewayLogs() as events:
        assert h.as_("root", "PATCH", "/servers/srv", {"enabled": False}).status == 200
    assert h.audit.records == []
    assert [e["principal"] for e in events if "principal" in e] == ["key-root"]


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("PATCH", "/servers/srv", {"enabled": False}, "api: server srv changed (enabled)"),
        ("POST", "/servers/srv/restart", None, "api: server srv restarted (stopped pids [])"),
        ("POST", "/servers/srv/reset-circuit", None, "api: circuit of server srv reset"),
    ],
)
def test_the_log_line_names_the_admins_key_never_its_token(
    tmp_path: Path, method: str, path: str, body: Any, words: str
) -> None:
    h = AdminHarness(tmp_path / "state")
    with capturedGatewayLogs() as events:
        assert h.as_("root", method, path, body).status == 200
    lines = [formatEvent(e) for e in events if str(e.get("log_format", "")).startswith("api:")]
    assert lines == [f"{words} by principal key-root"], lines
    (event,) = [e for e in events if str(e.get("log_format", "")).startswith("api:")]
    assert event["principal"] == "key-root"
    assert "Bearer" not in repr(events)


def test_ending_a_session_is_audited_with_who_ended_it(tmp_path: Path) -> None:
    """A session DELETE ends another person's session: one record and a
    log line naming the admin's key; a person who is no admin is refused,
    and nothing is recorded of it."""
    h = AdminHarness(tmp_path / "state")
    sid = initialize(h, "srv", {"authorization": "Bearer alice"}).headers["mcp-session-id"]
    refused = h.request("DELETE", f"/sessions/{sid}", headers={"authorization": "Bearer alice"})
    assert refused.status == 403 and h.gateway.sessions.get(sid) is not None
    with capturedGatewayLogs() as events:
        ended = h.request("DELETE", f"/sessions/{sid}", headers={"authorization": "Bearer root"})
    assert ended.status == 200, ended.body
    assert h.gateway.sessions.get(sid) is None
    assert changes(h) == [("sessions/end", "srv", "ok", 200, "key-root", "token")]
    lines = [formatEvent(e) for e in events]
    assert "ended by DELETE /sessions/<id> by principal key-root: 1 session(s), child pids []" in (
        lines
    )
