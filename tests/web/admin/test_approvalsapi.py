"""C{/api/v1/approvals}: the held calls listed and shown, allowed and
denied, the errors (404, 409, 400), and who may decide: the owner, the
C{--api-token} or an admin principal, never a client's own token nor the
self-service server's; through a real Site over in-memory transports."""

from __future__ import annotations

from typing import Any, cast

import pytest
from twisted.internet.task import Clock
from twisted.web.resource import IResource

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.flow.held import HeldCall, HeldCalls, HeldState
from mcpgateway.flow.labels import Label
from mcpgateway.flow.ledger import ClientKey
from mcpgateway.ops.management import ServerChanges
from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.config.resolve import fired
from tests.support.web.team_web import TeamHarness

CLIENT: ClientKey = ("", "pid", "4242")
ARGS = {"repo": "me/site", "title": "hello"}
TRIFECTA = frozenset({Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS})
TOKEN = "approvals-api-token-0123456789"
SERVERS_TOKEN = "servers-only-token-0123456789"


class ApprovalsHarness(Harness):
    """A gateway whose API answers for C{store}'s held calls."""

    def __init__(self, token: str | None = None, wired: bool = True) -> None:
        self.reactor = FakeProcessReactor()
        self.clock = Clock()
        self.store = HeldCalls(self.clock, holdSeconds=60)
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor))
        api = ApiApp(
            cast(Any, None),
            self.gateway,
            self.reactor,
            token,
            serversToken=SERVERS_TOKEN,
            approvals=(lambda: self.store) if wired else None,
        )
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, api=api.resource)

    def hold(self, arguments: dict[str, Any] | None = None) -> HeldCall:
        return self.store.hold(
            "",
            CLIENT,
            "github",
            "create_issue",
            ARGS if arguments is None else arguments,
            "v1",
            TRIFECTA,
            "the client has read untrusted content and holds private data",
        )


def body(response: Response) -> Any:
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


def test_the_list_has_the_pending_and_the_decided_without_arguments() -> None:
    h = ApprovalsHarness()
    assert body(h.request("GET", "/api/v1/approvals")) == {"pending": [], "decided": []}
    first, second = h.hold(), h.hold({"title": "other"})
    h.clock.advance(5)
    h.store.deny(first.id, "owner", "no")
    response = h.request("GET", "/api/v1/approvals")
    assert response.status == 200
    listed = body(response)
    [pending] = listed["pending"]
    [decided] = listed["decided"]
    assert pending["id"] == second.id and pending["state"] == "pending"
    assert pending["client"] == {"principal": "", "kind": "pid", "id": "4242"}
    assert pending["labels"] == ["untrusted", "private", "egress"]
    assert (pending["server"], pending["tool"], pending["expiry"]) == ("github", "create_issue", 60)
    assert pending["digest"] == second.digest
    assert (decided["id"], decided["state"], decided["denyReason"]) == (first.id, "denied", "no")
    assert "arguments" not in pending and "hello" not in response.body.decode()


def test_one_call_shows_its_exact_arguments_and_the_diff() -> None:
    h = ApprovalsHarness()
    first = h.hold()
    shown = body(h.request("GET", f"/api/v1/approvals/{first.id}"))
    assert shown["arguments"] == ARGS
    assert (shown["lastApproved"], shown["diff"]) == (None, None)
    assert shown["reason"].startswith("the client has read untrusted")
    h.store.allow(first.id, "owner")
    second = h.hold({"repo": "me/site", "title": "bye"})
    shown = body(h.request("GET", f"/api/v1/approvals/{second.id}"))
    assert shown["lastApproved"] == ARGS
    assert shown["diff"] == [{"key": "title", "change": "changed", "old": "hello", "new": "bye"}]


def test_allowing_and_denying() -> None:
    h = ApprovalsHarness()
    first, second = h.hold(), h.hold({"title": "x"})
    waited = h.store.whenDecided(first.id)
    allowed = h.request("POST", f"/api/v1/approvals/{first.id}/allow", contentType=None)
    assert allowed.status == 200
    assert (body(allowed)["state"], body(allowed)["decidedBy"]) == ("allowed", "owner")
    assert fired(waited).state is HeldState.ALLOWED
    assert h.store.claim("", CLIENT, "github", "create_issue", ARGS, "v1")
    denied = h.request("POST", f"/api/v1/approvals/{second.id}/deny", {"reason": "not now"})
    assert denied.status == 200
    assert (body(denied)["state"], body(denied)["denyReason"]) == ("denied", "not now")
    third = h.hold({"title": "y"})
    plain = h.request("POST", f"/api/v1/approvals/{third.id}/deny", contentType=None)
    assert (body(plain)["state"], body(plain)["denyReason"]) == ("denied", "")


