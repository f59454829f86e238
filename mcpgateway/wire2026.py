# -*- test-case-name: tests.test_wire2026 -*-
"""The MCP 2026-07-28 wire vocabulary: what a modern request must carry, and
what a modern answer looks like.

One job: pure functions over decoded JSON-RPC messages and header maps, with
no Twisted and no I/O. The web's modern endpoint (L{mcpgateway.web.modern})
uses the checks (each returns a L{Problem} or C{None}, first failure wins, in
the order the transport spec's status table gives); the core's bridge
(L{mcpgateway.core.mrtr}) uses the builders (C{resultType}, cache hints,
C{InputRequiredResult} pieces, error translation).

The gateway's own conventions for legacy child servers (documented in
C{docs/era.md}) are the three C{mcpgateway/...} keys of a child request's
C{_meta}: L{HINT_RELATED}, L{HINT_KEY}, L{HINT_OPTIONAL}. They are stripped
from anything a client sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.jsonrpc import Message

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
ENVELOPE_KEYS = (PROTOCOL_VERSION_KEY, CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY)

HINT_RELATED = "mcpgateway/relatedRequestId"
"""In a child request's C{_meta}: the child-side id of the client request it
serves (routes it exactly, even with several callers in flight)."""
HINT_KEY = "mcpgateway/inputKey"
"""In a child request's C{_meta}: the key it gets in C{inputRequests}."""
HINT_OPTIONAL = "mcpgateway/optional"
"""In a child request's C{_meta}: C{true} when the child can do without the
answer (a missing client capability refuses only that request)."""

MODERN_METHODS = frozenset(
    {
        "server/discover",
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "completion/complete",
        "subscriptions/listen",
    }
)
"""The client requests a 2026-07-28 server answers."""
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
"""Results that carry C{ttlMs} and C{cacheScope}."""
MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
"""Requests whose result may be an C{InputRequiredResult}."""
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The methods whose C{Mcp-Name} header names C{params[key]}."""

Problem = tuple[int, str, Any]
"""A refusal: JSON-RPC code, message, C{data} (C{None}: none)."""


def checkEnvelope(message: Message) -> Problem | None:
    """The C{_meta} envelope of a modern request (400/-32602 on a bad one)."""
    raise NotImplementedError


def checkHeaders(message: Message, headers: Mapping[str, list[str]]) -> Problem | None:
    """The routing headers against the body (400/-32020); C{headers} maps
    lower-case names to every value received."""
    raise NotImplementedError


def checkVersion(message: Message) -> Problem | None:
    """The request's protocol version is a modern one we serve (400/-32022,
    C{data: {supported, requested}})."""
    raise NotImplementedError


def checkParamHeaders(
    arguments: Any, xHeaders: Mapping[str, str], headers: Mapping[str, list[str]]
) -> Problem | None:
    """C{Mcp-Param-*} headers of a C{tools/call} against its arguments
    (C{xHeaders}: header name to argument name, from L{xHeaderMap})."""
    raise NotImplementedError


def xHeaderMap(tool: Mapping[str, Any]) -> dict[str, str]:
    """Header name to argument name, from a tool's C{inputSchema}
    (C{x-mcp-header} annotations)."""
    raise NotImplementedError


def decodeNameHeader(value: str) -> str | None:
    """A header value as sent (C{=?base64?...?=} sentinel decoded); C{None}
    when invalid."""
    raise NotImplementedError


def httpStatus(code: int) -> int:
    """The HTTP status of a modern error answer with JSON-RPC C{code}."""
    raise NotImplementedError


def stripEnvelope(params: dict[str, Any]) -> dict[str, Any]:
    """C{params} as a legacy child gets them: the envelope keys,
    C{inputResponses} and C{requestState} removed (a copy)."""
    raise NotImplementedError


def completeResult(
    method: str, result: dict[str, Any], serverInfo: dict[str, Any] | None, cacheScope: str
) -> dict[str, Any]:
    """A child's result as a modern client gets it: C{resultType:
    "complete"}, cache hints on L{CACHEABLE}, the server info in C{_meta}."""
    raise NotImplementedError


def translateError(error: dict[str, Any]) -> dict[str, Any]:
    """A child's JSON-RPC error object in the 2026 code space."""
    raise NotImplementedError


def discoverResult(initialize: dict[str, Any], cacheScope: str) -> dict[str, Any]:
    """The C{DiscoverResult} of a child from its cached C{InitializeResult}."""
    raise NotImplementedError


def inputRequest(childRequest: Message) -> tuple[str | None, dict[str, Any]]:
    """A child's request as an entry of C{inputRequests}: (its key hint, or
    C{None}; C{{"method", "params"}})."""
    raise NotImplementedError


def missingCapability(childRequest: Message, caps: Mapping[str, Any]) -> dict[str, Any] | None:
    """The client capabilities C{childRequest} needs that C{caps} lacks (the
    C{requiredCapabilities} of a -32021), or C{None}."""
    raise NotImplementedError


def inputResponseProblem(method: str, value: Any) -> str | None:
    """Why C{value} is not a valid answer to a child request of C{method}."""
    raise NotImplementedError


def tagged(message: Message, subscriptionId: Any) -> Message:
    """A notification of a listen stream, tagged with its subscription id."""
    raise NotImplementedError


def acknowledged(subscriptionId: Any, honoured: dict[str, Any]) -> Message:
    """The first notification of a listen stream: what it will carry."""
    raise NotImplementedError
