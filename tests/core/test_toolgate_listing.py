"""The router's tool gate where names are decided before their calls: the
child listed first, and the check failing closed when the listing cannot
be made whole (an error, no answer, a malformed answer); what a child
does not declare it serves refused before it reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.toolgate import (
    MAX_FOLLOWED,
    RETRY_MOST,
    PinnedTools,
    ToolGate,
)
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, capturedGatewayLogs

TIMEOUT = 10.0
"""The request timeout of the routers of these tests."""

LISTED = [{"name": "secret_tool"}, {"name": "echo"}]
"""What the child lists when its listing works: a policy forbids
C{secret_tool}, and the child folds case (C{SECRET_TOOL} would run it)."""


@dataclass
class Pool:
    """What a gate reads of its pool: here, names decided before calls."""

    spec: ServerSpec
    toolPins: PinnedTools | None = None
    namesDecided: bool = True


class Case(SynchronousTestCase):
    """A router whose gate lists first; its child declares C{served}."""

    served: Any = {"tools": {}, "prompts": {}, "resources": {}}

    def setUp(self) -> None:
        self.clock = Clock()
        self.pool = Pool(ServerSpec(name="fs", command="fs-server"))
        self.router = Router("fs", self.clock, TIMEOUT, SharedFanout())
        self.router.tools = ToolGate(self.pool, None, lambda: self.served, clock=self.clock)
        self.sent: list[dict[str, Any]] = []
        self.router.attachChild(self.sent.append)
        self.session = FakeSession("a")
        self.router.attach(self.session)

    def call(self, name: str, method: str = "tools/call") -> Deferred[dict[str, Any]]:
        """A session's call of C{name}; its answer (the child's, when it got it)."""
        return self.router.request(self.session, jsonrpc.request(9, method, {"name": name}), None)

    def listings(self, method: str = "tools/list") -> list[dict[str, Any]]:
        """What the gate asked the child to list."""
        return [m for m in self.sent if m.get("method") == method]

    def forwarded(self, method: str = "tools/call") -> list[str]:
        """The names of the calls that reached the child."""
        return [m["params"]["name"] for m in self.sent if m.get("method") == method]

    def answer(self, message: dict[str, Any], **members: Any) -> None:
        """The child answers C{message} with C{members} (C{result} or C{error})."""
        self.router.childMessage({"jsonrpc": "2.0", "id": message["id"], **members})

    def failListing(self, how: str) -> None:
        """The gate's pending listing errs, hangs or comes back malformed."""
        listing = self.listings()[-1]
        if how == "errs":
            self.answer(listing, error={"code": -32603, "message": "database\ndown"})
        elif how == "hangs":
            self.clock.advance(TIMEOUT)
        else:
            self.answer(listing, result={"tools": {"secret_tool": {}}})

    def refusal(self, answer: Deferred[dict[str, Any]]) -> dict[str, Any]:
        """The error C{answer} fired with (it never reached the child)."""
        error: dict[str, Any] = self.successResultOf(answer)["error"]
        return error


WHY = {
    "errs": "its tools/list failed with error -32603: database\\ndown",
    "hangs": "its tools/list timed out: server 'fs' did not answer tools/list within 10 s",
    "malformed": "its tools/list answer has no list of tools",
}


