# -*- test-case-name: tests.core.aggregate.test_era2026, tests.core.test_toolgate -*-
"""What one caller of the aggregate endpoint sees: its members' tools,
prompts and resources under namespaced names, and who owns each.

One job: from an endpoint's settings, the member servers the caller may
use (and the route each serves it through), their catalogs and the
filters, build an immutable L{View}: the lists the client is sent, and the
maps that route a name or a URI back to exactly one member (or to none,
with the reason). Pure: no Twisted, no I/O; the aggregator caches views.

Rules (docs/guide/aggregate.md):

  - include/exclude filters are access filters: an excluded tool is not
    listed, not searchable and not callable;
  - budgets only hide: a server's C{toolBudget} lists its first N tools,
    and an endpoint over its total C{toolBudget} turns hybrid (its tools
    round-robin per server up to the budget minus 3, plus the gateway's
    C{search}, C{describe} and C{invoke}), so every tool stays callable;
  - C{namespace: "never"} keeps bare names: on a clash the first server
    by name wins and the other tool is hidden (counted);
  - a resource URI belongs to the member that lists it, or whose template
    matches it, or that returned it in a result; two matches are refused,
    never guessed; an app's C{ui://} URI is shown under its member
    (L{mcpgateway.core.aggregate.apps}) and belongs to it, as a skill's
    C{skill://} URI is (L{mcpgateway.core.aggregate.skills}).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mcpgateway.core.aggregate import apps, skills
from mcpgateway.core.aggregate.naming import UNLIMITED, Namer
from mcpgateway.core.aggregate.types import EndpointSpec, Owner
from mcpgateway.core.spec import ToolFilter

SEARCH_TOOLS = ("search", "describe", "invoke")
"""The gateway tools a hybrid listing adds (C{get_result} comes with shielding)."""


@dataclass(frozen=True)
class Member:
    """One server of a view.

    @ivar route: the route key its member session uses (C{""}: global).
    @ivar lists: its catalog's lists (C{tools}, C{prompts}, C{resources},
        C{resourceTemplates}), or C{None} when not known yet.
    @ivar running: a child of it runs now.
    """

    server: str
    route: str
    lists: Mapping[str, Sequence[dict[str, Any]]] | None
    filter: ToolFilter = field(default_factory=ToolFilter)
    running: bool = False


@dataclass(frozen=True)
class View:
    """The aggregate as one caller sees it (immutable; shared by the
    sessions with the same members and catalogs).

    @ivar tools: the tool definitions listed (namespaced).
    @ivar callable: namespaced tool name -> owner, for every tool the caller
        may call (listed or hidden by a budget).
    @ivar definitions: namespaced tool name -> its namespaced definition.
    @ivar hidden: tools hidden by budgets or bare-name clashes.
    @ivar unknown: members whose catalog is not known yet.
    """

    mode: str
    members: Mapping[str, Member]
    tools: tuple[dict[str, Any], ...] = ()
    callable: Mapping[str, Owner] = field(default_factory=dict)
    definitions: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    prompts: tuple[dict[str, Any], ...] = ()
    promptOwners: Mapping[str, Owner] = field(default_factory=dict)
    resources: tuple[dict[str, Any], ...] = ()
    templates: tuple[dict[str, Any], ...] = ()
    uris: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()
    hidden: int = 0
    hybrid: bool = False
    unknown: tuple[str, ...] = ()
    gatewayTools: tuple[str, ...] = ()
    """The gateway's own tools it lists (search mode, hybrid)."""

    @property
    def servers(self) -> frozenset[str]:
        return frozenset(self.members)

    @functools.cached_property
    def names(self) -> Mapping[tuple[str, str], str]:
        """(server, original) -> namespaced name, for every callable tool."""
        return {(owner.server, owner.original): name for name, owner in self.callable.items()}

    @functools.cached_property
    def fingerprints(self) -> Mapping[str, str]:
        """Per kind (tools, prompts, resources), a digest of what is listed:
        computed once per view, however many sessions share it."""
        return {
            "tools": _fingerprint(self.tools),
            "prompts": _fingerprint(self.prompts),
            "resources": _fingerprint([self.resources, self.templates]),
        }

    def owner(self, name: str, kind: str = "tool") -> Owner | None:
        """Who serves namespaced C{name} (C{None}: nobody the caller may use)."""
        if kind == "prompt":
            return self.promptOwners.get(name)
        return self.callable.get(name)

    def uriOwner(
        self, uri: str, learned: Callable[[str], str | None] | None = None
    ) -> tuple[str | None, str]:
        """The member that owns C{uri}, or C{None} and why not.

        @param learned: the member that returned C{uri} in a result, if any.
        """
        app = apps.original(uri) or skills.localOf(uri)
        if app is not None and app[0] in self.members:
            # An app's (or a skill's) URI names its member (which need not list it).
            return app[0], ""
        owners = self.uris.get(uri)
        if owners is None and learned is not None:
            # The server that returned this very URI, before any template.
            server = learned(uri)
            if server is not None and server in self.members:
                owners = (server,)
        if owners is None:
            owners = tuple(
                sorted({server for pattern, server in self.patterns if pattern.fullmatch(uri)})
            )
        if len(owners) == 1:
            return owners[0], ""
        if owners:
            return None, (
                f"the resource {uri!r} is served by more than one server ({', '.join(owners)});"
                " the gateway never guesses: use that server's own endpoint"
            )
        return None, f"no server of this endpoint lists the resource {uri!r}"

    def memberUri(self, uri: str) -> str:
        """The URI a member knows C{uri} by: its own for an app's URI the
        view shows under it (L{apps.namespaced}), else C{uri}."""
        app = apps.original(uri) or skills.localOf(uri)
        return app[1] if app is not None and app[0] in self.members else uri

    def callTarget(
        self,
        method: str,
        params: Mapping[str, Any],
        learned: Callable[[str], str | None] | None = None,
    ) -> tuple[str, str] | None:
        """The member a call reaches and the name it has there: a namespaced
        tool's (or, for the gateway's own C{invoke}, the tool it names), a
        prompt's, a resource URI's owner; C{None} for anything else (the
        gateway's other tools, a name no member serves). What the rate
        limits of that member and its tools are keyed by."""
        if method == "resources/read":
            uri = params.get("uri")
            if not isinstance(uri, str):
                return None
            server, _ = self.uriOwner(uri, learned)
            return None if server is None else (server, uri)
        name = params.get("name")
        if not isinstance(name, str) or method not in ("tools/call", "prompts/get"):
            return None
        owner = self.owner(name, "prompt" if method == "prompts/get" else "tool")
        if owner is None and name == "invoke" and name in self.gatewayTools:
            arguments = params.get("arguments")
            named = arguments.get("name") if isinstance(arguments, dict) else None
            owner = self.owner(named) if isinstance(named, str) else None
        return None if owner is None else (owner.server, owner.original)


