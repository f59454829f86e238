"""The MCP endpoint's collaborators on their own, each through the narrow
interface it is given (a fake host, a fake quota, a fake backend): what
they read of their endpoint is read when a request comes, not when they
are made."""

from __future__ import annotations

from io import BytesIO
from types import SimpleNamespace
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core.decision import Decision
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.quotagate import QuotaGate
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.endpoints.admission import PostAdmission
from mcpgateway.web.endpoints.backends import Backend
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.credentials import BadCredential
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.endpoints.rerouting import Rerouting
from mcpgateway.web.plumbing.requestcontext import contextOf
from tests.fakes import capturedGatewayLogs
from tests.support.web.contextrequest import ContextRequest

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo"}}


def postRequest(headers: dict[bytes, bytes] | None = None) -> Any:
    request: Any = ContextRequest([b""])
    request.method = b"POST"
    request.path = b"/fs/mcp"
    request.content = BytesIO(jsonrpc.dumps(CALL))
    for name, value in (headers or {}).items():
        request.requestHeaders.addRawHeader(name, value)
    return request


class Host:
    """An endpoint as L{PostAdmission} and L{Rerouting} see it: an
    aggregate's, whose calls reach a member (L{callTarget})."""

    callsMembers = True

    def __init__(self) -> None:
        self.requestPolicy: PolicyGate | None = None
        self.callQuotas: QuotaGate | None = None
        self.targets: list[Any] = []
        self.rendered: list[IRequest] = []

    def callTarget(self, request: IRequest, message: Any) -> tuple[str, str] | None:
        self.targets.append(message)
        return ("member", "echo")

    def render(self, request: Request) -> bytes | int:
        self.rendered.append(request)
        return b"rendered again"

    def taskServers(self) -> tuple[str, ...]:
        return ("fs",)


class Limits:
    """A call limit that refuses every call, as a L{QuotaGate} says so."""

    def __init__(self) -> None:
        self.resolved: list[tuple[str, str] | None] = []

    def decide(
        self, payload: Any, principal: str, server: str, resolve: Any = None
    ) -> tuple[Decision, Any]:
        self.resolved.append(resolve(payload))
        return Decision("limited", ("calls",), "over the limit of calls", 3.0), payload["id"]

    def refuse(
        self, request: IRequest, decision: Decision, requestId: Any, payload: Any = None
    ) -> bytes:
        return b"refused %d" % requestId


class Quota:
    def __init__(self, retryAfter: float | None) -> None:
        self.retryAfter = retryAfter
        self.held: list[tuple[str, int]] = []

    def admit(self, principal: str, requests: int = 1) -> float | None:
        if self.retryAfter is None:
            self.held.append((principal, requests))
        return self.retryAfter

    def release(self, principal: str, requests: int = 1) -> None:
        self.held.remove((principal, requests))


def admission(host: Host, quota: Quota | None = None, throttled: Any = None) -> PostAdmission:
    gateway = cast(Gateway, SimpleNamespace(pools={}))
    return PostAdmission(host, gateway, "/mcp", "", ClientErrors(Clock()), quota, throttled)


def test_the_call_limits_are_the_hosts_when_the_post_comes() -> None:
    host = Host()
    admit = admission(host)
    assert admit.refusal(postRequest(), CALL) is None
    limits = Limits()
    host.callQuotas = cast(QuotaGate, limits)  # set after the collaborator was made
    assert admit.refusal(postRequest(), CALL) == b"refused 7"
    assert limits.resolved == [("member", "echo")]  # the host's callTarget, an aggregate's member
    assert host.targets == [CALL]


def test_a_peers_forwarded_post_is_not_counted_again() -> None:
    host = Host()
    host.callQuotas = cast(QuotaGate, Limits())
    request = postRequest()
    contextOf(request).fromPeer = True
    assert admission(host).refusal(request, CALL) is None


def test_a_principal_over_its_quota_gets_429_with_retry_after() -> None:
    throttled: list[None] = []
    admit = admission(Host(), Quota(2.5), lambda: throttled.append(None))
    request = postRequest()
    body = admit.refusal(request, CALL)
    assert body is not None and jsonrpc.loads(body)["error"]["code"] == jsonrpc.TOO_MANY_REQUESTS
    assert request.responseCode == 429
    assert request.responseHeaders.getRawHeaders(b"retry-after") == [b"3"]
    assert throttled == [None]


def test_an_admitted_post_holds_its_quota_until_it_ends() -> None:
    quota = Quota(None)
    request = postRequest()
    assert admission(Host(), quota).refusal(request, CALL) is None
    assert quota.held == [("", 1)]
    request.finish()
    assert quota.held == []


def credentialCheck(names: tuple[str, ...]) -> CredentialCheck:
    backend = cast(Backend, SimpleNamespace(credentialEnv=names))
    return CredentialCheck(backend, None, lambda *_: False, "fs", Logger())


def test_credential_headers_a_server_does_not_list_are_counted_and_named_once() -> None:
    check = credentialCheck(())
    request = postRequest({b"X-Mcp-Env-TOKEN": b"v"})
    with capturedGatewayLogs() as events:
        assert check.read(request) == ("", ())
        assert check.read(request) == ("", ())
    assert check.ignoredHeaders == 2
    [ignored] = [e for e in events if "ignored the header" in e.get("log_format", "")]
    assert ignored["names"] == "X-Mcp-Env-TOKEN"


def test_without_keys_a_listed_credential_header_cannot_be_used() -> None:
    check = credentialCheck(("TOKEN",))
    request = postRequest({b"x-mcp-env-token": b"v"})
    try:
        check.read(request)
    except BadCredential as e:
        assert "no credential headers" in str(e)
    else:
        raise AssertionError("read without keys")
    assert check.unusable(request) == "this endpoint takes no credential headers"
    assert check.forEra2026(request) == "this endpoint takes no credential headers"
    assert check.unusable(postRequest()) is None


def rerouting(host: Host, clock: Clock) -> Rerouting:
    gateway = cast(Gateway, SimpleNamespace(predecessorWait=5.0))
    refusals = EndpointRefusals(ClientErrors(clock))
    return Rerouting(host, gateway, refusals, clock, "fs", "", Logger())


def test_a_request_waiting_for_the_predecessor_is_rendered_again_by_its_host() -> None:
    host, clock = Host(), Clock()
    request = postRequest()
    waiting: Deferred[None] = Deferred()
    assert rerouting(host, clock).later(request, waiting, 7) == NOT_DONE_YET
    waiting.callback(None)
    assert host.rendered == [request]
    assert request.written == [b"rendered again"] and request.finished


def test_a_predecessor_that_never_exits_leaves_the_session_not_found() -> None:
    host, clock = Host(), Clock()
    request = postRequest()
    rerouting(host, clock).later(request, Deferred(), 7)
    clock.advance(5.0)
    assert host.rendered == []
    assert request.responseCode == 404
    answer = jsonrpc.loads(b"".join(request.written))
    assert answer["id"] == 7 and answer["error"]["message"] == "Session not found"
