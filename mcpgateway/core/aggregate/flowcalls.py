# -*- test-case-name: tests.web.endpoints.test_aggregate_flow -*-
"""The flow rule on the member calls of the aggregate: L{flowCall}.

A C{tools/call} of C{/mcp} that its view routes to a member, and search
mode's C{invoke} (which calls one), is a call of that member's tool: the
gateway's one flow step (L{mcpgateway.flow.step.FlowStep}) decides it as
the same call made on C{/<server>/mcp} would be decided:

 - the tool's labels are the member server's, for the member's own name
   of the tool (never the name the aggregate shows);
 - the client is the aggregate session's (L{FlowStep.keyOf}: its pid on a
   laptop, its principal and client's name on a team gateway), so what a
   client gathered through C{/mcp} and through a server's route meets; a
   member session, which only the aggregate knows, gathers nothing;
 - an allowed call goes on, and a result it gets (not a JSON-RPC error)
   adds the tool's C{untrusted} and C{private} to what the client
   gathered, before the result goes on to the client;
 - a held call is held as the member's (its server, its tool, its
   arguments: a person's yes is good for the same call on the server's
   route too) and waits as there: allowed in time it goes on, else it is
   answered with the step's denial as the tool's result; its session
   ending while it waits, it ends as a cancelled request (no answer). The
   call of a task (search mode's C{invoke} with C{"async": true}) waits
   in its task, as long as the held call may.

The aggregate's own tools (C{search}, C{describe}, C{get_result}) reach no
member tool and carry no labels. An inactive step (no server served gives
C{private}, or the default rule is off) costs a call one attribute read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.session import AggregateSession
    from mcpgateway.flow.step import FlowStep

__all__ = ["flowCall"]


def flowCall(
    flow: FlowStep | None,
    session: AggregateSession,
    server: str,
    params: Mapping[str, Any],
    call: Callable[[], Deferred[Message]],
    denied: Callable[[dict[str, Any]], Message],
    bounded: bool = True,
) -> Deferred[Message]:
    """Make the member call C{call()} of C{session} as the flow rule lets
    it: at once, or once a person allowed it; its answer's result recorded
    for the session's client.

    @param flow: the gateway's flow step (C{None}: none; C{call()} at once).
    @param server: the member server the call reaches.
    @param params: the call's C{params} as the member gets them (its own
        name of the tool, the arguments, the caller's C{_meta}).
    @param call: makes the member call; fires with the member's answer.
    @param denied: the answer made of a denial (a C{CallToolResult}).
    @param bounded: whether a held call waits at most the step's bound
        (its caller waits on it), or until a person decides (the call of
        a task, whose time to live bounds it).
    @return: fires with the member's answer or C{denied}'s; fails with
        C{CancelledError} when the session ended while the call was held.
    """
    if flow is None or not flow.active:
        return call()
    answer: Deferred[Message] = flow.through(session, server, params, call, denied, bounded)
    return answer