def _fingerprint(items: Sequence[Any]) -> str:
    text = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def selected(endpoint: EndpointSpec, server: str) -> bool:
    """Whether C{endpoint} includes C{server} (its C{servers} globs, minus
    its C{exclude} globs)."""
    if any(fnmatch.fnmatchcase(server, glob) for glob in endpoint.exclude):
        return False
    return any(fnmatch.fnmatchcase(server, glob) for glob in endpoint.servers)


def mergeFilters(server: ToolFilter, endpoint: ToolFilter | None) -> ToolFilter:
    """A server's own filter narrowed by an endpoint's filter for it."""
    if endpoint is None:
        return server
    budgets = [b for b in (server.budget, endpoint.budget) if b is not None]
    return ToolFilter(
        enabled=server.enabled and endpoint.enabled,
        include=server.include + endpoint.include
        if not (server.include and endpoint.include)
        else tuple(name for name in endpoint.include if _matches(name, server.include)),
        exclude=server.exclude + endpoint.exclude,
        budget=min(budgets) if budgets else None,
        alias=endpoint.alias or server.alias,
    )


def _matches(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def allowed(filter: ToolFilter, name: str) -> bool:
    """Whether C{filter} lets a tool (or prompt) named C{name} be used."""
    if filter.include and not _matches(name, filter.include):
        return False
    return not _matches(name, filter.exclude)


def _items(lists: Mapping[str, Sequence[dict[str, Any]]] | None, kind: str) -> list[dict[str, Any]]:
    if lists is None:
        return []
    items = lists.get(kind) or ()
    return [
        item
        for item in items
        if isinstance(item, dict)
        and isinstance(
            item.get("name" if kind in ("tools", "prompts", "resourceTemplates") else "uri"), str
        )
    ]


def buildView(
    endpoint: EndpointSpec,
    members: Sequence[Member],
    namer: Namer,
    gatewayDefinitions: Mapping[str, dict[str, Any]] | None = None,
    withResults: bool = False,
) -> View:
    """The view of C{members} through C{endpoint}.

    @param gatewayDefinitions: the gateway's own tools (name -> definition),
        listed in search mode (and C{search}, C{describe}, C{invoke} in a
        hybrid listing).
    @param withResults: list C{get_result} too (shielding is on).
    """
    byName = {member.server: member for member in sorted(members, key=lambda m: m.server)}
    gatewayDefinitions = gatewayDefinitions or {}
    hidden = 0
    # -- tools ---------------------------------------------------------------
    pairs: list[tuple[str, str]] = []
    toolsOf: dict[str, list[dict[str, Any]]] = {}
    for server, member in byName.items():
        tools = [
            tool for tool in _items(member.lists, "tools") if allowed(member.filter, tool["name"])
        ]
        toolsOf[server] = tools
        pairs.extend((server, tool["name"]) for tool in tools)
    aliases = {s: m.filter.alias for s, m in byName.items() if m.filter.alias}
    names: dict[tuple[str, str], str] = {}
    if endpoint.namespace == "never":
        taken: dict[str, str] = {}
        for server, original in pairs:
            if original in taken or original in gatewayDefinitions:
                hidden += 1
                continue
            taken[original] = server
            names[(server, original)] = original
    else:
        naming = namer.resolve(pairs, aliases)
        names = {pair: name for name, pair in naming.names.items()}
    callable_: dict[str, Owner] = {}
    definitions: dict[str, dict[str, Any]] = {}
    listedPerServer: dict[str, list[str]] = {}
    for server in byName:
        budget = byName[server].filter.budget
        listed: list[str] = []
        for tool in toolsOf[server]:
            name = names.get((server, tool["name"]))
            if name is None:
                continue
            callable_[name] = Owner(server, tool["name"], "tool")
            definitions[name] = apps.toolDefinition({**tool, "name": name}, server)
            if budget is None or len(listed) < budget:
                listed.append(name)
            else:
                hidden += 1
        listedPerServer[server] = listed
    total = sum(len(v) for v in listedPerServer.values())
    hybrid = False
    shown: list[str]
    gatewayListed: tuple[str, ...] = ()
    if endpoint.mode == "search":
        shown = []
        gatewayListed = tuple(n for n in gatewayDefinitions if withResults or n != "get_result")
    elif endpoint.toolBudget is not None and total > endpoint.toolBudget:
        hybrid = True
        room = max(0, endpoint.toolBudget - len(SEARCH_TOOLS) - (1 if withResults else 0))
        shown = _roundRobin(listedPerServer, room)
        hidden += total - len(shown)
        gatewayListed = tuple(
            n
            for n in gatewayDefinitions
            if n in SEARCH_TOOLS or (withResults and n == "get_result")
        )
    else:
        shown = [name for server in byName for name in listedPerServer[server]]
        if withResults and "get_result" in gatewayDefinitions:
            gatewayListed = ("get_result",)
    listedTools = tuple(definitions[name] for name in shown) + tuple(
        gatewayDefinitions[n] for n in gatewayListed
    )
    prompts, promptOwners = _promptsOf(endpoint, byName, namer, aliases)
    resources, templates, uris, patterns = _resourcesOf(byName)
    unknown = tuple(s for s, m in byName.items() if m.lists is None)
    return View(
        mode=endpoint.mode,
        members=byName,
        tools=listedTools,
        callable=callable_,
        definitions=definitions,
        prompts=tuple(prompts),
        promptOwners=promptOwners,
        resources=tuple(resources),
        templates=tuple(templates),
        uris=uris,
        patterns=tuple(patterns),
        hidden=hidden,
        hybrid=hybrid,
        unknown=unknown,
        gatewayTools=gatewayListed,
    )


def _promptsOf(
    endpoint: EndpointSpec,
    byName: Mapping[str, Member],
    namer: Namer,
    aliases: Mapping[str, str],
) -> tuple[list[dict[str, Any]], dict[str, Owner]]:
    """The members' prompts under the names the view gives them, and who
    owns each (no budget: prompts are not a model's context)."""
    promptNamer = Namer(replace(namer.settings, limit=UNLIMITED), namer.reserved)
    promptPairs = [
        (server, prompt["name"])
        for server, member in byName.items()
        for prompt in _items(member.lists, "prompts")
        if allowed(member.filter, prompt["name"])
    ]
    promptNames: dict[tuple[str, str], str]
    if endpoint.namespace == "never":
        promptNames = {}
        seen: set[str] = set()
        for pair in promptPairs:
            if pair[1] not in seen:
                seen.add(pair[1])
                promptNames[pair] = pair[1]
    else:
        promptNames = {
            pair: n for n, pair in promptNamer.resolve(promptPairs, aliases).names.items()
        }
    prompts: list[dict[str, Any]] = []
    promptOwners: dict[str, Owner] = {}
    for server, member in byName.items():
        for prompt in _items(member.lists, "prompts"):
            name = promptNames.get((server, prompt["name"]))
            if name is None or name in promptOwners:
                continue
            promptOwners[name] = Owner(server, prompt["name"], "prompt")
            prompts.append({**prompt, "name": name})
    return prompts, promptOwners


def _resourcesOf(
    byName: Mapping[str, Member],
) -> tuple[
    list[dict[str, Any]],
    list[dict[str, Any]],
    dict[str, tuple[str, ...]],
    list[tuple[re.Pattern[str], str]],
]:
    """The members' resources and templates, which servers have each URI,
    and the templates' patterns with their server."""
    resources: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    uris: dict[str, tuple[str, ...]] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for server, member in byName.items():
        for resource in _items(member.lists, "resources"):
            resource = skills.resourceEntry(apps.resourceEntry(resource, server), server)
            uri = resource["uri"]
            uris[uri] = (*uris.get(uri, ()), server)
            resources.append(resource)
        for template in _items(member.lists, "resourceTemplates"):
            uriTemplate = template.get("uriTemplate")
            if isinstance(uriTemplate, str):
                patterns.append((templatePattern(uriTemplate), server))
                templates.append(skills.template(apps.template(template, server), server))
    return resources, templates, uris, patterns


def _roundRobin(perServer: Mapping[str, Sequence[str]], room: int) -> list[str]:
    """Up to C{room} names, taken one per server in turn (in server order)."""
    shown: list[str] = []
    queues = [list(names) for names in perServer.values()]
    while len(shown) < room and any(queues):
        for queue in queues:
            if queue and len(shown) < room:
                shown.append(queue.pop(0))
    return shown


_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^}]*)\}")


def templatePattern(template: str) -> re.Pattern[str]:
    """The URIs an RFC 6570 template (levels 1 and 2) can expand to:
    C{{x}} is one path segment, C{{+x}} and C{{#x}} anything, other
    operators anything after their prefix."""
    out: list[str] = []
    at = 0
    for match in _EXPRESSION.finditer(template):
        out.append(re.escape(template[at : match.start()]))
        operator = match.group(1)
        if operator == "":
            out.append(r"[^/?#]*")
        elif operator in "+#":
            out.append(re.escape(operator) + ".*" if operator == "#" else ".*")
        else:
            out.append(re.escape(operator) + r".*")
        at = match.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out), re.DOTALL)
