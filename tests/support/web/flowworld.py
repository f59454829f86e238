"""A gateway of three servers under the flow rule, for the tests of the
paths of a C{tools/call} (L{World}): a web reader (C{untrusted}), a file
reader (C{private}) and a poster (C{egress}), driven through the real
C{Site} with fake children and a fake clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mcpgateway.core.tasks.manager import TaskManager, TaskTerms
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.labels import parseEntryLabels
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import DENIAL_KEY, FlowStep
from mcpgateway.governance.flowpolicy import wireFlowPolicy
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import Policy
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcess, FakeProcessReactor
from tests.http import Harness, Response, initializeMessage, spec

SERVERS = {
    "web": ["untrusted"],
    "files": ["private"],
    "post": ["egress"],
}


class World:
    """A gateway serving a web reader, a file reader and a poster, with
    the flow step on."""

    def __init__(
        self, settings: FlowSettings | None = None, tasks: bool = False, policy: str | None = None
    ) -> None:
        """
        @param tasks: whether the gateway serves tasks (as the README's
            command does: L{tasks} then, turning a call into a task after
            half a second).
        @param policy: a Cedar policy's text, as C{--policy} gives one
            (L{gate} then: its gate, the flow step asking it again).
        """
        specs = {
            name: replace(spec(name), labels=parseEntryLabels(labels))
            for name, labels in SERVERS.items()
        }
        reactor = FakeProcessReactor()
        self.tasks = (
            TaskManager(TaskStore(None, now=reactor.seconds), reactor, TaskTerms(after=0.5))
            if tasks
            else None
        )
        team = None
        self.gate: PolicyGate | None = None
        if policy is not None:
            parsed = Policy(policy)
            self.gate = PolicyGate(lambda: parsed, reactor)
            team = TeamServices()
            team.requestPolicy = self.gate
        self.h = Harness(specs, reactor=reactor, tasks=self.tasks, team=team)
        self.store = HeldCalls(self.h.reactor)
        self.step = FlowStep(self.h.reactor, lambda: self.store)
        self.step.use(specs, settings or FlowSettings(), self.h.gateway.catalogs)
        if self.gate is not None:
            wireFlowPolicy(self.gate, self.step)
        self.h.gateway.flow = self.step
        self.procs: dict[str, FakeProcess] = {}
        self.ids = iter(range(100, 10_000))
        self._listed: set[tuple[str, Any]] = set()

    def open(self, server: str, pid: int = 4242, capabilities: Any = None) -> str:
        """A session of client process C{pid} on C{server}, whose child (if
        it starts now) declares C{capabilities} (tools, unless given)."""
        response = self.h.request(
            "POST",
            f"/{server}/mcp",
            initializeMessage(clientInfo={"name": "agent", "version": "1"}),
            headers={"x-client-pid": str(pid)},
        )
        if server not in self.procs:
            self.procs[server] = self.h.process()
        if not response.complete:
            self.h.answerHandshake(capabilities=capabilities)
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]

    def post(
        self, server: str, session: str, tool: str, arguments: Any = None, meta: Any = None
    ) -> Response:
        """A C{tools/call}, not answered by the child yet."""
        params: dict[str, Any] = {"name": tool, "arguments": arguments or {}}
        if meta is not None:
            params["_meta"] = meta
        message = {"jsonrpc": "2.0", "id": next(self.ids), "method": "tools/call"}
        return self.h.request(
            "POST", f"/{server}/mcp", {**message, "params": params}, session=session
        )

    def listTools(self, server: str) -> None:
        """C{server}'s child answers each C{tools/list} the gateway sent it
        (what it learns a tool's task support from) not answered yet."""
        proc = self.procs[server]
        for sent in [m for m in proc.sentMessages() if m.get("method") == "tools/list"]:
            if (server, sent["id"]) not in self._listed:
                self._listed.add((server, sent["id"]))
                tools = [{"name": "send", "inputSchema": {"type": "object"}}]
                proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"tools": tools}})

    def forwarded(self, server: str) -> list[dict[str, Any]]:
        proc = self.procs[server]
        return [m for m in proc.sentMessages() if m.get("method") == "tools/call"]

    def answer(self, server: str, text: str = "done") -> None:
        """The child answers its last call."""
        sent = self.forwarded(server)[-1]
        self.procs[server].reply(
            {
                "jsonrpc": "2.0",
                "id": sent["id"],
                "result": {"content": [{"type": "text", "text": text}]},
            }
        )

    def call(self, server: str, session: str, tool: str, arguments: Any = None) -> Any:
        """A call the child answers at once: its answer."""
        response = self.post(server, session, tool, arguments)
        self.answer(server)
        assert response.complete
        return response.json()

    def trifecta(self, pid: int = 4242, capabilities: Any = None) -> str:
        """Client C{pid} reads the web and a file (each in a session of its
        own), then opens a session on the poster (whose child declares
        C{capabilities}): its id."""
        self.call("web", self.open("web", pid), "read")
        self.call("files", self.open("files", pid), "read")
        return self.open("post", pid, capabilities)


def answerOf(response: Response) -> Any:
    """The call's answer: the one JSON body, or the stream's last message."""
    assert response.complete
    return response.events()[-1]


def denialOf(response: Response) -> dict[str, Any]:
    result = answerOf(response)["result"]
    assert result["isError"] is True
    envelope: dict[str, Any] = result["_meta"][DENIAL_KEY]
    return envelope
