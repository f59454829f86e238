"""C{/api/v1/pins} and the status page's pinned tools, through a real Site
over in-memory transports with fake children."""

from __future__ import annotations

from typing import Any, cast

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.trust.pins import ENFORCE, PinBook
from mcpgateway.trust.policy import PinPolicy
from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.app import makeSite
from mcpgateway.web.pages.pinspage import MAX_CHANGES, pinsData, renderPins
from mcpgateway.web.pages.statuspage import renderLive
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec

READ = {"name": "read", "description": "Read a file", "inputSchema": {"type": "object"}}
EVIL = {**READ, "description": "Read a file <script>alert(1)</script> \x1b[2J"}


class FakeRouter:
    def __init__(self) -> None:
        self.told = 0

    def toolsChanged(self) -> None:
        self.told += 1


class PinsHarness(Harness):
    """A gateway pinning its servers' tools, with the management API."""

    def __init__(self, pins: bool = True) -> None:
        self.reactor = FakeProcessReactor()
        self.policy = PinPolicy(PinBook(), ENFORCE, self.reactor) if pins else None
        self.gateway = Gateway(
            {"srv": spec("srv")}, fakeSpawner(self.reactor), toolPins=self.policy
        )
        api = ApiApp(cast(Any, None), self.gateway, self.reactor, None)
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, api=api.resource)


class PinsCase(SynchronousTestCase):
    """A gateway with tool pins (C{policy}) and a router to screen for."""

    def setUp(self) -> None:
        self.harness = PinsHarness()
        policy = self.harness.policy
        assert policy is not None
        self.policy = policy
        self.router = FakeRouter()


class ApiTests(PinsCase):
    def setUp(self) -> None:
        super().setUp()
        pool = self.harness.gateway.pools["srv"]
        self.spec = pool.spec
        self.assertIs(pool.toolPins, self.policy)  # the gateway gave its pools the pins
        self.policy.screen(self.spec, [dict(READ)], [dict(READ)], self.router)
        self.policy.screen(self.spec, [dict(EVIL)], [dict(EVIL)], self.router)

    def test_the_report(self) -> None:
        response = self.harness.request("GET", "/api/v1/pins")
        self.assertEqual(response.status, 200)
        body = response.json()
        self.assertEqual(body["policy"], "enforce")
        [record] = body["servers"]
        [change] = record["changes"]
        self.assertEqual(
            (change["tool"], change["change"], change["withheld"]), ("read", "changed", True)
        )
        self.assertEqual(self.harness.request("GET", "/api/v1/pins/srv").json(), body)
        missing = self.harness.request("GET", "/api/v1/pins/nobody")
        self.assertEqual(missing.status, 404)
        self.assertIn("no pins for server 'nobody'", missing.json()["error"])

    def test_approving(self) -> None:
        response = self.harness.request("POST", "/api/v1/pins/srv/approve", {"tools": ["read"]})
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["approved"], ["read"])
        self.assertIsNone(self.policy.refusal(self.spec, "read"))
        self.harness.reactor.advance(0)
        self.assertEqual(self.router.told, 1)

    def test_approving_what_was_reviewed(self) -> None:
        """With the digest of the change reviewed: approved when it is the
        pending one, else 409 and nothing approved."""
        [change] = pinsData(self.harness.gateway)["changes"]  # type: ignore[index]
        stale = {"tools": {"read": "sha256:" + "0" * 64}}
        refused = self.harness.request("POST", "/api/v1/pins/srv/approve", stale)
        self.assertEqual(refused.status, 409)
        self.assertIn("changed again since they were reviewed", refused.json()["error"])
        self.assertIsNotNone(self.policy.refusal(self.spec, "read"))
        body = {"tools": {"read": change["digest"]}}
        response = self.harness.request("POST", "/api/v1/pins/srv/approve", body)
        self.assertEqual((response.status, response.json()["approved"]), (200, ["read"]))

    def test_approving_everything_without_a_body(self) -> None:
        response = self.harness.request("POST", "/api/v1/pins/srv/approve", contentType=None)
        self.assertEqual((response.status, response.json()["approved"]), (200, ["read"]))

    def test_a_bad_body_is_refused(self) -> None:
        for body, why in (
            ([1], "must be a JSON object"),
            ({"tools": "read"}, "must be a list"),
            ({"tool": ["read"]}, "unknown field"),
            ({"tools": []}, "name at least one tool"),
            ({"tools": {}}, "an object of tool name"),
            ({"tools": {"read": 7}}, "an object of tool name"),
        ):
            response = self.harness.request("POST", "/api/v1/pins/srv/approve", body)
            self.assertEqual(response.status, 400)
            self.assertIn(why, response.json()["error"])
        self.assertIsNotNone(self.policy.refusal(self.spec, "read"))

    def test_a_browser_needs_the_csrf_header(self) -> None:
        browser = {"origin": "http://127.0.0.1:9100", "sec-fetch-site": "same-origin"}
        refused = self.harness.request("POST", "/api/v1/pins/srv/approve", {}, headers=browser)
        self.assertEqual(refused.status, 403)
        self.assertIsNotNone(self.policy.refusal(self.spec, "read"))
        allowed = self.harness.request(
            "POST",
            "/api/v1/pins/srv/approve",
            {},
            headers={**browser, "x-mcpgateway-csrf": "1"},
        )
        self.assertEqual(allowed.status, 200)
        self.assertIsNone(self.policy.refusal(self.spec, "read"))

    def test_the_status_page_shows_the_change_and_its_button(self) -> None:
        data = pinsData(self.harness.gateway)
        assert data is not None
        self.assertEqual(data["changes"][0]["withheld"], True)
        html = renderPins(data)
        self.assertIn('data-action="approve" data-server="srv" data-tool="read"', html)
        self.assertIn(f'data-digest="{data["changes"][0]["digest"]}"', html)
        self.assertIn("withheld", html)
        self.assertNotIn("<script>", html)
        self.assertNotIn("\x1b", html)
        self.assertIn("&lt;script&gt;", html)
        self.assertNotIn("data-action", renderPins(data, controls=False))
        page = self.harness.request("GET", "/", accept="text/html")
        self.assertEqual(page.status, 200)
        self.assertIn(b'data-tool="read"', page.body)

    def test_the_page_is_bounded(self) -> None:
        data = {
            "policy": "warn",
            "quarantineNew": False,
            "pinned": 0,
            "changes": [],
            "more": 0,
        }
        self.assertIn("every one as approved", renderPins(data))
        self.assertEqual(renderPins(None), "")
        self.assertEqual(MAX_CHANGES, 50)


