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
elicitation and cancel all work). With C{"async": true}, C{invoke} hands
the call to the gateway's L{mcpgateway.core.tasks.manager.TaskManager} and
answers at once with the task's id; C{get_result} with that C{taskId}
reads its status and then pages its result as it pages a shortened one
(for clients without the Tasks extension: a model polls through a tool).

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
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps
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
    ThreadedSearch,
    firstSentence,
    rowFromTool,
)
from mcpgateway.core.aggregate.shield import shield, size
from mcpgateway.core.aggregate.skills import searchSkills
from mcpgateway.core.aggregate.toolargs import (
    BadInput,
    booleanArg,
    decodeArguments,
    integerArg,
    jsonType,
    stringArg,
    stringsArg,
)
from mcpgateway.core.aggregate.tooldefs import DEFINITIONS, DESCRIBE_TYPES, SEARCH_LIMIT
from mcpgateway.core.aggregate.tooldefs import SEARCH_MAX as SEARCH_MAX
from mcpgateway.core.aggregate.types import ShieldSpec
from mcpgateway.core.tasks.model import NOT_LOADED, WORKING, Task, detailed
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from mcpgateway.core.tasks.manager import TaskManager

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

#: Hits fetched from the index per search, filtered by the view and counted
#: for C{total}.
SCAN = 1000
#: A result estimated larger than this is shrunk in a thread.
THREAD_BYTES = 256 * 1024
#: Members named in the instructions (the rest are counted).
LISTED_MEMBERS = 40
#: Seconds a C{get_result} of a task waits, at most, for a restarted
#: gateway to read its predecessor's tasks; then it answers C{working}
#: (under a client's usual 30 s read timeout: the model polls again).
TASK_WAIT = 20.0
#: The ref a shortened result names when it was too large to keep.
NOT_KEPT = "(not kept: too large for the result store)"


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

    def catalogKey(self, server: str) -> str | None:
        """The key of the catalog of C{server} the caller sees (C{None}:
        no such server)."""

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        """The C{CallToolResult} of the namespaced tool C{name}, through the
        member path; fails with L{ToolCallError} for a JSON-RPC error."""

    def start(
        self, name: str, arguments: dict[str, Any], progress: Callable[[str], None]
    ) -> Deferred[jsonrpc.Message]:
        """Call the namespaced tool C{name} on its own: not as the caller's
        request, which is answered before the call ends (a task's). Fires
        with the member's JSON-RPC response, an error response when the
        call could not be made. The text of its progress goes to
        C{progress}; what else its child sends, to the session's stream."""

    @property
    def scope(self) -> str:
        """The route of the caller's session (C{""}: the key-less one):
        with C{principal}, who owns the tasks it makes."""

    @property
    def principal(self) -> str:
        """The key of the caller's principal (C{""}: none)."""

    def shownError(self, error: Mapping[str, Any]) -> dict[str, Any]:
        """A member's JSON-RPC C{error} as the caller may read it (a
        child's stderr only for those allowed to)."""

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
KEY_SEPARATOR = "\x1e"
"""Between the server and the catalog key of a row only that key's
principal may find (its catalog is its own, or was listed private)."""


def _localName(hit: Hit, context: ToolContext) -> str | None:
    """The caller's name for a search hit, or C{None} if it may not see it."""
    head, separator, original = hit.name.partition(ROW_SEPARATOR)
    if not separator:
        return hit.name if context.visible(hit.name) else None
    server, keyed, key = head.partition(KEY_SEPARATOR)
    if keyed and context.catalogKey(server) != key:
        return None  # another principal's catalog
    return context.localName(server, original)


def forModel(context: ToolContext, name: str) -> bool:
    """Whether C{search} may offer tool C{name} (the model's list): not
    when the tool is one only an app may call (MCP Apps' C{visibility})."""
    return apps.forModel(context.definition(name) or {})


def _ok(structured: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured}


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


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


