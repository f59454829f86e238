# -*- test-case-name: tests.core.gateway.test_catalog -*-
"""What a server lists, as the gateway keeps it: a L{Catalog} (tools,
prompts, resources and templates, with the identity and launch they came
from), its key and digest, and how one kind is listed from a child page by
page (L{listKind}), bounded. Pure data and the listing protocol; the service
that keeps catalogs current is L{mcpgateway.core.gateway.catalog.Catalogs}.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

from mcpgateway.core.cachehints import MAX_TTL_MS, ListingHints
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.protocol import jsonrpc

KINDS = ("tools", "prompts", "resources", "resourceTemplates")
"""The four lists of a catalog, by the key of their items in a list result."""
METHODS = {
    "tools": "tools/list",
    "prompts": "prompts/list",
    "resources": "resources/list",
    "resourceTemplates": "resources/templates/list",
}
CAPABILITIES = {
    "tools": "tools",
    "prompts": "prompts",
    "resources": "resources",
    "resourceTemplates": "resources",
}
"""The server capability that declares each kind."""
IDENTITY = {
    "tools": "name",
    "prompts": "name",
    "resources": "uri",
    "resourceTemplates": "uriTemplate",
}
"""The member every item of a kind must have (a string); others are dropped."""
CHANGED = {
    "notifications/tools/list_changed": frozenset({"tools"}),
    "notifications/prompts/list_changed": frozenset({"prompts"}),
    "notifications/resources/list_changed": frozenset({"resources", "resourceTemplates"}),
}
MAX_PAGES = 50
"""Most pages listed of one kind."""
MAX_ITEMS = 10_000
"""Most items kept of one kind."""
PROBE_CAPABILITIES: dict[str, Any] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {},
}
"""What a probe's session declares: what a client may do through the gateway,
so that a server lists every tool it has (server-everything lists
C{get-roots-list} only to a client with roots). The probe has no roots: it
answers the child's C{roots/list} with none
(L{mcpgateway.core.gateway.catalogprobe._ProbeSession})."""

Key = tuple[str, str]


class ListedServer(Protocol):
    """What a catalog's key and screening read of a server's pool (a
    L{PoolLike<mcpgateway.core.pools.pool.PoolLike>})."""

    @property
    def spec(self) -> ServerSpec:
        """The server as configured."""

    @property
    def toolPins(self) -> PinnedTools | None:
        """The gateway's pinned tools (C{None}: nothing is pinned)."""


class CatalogPersistence(Protocol):
    """Where catalogs outlive the process (L{mcpgateway.ops.catalogstore.CatalogStore}).
    Both are called in a thread."""

    def loadAll(self) -> Mapping[tuple[str, str], dict[str, Any]]:
        """Every saved record by (server, catalogKey); the mapping may carry
        C{warnings} (the files skipped, each with a C{str})."""

    def save(self, server: str, catalogKey: str, record: dict[str, Any]) -> None:
        """Keep C{record}. @raise ValueError: too large or not JSON.
        @raise OSError: the file system refused."""


@dataclass(frozen=True)
class Catalog:
    """What one server listed, for one catalog key.

    Its items are the child's own JSON objects, shared with the saving
    thread: never change them (copy what must be changed).

    @ivar source: C{"live"} (listed from a child of this process when it
        became ready or changed), C{"snapshot"} (a file of an earlier
        process), C{"probe"} (listed through a transient session).
    @ivar taken: when it was listed (the clock's seconds).
    @ivar digest: of its canonical JSON (lists, serverInfo, capabilities,
        instructions).
    @ivar lists: each of L{KINDS} (an empty tuple when the server has none).
    @ivar stale: listed from another launch of the server (its command or
        args changed since): served until it is listed again.
    @ivar private: the kinds the server listed C{cacheScope: "private"}
        (L{mcpgateway.core.cachehints}): never served to another principal
        than the one of its key.
    @ivar ttls: each kind's C{ttlMs}, where the server gave one.
    @ivar expires: when each kind with a C{ttlMs} stops being fresh (the
        clock's seconds): past it, it is listed again before it is served.
    @ivar entry: L{entryOf} the server's entry it was listed under (C{""}:
        not known, as in a file of an older gateway): only a catalog of the
        entry served now answers a client's start-up
        (L{mcpgateway.core.gateway.catalogserve}).
    """

    server: str
    catalogKey: str
    source: str
    taken: float
    digest: str
    lists: Mapping[str, tuple[dict[str, Any], ...]]
    serverInfo: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    stale: bool = False
    private: frozenset[str] = frozenset()
    ttls: Mapping[str, int] = field(default_factory=dict)
    expires: Mapping[str, float] = field(default_factory=dict)
    entry: str = ""

    def items(self, kind: str) -> tuple[dict[str, Any], ...]:
        """The items of C{kind} (one of L{KINDS})."""
        return self.lists.get(kind, ())

    def record(self, launch: str, programs: tuple[str, ...] = ()) -> dict[str, Any]:
        """What is saved of it (JSON values; C{launch}: L{launchOf} the spec
        it came from; C{programs}: L{programFiles} of that spec, which the
        store stamps)."""
        return {
            "serverInfo": self.serverInfo,
            "capabilities": self.capabilities,
            "instructions": self.instructions,
            **{kind: list(self.items(kind)) for kind in KINDS},
            "launch": launch,
            "taken": self.taken,
            "digest": self.digest,
            **({"private": sorted(self.private)} if self.private else {}),
            **({"ttlMs": dict(sorted(self.ttls.items()))} if self.ttls else {}),
            **({"entry": self.entry} if self.entry else {}),
            **({"programs": list(programs)} if programs else {}),
        }

    def expiresAt(self) -> float | None:
        """When its first kind with a C{ttlMs} stops being fresh (C{None}:
        the server gave none: fresh until it says its list changed)."""
        return min(self.expires.values(), default=None)

    def hintsMark(self) -> str:
        """Its cache hints in a word (C{""}: none): a catalog whose hints
        changed is saved again, even with the same lists."""
        if not self.private and not self.ttls:
            return ""
        return canonical([sorted(self.private), dict(sorted(self.ttls.items()))])

    def saveMark(self) -> str:
        """What its file must hold to be current (its digest, cache hints
        and entry): a catalog whose mark changed is saved again, even with
        the same lists."""
        return f"{self.digest}{self.hintsMark()}/{self.entry}"


