# -*- test-case-name: tests.web.endpoints.test_cluster_web,tests.governance.test_policy_members -*-
"""Who sends a request to an MCP endpoint, as the auth gate found it.

One job: read the caller off a request's context (L{mcpgateway.web.app}'s
auth gate fills it in) for the steps of either era that decide by it: a
2025 session's start and admission, a 2026-07-28 request's checks, the
rerouting of a task's request and an aggregate's view of its members.

A request another replica forwarded (docs/guide/cluster.md) carries its
caller in a sealed peer header instead of a token; where that replica
received it (how it proved the caller, the address the request came from:
L{PeerOrigin}) is kept on the request, so that a policy decides it as that
replica would (L{policyPrincipal}, L{sourceOf}).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

from twisted.web.iweb import IRequest
from zope.interface import Interface, implementer

from mcpgateway.core.aggregate.memberpolicy import Asker, MemberAudit, MemberCall
from mcpgateway.core.decision import Decision
from mcpgateway.httpbase.principal import Principal
from mcpgateway.web.endpoints.auditnote import AuditNote
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


class IPeerOrigin(Interface):
    """Where a request a peer forwarded was received (L{PeerOrigin}): a
    component of the request."""


@implementer(IPeerOrigin)
@dataclass(frozen=True)
class PeerOrigin:
    """Where a request another replica forwarded was received, as its
    sealed peer header says (L{mcpgateway.cluster.peer})."""

    via: str
    """How that replica proved the caller (C{token}, C{oauth})."""
    source: str
    """The address the request came from there."""


def receivedAt(request: IRequest, origin: PeerOrigin) -> None:
    """Keep on C{request}, a peer's forwarded request, where it was received."""
    setComponent = getattr(request, "setComponent", None)
    if setComponent is not None:
        setComponent(IPeerOrigin, origin)


def peerOrigin(request: IRequest) -> PeerOrigin | None:
    """Where C{request} was received, when a peer forwarded it."""
    found = IPeerOrigin(request, None)
    return found if isinstance(found, PeerOrigin) else None


def sourceOf(request: IRequest) -> str:
    """The address C{request} came from: for a peer's forwarded request,
    the one it came from at the replica it reached."""
    origin = peerOrigin(request)
    if origin is not None and origin.source:
        return origin.source
    return str(getattr(request.getClientAddress(), "host", ""))


def policyPrincipal(request: IRequest, principal: object) -> object:
    """C{principal}, C{request}'s caller, as a policy decides by it: a peer's
    forwarded request's as the replica it reached proved it (its C{via})."""
    origin = peerOrigin(request)
    if origin is None or not origin.via or not isinstance(principal, Principal):
        return principal
    return replace(principal, via=origin.via)


def askerOf(request: IRequest) -> Asker:
    """Who sends C{request}, as an aggregate's policy decides by
    (L{mcpgateway.core.aggregate.memberpolicy}), and where the member
    request it resolves to is noted for its audit record."""
    context = contextOf(request)
    note = context.auditNote
    return Asker(
        policyPrincipal(request, context.principal),
        sourceOf(request),
        None if note is None else noting(note),
    )


def noting(note: AuditNote) -> MemberAudit:
    """What notes a member request on C{note} while its request lives: an
    aggregate session keeps the asker of its latest request, never the
    note (which may hold a large result) once its record is written."""
    kept = weakref.ref(note)

    def noted(call: MemberCall, decision: Decision) -> None:
        alive = kept()
        if alive is not None:
            alive.memberDecided(call, decision)

    return noted
