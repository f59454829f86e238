# -*- test-case-name: tests.protocol.test_era2026form -*-
"""The MCP 2026-07-28 wire vocabulary: what a 2026 request must carry, and
what a 2026 answer looks like.

One job: pure functions over decoded JSON-RPC messages and header maps, with
no Twisted and no I/O. The web's 2026 endpoint (L{mcpgateway.web.endpoints.era2026})
uses the checks (each returns a L{Problem} or C{None}, first failure wins, in
the order the transport spec's status table gives); the core's bridge
(L{mcpgateway.core.era2026.mrtr}) uses the builders (C{resultType}, cache hints,
C{InputRequiredResult} pieces, error translation).

The gateway's own conventions for handshake child servers (documented in
C{docs/design/era.md}), the three C{mcpgateway/...} keys of a child request's
C{_meta}, are L{mcpgateway.protocol.childhints}'s, and a tool's
C{Mcp-Param-*} header map is read by L{mcpgateway.protocol.paramheaders}:
the 2025-era path uses both, without this module.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.protocol.childhints import HINT_KEY
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Message

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
ENVELOPE_KEYS = (PROTOCOL_VERSION_KEY, CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY)

ERA2026_METHODS = frozenset(
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
SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
"""The Skills extension (SEP-2640): its key in C{capabilities.extensions}."""
SKILLS_METHODS = frozenset({"skills/list", "skills/get", "resources/directory/read"})
"""The Skills extension's requests: passed to a server that declares the
extension (C{resources/directory/read} to one that declares C{directoryRead})."""
APPS_EXTENSION = "io.modelcontextprotocol/ui"
"""MCP Apps: its requests are the host's and the app's, never a server's;
what a server declares under it (the MIME types it serves) is kept."""
PASSED_EXTENSIONS = (SKILLS_EXTENSION, APPS_EXTENSION)
"""The extensions of a server's capabilities its C{server/discover} keeps:
their requests pass to it."""
SKILLS_CACHEABLE = frozenset({"skills/list", "skills/get", "resources/directory/read"})
"""The Skills extension's results that carry C{ttlMs} and C{cacheScope}
(a directory's too, as C{resources/list} does: the TypeScript SDK requires
them there)."""
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        *SKILLS_CACHEABLE,
    }
)
"""Results that carry C{ttlMs} and C{cacheScope}."""
MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
"""Requests whose result may be an C{InputRequiredResult}."""
TASK_METHODS = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
"""The Tasks extension's requests (C{io.modelcontextprotocol/tasks}; it has no
C{tasks/result} and no C{tasks/list})."""
NAMED_METHODS = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    **{method: "taskId" for method in sorted(TASK_METHODS)},
}
"""The methods whose C{Mcp-Name} header names C{params[key]}."""

Problem = tuple[int, str, Any]
"""A refusal: JSON-RPC code, message, C{data} (C{None}: none)."""

INPUT_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a child's L{HINT_KEY} may be."""

_SENTINEL = re.compile(r"=\?base64\?(.*)\?=", re.DOTALL)
_VISIBLE = re.compile(r"[\x20-\x7e]*")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_OWS = " \t"
_ROUTING = ("mcp-protocol-version", "mcp-method", "mcp-name")
_PARAM_PREFIX = "mcp-param-"
_CAPABILITIES = ("tools", "prompts", "resources", "completions", "logging", "experimental")

_STATUS = {
    jsonrpc.PARSE_ERROR: 400,
    jsonrpc.INVALID_REQUEST: 400,
    jsonrpc.INVALID_PARAMS: 400,
    jsonrpc.HEADER_MISMATCH: 400,
    jsonrpc.MISSING_CAPABILITY: 400,
    jsonrpc.UNSUPPORTED_VERSION: 400,
    jsonrpc.METHOD_NOT_FOUND: 404,
}
_DEFINED_2026 = frozenset(
    {jsonrpc.HEADER_MISMATCH, jsonrpc.MISSING_CAPABILITY, jsonrpc.UNSUPPORTED_VERSION}
)
"""The codes of the spec's reserved range (-32020..-32099) that 2026-07-28 defines."""
RESOURCE_NOT_FOUND = -32002
"""2025's "resource not found" (2026: -32602)."""
URL_ELICITATION_REQUIRED = jsonrpc.URL_ELICITATION_REQUIRED
"""2025-11-25's C{URLElicitationRequiredError} (removed in 2026)."""


