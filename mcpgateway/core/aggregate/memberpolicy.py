# -*- test-case-name: tests.governance.test_policy_members -*-
"""Who may reach which member through the aggregate: the kernel's side of a
policy (L{MemberPolicy}), which the service wires in
(L{mcpgateway.governance.policymembers}).

An aggregate endpoint (C{/mcp}, C{/mcp/search}) is no server of its own: a
request to it is decided as the member request it resolves to (the member
server, the member's own name for the tool, prompt or resource, the call's
arguments), where the view resolves a namespaced name to its owner. The
view a caller gets (L{screened}) holds only what the policy could let it
call: its listings, C{search}'s results, C{describe} and C{invoke} never
reach the rest, so a hidden tool is refused exactly as an unknown one.
Each call is then decided with its arguments (L{refuseCall}), through the
one decision every member request of the aggregate goes through
(L{MemberGate.decideMember}).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from mcpgateway.core.aggregate.types import Owner
from mcpgateway.protocol import jsonrpc

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.session import AggregateSession
    from mcpgateway.core.aggregate.view import View
    from mcpgateway.flow.step import FlowStep


@dataclass(frozen=True, slots=True)
class Asker:
    """The caller of an aggregate request, as the web knows it."""

    principal: object = None
    """The authenticated principal (C{None}: anonymous); opaque here."""
    source: str = ""
    """The address the request came from."""


@dataclass(frozen=True, slots=True)
class MemberCall:
    """One request of a member, as the aggregate resolved it."""

    action: str
    """C{tools/call}, C{prompts/get} or C{resources/read}."""
    server: str
    name: str
    """The member's own tool or prompt name, or the resource URI."""
    arguments: Mapping[str, Any] | None = None
    route: str = ""
    client: str = ""


class MemberPolicy(Protocol):
    """What the aggregate asks a policy."""

    def viewKey(self, asker: Asker) -> Hashable:
        """What a screened view depends on of C{asker} under the policy now
        (another key once the policy is reloaded)."""

    def listable(self, asker: Asker, action: str, server: str, name: str) -> bool:
        """Whether some call of member C{server}'s C{name} by C{asker}
        could be allowed (it is listed, searchable and callable)."""

    def refusal(self, asker: Asker, call: MemberCall) -> str | None:
        """Why C{call} is refused (C{None}: it may go on); the text names
        the policies that decided, never their text."""


ACTIONS = {"tool": "tools/call", "prompt": "prompts/get"}


def screened(view: View, policy: MemberPolicy, asker: Asker) -> View:
    """C{view} without what C{asker} may not call (the other gateway tools
    stay: they only reach what the view holds)."""

    def shows(owner: Owner) -> bool:
        return policy.listable(asker, ACTIONS[owner.kind], owner.server, owner.original)

    callable_ = {name: owner for name, owner in view.callable.items() if shows(owner)}
    promptOwners = {name: owner for name, owner in view.promptOwners.items() if shows(owner)}
    uris: dict[str, tuple[str, ...]] = {}
    for uri, servers in view.uris.items():
        own = view.memberUri(uri)  # the policy speaks the server's URIs, as its names
        kept = tuple(s for s in servers if policy.listable(asker, "resources/read", s, own))
        if kept:
            uris[uri] = kept
    gateway = set(view.gatewayTools)
    return replace(
        view,
        tools=tuple(
            tool
            for tool in view.tools
            if tool.get("name") in callable_ or tool.get("name") in gateway
        ),
        callable=callable_,
        definitions={n: d for n, d in view.definitions.items() if n in callable_},
        prompts=tuple(p for p in view.prompts if p.get("name") in promptOwners),
        promptOwners=promptOwners,
        resources=tuple(r for r in view.resources if r.get("uri") in uris),
        uris=uris,
    )


def refuseCall(
    policy: MemberPolicy | None,
    asker: Asker | None,
    call: MemberCall,
) -> None:
    """Raise L{CallFailed} (C{-32602}, as an unknown name) when the policy
    refuses C{call}; nothing without a policy."""
    if policy is None:
        return
    why = policy.refusal(asker if asker is not None else Asker(), call)
    if why is not None:
        from mcpgateway.core.aggregate.session import CallFailed

        raise CallFailed(jsonrpc.INVALID_PARAMS, why)


class MemberGate:
    """The member policy the aggregate is decided by now (C{None}: none),
    and the decision of each member request under it: a full-mode request,
    search mode's C{invoke} and a 2026-07-28 request alike; and the flow
    step a member tool's call is decided by after it (L{flowStep})."""

    def __init__(self) -> None:
        self.policy: MemberPolicy | None = None
        """The policy each caller's view and member request is decided by
        (the service wires it in); C{None}: none."""
        self.flowStep: Callable[[], FlowStep | None] = noFlow
        """The gateway's flow step now (C{None}: none), which decides each
        call of a member's tool as that member's
        (L{mcpgateway.core.aggregate.flowcalls}); the gateway's aggregate
        side sets it."""

    def decideMember(
        self,
        session: AggregateSession,
        action: str,
        server: str,
        name: str,
        params: Mapping[str, Any] | None,
        route: str,
        clientInfo: Any = None,
    ) -> None:
        """Refuse (L{CallFailed<mcpgateway.core.aggregate.session.CallFailed>})
        the member request the policy refuses.

        @param clientInfo: the client's C{clientInfo} (C{None}: the session's)."""
        if self.policy is None:
            return
        arguments = params.get("arguments") if params is not None else None
        info = clientInfo if clientInfo is not None else getattr(session, "clientInfo", None)
        client = info.get("name") if isinstance(info, dict) else None
        call = MemberCall(
            action,
            server,
            name,
            arguments if isinstance(arguments, dict) else None,
            route,
            client if isinstance(client, str) else "",
        )
        refuseCall(self.policy, session.asker, call)


def noFlow() -> FlowStep | None:
    """No flow step: a member call is decided by the policy alone."""
    return None
