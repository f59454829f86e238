"""What the registry tests share: the recorded registry of
C{tests/fixtures/registry} answered without a network (L{recordedFetch}),
and its servers read (L{recorded})."""

from __future__ import annotations

import json
from typing import Any

from mcpgateway.registry.client import RegistryAnswer, RegistryApi, RegistryClient
from mcpgateway.registry.schema import ServerDetail, readServer
from tests.fixtures.registry_server import RecordedRegistry

ROOT = "http://registry.test"
"""The URL the fake registry pretends to be at."""


def recordedFetch(registry: RecordedRegistry, seen: list[str] | None = None) -> Any:
    """A L{mcpgateway.registry.client.Fetch} answered by C{registry}; each
    URL asked for is appended to C{seen}."""

    def fetch(url: str) -> RegistryAnswer:
        assert url.startswith(ROOT + "/"), url
        if seen is not None:
            seen.append(url)
        status, body = registry.answer(url[len(ROOT) :])
        return RegistryAnswer(status, json.dumps(body).encode())

    return fetch


def recordedClient(seen: list[str] | None = None) -> RegistryClient:
    """A client of the recorded registry."""
    registry = RecordedRegistry.fromDirectory()
    return RegistryClient(RegistryApi.at(ROOT), recordedFetch(registry, seen))


def recorded(name: str, version: str = "latest") -> ServerDetail:
    """Recorded server C{name} (its latest version unless C{version})."""
    registry = RecordedRegistry.fromDirectory()
    status, body = registry.answer(f"/v0.1/servers/{name.replace('/', '%2F')}/versions/{version}")
    assert status == 200, body
    return readServer(body)


def document(**server: Any) -> dict[str, Any]:
    """A C{ServerResponse} around a C{server.json} with a name, description
    and version, and C{server}'s fields."""
    return {
        "server": {
            "name": "io.github.test/server",
            "description": "A server",
            "version": "1.0.0",
            **server,
        }
    }
