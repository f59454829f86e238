# -*- test-case-name: tests.core.aggregate.test_gatewaytools -*-
"""The readers of the arguments a client gives the aggregate endpoint's
own tools (L{mcpgateway.core.aggregate.tools}).

One job: take a value of the client's or say, in words a model can act on,
what is wrong with it (L{BadInput}, which the tools answer as an C{isError}
result). A value the tool's input schema forbids is refused, never
silently moved into range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BadInput",
    "booleanArg",
    "decodeArguments",
    "integerArg",
    "jsonType",
    "stringArg",
    "stringsArg",
]


class BadInput(ValueError):
    """A gateway tool's arguments are wrong; the message says how."""


def jsonType(value: object) -> str:
    """The JSON type of C{value}, in words (C{"an array"}), for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _rejectConstant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decodeArguments(value: Any) -> dict[str, Any]:
    """C{invoke}'s C{arguments}: an object, or a string holding one's JSON
    (what strict-mode clients send; twice-encoded JSON is decoded twice);
    missing, C{null} or an empty string mean C{{}}.

    @raise BadInput: anything else, saying what it was.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise BadInput(
            f"arguments must be an object (or a string of its JSON), not {jsonType(value)}"
        )
    decoded: Any = value
    for _ in range(2):
        if not isinstance(decoded, str):
            break
        if not decoded.strip():
            return {}
        try:
            decoded = json.loads(decoded, parse_constant=_rejectConstant)
        except (ValueError, RecursionError) as e:
            raise BadInput(f"arguments is a string but not JSON: {str(e)[:200]}") from None
    if not isinstance(decoded, dict):
        raise BadInput(f"arguments must be a JSON object, not {jsonType(decoded)}")
    return decoded


def stringArg(args: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    """C{args[key]}: C{None} when absent (or C{null}) and not C{required},
    else a string.

    @raise BadInput: missing though required, or not a string.
    """
    value = args.get(key)
    if value is None:
        if required:
            raise BadInput(f"{key} is required (a string)")
        return None
    if not isinstance(value, str):
        raise BadInput(f"{key} must be a string, not {jsonType(value)}")
    return value


def integerArg(args: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    """C{args[key]}: C{None} when absent, else an integer from C{low} to
    C{high} (the tool's schema C{minimum} and C{maximum}: a value the schema
    forbids is refused, either side, never silently moved into the range).

    @raise BadInput: not an integer, or out of range.
    """
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{key} must be an integer, not {jsonType(value)}")
    if value < low:
        raise BadInput(f"{key} must be at least {low}, not {value}")
    if high is not None and value > high:
        raise BadInput(f"{key} must be at most {high}, not {value}")
    return value


def stringsArg(args: Mapping[str, Any], key: str) -> list[str] | None:
    """C{args[key]}: C{None} when absent (or C{null}), else an array of strings.

    @raise BadInput: anything else.
    """
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(f"{key} must be an array of strings")
    return value


def booleanArg(args: Mapping[str, Any], key: str) -> bool:
    """C{args[key]}: C{False} when absent (or C{null}), else a boolean.

    @raise BadInput: anything else.
    """
    value = args.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadInput(f"{key} must be a boolean, not {jsonType(value)}")
    return value
