# -*- test-case-name: tests.test_jsonrpc -*-
"""The JSON-RPC 2.0 message model: parse, classify, build.

The only module that knows the shape of a JSON-RPC message. Messages are plain
C{dict}s (parsed once, never re-validated downstream); this module says what a
message is and builds the error objects the gateway sends.
"""

from __future__ import annotations

import json
import math
import re
from enum import Enum
from functools import lru_cache
from itertools import accumulate
from typing import Any

from mcpgateway.limits import MAX_DEPTH, MAX_NUMBER_DIGITS

Message = dict[str, Any]
"""One decoded JSON-RPC message."""

# Standard JSON-RPC error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined server errors used by the gateway (-32000 to -32019;
# MCP reserves -32020 and below, and gives -32002 a meaning of its own).
SERVER_UNAVAILABLE = -32000
REQUEST_TIMEOUT = -32001
CHILD_EXITED = -32003
TOO_MANY_REQUESTS = -32004
"""The session has as many requests waiting for the child as it may."""
# Codes MCP 2026-07-28 defines (its stateless HTTP transport).
HEADER_MISMATCH = -32020
"""A routing header (C{MCP-Protocol-Version}, C{Mcp-Method}, C{Mcp-Name},
C{Mcp-Param-*}) is missing or disagrees with the body."""
MISSING_CAPABILITY = -32021
"""The request needs a client capability its C{_meta} did not declare."""
UNSUPPORTED_VERSION = -32022
"""The request's protocol version is not one the server speaks."""

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Kind(Enum):
    """What a single JSON-RPC message is."""

    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"
    INVALID = "invalid"


