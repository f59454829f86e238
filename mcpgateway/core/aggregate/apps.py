# -*- test-case-name: tests.core.aggregate.test_apps, tests.web.endpoints.test_aggregate_apps -*-
"""MCP Apps (the C{io.modelcontextprotocol/ui} extension) on the aggregate
endpoint: its members' C{ui://} resources under URIs that name their
server, and every reference to them rewritten the same way.

One job: two members may both serve C{ui://get-time/mcp-app.html}; on
C{/mcp} each is C{ui://<server>/get-time/mcp-app.html}, the scheme kept
(hosts render only C{ui://} resources). L{namespaced} makes that URI and
L{original} reads it back (the member and its own URI): an injective
pair, so two members' apps never share a URI, and a URI the aggregate
gives always goes back to the member it came from, as a C{ui://} URI.
The tools' C{_meta.ui.resourceUri} (and the flat C{_meta["ui/resourceUri"]}
the extension's SDK still writes), the resources listed, the contents of
C{resources/read}, the links of tool results and a member's resource
updates (L{updated}, which names a skill's URIs as
L{skills.namespaced<mcpgateway.core.aggregate.skills.namespaced>} does)
are rewritten with it;
everything else (the HTML, the C{mimeType}, the resource's C{_meta.ui}: its
CSP, C{domain}, C{permissions}, C{prefersBorder}) is passed as it came.

Who sees a tool: the extension's C{_meta.ui.visibility} (default
C{["model", "app"]}) is the host's to apply, so a client that declares the
extension is given every tool with it. A client that does not declare it
renders no app, and its list is its model's: it is not given the tools
only an app may call (L{listedTo}). Such a tool stays callable by name.
An app calls its server's tools by their own names (they are written in
its HTML); L{appTool} finds the one member tool an app may call by such a
name, and refuses a name more than one member has. Its functions are pure
(no I/O, no reactor); L{updated} renames a resource update of either
scheme the aggregate namespaces (C{ui://} here, C{skill://} in
L{mcpgateway.core.aggregate.skills}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from mcpgateway.core.aggregate import skills
from mcpgateway.core.aggregate.types import Owner

__all__ = [
    "EXTENSION",
    "FLAT_KEY",
    "MIME_TYPE",
    "SCHEME",
    "appTool",
    "callAnswer",
    "declared",
    "declaresUi",
    "forApps",
    "forModel",
    "listedTo",
    "namespaced",
    "original",
    "readAnswer",
    "readResult",
    "resourceEntry",
    "template",
    "toolDefinition",
    "toolResult",
    "updated",
    "visibility",
    "withApp",
]

EXTENSION = "io.modelcontextprotocol/ui"
"""The extension's identifier, under C{capabilities.extensions}."""
MIME_TYPE = "text/html;profile=mcp-app"
"""The MIME type of an app's HTML."""
SCHEME = "ui://"
"""What an app resource's URI starts with (the only URIs rewritten)."""
FLAT_KEY = "ui/resourceUri"
"""The flat C{_meta} key of a tool's app that the extension deprecates and
its SDK still writes beside C{_meta.ui.resourceUri}."""
DEFAULT_VISIBILITY = ("model", "app")
"""A tool's visibility when its C{_meta.ui} says none."""


def _encode(server: str) -> str:
    return quote(server, safe="", encoding="utf-8", errors="surrogatepass")


def namespaced(server: str, uri: str) -> str:
    """The URI the aggregate shows for member C{server}'s C{uri}:
    C{ui://<server>/<rest>} for C{ui://<rest>} (the server percent-encoded),
    any other URI as it is."""
    if not uri.startswith(SCHEME):
        return uri
    return SCHEME + _encode(server) + "/" + uri[len(SCHEME) :]


def original(uri: str) -> tuple[str, str] | None:
    """The member and its own URI for a URI L{namespaced} made, or C{None}
    for any URI it cannot have made (another scheme, no server, a server
    not written as L{namespaced} writes it)."""
    if not uri.startswith(SCHEME):
        return None
    head, slash, rest = uri[len(SCHEME) :].partition("/")
    if not slash or not head:
        return None
    server = unquote(head, encoding="utf-8", errors="surrogatepass")
    if _encode(server) != head:
        return None  # one spelling per server: the URI names exactly one
    return server, SCHEME + rest


