# -*- test-case-name: tests.core.aggregate.test_skills -*-
"""The Skills extension (SEP-2640, C{io.modelcontextprotocol/skills}) on the
aggregate endpoint: every member's skills as one server's.

One job: what the aggregate does with its members' skills, whichever
revision its client speaks. A skill URI is scoped to the server that serves
it (two members may both serve C{skill://refunds/SKILL.md}), so the
aggregate names each member's C{skill://} URIs with the member's name as
their first segment: C{skill://<server>/<skill-path>/<file>}. The last
segment of a skill's path, its name, is kept, as the extension requires;
the digests, sizes and frontmatter of its entries are kept as the member
gave them (the gateway never rewrites content, so they still verify). A
URI of another scheme is kept as it is and routed by the listings that
gave it.

  - C{skills/list} asks every member whose catalog declares the extension
    (every page of its listing) and answers one page of all their entries,
    namespaced; a member's listing is kept for its C{ttlMs} (not at all
    without one), per principal when it said C{cacheScope: "private"} or
    its children depend on the caller (L{SkillsCache}); an answer that
    lacks a member (it could not be listed: logged) says C{ttlMs} 0, and
    only the listings of the members that answered are kept;
  - C{skills/get}, C{resources/read} and C{resources/directory/read} of a
    namespaced URI go to its member with the member's own URI, and the URIs
    of the answer are namespaced again;
  - the aggregate declares the extension when a member does, with
    C{directoryRead} when every member that declares it reads directories.

Pure but for the clock of the cache and the Deferreds of the members'
answers: the handlers of the requests
(L{mcpgateway.core.aggregate.skillrequests}) hand in how a member is asked.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.cachehints import PRIVATE, PUBLIC, hintsOf
from mcpgateway.protocol.era2026form import SKILLS_EXTENSION, skillsSettings
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

__all__ = [
    "DIRECTORY_READ",
    "SCHEME",
    "AggregateSkills",
    "Gathered",
    "SkillsCache",
    "capability",
    "localOf",
    "namespaced",
    "namespacedAnswer",
    "namespacedEntry",
    "readAnswer",
    "resourceEntry",
    "searchSkills",
    "settingsOf",
    "template",
]

DIRECTORY_READ = "directoryRead"
"""The extension's one setting: the server serves C{resources/directory/read}."""
SCHEME = "skill://"
MAX_PAGES = 20
"""At most this many pages of one member's listing are read."""
CACHED = 256
"""At most this many members' listings are kept (the least recently used goes)."""

Ask = Callable[[str, str, dict[str, Any]], "Deferred[Message]"]
"""How a member is asked: (server, method, params) -> its response."""


def settingsOf(capabilities: Any) -> dict[str, Any] | None:
    """The settings a server's C{capabilities} declare the extension with,
    or C{None} when they do not declare it (or not as an object)."""
    return skillsSettings(capabilities)


