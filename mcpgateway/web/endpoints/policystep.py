# -*- test-case-name: tests.governance.test_policy_gate -*-
"""The policy's step in the MCP endpoints: what the endpoint knows of a
request besides its body (L{whereOf}), the refusal of a POST the policy
refuses (L{refusedPost}), and the screening of a listing's answer on its
way to the caller (L{screenedAnswer}), for both protocol revisions.

A request a peer forwarded (docs/guide/cluster.md) is decided here too, on
the replica that owns its session, with the caller and the address the
replica it reached saw (L{mcpgateway.web.endpoints.principal}).

Only an endpoint given a L{PolicyGate} (C{--policy}) takes the step, and
only a server's own endpoint: an aggregate endpoint (C{/mcp},
C{/mcp/search}) is no server of its own, and each of its requests is
decided as the member request it resolves to, in the aggregate
(L{mcpgateway.core.aggregate.memberpolicy}, wired by
L{mcpgateway.startup.policywiring}), and its listings hold only what the
caller's view does.
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.governance.gate import REFUSED, PolicyGate, Where
from mcpgateway.governance.policy import LISTED, TargetServer
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.endpoints.auditnote import noteClaimedSession
from mcpgateway.web.endpoints.backends import principalOf
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.principal import policyPrincipal, sourceOf
from mcpgateway.web.plumbing.requestcontext import contextOf

AGGREGATE_KIND = "aggregate"
"""The kind of the server an aggregate endpoint (C{/mcp}) stands for."""


def targetOf(gateway: Gateway, server: str, scope: str) -> TargetServer:
    """The server C{server} as a policy sees it: its kind (C{stdio},
    C{remote}, C{openapi}; C{aggregate} for an aggregate endpoint) and
    sharing scope."""
    pool = gateway.pools.get(server)
    if pool is None:
        return TargetServer(server, AGGREGATE_KIND, scope or "gateway")
    remote = pool.spec.remote
    if remote is None:
        kind = "stdio"
    elif remote.transport == "openapi":
        kind = "openapi"
    else:
        kind = "remote"
    return TargetServer(server, kind, pool.spec.scope)


def whereOf(request: IRequest, gateway: Gateway, server: str, route: str) -> Where:
    """What the endpoint of C{server} (route C{route}) knows of C{request}."""
    client = ""
    sessionId = header(request, "mcp-session-id")
    if sessionId is not None:
        session = gateway.sessions.get(sessionId)
        info = getattr(session, "clientInfo", None)
        name = info.get("name") if isinstance(info, dict) else None
        client = name if isinstance(name, str) else ""
    return Where(targetOf(gateway, server, route), route, sourceOf(request), client)


def refusedPost(
    gate: PolicyGate, request: IRequest, payload: Any, gateway: Gateway, server: str, route: str
) -> bytes | None:
    """The answer to a POST the policy refuses a request of (C{None}: every
    request may go on, or an aggregate endpoint's: its member requests are
    decided in the aggregate); the audit note records the decision."""
    if gateway.pools.get(server) is None:
        return None
    caller = policyPrincipal(request, principalOf(request))
    refused = gate.decide(payload, caller, whereOf(request, gateway, server, route))
    if refused is None:
        return None
    context = contextOf(request)
    note = context.auditNote
    if note is not None:
        note.decision = refused[0]
        note.settle("refused", REFUSED)
        noteClaimedSession(note, gateway.sessions, request, context.principalKey)
    return gate.refuse(request, *refused, payload)


def listingOf(response: Message) -> str | None:
    """The listing method C{response} answers, told by its result's shape
    (only a listing's result has a top-level C{tools}, C{resources} or
    C{prompts} list)."""
    result = response.get("result")
    if not isinstance(result, dict):
        return None
    for method, (key, _, _) in LISTED.items():
        if isinstance(result.get(key), list):
            return method
    return None


def screenedAnswer(
    gate: PolicyGate,
    request: IRequest,
    response: Message,
    gateway: Gateway,
    server: str,
    route: str,
) -> Message:
    """C{response} without the listed items the caller may not call (an
    aggregate endpoint's listing is its caller's screened view already)."""
    method = listingOf(response)
    if method is None or gateway.pools.get(server) is None:
        return response
    where = whereOf(request, gateway, server, route)
    return gate.screen(method, response, policyPrincipal(request, principalOf(request)), where)
