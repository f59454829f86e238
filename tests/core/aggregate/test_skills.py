# -*- test-case-name: tests.core.aggregate.test_skills -*-
"""The Skills extension (SEP-2640) on the aggregate endpoint: its members'
C{skill://} URIs named by member and read back, their entries kept as they
came, their listings kept per C{ttlMs} and C{cacheScope}, and each request
routed to the member its URI names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import LogLevel

from mcpgateway.config.servers import NAME_PATTERN
from mcpgateway.core.aggregate import skills
from mcpgateway.core.aggregate.memberpolicy import MemberGate
from mcpgateway.core.aggregate.session import CallFailed
from mcpgateway.core.aggregate.skillrequests import route, screened
from mcpgateway.core.aggregate.skills import (
    AggregateSkills,
    Listing,
    SkillsCache,
    capability,
    localOf,
    namespaced,
    namespacedAnswer,
    namespacedEntry,
)
from mcpgateway.core.era2026.translate import initializeResultOf
from mcpgateway.core.pools.era2026side import _lacking
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from tests.fakes import capturedGatewayLogs

EXTENSION = "io.modelcontextprotocol/skills"
servers = st.from_regex(NAME_PATTERN, fullmatch=True)
paths = st.text(min_size=1).filter(lambda text: not text.startswith("/"))


def entry(path: str, name: str) -> dict[str, Any]:
    uri = f"skill://{path}/SKILL.md"
    return {
        "uri": uri,
        "frontmatter": {"name": name, "description": "d", "metadata": {"uri": "skill://x"}},
        "resources": [
            {"uri": uri, "digest": "sha256:" + "a" * 64, "size": 10},
            {"uri": f"skill://{path}/ref/a.md", "digest": "sha256:" + "b" * 64, "size": 3},
        ],
    }


# -- names -------------------------------------------------------------------------


@given(servers, paths)
def test_a_namespaced_uri_reads_back_as_its_member_and_own_uri(server: str, path: str) -> None:
    uri = "skill://" + path
    named = namespaced(server, uri)
    assert named.startswith(f"skill://{server}/")
    assert localOf(named) == (server, uri)


@given(servers, servers, paths, paths)
def test_two_members_never_share_a_uri(a: str, b: str, p: str, q: str) -> None:
    if (a, p) != (b, q):
        assert namespaced(a, "skill://" + p) != namespaced(b, "skill://" + q)


@given(st.text())
def test_any_uri_reads_back_or_is_not_a_namespaced_one(text: str) -> None:
    local = localOf(text)
    if local is not None:
        assert namespaced(*local) == text


@given(servers, st.text())
def test_other_schemes_are_kept(server: str, text: str) -> None:
    if not text.startswith("skill://"):
        assert namespaced(server, text) == text


def test_an_entry_keeps_its_frontmatter_digests_and_name() -> None:
    original = entry("acme/billing/refunds", "refunds")
    named = namespacedEntry("one", original)
    assert named["uri"] == "skill://one/acme/billing/refunds/SKILL.md"
    assert named["uri"].rsplit("/", 2)[-2] == named["frontmatter"]["name"]
    assert named["frontmatter"] == original["frontmatter"]
    assert [(r["digest"], r["size"]) for r in named["resources"]] == [
        (r["digest"], r["size"]) for r in original["resources"]
    ]
    assert [r["uri"] for r in named["resources"]] == [
        "skill://one/acme/billing/refunds/SKILL.md",
        "skill://one/acme/billing/refunds/ref/a.md",
    ]
    assert original["uri"] == "skill://acme/billing/refunds/SKILL.md"  # not changed
    dynamic = {**original, "resources": "dynamic"}
    assert namespacedEntry("one", dynamic)["resources"] == "dynamic"


def test_an_answers_uris_are_namespaced() -> None:
    read = jsonrpc.resultResponse(1, {"contents": [{"uri": "skill://a/SKILL.md", "text": "x"}]})
    assert namespacedAnswer("s", read)["result"]["contents"][0] == {
        "uri": "skill://s/a/SKILL.md",
        "text": "x",
    }
    children = jsonrpc.resultResponse(1, {"resources": [{"uri": "skill://a/b", "name": "b"}]})
    assert namespacedAnswer("s", children)["result"]["resources"][0]["uri"] == "skill://s/a/b"
    got = jsonrpc.resultResponse(1, {"skill": entry("a", "a")})
    assert namespacedAnswer("s", got)["result"]["skill"]["uri"] == "skill://s/a/SKILL.md"
    error = jsonrpc.errorResponse(1, -32602, "no")
    assert namespacedAnswer("s", error) == error


def test_listed_resources_and_templates_are_namespaced() -> None:
    assert skills.resourceEntry({"uri": "skill://a/SKILL.md"}, "s") == {
        "uri": "skill://s/a/SKILL.md"
    }
    assert skills.resourceEntry({"uri": "file:///x"}, "s") == {"uri": "file:///x"}
    assert skills.template({"uriTemplate": "skill://{name}/SKILL.md"}, "s") == {
        "uriTemplate": "skill://s/{name}/SKILL.md"
    }


# -- capability ------------------------------------------------------------------------


def test_the_aggregate_declares_what_its_members_do() -> None:
    assert capability([]) == {}
    assert capability([{}]) == {EXTENSION: {}}
    assert capability([{"directoryRead": True}, {"directoryRead": True}]) == {
        EXTENSION: {"directoryRead": True}
    }
    # One member that cannot read directories: the aggregate cannot promise it.
    assert capability([{"directoryRead": True}, {}]) == {EXTENSION: {}}
    assert skills.settingsOf({"extensions": {EXTENSION: {}}}) == {}
    assert skills.settingsOf({"extensions": {EXTENSION: True}}) is None
    assert skills.settingsOf({"resources": {}}) is None


# -- the cache -------------------------------------------------------------------------


def listing(ttl: int | None, private: bool = False) -> Listing:
    return Listing(entries=(entry("a", "a"),), ttlMs=ttl, private=private)


def test_a_listing_is_kept_for_its_ttl_only() -> None:
    clock = Clock()
    cache = SkillsCache(clock)
    cache.put("one", "", "alice", listing(1000))
    assert cache.get("one", "", "bob") is not None  # public: everyone's
    assert cache.get("one", "key", "alice") is None  # another route: another child
    clock.advance(1.0)
    assert cache.get("one", "", "alice") is None
    cache.put("one", "", "alice", listing(None))
    cache.put("two", "", "alice", listing(0))
    assert len(cache) == 0


def test_a_private_listing_is_its_principals_only() -> None:
    cache = SkillsCache(Clock())
    cache.put("one", "", "alice", listing(60000, private=True))
    assert cache.get("one", "", "alice") is not None
    assert cache.get("one", "", "bob") is None
    assert cache.get("one", "", "") is None


def test_the_cache_is_bounded() -> None:
    cache = SkillsCache(Clock(), size=2)
    for server in ("a", "b", "c"):
        cache.put(server, "", "", listing(60000))
    assert len(cache) == 2
    assert cache.get("a", "", "") is None
    assert cache.get("c", "", "") is not None
    cache.forget()
    assert len(cache) == 0


# -- listing through the members ------------------------------------------------------


class Members:
    """Members that answer C{skills/list} from pages, and count."""

    def __init__(self, pages: dict[str, list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def ask(self, server: str, method: str, params: dict[str, Any]) -> Deferred[Message]:
        assert method == "skills/list"
        self.asked.append((server, params))
        pages = self.pages[server]
        if not pages:
            return fail(RuntimeError("its child exited"))
        index = int(params.get("cursor", "0"))
        return succeed(jsonrpc.resultResponse(1, pages[index]))


def test_every_page_of_every_member_is_gathered_and_kept() -> None:
    members = Members(
        {
            "one": [
                {"skills": [entry("a", "a")], "nextCursor": "1", "ttlMs": 5000},
                {"skills": [entry("b", "b")], "ttlMs": 2000},
            ],
            "two": [{"skills": [entry("a", "a")], "ttlMs": 9000, "cacheScope": "private"}],
            "three": [],
        }
    )
    aggregate = AggregateSkills(Clock())
    routes = {"one": "", "two": "", "three": ""}
    gathered = aggregate.list(routes, "alice", members.ask, lambda server: False)
    result: Any = gathered.result
    assert [e["uri"] for e in result.entries] == [
        "skill://one/a/SKILL.md",
        "skill://one/b/SKILL.md",
        "skill://two/a/SKILL.md",
    ]
    assert result.ttlMs == 0 and result.private  # three is missing: not fresh for long
    assert list(result.failed) == ["three"]
    assert result.hints("public") == {"ttlMs": 0, "cacheScope": "private"}
    assert len(members.asked) == 4
    again: Any = aggregate.list(routes, "alice", members.ask, lambda server: False).result
    assert again.entries == result.entries
    assert len(members.asked) == 5  # only the member without a listing is asked again
    other: Any = aggregate.list(routes, "bob", members.ask, lambda server: False).result
    assert len(members.asked) == 7  # two's listing is alice's: bob's is asked for
    assert [e["uri"] for e in other.entries] == [e["uri"] for e in result.entries]


def test_the_shortest_freshness_of_the_members_is_the_listings() -> None:
    members = Members(
        {
            "one": [{"skills": [entry("a", "a")], "ttlMs": 5000}],
            "two": [{"skills": [entry("b", "b")], "ttlMs": 2000}],
        }
    )
    aggregate = AggregateSkills(Clock())
    result: Any = aggregate.list({"one": "", "two": ""}, "", members.ask, lambda s: False).result
    assert result.failed == {}
    assert result.hints("public") == {"ttlMs": 2000, "cacheScope": "public"}


def test_a_listing_missing_a_member_is_not_fresh_and_says_why() -> None:
    """A member that answers C{skills/list} with an error is logged, and the
    listing without it is advertised with C{ttlMs} 0: a caller that kept it
    would not see that member's skills once it answers."""
    refusing = [True]

    def ask(server: str, method: str, params: dict[str, Any]) -> Deferred[Message]:
        if server == "two" and refusing[0]:
            return succeed(jsonrpc.errorResponse(1, jsonrpc.INTERNAL_ERROR, "disk on fire"))
        return succeed(
            jsonrpc.resultResponse(1, {"skills": [entry(server, server)], "ttlMs": 60000})
        )

    aggregate = AggregateSkills(Clock())
    routes = {"one": "", "two": ""}
    with capturedGatewayLogs() as events:
        result: Any = aggregate.list(routes, "alice", ask, lambda server: False).result
    assert [e["uri"] for e in result.entries] == ["skill://one/one/SKILL.md"]
    assert result.failed == {"two": "skills/list failed: disk on fire"}
    assert result.ttlMs == 0
    assert result.hints("public") == {"ttlMs": 0, "cacheScope": "public"}
    logged = [e for e in events if e.get("server") == "two"]
    assert [(e["log_level"], e["why"]) for e in logged] == [(LogLevel.info, "disk on fire")]
    assert aggregate.cache.get("one", "", "alice") is not None  # one's own listing is whole
    assert aggregate.cache.get("two", "", "alice") is None
    refusing[0] = False
    again: Any = aggregate.list(routes, "alice", ask, lambda server: False).result
    assert [e["uri"] for e in again.entries] == [
        "skill://one/one/SKILL.md",
        "skill://two/two/SKILL.md",
    ]
    assert again.hints("public") == {"ttlMs": 60000, "cacheScope": "public"}


