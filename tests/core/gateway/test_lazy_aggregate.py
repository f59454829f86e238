"""The aggregate endpoint's side (L{mcpgateway.core.aggregate.aggregator}, its tools,
search, shield, kept results, schemas and views) is loaded and made on the
first request to C{/mcp}, not at start (idle RSS); until then
the gateway answers as an aggregator with no session would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, ShieldSpec
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.http import initializeMessage
from tests.support.web.aggregate_search import searchedNames
from tests.support.web.aggregate_web import AggregateHarness

REPO = Path(__file__).resolve().parents[3]

AGGREGATE_SIDE = (
    "mcpgateway.core.aggregate.aggregator",
    "mcpgateway.core.aggregate.tools",
    "mcpgateway.core.aggregate.naming",
    "mcpgateway.core.aggregate.results",
    "mcpgateway.core.aggregate.schemas",
    "mcpgateway.core.aggregate.search",
    "mcpgateway.core.aggregate.shield",
    "mcpgateway.core.aggregate.view",
)


def servers() -> dict[str, FakeServer]:
    return {"alpha": FakeServer(tools=[tool("echo", "Echo the text.", text="the text")])}


def fresh(code: str) -> Any:
    """Run C{code} in a new interpreter; the JSON it printed last."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_web_tree_and_a_gateway_do_not_import_the_aggregate_side() -> None:
    """A gateway and its site, built as the plugin builds them, leave the
    aggregate's modules unimported; its first use imports them."""
    out = fresh(
        "import json, sys\n"
        "from tests.fakes import FakeProcessReactor, fakeSpawner\n"
        "from tests.http import spec\n"
        "from mcpgateway.core.gateway.gateway import Gateway\n"
        "from mcpgateway.web.app import makeSite\n"
        "reactor = FakeProcessReactor()\n"
        "gateway = Gateway({'srv': spec('srv')}, fakeSpawner(reactor))\n"
        "makeSite(gateway, reactor, loopbackOnly=True)\n"
        "gateway.aggregateSide.status()\n"
        f"names = {AGGREGATE_SIDE!r}\n"
        "before = sorted(n for n in names if n in sys.modules)\n"
        "gateway.aggregateSide.aggregator\n"
        "after = sorted(n for n in names if n in sys.modules)\n"
        "print(json.dumps({'before': before, 'after': after}))\n"
    )
    assert out == {"before": [], "after": sorted(AGGREGATE_SIDE)}


class LazyAggregatorTests(SynchronousTestCase):
    def test_a_session_on_a_server_does_not_make_the_aggregator(self) -> None:
        agg = AggregateHarness(servers())
        harness = agg.harness
        response = harness.request(
            "POST",
            "/alpha/mcp",
            initializeMessage(clientInfo={"name": "plain", "version": "1"}),
        )
        agg.children.pump()
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(harness.request("GET", "/health").status, 200)
        session = next(iter(agg.gateway.sessions))
        agg.gateway.endSession(session)
        self.assertIsNone(agg.gateway.aggregateSide.made)

    def test_the_health_line_is_the_same_before_and_after_the_aggregator_is_made(self) -> None:
        agg = AggregateHarness(servers())
        gateway = agg.gateway
        gateway.aggregateSide.useEndpoints(
            {"bare": EndpointSpec(name="bare", mode="search", namespace="never")}, NameSettings()
        )
        before = gateway.aggregateSide.status()
        self.assertIsNone(gateway.aggregateSide.made)
        gateway.aggregateSide.aggregator  # noqa: B018 (made on first use)
        self.assertEqual(gateway.aggregateSide.status(), before)
        self.assertEqual(before["endpoints"], ["bare", "default", "search"])

    def test_endpoints_set_before_the_first_use_are_served(self) -> None:
        """C{aggregate.json} is read at start: its endpoints are kept until
        the first request to C{/mcp} makes the aggregator."""
        fs = servers()
        fs["alpha"].tools.append(tool("create_entities", "Create entities in the graph."))
        agg = AggregateHarness(fs)
        agg.gateway.aggregateSide.useEndpoints(
            {
                "bare": EndpointSpec(
                    name="bare", mode="search", namespace="never", shield=ShieldSpec(enabled=True)
                )
            },
            NameSettings(),
        )
        self.assertIsNone(agg.gateway.aggregateSide.made)
        names = searchedNames(agg, "/mcp/bare", "create entities graph")
        self.assertEqual(names[0], "create_entities")
        # Later settings go to the aggregator itself.
        agg.gateway.aggregateSide.useEndpoints({}, NameSettings())
        self.assertIsNone(agg.gateway.aggregateSide.aggregator.endpoint("bare"))

    def test_an_aggregate_session_is_served_and_ended_through_the_lazy_aggregator(self) -> None:
        agg = AggregateHarness(servers())
        session = agg.open("/mcp")
        listed = agg.call(session, "tools/list", {})
        self.assertEqual([t["name"] for t in listed["result"]["tools"]], ["alpha__echo"])
        self.assertEqual(agg.gateway.aggregateSide.status()["sessions"], 1)
        (status,) = agg.gateway.readModel.status().sessions
        self.assertEqual(status.server, "/mcp")
        ended, _ = agg.gateway.endSessions(list(agg.gateway.sessions), "test")
        self.assertEqual(ended, [session])
        self.assertEqual(agg.gateway.aggregateSide.status()["sessions"], 0)

    def test_a_refused_request_for_the_aggregate_does_not_make_it(self) -> None:
        """A probe of C{/mcp/nosuch} or a bad request to C{/mcp} is answered
        without loading the aggregate side; which endpoints exist is known
        without it, and the same once it is made."""
        agg = AggregateHarness(servers())
        gateway = agg.gateway
        gateway.aggregateSide.useEndpoints(
            {"bare": EndpointSpec(name="bare", mode="search")}, NameSettings()
        )
        harness = agg.harness
        self.assertEqual(harness.request("POST", "/mcp/nosuch", {"jsonrpc": "2.0"}).status, 404)
        self.assertEqual(harness.request("POST", "/mcp", raw=b"{not json").status, 400)
        self.assertIsNone(gateway.aggregateSide.made)
        names = ("default", "search", "bare", "nosuch")
        before = [gateway.aggregateSide.hasEndpoint(name) for name in names]
        self.assertEqual(before, [True, True, True, False])
        gateway.aggregateSide.aggregator  # noqa: B018 (made on first use)
        self.assertEqual([gateway.aggregateSide.hasEndpoint(name) for name in names], before)
