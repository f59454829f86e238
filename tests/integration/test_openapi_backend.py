"""REST APIs as tools: a real REST service (tests/fixtures/openapi_service.py)
behind a real gateway as C{"type": "openapi"} servers, one whose spec is the
service's C{/openapi.json} URL and one whose spec is a file, used with the
Python SDK through C{/<server>/mcp} and C{/mcp}. The service's request log
shows what the gateway sent: path, query string, headers, JSON body, and the
configured API key, which never shows in the gateway's own output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import (
    REPO,
    RunningGateway,
    freePort,
    listening,
    waitFor,
    writeConfig,
)

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "openapi_service.py"
API_KEY = "sekret"
OPERATIONS = {"listPets", "createPet", "getPet", "deletePet", "echoHeader"}
T = TypeVar("T")


class PetService:
    """The REST fixture on a free loopback port, with C{--api-key sekret}."""

    def __init__(self, log: Path) -> None:
        self.port = freePort()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(FIXTURE), "--port", str(self.port), "--api-key", API_KEY],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert waitFor(lambda: b"listening on" in log.read_bytes(), timeout=20), log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        assert waitFor(lambda: not listening(self.port), timeout=10)

    def spec(self) -> bytes:
        """The service's OpenAPI document (it needs no key)."""
        with urllib.request.urlopen(f"{self.base}/openapi.json", timeout=10) as r:
            return r.read()  # type: ignore[no-any-return]

    def requests(self) -> list[dict[str, Any]]:
        """Every request the service received, as its C{/admin/requests}
        logs them (method, path, query, headers, body, status)."""
        request = urllib.request.Request(
            f"{self.base}/admin/requests", headers={"X-Api-Key": API_KEY}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def requestsTo(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] == method and r["path"] == path]


@pytest.fixture
def service(home: Path) -> Iterator[PetService]:
    running = PetService(home / "openapi-service.log")
    yield running
    running.stop()


@pytest.fixture
def gateway(start: Any, home: Path, service: PetService) -> RunningGateway:
    specFile = home / "petstore.json"
    specFile.write_bytes(service.spec())
    common = {"baseUrl": service.base, "headers": {"X-Api-Key": API_KEY}}
    config = writeConfig(
        home / "gateway.json",
        {
            "pets": {"type": "openapi", "spec": f"{service.base}/openapi.json", **common},
            "petsfile": {"type": "openapi", "spec": str(specFile), **common},
        },
    )
    running: RunningGateway = start("--config", str(config))
    return running


def session(url: str, body: Callable[[Client], Awaitable[T]]) -> T:
    """Run C{body} with one SDK session on C{url}."""

    async def main() -> T:
        async with Client(url, mode="legacy") as client:
            return await body(client)

    return anyio.run(main)


def textOf(result: Any) -> str:
    return "".join(getattr(item, "text", "") for item in result.content)


def aggregateURL(gateway: RunningGateway) -> str:
    return f"http://127.0.0.1:{gateway.port}/mcp"


@pytest.mark.parametrize("server", ["pets", "petsfile"])
def test_the_tools_are_the_specs_operations(gateway: RunningGateway, server: str) -> None:
    async def body(c: Client) -> dict[str, dict[str, Any]]:
        return {tool.name: tool.input_schema for tool in (await c.list_tools()).tools}

    schemas = session(gateway.url(server), body)
    assert set(schemas) == OPERATIONS
    for schema in schemas.values():
        assert schema["type"] == "object"
        assert "X-Api-Key" not in schema.get("properties", {})

    getPet = schemas["getPet"]
    assert getPet["properties"]["petId"]["type"] == "integer"
    assert "petId" in getPet["required"]

    createPet = schemas["createPet"]
    assert "body" in createPet["required"]
    newPet = createPet["properties"]["body"]
    assert newPet["type"] == "object"
    assert "name" in newPet["required"]
    assert newPet["properties"]["name"]["type"] == "string"

    echoHeader = schemas["echoHeader"]
    assert "X-Trace" in echoHeader["properties"]
    assert "X-Trace" in echoHeader["required"]

    listPets = schemas["listPets"]
    assert listPets["properties"]["limit"]["type"] == "integer"
    assert listPets["properties"]["tag"]["type"] == "string"
    assert not {"limit", "tag"} & set(listPets.get("required", []))


def test_a_created_pet_is_got_back(gateway: RunningGateway, service: PetService) -> None:
    async def body(c: Client) -> tuple[Any, Any]:
        created = await c.call_tool("createPet", {"body": {"name": "Rex", "tag": "dog"}})
        assert not created.is_error, textOf(created)
        assert created.structured_content is not None, textOf(created)
        got = await c.call_tool("getPet", {"petId": created.structured_content["id"]})
        return created, got

    created, got = session(gateway.url("pets"), body)
    pet = created.structured_content
    assert pet["name"] == "Rex" and pet["tag"] == "dog" and isinstance(pet["id"], int)
    assert json.loads(textOf(created)) == pet
    assert not got.is_error, textOf(got)
    assert got.structured_content == pet
    assert json.loads(textOf(got)) == pet

    (posted,) = service.requestsTo("POST", "/pets")
    assert posted["status"] == 201
    assert posted["body"] == {"name": "Rex", "tag": "dog"}
    assert posted["headers"]["content-type"].split(";")[0].strip() == "application/json"
    assert [r["status"] for r in service.requestsTo("GET", f"/pets/{pet['id']}")] == [200]


