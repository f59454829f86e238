# -*- test-case-name: tests.protocol.test_envelope,tests.protocol.test_versions -*-
"""The JSON-RPC and MCP envelope of a client message, checked before anything acts on it.

L{jsonrpc.classify} says what a message is; L{check} says whether the parts
the gateway itself reads or rewrites have the shape the specifications give
them: a request has no members but C{jsonrpc}, C{id}, C{method} and
C{params} (HTTP 400, -32600: a child's SDK drops such a message without a
word, and its caller would wait out the request timeout), C{params} an
object (or absent), C{params._meta} an object with a string or number
C{progressToken}, and the params of the methods the gateway
answers or bookkeeps itself (C{initialize}, C{logging/setLevel},
C{resources/subscribe} and C{unsubscribe}, C{notifications/cancelled}); a
response must carry exactly one of C{result} and C{error}, and a well-formed
error. A message that fails can never succeed, so it is answered at once and
never reaches a router or a child. Each check is a few dictionary lookups:
this runs for every message.

The envelope also tells which era of MCP a POSTed body belongs to
(L{eraOf}): the 2026-07-28 claim in C{params._meta}, the method, then the
C{MCP-Protocol-Version} header.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.versions import ERA2026_META_KEY, HANDSHAKE_VERSIONS

Problem = tuple[int, str]
"""The JSON-RPC error code and message to answer with."""

_ABSENT: Any = object()
_REQUEST_MEMBERS = frozenset({"jsonrpc", "id", "method", "params"})
"""The members of a JSON-RPC 2.0 request; L{checkMembers} refuses any other."""
_NAMED = 3
"""Unknown members named in an error message (the rest are counted)."""
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""MCP's log levels (RFC 5424's severities), lowest first: what
C{logging/setLevel} may ask for, and the order a child's log messages are
filtered by."""
_LEVELS = frozenset(LOG_LEVELS)
_SHOWN = 40
"""Characters of a client's value quoted back in an error message."""


def check(message: Message, kind: Kind) -> Problem | None:
    """The problem with the envelope of a classified C{message}, or C{None}."""
    if kind is Kind.REQUEST:
        return checkRequest(message)
    if kind is Kind.NOTIFICATION:
        return checkNotification(message)
    if kind is Kind.RESPONSE:
        return checkResponse(message)
    return jsonrpc.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message"


def checkRequest(message: Message) -> Problem | None:
    """A request (C{classify} said so: its id is a string or a finite number).

    A member other than C{jsonrpc}, C{id}, C{method} and C{params} is
    C{-32600} (the caller answers it with HTTP 400), named in the message;
    the rest are C{-32602} (in-band for a request with a session)."""
    problem = checkMembers(message)
    if problem is not None:
        return problem
    method = message["method"]
    params = message.get("params", _ABSENT)
    if params is _ABSENT:
        params = None
    elif type(params) is not dict:
        return _notAnObject(method, params)
    else:
        meta = params.get("_meta", _ABSENT)
        if meta is not _ABSENT:
            problem = _checkMeta(method, meta)
            if problem is not None:
                return problem
    methodCheck = _REQUESTS.get(method)
    return None if methodCheck is None else methodCheck(method, params or {})


def checkNotification(message: Message) -> Problem | None:
    """A notification (no id)."""
    method = message["method"]
    params = message.get("params", _ABSENT)
    if params is _ABSENT:
        params = None
    elif type(params) is not dict:
        return _notAnObject(method, params)
    else:
        meta = params.get("_meta", _ABSENT)
        if meta is not _ABSENT and type(meta) is not dict:
            return _invalid(method, f"params._meta must be an object, not {jsonType(meta)}")
    methodCheck = _NOTIFICATIONS.get(method)
    return None if methodCheck is None else methodCheck(method, params)