def catalogKeyOf(pool: ListedServer, principal: str) -> str:
    """The catalog key of C{principal}'s view of C{pool}'s server: the
    principal's key for a server with children per principal (C{perUser},
    the credential scope), and on an authenticated gateway for any server
    whose children are not all shared (what a session's own child lists,
    its resources above all, is that principal's); else C{""}."""
    if pool.spec.perPrincipal:
        return principal
    return principal if principal and pool.spec.sharing is not Sharing.GLOBAL else ""


def savedHints(record: Mapping[str, Any]) -> tuple[frozenset[str], dict[str, int]]:
    """The private kinds and the C{ttlMs} of each kind a saved catalog
    kept (what does not fit is left out)."""
    private = record.get("private")
    kinds = frozenset(
        kind for kind in (private if isinstance(private, list) else ()) if kind in KINDS
    )
    ttls = record.get("ttlMs")
    kept: dict[str, int] = {}
    for kind, ttl in ttls.items() if isinstance(ttls, dict) else ():
        if kind in KINDS and isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0:
            kept[kind] = min(ttl, MAX_TTL_MS)
    return kinds, kept


def withoutWithheld(catalog: Catalog, pool: ListedServer) -> Catalog:
    """C{catalog} without the tools C{pool}'s pinned tools withhold now
    (L{mcpgateway.core.toolgate}): a snapshot of an earlier process is
    served before any child of this one is listed (and screened)."""
    pins = pool.toolPins
    tools = catalog.items("tools")
    if pins is None or not tools:
        return catalog
    kept = tuple(tool for tool in tools if pins.refusal(pool.spec, tool["name"]) is None)
    if len(kept) == len(tools):
        return catalog
    lists = MappingProxyType({**catalog.lists, "tools": kept})
    digest = catalogDigest(lists, catalog.serverInfo, catalog.capabilities, catalog.instructions)
    return replace(catalog, lists=lists, digest=digest)