def _meta(message: Any) -> Mapping[str, Any]:
    """C{params._meta} of C{message}, or an empty mapping."""
    params = message.get("params") if isinstance(message, Mapping) else None
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _shown(value: Any) -> str:
    """C{value} for an error message: short, and printable."""
    text = value if isinstance(value, str) else type(value).__name__
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return repr(text[:64] + ("..." if len(text) > 64 else ""))


def checkEnvelope(message: Message) -> Problem | None:
    """The C{_meta} envelope of a 2026 request (400/-32602 on a bad one):
    C{params} and C{params._meta} objects, C{protocolVersion} a string,
    C{clientCapabilities} an object, C{clientInfo} (optional) an object,
    C{logLevel} (optional) one of L{LOG_LEVELS}."""

    def bad(text: str) -> Problem:
        return (jsonrpc.INVALID_PARAMS, f"Invalid params: {text}", None)

    params = message.get("params")
    if not isinstance(params, dict):
        return bad("a 2026-07-28 request needs params with the _meta envelope")
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return bad("params._meta must be an object carrying the request envelope")
    if PROTOCOL_VERSION_KEY not in meta:
        return bad(f"params._meta is missing {PROTOCOL_VERSION_KEY}")
    if not isinstance(meta[PROTOCOL_VERSION_KEY], str):
        return bad(f"{PROTOCOL_VERSION_KEY} must be a string")
    if CAPABILITIES_KEY not in meta:
        return bad(f"params._meta is missing {CAPABILITIES_KEY}")
    if not isinstance(meta[CAPABILITIES_KEY], dict):
        return bad(f"{CAPABILITIES_KEY} must be an object")
    if CLIENT_INFO_KEY in meta and not isinstance(meta[CLIENT_INFO_KEY], dict):
        return bad(f"{CLIENT_INFO_KEY} must be an object")
    if LOG_LEVEL_KEY in meta and meta[LOG_LEVEL_KEY] not in LOG_LEVELS:
        return bad(f"{LOG_LEVEL_KEY} must be one of {', '.join(LOG_LEVELS)}")
    return None


def _mismatch(text: str) -> Problem:
    return (jsonrpc.HEADER_MISMATCH, f"Header mismatch: {text}", None)


def _single(headers: Mapping[str, list[str]], name: str) -> tuple[bool, str | None]:
    """(usable, value) of header C{name}: unusable when repeated or not
    visible ASCII; the value has its optional white space trimmed, C{None}
    when absent."""
    values = headers.get(name) or []
    if len(values) > 1:
        return False, None
    if not values:
        return True, None
    value = values[0].strip(_OWS)
    return _VISIBLE.fullmatch(value) is not None, value


def checkHeaders(message: Message, headers: Mapping[str, list[str]]) -> Problem | None:
    """The routing headers against the body (400/-32020); C{headers} maps
    lower-case names to every value received.

    C{MCP-Protocol-Version} must equal the envelope's version, C{Mcp-Method}
    the method, and C{Mcp-Name} (its C{=?base64?...?=} sentinel decoded) the
    C{name} or C{uri} of the requests in L{NAMED_METHODS} (when the body has
    a string there: a missing one is the params check's). No routing header
    may be repeated or carry anything but visible ASCII. Values are compared
    case-sensitively, optional white space around them excluded."""
    for name in _ROUTING:
        usable, _ = _single(headers, name)
        if not usable:
            return _mismatch(f"the {name} header is repeated or not visible ASCII")
    _, version = _single(headers, "mcp-protocol-version")
    claimed = _meta(message).get(PROTOCOL_VERSION_KEY)
    if version is None:
        return _mismatch("the MCP-Protocol-Version header is missing")
    if version != claimed:
        return _mismatch(
            f"MCP-Protocol-Version header {_shown(version)} does not match the request's"
            f" protocol version {_shown(claimed)}"
        )
    _, method = _single(headers, "mcp-method")
    if method is None:
        return _mismatch("the Mcp-Method header is missing")
    if method != message.get("method"):
        return _mismatch(
            f"Mcp-Method header {_shown(method)} does not match the body's method"
            f" {_shown(message.get('method'))}"
        )
    key = NAMED_METHODS.get(method)
    params = message.get("params")
    body = params.get(key) if key is not None and isinstance(params, dict) else None
    if isinstance(body, str):
        _, raw = _single(headers, "mcp-name")
        if raw is None:
            return _mismatch(f"the Mcp-Name header is missing (the body's {key} is set)")
        if decodeNameHeader(raw) != body:
            return _mismatch(
                f"Mcp-Name header {_shown(raw)} does not match the body's {key} {_shown(body)}"
            )
    return None


