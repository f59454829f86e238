"""Fake children that answer by themselves, for the aggregate's tests.

L{Children.pump} reads what the gateway wrote to each fake child since the
last pump and answers it the way a small MCP server would: the handshake,
the four lists from the server's L{Catalog}, and C{tools/call} (an echo of
the name and arguments, unless the test holds calls). Requests a test wants
to answer itself (held calls) are kept in L{Children.held}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes import FakeProcess, FakeProcessReactor


@dataclass
class FakeServer:
    """What one fake server lists and how it answers."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    hold: bool = False
    """Keep its tools/call requests in L{Children.held} unanswered."""


def tool(name: str, description: str = "", **properties: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description or f"The {name} tool.",
        "inputSchema": {
            "type": "object",
            "properties": {
                key: {"type": "string", "description": text} for key, text in properties.items()
            },
        },
    }


CAPABILITIES: dict[str, Any] = {
    "tools": {"listChanged": True},
    "prompts": {},
    "resources": {"subscribe": True},
}
"""What every fake member child declares."""


class Children:
    """Answers the fake children of C{reactor}; which server a child is is
    read from its command line (C{serverOf})."""

    def __init__(self, reactor: FakeProcessReactor, servers: dict[str, FakeServer]) -> None:
        self.reactor = reactor
        self.servers = servers
        self._read: dict[int, int] = {}
        self.held: list[tuple[FakeProcess, dict[str, Any]]] = []
        self.seen: list[tuple[str, dict[str, Any]]] = []
        """(server, message) of everything the children were sent."""

    def serverOf(self, proc: FakeProcess) -> str:
        for arg in proc.args:
            if arg.startswith("--name="):
                return arg.partition("=")[2]
        raise AssertionError(f"no --name= in {proc.args}")

    def pump(self) -> None:
        """Answer until nothing new was written."""
        while True:
            progressed = False
            for proc in list(self.reactor.processes):
                if proc.ended:
                    continue
                lines = proc.sentLines()
                start = self._read.get(id(proc), 0)
                if start >= len(lines):
                    continue
                self._read[id(proc)] = len(lines)
                progressed = True
                import json

                for line in lines[start:]:
                    self._answer(proc, json.loads(line))
            if not progressed:
                return

    def _answer(self, proc: FakeProcess, message: dict[str, Any]) -> None:
        server = self.servers[self.serverOf(proc)]
        self.seen.append((self.serverOf(proc), message))
        method = message.get("method")
        if "id" not in message or method is None:
            return
        result: dict[str, Any] | None = None
        if method == "initialize":
            version = message["params"]["protocolVersion"]
            info = {"name": self.serverOf(proc), "version": "1"}
            result = {"protocolVersion": version, "capabilities": CAPABILITIES, "serverInfo": info}
        elif method == "tools/list":
            result = {"tools": server.tools}
        elif method == "prompts/list":
            result = {"prompts": server.prompts}
        elif method == "resources/list":
            result = {"resources": server.resources}
        elif method == "resources/templates/list":
            result = {"resourceTemplates": server.templates}
        elif method == "resources/read":
            uri = message["params"]["uri"]
            result = {"contents": [{"uri": uri, "text": f"{self.serverOf(proc)}:{uri}"}]}
        elif method == "prompts/get":
            result = {
                "messages": [
                    {"role": "user", "content": {"type": "text", "text": self.serverOf(proc)}}
                ]
            }
        elif method == "tools/call":
            if server.hold:
                self.held.append((proc, message))
                return
            params = message["params"]
            text = f"{self.serverOf(proc)}:{params['name']}:{params.get('arguments')}"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        proc.reply({"jsonrpc": "2.0", "id": message["id"], "result": result})
