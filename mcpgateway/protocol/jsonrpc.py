# -*- test-case-name: tests.protocol.test_jsonrpc,tests.protocol.test_jsonrpc_fast -*-
"""The JSON-RPC 2.0 message model: parse, classify, build.

The only module that knows the shape of a JSON-RPC message. Messages are plain
C{dict}s (parsed once, never re-validated downstream); this module says what a
message is and builds the error objects the gateway sends.

L{loads} and L{dumps} use orjson (a dependency, so every way of starting the
gateway has it) and the standard library's C{json} where orjson cannot serve,
with the same results: orjson is only a fast path, and whatever it refuses or
might read differently (19 digits in a row, deep nesting, a lone surrogate, a
dict key that is not a C{str}, an integer beyond 64 bits) goes the standard
library's way. C{MCPGATEWAY_JSON=stdlib} in the environment, or
L{useFast}C{(False)}, keeps to the standard library (for comparing the two;
also what runs where orjson cannot be imported).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from enum import Enum
from functools import lru_cache
from itertools import accumulate
from typing import Any

from mcpgateway.protocol.bounds import MAX_DEPTH, MAX_NUMBER_DIGITS

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
URL_ELICITATION_REQUIRED = -32042
"""2025-11-25's C{URLElicitationRequiredError}: the user must open a URL
(a third party's authorization) before the request can succeed."""
RATE_LIMITED = -32023
"""A rate-limited request (the MCP draft SEP-3304, bound to HTTP 429): the
gateway's own limits' refusal and an upstream server's 429 alike, its
C{data} the wait (C{retryAfterMs}), the limit and its scope."""
UPSTREAM_SCOPE = "upstream"
"""The scope of a L{RATE_LIMITED} refusal an upstream server made."""

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

_FAST_LOADS: Callable[[bytes], Any] | None = None
"""C{orjson.loads} while the fast path is on."""
_FAST_DUMPS: Callable[[Any, None, int], bytes] | None = None
"""C{orjson.dumps} while the fast path is on."""
_FAST_OPTIONS = 0
"""orjson's options: a dataclass or a datetime is not orjson's to write, so
it goes to the standard library, which refuses it (C{TypeError}) as before."""


def useFast(enabled: bool = True) -> bool:
    """Use orjson in L{loads} and L{dumps} if C{enabled} and it can be
    imported (the default, unless C{MCPGATEWAY_JSON=stdlib} is set); return
    whether it is now used. The results are the same either way, only faster.

    orjson itself is imported by the first call that uses it (an idle
    gateway does not hold its 0.2 MB): until then the fast path's two
    functions are C{_firstLoads} and C{_firstDumps}, which put orjson's in
    their place."""
    global _FAST_LOADS, _FAST_DUMPS
    _FAST_LOADS = _FAST_DUMPS = None
    if enabled:
        try:
            installed = importlib.util.find_spec("orjson") is not None
        except (ImportError, ValueError):
            installed = False
        if not installed:
            return False
        _FAST_LOADS, _FAST_DUMPS = _firstLoads, _firstDumps
    return _FAST_LOADS is not None


def fastOn() -> bool:
    """Whether orjson serves (L{useFast}): the gateway's other JSON files
    follow the same switch, so that C{MCPGATEWAY_JSON=stdlib} rules orjson
    out everywhere."""
    return _FAST_LOADS is not None


def _importFast() -> bool:
    """Import orjson and put its functions on the fast path; whether it
    could (if not, the fast path is off from now on)."""
    global _FAST_LOADS, _FAST_DUMPS, _FAST_OPTIONS
    try:
        orjson = importlib.import_module("orjson")
    except ImportError:
        _FAST_LOADS = _FAST_DUMPS = None
        return False
    _FAST_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
    _FAST_LOADS, _FAST_DUMPS = orjson.loads, orjson.dumps
    return True


def _firstLoads(raw: bytes) -> Any:
    """The fast path's C{loads} until orjson is imported: imports it, then
    reads C{raw} with it (C{ValueError}, which leaves the text to the
    standard library, when it cannot be imported)."""
    if not _importFast() or _FAST_LOADS is None:
        raise ValueError("orjson cannot be imported")
    return _FAST_LOADS(raw)


def _firstDumps(message: Any, default: None, options: int) -> bytes:
    """The fast path's C{dumps} until orjson is imported: imports it, then
    writes C{message} with it (C{TypeError}, which leaves the message to
    the standard library, when it cannot be imported)."""
    if not _importFast() or _FAST_DUMPS is None:
        raise TypeError("orjson cannot be imported")
    return _FAST_DUMPS(message, default, _FAST_OPTIONS)


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
    as U+FFFD, so the output is always valid UTF-8.

    With orjson the bytes are the same but for a float's form (C{1e-7} for
    C{1e-07}: the same number), and a plain C{Enum} member or a C{UUID} is
    written as its value where the standard library raises C{TypeError}
    (the gateway writes neither: parsed JSON and the dicts it builds)."""
    if _FAST_DUMPS is not None:
        try:
            return _FAST_DUMPS(message, None, _FAST_OPTIONS)
        except TypeError:  # orjson refuses: a lone surrogate, a non-str key, a big int...
            pass
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
    common message costs the C parser and a few substring searches. With
    orjson, a text it reads exactly as the standard library does goes to
    orjson (C{_loadsFast}), any other to the standard library."""
    if _FAST_LOADS is not None:
        try:
            raw = data if isinstance(data, bytes) else data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the stdlib decides
            pass
        else:
            value = _loadsFast(raw, maxDepth, maxDigits)
            if value is not _UNSURE:
                return value
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        size = len(text)
        deep, long = size > 2 * maxDepth, size > maxDigits
        if deep or long:  # the scans read UTF-8
            utf8 = data if isinstance(data, bytes) else text.encode("utf-8", "surrogatepass")
            if deep:
                _checkDepth(utf8, maxDepth)
        decoders = _DEFAULT if maxDigits == MAX_NUMBER_DIGITS else _decoders(maxDigits)
        if not long or decoders.longRun not in utf8.translate(_DIGITS):
            value = decoders.common.decode(text)
        else:
            value = decoders.careful.decode(text)
        if not allowLoneSurrogates and (
            ("\\u" in text and ("\\ud" in text or "\\uD" in text))
            or (isinstance(data, str) and _SURROGATE.search(text) is not None)
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


_UNSURE: Any = object()
"""What C{_loadsFast} returns for a text the standard library must decide."""


def _loadsFast(raw: bytes, maxDepth: int, maxDigits: int) -> Any:
    """C{raw} as orjson reads it, or C{_UNSURE} if the standard library must
    decide: orjson refuses it (the stdlib refuses it too, but with its own
    error; or it accepts a lone surrogate), or orjson might read it
    differently (a number with a run of 19 digits, a C{float} to orjson when
    it is beyond 64 bits), or it nests deeper than C{maxDepth}.

    The depth is checked before orjson reads it when that is cheap, and
    after (the parsed value walked) when the text needs the escape passes:
    a big text of escaped strings, whose value has few containers."""
    parse = _FAST_LOADS
    scans = _DEFAULT if maxDigits == MAX_NUMBER_DIGITS else _decoders(maxDigits)
    size = len(raw)
    # find, not in: a bytes operand of in is first tried as an int, a
    # TypeError made and dropped on every message.
    if parse is None or (
        size >= scans.fastRun and raw.translate(_DIGITS).find(scans.fastRunText) >= 0
    ):
        return _UNSURE
    walk = False
    if size > 2 * maxDepth:
        try:
            walk = not _checkDepth(raw, maxDepth, thorough=False)
        except ParseError:
            return _UNSURE
    try:
        value = parse(raw)
    except ValueError:  # refused (orjson.JSONDecodeError)
        return _UNSURE
    if walk and _nestsDeeper(value, maxDepth):
        return _UNSURE
    return value


def _nestsDeeper(value: Any, maxDepth: int) -> bool:
    """Whether C{value} (as orjson reads it: plain C{dict}s and C{list}s)
    nests deeper than C{maxDepth} levels, level by level."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > maxDepth:
            return True
        inner = []
        for container in level:
            for item in container.values() if type(container) is dict else container:
                if type(item) is dict or type(item) is list:
                    inner.append(item)
        level = inner
    return False


def _rejectConstant(name: str) -> Any:
    raise ParseError(f"{name} is not JSON: numbers must be finite", 0)


_DIGITS = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
"""A C{bytes.translate} table: every digit becomes C{0}, every other byte a
space, so a run of N digits is a run of N C{0}s."""
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"\\')
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_PAIR = b"\x01\xff"
_STEP = [0] * 256
_STEP[1], _STEP[255] = 1, -1
_ROUNDS = 16


def _checkDepth(data: bytes, maxDepth: int, thorough: bool = True) -> bool:
    """Refuse C{data} if its arrays and objects nest deeper than C{maxDepth};
    return whether it was checked (only not if not C{thorough} and it has
    escapes: the slow part).

    Exact for valid JSON, in a few passes at C speed: everything but
    brackets, quotes and backslashes goes (a message with few brackets ends
    there); the escapes that matter (C{\\\\} and C{\\"}) go, then the
    strings, so only the structural brackets are left. Rounds remove the
    innermost pairs (each round lowers the depth by exactly one, and empties
    a wide shallow message, the common big one); what is left after
    C{_ROUNDS} is summed. On invalid JSON any answer will do: the decoder
    refuses it."""
    kept = data.translate(None, _NOT_STRUCTURE)
    if kept.count(b"[") + kept.count(b"{") <= maxDepth:
        return True
    if b"\\" in kept:
        if not thorough:
            return False
        if b"\\\\" in data or b'\\"' in data:
            # Left to right, as a reader pairs them: a run of backslashes
            # keeps one if it is odd, and that one escapes what follows.
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
            kept = data.translate(None, _NOT_STRUCTURE)
        kept = kept.replace(b"\\", b"")  # the other escapes: no quote, no bracket
    # Two quotes with nothing kept between them can go: the others keep their
    # parity (inside or outside a string); what is left between the
    # remaining pairs is the brackets inside strings.
    kept = kept.replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    brackets = kept.translate(_BRACKETS)
    rounds = 0
    while brackets and rounds < _ROUNDS:
        fewer = brackets.replace(_PAIR, b"")
        if len(fewer) == len(brackets):
            return True  # unbalanced: not JSON, which the decoder says with a position
        brackets, rounds = fewer, rounds + 1
    if rounds + max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > maxDepth:
        raise ParseError(f"nesting deeper than {maxDepth} levels", 0)
    return True


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

        self.longRun = b"0" * (maxDigits + 1)
        """A run of digits over the limit (in C{translate(_DIGITS)}): maybe
        an integer that is."""
        self.fastRun = min(19, max(1, (maxDigits - 3) // 3))
        """orjson reads a text only without a run of this many digits: an
        integer of 19 digits may be beyond 64 bits (orjson makes it a
        C{float}), and a number over C{maxDigits} characters has at most
        four other characters, so one of its three runs is this long."""
        self.fastRunText = b"0" * self.fastRun
        self.common = json.JSONDecoder(parse_float=parseFloat, parse_constant=_rejectConstant)
        """Integers stay in C: without a long run, none is over the limit."""
        self.careful = json.JSONDecoder(
            parse_int=parseInt, parse_float=parseFloat, parse_constant=_rejectConstant
        )


@lru_cache(maxsize=8)
def _decoders(maxDigits: int) -> _Decoders:
    return _Decoders(maxDigits)


_DEFAULT = _decoders(MAX_NUMBER_DIGITS)


def _wanted(environ: Mapping[str, str]) -> bool:
    """Whether C{environ} leaves the fast path on: C{MCPGATEWAY_JSON=stdlib}
    turns it off (for an A/B measurement, or to rule orjson out)."""
    return environ.get("MCPGATEWAY_JSON", "").strip().lower() != "stdlib"


useFast(_wanted(os.environ))


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


def batchAnswer(payload: Any, answer: Message, others: str) -> Any:
    """The body of a POST refused whole for one request's C{answer}: that
    answer, for a single request; for a batch (2025-03-26), an array with an
    answer for each request that has an id, as JSON-RPC 2.0 answers a batch:
    C{answer} for the refused one, an error of its code saying C{others} for
    each other one (none of them ran). A batch of notifications alone gets
    C{answer}."""
    if not isinstance(payload, list):
        return answer
    refusedId, code = answer.get("id"), answer["error"]["code"]
    out: list[Message] = []
    for message in payload:
        requestId = message.get("id") if isinstance(message, dict) else None
        if not isinstance(requestId, str | int) or isinstance(requestId, bool):
            continue
        if requestId == refusedId and answer not in out:
            out.append(answer)
        else:
            out.append(errorResponse(requestId, code, others))
    return out or answer