def test_an_unknown_call_is_404() -> None:
    for h in (ApprovalsHarness(), ApprovalsHarness(wired=False)):
        for method, path in (
            ("GET", "/api/v1/approvals/nope"),
            ("POST", "/api/v1/approvals/nope/allow"),
            ("POST", "/api/v1/approvals/nope/deny"),
        ):
            response = h.request(method, path, contentType=None)
            assert response.status == 404, (method, path)
            assert body(response) == {"error": "no held call 'nope'"}


def test_a_decided_or_expired_call_is_409() -> None:
    h = ApprovalsHarness()
    denied, expiring, used = h.hold(), h.hold({"n": 1}), h.hold({"n": 2})
    h.store.deny(denied.id, "owner")
    h.store.allow(used.id, "alice")
    assert h.store.claim("", CLIENT, "github", "create_issue", {"n": 2}, "v1")
    h.clock.advance(60)
    for call, text in (
        (denied, "was denied by owner already"),
        (expiring, "expired: nobody decided it in time"),
        (used, "was allowed by alice, and its yes is used"),
    ):
        for action in ("allow", "deny"):
            response = h.request("POST", f"/api/v1/approvals/{call.id}/{action}", contentType=None)
            assert response.status == 409, (call, action)
            assert text in body(response)["error"]
    assert h.store.get(denied.id).state is HeldState.DENIED


def test_a_bad_deny_body_is_400_and_decides_nothing() -> None:
    h = ApprovalsHarness()
    call = h.hold()
    for sent, why in (
        ([1], "must be a JSON object"),
        ({"reason": 7}, "reason: must be a string"),
        ({"why": "x"}, "unknown field(s): why"),
    ):
        response = h.request("POST", f"/api/v1/approvals/{call.id}/deny", sent)
        assert response.status == 400
        assert why in body(response)["error"]
    assert h.store.get(call.id).state is HeldState.PENDING


def test_a_decision_needs_the_api_token_and_names_it() -> None:
    h = ApprovalsHarness(token=TOKEN)
    call = h.hold()
    path = f"/api/v1/approvals/{call.id}/allow"
    assert h.request("POST", path, contentType=None).status == 401
    wrong = {"authorization": "Bearer not-it"}
    assert h.request("POST", path, contentType=None, headers=wrong).status == 401
    servers = {"authorization": f"Bearer {SERVERS_TOKEN}"}
    refused = h.request("POST", path, contentType=None, headers=servers)
    assert refused.status == 403  # the self-service server's token is for /servers only
    assert h.request("GET", "/api/v1/approvals", headers=servers).status == 403
    assert h.store.get(call.id).state is HeldState.PENDING
    right = {"authorization": f"Bearer {TOKEN}"}
    allowed = h.request("POST", path, contentType=None, headers=right)
    assert (allowed.status, body(allowed)["decidedBy"]) == (200, "api-token")


def test_a_remote_peer_without_a_token_is_refused() -> None:
    h = ApprovalsHarness()
    call = h.hold()
    path = f"/api/v1/approvals/{call.id}/allow"
    assert h.request("POST", path, contentType=None, peer="10.0.0.9").status == 403
    assert h.store.get(call.id).state is HeldState.PENDING


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("root", 200), ("nobody", 401)])
def test_on_a_team_gateway_only_an_admin_principal_decides(who: str, status: int) -> None:
    """A client's own MCP token (alice's) opens its sessions, not the
    approvals: only an admin principal's does, and the decision names it."""
    store = HeldCalls(Clock())
    holder: list[TeamHarness] = []

    def api() -> IResource:
        h = holder[0]
        management = ServerChanges(h.gateway, cast(Any, None), cast(Any, None))
        return ApiApp(management, h.gateway, h.reactor, None, approvals=lambda: store).resource()

    h = TeamHarness(api=api)
    holder.append(h)
    call = store.hold("key-alice", ("key-alice", "client", "claude"), "srv", "post", {}, "v1")
    response = h.as_(who, "POST", f"/api/v1/approvals/{call.id}/allow", contentType=None)
    assert response.status == status, response.body
    if status == 200:
        assert store.get(call.id).decidedBy == "key-root"
    else:
        assert store.get(call.id).state is HeldState.PENDING
