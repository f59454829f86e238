"""REST APIs as tools: a real REST service (tests/fixtures/openapi_service.py)
behind a real gateway as C{"type": "openapi"} servers, one whose spec is the
service's C{/openapi.json} URL and one whose spec is a file, used with the
Python SDK through C{/<server>/mcp} and C{/mcp}. The service's request log
shows what the gateway sent: path, query string, headers, JSON body, and the
configured API key, which never shows in the gateway's own output. With
C{--client-credentials}, the service is its own OAuth token endpoint: the
gateway gets its tokens with the client credentials grant, gets a new one
when the service forgets them or they expire, and names a refusal; an entry
without the credentials answers with the login to run, which C{/health}
shows."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio
import pytest
from mcp import Client

from mcpgateway.cli.checks import lastFailure
from tests.integration.gateway import REPO, FixtureServer, RunningGateway, writeConfig

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "openapi_service.py"
API_KEY = "sekret"
OPERATIONS = {"listPets", "createPet", "getPet", "deletePet", "echoHeader"}
T = TypeVar("T")


class PetService(FixtureServer):
    """The REST fixture on a free loopback port, with C{--api-key sekret}
    (or the options C{args})."""

    def __init__(self, log: Path, args: tuple[str, ...] = ("--api-key", API_KEY)) -> None:
        super().__init__(FIXTURE, log, *args)

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


# -- OAuth client credentials -------------------------------------------------------------

CLIENT_ID = "gateway-client"
CLIENT_SECRET = "cc-secret-value"


def admin(service: PetService, method: str, path: str) -> Any:
    """A test-only request to the service (C{/admin/...} needs no token)."""
    request = urllib.request.Request(f"{service.base}{path}", method=method, data=None)
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def ccService(home: Path, lifetime: float = 300.0) -> PetService:
    return PetService(
        home / "cc-service.log",
        (
            "--client-credentials",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
            "--token-lifetime",
            str(lifetime),
        ),
    )


def ccGateway(start: Any, home: Path, service: PetService, secret: str) -> RunningGateway:
    oauth = {
        "tokenUrl": f"{service.base}/token",
        "clientId": CLIENT_ID,
        "clientSecret": "${PETS_CLIENT_SECRET}",
        "scope": "pets",
    }
    common = {"spec": f"{service.base}/openapi.json", "baseUrl": service.base}
    config = writeConfig(
        home / "gateway.json",
        {
            "ccpets": {"type": "openapi", **common, "oauth": oauth},
            "loginpets": {"type": "openapi", **common},
        },
    )
    running: RunningGateway = start("--config", str(config), env={"PETS_CLIENT_SECRET": secret})
    return running


@pytest.fixture
def cc(home: Path) -> Iterator[PetService]:
    running = ccService(home)
    yield running
    running.stop()


def test_client_credentials_get_one_token_and_a_new_one_once_it_is_refused(
    start: Any, home: Path, cc: PetService
) -> None:
    """The gateway asks the token endpoint once (HTTP Basic, the API's base
    URL as resource, the scope), calls with the token, and after the
    service forgot every token gets a new one and the call succeeds; the
    secret never shows in the gateway's output."""
    gateway = ccGateway(start, home, cc, CLIENT_SECRET)

    async def calls(c: Client) -> list[Any]:
        created = await c.call_tool("createPet", {"body": {"name": "Rex"}})
        listed = await c.call_tool("listPets", {})
        return [created, listed]

    for result in session(gateway.url("ccpets"), calls):
        assert not result.is_error, textOf(result)
    [issued] = admin(cc, "GET", "/admin/tokens")
    assert issued["basic"] is True and issued["token"]
    assert issued["form"] == {
        "grant_type": "client_credentials",
        "resource": cc.base,
        "scope": "pets",
    }
    api = [r for r in cc.requests() if r["path"] in ("/pets",)]
    assert [r["status"] for r in api] == [201, 200]
    assert {r["headers"]["authorization"] for r in api} == {f"Bearer {issued['token']}"}

    assert admin(cc, "POST", "/admin/revoke-tokens") == {"revoked": 1}
    again = session(gateway.url("ccpets"), lambda c: c.call_tool("listPets", {}))
    assert not again.is_error, textOf(again)
    assert json.loads(textOf(again))[0]["name"] == "Rex"
    tokens = admin(cc, "GET", "/admin/tokens")
    assert len(tokens) == 2 and tokens[1]["token"] != issued["token"]
    statuses = [r["status"] for r in cc.requestsTo("GET", "/pets")]
    assert statuses == [200, 401, 200]
    assert CLIENT_SECRET not in gateway.text()
    line = gateway.health()["servers"]["ccpets"]
    assert "login" not in line["remote"]
    assert CLIENT_SECRET not in json.dumps(gateway.health())