class FailedListingTests(Case):
    """The listing errs, hangs or is malformed: a name it cannot vouch for
    is refused, saying why; the gateway lists again, within bounds."""

    def check(self, how: str) -> None:
        answer = self.call("SECRET_TOOL")
        self.assertNoResult(answer)
        with capturedGatewayLogs() as events:
            self.failListing(how)
        error = self.refusal(answer)
        self.assertEqual(error["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertEqual(
            error["message"],
            "tools/call of 'SECRET_TOOL' refused: server 'fs' could not list its tools"
            f" ({WHY[how]}), so the gateway cannot tell that the name is one it gave; it"
            " lists them again at the first call after 1 s",
        )
        self.assertEqual(self.forwarded(), [])
        self.assertEqual(
            [e.get("listingFailed") for e in events if "listingFailed" in e], ["tools/list"]
        )
        self.assertEqual(
            [e.get("unvouchedRefused") for e in events if "unvouchedRefused" in e],
            ["SECRET_TOOL"],
        )

    def test_a_listing_that_errs(self) -> None:
        self.check("errs")

    def test_a_listing_that_hangs(self) -> None:
        self.check("hangs")

    def test_a_listing_that_is_malformed(self) -> None:
        self.check("malformed")

    def test_an_answer_that_is_not_a_result(self) -> None:
        answer = self.call("echo")
        self.answer(self.listings()[-1], result=["echo"])
        self.assertIn("its tools/list answer has no result object", self.refusal(answer)["message"])

    def test_a_listing_that_never_ends(self) -> None:
        """Past the pages it follows: what its pages gave goes, nothing else."""
        answer = self.call("page0")
        for page in range(MAX_FOLLOWED):
            listing = self.listings()[-1]
            self.answer(listing, result={"tools": [{"name": f"page{page}"}], "nextCursor": "more"})
        self.assertEqual(len(self.listings()), MAX_FOLLOWED)
        self.router.childMessage(jsonrpc.resultResponse(self.sent[-1]["id"], {"content": []}))
        self.assertIn("result", self.successResultOf(answer))
        self.assertEqual(self.forwarded(), ["page0"])
        refused = self.refusal(self.call("SECRET_TOOL"))
        self.assertIn(f"its tools/list goes on past {MAX_FOLLOWED} pages", refused["message"])

    def test_the_pages_that_came_vouch_for_their_names(self) -> None:
        answer = self.call("echo")
        self.answer(self.listings()[-1], result={"tools": [LISTED[1]], "nextCursor": "p2"})
        self.failListing("errs")
        self.assertNoResult(answer)  # forwarded: its name came on the first page
        self.assertEqual(self.forwarded(), ["echo"])
        self.assertIn("database", self.refusal(self.call("SECRET_TOOL"))["message"])

    def test_within_the_wait_a_call_is_refused_at_once(self) -> None:
        self.call("echo")
        self.failListing("errs")
        self.clock.advance(0.5)
        error = self.refusal(self.call("echo"))
        self.assertIn("lists them again at the first call after 1 s", error["message"])
        self.assertEqual(len(self.listings()), 1)

    def test_after_the_wait_the_next_call_lists_again_and_is_served(self) -> None:
        self.call("echo")
        self.failListing("hangs")
        self.clock.advance(1.0)
        answer = self.call("echo")
        self.assertEqual(len(self.listings()), 2)
        self.answer(self.listings()[-1], result={"tools": LISTED})
        self.assertEqual(self.forwarded(), ["echo"])
        self.router.childMessage(jsonrpc.resultResponse(self.sent[-1]["id"], {"content": []}))
        self.assertIn("result", self.successResultOf(answer))
        unknown = self.refusal(self.call("SECRET_TOOL"))
        self.assertEqual(
            unknown, {"code": jsonrpc.INVALID_PARAMS, "message": "Unknown tool: SECRET_TOOL"}
        )

    def test_the_wait_doubles_and_is_bounded(self) -> None:
        waits = []
        for _ in range(9):
            self.call("echo")
            before = self.clock.seconds()
            self.failListing("errs")
            listed = len(self.listings())
            while len(self.listings()) == listed:
                self.clock.advance(1.0)
                self.call("echo")
            waits.append(self.clock.seconds() - before)
        self.assertEqual(
            waits, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, RETRY_MOST, RETRY_MOST, RETRY_MOST]
        )

    def test_one_listing_serves_every_call_waiting_on_it(self) -> None:
        first, second = self.call("SECRET_TOOL"), self.call("Echo")
        self.assertEqual(len(self.listings()), 1)
        self.failListing("malformed")
        self.assertIn("no list of tools", self.refusal(first)["message"])
        self.assertIn("no list of tools", self.refusal(second)["message"])

    def test_a_changed_list_is_listed_again_at_once(self) -> None:
        self.call("echo")
        self.failListing("errs")
        self.router.childMessage(jsonrpc.notification("notifications/tools/list_changed"))
        self.call("echo")
        self.assertEqual(len(self.listings()), 2)

    def test_a_listing_the_child_changed_under_is_not_waited_out(self) -> None:
        """The list changed while the gate listed it: its failure says why,
        and the next call lists again without a wait."""
        answer = self.call("echo")
        self.router.childMessage(jsonrpc.notification("notifications/tools/list_changed"))
        self.failListing("errs")
        self.assertIn("lists them again at the next call", self.refusal(answer)["message"])
        self.call("echo")
        self.assertEqual(len(self.listings()), 2)

    def test_a_gateway_that_stops_deciding_names_forwards_again(self) -> None:
        """The policy was removed: nothing decides the name, nothing is refused."""
        self.call("echo")
        self.failListing("errs")
        self.pool.namesDecided = False
        self.call("SECRET_TOOL")
        self.assertEqual(self.forwarded(), ["SECRET_TOOL"])

    def test_a_listing_that_does_not_come_at_all(self) -> None:
        """The gate's own request fails (cancelled, a defect): refused, saying so."""
        gate = ToolGate(self.pool, None, lambda: self.served, clock=self.clock)

        class Lister:
            def call(self, method: str, params: Any = None) -> Deferred[dict[str, Any]]:
                return fail(RuntimeError("no child"))

        waiter = gate.listedFirst(Lister(), jsonrpc.request(1, "tools/call", {"name": "x"}))
        assert waiter is not None
        self.successResultOf(waiter)
        self.flushLoggedErrors(RuntimeError)
        failure = gate.listed["tools/list"].failure
        assert failure is not None
        self.assertEqual(failure.why, "listing its tools/list failed (no child)")


