# -*- test-case-name: tests.selfservice.test_tools -*-
"""The tools of the C{gateway} server, and what each does.

C{find_server} searches the MCP registry and C{list_servers} lists the
gateway's servers: they change nothing. C{add_server}, C{remove_server},
C{enable_server} and C{disable_server} change the gateway, and each asks
the person first (L{Ask}: an C{elicitation/create} to the session that
made the call), showing what runs; only an answer that accepts with
C{confirm} true (and, for an image, every path of this machine its
container would get ticked, each by its own box) makes the change,
through the management API. A decline, a cancel or an unchecked box
changes nothing and says so. A client that cannot be asked (it did not
declare elicitation: the gateway answers the question with an error) gets
an error result naming the C{mcpgateway} command the person runs to make
the change instead. Nothing here changes
anything without a person's yes, whatever a tool description or a prompt
tells the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.registry.client import RegistryError
from mcpgateway.registry.entries import shown
from mcpgateway.selfservice import SERVER_NAME
from mcpgateway.selfservice.changes import (
    Addition,
    ChangeError,
    RegistryOpener,
    confirmationOf,
    confirmSchema,
    describeServer,
    forWorkspace,
    fromArguments,
    hostPathsNotTicked,
    localName,
    scopeOf,
    workspaceOf,
)
from mcpgateway.selfservice.gatewayapi import ApiError, GatewayApi

JSON = dict[str, Any]
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class ElicitationAnswer:
    """The person's answer to a question: C{action} C{accept}, C{decline}
    or C{cancel} with the form's C{content}; or C{action} C{None} and the
    C{error} the client (or the gateway for it) answered instead."""

    action: str | None
    content: JSON = field(default_factory=dict)
    error: str | None = None

    @property
    def confirmed(self) -> bool:
        """An explicit yes: accepted, with C{confirm} true."""
        return self.action == "accept" and self.content.get("confirm") is True


Ask = Callable[[str, JSON], ElicitationAnswer]
"""Asks the person C{message} with the form C{schema}; blocks until answered."""
Roots = Callable[[], list[str]]
"""The root URIs of the session that made the call (C{roots/list}); blocks."""


def _noRoots() -> list[str]:
    return []


def _schema(properties: JSON, *required: str) -> JSON:
    return {"type": "object", "properties": properties, "required": list(required)}


_NAME = {"type": "string", "description": "The server's name in the gateway (/<name>/mcp)."}
_CHANGES = {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": True}
TOOLS: list[JSON] = [
    {
        "name": "find_server",
        "description": "Search the MCP registry for servers to add to the gateway (by words of"
        " their name or description). Changes nothing.",
        "inputSchema": _schema(
            {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            },
            "query",
        ),
        "annotations": {"readOnlyHint": True, "openWorldHint": True},
    },
    {
        "name": "add_server",
        "description": "Add an MCP server to the gateway: a name from the MCP registry"
        " ('server'), or a command line ('command', 'args', 'env'), or a remote server's"
        " 'url'. The person is asked to confirm first, shown the exact command line, the"
        " environment variables' names and the URL; nothing is added without their yes."
        " Its tools then appear in this session.",
        "inputSchema": _schema(
            {
                "server": {"type": "string", "description": "A registry name (find_server)."},
                "version": {"type": "string", "description": "With 'server': that version."},
                "packageType": {"type": "string", "enum": ["npm", "pypi", "oci", "remote"]},
                "settings": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "With 'server': values of its arguments, headers or URL"
                    " variables that it asks for.",
                },
                "name": _NAME,
                "command": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Environment variables of the server (only their names are"
                    " shown to the person).",
                },
                "url": {"type": "string"},
                "transport": {"type": "string", "enum": ["http", "sse"], "default": "http"},
                "scope": {
                    "type": "string",
                    "enum": ["global", "workspace"],
                    "default": "global",
                    "description": "global: every session and workspace; workspace: the"
                    " sessions of this session's workspace only (its first MCP root).",
                },
            }
        ),
        "annotations": _CHANGES,
    },
    {
        "name": "remove_server",
        "description": "Remove a server that was added to the gateway (through the API, the"
        " CLI or add_server); asks the person first.",
        "inputSchema": _schema({"name": _NAME}, "name"),
        "annotations": {**_CHANGES, "destructiveHint": True},
    },
    {
        "name": "enable_server",
        "description": "Serve a disabled server again (its program runs again); asks the"
        " person first.",
        "inputSchema": _schema({"name": _NAME}, "name"),
        "annotations": _CHANGES,
    },
    {
        "name": "disable_server",
        "description": "Stop a server's programs and refuse its requests until it is enabled;"
        " asks the person first.",
        "inputSchema": _schema({"name": _NAME}, "name"),
        "annotations": {**_CHANGES, "destructiveHint": True},
    },
    {
        "name": "list_servers",
        "description": "List the gateway's servers: state, share, where each comes from."
        " Changes nothing.",
        "inputSchema": _schema({}),
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
]
TOOL_NAMES = frozenset(tool["name"] for tool in TOOLS)


def result(text: str, isError: bool = False) -> JSON:
    """A tool result of one text."""
    return {"content": [{"type": "text", "text": text}], "isError": isError}


class SelfServiceTools:
    """The tools over the gateway's API (C{None}: the gateway gave none)
    and a registry client made on first use."""

    def __init__(self, api: GatewayApi | None, registry: RegistryOpener) -> None:
        self._api = api
        self._registry = registry

    def call(self, name: str, args: Mapping[str, Any], ask: Ask, roots: Roots = _noRoots) -> JSON:
        """Run tool C{name}; a refused change is an error result saying why."""
        try:
            if name == "find_server":
                return self.findServer(args)
            api = self._needApi()
            if name == "list_servers":
                return self.listServers(api)
            if name == "add_server":
                return self.addServer(api, args, ask, roots)
            if name == "remove_server":
                return self.removeServer(api, localName(args), ask)
            return self.setEnabled(api, localName(args), name == "enable_server", ask)
        except ChangeError as e:
            return result(withCli(str(e), e.cli), isError=True)
        except ApiError as e:
            return result(f"the gateway refused: {e}", isError=True)

    def _needApi(self) -> GatewayApi:
        if self._api is None:
            raise ChangeError(
                "this server does not know its gateway's address (it is run by a gateway"
                " started with --self-service, which tells it)"
            )
        return self._api

    # -- reading --------------------------------------------------------------------

    def findServer(self, args: Mapping[str, Any]) -> JSON:
        query = args.get("query")
        limit = args.get("limit", 10)
        if not isinstance(query, str):
            raise ChangeError("'query' must be a string")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ChangeError("'limit' must be an integer from 1 to 50")
        try:
            found = self._registry().search(query, min(limit, SEARCH_LIMIT))
        except RegistryError as e:
            raise ChangeError(str(e)) from None
        if not found.servers:
            return result(f"No server of the MCP registry matches {shown(query)!r}.")
        lines = [f"Servers of the MCP registry matching {shown(query)!r}:"]
        for server in found.servers:
            kinds = ", ".join(server.kinds) or "nothing installable"
            note = f" [{server.status}]" if server.status not in (None, "active") else ""
            lines.append(
                f"- {shown(server.name)} {shown(server.version)} ({kinds}){note}:"
                f" {shown(server.description)}"
            )
        if found.more:
            lines.append("(more match: narrow the query)")
        lines.append("Add one with add_server(server=<its name>); the person confirms it.")
        return result("\n".join(lines))

    def listServers(self, api: GatewayApi) -> JSON:
        servers = api.servers()
        lines = [f"The gateway's servers ({len(servers)}):"]
        for server in servers:
            origin = {"api": "added through the API"}.get(str(server.get("origin")), "config")
            lines.append(
                f"- {shown(str(server.get('name')))}: {server.get('state', '?')},"
                f" share {server.get('share', '?')}, {origin}"
            )
        return result("\n".join(lines))

    # -- changing --------------------------------------------------------------------

    def addServer(
        self, api: GatewayApi, args: Mapping[str, Any], ask: Ask, roots: Roots = _noRoots
    ) -> JSON:
        workspace = scopeOf(args) == "workspace"
        addition = fromArguments(args, self._registry)
        if workspace:
            addition = forWorkspace(addition, workspaceOf(roots()))
        if addition.name == SERVER_NAME or api.server(addition.name) is not None:
            raise ChangeError(
                f"the gateway has a server named '{addition.name}' already: choose another 'name'"
            )
        schema = confirmSchema(f"Add '{addition.name}'", addition.mounts)
        answer = ask(confirmationOf(addition), schema)
        refusal = notConfirmed(answer, "added", addition.cli)
        if refusal is not None:
            return refusal
        unticked = hostPathsNotTicked(addition, answer.content)
        if unticked:
            paths = ", ".join(shown(mount.path) for mount in unticked)
            return result(f"The person did not approve the path {paths}: nothing was added.")
        summary = api.add(addition.name, addition.entry, addition.workspace)
        return result(added(addition, summary))

    def removeServer(self, api: GatewayApi, name: str, ask: Ask) -> JSON:
        server = self._existing(api, name, "removed")
        if server.get("origin") != "api":
            raise ChangeError(
                f"'{name}' comes from a config file, not from the gateway's own servers.json:"
                f" it is removed there (or disabled with disable_server)"
            )
        message = (
            f"Remove the MCP server '{name}' from this gateway? Its programs stop and its"
            f" tools go away for every session.\nIt {describeServer(server)}\n"
            "Nothing is removed unless you confirm."
        )
        answer = ask(message, confirmSchema(f"Remove '{name}'"))
        cli = f"mcpgateway servers remove {name}"
        refusal = notConfirmed(answer, "removed", cli)
        if refusal is not None:
            return refusal
        api.remove(name)
        return result(f"Removed '{name}' from the gateway.")

    def setEnabled(self, api: GatewayApi, name: str, enable: bool, ask: Ask) -> JSON:
        verb = "enable" if enable else "disable"
        server = self._existing(api, name, f"{verb}d")
        if enable:
            message = (
                f"Enable the MCP server '{name}' again? The gateway runs it for every session."
                f"\nIt {describeServer(server)}\nNothing changes unless you confirm."
            )
        else:
            message = (
                f"Disable the MCP server '{name}'? Its programs stop and its requests are"
                " refused for every session until it is enabled again.\n"
                "Nothing changes unless you confirm."
            )
        answer = ask(message, confirmSchema(f"{verb.capitalize()} '{name}'"))
        refusal = notConfirmed(answer, f"{verb}d", f"mcpgateway servers {verb} {name}")
        if refusal is not None:
            return refusal
        summary = api.setEnabled(name, enable)
        return result(f"{verb.capitalize()}d '{name}' (state: {summary.get('state', '?')}).")

    def _existing(self, api: GatewayApi, name: str, done: str) -> JSON:
        if name == SERVER_NAME:
            raise ChangeError(f"'{SERVER_NAME}' is this server, the gateway's own: not {done}")
        server = api.server(name)
        if server is None:
            raise ChangeError(f"the gateway has no server named '{name}' (see list_servers)")
        return server


def notConfirmed(answer: ElicitationAnswer, done: str, cli: str) -> JSON | None:
    """The result of a question not answered yes (C{None}: it was)."""
    if answer.confirmed:
        return None
    if answer.action is None:
        return result(
            "The person could not be asked to confirm (this client does not support"
            f" elicitation: {answer.error or 'no answer'}). Nothing was {done}. To make this"
            f" change, the person runs on the gateway's machine:\n  {cli}",
            isError=True,
        )
    how = {"decline": "declined", "cancel": "cancelled"}.get(answer.action, "did not confirm")
    if answer.action == "accept":
        how = "did not confirm"
    return result(f"The person {how}: nothing was {done}.")


def added(addition: Addition, summary: Mapping[str, Any]) -> str:
    """What an add answers: the server, where it is served, what to expect."""
    share = summary.get("share", "?")
    if addition.workspace is not None:
        return (
            f"Added '{addition.name}' to the gateway (share: {share}) for the sessions of"
            f" workspace {shown(addition.workspace)} only. Its tools appear in their tool"
            f" lists once the gateway has listed them (on /mcp as {addition.name}__<tool>)."
        )
    return (
        f"Added '{addition.name}' to the gateway (share: {share}), served at"
        f" /{addition.name}/mcp. Its tools appear in this session's tool list once the"
        f" gateway has listed them (on /mcp as {addition.name}__<tool>)."
    )


def withCli(message: str, cli: str | None) -> str:
    return message if cli is None else f"{message}\n  {cli}"