def checkResponse(message: Message) -> Problem | None:
    """A client's answer to a request the gateway relayed from a child."""
    hasResult, error = "result" in message, message.get("error", _ABSENT)
    if hasResult == (error is not _ABSENT):
        return (
            jsonrpc.INVALID_REQUEST,
            "Invalid Request: a response carries exactly one of result and error",
        )
    requestId = message["id"]
    if hasResult:
        if not _isId(requestId):
            return (
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: a response's id must be a"
                f" string or a number, not {jsonType(requestId)}",
            )
        if type(message["result"]) is not dict:
            return (
                jsonrpc.INVALID_REQUEST,
                f"Invalid Request: a result must be an object, not {jsonType(message['result'])}",
            )
        return None
    if requestId is not None and not _isId(requestId):
        return (
            jsonrpc.INVALID_REQUEST,
            "Invalid Request: a response's id must be a string,"
            f" a number or null, not {jsonType(requestId)}",
        )
    if type(error) is not dict:
        return (
            jsonrpc.INVALID_REQUEST,
            f"Invalid Request: error must be an object, not {jsonType(error)}",
        )
    code = error.get("code")
    if type(code) is not int:
        return jsonrpc.INVALID_REQUEST, "Invalid Request: error.code must be an integer"
    if type(error.get("message")) is not str:
        return jsonrpc.INVALID_REQUEST, "Invalid Request: error.message must be a string"
    return None


def checkMembers(message: Message) -> Problem | None:
    """Whether a request (C{classify} said so) has a member other than
    C{jsonrpc}, C{id}, C{method} and C{params}: C{-32600}, the first such
    member named (C{result} or C{error} before any other). L{checkRequest}
    runs it first; the 2026-07-28 side (L{mcpgateway.web.endpoints.era2026}) runs it
    alone, as it checks the rest of a request its own way."""
    if message.keys() <= _REQUEST_MEMBERS:  # no set is built on the hot path
        return None
    return _unknownMembers(message)


def _unknownMembers(message: Message) -> Problem:
    extra = sorted(message.keys() - _REQUEST_MEMBERS, key=str)
    clash = [name for name in ("result", "error") if name in message]
    if clash:
        return (
            jsonrpc.INVALID_REQUEST,
            f"Invalid Request: a request (it has a method) must not carry {clash[0]}",
        )
    named = ", ".join(shown(name) for name in extra[:_NAMED])
    more = f" and {len(extra) - _NAMED} more" if len(extra) > _NAMED else ""
    return (
        jsonrpc.INVALID_REQUEST,
        f"Invalid Request: unknown member {named}{more}: a request has only"
        " jsonrpc, id, method and params",
    )


def sessionInfoProblem(params: dict[str, Any], limit: int) -> Problem | None:
    """Whether the C{capabilities} and C{clientInfo} of an C{initialize}'s
    C{params} (checked by L{checkRequest}) are over C{limit} bytes together,
    as compact JSON: a session keeps both for its whole life, and the
    sessions file saves them (L{mcpgateway.protocol.bounds.MAX_SESSION_INFO})."""
    size = sum(len(jsonrpc.dumps(params.get(name, {}))) for name in ("capabilities", "clientInfo"))
    if size <= limit:
        return None
    return (
        jsonrpc.INVALID_REQUEST,
        f"Invalid Request: initialize's capabilities and clientInfo are {size} bytes"
        f" of JSON together, over the limit of {limit} bytes",
    )


def jsonType(value: Any) -> str:
    """The JSON name of C{value}'s type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: Any) -> str:
    """A client's value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _isId(value: Any) -> bool:
    kind = type(value)
    return kind is str or kind is int or kind is float  # finite: the parser saw to it


def _invalid(method: str, text: str) -> Problem:
    return jsonrpc.INVALID_PARAMS, f"Invalid params for {shown(method)}: {text}"


def _notAnObject(method: str, params: Any) -> Problem:
    return _invalid(method, f"params must be an object, not {jsonType(params)}")


