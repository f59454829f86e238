"""Who sends a request to an MCP endpoint, as the auth gate found it.

One job: read the caller off a request's context (L{mcpgateway.web.app}'s
auth gate fills it in) for the steps of either era that decide by it: a
2025 session's start and admission, a 2026-07-28 request's checks, the
rerouting of a task's request and an aggregate's view of its members.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from mcpgateway.core.aggregate.memberpolicy import Asker
from mcpgateway.web.plumbing.requestcontext import contextOf


def principalKey(request: IRequest) -> str:
    """The key of the principal the auth gate found for C{request} (see
    L{mcpgateway.web.app}); C{""} without authentication."""
    return contextOf(request).principalKey


def principalServers(request: IRequest) -> frozenset[str] | None:
    """The servers the principal of C{request} may use (C{None}: every
    one, as without authentication)."""
    servers = getattr(contextOf(request).principal, "servers", None)
    return servers if isinstance(servers, frozenset) else None


def principalWithheld(request: IRequest) -> frozenset[str]:
    """The servers the principal of C{request} may not use whatever its
    servers say (L{mcpgateway.httpbase.principal.Principal.withheld})."""
    withheld = getattr(contextOf(request).principal, "withheld", None)
    return withheld if isinstance(withheld, frozenset) else frozenset()


def askerOf(request: IRequest) -> Asker:
    """Who sends C{request}, as an aggregate's policy decides by
    (L{mcpgateway.core.aggregate.memberpolicy})."""
    peer = request.getClientAddress()
    return Asker(contextOf(request).principal, str(getattr(peer, "host", "")))
