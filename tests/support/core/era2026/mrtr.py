"""What tests/core/era2026/test_mrtr.py shares with the other tests: ACCEPT,
ALL_CAPS, BridgeCase, ELICIT, TIMEOUT, ok."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.era2026.mrtr import COALESCE, InputBridge
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.protocol import childhints, jsonrpc
from mcpgateway.protocol.requeststate import StateCodec
from tests.fakes import RecordingSink
from tests.support.core.shared_router import SharedRouterCase

Message = dict[str, Any]
ALL_CAPS: dict[str, Any] = {
    "sampling": {},
    "roots": {"listChanged": True},
    "elicitation": {"form": {}, "url": {}},
}
ARGS = {"when": "tomorrow"}
SCHEMA = {"type": "object", "properties": {"date": {"type": "string"}}}
ELICIT = {"message": "Date full. Other?", "requestedSchema": SCHEMA}


ACCEPT = {"action": "accept", "content": {"date": "2026-09-02"}}


TIMEOUT = 10.0


def ok(requestId: Any, result: Any) -> Message:
    return jsonrpc.resultResponse(requestId, result)


class BridgeCase(SharedRouterCase):
    """A shared child's router (server C{srv}), a bridge in front of it, and
    a pretend child (what the gateway wrote to it is in C{sent})."""

    server = "srv"
    timeout = TIMEOUT
    maxSuspended = 256

    def setUp(self) -> None:
        super().setUp()
        self.bridge = InputBridge(
            "srv", self.clock, StateCodec(b"k" * 32), ttl=600.0, maxSuspended=self.maxSuspended
        )

    def request(
        self,
        clientId: Any,
        *,
        token: Any = None,
        caps: dict[str, Any] | None = None,
        method: str = "tools/call",
        name: str = "book",
        arguments: Any = ARGS,
        state: str | None = None,
        responses: dict[str, Any] | None = None,
        logLevel: str | None = None,
    ) -> Era2026Request:
        params: dict[str, Any] = {}
        if method == "resources/read":
            params["uri"] = name
        elif method in ("tools/call", "prompts/get"):
            params["name"] = name
            params["arguments"] = arguments
        if token is not None:
            params["_meta"] = {"progressToken": token}
        return Era2026Request(
            clientId=clientId,
            method=method,
            params=params,
            capabilities=ALL_CAPS if caps is None else caps,
            logLevel=logLevel,
            inputResponses=responses,
            requestState=state,
        )

    def call(
        self, clientId: Any, **kwargs: Any
    ) -> tuple[Deferred[Message], RecordingSink, Message | None]:
        """One round; with the message the child got for it, if any."""
        sink = RecordingSink()
        d = self.bridge.call(self.router, self.request(clientId, **kwargs), sink)
        sent = self.take()
        return d, sink, sent[-1] if sent else None

    def ask(
        self,
        childId: int,
        method: str = "elicitation/create",
        params: dict[str, Any] | None = None,
        *,
        related: Any = None,
        key: Any = None,
        optional: bool = False,
    ) -> None:
        """The child asks the client something."""
        params = dict(ELICIT if params is None and method == "elicitation/create" else params or {})
        meta: dict[str, Any] = {}
        if related is not None:
            meta[childhints.HINT_RELATED] = related
        if key is not None:
            meta[childhints.HINT_KEY] = key
        if optional:
            meta[childhints.HINT_OPTIONAL] = True
        if meta:
            params["_meta"] = meta
        self.router.childMessage(jsonrpc.request(childId, method, params or None))

    def inputRequired(self, d: Deferred[Message], clientId: Any) -> tuple[dict[str, Any], str]:
        """The round's C{InputRequiredResult}: its requests and its token."""
        response = self.successResultOf(d)
        self.assertEqual(response["id"], clientId)
        result = response["result"]
        self.assertEqual(result["resultType"], "input_required")
        self.assertEqual(set(result), {"resultType", "inputRequests", "requestState"})
        return result["inputRequests"], result["requestState"]

    def suspendOnElicitation(self) -> tuple[Message, str, RecordingSink]:
        """Call 7 (token 7) suspended on one elicitation (child id 5); the
        child's call and the token."""
        d, sink, call = self.call(7, token=7)
        assert call is not None
        self.ask(5)
        self.clock.advance(COALESCE)
        _, state = self.inputRequired(d, 7)
        return call, state, sink