def test_an_expired_token_is_replaced_before_the_api_refuses_it(start: Any, home: Path) -> None:
    """Tokens good for one second: a call after that second gets a new one
    (asked for ahead of the expiry, so the API refuses nothing)."""
    service = ccService(home, lifetime=1.0)
    try:
        gateway = ccGateway(start, home, service, CLIENT_SECRET)

        async def twice(c: Client) -> list[Any]:
            first = await c.call_tool("listPets", {})
            await anyio.sleep(1.2)
            return [first, await c.call_tool("listPets", {})]

        for result in session(gateway.url("ccpets"), twice):
            assert not result.is_error, textOf(result)
        assert len(admin(service, "GET", "/admin/tokens")) == 2
        assert [r["status"] for r in service.requestsTo("GET", "/pets")] == [200, 200]
    finally:
        service.stop()


def test_a_refused_secret_and_a_missing_login_are_named(
    start: Any, home: Path, cc: PetService
) -> None:
    """A wrong secret: the call's error names the token endpoint and what
    it said (never the secret). An entry with no credentials: the API's
    401 names C{mcpgateway login loginpets}, and C{/health} says the login
    is needed."""
    gateway = ccGateway(start, home, cc, "wrong-secret")
    refused = session(gateway.url("ccpets"), lambda c: c.call_tool("listPets", {}))
    assert refused.is_error is True
    assert textOf(refused) == (
        f"server 'ccpets': the token endpoint {cc.base}/token refused the client"
        " credentials (HTTP 401: unknown client)"
    )
    assert cc.requestsTo("GET", "/pets") == []
    assert "wrong-secret" not in gateway.text()

    health = gateway.health()["servers"]
    assert "login" not in health["loginpets"]["remote"]
    needs = session(gateway.url("loginpets"), lambda c: c.call_tool("listPets", {}))
    assert needs.is_error is True
    assert textOf(needs).endswith("it needs a login: run `mcpgateway login loginpets`")
    assert gateway.health()["servers"]["loginpets"]["remote"]["login"] == "needed"


def test_a_path_parameter_stays_one_segment_and_dot_segments_are_refused(
    gateway: RunningGateway, service: PetService
) -> None:
    """A C{/} in a path parameter is sent encoded (one segment: the API
    answers for that one pet id, which is no integer); C{..} and C{.} are
    refused with the JSON-RPC invalid-params error, and nothing is sent."""

    async def body(c: Client) -> tuple[Any, list[str]]:
        slashed = await c.call_tool("getPet", {"petId": "1/../../admin/requests"})
        refused = []
        for value in ("..", "."):
            try:
                await c.call_tool("getPet", {"petId": value})
            except Exception as e:  # the SDK raises the JSON-RPC error
                refused.append(str(e))
        return slashed, refused

    slashed, refused = session(gateway.url("pets"), body)
    assert slashed.is_error is True and "petId must be an integer" in textOf(slashed)
    assert len(refused) == 2, refused
    assert all("Invalid params: path parameter 'petId' cannot be" in e for e in refused), refused
    paths = [r["path"] for r in service.requests()]
    assert paths.count("/pets/1%2F..%2F..%2Fadmin%2Frequests") == 1, paths
    assert not [p for p in paths if p in ("/", "/pets", "/pets/", "/pets/..", "/pets/.")], paths


def test_a_server_started_without_the_extra_is_running_once_it_is_installed(
    start: Any, home: Path, service: PetService
) -> None:
    """The C{[openapi]} extra missing (its validator cannot be imported):
    the server's start is refused. Installed while the gateway runs: the
    next call works, and C{/health} (what C{status}, the status page and
    C{doctor} read) says it runs, with no failure left to report; the log
    calls the refused start's end a remote session closed by the gateway."""
    shim = home / "shim"
    (shim / "openapi_spec_validator").mkdir(parents=True)
    (shim / "openapi_spec_validator" / "__init__.py").write_text(
        "raise ImportError('openapi-spec-validator is not installed')\n"
    )
    config = writeConfig(
        home / "gateway.json",
        {
            "pets": {
                "type": "openapi",
                "spec": f"{service.base}/openapi.json",
                "baseUrl": service.base,
                "headers": {"X-Api-Key": API_KEY},
            }
        },
    )
    gateway: RunningGateway = start(
        "--config", str(config), env={"PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])}
    )

    async def listPets(c: Client) -> Any:
        return await c.call_tool("listPets", {})

    with pytest.raises(Exception) as refused:  # an ExceptionGroup of the SDK's task group
        session(gateway.url("pets"), listPets)
    assert "pip install 'mcpgateway[openapi]'" in repr(refused.value), repr(refused.value)
    before = gateway.health()["servers"]["pets"]
    assert lastFailure(before) is not None, before

    shutil.rmtree(shim / "openapi_spec_validator")  # pip install 'mcpgateway[openapi]'
    time.sleep(1.5)  # the refused start's backoff
    listed = session(gateway.url("pets"), listPets)
    assert not listed.is_error, textOf(listed)
    after = gateway.health()["servers"]["pets"]
    assert after["state"] == "running", after
    assert "lastExit" not in after and lastFailure(after) is None, after
    log = gateway.text()
    assert "remote session closed by the gateway" in log, log
    assert "pid None" not in log and "SIGKILL" not in log, log
