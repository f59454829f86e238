# -*- test-case-name: tests.remote.test_openapi -*-
"""A REST API's OpenAPI document as MCP tools: one tool per operation.

The document is checked with C{openapi-spec-validator} (the python-openapi
project's validator of OpenAPI 2.0, 3.0 and 3.1 documents against their
official schemas, built on C{jsonschema}, which the gateway uses already), so
a broken document is refused with the validator's own words instead of
half-working tools. Local C{$ref}s (C{#/components/...}) are resolved here,
with a cycle left as an open object: a tool's schema must be plain JSON.

A tool is named by its C{operationId} (else its method and path), described by
its summary and description; its C{inputSchema} has a property per path,
query and header parameter, and C{body} for a JSON request body. Its
C{outputSchema} is the JSON schema of the operation's first 2xx answer, when
that is an object (MCP wants an object for C{structuredContent}).

A call's path parameters are data, never path: each value is
percent-encoded as RFC 6570's simple expansion does (all but RFC 3986's
unreserved characters), so a C{/} in a value cannot add a segment, and a
value that would make a whole segment C{.}, C{..} or empty (the parent,
the same or another resource) is refused (L{InvalidArgument}, the call's
JSON-RPC invalid-params error).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
BODY = "body"


class SpecError(Exception):
    """The document cannot give tools; the message says why."""


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str
    """C{path}, C{query} or C{header}."""
    required: bool


@dataclass(frozen=True)
class Operation:
    """One tool and the HTTP request it makes."""

    name: str
    method: str
    path: str
    description: str
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any] | None
    parameters: tuple[Parameter, ...] = ()
    hasBody: bool = False

    def tool(self) -> dict[str, Any]:
        tool: dict[str, Any] = {"name": self.name, "inputSchema": self.inputSchema}
        if self.description:
            tool["description"] = self.description
        if self.outputSchema is not None:
            tool["outputSchema"] = self.outputSchema
        hints = {"readOnlyHint": self.method in ("get", "head", "options")}
        if self.method == "delete":
            hints["destructiveHint"] = True
        tool["annotations"] = hints
        return tool

    def request(self, arguments: dict[str, Any]) -> tuple[str, dict[str, str], Any]:
        """The path with its query string, the headers, and the JSON body
        (C{None}: none) of a call with C{arguments}. Each path parameter is
        expanded as RFC 6570's simple expansion (L{expanded}): whatever its
        value, the path keeps the template's segments.

        @raise InvalidArgument: a path parameter's value would name another
            path (C{.}, C{..} or nothing as a whole segment).
        @raise ValueError: a required argument is missing.
        """
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        inPath: dict[str, str] = {}
        for parameter in self.parameters:
            if parameter.name not in arguments:
                if parameter.required:
                    raise ValueError(f"'{parameter.name}' is required")
                continue
            value = arguments[parameter.name]
            if parameter.where == "path":
                inPath[parameter.name] = expanded(parameter.name, value)
            elif parameter.where == "query":
                values = value if isinstance(value, list) else [value]
                query.extend((parameter.name, _text(v)) for v in values)
            else:
                headers[parameter.name] = _text(value)
        path = _filled(self.path, inPath)
        if query:
            path += "?" + urlencode(query)
        body = arguments.get(BODY) if self.hasBody else None
        return path, headers, body


class InvalidArgument(ValueError):
    """A call's argument cannot be sent as it is (a path parameter that
    would name another path): the call's JSON-RPC invalid-params error."""


_VARIABLE = re.compile(r"\{([^{}/]+)\}")
_DOT_SEGMENTS = frozenset({"", ".", ".."})


def expanded(name: str, value: Any) -> str:
    """C{value} as RFC 6570 simple expansion gives it (C{{name}}): each
    character but RFC 3986's unreserved ones (letters, digits, C{-._~})
    percent-encoded as UTF-8, so a C{/}, C{?}, C{#} or C{%} of a value is
    data, never the path's; a list is its items, an object its keys and
    values, joined by commas (OpenAPI's C{simple} style).

    @raise InvalidArgument: the value is not valid Unicode.
    """
    if isinstance(value, list):
        items = [_text(item) for item in value]
    elif isinstance(value, dict):
        items = [part for key, item in value.items() for part in (str(key), _text(item))]
    else:
        items = [_text(value)]
    try:
        return ",".join(quote(item.encode("utf-8"), safe="") for item in items)
    except UnicodeEncodeError:
        raise InvalidArgument(f"'{name}' is not valid Unicode text") from None


def _filled(template: str, values: dict[str, str]) -> str:
    """The path C{template} with its variables replaced by their expanded
    C{values}, segment by segment (a variable without a value stays as
    it is). A segment made of values alone that is then C{.}, C{..} or
    empty is refused: it would name the parent, the same or another
    resource than the template's."""
    segments = []
    for segment in template.split("/"):
        filled = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), segment)
        if filled != segment and filled in _DOT_SEGMENTS:
            names = ", ".join(f"'{name}'" for name in _VARIABLE.findall(segment))
            shown = repr(filled) if filled else "empty"
            raise InvalidArgument(
                f"path parameter {names} cannot be {shown}: the path {template} would name"
                " another resource"
            )
        segments.append(filled)
    return "/".join(segments)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Api:
    """The tools of one document."""

    title: str
    version: str
    operations: dict[str, Operation] = field(default_factory=dict)
    servers: tuple[str, ...] = ()
    """The document's C{servers} URLs (the base URL when the entry gives none)."""


