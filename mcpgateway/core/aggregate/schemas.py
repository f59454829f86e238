# -*- test-case-name: tests.core.aggregate.test_schemas -*-
"""JSON Schema checks for the aggregate endpoint.

One job: tell whether a tool's arguments match its C{inputSchema} (with
errors a model can act on) and whether a shortened C{structuredContent}
still matches its C{outputSchema}. C{jsonschema} is imported at the first
check, never at import time (it costs about 100 ms and 10 MB, and most
gateways never check a schema). A schema's own C{$schema} picks its draft,
Draft 2020-12 otherwise. Compiled validators are kept in a small LRU keyed
by the schema's canonical JSON, behind a lock: the shield checks from a
worker thread while the reactor checks arguments.

No C{$ref} is ever fetched: every validator gets an empty C{referencing}
registry, so only references inside the schema itself (and the bundled
metaschemas) resolve. A schema that cannot be used (not a valid schema, an
unresolvable C{$ref}, anything the validator chokes on) is "unusable":
L{Schemas.arguments} then finds no error (the member checks its own
arguments) and L{Schemas.structured} answers C{None}.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from twisted.logger import Logger

from mcpgateway.runtime import logs

__all__ = ["MAX_ERRORS", "Schemas"]

#: At most this many errors are listed for one call's arguments.
MAX_ERRORS = 10
#: An error message longer than this is cut (an instance can be huge).
MAX_MESSAGE = 300
#: Compiled validators kept.
CACHE_SIZE = 256

_UNUSABLE = object()


def _key(schema: Mapping[str, Any]) -> str | None:
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def _where(path: Any) -> str:
    parts = [str(part) for part in path]
    return ".".join(parts) if parts else "arguments"


def _relevance(error: Any) -> tuple[int, bool]:
    """Sort key: errors higher up the arguments first, C{anyOf}/C{oneOf}
    (which say little) after the others at their depth."""
    return (len(error.path), error.validator in ("anyOf", "oneOf"))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class Schemas:
    """Checks values against JSON Schemas, compiling each schema once."""

    log = Logger(observer=logs.observer)

    def __init__(self, cacheSize: int = CACHE_SIZE) -> None:
        self.cacheSize = cacheSize
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0
        """How many schemas were compiled (cache misses)."""

    def _validator(self, schema: Any) -> Any:
        """The compiled validator of C{schema}, or L{_UNUSABLE}."""
        if not isinstance(schema, Mapping):
            return _UNUSABLE
        key = _key(schema)
        if key is None:
            return _UNUSABLE
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        made = self._compile(schema)
        with self._lock:
            self._cache[key] = made
            self._cache.move_to_end(key)
            self.compiled += 1
            while len(self._cache) > self.cacheSize:
                self._cache.popitem(last=False)
        return made

    def _compile(self, schema: Mapping[str, Any]) -> Any:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for
        from referencing import Registry

        try:
            cls = validator_for(schema, default=Draft202012Validator)
            cls.check_schema(schema)
            return cls(schema, registry=Registry())
        except SchemaError as e:
            self.log.debug("unusable schema: {why}", why=_cut(str(e.message)))
            return _UNUSABLE
        except Exception as e:  # anything else a hostile schema provokes
            self.log.debug("unusable schema: {why}", why=_cut(repr(e)))
            return _UNUSABLE

    def arguments(self, schema: dict[str, Any], args: Any) -> list[str]:
        """The ways C{args} breaks C{schema}, readable (C{"<dotted path>:
        <what is wrong>"}), the most relevant first, at most L{MAX_ERRORS}
        lines (the last then says how many more): C{[]} when it is valid or
        the schema is unusable."""
        validator = self._validator(schema)
        if validator is _UNUSABLE:
            return []
        try:
            errors = sorted(validator.iter_errors(args), key=_relevance)
        except Exception as e:  # an unresolvable $ref, a recursion too deep...
            self.log.debug("arguments not checked: {why}", why=_cut(repr(e)))
            return []
        shown = errors if len(errors) <= MAX_ERRORS else errors[: MAX_ERRORS - 1]
        lines = [_cut(f"{_where(error.absolute_path)}: {error.message}") for error in shown]
        if len(shown) < len(errors):
            lines.append(f"… and {len(errors) - len(shown)} more errors")
        return lines

    def structured(self, schema: dict[str, Any], value: Any) -> bool | None:
        """Whether C{value} is valid against C{schema} (C{None}: the schema
        is unusable, so nobody can tell)."""
        validator = self._validator(schema)
        if validator is _UNUSABLE:
            return None
        try:
            return bool(validator.is_valid(value))
        except Exception as e:
            self.log.debug("structuredContent not checked: {why}", why=_cut(repr(e)))
            return None