def launchOf(spec: ServerSpec) -> str:
    """16 hex digits of the SHA-256 of the spec's command and args (never its env)."""
    text = json.dumps([spec.command, *spec.args], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


PROGRAM_SUFFIXES = (
    *(".py", ".js", ".mjs", ".cjs", ".ts", ".mts"),
    *(".jar", ".rb", ".pl", ".php", ".sh"),
)
"""An argument ending so names the script a child runs (C{python srv.py},
C{node dist/index.js}); a data file an argument names changes as the
server runs, and is not one."""
MAX_PROGRAMS = 8


def programFiles(spec: ServerSpec) -> tuple[str, ...]:
    """The files whose code a child of C{spec} runs, as far as its entry
    says: the command its C{PATH} found (a venv's console script is written
    again when its package is installed again) and the scripts its arguments
    name. A catalog saved with their modification times is not current for
    the entry once one of them changed (L{mcpgateway.ops.catalogstore}): an
    entry that stays the same while its server's code changes (a developer's
    own server, a rebuilt C{dist/index.js}) would otherwise keep serving the
    tools it used to list. No file is read here."""
    found: list[str] = []
    executable = spec.executable or (spec.command if "/" in spec.command else None)
    if executable and os.path.isabs(executable):
        found.append(os.path.normpath(executable))
    for arg in spec.args:
        if arg.startswith("-") or not arg.endswith(PROGRAM_SUFFIXES) or "\0" in arg:
            continue
        if os.path.isabs(arg):
            found.append(os.path.normpath(arg))
        elif spec.cwd is not None and not arg.startswith("~"):
            found.append(os.path.normpath(os.path.join(spec.cwd, arg)))
    return tuple(dict.fromkeys(found))[:MAX_PROGRAMS]


def entryOf(spec: ServerSpec) -> str:
    """32 hex digits of the SHA-256 of what a child of the entry C{spec} is
    started with and how it is served: command, args, env, cwd, share,
    era, a remote server's endpoint, the sandbox and the chosen
    C{serverInfo} (a probe's catalog keeps the name its clients were shown).
    A catalog listed under
    another entry does not answer for this one. Its env is hashed as the
    entry writes it (a secret reference as its text, never its value): the
    file it is kept in is the user's, as the config files that hold it are."""
    remote = spec.remote
    endpoint = (
        None
        if remote is None
        else [remote.url, remote.transport, remote.spec, sorted(remote.headers), remote.auth]
    )
    text = canonical(
        [
            "entry/1",
            spec.command,
            list(spec.args),
            sorted(spec.env),
            spec.cwd,
            spec.sharing.value,
            spec.era,
            endpoint,
            repr(spec.sandbox),
            spec.displayName,
            spec.displayTitle,
        ]
    )
    return shortHash(text)


def savedEntry(record: Mapping[str, Any]) -> str:
    """The L{entryOf} a saved catalog was listed under (C{""}: none kept)."""
    entry = record.get("entry")
    return entry if isinstance(entry, str) else ""


def canonical(value: Any) -> str:
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def shortHash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def kindDigest(items: tuple[dict[str, Any], ...]) -> str:
    """The digest of one list: of its items' canonical JSON, in any order
    (a server that lists the same items in another order changed nothing)."""
    return shortHash("\n".join(sorted(canonical(item) for item in items)))


EMPTY = kindDigest(())


def catalogDigest(
    lists: Mapping[str, tuple[dict[str, Any], ...]],
    serverInfo: Any,
    capabilities: Any,
    instructions: Any,
) -> str:
    """The digest of a whole catalog."""
    parts = [kindDigest(lists.get(kind, ())) for kind in KINDS]
    parts.append(canonical([serverInfo, capabilities, instructions]))
    return shortHash("\n".join(parts))


class ListingFailed(Exception):
    """A child's list could not be had; says why."""


STDERR_TAIL = re.compile(
    r"[;,]?\s*(?:(?:last )?stderr\b|first stdout line:).*", re.IGNORECASE | re.DOTALL
)
"""Where what a child wrote starts in the gateway's words about it: its
stderr's lines, or its first stdout line that was not JSON
(L{mcpgateway.core.child.STDOUT_MARK})."""
EXIT_DETAIL = re.compile(r"(\(exit code -?\d+\)):.*", re.DOTALL)
PUBLIC_REASON = 200
"""Characters of a reason L{publicReason} keeps."""


def publicReason(why: str) -> str:
    """What a client may be told of why a server could not be listed: the
    gateway's own words (C{command ... was not found on PATH}, C{exited with
    code 3}, C{was not listed within 10 s}), without what the child or an
    installer wrote (stderr lines can hold secrets) and on one line."""
    text = STDERR_TAIL.sub("", why)
    text = EXIT_DETAIL.sub(r"\1", text)
    text = " ".join(text.split())
    # What was cut may have closed a parenthesis (a circuit's "(last: exited
    # with code 3; last stderr: ...)"): close it, so the reason still reads.
    text += ")" * max(0, text.count("(") - text.count(")"))
    if len(text) > PUBLIC_REASON:
        text = text[: PUBLIC_REASON - 1] + "…"
    return text or "it could not be listed"


Send = Callable[[str, dict[str, Any]], Deferred[jsonrpc.Message]]


def listKind(
    send: Send, kind: str, log: Logger, server: str, hints: ListingHints | None = None
) -> Deferred[tuple[dict[str, Any], ...]]:
    """Every item of C{kind} through C{send(method, params)}, cursor after
    cursor (at most L{MAX_PAGES} pages, L{MAX_ITEMS} items; a repeated or
    non-string cursor ends it). A child without the method lists none.
    Each page's cache hints go to C{hints}.

    @raise ListingFailed: (in the Deferred) an error other than -32601, or
        an answer without the list.
    """
    method, member = METHODS[kind], IDENTITY[kind]
    items: list[dict[str, Any]] = []
    seen: set[str] = set()

    def fetch(cursor: str | None, pages: int) -> Deferred[None]:
        params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
        return maybeDeferred(send, method, params).addCallback(got, pages + 1)

    def got(response: jsonrpc.Message, pages: int) -> Deferred[None] | None:
        error = response.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            if code == jsonrpc.METHOD_NOT_FOUND and pages == 1:
                return None
            text = error.get("message", error) if isinstance(error, dict) else error
            raise ListingFailed(f"{method} failed: {text}")
        result = response.get("result")
        listed = result.get(kind) if isinstance(result, dict) else None
        if not isinstance(listed, list):
            raise ListingFailed(f"{method} answered no {kind} list")
        assert isinstance(result, dict)
        if hints is not None:
            hints.page(kind, result)
        for item in listed:
            if isinstance(item, dict) and isinstance(item.get(member), str):
                items.append(item)
        if len(items) >= MAX_ITEMS:
            del items[MAX_ITEMS:]
            log.warn(
                "server {server}: its {kind} list was cut at {count} items",
                server=server,
                kind=kind,
                count=MAX_ITEMS,
            )
            return None
        cursor = result.get("nextCursor")
        if cursor is None:
            return None
        if pages >= MAX_PAGES or not isinstance(cursor, str) or cursor in seen:
            log.warn(
                "server {server}: listing its {kind} stopped after {pages} page(s)"
                " ({why}); {count} kept",
                server=server,
                kind=kind,
                pages=pages,
                why="too many pages" if pages >= MAX_PAGES else "a repeated or bad cursor",
                count=len(items),
            )
            return None
        seen.add(cursor)
        return fetch(cursor, pages)

    return fetch(None, 0).addCallback(lambda _: tuple(items))


def declared(capabilities: Any, kind: str) -> bool:
    """Whether C{capabilities} (of an C{InitializeResult}) declare C{kind}."""
    return isinstance(capabilities, dict) and isinstance(capabilities.get(CAPABILITIES[kind]), dict)


def listKinds(
    send: Send,
    capabilities: Any,
    kinds: frozenset[str],
    log: Logger,
    server: str,
    hints: ListingHints | None = None,
) -> Deferred[dict[str, tuple[dict[str, Any], ...]]]:
    """The lists of C{kinds}, one kind after the other (a child is not
    flooded); a kind its capabilities do not declare is empty. The pages'
    cache hints go to C{hints}."""
    lists: dict[str, tuple[dict[str, Any], ...]] = {}
    order = [kind for kind in KINDS if kind in kinds]

    def step(at: int) -> Any:
        while at < len(order) and not declared(capabilities, order[at]):
            lists[order[at]] = ()
            at += 1
        if at >= len(order):
            return lists
        kind = order[at]

        def got(items: tuple[dict[str, Any], ...]) -> Any:
            lists[kind] = items
            return step(at + 1)

        return listKind(send, kind, log, server, hints).addCallback(got)

    return maybeDeferred(step, 0)


def coversProbe(capabilities: Any) -> bool:
    """Whether a client that declared C{capabilities} may be shown all a
    probe is shown (it declared sampling, elicitation and roots)."""
    return isinstance(capabilities, dict) and all(
        isinstance(capabilities.get(name), dict) for name in PROBE_CAPABILITIES
    )


def initFacts(result: Any) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """serverInfo, capabilities and instructions of an C{InitializeResult}."""
    result = result if isinstance(result, dict) else {}
    info = result.get("serverInfo")
    caps = result.get("capabilities")
    text = result.get("instructions")
    return (
        info if isinstance(info, dict) else {},
        caps if isinstance(caps, dict) else {},
        text if isinstance(text, str) else None,
    )


def catalogOfRecord(
    server: str, catalogKey: str, record: Mapping[str, Any], taken: float
) -> Catalog | None:
    """The catalog a saved C{record} holds, listed at C{taken} (C{None}: a
    kind's list is not a list). Items without their kind's identity are
    dropped; the shared catalogs and the scope catalogs read their files
    through this one reading."""
    lists: dict[str, tuple[dict[str, Any], ...]] = {}
    for kind in KINDS:
        listed = record.get(kind, [])
        if not isinstance(listed, list):
            return None
        member = IDENTITY[kind]
        lists[kind] = tuple(
            item for item in listed if isinstance(item, dict) and isinstance(item.get(member), str)
        )
    serverInfo, capabilities, instructions = initFacts(record)
    private, ttls = savedHints(record)
    return Catalog(
        server=server,
        catalogKey=catalogKey,
        source="snapshot",
        taken=taken,
        digest=catalogDigest(lists, serverInfo, capabilities, instructions),
        lists=MappingProxyType(lists),
        serverInfo=serverInfo,
        capabilities=capabilities,
        instructions=instructions,
        private=private,
        ttls=ttls,
        expires={kind: taken + ttl / 1000.0 for kind, ttl in ttls.items()},
        entry=savedEntry(record),
    )
