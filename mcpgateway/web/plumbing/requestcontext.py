# -*- test-case-name: tests.web.plumbing.test_requestcontext -*-
"""What the gateway learns about one HTTP request while it serves it, held
in one place: the request's L{RequestContext}.

A request is a C{Componentized} (Twisted's C{Request} is), so the context
is one of its components, as Klein keeps its C{IKleinRequest}: the adapter
registered here makes it on first use and the request keeps it,
C{IRequestContext(request)} is the same object for the request's whole
life. A team gateway's door fills it in (who the caller is, the audit
note, a peer's forwarded request); the POST's pipeline, the cluster's
rerouting and the pages read it. A laptop's POST never asks for one: no
door ran, so nothing was learned (L{ANONYMOUS_KEY}).

A request that is neither C{Componentized} nor an C{IRequest} (a test's
C{DummyRequest}) gets a new, empty context at each lookup (L{contextOf}):
what nothing set reads as nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.python.components import registerAdapter
from twisted.web.iweb import IRequest
from zope.interface import Attribute, Interface, implementer

if TYPE_CHECKING:
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
    from mcpgateway.web.endpoints.auditnote import AuditNote

ANONYMOUS_KEY = ""
"""The principal key of a request no door looked at (loopback, no auth)."""


class IRequestContext(Interface):
    """What the gateway learned about one request (see the module)."""

    principal = Attribute("who the request comes from; None: no door found anyone")
    fromPeer = Attribute("forwarded by another replica: never forwarded again, not counted")
    auditNote = Attribute("what the audit record will say; None: no audit log")
    forwardedTo = Attribute("the replica the request went to (its owner writes the audit)")
    forwardFailed = Attribute("forwarding failed: served here, never forwarded again")
    quotaHeld = Attribute("counted against the principal's quota (released when it ends)")
    adminPrincipal = Attribute("the management door found an admin principal")
    selfService = Attribute("carries the self-service server's token (/api/v1)")
    selfServiceChange = Attribute("the self-service change it makes, for its audit record")
    credentialEnded = Attribute("how it ends when the credential that let it in ends")


@implementer(IRequestContext)
class RequestContext:
    """One request's context: every field starts as nothing learned."""

    __slots__ = (
        "adminPrincipal",
        "auditNote",
        "credentialEnded",
        "forwardFailed",
        "forwardedTo",
        "fromPeer",
        "principal",
        "quotaHeld",
        "selfService",
        "selfServiceChange",
    )

    def __init__(self, request: object = None) -> None:
        """
        @param request: the request it is the context of (an adapter's
            argument: not kept, the request keeps the context).
        """
        self.principal: Any = None
        """Who the request comes from (L{mcpgateway.httpbase.principal.Principal},
        set by a team gateway's door); C{None}: nobody was asked."""
        self.fromPeer = False
        self.auditNote: AuditNote | None = None
        self.forwardedTo: Address | None = None
        self.forwardFailed = False
        self.quotaHeld = False
        self.adminPrincipal = False
        self.selfService = False
        self.selfServiceChange: tuple[str, str, float] | None = None
        self.credentialEnded: Callable[[], Callable[[], object] | None] | None = None
        """How the request ends when the credential that let it in ends
        (L{mcpgateway.web.plumbing.holds}), held weakly (a
        C{weakref.WeakMethod}: what it ends holds the request); C{None}, or
        a method gone: its connection is closed."""

    @property
    def principalKey(self) -> str:
        """The key of its principal (L{ANONYMOUS_KEY} without one)."""
        key = getattr(self.principal, "key", ANONYMOUS_KEY)
        return key if isinstance(key, str) else ANONYMOUS_KEY


registerAdapter(RequestContext, IRequest, IRequestContext)


def contextOf(request: object) -> RequestContext:
    """C{request}'s context (made on first use, kept by the request)."""
    context = IRequestContext(request, None)
    return context if isinstance(context, RequestContext) else RequestContext(request)
