# -*- test-case-name: tests.core.aggregate.test_gatewaytools -*-
"""The aggregate endpoint's own tools: C{search}, C{describe}, C{invoke}
and C{get_result}.

One job: answer a client's C{tools/call} of one of these four, for the
aggregator, through a L{ToolContext} it makes per call (what the caller
may see and call, its own result store, its shield settings). In search
mode a client lists only these four tools instead of every member's, so a
model pays for a few hundred tokens of definitions instead of tens of
thousands; it finds a tool with C{search}, reads its schema with
C{describe} and calls it with C{invoke}, which validates the arguments
(an error lists what is wrong, so the model corrects itself) and then
takes the same member path as a direct C{tools/call} (progress, sampling,
elicitation and cancel all work).

Every answer has C{structuredContent} matching the tool's C{outputSchema}
plus its JSON as text. Bad input is an C{isError} result naming the
problem, never a JSON-RPC error. L{GatewayTools.shieldResult} shrinks a
result over the shield's budget (L{mcpgateway.core.aggregate.shield}) after keeping
the whole of it in the caller's store (L{mcpgateway.core.aggregate.results}), where
C{get_result} pages through it. Store mutations stay on the reactor
thread; shrinking a large result (over L{THREAD_BYTES}) runs through the
injected C{runInThread}.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.results import (
    BadPath,
    ResultGone,
    ResultStore,
    ResultTooLarge,
    copied,
)
from mcpgateway.core.aggregate.schemas import Schemas
from mcpgateway.core.aggregate.search import (
    Hit,
    SearchRow,
    SearchService,
    firstSentence,
    rowFromTool,
)
from mcpgateway.core.aggregate.shield import shield, size
from mcpgateway.core.aggregate.types import ShieldSpec
from mcpgateway.runtime import logs

__all__ = [
    "GATEWAY_TOOLS",
    "GatewayTools",
    "ToolCallError",
    "ToolContext",
    "decodeArguments",
]

GATEWAY_TOOLS = frozenset({"search", "describe", "invoke", "get_result"})
"""The names of the gateway's own tools (L{mcpgateway.core.aggregate.naming.Namer}
never gives a member's tool one of them)."""

#: C{search}'s default and largest C{limit}.
SEARCH_LIMIT = 10
SEARCH_MAX = 50
#: Hits fetched from the index per search, filtered by the view and counted
#: for C{total}.
SCAN = 1000
#: A result estimated larger than this is shrunk in a thread.
THREAD_BYTES = 256 * 1024
#: Members named in the instructions (the rest are counted).
LISTED_MEMBERS = 40
#: The ref a shortened result names when it was too large to keep.
NOT_KEPT = "(not kept: too large for the result store)"

RunInThread = Callable[..., "Deferred[Any]"]


class ToolCallError(Exception):
    """A member answered an C{invoke} with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return f"{self.message} (JSON-RPC error {self.code})"


class ToolContext(Protocol):
    """One client's C{tools/call} of a gateway tool, as the aggregator
    gives it."""

    @property
    def servers(self) -> frozenset[str]:
        """The member servers the caller may use in this view."""

    @property
    def store(self) -> ResultStore:
        """The caller's own result store (never another session's)."""

    @property
    def shieldSpec(self) -> ShieldSpec:
        """The caller's endpoint's shield settings."""

    def definition(self, name: str) -> dict[str, Any] | None:
        """The namespaced definition the caller sees (C{None}: unknown or
        hidden)."""

    def serverOf(self, name: str) -> str | None:
        """The server owning the namespaced tool C{name}."""

    def running(self, server: str) -> bool:
        """Whether a child of C{server} runs for the caller now."""

    def visible(self, name: str) -> bool:
        """Whether C{name} is listed and callable in this view."""

    def localName(self, server: str, original: str) -> str | None:
        """The name the caller sees for C{server}'s tool C{original}
        (C{None}: hidden from it)."""

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        """The C{CallToolResult} of the namespaced tool C{name}, through the
        member path; fails with L{ToolCallError} for a JSON-RPC error."""

    @property
    def unavailable(self) -> Mapping[str, str]:
        """The member servers whose tools are not known (still starting,
        or failed), each with why, as the rest of a sentence that starts
        with the server's name (never a child's stderr)."""

    def pendingOf(self, name: str) -> str | None:
        """Why C{name} cannot be used yet when it looks like a tool of an
        unavailable server; C{None} otherwise."""


ROW_SEPARATOR = "\x1f"
"""Between the server and the tool's own name in a search row's name (the
index holds every catalog's tools; each caller's view names them)."""


def _localName(hit: Hit, context: ToolContext) -> str | None:
    """The caller's name for a search hit, or C{None} if it may not see it."""
    server, separator, original = hit.name.partition(ROW_SEPARATOR)
    if separator:
        return context.localName(server, original)
    return hit.name if context.visible(hit.name) else None