def test_a_member_without_hints_is_asked_every_time() -> None:
    members = Members({"one": [{"skills": [entry("a", "a")]}]})
    aggregate = AggregateSkills(Clock())
    first: Any = aggregate.list({"one": ""}, "", members.ask, lambda server: False).result
    aggregate.list({"one": ""}, "", members.ask, lambda server: False)
    assert len(members.asked) == 2
    assert first.hints("public") == {"ttlMs": 0, "cacheScope": "public"}


def test_a_member_bound_to_its_caller_lists_privately() -> None:
    members = Members({"one": [{"skills": [], "ttlMs": 60000, "cacheScope": "public"}]})
    aggregate = AggregateSkills(Clock())
    aggregate.list({"one": ""}, "alice", members.ask, lambda server: True)
    aggregate.list({"one": ""}, "bob", members.ask, lambda server: True)
    assert len(members.asked) == 2


# -- routing ---------------------------------------------------------------------------


def test_a_uri_goes_to_the_member_it_names() -> None:
    aggregate = AggregateSkills(Clock())
    declared: dict[str, dict[str, Any]] = {"one": {"directoryRead": True}, "two": {}}
    routes = {"one": "", "two": ""}
    assert route(aggregate, "skills/get", "skill://two/a/SKILL.md", declared, routes, "") == (
        "two",
        "skill://a/SKILL.md",
    )
    assert route(aggregate, "resources/directory/read", "skill://one/a", declared, routes, "") == (
        "one",
        "skill://a",
    )
    for method, uri in [
        ("skills/get", "skill://three/a/SKILL.md"),  # no such member
        ("skills/get", "skill://a/SKILL.md"),  # not namespaced
        ("skills/get", "skill://one"),
        ("skills/get", 7),
        ("resources/directory/read", "skill://two/a"),  # two reads no directories
        ("skills/get", "github://o/r/a/SKILL.md"),  # listed by nobody
    ]:
        with pytest.raises(CallFailed) as raised:
            route(aggregate, method, uri, declared, routes, "")
        assert raised.value.code == jsonrpc.INVALID_PARAMS