def checkVersion(message: Message) -> Problem | None:
    """The request's protocol version is a 2026 one we serve (400/-32022,
    C{data: {supported, requested}}). C{supported} lists the revisions this
    path serves (L{versions.ERA2026_VERSIONS}, as C{server/discover} says:
    clients and the conformance suite check that the two agree); the
    handshake revisions are reached through C{initialize} instead."""
    requested = _meta(message).get(PROTOCOL_VERSION_KEY)
    if requested in versions.ERA2026_VERSIONS:
        return None
    return (
        jsonrpc.UNSUPPORTED_VERSION,
        "Unsupported protocol version",
        {"supported": list(versions.ERA2026_VERSIONS), "requested": requested},
    )


def _rendered(value: Any) -> str | None:
    """An argument as a client mirrors it into a header (C{None}: it cannot)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _matches(value: Any, decoded: str) -> bool:
    """Whether a decoded C{Mcp-Param-*} value agrees with its argument
    (numbers numerically: C{42} matches C{42.0})."""
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and _DECIMAL.fullmatch(decoded) is not None
        and Decimal(decoded) == Decimal(value if isinstance(value, int) else repr(value))
    ):
        return True
    return decoded == _rendered(value)


def checkParamHeaders(
    arguments: Any, xHeaders: Mapping[str, str], headers: Mapping[str, list[str]]
) -> Problem | None:
    """C{Mcp-Param-*} headers of a C{tools/call} against its arguments
    (C{xHeaders}: header name to argument name, from
    L{mcpgateway.protocol.paramheaders.xHeaderMap}).

    Each annotated argument and its header go together: a missing header for
    a present argument, a header for an absent (or C{null}) argument, a
    repeated header, a header that is not visible ASCII or a malformed
    sentinel, or a value that differs are a 400/-32020. C{Mcp-Param-*}
    headers the tool does not annotate are ignored (as the Python SDK does)."""
    args = arguments if isinstance(arguments, Mapping) else {}
    for token, argument in xHeaders.items():
        name = f"Mcp-Param-{token}"
        usable, raw = _single(headers, _PARAM_PREFIX + token.lower())
        if not usable:
            return _mismatch(f"the {name} header is repeated or not visible ASCII")
        value = args.get(argument)
        rendered = None if value is None else _rendered(value)
        if rendered is None:
            if raw is not None:
                return _mismatch(f"{name} header is set but the {argument!r} argument is not")
            continue
        if raw is None:
            return _mismatch(f"the {name} header is missing (the {argument!r} argument is set)")
        decoded = decodeNameHeader(raw)
        if decoded is None or not _matches(value, decoded):
            return _mismatch(f"{name} header does not match the {argument!r} argument")
    return None


def encodeNameHeader(value: str) -> str:
    """C{value} as a header carries it: verbatim when it is visible ASCII
    without white space at its ends and does not look like the sentinel,
    else C{=?base64?...?=} (UTF-8, standard alphabet, padded)."""
    if (
        _VISIBLE.fullmatch(value) is not None
        and value == value.strip(_OWS)
        and _SENTINEL.fullmatch(value) is None
    ):
        return value
    encoded = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
    return f"=?base64?{encoded}?="


def decodeNameHeader(value: str) -> str | None:
    """A header value as sent (C{=?base64?...?=} sentinel decoded); C{None}
    when invalid (bad or non-canonical base64, not UTF-8). A value without
    both ends of the sentinel is literal."""
    match = _SENTINEL.fullmatch(value)
    if match is None:
        return value
    payload = match.group(1)
    try:
        decoded = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(decoded).decode("ascii") != payload:
        return None
    try:
        return decoded.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def httpStatus(code: int) -> int:
    """The HTTP status of a 2026 error answer with JSON-RPC C{code}:
    400 for -32700, -32600, -32602, -32020, -32021 and -32022, 404 for
    -32601, 200 (in band) for anything else."""
    return _STATUS.get(code, 200)


def stripEnvelope(params: dict[str, Any]) -> dict[str, Any]:
    """C{params} as a handshake child gets them: the envelope keys,
    C{inputResponses} and C{requestState} removed (a copy; C{_meta} goes
    when nothing else, such as C{progressToken}, is left in it)."""
    stripped = {
        key: value for key, value in params.items() if key not in ("inputResponses", "requestState")
    }
    meta = stripped.get("_meta")
    if isinstance(meta, dict):
        kept = {
            key: value
            for key, value in meta.items()
            if key not in ENVELOPE_KEYS and key != SUBSCRIPTION_ID_KEY
        }
        if kept:
            stripped["_meta"] = kept
        else:
            del stripped["_meta"]
    return stripped


def _withServerInfo(result: dict[str, Any], serverInfo: dict[str, Any] | None) -> None:
    """Put C{serverInfo} into C{result["_meta"]} (a copy), keeping every key
    already there."""
    meta = result.get("_meta")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if serverInfo is not None:
        meta.setdefault(SERVER_INFO_KEY, serverInfo)
    if meta:
        result["_meta"] = meta
    else:
        result.pop("_meta", None)


def completeResult(
    method: str, result: dict[str, Any], serverInfo: dict[str, Any] | None, cacheScope: str
) -> dict[str, Any]:
    """A child's result as a 2026 client gets it (a copy): C{resultType:
    "complete"}, cache hints (C{ttlMs: 0}, or the child's own on
    L{SKILLS_CACHEABLE}; C{cacheScope}, C{private} when the child itself
    said so, whatever C{cacheScope}) on L{CACHEABLE}, the
    server info in C{_meta} (the child's own C{_meta} keys kept), the 2025
    task vocabulary (C{tools[*].execution}) removed."""
    done = dict(result)
    done["resultType"] = "complete"
    if method in CACHEABLE:
        ttl = result.get("ttlMs")
        keep = method in SKILLS_CACHEABLE and type(ttl) is int and ttl >= 0
        done["ttlMs"] = ttl if keep else 0  # a skills result keeps the child's own
        done["cacheScope"] = "private" if result.get("cacheScope") == "private" else cacheScope
    else:
        done.pop("ttlMs", None)
        done.pop("cacheScope", None)
    if method == "tools/list" and isinstance(done.get("tools"), list):
        done["tools"] = [
            {key: value for key, value in tool.items() if key != "execution"}
            if isinstance(tool, dict)
            else tool
            for tool in done["tools"]
        ]
    _withServerInfo(done, serverInfo)
    return done


def translateError(error: dict[str, Any]) -> dict[str, Any]:
    """A child's JSON-RPC error object in the 2026 code space (a copy):
    -32002 (resource not found) becomes -32602 with its C{data}; a code of
    the spec's reserved range (-32020..-32099) that 2026-07-28 does not
    define (-32042 among them) becomes -32603 with the original in
    C{data.original}; everything else passes."""
    code = error.get("code")
    if code == RESOURCE_NOT_FOUND:
        return {**error, "code": jsonrpc.INVALID_PARAMS}
    if (
        isinstance(code, int)
        and not isinstance(code, bool)
        and -32099 <= code <= -32020
        and code not in _DEFINED_2026
    ):
        translated: dict[str, Any] = {
            "code": jsonrpc.INTERNAL_ERROR,
            "message": error.get("message", ""),
            "data": {"original": dict(error)},
        }
        return translated
    return dict(error)


def discoverResult(initialize: dict[str, Any], cacheScope: str) -> dict[str, Any]:
    """The C{DiscoverResult} of a child from its cached C{InitializeResult}:
    the 2026 versions served, the child's capabilities but C{tasks} (and
    anything 2026 does not define; of its C{extensions}, those of
    L{PASSED_EXTENSIONS}), its instructions, its
    C{serverInfo} in C{_meta}, cache hints, C{resultType}."""
    childCaps = initialize.get("capabilities")
    childCaps = childCaps if isinstance(childCaps, dict) else {}
    capabilities = {
        name: childCaps[name]
        for name in _CAPABILITIES
        if name in childCaps and isinstance(childCaps[name], dict)
    }
    extensions = childCaps.get("extensions")
    kept = {
        key: dict(value)
        for key, value in (extensions.items() if isinstance(extensions, dict) else ())
        if key in PASSED_EXTENSIONS and isinstance(value, dict)
    }
    if kept:
        capabilities["extensions"] = kept
    result: dict[str, Any] = {
        "resultType": "complete",
        "supportedVersions": list(versions.ERA2026_VERSIONS),
        "capabilities": capabilities,
    }
    instructions = initialize.get("instructions")
    if isinstance(instructions, str):
        result["instructions"] = instructions
    serverInfo = initialize.get("serverInfo")
    if isinstance(serverInfo, dict):
        result["_meta"] = {SERVER_INFO_KEY: serverInfo}
    result["ttlMs"] = 0
    result["cacheScope"] = cacheScope
    return result


def skillsSettings(capabilities: Any) -> dict[str, Any] | None:
    """The settings a server's C{capabilities} declare the Skills extension
    with (a copy), or C{None} when they do not declare it as an object."""
    if not isinstance(capabilities, Mapping):
        return None
    extensions = capabilities.get("extensions")
    settings = extensions.get(SKILLS_EXTENSION) if isinstance(extensions, Mapping) else None
    return dict(settings) if isinstance(settings, Mapping) else None


def skillsRefusal(method: str, capabilities: Any) -> str | None:
    """Why a server with C{capabilities} is not sent Skills request
    C{method} (it does not declare the extension, or not C{directoryRead}
    for C{resources/directory/read}), or C{None}."""
    if method not in SKILLS_METHODS:
        return None
    settings = skillsSettings(capabilities)
    if settings is None:
        return f"the {SKILLS_EXTENSION} extension"
    if method == "resources/directory/read" and settings.get("directoryRead") is not True:
        return f"directoryRead of the {SKILLS_EXTENSION} extension"
    return None


def inputKeyHint(childRequest: Message) -> str | None:
    """The child's L{HINT_KEY} when it is a usable key, else C{None}."""
    hint = _meta(childRequest).get(HINT_KEY)
    return hint if isinstance(hint, str) and INPUT_KEY.fullmatch(hint) else None


