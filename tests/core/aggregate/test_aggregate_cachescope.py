"""The aggregate endpoint and its members' cache hints (MCP 2026-07-28): a
member that lists C{private} is seen by each principal through its own
catalog (never another's, in the lists, in C{search}'s results, in the
wording of a hit), the aggregate's own 2026-07-28 lists say C{private}
then, and a member's list past its C{ttlMs} is listed again before the
aggregate serves a list from it. A real Site, fake children, a fake clock."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.aggregate.session import AggregateSession
from mcpgateway.protocol import jsonrpc
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.support.core.aggregate.aggregate_cachescope import HintedChildren, _Hinted
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness
from tests.support.web.aggregate_web import VERSION, AggregateHarness, initialize


def servers() -> dict[str, FakeServer]:
    return {
        "alpha": FakeServer(tools=[tool("echo")]),
        "beta": FakeServer(tools=[tool("ping")]),
    }


def privateHarness() -> AggregateHarness:
    h = AggregateHarness(servers())
    h.children = HintedChildren(
        h.harness.reactor,
        h.children.servers,
        hints={"alpha": {"cacheScope": "private"}},
        numbered="alpha",
    )
    return h


def openAs(h: AggregateHarness, principal: str, mode: str = "full") -> AggregateSession:
    session, opened = h.gateway.opener.openAggregate(
        "search" if mode == "search" else "default",
        mode,
        initialize(),
        VERSION,
        principal=principal,
    )
    h.children.pump()
    h.harness.reactor.advance(1.0)
    h.children.pump()
    assert "result" in _result(h, opened)
    assert isinstance(session, AggregateSession)
    return session


def _result(h: AggregateHarness, d: Any) -> Any:
    answers: list[Any] = []
    d.addBoth(answers.append)
    h.children.pump()
    assert answers, "not answered"
    return answers[0]


def listedTools(h: AggregateHarness, session: AggregateSession) -> dict[str, str]:
    """Name -> description of what C{session} lists."""
    listed = h.gateway.aggregateSide.aggregator.forward(
        session, jsonrpc.request(5, "tools/list", {}), None
    )
    return {t["name"]: t["description"] for t in _result(h, listed)["result"]["tools"]}


def secretOf(h: AggregateHarness, principal: str) -> str:
    """The description of C{alpha}'s tool in C{principal}'s catalog."""
    catalog = h.gateway.catalogs.get("alpha", principal)
    assert catalog is not None
    (only,) = catalog.items("tools")
    return str(only["description"])


def test_each_principal_sees_its_own_listing_of_a_private_member() -> None:
    h = privateHarness()
    alice = openAs(h, "key-alice")
    aliceTools = listedTools(h, alice)
    bob = openAs(h, "key-bob")
    bobTools = listedTools(h, bob)
    assert aliceTools["beta__ping"] == bobTools["beta__ping"]  # public: shared
    assert aliceTools["alpha__secret"] == secretOf(h, "key-alice")
    assert bobTools["alpha__secret"] == secretOf(h, "key-bob")
    assert aliceTools["alpha__secret"] != bobTools["alpha__secret"]
    # Alice's view never changes to Bob's listing.
    assert listedTools(h, alice) == aliceTools


def test_search_finds_a_private_members_tools_for_their_principal_only() -> None:
    h = privateHarness()
    alice = openAs(h, "key-alice", "search")
    bob = openAs(h, "key-bob", "search")
    assert secretOf(h, "key-alice") != secretOf(h, "key-bob")

    def search(session: AggregateSession) -> list[dict[str, Any]]:
        call = jsonrpc.request(
            9, "tools/call", {"name": "search", "arguments": {"query": "secret number"}}
        )
        answer = _result(h, h.gateway.aggregateSide.aggregator.forward(session, call, None))
        return list(answer["result"]["structuredContent"]["results"])

    (aliceHit,), (bobHit,) = search(alice), search(bob)
    assert aliceHit["name"] == bobHit["name"] == "alpha__secret"
    assert aliceHit["description"] == secretOf(h, "key-alice")
    assert bobHit["description"] == secretOf(h, "key-bob")


def test_a_member_past_its_ttl_is_listed_again_for_a_list() -> None:
    h = AggregateHarness(servers())
    children = HintedChildren(
        h.harness.reactor, h.children.servers, hints={"alpha": {"ttlMs": 1000}}, numbered="alpha"
    )
    h.children = children
    session = h.open()
    first = h.call(session, "tools/list", {})
    before = children.listings
    assert f"number {before}." in _described(first, "alpha__secret")
    again = h.call(session, "tools/list", {}, requestId=8)
    assert children.listings == before  # still fresh
    assert again["result"] == first["result"]
    h.harness.reactor.advance(1.0)
    fresh = h.call(session, "tools/list", {}, requestId=9)
    assert children.listings == before + 1
    assert f"number {before + 1}." in _described(fresh, "alpha__secret")
    # A call is not held up by it: it goes to the member at once.
    h.harness.reactor.advance(1.0)
    h.call(session, "tools/call", {"name": "beta__ping", "arguments": {}}, requestId=10)
    assert children.listings == before + 1


def test_the_aggregates_own_2026_lists_say_private_when_a_member_does() -> None:
    for hints, expected in (({}, "public"), ({"cacheScope": "private"}, "private")):
        h = AggregateEra2026Harness(servers())
        h.children = _Hinted(h.harness.reactor, h.children.servers, hints={"alpha": hints})
        listed = h.era2026("tools/list")
        h.children.pump()
        assert listed.status == 200, listed.body
        result = listed.json()["result"]
        assert result["cacheScope"] == expected, hints
        assert {t["name"] for t in result["tools"]} == {"alpha__echo", "beta__ping"}


def _described(answer: dict[str, Any], name: str) -> str:
    (found,) = [t for t in answer["result"]["tools"] if t["name"] == name]
    return str(found["description"])