def test_another_scheme_goes_to_the_member_that_listed_it() -> None:
    aggregate = AggregateSkills(Clock())
    github = {**entry("a", "a"), "uri": "github://o/r/a/SKILL.md"}
    aggregate.cache.put("two", "", "", Listing((github,), 60000, False))
    declared: dict[str, dict[str, Any]] = {"one": {}, "two": {}}
    found = route(aggregate, "skills/get", github["uri"], declared, {"one": "", "two": ""}, "")
    assert found == ("two", github["uri"])
    aggregate.cache.put("one", "", "", Listing((github,), 60000, False))
    with pytest.raises(CallFailed):  # two members listed it: never guessed
        route(aggregate, "skills/get", github["uri"], declared, {"one": "", "two": ""}, "")


# -- server routes ----------------------------------------------------------------------


def test_a_servers_discover_keeps_the_extension() -> None:
    initialize = {
        "capabilities": {
            "resources": {},
            "extensions": {EXTENSION: {"directoryRead": True}, "x.example/other": {}},
        },
        "serverInfo": {"name": "s", "version": "1"},
    }
    discovered = era2026form.discoverResult(initialize, "public")
    assert discovered["capabilities"]["extensions"] == {EXTENSION: {"directoryRead": True}}
    without = era2026form.discoverResult({"capabilities": {"resources": {}}}, "public")
    assert "extensions" not in without["capabilities"]


