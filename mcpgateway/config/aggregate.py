# -*- test-case-name: tests.config.test_aggregate_config -*-
"""Read the settings of the aggregate endpoints (C{/mcp}, C{/mcp/<name>}).

One job: turn C{<state-dir>/aggregate.json} (optional) into an
L{AggregateSettings}, and a server entry's filter keys (C{includeTools},
C{excludeTools}, C{toolBudget}, C{alias}, C{"aggregate": false}) into its
L{ToolFilter}. The file's shape (docs/guide/aggregate-config.md)::

    {"separator": "__", "nameLimit": 48,
     "endpoints": {"<name>": {
        "mode": "full" | "search", "servers": ["glob", ...], "exclude": ["glob", ...],
        "tools": {"<server>": {"enabled": bool, "includeTools": [...],
                               "excludeTools": [...], "toolBudget": n}},
        "toolBudget": n, "namespace": "always" | "never",
        "shield": {"enabled": bool, "budget": bytes, "maxItems": n,
                   "maxString": n, "heavyField": n}}}}

A missing file is the defaults. A value that is wrong raises
L{AggregateConfigError} naming its key path (C{endpoints.windsurf.toolBudget:
must be an integer >= 4}); an unknown key is a warning, never an error. A
JSON C{null} is the same as a key left out. Pure: no logging, no reactor; the
caller (L{mcpgateway.config.configservice}) reads the file in a thread and reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, ShieldSpec
from mcpgateway.core.spec import ToolFilter

MAX_BYTES = 1024 * 1024
"""A larger file is refused."""
MAX_LIMIT = 64
"""The largest C{nameLimit}: clients refuse longer tool names."""
MAX_INT = 2**31 - 1
"""The largest number any key takes."""
MAX_ENDPOINTS = 100
MAX_GLOBS = 1000
"""Globs in one list."""
MAX_GLOB = 256
"""Characters in one glob."""
MAX_WARNINGS = 20
"""Unknown keys named one by one; the rest are counted."""
MIN_ENDPOINT_BUDGET = 4
"""An endpoint over its C{toolBudget} lists C{T-3} tools plus the gateway's
C{search}, C{describe} and C{invoke}: at least one of its own."""
MIN_SHIELD_BUDGET = 1024
ENDPOINT_NAME = re.compile(r"[a-z0-9-]{1,32}")
RESERVED_ENDPOINTS = frozenset({"mcp"})
ALIAS = re.compile(r"[A-Za-z0-9_-]{1,20}")
MODES = ("full", "search")
NAMESPACES = ("always", "never")

SERVER_KEYS: Mapping[str, str] = {
    "includeTools": "include",
    "excludeTools": "exclude",
    "toolBudget": "budget",
    "alias": "alias",
    "aggregate": "enabled",
}
"""A server entry's keys (C{servers.json}, a client's file,
C{classification.json}) and the L{ToolFilter} field each sets."""
ENDPOINT_TOOL_KEYS: Mapping[str, str] = {
    "enabled": "enabled",
    "includeTools": "include",
    "excludeTools": "exclude",
    "toolBudget": "budget",
}
"""The keys of an endpoint's C{tools.<server>} and the field each sets."""
ENDPOINT_KEYS = frozenset(
    {"mode", "servers", "exclude", "tools", "toolBudget", "namespace", "shield"}
)
SHIELD_KEYS = frozenset({"enabled", "budget", "maxItems", "maxString", "heavyField"})
TOP_KEYS = frozenset({"separator", "nameLimit", "endpoints"})
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AggregateConfigError(Exception):
    """C{aggregate.json} cannot be used; the message names the key path."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


class FilterError(ValueError):
    """One of a server entry's filter keys has a wrong value."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"'{key}' {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class AggregateSettings:
    """What C{aggregate.json} says.

    @ivar endpoints: endpoint name -> its settings (C{default} is C{/mcp},
        C{search} is C{/mcp/search}; the aggregator adds both when missing).
    @ivar warnings: what was ignored (unknown keys); not part of equality.
    """

    endpoints: Mapping[str, EndpointSpec] = field(default_factory=dict)
    names: NameSettings = field(default_factory=NameSettings)
    warnings: tuple[str, ...] = field(default=(), compare=False)


# -- a server's own keys -------------------------------------------------------------


