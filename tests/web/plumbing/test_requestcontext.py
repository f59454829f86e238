"""One request's context: a component of the request, the same object for
its whole life, made empty on first use."""

from __future__ import annotations

from twisted.web.test.requesthelper import DummyChannel, DummyRequest

from mcpgateway.tuned.request import GatewayRequest
from mcpgateway.web.plumbing.requestcontext import (
    ANONYMOUS_KEY,
    IRequestContext,
    RequestContext,
    contextOf,
)
from tests.support.web.contextrequest import ContextRequest


class Caller:
    def __init__(self, key: object) -> None:
        self.key = key


def test_a_requests_context_is_one_component_kept_by_the_request() -> None:
    request = GatewayRequest(DummyChannel())
    context = contextOf(request)
    assert isinstance(context, RequestContext)
    assert IRequestContext(request) is context and contextOf(request) is context
    assert request.getComponent(IRequestContext) is context


def test_nothing_learned_reads_as_nothing() -> None:
    context = contextOf(ContextRequest([b""]))
    assert context.principal is None and context.principalKey == ANONYMOUS_KEY
    assert not (context.fromPeer or context.forwardFailed or context.quotaHeld)
    assert context.auditNote is None and context.forwardedTo is None


def test_the_principal_key_is_its_principals_text_key_only() -> None:
    request = ContextRequest([b""])
    contextOf(request).principal = Caller("alice")
    assert contextOf(request).principalKey == "alice"
    contextOf(request).principal = Caller(7)
    assert contextOf(request).principalKey == ANONYMOUS_KEY


def test_a_request_that_keeps_no_components_gets_a_new_empty_one_each_time() -> None:
    request = DummyRequest([b""])
    contextOf(request).fromPeer = True
    assert not contextOf(request).fromPeer