def test_a_2026_childs_extension_reaches_handshake_sessions() -> None:
    discover: dict[str, Any] = {"capabilities": {"resources": {}, "extensions": {EXTENSION: {}}}}
    assert initializeResultOf(discover, "s")["capabilities"]["extensions"] == {EXTENSION: {}}


def test_skills_results_keep_the_childs_ttl() -> None:
    result = {"skills": [], "ttlMs": 300000, "cacheScope": "public"}
    done = era2026form.completeResult("skills/list", result, None, "public")
    assert done["ttlMs"] == 300000 and done["cacheScope"] == "public"
    done = era2026form.completeResult("skills/get", {"skill": {}}, None, "private")
    assert done["ttlMs"] == 0 and done["cacheScope"] == "private"
    done = era2026form.completeResult("skills/list", {"skills": [], "ttlMs": -1}, None, "public")
    assert done["ttlMs"] == 0
    done = era2026form.completeResult("resources/directory/read", {"resources": []}, None, "x")
    assert done["ttlMs"] == 0 and done["cacheScope"] == "x" and done["resultType"] == "complete"


def test_skills_requests_reach_only_a_server_that_declares_them() -> None:
    declared: dict[str, Any] = {"resources": {}, "extensions": {EXTENSION: {}}}
    reading = {"resources": {}, "extensions": {EXTENSION: {"directoryRead": True}}}
    assert _lacking("skills/list", declared) is None
    assert _lacking("skills/get", {"resources": {}}) is not None
    assert _lacking("resources/directory/read", declared) is not None
    assert _lacking("resources/directory/read", reading) is None
    assert _lacking("tools/list", {"tools": {}}) is None


# -- search ----------------------------------------------------------------------------


def test_search_finds_skills_by_their_words() -> None:
    entries = [
        namespacedEntry("one", entry("acme/billing/refunds", "refunds")),
        namespacedEntry("two", {**entry("pdf", "pdf"), "frontmatter": {"name": "pdf"}}),
        namespacedEntry(
            "two",
            {**entry("git", "git"), "frontmatter": {"name": "git", "description": "Git commits"}},
        ),
        {"uri": "github://o/r/x/SKILL.md", "frontmatter": {"name": "x", "description": "x"}},
    ]
    everyone = frozenset({"one", "two"})
    found = skills.searchSkills(entries, "billing refund", 10, everyone)
    assert [(f["uri"], f["server"], f["score"]) for f in found] == [
        ("skill://one/acme/billing/refunds/SKILL.md", "one", 1.0)  # "refund": a prefix, last
    ]
    assert [f["name"] for f in skills.searchSkills(entries, "commit", 10, everyone)] == ["git"]
    assert skills.searchSkills(entries, "commit", 10, frozenset({"one"})) == []
    assert skills.searchSkills(entries, "  ", 10, everyone) == []
    assert [f["name"] for f in skills.searchSkills(entries, "pdf git", 1, everyone)] == ["git"]


class OnlyPublic:
    """A member policy that lets nobody read the skills under C{secret/}."""

    def listable(self, asker: Any, action: str, server: str, name: str) -> bool:
        assert action == "resources/read"
        return not name.startswith("skill://secret/")


def test_the_member_policy_screens_a_listing() -> None:
    gate = MemberGate()
    entries = [
        namespacedEntry("one", entry("secret/plans", "plans")),
        namespacedEntry("one", entry("open", "open")),
        {"uri": "github://o/r/x/SKILL.md", "frontmatter": {"name": "x"}},
    ]
    assert screened(gate, None, entries) == entries
    gate.policy = OnlyPublic()  # type: ignore[assignment]
    assert [e["uri"] for e in screened(gate, None, entries)] == [
        "skill://one/open/SKILL.md",
        "github://o/r/x/SKILL.md",
    ]
