"""The aggregate endpoint C{/mcp} as a new user met it:
servers still installing or failing when a client connects, re-probed in
the background and announced; a call to a tool of a server not listed yet
told so; a failing server explained without its stderr; cursors, modes and
protocol versions refused the way the docs say. A real Site, fake
children on a fake clock."""

from __future__ import annotations

import itertools
import sys
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.gateway.catalogprobe import PROBE_BACKOFF
from mcpgateway.core.spec import ServerSpec
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.http import Harness, Response
from tests.support.web.aggregate_web import VERSION, initialize, messagesOf

SECRET = "sk-live-LEAKME123"


def spec(name: str, executable: str | None = sys.executable, command: str = "fake") -> ServerSpec:
    return ServerSpec(
        name=name,
        command=command,
        args=(f"--name={name}",),
        mode="stateless",
        requestTimeout=60.0,
        executable=executable,
    )


class SleepyChildren(Children):
    """L{Children} whose servers named in C{asleep} do not answer yet (still
    installing): what was written to them is answered once they wake."""

    def __init__(self, reactor: Any, servers: dict[str, FakeServer]) -> None:
        super().__init__(reactor, servers)
        self.asleep: set[str] = set()

    def pump(self) -> None:
        processes = self.reactor.processes
        try:
            self.reactor.processes = [p for p in processes if self.serverOf(p) not in self.asleep]
            super().pump()
        finally:
            self.reactor.processes = processes


class Smoke:
    """A gateway whose children answer only when the test pumps them (a
    server "still installing" is one not pumped yet)."""

    def __init__(self, specs: dict[str, ServerSpec], servers: dict[str, FakeServer]) -> None:
        self.harness = Harness(specs)
        self.harness.gateway.start()
        self.children = SleepyChildren(self.harness.reactor, servers)
        self.reactor = self.harness.reactor

    @property
    def gateway(self) -> Any:
        return self.harness.gateway

    def initialize(self, path: str = "/mcp") -> Response:
        return self.harness.request("POST", path, initialize({"sampling": {}}))

    def post(self, session: str, message: dict[str, Any], **headers: str) -> Response:
        return self.harness.request(
            "POST",
            "/mcp",
            message,
            session=session,
            headers={"mcp-protocol-version": VERSION, **headers},
        )

    def call(
        self, session: str, method: str, params: dict[str, Any], requestId: int = 7
    ) -> dict[str, Any]:
        response = self.post(
            session, {"jsonrpc": "2.0", "id": requestId, "method": method, "params": params}
        )
        self.children.pump()
        answers = [m for m in messagesOf(response) if m.get("id") == requestId]
        assert answers, response.body
        return answers[-1]

    def stream(self, session: str) -> Response:
        return self.harness.request(
            "GET",
            "/mcp",
            session=session,
            accept="text/event-stream",
            headers={"mcp-protocol-version": VERSION},
        )

    def processesOf(self, name: str) -> list[Any]:
        return [p for p in self.reactor.processes if f"--name={name}" in p.args]


def told(stream: Response) -> int:
    return sum(
        1 for e in messagesOf(stream) if e.get("method") == "notifications/tools/list_changed"
    )


def toolNames(answer: dict[str, Any]) -> list[str]:
    return [t["name"] for t in answer["result"]["tools"]]