class GatewayTools:
    """The four gateway tools, over one search service and one schema
    checker.

    @ivar shielded: results shortened so far.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        search: ThreadedSearch,
        schemas: Schemas,
        runInThread: RunInThread | None = None,
        tasks: TaskManager | None = None,
    ) -> None:
        """
        @param runInThread: runs a function in a worker thread, firing with
            its value (C{deferToThread}); C{None} runs it inline.
        @param tasks: keeps the tasks C{invoke} starts with C{async}
            (C{None}: such an C{invoke} is answered when its tool ends).
        """
        self._search = search
        self._schemas = schemas
        self._runInThread = runInThread
        self._tasks = tasks
        self.shielded = 0

    # -- what a client lists -------------------------------------------------

    def definitions(self, withResults: bool) -> list[dict[str, Any]]:
        """C{search}, C{describe}, C{invoke} and, C{withResults}, C{get_result}:
        fresh copies the caller may change."""
        names = ["search", "describe", "invoke"] + (["get_result"] if withResults else [])
        return [copy.deepcopy(DEFINITIONS[name]) for name in names]

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
                "the whole of it; a slow tool `invoke`d with `async` gives a taskId whose "
                "status and result `get_result` reads.",
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
                _error(f"{name}: arguments must be an object, not {jsonType(arguments)}")
            )
        try:
            return handler(arguments, context)
        except BadInput as e:
            return succeed(_error(f"{name}: {e}"))

    def _searchTool(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        query = stringArg(args, "query") or ""
        limit = integerArg(args, "limit", 1, SEARCH_MAX) or SEARCH_LIMIT
        server = stringArg(args, "server")
        servers = context.servers
        if server is not None:
            if server not in servers:
                known = ", ".join(sorted(servers)) or "none"
                raise BadInput(f"no server {server!r} here; the servers are: {known}")
            servers = frozenset({server})

        unavailable = {
            name: f"{name} {why}" for name, why in context.unavailable.items() if name in servers
        }

        def found(hits: list[Hit]) -> dict[str, Any]:
            kept: list[tuple[str, Hit]] = []
            seen: set[str] = set()
            for hit in hits:  # a tool of the shared catalog and the caller's own: once
                name = _localName(hit, context)
                if name is not None and name not in seen and forModel(context, name):
                    seen.add(name)
                    kept.append((name, hit))
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

        def withSkills(result: dict[str, Any]) -> Deferred[dict[str, Any]] | dict[str, Any]:
            # The members' skills (the Skills extension) are found as tools are.
            lister = getattr(context, "skills", None)
            structured = result.get("structuredContent")
            if lister is None or result.get("isError") or not isinstance(structured, dict):
                return result

            def ranked(entries: list[dict[str, Any]]) -> dict[str, Any]:
                matched = searchSkills(entries, query, limit, servers)
                return _ok({**structured, "skills": matched}) if matched else result

            listed: Deferred[list[dict[str, Any]]] = lister()
            return listed.addCallback(ranked).addErrback(lambda _: result)

        searched = self._search.search(query, servers, SCAN).addCallbacks(found, failed)
        return searched.addCallback(withSkills)

    def _definition(self, name: str, context: ToolContext) -> dict[str, Any]:
        if name in GATEWAY_TOOLS:
            raise BadInput(f"{name!r} is one of the gateway's own tools: call it directly")
        definition = context.definition(name) if context.visible(name) else None
        if not isinstance(definition, dict):
            pending = context.pendingOf(name)
            if pending is not None:
                raise BadInput(f"{pending}; try again then")
            raise BadInput(f"no tool named {name!r} here: `search` finds the tools you can use")
        return definition

    def _describe(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        name = stringArg(args, "name", required=True) or ""
        definition = self._definition(name, context)
        described: dict[str, Any] = {}
        for key, value in definition.items():
            expected = DESCRIBE_TYPES.get(key)
            if expected is None or isinstance(value, expected):
                described[key] = value
        described["name"] = name
        described["server"] = context.serverOf(name) or ""
        described.setdefault("inputSchema", {"type": "object"})
        return succeed(_ok(described))

    def _invoke(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        name = stringArg(args, "name", required=True) or ""
        definition = self._definition(name, context)
        arguments = decodeArguments(args.get("arguments"))
        asTask = booleanArg(args, "async")
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
            result = apps.withApp(result, definition)
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

        if asTask:
            started = self._startTask(name, arguments, context)
            if isinstance(started, dict):
                return succeed(started)
            if started is not None:
                return started.addCallbacks(answered, failed)
        return context.invoke(name, arguments).addCallbacks(answered, failed)

    def _startTask(
        self, name: str, arguments: dict[str, Any], context: ToolContext
    ) -> dict[str, Any] | Deferred[dict[str, Any]] | None:
        """C{invoke}'s C{async}: the call started on its own and handed to
        the task manager; the answer is the new task's handle. When no task
        can be made (the caps), the call's C{CallToolResult} once it ends;
        C{None} when the call is to be made as an ordinary C{invoke} (no
        task manager, or no C{get_result} to read a task with: an endpoint
        whose shield is off does not offer it)."""
        tasks = self._tasks
        if tasks is None or not context.shieldSpec.enabled:
            why = "this gateway keeps no tasks" if tasks is None else "get_result is not offered"
            self.log.info(
                "invoke of {tool} with async is answered when it ends: {why}", tool=name, why=why
            )
            return None
        made: list[Task] = []

        def progress(text: str) -> None:
            if made and not made[0].terminal:
                made[0].statusMessage = text[:512]

        call = context.start(name, arguments, progress)
        server = context.serverOf(name) or ""
        task = tasks.begin(server, context.scope, context.principal, name, call)
        if task is None:
            self.log.info(
                "invoke of {tool} with async is answered when it ends: no room for another task",
                tool=name,
            )
            return call.addCallback(_resultOf, context)
        made.append(task)
        handle = _taskView(task, context)
        handle.pop("result", None)
        handle["hint"] = (
            "Call get_result with this taskId: it gives the status and, once completed, the result."
        )
        return _ok(handle)

    def _getResult(self, args: dict[str, Any], context: ToolContext) -> Deferred[dict[str, Any]]:
        ref = stringArg(args, "ref")
        taskId = stringArg(args, "taskId")
        if (ref is None) == (taskId is None):
            raise BadInput("give either ref (a shortened result's) or taskId (a task's)")
        path = stringArg(args, "path")
        offset = integerArg(args, "offset", 0)
        limit = integerArg(args, "limit", 1)  # the schema's minimum
        fields = stringsArg(args, "fields")
        query = stringArg(args, "query")
        if taskId is not None:
            paging = (path, offset, limit, fields, query)
            tasks = self._tasks
            if tasks is None:
                return succeed(self._readTask(taskId, paging, context))
            # A restart's successor reads its predecessor's tasks once that one exited.
            return tasks.afterLoad(lambda: self._readTask(taskId, paging, context), TASK_WAIT)
        assert ref is not None
        try:
            page = context.store.page(ref, path, offset or 0, limit, fields, query)
        except ResultGone as e:
            return succeed(_error(f"get_result: {e}. Call the tool again to get a new result."))
        except BadPath as e:
            return succeed(_error(f"get_result: {ref}: {e}"))
        return succeed(self._fit(page, context.shieldSpec, ref))

    def _readTask(
        self, taskId: str, paging: tuple[Any, ...], context: ToolContext
    ) -> dict[str, Any]:
        """C{get_result}'s answer for the caller's task C{taskId}: its
        status, and once completed its result: whole when no C{paging}
        (C{path, offset, limit, fields, query}) is asked and it fits the
        budget; else kept in the caller's store and paged as a shortened
        result is (the page names the C{ref} too)."""
        task = None
        if self._tasks is not None:
            task = self._tasks.owned(taskId, context.scope, context.principal)
        if task is None and self._tasks is not None and self._tasks.loading:
            return _ok(
                {
                    "taskId": taskId,
                    "status": WORKING,
                    "statusMessage": f"{NOT_LOADED}: call get_result again",
                    "pollIntervalMs": max(1, int(self._tasks.limits.pollInterval * 1000)),
                }
            )
        if task is None:
            return _error(
                f"get_result: unknown task {taskId!r} (or its time to live is over): "
                "invoke the tool again"
            )
        shown = _taskView(task, context)
        result = shown.pop("result", None)
        if not isinstance(result, dict):
            return _ok(shown)
        spec = context.shieldSpec
        if (
            all(value is None for value in paging)
            and _lowerBound(result, spec.budget) <= spec.budget
        ):
            whole = _ok({**shown, "result": result})
            if size(whole) <= spec.budget:
                return whole
        if result.get("isError") is True:
            shown["isError"] = True
        try:
            ref = context.store.keptAs(f"task:{taskId}", result)
        except ResultTooLarge as e:
            self.log.warn("a task's result too large to keep was shortened: {why}", why=str(e))
            return self._shieldPage(_ok({**shown, "result": result}), spec, NOT_KEPT)
        path, offset, limit, fields, query = paging
        try:
            page = context.store.page(ref, path, offset or 0, limit, fields, query)
        except BadPath as e:
            return _error(f"get_result: {taskId}: {e}")
        return self._fit({**shown, **page}, spec, ref)

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


def _taskView(task: Task, context: ToolContext) -> dict[str, Any]:
    """What C{invoke} and C{get_result} show of C{task}: its C{DetailedTask}
    (status, times, the result once completed, the error as the caller may
    read it once failed), without the extension's C{resultType} and the
    input a task may wait for (given only through C{tasks/update})."""
    shown = {k: v for k, v in detailed(task).items() if k not in ("resultType", "inputRequests")}
    result = shown.get("result")
    if isinstance(result, dict):  # a 2025 CallToolResult, as invoke's own
        shown["result"] = {k: v for k, v in result.items() if k != "resultType"}
    error = shown.get("error")
    if isinstance(error, dict):
        shown["error"] = context.shownError(error)
    return shown


def _resultOf(response: jsonrpc.Message, context: ToolContext) -> dict[str, Any]:
    """The C{CallToolResult} of a member's response to a call.

    @raise ToolCallError: it is an error response (as the caller may read it).
    """
    result = response.get("result")
    if isinstance(result, dict):
        return result
    given = response.get("error")
    error = context.shownError(given if isinstance(given, dict) else {})
    code = error.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = jsonrpc.INTERNAL_ERROR
    raise ToolCallError(code, str(error.get("message", "")))


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