def capability(declared: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The aggregate's declaration, from its members' (the settings of each
    member that declares the extension): none without such a member;
    C{directoryRead} when every one of them reads directories."""
    if not declared:
        return {}
    settings: dict[str, Any] = {}
    if all(each.get(DIRECTORY_READ) is True for each in declared):
        settings[DIRECTORY_READ] = True
    return {SKILLS_EXTENSION: settings}


def namespaced(server: str, uri: str) -> str:
    """C{uri} of member C{server} as the aggregate names it: a C{skill://}
    URI gets the server as its first segment; any other is kept."""
    if uri.startswith(SCHEME) and len(uri) > len(SCHEME):
        return f"{SCHEME}{server}/{uri[len(SCHEME) :]}"
    return uri


def localOf(uri: str) -> tuple[str, str] | None:
    """The member and its own URI that aggregate C{uri} names (L{namespaced}
    undone), or C{None} when it is not such a URI."""
    if not uri.startswith(SCHEME):
        return None
    server, slash, rest = uri[len(SCHEME) :].partition("/")
    if not server or not slash or not rest:
        return None
    return server, SCHEME + rest


def namespacedEntry(server: str, entry: Any) -> Any:
    """A member's C{Skill} entry with its URIs namespaced (a copy; its
    C{frontmatter}, digests and sizes as they are; anything that is not an
    entry as it is)."""
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    if isinstance(out.get("uri"), str):
        out["uri"] = namespaced(server, out["uri"])
    resources = out.get("resources")
    if isinstance(resources, list):
        out["resources"] = [_renamed(server, item) for item in resources]
    return out


def _renamed(server: str, item: Any) -> Any:
    """An object with a C{uri} (a file entry, a resource, a content) with that
    URI namespaced (a copy)."""
    if isinstance(item, dict) and isinstance(item.get("uri"), str):
        return {**item, "uri": namespaced(server, item["uri"])}
    return item


def namespacedAnswer(server: str, response: Message) -> Message:
    """A member's answer to C{skills/get}, C{resources/read} or
    C{resources/directory/read} with the URIs it names namespaced."""
    result = response.get("result")
    if not isinstance(result, dict):
        return response
    out = dict(result)
    if "skill" in out:
        out["skill"] = namespacedEntry(server, out["skill"])
    for key in ("contents", "resources"):
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [_renamed(server, item) for item in items]
    return {**response, "result": out}


def readAnswer(response: Message, server: str) -> Message:
    """A member's C{resources/read} answer with the C{skill://} URIs of its
    contents namespaced (its bytes as they are: digests still verify)."""
    return namespacedAnswer(server, response)


def resourceEntry(resource: dict[str, Any], server: str) -> dict[str, Any]:
    """A resource member C{server} listed, as the aggregate lists it (a
    C{skill://} URI namespaced)."""
    uri = resource.get("uri")
    if isinstance(uri, str) and uri.startswith(SCHEME):
        return {**resource, "uri": namespaced(server, uri)}
    return resource


def template(resourceTemplate: dict[str, Any], server: str) -> dict[str, Any]:
    """A resource template of member C{server}, as the aggregate lists it (a
    C{skill://} template namespaced as the URIs it expands to are)."""
    uriTemplate = resourceTemplate.get("uriTemplate")
    if isinstance(uriTemplate, str) and uriTemplate.startswith(SCHEME):
        return {**resourceTemplate, "uriTemplate": namespaced(server, uriTemplate)}
    return resourceTemplate


@dataclass(frozen=True)
class Listing:
    """One member's listing, as it gave it.

    @ivar entries: its entries (its own URIs).
    @ivar ttlMs: how long it said the listing is fresh (C{None}: it did not say).
    @ivar private: it is the caller's own (the member said C{private}, or
        its children depend on the caller).
    """

    entries: tuple[dict[str, Any], ...]
    ttlMs: int | None
    private: bool


class SkillsCache:
    """The members' listings, each kept for its C{ttlMs}: a C{private} one
    for its principal only, a C{public} one for everyone who reaches the
    member on the same route (least recently used first out, at most
    L{CACHED})."""

    def __init__(self, clock: IReactorTime, size: int = CACHED) -> None:
        self._clock = clock
        self._size = size
        self._kept: OrderedDict[tuple[str, str, str | None], tuple[float, Listing]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, server: str, route: str, principal: str) -> Listing | None:
        """The fresh listing of C{server} on C{route} C{principal} may be
        served (its own, else a public one), or C{None}."""
        now = self._clock.seconds()
        for key in ((server, route, principal), (server, route, None)):
            kept = self._kept.get(key)
            if kept is None:
                continue
            expires, listing = kept
            if now >= expires:
                del self._kept[key]
                continue
            self._kept.move_to_end(key)
            return listing
        return None

    def put(self, server: str, route: str, principal: str, listing: Listing) -> None:
        """Keep C{listing} for its C{ttlMs} (one without, or of 0, is not kept)."""
        if not listing.ttlMs:
            return
        key = (server, route, principal if listing.private else None)
        self._kept[key] = (self._clock.seconds() + listing.ttlMs / 1000.0, listing)
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def forget(self) -> None:
        """Drop every listing (servers, filters or catalogs changed)."""
        self._kept.clear()


@dataclass
class Gathered:
    """The aggregate's listing of one request.

    @ivar entries: every member's entries, namespaced, in member order.
    @ivar ttlMs: the shortest freshness of the members' listings (0 when one
        gave none, or when a member could not be listed: a partial listing is
        never advertised as fresh, so the caller asks again).
    @ivar private: one of them is the caller's own.
    @ivar failed: the members that could not be listed, and why.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    ttlMs: int | None = None
    private: bool = False
    failed: dict[str, str] = field(default_factory=dict)

    def hints(self, scope: str) -> dict[str, Any]:
        """C{ttlMs} and C{cacheScope} of the 2026 revision: C{private} when
        C{scope} is, or a member's listing is the caller's own."""
        private = self.private or scope == PRIVATE
        return {"ttlMs": self.ttlMs or 0, "cacheScope": PRIVATE if private else PUBLIC}


class AggregateSkills:
    """The skills of an aggregate endpoint's members, as one server's."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime) -> None:
        self.cache = SkillsCache(clock)

    def list(
        self,
        members: Mapping[str, str],
        principal: str,
        ask: Ask,
        dependsOnCaller: Callable[[str], bool],
    ) -> Deferred[Gathered]:
        """Every member's listing (from the cache when fresh there), gathered.

        @param members: the members that declare the extension, each with
            the route the caller reaches it on, in the order they are listed.
        @param dependsOnCaller: whether a member's children depend on the
            caller (its listing is then the caller's own, whatever it says).
        """
        order = list(members)
        listed = [
            self._listing(server, members[server], principal, ask, dependsOnCaller(server))
            for server in order
        ]

        def gathered(outcomes: list[Listing | str]) -> Gathered:
            out = Gathered()
            for server, outcome in zip(order, outcomes, strict=True):
                if isinstance(outcome, str):
                    out.failed[server] = outcome
                    continue
                out.entries.extend(namespacedEntry(server, e) for e in outcome.entries)
                ttl = outcome.ttlMs or 0
                out.ttlMs = ttl if out.ttlMs is None else min(out.ttlMs, ttl)
                out.private = out.private or outcome.private
            if out.failed:
                out.ttlMs = 0  # partial: the missing members' skills may be there next time
            return out

        return gatherResults(listed, consumeErrors=True).addCallback(gathered)

    def _listing(
        self, server: str, route: str, principal: str, ask: Ask, ownChildren: bool
    ) -> Deferred[Listing | str]:
        """C{server}'s listing, or why it has none (every page asked in turn)."""
        kept = self.cache.get(server, route, principal)
        if kept is not None:
            return succeed(kept)
        entries: list[dict[str, Any]] = []
        hints: list[tuple[str | None, int | None]] = []

        def page(cursor: str | None, pages: int) -> Deferred[Listing | str]:
            params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
            return ask(server, "skills/list", params).addCallback(answered, pages)

        def answered(response: Message, pages: int) -> Deferred[Listing | str] | Listing | str:
            result = response.get("result")
            if not isinstance(result, dict) or not isinstance(result.get("skills"), list):
                error = response.get("error")
                text = error.get("message") if isinstance(error, dict) else None
                return unlisted(str(text or "no list of skills"))
            entries.extend(e for e in result["skills"] if isinstance(e, dict))
            hints.append(hintsOf(result))
            cursor = result.get("nextCursor")
            if isinstance(cursor, str) and cursor and pages < MAX_PAGES:
                return page(cursor, pages + 1)
            ttls = [ttl for _, ttl in hints]
            listing = Listing(
                entries=tuple(entries),
                ttlMs=None if None in ttls else min(t for t in ttls if t is not None),
                private=ownChildren or any(scope == PRIVATE for scope, _ in hints),
            )
            self.cache.put(server, route, principal, listing)
            return listing

        def unlisted(why: str) -> str:
            self.log.info(
                "aggregate: the skills of server {server} could not be listed: {why}",
                server=server,
                why=why,
            )
            return f"skills/list failed: {why}"

        return page(None, 1).addErrback(lambda reason: unlisted(reason.getErrorMessage()))

    def owner(self, uri: str, members: Mapping[str, str], principal: str) -> str | None:
        """The member whose fresh listing has a skill or file C{uri} of
        another scheme than C{skill://} (exactly one such member), else
        C{None}."""
        found = []
        for server, route in members.items():
            listing = self.cache.get(server, route, principal)
            if listing is not None and any(_names(entry, uri) for entry in listing.entries):
                found.append(server)
        return found[0] if len(found) == 1 else None


def _names(entry: Mapping[str, Any], uri: str) -> bool:
    """Whether a member's C{entry} is the skill C{uri}, or lists the file."""
    if entry.get("uri") == uri:
        return True
    resources = entry.get("resources")
    return isinstance(resources, list) and any(
        isinstance(item, dict) and item.get("uri") == uri for item in resources
    )


_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


def searchSkills(
    entries: Sequence[Mapping[str, Any]], query: str, limit: int, servers: frozenset[str]
) -> list[dict[str, Any]]:
    """The skills (namespaced entries) of C{servers} whose name, description
    or path has words of C{query} (the last one also as a prefix), best
    first: what the gateway's C{search} adds to the tools it finds. Each is
    C{uri}, C{name}, C{server}, C{description} and C{score} (the share of
    the query's words it has)."""
    terms = [word.lower() for word in _WORD.findall(query)][:32]
    if not terms:
        return []
    found: list[tuple[float, str, dict[str, Any]]] = []
    for entry in entries:
        uri = entry.get("uri")
        front = entry.get("frontmatter")
        local = localOf(uri) if isinstance(uri, str) else None
        if local is None or local[0] not in servers or not isinstance(front, Mapping):
            continue
        name, description = str(front.get("name", "")), str(front.get("description", ""))
        words = _words(f"{name} {description} {local[1][len(SCHEME) :]}")
        hits = sum(
            1
            for index, term in enumerate(terms)
            if term in words
            or (index == len(terms) - 1 and any(word.startswith(term) for word in words))
        )
        if hits:
            score = round(hits / len(terms), 3)
            item = {
                "uri": uri,
                "name": name,
                "server": local[0],
                "description": description[:160],
                "score": score,
            }
            found.append((-score, str(uri), item))
    return [item for _, _, item in sorted(found, key=lambda f: (f[0], f[1]))[:limit]]