class LaptopTests(Case):
    """A gateway that decides no name never lists first and forwards what
    no whole listing refused, whatever a client's listing did."""

    def setUp(self) -> None:
        super().setUp()
        self.pool.namesDecided = False

    def test_a_call_goes_as_sent(self) -> None:
        self.call("SECRET_TOOL")
        listing = self.router.request(self.session, jsonrpc.request(3, "tools/list", {}), None)
        self.answer(self.listings()[-1], error={"code": -32603, "message": "down"})
        self.successResultOf(listing)
        self.call("SECRET_TOOL")
        self.assertEqual(self.forwarded(), ["SECRET_TOOL", "SECRET_TOOL"])
        self.assertEqual(len(self.listings()), 1)  # the client's


class CapabilityTests(Case):
    """What the child's C{initialize} answer does not declare is refused."""

    served: Any = {"tools": {}}

    def test_a_prompt_of_a_server_without_prompts(self) -> None:
        error = self.refusal(self.call("SECRET", "prompts/get"))
        self.assertEqual(
            error,
            {
                "code": jsonrpc.METHOD_NOT_FOUND,
                "message": "Method not found: prompts/get (server 'fs' does not declare the"
                " prompts capability)",
            },
        )
        self.assertEqual(self.sent, [])  # not listed either

    def test_on_a_laptop_too(self) -> None:
        self.pool.namesDecided = False
        self.assertEqual(self.refusal(self.call("x", "prompts/get"))["code"], -32601)

    def test_resources_of_a_server_without_resources(self) -> None:
        for method in ("resources/read", "resources/subscribe"):
            request = jsonrpc.request(4, method, {"uri": "file:///etc/passwd"})
            answer = self.router.request(self.session, request, None)
            self.assertIn(
                "does not declare the resources capability", self.refusal(answer)["message"]
            )
        self.assertEqual(self.sent, [])

    def test_a_tool_of_a_server_without_tools(self) -> None:
        self.served = {"prompts": {}}
        error = self.refusal(self.call("echo"))
        self.assertEqual(
            error["message"],
            "Method not found: tools/call (server 'fs' does not declare the tools capability)",
        )
        self.assertEqual(self.sent, [])

    def test_what_it_declares_goes(self) -> None:
        self.served = {"tools": {}, "prompts": {}, "resources": {"subscribe": False}}
        self.call("hello", "prompts/get")
        self.answer(self.listings("prompts/list")[-1], result={"prompts": [{"name": "hello"}]})
        self.router.request(
            self.session, jsonrpc.request(4, "resources/read", {"uri": "file:///a"}), None
        )
        self.assertEqual(
            [m["method"] for m in self.sent],
            ["prompts/list", "prompts/get", "resources/read"],
        )

    def test_capabilities_not_known_are_not_refused(self) -> None:
        self.served = None
        self.router.request(
            self.session, jsonrpc.request(4, "resources/read", {"uri": "file:///a"}), None
        )
        self.assertEqual([m["method"] for m in self.sent], ["resources/read"])


names = st.text(st.sampled_from("aAbB_\u200b"), min_size=1, max_size=4)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
tools = st.lists(st.fixed_dictionaries({"name": names}) | values, max_size=4)
answers = st.one_of(
    st.fixed_dictionaries({"result": st.fixed_dictionaries({"tools": tools})}),
    st.fixed_dictionaries({"result": values}),
    st.fixed_dictionaries({"error": values}),
    st.fixed_dictionaries(
        {"error": st.fixed_dictionaries({"code": st.integers(), "message": st.text()})}
    ),
)


@settings(max_examples=300, deadline=None)
@given(answer=answers, name=names)
def test_whatever_the_listing_answers_only_a_listed_name_reaches_the_child(
    answer: dict[str, Any], name: str
) -> None:
    """A call waits for the gate's listing, which the child answers with
    anything: the call reaches the child only with a name it listed, and
    is answered either way (an answer the router cannot read is none: the
    listing times out)."""
    case = Case()
    case.setUp()
    called = case.call(name)
    case.answer(case.listings()[-1], **answer)
    case.clock.advance(TIMEOUT)
    result = answer.get("result")
    items = result.get("tools") if isinstance(result, dict) else None
    listed = {
        tool["name"]
        for tool in (items if isinstance(items, list) else [])
        if isinstance(tool, dict) and isinstance(tool.get("name"), str)
    }
    assert set(case.forwarded()) <= listed & {name}
    assert called.called