def updated(message: dict[str, Any], server: str) -> dict[str, Any]:
    """Member C{server}'s C{notifications/resources/updated} with its URI as
    the aggregate shows it (a C{ui://} or C{skill://} URI under its server,
    the URI a client subscribed to), so an update reaches the client under
    the URI it knows; any other message as it is."""
    params = message.get("params")
    uri = params.get("uri") if isinstance(params, dict) else None
    if message.get("method") != "notifications/resources/updated" or not isinstance(uri, str):
        return message
    shown = skills.namespaced(server, namespaced(server, uri))
    if shown == uri:
        return message
    assert isinstance(params, dict)
    return {**message, "params": {**params, "uri": shown}}


def _meta(meta: Any, server: str) -> Any:
    """C{meta} with its app references (C{ui.resourceUri}, the flat key)
    rewritten; the same object when it has none."""
    if not isinstance(meta, dict):
        return meta
    changed = dict(meta)
    ui = meta.get("ui")
    if isinstance(ui, dict) and isinstance(ui.get("resourceUri"), str):
        changed["ui"] = {**ui, "resourceUri": namespaced(server, ui["resourceUri"])}
    flat = meta.get(FLAT_KEY)
    if isinstance(flat, str):
        changed[FLAT_KEY] = namespaced(server, flat)
    return changed if changed != meta else meta


def toolDefinition(tool: dict[str, Any], server: str) -> dict[str, Any]:
    """C{tool} (a member's definition) with its app's URI as the aggregate
    shows it; the rest of its C{_meta} as it is."""
    meta = _meta(tool.get("_meta"), server)
    return tool if meta is tool.get("_meta") else {**tool, "_meta": meta}


def resourceEntry(resource: dict[str, Any], server: str) -> dict[str, Any]:
    """A member's C{resources/list} entry with its URI as the aggregate
    shows it (its C{_meta}, C{mimeType} and the rest as they are)."""
    uri = resource.get("uri")
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        return resource
    return {**resource, "uri": namespaced(server, uri)}


def template(resource: dict[str, Any], server: str) -> dict[str, Any]:
    """A member's resource template with a C{ui://} C{uriTemplate} under
    its server, so that what a client expands from it goes back there."""
    uriTemplate = resource.get("uriTemplate")
    if not isinstance(uriTemplate, str) or not uriTemplate.startswith(SCHEME):
        return resource
    return {**resource, "uriTemplate": namespaced(server, uriTemplate)}


def _item(item: Any, server: str) -> Any:
    """A content item with the C{ui://} URI of its link or embedded
    resource rewritten."""
    if not isinstance(item, dict):
        return item
    if item.get("type") == "resource_link":
        return resourceEntry(item, server)
    inner = item.get("resource")
    if item.get("type") == "resource" and isinstance(inner, dict):
        rewritten = resourceEntry(inner, server)
        return item if rewritten is inner else {**item, "resource": rewritten}
    return item


def toolResult(result: dict[str, Any], server: str) -> dict[str, Any]:
    """A member's C{CallToolResult} with its app references as the
    aggregate shows them (C{_meta.ui.resourceUri}, links and embedded
    resources of its content)."""
    out = result
    meta = _meta(result.get("_meta"), server)
    if meta is not result.get("_meta"):
        out = {**out, "_meta": meta}
    content = result.get("content")
    if isinstance(content, list):
        items = [_item(item, server) for item in content]
        if any(new is not old for new, old in zip(items, content, strict=True)):
            out = {**out, "content": items}
    return out


def readResult(result: dict[str, Any], server: str) -> dict[str, Any]:
    """A member's C{ReadResourceResult} with each content's C{ui://} URI as
    the aggregate shows it; the text or blob, C{mimeType} and C{_meta}
    exactly as they came."""
    contents = result.get("contents")
    if not isinstance(contents, list):
        return result
    items = [resourceEntry(item, server) if isinstance(item, dict) else item for item in contents]
    if all(new is old for new, old in zip(items, contents, strict=True)):
        return result
    return {**result, "contents": items}


def _answer(
    response: dict[str, Any], server: str, rewrite: Callable[[dict[str, Any], str], dict[str, Any]]
) -> dict[str, Any]:
    result = response.get("result")
    if not isinstance(result, dict):
        return response
    shown = rewrite(result, server)
    return response if shown is result else {**response, "result": shown}


