"""What the sandbox likely refused a confined child's tool calls, read off
their error results: only an error answer of a confined child is read (an
ordinary answer never is), and only its first few KB; each refusal is kept
on the server's record (its /health line, the console's page data) and
logged once per server and path; a file not found outside the home is
told only once a look on this machine (off the reactor) finds it there.
Fake children, a fake clock, no reactor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core import refusals
from mcpgateway.core.fanout import OwnerFanout, SharedFanout
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.refusals import LIKELY, SCAN_LIMIT, RefusalCheck, errorText, looksRefused
from mcpgateway.core.router import Router
from mcpgateway.core.spawn import ConfinedChild
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.stats import MAX_REFUSALS, RequestStats
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.report.health import healthBody
from mcpgateway.sandbox.failures import explain
from mcpgateway.web.app import makeSite
from mcpgateway.web.pages.statuspage import pageData
from tests.fakes import FakeProcessReactor, FakeSession, capturedGatewayLogs, fakeSpawner
from tests.http import Harness, spec

Message = dict[str, Any]
HOME = "/home/u"
EROFS = "OSError: [Errno 30] Read-only file system: '/srv/data/out.txt'"
TOLD = (
    LIKELY + 'the sandbox denied writing /srv/data/out.txt: allow it with "sandbox":'
    ' {"filesystem": {"allowWrite": ["/srv/data/out.txt"]}}'
)


class Confiner:
    """Confines every server but C{free}, reading lines as the gateway's
    sandbox does (no network, home C{/home/u})."""

    def command(
        self, spec: ServerSpec, argv: list[str], environ: Mapping[str, str]
    ) -> list[str] | None:
        return None if spec.name == "free" else ["/py", "launch.py", "{}", "--", *argv]

    def explain(self, spec: ServerSpec, line: str, environ: Mapping[str, str]) -> str | None:
        return explain(line, "none", HOME, "/home/u/.mcpgateway")

    def spawned(self, spec: ServerSpec, ended: Deferred[None], pid: int | None = None) -> None:
        pass


def errorResult(text: str) -> Message:
    return {"content": [{"type": "text", "text": text}], "isError": True}


# -- what is read -----------------------------------------------------------------------


def test_only_an_error_looks_refused() -> None:
    assert looksRefused({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}})
    assert looksRefused({"id": 1, "result": errorResult("x")})
    assert not looksRefused({"id": 1, "result": {"content": [{"type": "text", "text": EROFS}]}})
    assert not looksRefused({"id": 1, "result": {"isError": "true"}})
    assert not looksRefused({"id": 1, "result": None})


def test_the_text_read_is_bounded_and_cut_before_it_is_joined() -> None:
    huge = "x" * 10_000_000
    text = errorText({"result": {"content": [{"type": "text", "text": huge}] * 1000}})
    assert len(text) <= SCAN_LIMIT + refusals.MAX_CONTENT
    error = {"error": {"code": 1, "message": "m " + EROFS, "data": EROFS}}
    assert errorText(error) == f"m {EROFS}\n{EROFS}"
    mixed = {"result": {"content": [{"type": "image", "data": "AAAA"}, {"type": "text"}, 3]}}
    assert errorText(mixed) == ""


def test_a_check_reads_each_line_and_records_the_path_with_its_fix() -> None:
    found: list[tuple[str, str]] = []
    check = RefusalCheck("srv", lambda line: explain(line, "none", HOME, ""), HOME, _add(found))
    check("tools/call", {"result": errorResult(f"writing failed\n{EROFS}\nnothing")})
    assert found == [("/srv/data/out.txt", TOLD)]


def test_a_file_not_found_outside_the_home_is_told_only_when_it_is_here() -> None:
    found: list[tuple[str, str]] = []
    looked: list[tuple[str, bool]] = []

    def here(path: str, writes: bool) -> str | None:
        looked.append((path, writes))
        return "/tmp/t" if path.startswith("/tmp/t/") else None

    check = RefusalCheck(
        "srv", lambda line: None, HOME, _add(found), runInThread=_inline, found=here
    )
    missing = "cannot write: [Errno 2] No such file or directory: '{}'"
    for path in ("/tmp/t/out.txt", "/srv/nowhere.txt", "/tmp/t/out.txt"):
        check("tools/call", {"result": errorResult(missing.format(path))})
    assert looked == [("/tmp/t/out.txt", True), ("/srv/nowhere.txt", True)]  # once each
    assert found == [
        (
            "/tmp/t/out.txt",
            LIKELY + "/tmp/t, where it would make /tmp/t/out.txt, exists on this machine but"
            ' not in the sandbox: allow it with "sandbox": {"filesystem": {"allowWrite":'
            ' ["/tmp/t"]}}',
        )
    ]


def test_without_a_thread_to_look_in_a_file_not_found_is_not_told() -> None:
    found: list[tuple[str, str]] = []
    check = RefusalCheck("srv", lambda line: None, HOME, _add(found))
    check("tools/call", {"result": errorResult("[Errno 2] No such file or directory: '/srv/x'")})
    assert found == []


def test_the_real_look_finds_the_file_or_its_directory(tmp: Any = None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        assert refusals._found(folder, False) == folder
        assert refusals._found(folder + "/new.txt", True) == folder
        assert refusals._found(folder + "/new.txt", False) is None
        assert refusals._found(folder + "/no/new.txt", True) is None


def _add(into: list[tuple[str, str]]) -> Callable[[str, str], None]:
    return lambda key, note: into.append((key, note))


def _inline(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    return succeed(f(*args))


# -- the router's hook: off the hot path ----------------------------------------------


class Counting(RefusalCheck):
    """The real check, counting the answers it reads (C{explain} raises
    with C{fails})."""

    def __init__(self, fails: bool = False) -> None:
        super().__init__("srv", self.explainLine, HOME, lambda key, note: None)
        self.handed: list[Message] = []
        self.fails = fails

    def explainLine(self, line: str) -> str | None:
        if self.fails:
            raise RuntimeError("broken check")
        return None

    def _read(self, message: Message) -> None:
        self.handed.append(message)
        super()._read(message)


class RouterHookTests(SynchronousTestCase):
    def setUp(self) -> None:
        from twisted.internet.task import Clock

        self.session = FakeSession("a")
        # A child of one session: its tasks/result goes to the child as it is.
        self.router = Router("srv", Clock(), 10.0, OwnerFanout(self.session))
        self.sent: list[Message] = []
        self.router.attachChild(self.sent.append)
        self.router.attach(self.session)
        self.check = Counting()
        self.router.resultCheck = self.check

    def answer(self, method: str, response: Message) -> Message:
        d = self.router.request(self.session, jsonrpc.request(7, method, {"name": "t"}), None)
        childId = self.sent[-1]["id"]
        self.router.childMessage({"jsonrpc": "2.0", "id": childId, **response})
        answered: Message = self.successResultOf(d)
        return answered

    def test_an_ordinary_tool_result_is_never_handed_to_the_check(self) -> None:
        """Measured: a normal tools/call of a confined child is not scanned
        (its text, even one that reads like a refusal, is not looked at)."""
        ordinary = {"content": [{"type": "text", "text": EROFS}]}
        for _ in range(100):
            self.answer("tools/call", {"result": ordinary})
        self.assertEqual(self.check.handed, [])

    def test_an_error_result_of_a_tool_or_a_task_is_handed_over_once(self) -> None:
        self.answer("tools/call", {"result": errorResult(EROFS)})
        self.answer("tasks/result", {"result": errorResult(EROFS)})
        self.answer("tools/call", {"error": {"code": -32603, "message": EROFS}})
        self.assertEqual(len(self.check.handed), 3)

    def test_other_methods_are_not_handed_over(self) -> None:
        self.answer("resources/read", {"error": {"code": -32603, "message": EROFS}})
        self.answer("prompts/get", {"result": errorResult(EROFS)})
        self.assertEqual(self.check.handed, [])

    def test_an_unconfined_child_has_no_check(self) -> None:
        self.router.resultCheck = None
        answered = self.answer("tools/call", {"result": errorResult(EROFS)})
        self.assertEqual(answered["result"], errorResult(EROFS))

    def test_a_broken_check_never_keeps_the_answer_from_its_client(self) -> None:
        self.router.resultCheck = Counting(fails=True)
        with capturedGatewayLogs() as events:
            answered = self.answer("tools/call", {"result": errorResult(EROFS)})
        self.assertEqual((answered["id"], answered["result"]), (7, errorResult(EROFS)))
        self.assertTrue(any(e.get("log_failure") for e in events))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


# -- through a confined child: the record, the log, the status ----------------------------


class ConfinedChildTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.spawner = fakeSpawner(
            self.reactor, environ={"HOME": HOME}, confiner=Confiner(), runInThread=_inline
        )

    def upstream(self, name: str = "srv") -> Upstream:
        up = Upstream(spec(name), self.spawner, SharedFanout())
        d = up.ensure()
        proc = self.reactor.lastProcess
        [init] = [m for m in proc.sentMessages() if m.get("method") == "initialize"]
        proc.reply(
            {"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-11-25"}}
        )
        self.successResultOf(d)
        return up

    def call(self, up: Upstream, response: Message) -> Message:
        session = FakeSession("a")
        up.router.attach(session)
        d = up.router.request(session, jsonrpc.request(3, "tools/call", {"name": "w"}), None)
        proc = self.reactor.lastProcess
        sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
        proc.reply({"jsonrpc": "2.0", "id": sent["id"], **response})
        answered: Message = self.successResultOf(d)
        return answered

    def test_a_refusal_in_a_tool_result_is_recorded_and_logged_once_per_path(self) -> None:
        up = self.upstream()
        with capturedGatewayLogs() as events:
            for _ in range(3):
                answered = self.call(up, {"result": errorResult(EROFS)})
                self.assertEqual(answered["result"], errorResult(EROFS))  # as the child said
        warned = [e["note"] for e in events if e.get("log_level") == LogLevel.warn]
        self.assertEqual(warned, [TOLD])
        self.assertEqual(list(up.router.stats.sandboxRefusals.values()), [TOLD])
        self.assertEqual([e["text"] for e in up.events.recent() if e["kind"] == "sandbox"], [TOLD])

    def test_a_path_the_one_rule_kept_from_it_is_on_its_record_not_its_end(self) -> None:
        up = self.upstream()
        line = (
            "env DATA_DIR: /home/u/.config not shown writable: too wide: it holds the home,"
            " or many programs' data; name a folder of the server's own instead"
        )
        with capturedGatewayLogs() as events:
            for _ in range(2):  # each start says it again: told once
                self.reactor.lastProcess.stderr(f"mcpgateway sandbox: not shown: {line}\n".encode())
        told = "the sandbox kept a path its entry names from it: " + line
        self.assertEqual(up.router.stats.sandboxRefusals, {"env DATA_DIR: /home/u/.config": told})
        warned = [e["note"] for e in events if e.get("log_level") == LogLevel.warn]
        self.assertEqual(warned, [told])
        child = up.child
        assert isinstance(child, ConfinedChild)
        self.assertEqual(child.sandboxNotes, [])  # it runs without the path: no cause of its end

    def test_the_fetch_servers_refused_network_is_told_with_the_line_that_allows_it(
        self,
    ) -> None:
        up = self.upstream()
        said = (
            "Failed to fetch robots.txt https://docs.python.org/robots.txt due to a"
            " connection issue"
        )
        self.call(up, {"error": {"code": -32603, "message": said}})
        [told] = up.router.stats.sandboxRefusals.values()
        self.assertIn('"allowedDomains": ["docs.python.org"]', told)

    def test_a_json_rpc_error_is_read_too(self) -> None:
        up = self.upstream()
        self.call(up, {"error": {"code": -32603, "message": "Error: " + EROFS}})
        self.assertEqual(list(up.router.stats.sandboxRefusals.values()), [TOLD])

    def test_an_unconfined_childs_results_are_never_read(self) -> None:
        up = self.upstream("free")
        self.assertIsNone(up.router.resultCheck)
        self.call(up, {"result": errorResult(EROFS)})
        self.assertEqual(up.router.stats.sandboxRefusals, {})

    def test_a_confined_childs_ordinary_results_are_never_scanned(self) -> None:
        up = self.upstream()
        check = up.router.resultCheck
        assert isinstance(check, RefusalCheck)
        for _ in range(50):
            self.call(up, {"result": {"content": [{"type": "text", "text": EROFS}]}})
        self.assertEqual(check.scans, 0)
        self.call(up, {"result": errorResult(EROFS)})
        self.assertEqual(check.scans, 1)


def test_the_record_keeps_the_first_few_and_tells_each_path_once() -> None:
    stats = RequestStats()
    told = [stats.refused(f"/p{i}", f"note {i}") for i in range(MAX_REFUSALS + 3)]
    assert all(told) and not stats.refused("/p0", "note 0")
    assert list(stats.sandboxRefusals) == [f"/p{i}" for i in range(MAX_REFUSALS)]


def test_health_and_the_console_show_the_refusals_of_a_confined_server() -> None:
    """End to end through the real Site: a session's tools/call answered
    with EROFS shows in /health (with detail only) and in the console's data."""
    h = Harness()
    h.reactor = FakeProcessReactor()
    spawner = fakeSpawner(h.reactor, environ={"HOME": HOME}, confiner=Confiner())
    h.gateway = Gateway({"srv": spec("srv")}, spawner)
    h.site = makeSite(h.gateway, h.reactor)
    session = h.initialize()
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "w"}},
        session=session,
        headers={"mcp-protocol-version": "2025-11-25"},
    )
    proc = h.process()
    sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": errorResult(EROFS)})
    assert response.status == 200
    status = h.gateway.readModel.status()
    assert healthBody(status)["servers"]["srv"]["sandboxRefusals"] == [TOLD]
    assert "sandboxRefusals" not in healthBody(status, detail=False)["servers"]["srv"]
    [server] = pageData(status)["servers"]
    assert server["sandboxRefusals"] == [TOLD]
