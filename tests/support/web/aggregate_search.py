"""searchedNames: the tool names an aggregate endpoint's search tool finds,
for the tests of search endpoints over the web and the lazy aggregator."""

from __future__ import annotations

from tests.support.web.aggregate_web import AggregateHarness


def searchedNames(agg: AggregateHarness, path: str, query: str) -> list[str]:
    """Open a session on endpoint C{path} and call its search tool with
    C{query}; the names of the results, best first."""
    session = agg.open(path)
    found = agg.call(
        session, "tools/call", {"name": "search", "arguments": {"query": query}}, path=path
    )
    return [r["name"] for r in found["result"]["structuredContent"]["results"]]
