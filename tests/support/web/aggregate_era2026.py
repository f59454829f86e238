"""What tests/web/endpoints/test_aggregate_era2026.py shares with the other tests:
AggregateEra2026Harness, CompletingChildren, ELICIT, TASKS."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.tasks.manager import TaskManager, TaskTerms
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.web.app import makeSite
from tests.core.aggregate.aggtools import Children, FakeServer
from tests.fakes import FakeProcess, fakeSpawner
from tests.http import Harness, Response
from tests.support.web.aggregate_web import AggregateHarness, messagesOf, serverSpec
from tests.support.web.fakeera2026 import body, headersFor

TASKS = "io.modelcontextprotocol/tasks"
ELICIT: dict[str, Any] = {"elicitation": {"form": {}}}


class CompletingChildren(Children):
    """Fake children that also declare C{completions} and answer
    C{completion/complete} with the reference they were given."""

    def _answer(self, proc: FakeProcess, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method == "completion/complete":
            self.seen.append((self.serverOf(proc), message))
            ref = message["params"]["ref"]
            values = [str(ref.get("name") or ref.get("uri"))]
            proc.reply(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "result": {"completion": {"values": values}},
                }
            )
            return
        if method == "initialize":
            self.seen.append((self.serverOf(proc), message))
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {
                    "tools": {"listChanged": True},
                    "prompts": {},
                    "resources": {"subscribe": True},
                    "completions": {},
                },
                "serverInfo": {"name": self.serverOf(proc), "version": "1"},
            }
            proc.reply({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        super()._answer(proc, message)


class AggregateEra2026Harness(AggregateHarness):
    """The aggregate's harness, whose gateway may serve tasks; 2026 POSTs."""

    def __init__(
        self,
        servers: dict[str, FakeServer],
        modes: dict[str, str] | None = None,
        tasks: bool = False,
    ) -> None:
        modes = modes or {}
        specs = {name: serverSpec(name, modes.get(name, "stateless")) for name in servers}
        self.harness = Harness(specs)
        reactor = self.harness.reactor
        self.tasks: TaskManager | None = None
        if tasks:
            self.tasks = TaskManager(
                TaskStore(None, now=reactor.seconds), reactor, TaskTerms(after=0.5)
            )
            self.harness.gateway = Gateway(specs, fakeSpawner(reactor), tasks=self.tasks)
            self.harness.site = makeSite(self.harness.gateway, reactor)
        self.harness.gateway.start()
        self.children = CompletingChildren(reactor, servers)

    def era2026(
        self,
        method: str,
        requestId: Any = 1,
        params: dict[str, Any] | None = None,
        path: str = "/mcp",
        headers: dict[str, str] | None = None,
        **metaArgs: Any,
    ) -> Response:
        message = body(method, requestId, params, **metaArgs)
        sent = headersFor(message)
        sent.update(headers or {})
        response = self.harness.request("POST", path, message, headers=sent)
        self.children.pump()
        return response

    def answer(self, response: Response, requestId: Any = 1) -> dict[str, Any]:
        answers = [m for m in messagesOf(response) if m.get("id") == requestId]
        assert answers, response.body
        return answers[-1]

    def sent(self, method: str) -> list[tuple[str, dict[str, Any]]]:
        return [(s, m) for s, m in self.children.seen if m.get("method") == method]