class _BadInput(ValueError):
    """A gateway tool's arguments are wrong; the message says how."""


def _ok(structured: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured}


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _jsonType(value: object) -> str:
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

    @raise _BadInput: anything else, saying what it was.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise _BadInput(
            f"arguments must be an object (or a string of its JSON), not {_jsonType(value)}"
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
            raise _BadInput(f"arguments is a string but not JSON: {str(e)[:200]}") from None
    if not isinstance(decoded, dict):
        raise _BadInput(f"arguments must be a JSON object, not {_jsonType(decoded)}")
    return decoded


def _string(args: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = args.get(key)
    if value is None:
        if required:
            raise _BadInput(f"{key} is required (a string)")
        return None
    if not isinstance(value, str):
        raise _BadInput(f"{key} must be a string, not {_jsonType(value)}")
    return value


def _integer(args: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    """C{args[key]}: C{None} when absent, else an integer from C{low} to
    C{high} (the tool's schema C{minimum} and C{maximum}: a value the schema
    forbids is refused, either side, never silently moved into the range).

    @raise _BadInput: not an integer, or out of range.
    """
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadInput(f"{key} must be an integer, not {_jsonType(value)}")
    if value < low:
        raise _BadInput(f"{key} must be at least {low}, not {value}")
    if high is not None and value > high:
        raise _BadInput(f"{key} must be at most {high}, not {value}")
    return value


def _strings(args: Mapping[str, Any], key: str) -> list[str] | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _BadInput(f"{key} must be an array of strings")
    return value


def _lowerBound(value: Any, stop: int) -> int:
    """A cheap lower bound of C{size(value)}, exact enough to tell a small
    result from a large one; it stops counting past C{stop}."""
    total = 0
    stack = [value]
    while stack and total <= stop:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + len(item)
            for key, inner in item.items():
                total += len(key) + 3 if isinstance(key, str) else 3
                stack.append(inner)
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 1
    return total


_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_READ_ONLY = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}

_DEFINITIONS: dict[str, dict[str, Any]] = {
    "search": {
        "name": "search",
        "title": "Search tools",
        "description": (
            "Find tools for a task among all the servers this gateway joins: say what you want "
            "to do in a few words. Best matches first.\n"
            "Then `describe` a result to see its arguments, and `invoke` it."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": 'Like "read a file"; empty: all'},
                "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_MAX, "default": 10},
                "server": {"type": "string", "description": "Only this server's tools"},
            },
            "required": ["query"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": _STRING,
                            "server": _STRING,
                            "description": _STRING,
                            "score": {"type": "number"},
                            "running": {"type": "boolean"},
                        },
                        "required": ["name", "server", "description", "score", "running"],
                    },
                },
                "total": _INTEGER,
                "unavailable": {
                    "type": "object",
                    "description": "Servers searched whose tools are not known yet, and why",
                    "additionalProperties": _STRING,
                },
            },
            "required": ["results", "total"],
        },
        "annotations": _READ_ONLY,
    },
    "describe": {
        "name": "describe",
        "title": "Describe a tool",
        "description": (
            "Show a tool's whole definition (its inputSchema gives the arguments `invoke` "
            "needs) and its server.\nGive a name `search` returned."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {"name": _STRING},
            "required": ["name"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"name": _STRING, "server": _STRING, "inputSchema": {"type": "object"}},
            "required": ["name", "server", "inputSchema"],
        },
        "annotations": _READ_ONLY,
    },
    "invoke": {
        "name": "invoke",
        "title": "Invoke a tool",
        "description": (
            "Call a tool `search` found, with arguments matching its inputSchema (an object, "
            "or a string of its JSON).\nWrong arguments are refused with a list of what to "
            "fix. The tool's result comes back as it is (a huge one shortened: see `get_result`)."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": _STRING,
                # "object" only: a type list makes some model APIs (Gemini) refuse
                # the whole request. A string of the JSON is taken all the same,
                # for strict-mode clients that can only send strings.
                "arguments": {
                    "type": "object",
                    "description": "The tool's arguments (a string of their JSON is taken too)",
                },
            },
            "required": ["name"],
        },
        "outputSchema": {
            "type": "object",
            "description": "The tool's own structuredContent ({} if none)",
        },
    },
    "get_result": {
        "name": "get_result",
        "title": "Read a shortened result",
        "description": (
            "Page through a result that was shortened, by the ref it gave. Default: its largest "
            "array or text; `path` (dotted) picks another part. `offset`/`limit` count items "
            "or characters; `fields` keeps those keys of each item; `query` keeps matching "
            "items or lines.\nThe answer gives `total` and the `next` offset."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "ref": _STRING,
                "path": _STRING,
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1},
                "fields": {"type": "array", "items": _STRING},
                "query": _STRING,
            },
            "required": ["ref"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "ref": _STRING,
                "path": _STRING,
                "total": _INTEGER,
                "offset": _INTEGER,
                "returned": _INTEGER,
                "next": {"type": ["integer", "null"]},
            },
            "required": ["ref", "path", "total", "offset", "returned", "next"],
        },
        "annotations": _READ_ONLY,
    },
}

