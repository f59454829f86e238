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
Each call is then decided with its arguments, through the one decision
every member request of the aggregate goes through
(L{MemberGate.decideMember}).

What is decided of a member request is noted for the audit record of the
request it comes from (L{Asker.audit}): the member's server and its own
name, and a refusal with the policies that decided, as on the member's own
endpoint. A name the caller's view hides is decided too
(L{MemberGate.decideHidden}), with the arguments it was called with: the
caller is answered exactly as for an unknown name, the audit trail and the
log say which policy refused it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from mcpgateway.core.aggregate.types import Owner
from mcpgateway.core.decision import ALLOWED, Decision
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
    audit: MemberAudit | None = field(default=None, compare=False)
    """Where the member request the caller's request resolves to is noted
    with what was decided of it, for that request's audit record (C{None}:
    no audit log)."""


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


MemberAudit = Callable[[MemberCall, Decision], None]
"""Notes a member request and its decision on the audit record of the
aggregate request it comes from."""


class MemberPolicy(Protocol):
    """What the aggregate asks a policy."""

    def viewKey(self, asker: Asker) -> Hashable:
        """What a screened view depends on of C{asker} under the policy now
        (another key once the policy is reloaded)."""

    def listable(self, asker: Asker, action: str, server: str, name: str) -> bool:
        """Whether some call of member C{server}'s C{name} by C{asker}
        could be allowed (it is listed, searchable and callable)."""

    def decide(self, asker: Asker, call: MemberCall) -> Decision:
        """The decision on C{call} by C{asker}: a refusal's reason names the
        policies that decided, never their text (and the refusal is logged)."""


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
        asker: Asker | None = None,
    ) -> None:
        """Refuse (L{CallFailed<mcpgateway.core.aggregate.session.CallFailed>})
        the member request the policy refuses; note it, and what was
        decided, for the audit record of the request it comes from.

        @param clientInfo: the client's C{clientInfo} (C{None}: the session's).
        @param asker: the caller of that request, as it came (C{None}: the
            session's, as the latest request left it)."""
        who = asker if asker is not None else session.asker
        call = memberCall(session, action, server, name, params, route, clientInfo)
        decision = self._decision(who, call)
        if not decision.allowed:
            from mcpgateway.core.aggregate.session import CallFailed

            raise CallFailed(jsonrpc.INVALID_PARAMS, decision.reason)

    def decideHidden(
        self,
        session: AggregateSession,
        shown: View,
        whole: Callable[[], View],
        method: str,
        params: Mapping[str, Any],
        clientInfo: Any = None,
        asker: Asker | None = None,
    ) -> None:
        """Decide the member request C{method} with C{params} resolves to in
        C{whole()}, the caller's view before the policy screened it, when
        C{shown}, the caller's view, hides it (a C{tools/call} of a member's
        tool, search mode's C{invoke} of one, a C{prompts/get}): the caller
        is answered as for an unknown name whatever is decided (no oracle),
        and the refusal is noted and logged as on the member's own endpoint.
        A name no view holds is nothing's to decide."""
        if self.policy is None or method not in HIDDEN_ACTIONS:
            return
        if shown.callTarget(method, params) is not None:
            return
        unscreened = whole()
        target = unscreened.callTarget(method, params)
        if target is None:
            return
        server, name = target
        member = unscreened.members.get(server)
        route = member.route if member is not None else ""
        asked = {"arguments": calledArguments(params)}
        call = memberCall(session, HIDDEN_ACTIONS[method], server, name, asked, route, clientInfo)
        who = asker if asker is not None else session.asker
        self._decision(who, call, hidden=True)

    def _decision(self, asker: Asker | None, call: MemberCall, hidden: bool = False) -> Decision:
        """The policy's decision on C{call} (L{ALLOWED} without one), noted
        on C{asker}'s audit record. A call a view hides is refused whatever
        its arguments would be allowed."""
        who = asker if asker is not None else Asker()
        decision = ALLOWED if self.policy is None else self.policy.decide(who, call)
        if hidden and decision.allowed:
            what = f"{call.action} of {call.server}/{call.name}"
            decision = Decision("denied", (), f"{what} refused: the policy hides it")
        if who.audit is not None:
            who.audit(call, decision)
        return decision


HIDDEN_ACTIONS = {"tools/call": "tools/call", "prompts/get": "prompts/get"}
"""The requests whose hidden member L{MemberGate.decideHidden} decides, and
the action of that member's request (search mode's C{invoke} is a
C{tools/call}, of the tool it names)."""


def memberCall(
    session: AggregateSession,
    action: str,
    server: str,
    name: str,
    params: Mapping[str, Any] | None,
    route: str,
    clientInfo: Any = None,
) -> MemberCall:
    """The member request C{session}'s client makes of C{server}'s C{name}
    (C{clientInfo}: the client's, C{None}: the session's)."""
    arguments = params.get("arguments") if params is not None else None
    info = clientInfo if clientInfo is not None else getattr(session, "clientInfo", None)
    client = info.get("name") if isinstance(info, dict) else None
    return MemberCall(
        action,
        server,
        name,
        arguments if isinstance(arguments, dict) else None,
        route,
        client if isinstance(client, str) else "",
    )


def calledArguments(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The arguments a member's tool is called with by C{params}: a
    C{tools/call}'s own, or the ones search mode's C{invoke} passes (an
    object, or its JSON text)."""
    arguments = params.get("arguments")
    if params.get("name") != "invoke" or not isinstance(arguments, dict):
        return arguments if isinstance(arguments, dict) else None
    inner = arguments.get("arguments")
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            return None
    return inner if isinstance(inner, dict) else None


def noFlow() -> FlowStep | None:
    """No flow step: a member call is decided by the policy alone."""
    return None
