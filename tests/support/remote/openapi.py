"""What tests/remote/test_openapi.py shares with the other tests: child."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.remote.restchild import RestChild
from tests.remote.fakehttp import FakeAgent

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Pets", "version": "2.0"},
    "servers": [{"url": "/api"}],
    "paths": {
        "/pets/{petId}": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {
                "operationId": "getPet",
                "summary": "One pet",
                "parameters": [{"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "the pet",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    }
                },
            },
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
        "/pets": {
            "get": {
                "operationId": "listPets",
                "parameters": [
                    {"name": "tag", "in": "query", "schema": {"type": "array"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "responses": {"200": {"description": "pets"}},
            },
            "post": {
                "operationId": "create pet!",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                    },
                },
                "responses": {"201": {"description": "made"}},
            },
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "friends": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
                },
            }
        }
    },
}


def child(tmp_path: Path) -> tuple[RestChild, FakeAgent, Clock, list[dict[str, Any]]]:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(DOCUMENT))
    agent, clock = FakeAgent(), Clock()
    got: list[dict[str, Any]] = []
    endpoint = RemoteEndpoint(
        "https://api.example.com", "openapi", (("X-Api-Key", "k"),), str(spec)
    )
    return RestChild("pets", endpoint, agent, clock, got.append), agent, clock, got