class StillInstallingTests(SynchronousTestCase):
    """Item 3: a server whose child is not ready within the probe's 10 s
    (npx still installing) on a fresh state directory."""

    def setUp(self) -> None:
        self.smoke = Smoke(
            {"quick": spec("quick"), "slow": spec("slow")},
            {"quick": FakeServer(tools=[tool("echo")]), "slow": FakeServer(tools=[tool("work")])},
        )

    def opened(self) -> tuple[str, dict[str, Any]]:
        """initialize on /mcp while "slow" is still installing: answered
        after the 10 s the docs give the first probes, without it."""
        smoke = self.smoke
        smoke.children.asleep.add("slow")  # only "quick" answers (yet)
        response = smoke.initialize()
        smoke.children.pump()
        self.assertFalse(response.complete)
        smoke.reactor.advance(10)
        self.assertEqual(response.status, 200)
        return response.headers["mcp-session-id"], response.json()["result"]

    def test_initialize_waits_the_documented_10_s_and_says_who_is_starting(self) -> None:
        session, result = self.opened()
        self.assertIn("quick (1)", result["instructions"])
        self.assertIn("Left out for now: slow is still starting", result["instructions"])
        self.assertEqual(toolNames(self.smoke.call(session, "tools/list", {})), ["quick__echo"])

    def test_a_call_to_a_server_still_starting_says_so(self) -> None:
        session, _ = self.opened()
        # Answered at once (the child is not pumped): not "Unknown tool".
        response = self.smoke.post(
            session,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "slow__work", "arguments": {}},
            },
        )
        error = messagesOf(response)[-1]["error"]
        self.assertEqual(error["code"], -32000)
        self.assertIn("server 'slow' is still starting", error["message"])
        self.assertNotIn("Unknown tool", error["message"])
        # A name no server could own is still an unknown tool.
        answer = self.smoke.call(session, "tools/call", {"name": "nobody__x"}, requestId=4)
        self.assertEqual(answer["error"]["code"], -32602)
        self.assertIn("Unknown tool", answer["error"]["message"])

    def test_the_late_server_arrives_with_list_changed_without_another_client(self) -> None:
        session, _ = self.opened()
        stream = self.smoke.stream(session)
        self.smoke.reactor.advance(5)  # it finishes installing later
        self.smoke.children.asleep.clear()
        self.smoke.children.pump()
        self.smoke.reactor.advance(1)
        self.assertEqual(told(stream), 1)
        listed = self.smoke.call(session, "tools/list", {}, requestId=9)
        self.assertEqual(toolNames(listed), ["quick__echo", "slow__work"])
        answer = self.smoke.call(session, "tools/call", {"name": "slow__work"}, requestId=10)
        self.assertEqual(answer["result"]["content"][0]["text"], "slow:work:None")
        self.assertIsNone(self.smoke.gateway.catalogs.status()["slow"]["error"])


class FailedProbeTests(SynchronousTestCase):
    """Item 3 (re-probe) and item 9 (the reason shown, never stderr)."""

    def setUp(self) -> None:
        self.smoke = Smoke(
            {"quick": spec("quick"), "crashy": spec("crashy")},
            {"quick": FakeServer(tools=[tool("echo")]), "crashy": FakeServer(tools=[tool("boom")])},
        )

    def crash(self) -> None:
        """Every running "crashy" child writes a secret to stderr and exits 3."""
        for proc in self.smoke.processesOf("crashy"):
            if not proc.ended:
                proc.stderr(f"fatal: token={SECRET}\n".encode())
                proc.exit(3)

    def opened(self) -> tuple[str, dict[str, Any]]:
        smoke = self.smoke
        response = smoke.initialize()
        self.crash()
        smoke.children.pump()
        smoke.reactor.advance(0)
        self.assertEqual(response.status, 200, response.body)
        return response.headers["mcp-session-id"], response.json()["result"]

    def test_the_failure_is_explained_without_stderr(self) -> None:
        _, result = self.opened()
        text = result["instructions"]
        self.assertIn("Left out for now: crashy is not available (", text)
        self.assertIn("exited with code 3", text)
        self.assertIn("probed again in the background", text)
        self.assertNotIn(SECRET, text)
        self.assertNotIn("crashy (0)", text)

    def test_it_is_probed_again_in_the_background_and_announced(self) -> None:
        session, _ = self.opened()
        stream = self.smoke.stream(session)
        spawned = len(self.smoke.processesOf("crashy"))
        # Nothing before the backoff (no storm) ...
        self.smoke.reactor.advance(PROBE_BACKOFF - 5)
        self.assertEqual(len(self.smoke.processesOf("crashy")), spawned)
        # ... then one probe, on the gateway's own clock (no client asked).
        self.smoke.reactor.advance(5 + 1)
        self.assertEqual(len(self.smoke.processesOf("crashy")), spawned + 1)
        self.smoke.children.pump()  # this time it starts
        self.smoke.reactor.advance(1)
        self.assertEqual(told(stream), 1)
        listed = self.smoke.call(session, "tools/list", {}, requestId=9)
        self.assertEqual(toolNames(listed), ["crashy__boom", "quick__echo"])

    def test_the_backoff_grows_and_one_probe_serves_every_session(self) -> None:
        self.opened()
        self.opened()  # a second session: still one probe per retry
        spawns: list[float] = []
        seen = len(self.smoke.processesOf("crashy"))
        for _ in range(1000):
            self.smoke.reactor.advance(1)
            now = len(self.smoke.processesOf("crashy"))
            spawns += [self.smoke.reactor.seconds()] * (now - seen)
            seen = now
            self.crash()
        gaps = [round(b - a) for a, b in itertools.pairwise(spawns)]
        # 60 s after the first failure, then 120, 240, 480 (to at most 900):
        # one probe at a time whatever the number of sessions.
        self.assertEqual(len(spawns), 4, spawns)
        for gap, wanted in zip(gaps, (120, 240, 480), strict=True):
            self.assertAlmostEqual(gap, wanted, delta=2)
        self.assertAlmostEqual(spawns[0], PROBE_BACKOFF, delta=2)
        self.assertEqual(self.smoke.gateway.aggregateSide.aggregator.reprobes, 4)

    def test_a_removed_server_is_not_probed_again(self) -> None:
        self.opened()
        self.assertTrue(any("_reprobe" in repr(c) for c in self.smoke.reactor.getDelayedCalls()))
        specs = {"quick": self.smoke.gateway.pools["quick"].spec}
        self.smoke.gateway.reconfigurer.reconfigure(specs)
        self.smoke.reactor.advance(1)
        spawned = len(self.smoke.processesOf("crashy"))
        self.smoke.reactor.advance(PROBE_BACKOFF * 30)
        self.assertEqual(len(self.smoke.processesOf("crashy")), spawned)
        pending = [
            call for call in self.smoke.reactor.getDelayedCalls() if "_reprobe" in repr(call)
        ]
        self.assertEqual(pending, [])

    def test_a_closed_session_stops_the_re_probing(self) -> None:
        session, _ = self.opened()
        self.smoke.harness.request(
            "DELETE", "/mcp", session=session, headers={"mcp-protocol-version": VERSION}
        )
        spawned = len(self.smoke.processesOf("crashy"))
        self.smoke.reactor.advance(PROBE_BACKOFF * 30)
        self.assertEqual(len(self.smoke.processesOf("crashy")), spawned)