def filterValue(key: str, value: Any) -> Any:
    """The L{ToolFilter} value of a server entry's key C{key} (one of
    L{SERVER_KEYS} or L{ENDPOINT_TOOL_KEYS}), or raise L{FilterError}."""
    if key in ("aggregate", "enabled"):
        if not isinstance(value, bool):
            raise FilterError(key, "must be true or false")
        return value
    if key in ("includeTools", "excludeTools"):
        globs = _globs(value)
        if globs is None:
            raise FilterError(
                key, f"must be a list of tool names or globs (1-{MAX_GLOB} characters each)"
            )
        return globs
    if key == "toolBudget":
        if not _isInt(value, 0):
            raise FilterError(key, "must be a whole number >= 0")
        return value
    if key == "alias":
        if not isinstance(value, str) or not ALIAS.fullmatch(value):
            raise FilterError(key, "must be 1-20 letters, digits, '_' or '-'")
        return value
    raise FilterError(key, "is not a filter key")


def filterChanges(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The L{ToolFilter} fields a server entry's keys set (a key absent or
    C{null} sets nothing); raise L{FilterError} naming the first bad key."""
    out: dict[str, Any] = {}
    for key, name in SERVER_KEYS.items():
        value = entry.get(key)
        if value is not None:
            out[name] = filterValue(key, value)
    return out


def serverFilter(entry: Mapping[str, Any]) -> ToolFilter:
    """A server entry's L{ToolFilter}; raise L{FilterError} naming a bad key."""
    return ToolFilter(**filterChanges(entry))