def validate(document: Any) -> None:
    """Check C{document} against the OpenAPI schemas; L{SpecError} if it fails."""
    if not isinstance(document, dict):
        raise SpecError("the OpenAPI document is not a JSON object")
    try:
        from openapi_spec_validator import validate as check
    except ImportError:
        # Installed since the import system last looked? Its finders' caches
        # are dropped and it looks once more: the next start after
        # `pip install 'mcpgateway[openapi]'` works without a restart.
        importlib.invalidate_caches()
        try:
            from openapi_spec_validator import validate as check
        except ImportError:
            raise SpecError(
                "OpenAPI servers need openapi-spec-validator: pip install 'mcpgateway[openapi]'"
            ) from None
    try:
        check(document)
    except Exception as e:  # the validator's own error types, whatever its version
        first = str(e).split("\n", 1)[0]
        raise SpecError(f"the OpenAPI document is not valid: {first}") from None


def resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """C{node} with its local C{$ref}s replaced by what they point at; a
    reference back into its own chain becomes C{{}} (any value)."""
    if isinstance(node, list):
        return [resolve(item, document, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen or not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SpecError(f"the reference {ref} points at nothing")
            target = target[part]
        return resolve(target, document, (*seen, ref))
    return {key: resolve(value, document, seen) for key, value in node.items()}


def toolName(operation: dict[str, Any], method: str, path: str) -> str:
    given = operation.get("operationId")
    raw = given if isinstance(given, str) and given else f"{method}_{path}"
    return (_NAME.sub("_", raw).strip("_") or method)[:64]


def _jsonSchema(content: Any) -> dict[str, Any] | None:
    if not isinstance(content, dict):
        return None
    for mediaType, media in content.items():
        if mediaType.split(";")[0].strip() in ("application/json", "*/*") or mediaType.endswith(
            "+json"
        ):
            schema = media.get("schema") if isinstance(media, dict) else None
            return schema if isinstance(schema, dict) else {}
    return None


def _operation(document: dict[str, Any], path: str, method: str, item: dict[str, Any]) -> Operation:
    operation = resolve(item[method], document)
    shared = resolve(item.get("parameters", []), document)
    byKey: dict[tuple[str, str], dict[str, Any]] = {}
    for parameter in [*shared, *operation.get("parameters", [])]:
        if isinstance(parameter, dict) and parameter.get("in") in ("path", "query", "header"):
            byKey[(parameter["in"], parameter.get("name", ""))] = parameter
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters = []
    for (where, name), parameter in byKey.items():
        if not name:
            continue
        schema = dict(parameter.get("schema") or {})
        if isinstance(parameter.get("description"), str):
            schema.setdefault("description", parameter["description"])
        properties[name] = schema
        isRequired = where == "path" or parameter.get("required") is True
        if isRequired:
            required.append(name)
        parameters.append(Parameter(name, where, isRequired))
    body = operation.get("requestBody")
    hasBody = False
    if isinstance(body, dict):
        bodySchema = _jsonSchema(body.get("content"))
        if bodySchema is not None:
            hasBody = True
            properties[BODY] = bodySchema
            if body.get("required") is True:
                required.append(BODY)
    inputSchema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        inputSchema["required"] = required
    outputSchema: dict[str, Any] | None = None
    for status, response in sorted((operation.get("responses") or {}).items()):
        if str(status).startswith("2") and isinstance(response, dict):
            answered = _jsonSchema(response.get("content"))
            if answered is not None and answered.get("type") == "object":
                outputSchema = answered
            break
    words = [operation.get("summary"), operation.get("description")]
    description = "\n\n".join(w for w in words if isinstance(w, str) and w)
    return Operation(
        toolName(operation, method, path),
        method,
        path,
        description,
        inputSchema,
        outputSchema,
        tuple(parameters),
        hasBody,
    )


def parseApi(document: Any) -> Api:
    """The tools of an OpenAPI 3 document (validated first)."""
    validate(document)
    if not str(document.get("openapi", "")).startswith("3."):
        raise SpecError("only OpenAPI 3.0 and 3.1 documents give tools (this is Swagger 2.0)")
    info = document.get("info", {})
    api = Api(str(info.get("title", "")), str(info.get("version", "")))
    servers = document.get("servers")
    if isinstance(servers, list):
        api.servers = tuple(
            s["url"] for s in servers if isinstance(s, dict) and isinstance(s.get("url"), str)
        )
    for path, item in sorted((document.get("paths") or {}).items()):
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                operation = _operation(document, path, method, item)
                name, n = operation.name, 2
                while name in api.operations:  # two operations of one name: both kept
                    name = f"{operation.name[:60]}_{n}"
                    n += 1
                api.operations[name] = (
                    operation if name == operation.name else _renamed(operation, name)
                )
    return api


def _renamed(operation: Operation, name: str) -> Operation:
    from dataclasses import replace

    return replace(operation, name=name)