class CommandNotFoundTests(SynchronousTestCase):
    """Item 9: "bogus": {"command": "/nonexistent/bogus-mcp"}."""

    def setUp(self) -> None:
        self.smoke = Smoke(
            {
                "bogus": spec("bogus", executable=None, command="/nonexistent/bogus-mcp"),
                "quick": spec("quick"),
            },
            {"quick": FakeServer(tools=[tool("echo")])},
        )

    def test_instructions_and_search_say_why(self) -> None:
        smoke = self.smoke
        response = smoke.initialize("/mcp?mode=search")
        smoke.children.pump()
        result = response.json()["result"]
        self.assertIn("1 MCP server with 1 tools", result["instructions"])
        self.assertIn(
            "Left out for now: bogus is not available (server 'bogus' cannot start: command"
            " '/nonexistent/bogus-mcp' was not found)",
            result["instructions"],
        )
        session = response.headers["mcp-session-id"]
        answer = smoke.call(
            session, "tools/call", {"name": "search", "arguments": {"query": "", "server": "bogus"}}
        )
        found = answer["result"]["structuredContent"]
        self.assertEqual(found["results"], [])
        self.assertIn("bogus is not available (", found["unavailable"]["bogus"])
        # describe/invoke of one of its tools say the same, not "no tool named".
        described = smoke.call(
            session,
            "tools/call",
            {"name": "describe", "arguments": {"name": "bogus__anything"}},
            requestId=8,
        )
        self.assertTrue(described["result"]["isError"])
        self.assertIn("server 'bogus' is not available", described["result"]["content"][0]["text"])