def _isInt(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= MAX_INT


def _globs(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or len(value) > MAX_GLOBS:
        return None
    for glob in value:
        if not isinstance(glob, str) or not 0 < len(glob) <= MAX_GLOB or not _encodable(glob):
            return None
    return tuple(dict.fromkeys(value))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- the file ------------------------------------------------------------------------


def readAggregateFile(path: Path) -> AggregateSettings:
    """Read C{path} (missing: the defaults, no warning), or raise
    L{AggregateConfigError} saying why it cannot be used. Blocking."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return AggregateSettings()
    except OSError as e:
        raise AggregateConfigError("", f"cannot read it: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise AggregateConfigError("", f"larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AggregateConfigError("", "not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AggregateConfigError(
            "", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except (ValueError, RecursionError) as e:
        raise AggregateConfigError("", f"not usable JSON: {type(e).__name__}") from None
    return parseAggregate(data)


def parseAggregate(data: Any) -> AggregateSettings:
    """The settings a parsed C{aggregate.json} document says, or raise
    L{AggregateConfigError} naming the first bad key path."""
    if not isinstance(data, dict):
        raise AggregateConfigError("", "must hold a JSON object")
    # The namer loads with the aggregator (its first use); only its rules here.
    from mcpgateway.core.aggregate.naming import MIN_LIMIT, SEPARATORS

    warnings = _Warnings()
    warnings.unknown("", data, TOP_KEYS)
    separator = _get(data, "separator", "__")
    if not isinstance(separator, str) or separator not in SEPARATORS:
        raise AggregateConfigError(
            "separator", f"must be one of {', '.join(repr(s) for s in sorted(SEPARATORS))}"
        )
    limit = _get(data, "nameLimit", NameSettings.limit)
    _int(limit, "nameLimit", MIN_LIMIT, MAX_LIMIT)
    endpoints: dict[str, EndpointSpec] = {}
    block = _get(data, "endpoints", {})
    if not isinstance(block, dict):
        raise AggregateConfigError("endpoints", "must be an object (endpoint name -> settings)")
    if len(block) > MAX_ENDPOINTS:
        raise AggregateConfigError("endpoints", f"at most {MAX_ENDPOINTS} endpoints")
    for name, value in block.items():
        where = _path("endpoints", name)
        if not ENDPOINT_NAME.fullmatch(name) or name in RESERVED_ENDPOINTS:
            raise AggregateConfigError(
                where, "an endpoint's name must be 1-32 of a-z, 0-9 and '-', and not \"mcp\""
            )
        endpoints[name] = _endpoint(name, value, where, warnings)
    return AggregateSettings(endpoints, NameSettings(separator, limit), warnings.done())


def _endpoint(name: str, value: Any, where: str, warnings: _Warnings) -> EndpointSpec:
    if not isinstance(value, dict):
        raise AggregateConfigError(where, "must be an object")
    warnings.unknown(where, value, ENDPOINT_KEYS)
    mode = _get(value, "mode", "full")
    if mode not in MODES:
        raise AggregateConfigError(f"{where}.mode", 'must be "full" or "search"')
    namespace = _get(value, "namespace", "always")
    if namespace not in NAMESPACES:
        raise AggregateConfigError(f"{where}.namespace", 'must be "always" or "never"')
    servers = _globList(value, "servers", where, ["*"])
    exclude = _globList(value, "exclude", where, [])
    budget = _get(value, "toolBudget", None)
    if budget is not None:
        _int(budget, f"{where}.toolBudget", MIN_ENDPOINT_BUDGET)
    tools: dict[str, ToolFilter] = {}
    block = _get(value, "tools", {})
    if not isinstance(block, dict):
        raise AggregateConfigError(f"{where}.tools", "must be an object (server name -> filter)")
    for server, entry in block.items():
        tools[server] = _toolFilter(entry, _path(f"{where}.tools", server), warnings)
    shield = _shield(value, where, mode == "search", warnings)
    return EndpointSpec(
        name=name,
        mode=mode,
        servers=servers,
        exclude=exclude,
        tools=tools,
        toolBudget=budget,
        namespace=namespace,
        shield=shield,
    )


def _toolFilter(entry: Any, where: str, warnings: _Warnings) -> ToolFilter:
    if not isinstance(entry, dict):
        raise AggregateConfigError(where, "must be an object")
    warnings.unknown(where, entry, frozenset(ENDPOINT_TOOL_KEYS))
    changes: dict[str, Any] = {}
    for key, name in ENDPOINT_TOOL_KEYS.items():
        value = entry.get(key)
        if value is None:
            continue
        try:
            changes[name] = filterValue(key, value)
        except FilterError as e:
            raise AggregateConfigError(f"{where}.{key}", e.problem) from None
    return ToolFilter(**changes)


def _shield(value: dict[str, Any], where: str, search: bool, warnings: _Warnings) -> ShieldSpec:
    """The endpoint's C{shield}: on by default in search mode."""
    where = f"{where}.shield"
    block = _get(value, "shield", {})
    if not isinstance(block, dict):
        raise AggregateConfigError(where, "must be an object")
    warnings.unknown(where, block, SHIELD_KEYS)
    enabled = _get(block, "enabled", search)
    if not isinstance(enabled, bool):
        raise AggregateConfigError(f"{where}.enabled", "must be true or false")
    defaults = ShieldSpec()
    least = {"budget": MIN_SHIELD_BUDGET, "maxItems": 1, "maxString": 64, "heavyField": 16}
    numbers = {}
    for key, minimum in least.items():
        number = _get(block, key, getattr(defaults, key))
        numbers[key] = _int(number, f"{where}.{key}", minimum)
    return ShieldSpec(enabled=enabled, **numbers)


def _globList(value: dict[str, Any], key: str, where: str, default: list[str]) -> tuple[str, ...]:
    globs = _globs(_get(value, key, default))
    if globs is None:
        raise AggregateConfigError(
            f"{where}.{key}",
            f"must be a list of server names or globs (1-{MAX_GLOB} characters each)",
        )
    return globs


def _int(value: Any, where: str, least: int, most: int = MAX_INT) -> int:
    if not _isInt(value, least) or value > most:
        bound = f"from {least} to {most}" if most != MAX_INT else f">= {least}"
        raise AggregateConfigError(where, f"must be an integer {bound}")
    number: int = value
    return number


def _get(obj: dict[str, Any], key: str, default: Any) -> Any:
    value = obj.get(key)
    return default if value is None else value


def _path(parent: str, key: str) -> str:
    """C{parent.key}, or C{parent["key"]} (JSON, cut) when C{key} is not plain."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    shown = key if len(key) <= 64 else key[:64] + "..."
    return f"{parent}[{json.dumps(shown)}]"


class _Warnings:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.more = 0

    def unknown(self, where: str, obj: dict[str, Any], known: frozenset[str]) -> None:
        for key in obj:
            if key in known:
                continue
            if len(self.lines) < MAX_WARNINGS:
                self.lines.append(f"{_path(where, key)}: unknown key; ignored")
            else:
                self.more += 1

    def done(self) -> tuple[str, ...]:
        if self.more:
            self.lines.append(f"{self.more} more unknown key(s); ignored")
        return tuple(self.lines)
