"""Fakes for the C{gateway} server's tests: the management API it calls
(L{FakeGateway}, behind a real L{GatewayApi}), the person it asks
(L{Person}), and the recorded MCP registry."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from mcpgateway.registry.client import RegistryAnswer, RegistryApi, RegistryClient
from mcpgateway.selfservice.gatewayapi import GatewayApi
from mcpgateway.selfservice.tools import ElicitationAnswer, SelfServiceTools
from tests.fixtures.registry_server import RecordedRegistry

URL = "http://127.0.0.1:9100"
TOKEN = "self-service-token-0123456789"


def server(name: str, origin: str = "api", **config: Any) -> dict[str, Any]:
    """A server as C{GET /api/v1/servers/<name>} answers it."""
    return {
        "name": name,
        "origin": origin,
        "state": "running",
        "share": "global",
        "config": {"command": "python3", "args": ["-m", name], "env": {}, **config},
    }


class FakeGateway:
    """The management API's servers endpoints over a dict; every request kept."""

    def __init__(self, *servers: dict[str, Any]) -> None:
        self.servers = {s["name"]: s for s in servers}
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        self.refuse: tuple[int, str] | None = None

    @property
    def changes(self) -> list[tuple[str, str, Any]]:
        """The requests that change something (method, path, body)."""
        return [(m, p, b) for m, p, b, _ in self.requests if m != "GET"]

    def send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        path = urllib.parse.urlsplit(url).path
        document = None if body is None else json.loads(body)
        self.requests.append((method, path, document, dict(headers)))
        status, answer = self._answer(method, path, document)
        return status, json.dumps(answer).encode()

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method != "GET" and self.refuse is not None:
            status, message = self.refuse
            return status, {"error": message}
        name = urllib.parse.unquote(path.removeprefix("/api/v1/servers").lstrip("/"))
        if method == "GET" and not name:
            return 200, {"servers": list(self.servers.values())}
        if method == "POST":
            entry = {k: v for k, v in body.items() if k != "name"}
            self.servers[body["name"]] = server(body["name"], **entry)
            return 201, {"name": body["name"], "share": "global", "state": "idle"}
        if name not in self.servers:
            return 404, {"error": f"no server named '{name}'"}
        if method == "DELETE":
            del self.servers[name]
            return 200, {"removed": name}
        if method == "PATCH":
            self.servers[name]["state"] = "idle" if body["enabled"] else "disabled"
        return 200, self.servers[name]


class Person:
    """Answers every question with C{answer}; keeps what it was asked."""

    def __init__(self, answer: ElicitationAnswer) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, message: str, schema: dict[str, Any]) -> ElicitationAnswer:
        self.asked.append((message, schema))
        return self.answer


YES = ElicitationAnswer("accept", {"confirm": True})
NO = ElicitationAnswer("decline")
CANNOT = ElicitationAnswer(None, error="the client does not support elicitation mode 'form'")


def registryClient() -> RegistryClient:
    """A client of the recorded registry (tests/fixtures/registry), no network."""
    recorded = RecordedRegistry.fromDirectory()

    def fetch(url: str) -> RegistryAnswer:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        status, body = recorded.answer(target)
        return RegistryAnswer(status, json.dumps(body).encode())

    return RegistryClient(RegistryApi.at("http://registry.test"), fetch)


def toolsOver(gateway: FakeGateway) -> SelfServiceTools:
    """The tools over C{gateway} and the recorded registry."""
    return SelfServiceTools(GatewayApi(URL, TOKEN, gateway.send), registryClient)


def textOf(result: dict[str, Any]) -> str:
    [block] = result["content"]
    return str(block["text"])