def readAnswer(response: dict[str, Any], server: str) -> dict[str, Any]:
    """Member C{server}'s JSON-RPC answer to C{resources/read}, its result
    as L{readResult} shows it (an error as it is)."""
    return _answer(response, server, readResult)


def callAnswer(response: dict[str, Any], server: str) -> dict[str, Any]:
    """Member C{server}'s JSON-RPC answer to C{tools/call}, its result as
    L{toolResult} shows it (an error, a task's handle, as they are)."""
    return _answer(response, server, toolResult)


def withApp(result: dict[str, Any], tool: Mapping[str, Any]) -> dict[str, Any]:
    """C{result} of C{tool} as search's C{invoke} gives it: with the tool's
    C{_meta.ui} (its app, as the aggregate shows it) in its C{_meta} when
    it names none, so that the caller of C{invoke} learns the app a
    C{tools/call} of the tool would have named."""
    meta = tool.get("_meta")
    ui = meta.get("ui") if isinstance(meta, dict) else None
    own = result.get("_meta")
    own = own if isinstance(own, dict) else {}
    if not isinstance(ui, dict) or "ui" in own:
        return result
    return {**result, "_meta": {**own, "ui": ui}}


def visibility(tool: Mapping[str, Any]) -> tuple[str, ...]:
    """Who may use C{tool}: its C{_meta.ui.visibility}, else both the model
    and apps (the extension's default)."""
    meta = tool.get("_meta")
    ui = meta.get("ui") if isinstance(meta, dict) else None
    given = ui.get("visibility") if isinstance(ui, dict) else None
    if not isinstance(given, list):
        return DEFAULT_VISIBILITY
    return tuple(word for word in given if isinstance(word, str))


def forModel(tool: Mapping[str, Any]) -> bool:
    """Whether a model may be shown C{tool}."""
    return "model" in visibility(tool)


def forApps(tool: Mapping[str, Any]) -> bool:
    """Whether an app may call C{tool}."""
    return "app" in visibility(tool)


def declaresUi(capabilities: Mapping[str, Any] | None) -> bool:
    """Whether a client's C{capabilities} declare the extension."""
    extensions = capabilities.get("extensions") if isinstance(capabilities, Mapping) else None
    return isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict)


def listedTo(
    tools: Sequence[dict[str, Any]], capabilities: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The tools a client with C{capabilities} is listed: all of them when
    it declares the extension (its host keeps app-only tools from its
    model, as the extension says, and needs them to let its apps call
    them), else those a model may see."""
    if declaresUi(capabilities):
        return list(tools)
    return [tool for tool in tools if forModel(tool)]


def declared(capabilities: Iterable[Any]) -> dict[str, Any] | None:
    """What the aggregate declares of the extension when its members
    declared C{capabilities}: C{None} when none declares it, else the
    settings of the first that does, with the C{mimeTypes} of them all."""
    settings: dict[str, Any] | None = None
    mimeTypes: list[str] = []
    for each in capabilities:
        extensions = each.get("extensions") if isinstance(each, dict) else None
        mine = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
        if not isinstance(mine, dict):
            continue
        if settings is None:
            settings = dict(mine)
        types = mine.get("mimeTypes")
        if isinstance(types, list):
            mimeTypes += [t for t in types if isinstance(t, str) and t not in mimeTypes]
    if settings is not None and mimeTypes:
        settings["mimeTypes"] = mimeTypes
    return settings


def appTool(
    name: str, owners: Mapping[str, Owner], definitions: Mapping[str, Mapping[str, Any]]
) -> tuple[str | None, str]:
    """The namespaced name of the one tool an app may call by its member's
    own C{name}: C{(name, "")}; C{(None, "")} when no member has such a
    tool; C{(None, why)} when more than one has (never guessed).

    @param owners: namespaced name -> owner, for the tools the caller may
        call.
    @param definitions: namespaced name -> definition.
    """
    found = sorted(
        (owner.server, shown)
        for shown, owner in owners.items()
        if owner.original == name and forApps(definitions.get(shown) or {})
    )
    if len(found) == 1:
        return found[0][1], ""
    if not found:
        return None, ""
    servers = ", ".join(server for server, _ in found)
    return None, (
        f"Unknown tool: {name} (an app's name for a tool of more than one server: {servers};"
        " the gateway never guesses: call it by its namespaced name, or render the app"
        " from its server's own endpoint)"
    )