class CursorTests(SynchronousTestCase):
    """Item 12: MCP pagination: an invalid cursor is -32602."""

    def test_a_cursor_this_endpoint_never_gave_is_invalid_params(self) -> None:
        smoke = Smoke({"quick": spec("quick")}, {"quick": FakeServer(tools=[tool("echo")])})
        response = smoke.initialize()
        smoke.children.pump()
        session = response.headers["mcp-session-id"]
        for n, (method, cursor) in enumerate(
            [
                ("tools/list", 123),
                ("tools/list", "garbage"),
                ("prompts/list", "x"),
                ("resources/list", ""),
                ("resources/templates/list", {"a": 1}),
            ]
        ):
            answer = smoke.call(session, method, {"cursor": cursor}, requestId=20 + n)
            self.assertEqual(answer["error"]["code"], -32602, (method, cursor))
            self.assertIn("invalid cursor", answer["error"]["message"])
        # No cursor (or null) is the whole list.
        self.assertEqual(
            toolNames(smoke.call(session, "tools/list", {"cursor": None})), ["quick__echo"]
        )


class ModeAndVersionTests(SynchronousTestCase):
    """Item 13 (?mode=) and the /mcp half of item 4 (MCP-Protocol-Version:
    the refusal itself is web/endpoints/mcp.py's, shared with C{/<server>/mcp})."""

    def setUp(self) -> None:
        self.smoke = Smoke({"quick": spec("quick")}, {"quick": FakeServer(tools=[tool("echo")])})

    def test_an_unknown_mode_is_refused_naming_the_modes(self) -> None:
        response = self.smoke.initialize("/mcp?mode=bogus")
        self.assertEqual(response.status, 400)
        error = response.json()["error"]
        self.assertEqual(error["code"], -32600)
        self.assertIn("'bogus'", error["message"])
        self.assertIn("full, search", error["message"])
        self.assertEqual(response.json()["id"], 1)
        self.assertEqual(self.smoke.gateway.aggregateSide.aggregator.sessions, set())
        # The valid ones still work.
        for mode in ("full", "search"):
            opened = self.smoke.initialize(f"/mcp?mode={mode}")
            self.smoke.children.pump()
            self.assertEqual(opened.status, 200)

    def test_an_unusable_protocol_version_on_a_session_is_400(self) -> None:
        response = self.smoke.initialize()
        self.smoke.children.pump()
        session = response.headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
        for version in ("garbage", "1999-01-01"):
            refused = self.smoke.post(session, ping, **{"mcp-protocol-version": version})
            self.assertEqual(refused.status, 400, (version, refused.body))
            body = refused.json()
            self.assertEqual(body["error"]["code"], -32600)
            self.assertIn("unsupported MCP-Protocol-Version", body["error"]["message"])
            self.assertEqual(body["id"], 5)
        # The session lives on.
        self.assertEqual(self.smoke.post(session, ping).json()["result"], {})

    def test_a_sessionless_era2026_probe_is_checked_in_either_mode(self) -> None:
        """Search mode serves 2026-07-28 as the full mode does: the same
        probe (no envelope) is checked as a 2026-07-28 request there too
        (400), never the fallback 404."""
        probe = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
        for path in ("/mcp/search", "/mcp?mode=search", "/mcp"):
            response = self.smoke.harness.request(
                "POST", path, probe, headers={"mcp-protocol-version": "2026-07-28"}
            )
            self.assertEqual(response.status, 400, path)
            self.assertEqual(response.json()["error"]["code"], -32602, path)


class PublicReasonTests(SynchronousTestCase):
    def test_stderr_and_installer_output_are_left_out(self) -> None:
        self.assertEqual(
            publicReason(f"initialize failed: child exited with code 3; last stderr: {SECRET}"),
            "initialize failed: child exited with code 3",
        )
        self.assertEqual(
            publicReason(
                "cannot resolve npx x (npm install failed (exit code 217): ENOTEMPTY /home/u/.npm"
            ),
            "cannot resolve npx x (npm install failed (exit code 217))",
        )
        # A circuit's reason quotes the last failure in parentheses: what is
        # cut must not leave them open.
        self.assertEqual(
            publicReason(
                "server 'crash' is failing: 5 failure(s) to start or stay up in the last"
                f" 5 minutes (last: exited with code 3; last stderr: {SECRET});"
                " the gateway tries again in 60 s"
            ),
            "server 'crash' is failing: 5 failure(s) to start or stay up in the last"
            " 5 minutes (last: exited with code 3)",
        )
        self.assertEqual(len(publicReason("x" * 1000)), 200)
        self.assertEqual(publicReason("a\nb\tc"), "a b c")