class ParseError(ValueError):
    """The text is not JSON the gateway accepts (not JSON, not strict JSON, or
    over a parser limit). C{position} is the character offset of the error
    (0 when the text as a whole is at fault)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def dumps(message: Any) -> bytes:
    """Encode C{message} as compact one-line UTF-8 JSON (no raw newlines).

    Only strict JSON comes out: a non-finite float (which the parser never
    produces) is written as C{null}, as JavaScript's C{JSON.stringify} does,
    and a lone surrogate in a string (which the parser never produces either)
    as U+FFFD, so the output is always valid UTF-8."""
    try:
        text = _encoder.encode(message)
    except ValueError:  # a non-finite float (or a bug: a circular structure)
        text = _encoder.encode(_finite(message, 0))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def _finite(value: Any, depth: int) -> Any:
    """C{value} with every non-finite float replaced by C{None}."""
    if depth > 2 * MAX_DEPTH:
        raise ValueError("structure too deep (or circular) to encode as JSON")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item, depth + 1) for item in value]
    return value


def loads(
    data: bytes | str,
    *,
    maxDepth: int = MAX_DEPTH,
    maxDigits: int = MAX_NUMBER_DIGITS,
    allowLoneSurrogates: bool = False,
) -> Any:
    """Decode strict JSON text, raising L{ParseError} (and nothing else) when
    it is not acceptable: not UTF-8, not JSON, C{NaN}/C{Infinity} or a number
    that overflows to infinity, a lone surrogate such as the escape
    C{"\\ud800"} (the text would name no Unicode string: RFC 8259 section
    8.2, RFC 7493), nesting deeper than C{maxDepth}, a number longer than
    C{maxDigits} characters.

    With C{allowLoneSurrogates} (a child's output: a JavaScript server that
    cuts a string between the halves of a pair writes such an escape, and
    refusing the line would leave its call waiting for the timeout) they are
    kept; L{dumps} writes each as U+FFFD, so none reaches a client.

    Cheap scans of the text decide whether a careful check is needed; the
    common message costs the C parser and a few substring searches."""
    try:
        if isinstance(data, bytes):
            text, isBytes = data.decode("utf-8"), True
        else:
            text, isBytes = data, False
        size = len(text)
        if size > 2 * maxDepth and text.count("[") + text.count("{") > maxDepth:
            _checkDepth(text, maxDepth)
        decoders = _DEFAULT if maxDigits == MAX_NUMBER_DIGITS else _decoders(maxDigits)
        if size <= maxDigits or decoders.longRun.search(text) is None:
            value = decoders.common.decode(text)
        else:
            value = decoders.careful.decode(text)
        if not allowLoneSurrogates and (
            ("\\u" in text and ("\\ud" in text or "\\uD" in text))
            or (not isBytes and _SURROGATE.search(text) is not None)
        ):
            _checkStrings(value)
        return value
    except UnicodeDecodeError as e:
        raise ParseError(f"invalid UTF-8: {e.reason}", e.start) from None
    except json.JSONDecodeError as e:
        raise ParseError(f"{e.msg} (line {e.lineno} column {e.colno})", e.pos) from None
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"nesting deeper than {maxDepth} levels", 0) from None
    except ValueError as e:  # anything else the decoder or a conversion refuses
        raise ParseError(f"not acceptable JSON: {e}", 0) from None


def _rejectConstant(name: str) -> Any:
    raise ParseError(f"{name} is not JSON: numbers must be finite", 0)


_ESCAPE = re.compile(r"\\.", re.DOTALL)
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_PAIR = b"\x01\xff"
_STEP = [0] * 256
_STEP[1], _STEP[255] = 1, -1
_ROUNDS = 4


def _checkDepth(text: str, maxDepth: int) -> None:
    """Refuse C{text} if its arrays and objects nest deeper than C{maxDepth}.

    Exact for valid JSON: escapes, then strings are dropped, so only the
    structural brackets are left. A few rounds remove the innermost pairs
    (each round lowers the depth by exactly one, and empties a wide shallow
    message, the common big one, at C speed); what is left is summed.
    On invalid JSON any answer will do: the decoder refuses it."""
    if "\\" in text:
        text = _ESCAPE.sub("", text)
    outside = "".join(text.split('"')[::2]).encode("utf-8", "replace")
    brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(_ROUNDS):
        if not brackets:
            return
        fewer = brackets.replace(_PAIR, b"")
        if len(fewer) == len(brackets):
            return  # unbalanced: not JSON, which the decoder says with a position
        brackets = fewer
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > maxDepth - _ROUNDS:
        raise ParseError(f"nesting deeper than {maxDepth} levels", 0)


class _Decoders:
    """The decoders for one number limit, and the scan that picks one."""

    def __init__(self, maxDigits: int) -> None:
        def parseInt(token: str) -> int:
            if len(token) > maxDigits:
                raise ParseError(
                    f"a number of {len(token)} characters is over the {maxDigits}-character limit",
                    0,
                )
            return int(token)

        def parseFloat(token: str) -> float:
            if len(token) > maxDigits:
                raise ParseError(
                    f"a number of {len(token)} characters is over the {maxDigits}-character limit",
                    0,
                )
            value = float(token)
            if math.isinf(value):
                shown = token if len(token) <= 20 else token[:20] + "..."
                raise ParseError(f"the number {shown} overflows: numbers must be finite", 0)
            return value

        self.longRun = re.compile(rf"(?<![0-9])[0-9]{{{maxDigits + 1}}}")
        """A run of digits over the limit: maybe an integer that is."""
        self.common = json.JSONDecoder(parse_float=parseFloat, parse_constant=_rejectConstant)
        """Integers stay in C: without a long run, none is over the limit."""
        self.careful = json.JSONDecoder(
            parse_int=parseInt, parse_float=parseFloat, parse_constant=_rejectConstant
        )


@lru_cache(maxsize=8)
def _decoders(maxDigits: int) -> _Decoders:
    return _Decoders(maxDigits)


_DEFAULT = _decoders(MAX_NUMBER_DIGITS)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _checkStrings(value: Any) -> None:
    """Refuse a decoded value holding a lone surrogate (in a key or a string).
    The decoder joined the pairs, so any surrogate left is alone. Recursion
    is bounded: the depth was checked before decoding."""
    if isinstance(value, str):
        if _SURROGATE.search(value) is not None:
            raise ParseError(
                "a string holds a lone surrogate (such as the escape \\ud800):"
                " it names no Unicode text",
                0,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _checkStrings(key)
            _checkStrings(item)
    elif isinstance(value, list):
        for item in value:
            _checkStrings(item)


def classify(message: Any) -> Kind:
    """Say whether C{message} is a request, notification, response, or invalid."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return Kind.INVALID
    method = message.get("method")
    if method is not None:
        if not isinstance(method, str):
            return Kind.INVALID
        if "id" not in message:
            return Kind.NOTIFICATION
        return Kind.REQUEST if _validId(message["id"]) else Kind.INVALID
    if "id" in message and ("result" in message or "error" in message):
        return Kind.RESPONSE
    return Kind.INVALID


def _validId(value: Any) -> bool:
    # JSON-RPC allows string, number or null; MCP forbids null for requests.
    kind = type(value)
    if kind is str or kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    return False


def errorResponse(requestId: Any, code: int, message: str, data: Any = None) -> Message:
    """Build a JSON-RPC error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": requestId, "error": error}


def resultResponse(requestId: Any, result: Any) -> Message:
    """Build a JSON-RPC success response."""
    return {"jsonrpc": "2.0", "id": requestId, "result": result}


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC notification."""
    message: Message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def request(requestId: Any, method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC request."""
    message: Message = {"jsonrpc": "2.0", "id": requestId, "method": method}
    if params is not None:
        message["params"] = params
    return message


def progressToken(message: Message) -> Any:
    """Return C{params._meta.progressToken} of a request, or C{None}."""
    params = message.get("params")
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


def withProgressToken(message: Message, token: Any) -> Message:
    """Return a shallow copy of C{message} whose C{_meta.progressToken} is C{token}."""
    params = dict(message["params"])
    meta = dict(params["_meta"])
    meta["progressToken"] = token
    params["_meta"] = meta
    return {**message, "params": params}