class OffTests(SynchronousTestCase):
    def test_a_gateway_that_pins_nothing(self) -> None:
        harness = PinsHarness(pins=False)
        body = harness.request("GET", "/api/v1/pins").json()
        self.assertEqual(body, {"policy": "off", "quarantineNew": False, "servers": []})
        refused = harness.request("POST", "/api/v1/pins/srv/approve", {})
        self.assertEqual(refused.status, 409)
        self.assertIsNone(pinsData(harness.gateway))
        self.assertNotIn("Pinned tools", renderLive({**_pageData(harness), "pins": None}))


def _pageData(harness: PinsHarness) -> dict[str, Any]:
    from mcpgateway.web.pages.statuspage import pageData

    return pageData(harness.gateway.readModel.status(), harness.gateway.aggregateSide.status())


class NoChildTests(SynchronousTestCase):
    def test_an_approval_with_no_child_listing_lists_the_server_afresh(self) -> None:
        harness = PinsHarness()
        policy = harness.policy
        assert policy is not None
        pool = harness.gateway.pools["srv"]
        router = FakeRouter()
        policy.screen(pool.spec, [dict(READ)], [dict(READ)], router)
        policy.screen(pool.spec, [dict(EVIL)], [dict(EVIL)], router)
        del router  # its child is gone
        import gc

        gc.collect()
        self.assertFalse(harness.gateway.catalogs.probing("srv"))
        response = harness.request("POST", "/api/v1/pins/srv/approve", {})
        self.assertEqual(response.json()["routers"], 0)
        self.assertTrue(harness.gateway.catalogs.probing("srv"))


class ForgetTests(PinsCase):
    """C{POST /api/v1/pins/<server>/forget}: the pins of what the gateway no
    longer serves; never the definition it serves."""

    def setUp(self) -> None:
        super().setUp()
        self.served = self.harness.gateway.pools["srv"].spec
        self.policy.screen(self.served, [dict(READ)], [dict(READ)], self.router)

    def pinOf(self, spec: ServerSpec) -> str:
        self.policy.screen(spec, [dict(READ)], [dict(READ)], self.router)
        self.policy.screen(spec, [dict(EVIL)], [dict(EVIL)], self.router)
        return self.policy.keyOf(spec)[1]

    def test_the_report_says_what_is_served(self) -> None:
        old = self.pinOf(ServerSpec(name="srv", command="old-srv"))
        self.pinOf(ServerSpec(name="gone", command="gone-srv"))
        body = self.harness.request("GET", "/api/v1/pins").json()
        said = {(r["server"], r["launch"]): (r["served"], r["current"]) for r in body["servers"]}
        self.assertEqual(said[("srv", old)], (True, False))
        self.assertEqual(said[("srv", self.policy.keyOf(self.served)[1])], (True, True))
        gone = self.policy.keyOf(ServerSpec(name="gone", command="gone-srv"))[1]
        self.assertEqual(said[("gone", gone)], (False, False))

    def test_forgetting_a_server_no_longer_served(self) -> None:
        self.pinOf(ServerSpec(name="gone", command="gone-srv"))
        response = self.harness.request("POST", "/api/v1/pins/gone/forget", contentType=None)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["kept"], None)
        self.assertEqual(len(response.json()["forgotten"]), 1)
        self.assertEqual(self.policy.book.ofServer("gone"), [])
        missing = self.harness.request("POST", "/api/v1/pins/gone/forget", contentType=None)
        self.assertEqual(missing.status, 404)

    def test_forgetting_the_old_definitions_of_a_served_server(self) -> None:
        old = self.pinOf(ServerSpec(name="srv", command="old-srv"))
        response = self.harness.request("POST", "/api/v1/pins/srv/forget", contentType=None)
        self.assertEqual(response.json()["forgotten"], [old])
        self.assertEqual(
            [r.launch for r in self.policy.book.ofServer("srv")],
            [self.policy.keyOf(self.served)[1]],
        )
        refused = self.harness.request("POST", "/api/v1/pins/srv/forget", contentType=None)
        self.assertEqual(refused.status, 409)
        self.assertIn("is served", refused.json()["error"])
        self.assertEqual(len(self.policy.book.ofServer("srv")), 1)

    def test_a_gateway_that_pins_nothing_leaves_it_to_the_command(self) -> None:
        harness = PinsHarness(pins=False)
        refused = harness.request("POST", "/api/v1/pins/srv/forget", contentType=None)
        self.assertEqual(refused.status, 409)
        self.assertIn("edits the pins file itself", refused.json()["error"])