def test_list_pets_sends_the_query_string(gateway: RunningGateway, service: PetService) -> None:
    async def body(c: Client) -> Any:
        for name, tag in [("Rex", "dog"), ("Tom", "cat"), ("Fido", "dog")]:
            result = await c.call_tool("createPet", {"body": {"name": name, "tag": tag}})
            assert not result.is_error, textOf(result)
        return await c.call_tool("listPets", {"limit": 1, "tag": "dog"})

    result = session(gateway.url("pets"), body)
    assert not result.is_error, textOf(result)
    pets = json.loads(textOf(result))
    assert [(p["name"], p["tag"]) for p in pets] == [("Rex", "dog")]
    (listed,) = service.requestsTo("GET", "/pets")
    assert parse_qs(listed["query"]) == {"limit": ["1"], "tag": ["dog"]}
    assert listed["status"] == 200


def test_a_missing_pet_is_an_error_result(gateway: RunningGateway, service: PetService) -> None:
    async def body(c: Client) -> Any:
        return await c.call_tool("getPet", {"petId": 4242})

    result = session(gateway.url("pets"), body)
    assert result.is_error is True
    assert "404" in textOf(result)
    assert [r["status"] for r in service.requestsTo("GET", "/pets/4242")] == [404]


def test_a_pet_is_deleted(gateway: RunningGateway, service: PetService) -> None:
    async def body(c: Client) -> tuple[Any, Any]:
        created = await c.call_tool("createPet", {"body": {"name": "Gone"}})
        assert not created.is_error, textOf(created)
        petId = json.loads(textOf(created))["id"]
        deleted = await c.call_tool("deletePet", {"petId": petId})
        return deleted, await c.call_tool("getPet", {"petId": petId})

    deleted, after = session(gateway.url("pets"), body)
    assert not deleted.is_error, textOf(deleted)
    assert after.is_error is True
    assert "404" in textOf(after)
    deletes = [r for r in service.requests() if r["method"] == "DELETE"]
    assert [r["status"] for r in deletes] == [204]
    assert deletes[0]["path"].startswith("/pets/")


def test_a_header_parameter_is_sent(gateway: RunningGateway, service: PetService) -> None:
    async def body(c: Client) -> Any:
        return await c.call_tool("echoHeader", {"X-Trace": "trace-42"})

    result = session(gateway.url("pets"), body)
    assert not result.is_error, textOf(result)
    assert result.structured_content == {"trace": "trace-42"}
    assert json.loads(textOf(result)) == {"trace": "trace-42"}
    (echoed,) = service.requestsTo("GET", "/echo-header")
    assert echoed["headers"]["x-trace"] == "trace-42"
    assert echoed["status"] == 200


def test_the_api_key_reaches_the_service_and_never_the_output(
    gateway: RunningGateway, service: PetService
) -> None:
    async def body(c: Client) -> None:
        await c.list_tools()
        await c.call_tool("createPet", {"body": {"name": "Key"}})
        await c.call_tool("listPets", {})
        await c.call_tool("getPet", {"petId": 1})
        await c.call_tool("getPet", {"petId": 999})
        await c.call_tool("echoHeader", {"X-Trace": "t"})
        await c.call_tool("deletePet", {"petId": 1})

    session(gateway.url("pets"), body)
    session(gateway.url("petsfile"), lambda c: c.call_tool("listPets", {}))
    calls = [r for r in service.requests() if r["path"] != "/openapi.json"]
    assert len(calls) == 7
    for call in calls:
        assert call["headers"].get("x-api-key") == API_KEY, call
        assert call["status"] != 401, call
    assert API_KEY not in gateway.text()


def test_the_aggregate_endpoint_lists_and_calls_the_operations(
    gateway: RunningGateway, service: PetService
) -> None:
    async def body(c: Client) -> tuple[list[str], Any]:
        names = [tool.name for tool in (await c.list_tools()).tools]
        return names, await c.call_tool("pets__createPet", {"body": {"name": "Agg"}})

    names, result = session(aggregateURL(gateway), body)
    assert "pets__createPet" in names
    assert not result.is_error, textOf(result)
    assert json.loads(textOf(result))["name"] == "Agg"
    (posted,) = service.requestsTo("POST", "/pets")
    assert posted["body"] == {"name": "Agg"}
    assert posted["headers"]["x-api-key"] == API_KEY


def test_a_spec_file_serves_the_same_operations(
    gateway: RunningGateway, service: PetService
) -> None:
    async def body(c: Client) -> Any:
        return await c.call_tool("createPet", {"body": {"name": "Filed", "tag": "fish"}})

    result = session(gateway.url("petsfile"), body)
    assert not result.is_error, textOf(result)
    assert result.structured_content is not None
    assert result.structured_content["name"] == "Filed"
    assert result.structured_content["tag"] == "fish"
    (posted,) = service.requestsTo("POST", "/pets")
    assert posted["body"] == {"name": "Filed", "tag": "fish"}
    assert posted["headers"]["x-api-key"] == API_KEY