def inputRequest(childRequest: Message) -> tuple[str | None, dict[str, Any]]:
    """A child's request as an entry of C{inputRequests}: (its key hint, or
    C{None}; C{{"method", "params"}}).

    The params lose what 2026 does not have there (C{_meta}, with the
    gateway's hints; C{elicitationId}; C{task}); an elicitation without a
    C{mode} gets C{"form"}; a C{roots/list} with nothing left has no params."""
    method = childRequest.get("method")
    params = childRequest.get("params")
    kept = {
        key: value
        for key, value in (params.items() if isinstance(params, dict) else ())
        if key not in ("_meta", "elicitationId", "task")
    }
    if method == "elicitation/create":
        kept.setdefault("mode", "form")
    entry: dict[str, Any] = {"method": method}
    if kept or method != "roots/list":
        entry["params"] = kept
    return inputKeyHint(childRequest), entry


def _declared(caps: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = caps.get(name)
    return value if isinstance(value, Mapping) else None


def missingCapability(childRequest: Message, caps: Mapping[str, Any]) -> dict[str, Any] | None:
    """The client capabilities C{childRequest} needs that C{caps} lacks (the
    C{requiredCapabilities} of a -32021), or C{None}.

    C{sampling/createMessage} needs C{sampling}, and C{sampling.tools} when
    it carries C{tools} or C{toolChoice}; C{elicitation/create} needs
    C{elicitation.url} in URL mode and form support otherwise (C{form}, or
    an empty C{elicitation} object); C{roots/list} needs C{roots}. Other
    methods need nothing here."""
    method = childRequest.get("method")
    params = childRequest.get("params")
    params = params if isinstance(params, dict) else {}
    if method == "sampling/createMessage":
        sampling = _declared(caps, "sampling")
        wantsTools = "tools" in params or "toolChoice" in params
        if wantsTools and (sampling is None or _declared(sampling, "tools") is None):
            return {"sampling": {"tools": {}}}
        if sampling is None:
            return {"sampling": {}}
        return None
    if method == "elicitation/create":
        elicitation = _declared(caps, "elicitation")
        if params.get("mode") == "url":
            if elicitation is None or _declared(elicitation, "url") is None:
                return {"elicitation": {"url": {}}}
            return None
        if elicitation is None:
            return {"elicitation": {}}
        formOnly = "form" not in elicitation and "url" not in elicitation
        if not formOnly and _declared(elicitation, "form") is None:
            return {"elicitation": {"form": {}}}
        return None
    if method == "roots/list" and _declared(caps, "roots") is None:
        return {"roots": {}}
    return None


def inputResponseProblem(method: str, value: Any) -> str | None:
    """Why C{value} is not a valid answer to a child request of C{method}
    (C{None}: it is): an C{ElicitResult} has an C{action} of accept, decline
    or cancel and an object C{content} only on accept; a
    C{CreateMessageResult} has a C{role}, a C{content} and a C{model}; a
    C{ListRootsResult} has a C{roots} array of objects with a string
    C{uri}."""
    if not isinstance(value, dict):
        return "an input response must be an object"
    if method == "elicitation/create":
        action = value.get("action")
        if action not in ("accept", "decline", "cancel"):
            return "an elicitation response needs an action of accept, decline or cancel"
        if "content" in value and (action != "accept" or not isinstance(value["content"], dict)):
            return "an elicitation response has an object content only when it accepts"
        return None
    if method == "sampling/createMessage":
        if value.get("role") not in ("user", "assistant"):
            return "a sampling response needs a role of user or assistant"
        if not isinstance(value.get("content"), (dict, list)):
            return "a sampling response needs a content"
        if not isinstance(value.get("model"), str):
            return "a sampling response needs a model"
        return None
    if method == "roots/list":
        roots = value.get("roots")
        if not isinstance(roots, list) or not all(
            isinstance(root, dict) and isinstance(root.get("uri"), str) for root in roots
        ):
            return "a roots response needs a roots array of objects with a uri"
        return None
    return None


def tagged(message: Message, subscriptionId: Any) -> Message:
    """A notification of a listen stream, tagged with its subscription id (a
    copy: the same child notification goes to several streams)."""
    params = message.get("params")
    params = dict(params) if isinstance(params, dict) else {}
    meta = params.get("_meta")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta[SUBSCRIPTION_ID_KEY] = subscriptionId
    params["_meta"] = meta
    return {**message, "params": params}


def acknowledged(subscriptionId: Any, honoured: dict[str, Any]) -> Message:
    """The first notification of a listen stream: what it will carry."""
    return {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {SUBSCRIPTION_ID_KEY: subscriptionId}, "notifications": honoured},
    }


def era2026Answer(
    method: str, response: Message, serverInfo: dict[str, Any] | None, cacheScope: str
) -> Message:
    """A handshake child's answer to a 2026 request, as the client gets it: a result with its
    C{resultType} (and cache hints, server info), an error in the 2026 code
    space. An C{InputRequiredResult} gets the server info only."""
    error = response.get("error")
    if isinstance(error, dict):
        return {**response, "error": translateError(error)}
    result = response.get("result")
    if not isinstance(result, dict):
        return jsonrpc.errorResponse(
            response.get("id"), jsonrpc.INTERNAL_ERROR, "the server's result is not an object"
        )
    if result.get("resultType") == "input_required":
        if serverInfo is not None:
            meta = result.get("_meta")
            meta = {**(meta if isinstance(meta, dict) else {})}
            meta.setdefault(SERVER_INFO_KEY, serverInfo)
            result = {**result, "_meta": meta}
        return {**response, "result": result}
    return {**response, "result": completeResult(method, result, serverInfo, cacheScope)}