#: What C{describe} answers must have the type its outputSchema says.
_DESCRIBE_TYPES: dict[str, type] = {
    "title": str,
    "description": str,
    "inputSchema": dict,
    "outputSchema": dict,
    "annotations": dict,
}


class GatewayTools:
    """The four gateway tools, over one search service and one schema
    checker.

    @ivar shielded: results shortened so far.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        search: SearchService,
        schemas: Schemas,
        runInThread: RunInThread | None = None,
    ) -> None:
        """
        @param runInThread: runs a function in a worker thread, firing with
            its value (C{deferToThread}); C{None} runs it inline.
        """
        self._search = search
        self._schemas = schemas
        self._runInThread = runInThread
        self.shielded = 0

    # -- what a client lists -------------------------------------------------

    def definitions(self, withResults: bool) -> list[dict[str, Any]]:
        """C{search}, C{describe}, C{invoke} and, C{withResults}, C{get_result}:
        fresh copies the caller may change."""
        names = ["search", "describe", "invoke"] + (["get_result"] if withResults else [])
        return [copy.deepcopy(_DEFINITIONS[name]) for name in names]

    def instructions(
        self, members: Mapping[str, int], mode: str, unavailable: Mapping[str, str] | None = None
    ) -> str:
        """The C{instructions} of an aggregate session: how to use it in
        C{mode} (C{"search"}, C{"hybrid"} or C{"full"}), its members with
        their tool counts, and the servers left out (C{unavailable}: server
        -> why, the rest of a sentence starting with its name)."""
        tools = sum(members.values())
        ordered = sorted(members.items())
        listed = ", ".join(f"{server} ({count})" for server, count in ordered[:LISTED_MEMBERS])
        if len(ordered) > LISTED_MEMBERS:
            listed += f", and {len(ordered) - LISTED_MEMBERS} more"
        servers = "server" if len(members) == 1 else "servers"
        head = f"mcpgateway joins {len(members)} MCP {servers} with {tools} tools"
        if mode == "search":
            lines = [
                f"{head}, reached through four tools: `search` finds tools by a few words of "
                "what you need, `describe` shows one's input schema, and `invoke` calls it.",
                "A very large result is shortened and names a ref: `get_result` pages through "
                "the whole of it.",
            ]
        elif mode == "hybrid":
            lines = [
                f"{head}. Some are listed directly; `search`, `describe` and `invoke` reach "
                "every one of them.",
            ]
        else:
            lines = [f"{head}; each tool's name starts with its server's name."]
        lines.append(f"Servers (tools): {listed or 'none'}.")
        left = sorted((unavailable or {}).items())
        for server, why in left[:LISTED_MEMBERS]:
            lines.append(f"Left out for now: {server} {why}.")
        if len(left) > LISTED_MEMBERS:
            lines.append(f"Left out for now: {len(left) - LISTED_MEMBERS} more servers.")
        return "\n".join(lines)

    def rowsChanged(self, rows: Callable[[], Sequence[Any]]) -> None:
        """The tools to search are now what C{rows()} returns (called at the
        next search): L{SearchRow}s, or C{(name, server, definition)}
        triples."""

        def made() -> list[SearchRow]:
            out = []
            for row in rows():
                if isinstance(row, SearchRow):
                    out.append(row)
                else:
                    name, server, definition = row
                    out.append(rowFromTool(name, server, definition))
            return out

        self._search.changed(made)

    # -- calls -----------------------------------------------------------------

    def call(self, name: str, arguments: Any, context: ToolContext) -> Deferred[dict[str, Any]]:
        """The C{CallToolResult} of gateway tool C{name}: C{structuredContent}
        and its JSON as text, or an C{isError} result naming what was wrong
        with the call."""
        handlers: dict[str, Callable[[dict[str, Any], ToolContext], Deferred[dict[str, Any]]]]
        handlers = {
            "search": self._searchTool,
            "describe": self._describe,
            "invoke": self._invoke,
            "get_result": self._getResult,
        }
        handler = handlers.get(name)
        if handler is None:
            return succeed(_error(f"{name!r} is not one of the gateway's tools"))
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return succeed(
                _error(f"{name}: arguments must be an object, not {_jsonType(arguments)}")
            )
        try:
            return handler(arguments, context)
        except _BadInput as e:
            return succeed(_error(f"{name}: {e}"))

    def _searchTool(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        query = _string(args, "query") or ""
        limit = _integer(args, "limit", 1, SEARCH_MAX) or SEARCH_LIMIT
        server = _string(args, "server")
        servers = context.servers
        if server is not None:
            if server not in servers:
                known = ", ".join(sorted(servers)) or "none"
                raise _BadInput(f"no server {server!r} here; the servers are: {known}")
            servers = frozenset({server})

        unavailable = {
            name: f"{name} {why}" for name, why in context.unavailable.items() if name in servers
        }

        def found(hits: list[Hit]) -> dict[str, Any]:
            kept = [(name, hit) for hit in hits if (name := _localName(hit, context)) is not None]
            running: dict[str, bool] = {}
            results = []
            for name, hit in kept[:limit]:
                if hit.server not in running:
                    running[hit.server] = bool(context.running(hit.server))
                results.append(
                    {
                        "name": name,
                        "server": hit.server,
                        "description": firstSentence(hit.description),
                        "score": round(hit.score, 3) + 0.0,
                        "running": running[hit.server],
                    }
                )
            answer: dict[str, Any] = {"results": results, "total": len(kept)}
            if unavailable:
                answer["unavailable"] = unavailable
            return _ok(answer)

        def failed(reason: Failure) -> dict[str, Any]:
            self.log.failure("search failed for {query!r}", failure=reason, query=query[:100])
            return _error("search failed inside the gateway; try again, or another query")

        return self._search.search(query, servers, SCAN).addCallbacks(found, failed)

    def _definition(self, name: str, context: ToolContext) -> dict[str, Any]:
        if name in GATEWAY_TOOLS:
            raise _BadInput(f"{name!r} is one of the gateway's own tools: call it directly")
        definition = context.definition(name) if context.visible(name) else None
        if not isinstance(definition, dict):
            pending = context.pendingOf(name)
            if pending is not None:
                raise _BadInput(f"{pending}; try again then")
            raise _BadInput(f"no tool named {name!r} here: `search` finds the tools you can use")
        return definition

    def _describe(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        name = _string(args, "name", required=True) or ""
        definition = self._definition(name, context)
        described: dict[str, Any] = {}
        for key, value in definition.items():
            expected = _DESCRIBE_TYPES.get(key)
            if expected is None or isinstance(value, expected):
                described[key] = value
        described["name"] = name
        described["server"] = context.serverOf(name) or ""
        described.setdefault("inputSchema", {"type": "object"})
        return succeed(_ok(described))

    def _invoke(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        name = _string(args, "name", required=True) or ""
        definition = self._definition(name, context)
        arguments = decodeArguments(args.get("arguments"))
        schema = definition.get("inputSchema")
        if isinstance(schema, dict):
            errors = self._schemas.arguments(schema, arguments)
            if errors:
                listed = "\n".join(f"- {error}" for error in errors)
                return succeed(
                    _error(
                        f"The arguments for {name} do not match its inputSchema:\n{listed}\n"
                        f"Fix them and call invoke again (describe {name} shows the schema)."
                    )
                )
        outputSchema = definition.get("outputSchema")

        def answered(result: dict[str, Any]) -> Deferred[dict[str, Any]] | dict[str, Any]:
            if not isinstance(result, dict):
                return _error(f"{name} answered with no result")
            if not context.shieldSpec.enabled:
                return _structured(result)
            shielded = self.shieldResult(
                result, outputSchema if isinstance(outputSchema, dict) else None, context
            )
            return shielded.addCallback(_structured)

        def failed(reason: Failure) -> dict[str, Any] | Failure:
            error = reason.value
            if not isinstance(error, ToolCallError):
                return reason
            return _error(f"{name} failed: {error}")

        return context.invoke(name, arguments).addCallbacks(answered, failed)

    def _getResult(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        ref = _string(args, "ref", required=True) or ""
        path = _string(args, "path")
        offset = _integer(args, "offset", 0) or 0
        limit = _integer(args, "limit", 1)  # the schema's minimum
        fields = _strings(args, "fields")
        query = _string(args, "query")
        try:
            page = context.store.page(ref, path, offset, limit, fields, query)
        except ResultGone as e:
            return succeed(_error(f"get_result: {e}. Call the tool again to get a new result."))
        except BadPath as e:
            return succeed(_error(f"get_result: {ref}: {e}"))
        return succeed(self._fit(page, context.shieldSpec, ref))

    def _fit(self, page: dict[str, Any], spec: ShieldSpec, ref: str) -> dict[str, Any]:
        """The answer of a page, cut to the fewest items (or characters)
        over the shield's budget: its C{returned} and C{next} then say where
        to go on. A page whose first item alone is over the budget is
        shrunk (never kept again)."""
        result = _ok(page)
        if size(result) <= spec.budget:
            return result
        key = "items" if isinstance(page.get("items"), list) else "text"
        whole = page.get(key)
        if not isinstance(whole, (list, str)) or len(whole) <= 1:
            return self._shieldPage(result, spec, ref)

        def cut(n: int) -> dict[str, Any]:
            end = page["offset"] + n
            total = page["total"]
            return {
                **page,
                key: whole[:n],
                "returned": n,
                "next": end if end < total else None,
            }

        low, high = 1, len(whole) - 1
        if size(_ok(cut(low))) > spec.budget:
            return self._shieldPage(_ok(cut(low)), spec, ref)
        while low < high:
            mid = (low + high + 1) // 2
            if size(_ok(cut(mid))) <= spec.budget:
                low = mid
            else:
                high = mid - 1
        return _ok(cut(low))

    def _shieldPage(self, result: dict[str, Any], spec: ShieldSpec, ref: str) -> dict[str, Any]:
        return shield(result, spec, ref, lambda value: True).result

    # -- shielding ---------------------------------------------------------------

    def shieldResult(
        self,
        result: dict[str, Any],
        outputSchema: dict[str, Any] | None,
        context: ToolContext,
    ) -> Deferred[dict[str, Any]]:
        """C{result} as the caller may receive it: untouched at or under the
        shield's budget (or with the shield off); over it, kept whole in
        C{context.store} and shrunk to the budget, its C{structuredContent}
        shrunk only while it stays valid against C{outputSchema} (freely
        without one). One estimated over L{THREAD_BYTES} is shrunk in a
        thread (the store is written on the reactor, before). If shrinking
        fails, the result is sent whole (and the failure logged)."""
        spec = context.shieldSpec
        if not spec.enabled:
            return succeed(result)
        bound = _lowerBound(result, max(THREAD_BYTES, spec.budget))
        if bound <= spec.budget and size(result) <= spec.budget:
            return succeed(result)
        if bound <= THREAD_BYTES or self._runInThread is None:
            ref = self._keep(result, context.store)
            return succeed(self._shieldedOrWhole(result, spec, ref, outputSchema))
        runInThread = self._runInThread

        def failed(reason: Failure) -> dict[str, Any]:
            self.log.failure("shortening a result failed; it is sent whole", failure=reason)
            return result

        def kept(made: tuple[object, int]) -> Deferred[dict[str, Any]]:
            # Only the entry and the budget are touched on the reactor.
            try:
                ref = context.store.putCopy(*made)
            except ResultTooLarge as e:
                self.log.warn("a result too large to keep was shortened anyway: {why}", why=str(e))
                ref = NOT_KEPT
            return runInThread(self._shielded, result, spec, ref, outputSchema)

        # A large result is copied (encoded and decoded) in a thread too.
        return runInThread(copied, result).addCallback(kept).addErrback(failed)

    def _keep(self, result: dict[str, Any], store: ResultStore) -> str:
        try:
            return store.put(result)
        except ResultTooLarge as e:
            self.log.warn("a result too large to keep was shortened anyway: {why}", why=str(e))
            return NOT_KEPT

    def _shielded(
        self,
        result: dict[str, Any],
        spec: ShieldSpec,
        ref: str,
        outputSchema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        schema = outputSchema
        if schema is None:

            def valid(value: Any) -> bool | None:
                return True

        else:

            def valid(value: Any) -> bool | None:
                return self._schemas.structured(schema, value)

        out = shield(result, spec, ref, valid)
        if out.ref is not None:
            self.shielded += 1
            self.log.debug(
                "result shortened to {bytes} bytes, kept as {ref}",
                bytes=size(out.result),
                ref=ref,
            )
        return out.result

    def _shieldedOrWhole(
        self,
        result: dict[str, Any],
        spec: ShieldSpec,
        ref: str,
        outputSchema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        try:
            return self._shielded(result, spec, ref, outputSchema)
        except Exception:
            self.log.failure("shortening a result failed; it is sent whole")
            return result


def _structured(result: dict[str, Any]) -> dict[str, Any]:
    """An C{invoke} answer matching invoke's outputSchema (an object): the
    tool's own C{structuredContent}, C{{}} when it had none, C{{"value":
    ...}} when it was not an object. An error result stays as it is."""
    if result.get("isError") is True:
        return result
    structured = result.get("structuredContent")
    if isinstance(structured, dict):
        return result
    wrapped = {} if structured is None else {"value": structured}
    return {**result, "structuredContent": wrapped}
