"""What tests/web/test_team_web.py shares with the other tests: FakeGate,
FakeQuota, INITIALIZE, LEAK, MISSING, PRINCIPALS, RecordingAudit,
TeamHarness, call, crashWithStderr, initializeOfACrash, ping."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import VIA_TOKEN, Principal, Refusal, Verdict
from mcpgateway.ops.audit import AuditRecord
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.app import makeSite
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.web.api import initializeBody

PRINCIPALS = {
    "alice": Principal("alice", "key-alice", VIA_TOKEN),
    "bob": Principal("bob", "key-bob", VIA_TOKEN),
    "carol": Principal("carol", "key-carol", VIA_TOKEN, servers=frozenset({"other"})),
    "root": Principal("root", "key-root", VIA_TOKEN, admin=True),
}
MISSING = Refusal(401, None, "this gateway needs a bearer token")


class FakeGate:
    """Tokens are principal names; C{slow} answers later."""

    def __init__(self) -> None:
        self.refusals: Counter[tuple[int, str]] = Counter()
        self.checked: list[str | None] = []
        self.pending: list[Deferred[Verdict]] = []
        self.held: list[tuple[IRequest, Principal]] = []
        self.adminOnly: frozenset[str] = frozenset()
        """The servers withheld from a principal that is no admin."""

    def check(self, request: IRequest, server: str | None) -> Verdict | Deferred[Verdict]:
        self.checked.append(server)
        value = (request.getHeader(b"authorization") or b"").decode()
        name = value.removeprefix("Bearer ")
        if name == "slow":
            waiting: Deferred[Verdict] = Deferred()
            self.pending.append(waiting)
            return waiting
        principal = PRINCIPALS.get(name)
        if principal is None:
            self.refusals[(401, "missing")] += 1
            return MISSING
        return principal

    def refuse(self, request: IRequest, refusal: Refusal) -> bytes:
        request.setResponseCode(refusal.status)
        request.setHeader(b"www-authenticate", b'Bearer realm="test"')
        request.setHeader(b"content-type", b"application/json")
        return jsonrpc.dumps(
            jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, refusal.description)
        )

    def hold(self, request: IRequest, principal: Principal) -> None:
        self.held.append((request, principal))

    def withholding(self, principal: Principal) -> Principal:
        """As a gate with C{adminOnly} servers (C{gateway}) does."""
        if principal.admin or self.adminOnly <= principal.withheld:
            return principal
        return replace(principal, withheld=principal.withheld | self.adminOnly)

    def metadata(self) -> IResource:
        class Metadata(Resource):
            isLeaf = True

            def render(self, request: IRequest) -> bytes:
                return b'{"resource": "test"}'

        return Metadata()


class FakeQuota:
    def __init__(self) -> None:
        self.admitted: list[tuple[str, int]] = []
        self.released: list[tuple[str, int]] = []
        self.retryAfter: float | None = None
        self.throttled: Counter[str] = Counter()

    def admit(self, principal: str, requests: int = 1) -> float | None:
        if self.retryAfter is not None:
            self.throttled["rate"] += 1
            return self.retryAfter
        self.admitted.append((principal, requests))
        return None

    def release(self, principal: str, requests: int = 1) -> None:
        self.released.append((principal, requests))


class RecordingAudit:
    def __init__(self, payloads: bool = False) -> None:
        self.payloads = payloads
        self.records: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)


class TeamHarness(Harness):
    def __init__(
        self,
        payloads: bool = False,
        timeout: float = 60.0,
        api: Any = None,
        loopbackOnly: bool = False,
        publicHealth: bool = False,
    ) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway(
            {"srv": spec("srv", timeout=timeout), "other": spec("other")},
            fakeSpawner(self.reactor),
        )
        self.gate = FakeGate()
        self.quota = FakeQuota()
        self.audit = RecordingAudit(payloads)
        self.team = TeamServices(self.gate, self.quota, self.audit, publicHealth=publicHealth)
        self.site = makeSite(
            self.gateway, self.reactor, loopbackOnly=loopbackOnly, api=api, team=self.team
        )

    def as_(self, who: str, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        headers = {"authorization": f"Bearer {who}", **kw.pop("headers", {})}
        return self.request(method, path, body, headers=headers, **kw)

    def open(self, who: str, server: str = "srv", capabilities: Any = None) -> str:
        """A session of C{who} on C{server}; its child, started for it,
        declares C{capabilities} (tools, unless given)."""
        response = self.as_(
            who,
            "POST",
            f"/{server}/mcp",
            initializeBody({}),
        )
        if not response.complete:
            self.answerHandshake(capabilities=capabilities)
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]


def ping(requestId: Any = 2) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "ping"}


def call(h: TeamHarness, sid: str, requestId: int, arguments: Any = None) -> Response:
    return h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        {
            "jsonrpc": "2.0",
            "id": requestId,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": arguments or {"secret": "s3"}},
        },
        session=sid,
    )


LEAK = b"sk-live-LEAKME123"


def crashWithStderr(h: TeamHarness) -> None:
    """The shared child of C{srv} writes a secret to stderr and exits 3."""
    h.open("alice")
    proc = h.process()
    proc.stderr(b"fatal: token=" + LEAK + b" in /opt/secret/launcher.sh\n")
    proc.exit(3)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
}


def initializeOfACrash(h: Harness, who: str | None) -> dict[str, Any]:
    """The error of C{who}'s C{initialize} (C{None}: no token) when the
    child writes a secret to stderr and exits 3 before answering it."""
    if who is None:
        response = h.request("POST", "/srv/mcp", INITIALIZE)
    else:
        assert isinstance(h, TeamHarness)
        response = h.as_(who, "POST", "/srv/mcp", INITIALIZE)
    proc = h.process()
    proc.stderr(b"fatal: token=" + LEAK + b" in /opt/secret/launcher.sh\n")
    proc.exit(3)
    assert response.complete and response.status == 200, response.body
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == jsonrpc.SERVER_UNAVAILABLE
    return error