def _checkMeta(method: str, meta: Any) -> Problem | None:
    if type(meta) is not dict:
        return _invalid(method, f"params._meta must be an object, not {jsonType(meta)}")
    token = meta.get("progressToken", _ABSENT)
    if token is not _ABSENT and not _isId(token):
        return _invalid(
            method,
            f"params._meta.progressToken must be a string or a number, not {jsonType(token)}",
        )
    return None


# -- the methods the gateway reads itself -------------------------------------------


def _initialize(method: str, params: dict[str, Any]) -> Problem | None:
    if type(params.get("protocolVersion")) is not str:
        return _invalid(method, "params.protocolVersion must be a string")
    for name in ("capabilities", "clientInfo"):
        value = params.get(name, _ABSENT)
        if value is not _ABSENT and type(value) is not dict:
            return _invalid(method, f"params.{name} must be an object, not {jsonType(value)}")
    return None


def _setLevel(method: str, params: dict[str, Any]) -> Problem | None:
    level = params.get("level")
    if type(level) is not str or level not in _LEVELS:
        return _invalid(
            method, f"params.level must be one of {', '.join(LOG_LEVELS)}, not {shown(level)}"
        )
    return None


def _uri(method: str, params: dict[str, Any]) -> Problem | None:
    uri = params.get("uri")
    if type(uri) is not str:
        return _invalid(method, f"params.uri must be a string, not {jsonType(uri)}")
    return None


def _cancelled(method: str, params: dict[str, Any] | None) -> Problem | None:
    if params is None:
        return _invalid(method, "params (with requestId) are required")
    requestId = params.get("requestId", _ABSENT)
    if requestId is not _ABSENT and not _isId(requestId):
        return _invalid(
            method, f"params.requestId must be a string or a number, not {jsonType(requestId)}"
        )
    reason = params.get("reason", _ABSENT)
    if reason is not _ABSENT and type(reason) is not str:
        return _invalid(method, f"params.reason must be a string, not {jsonType(reason)}")
    return None


_REQUESTS: dict[str, Callable[[str, dict[str, Any]], Problem | None]] = {
    "initialize": _initialize,
    "logging/setLevel": _setLevel,
    "resources/subscribe": _uri,
    "resources/unsubscribe": _uri,
}
_NOTIFICATIONS: dict[str, Callable[[str, Any], Problem | None]] = {
    "notifications/cancelled": _cancelled,
}

GATEWAY_METHODS = frozenset({"ping", *_REQUESTS, *_NOTIFICATIONS, "notifications/initialized"})
"""The methods the gateway answers or bookkeeps itself (the rest it only forwards)."""


# -- the era of a body --------------------------------------------------------


class Era(Enum):
    """Which revision family a request belongs to."""

    HANDSHAKE = "handshake"
    ERA2026 = "era2026"


def eraOf(message: Any, headerVersion: str | None) -> Era:
    """The era of one POSTed body, body first (as the SDKs classify): 2026
    when C{params._meta} carries the 2026 protocol version (a claim, any
    value: a malformed one is refused as 2026), or the method is
    C{server/discover}, or the C{MCP-Protocol-Version} header names a
    revision outside L{HANDSHAKE_VERSIONS} (a claim-less request then gets
    400/-32602); handshake otherwise. C{initialize} without the claim is handshake
    whatever the header says (the handshake by definition), and so is a body
    with an C{Mcp-Session-Id} but no claim (the header is the caller's, and
    it does not count here)."""
    if isinstance(message, dict):
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        if isinstance(meta, dict) and ERA2026_META_KEY in meta:
            return Era.ERA2026
        method = message.get("method")
        if method == "initialize":
            return Era.HANDSHAKE
        if method == "server/discover":
            return Era.ERA2026
    if headerVersion is not None and headerVersion not in HANDSHAKE_VERSIONS:
        return Era.ERA2026
    return Era.HANDSHAKE


def isEra2026Request(message: dict[str, Any]) -> bool:
    """A 2026-era request by its body alone: C{server/discover}, or one
    carrying the 2026 protocol version in C{_meta}. It must never reach a
    child."""
    return eraOf(message, None) is Era.ERA2026
