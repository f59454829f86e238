# -*- test-case-name: tests.core.era2026.test_era2026child -*-
"""Translating between a 2026-07-28 request and a handshake-era child: the
capabilities and C{initialize} result a 2026 client sees, a handshake result
with the revision's envelope, and the sealed C{requestState} a suspended
call carries (L{StateWrapper}).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.protocol import era2026form, jsonrpc, versions
from mcpgateway.protocol.jsonrpc import Message

CLIENT_CAPABILITIES = ("roots", "sampling", "elicitation", "experimental", "extensions")
"""The client capabilities 2026-07-28 defines (C{tasks} is gone)."""
SERVER_CAPABILITIES = ("tools", "prompts", "resources", "completions", "logging", "experimental")
"""The server capabilities a handshake client is told of."""
LISTS = (
    ("toolsListChanged", "tools"),
    ("promptsListChanged", "prompts"),
    ("resourcesListChanged", "resources"),
)
HINTS_TO_STRIP = (era2026form.SUBSCRIPTION_ID_KEY,)
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"


# -- pure helpers -------------------------------------------------------------------


def era2026Only(error: Any) -> tuple[str, ...] | None:
    """The revisions a child's -32022 answer to C{initialize} lists, when
    it lists only revisions newer than the handshake era (a 2026-only
    child); C{None} for any other error (a mixed list included: such a child
    is refused as before)."""
    if not isinstance(error, Mapping) or error.get("code") != jsonrpc.UNSUPPORTED_VERSION:
        return None
    data = error.get("data")
    supported = data.get("supported") if isinstance(data, Mapping) else None
    if not isinstance(supported, list) or not supported:
        return None
    if not all(isinstance(v, str) and v > versions.LATEST for v in supported):
        return None
    return tuple(supported)


def spokenVersion(offered: Any) -> str | None:
    """The newest 2026 revision the gateway speaks among C{offered}."""
    if not isinstance(offered, list):
        return None
    common = [v for v in versions.ERA2026_VERSIONS if v in offered]
    return max(common) if common else None


def era2026Capabilities(capabilities: Mapping[str, Any]) -> dict[str, Any]:
    """A handshake client's capabilities as a 2026 C{clientCapabilities}:
    only what 2026 defines, C{roots} without C{listChanged}."""
    caps = {
        name: dict(value)
        for name, value in capabilities.items()
        if name in CLIENT_CAPABILITIES and isinstance(value, Mapping)
    }
    if "roots" in caps:
        caps["roots"].pop("listChanged", None)
    return caps


def initializeResultOf(discover: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The C{InitializeResult} handshake sessions get from a 2026 child,
    made from its C{DiscoverResult}: its capabilities (those 2025 has, and
    the Skills extension),
    its C{serverInfo} (from C{_meta}), its instructions."""
    caps = discover.get("capabilities")
    capabilities = {
        key: value
        for key, value in (caps.items() if isinstance(caps, Mapping) else ())
        if key in SERVER_CAPABILITIES and isinstance(value, Mapping)
    }
    skills = era2026form.skillsSettings(caps)
    if skills is not None:  # its requests pass to the child in both revisions
        capabilities["extensions"] = {era2026form.SKILLS_EXTENSION: skills}
    meta = discover.get("_meta")
    info = meta.get(era2026form.SERVER_INFO_KEY) if isinstance(meta, Mapping) else None
    result: dict[str, Any] = {
        "protocolVersion": versions.LATEST,
        "capabilities": capabilities,
        "serverInfo": dict(info)
        if isinstance(info, Mapping) and isinstance(info.get("name"), str)
        else {"name": name, "version": "unknown"},
    }
    instructions = discover.get("instructions")
    if isinstance(instructions, str):
        result["instructions"] = instructions
    return result


def objectOf(value: Any) -> bool:
    return isinstance(value, dict)


def wrappedSchema(schema: Any) -> Any:
    """An C{outputSchema} whose root is not an object, as 2025 wants it:
    an object with the value under C{result}."""
    if isinstance(schema, dict) and "type" in schema and schema["type"] != "object":
        return {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    return schema


def handshakeResult(method: str, result: dict[str, Any], hints: bool = False) -> dict[str, Any]:
    """A 2026 child's complete result as a handshake client gets it (a
    copy): no C{resultType}, no cache hints (unless C{hints}: the
    catalogs' own session honours them), no server info in C{_meta};
    a non-object C{structuredContent} wrapped C{{"result": value}}, and (in
    C{tools/list}) a non-object C{outputSchema} root wrapped to match."""
    dropped = ("resultType",) if hints else ("resultType", "ttlMs", "cacheScope")
    out = {k: v for k, v in result.items() if k not in dropped}
    meta = out.get("_meta")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k != era2026form.SERVER_INFO_KEY}
        if kept:
            out["_meta"] = kept
        else:
            del out["_meta"]
    if "structuredContent" in out and not objectOf(out["structuredContent"]):
        out["structuredContent"] = {"result": out["structuredContent"]}
    tools = out.get("tools") if method == "tools/list" else None
    if isinstance(tools, list):
        out["tools"] = [
            {**tool, "outputSchema": wrappedSchema(tool["outputSchema"])}
            if isinstance(tool, dict) and "outputSchema" in tool
            else tool
            for tool in tools
        ]
    return out


def withEnvelope(params: Any, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """C{params} (a copy) with C{envelope} as the envelope keys of its
    C{_meta} (any envelope keys it had replaced; other keys, such as
    C{progressToken}, kept)."""
    out = dict(params) if isinstance(params, dict) else {}
    meta = out.get("_meta")
    kept = {
        key: value
        for key, value in (meta.items() if isinstance(meta, dict) else ())
        if key not in era2026form.ENVELOPE_KEYS
    }
    kept.update(envelope)
    out["_meta"] = kept
    return out


def withoutTag(message: Message) -> Message:
    """A listen notification without its C{subscriptionId} (the child's
    listen is the gateway's; the web tags what it gives 2026 clients)."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or not any(key in meta for key in HINTS_TO_STRIP):
        return message
    assert isinstance(params, dict)
    kept = {k: v for k, v in meta.items() if k not in HINTS_TO_STRIP}
    params = {k: v for k, v in params.items() if k != "_meta"}
    if kept:
        params["_meta"] = kept
    if not params:
        return {k: v for k, v in message.items() if k != "params"}
    return {**message, "params": params}


def withoutTasks(capabilities: Mapping[str, Any]) -> dict[str, Any]:
    """A 2026 client's capabilities without the tasks extension (the
    gateway serves no C{tasks/*}: a task result would reach nobody)."""
    caps = dict(capabilities)
    extensions = caps.get("extensions")
    if isinstance(extensions, dict) and TASKS_EXTENSION in extensions:
        caps["extensions"] = {k: v for k, v in extensions.items() if k != TASKS_EXTENSION}
    return caps


def sameId(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


# -- the wrapped requestState ---------------------------------------------------------
