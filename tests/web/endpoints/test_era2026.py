"""The MCP 2026-07-28 side of C{/<server>/mcp}, through the real C{Site},
against a fake core (L{tests.support.web.fakeera2026.FakeEra2026}): one test per row
of the headers and status table (docs/design/era.md), first failure wins, nothing
reaches the core until every check passed; the response (JSON or SSE, never
an id, never a session); disconnect as cancel; listen streams."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.era2026.types import ListenFilter
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import ServerUnavailable
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.spec import Variant
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.ops.services import ListenerService
from mcpgateway.protocol import childhints, era2026form, jsonrpc, versions
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.web.app import GatewaySite, makeSite
from mcpgateway.web.endpoints.era2026 import (
    MAX_LISTEN_URIS,
    honouredNotifications,
    listenEnded,
    listenFilter,
)
from mcpgateway.web.root import GatewayRoot
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import ACCEPT_BOTH, Harness, Response, sendLines, spec
from tests.support.web.fakeera2026 import (
    Era2026Harness,
    FakeEra2026,
    body,
    headersFor,
    meta,
    sseEvents,
)

REASON = 'its entry says "era2026": false'


def discover(requestId: Any = "d", **kwargs: Any) -> dict[str, Any]:
    return body("server/discover", requestId, **kwargs)


def toolsCall(
    name: Any = "echo", arguments: Any = None, requestId: Any = 1, **kwargs: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    extra = kwargs.pop("params", {})
    params.update(extra)
    return body("tools/call", requestId, params, **kwargs)


def listenBody(notifications: Any, requestId: Any = "listen-1") -> dict[str, Any]:
    return body("subscriptions/listen", requestId, {"notifications": notifications})


def error(response: Response) -> dict[str, Any]:
    answer = response.json()
    assert "result" not in answer
    err: dict[str, Any] = answer["error"]
    return err


def assertRefused(
    h: Era2026Harness, response: Response, status: int, code: int, requestId: Any = None
) -> dict[str, Any]:
    """An answer of the ladder: the status, JSON, the code, the id, and
    nothing reached the core."""
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in response.headers
    answer = response.json()
    assert answer["id"] == requestId
    assert answer["error"]["code"] == code
    assert h.era2026.reached == 0
    err: dict[str, Any] = answer["error"]
    return err


def rawRequest(
    h: Era2026Harness, method: str, headers: list[tuple[str, str]], data: bytes
) -> Response:
    """A request whose header lines are exactly C{headers} (repeats allowed)."""
    lines = [f"{method} /srv/mcp HTTP/1.1", "host: 127.0.0.1:9100"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"content-length: {len(data)}")
    return sendLines(h.site, lines, data)


def disconnect(response: Response) -> None:
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]


def endpointOf(h: Era2026Harness, server: str = "srv") -> Any:
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    endpoint = root._endpoint(server)
    assert endpoint is not None
    return endpoint


# -- row 0: Origin and Host ------------------------------------------------------


def test_row0_a_foreign_origin_is_403_before_anything() -> None:
    h = Era2026Harness()
    response = h.post(discover(), headers={"origin": "http://evil.example"})
    assertRefused(h, response, 403, jsonrpc.INVALID_REQUEST)


def test_row0_a_foreign_host_is_421() -> None:
    h = Era2026Harness()
    response = h.post(discover(), headers={"host": "evil.example"})
    assertRefused(h, response, 421, jsonrpc.INVALID_REQUEST)


# -- row 1: POST only ----------------------------------------------------------------


@pytest.mark.parametrize("verb", ["GET", "DELETE"])
def test_row1_get_or_delete_of_a_era2026_client_is_405_allow_post(verb: str) -> None:
    h = Era2026Harness()
    response = h.request(verb, "/srv/mcp", headers={"mcp-protocol-version": "2026-07-28"})
    assertRefused(h, response, 405, jsonrpc.INVALID_REQUEST)
    assert response.headers["allow"] == "POST"


def test_row1_comes_before_the_accept_check() -> None:
    h = Era2026Harness()
    response = h.request(
        "GET", "/srv/mcp", headers={"mcp-protocol-version": "2026-07-28"}, accept="text/html"
    )
    assert response.status == 405 and response.headers["allow"] == "POST"


def test_row1_other_methods_of_a_era2026_client_are_405_allow_post() -> None:
    h = Era2026Harness()
    era2026 = h.request("PUT", "/srv/mcp", headers={"mcp-protocol-version": "2026-07-28"})
    assert era2026.status == 405 and era2026.headers["allow"] == "POST"
    handshake = h.request("PUT", "/srv/mcp")
    assert handshake.status == 405 and handshake.headers["allow"] == "GET, POST, DELETE"


def test_row1_a_get_with_a_session_stays_on_the_handshake_path() -> None:
    h = Era2026Harness()
    sid = h.initialize()
    response = h.request(
        "GET",
        "/srv/mcp",
        headers={"mcp-protocol-version": "2026-07-28"},
        session=sid,
        accept="text/event-stream",
    )
    assert response.status == 400  # the handshake answer: an unsupported version header
    ok = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert ok.status == 200


# -- row 2: Accept, Content-Type, body size --------------------------------------------


def test_row2_accept_without_event_stream_is_406() -> None:
    h = Era2026Harness()
    assertRefused(h, h.post(discover(), accept="application/json"), 406, -32600)


def test_row2_a_content_type_that_is_not_json_is_415() -> None:
    h = Era2026Harness()
    assertRefused(h, h.post(discover(), contentType="text/plain"), 415, -32600)


def test_row2_a_body_over_the_limit_is_413() -> None:
    h = Era2026Harness(maxBody=300)
    big = toolsCall(arguments={"text": "x" * 500})
    assertRefused(h, h.post(big), 413, -32600)


# -- row 3: bad JSON ------------------------------------------------------------------


def test_row3_bad_json_is_400_parse_error_with_a_null_id() -> None:
    h = Era2026Harness()
    response = h.rawPost(
        b'{"jsonrpc": "2.0", "id": 1,',
        {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"},
    )
    assertRefused(h, response, 400, jsonrpc.PARSE_ERROR)


# -- row 4: batches, responses, non-messages -------------------------------------------


def test_row4_a_era2026_batch_is_400() -> None:
    h = Era2026Harness()
    batch = [body("tools/list", 1), body("tools/list", 2)]
    assertRefused(h, h.post(batch), 400, -32600)  # claimed by its messages
    viaHeader = h.post(
        [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}],
        headers={"mcp-protocol-version": "2026-07-28"},
    )
    assertRefused(h, viaHeader, 400, -32600)


def test_row4_a_client_response_is_400() -> None:
    h = Era2026Harness()
    response = h.post(
        {"jsonrpc": "2.0", "id": 3, "result": {}}, headers={"mcp-protocol-version": "2026-07-28"}
    )
    assertRefused(h, response, 400, -32600, requestId=3)


def test_row4_a_body_that_is_not_json_rpc_is_400() -> None:
    h = Era2026Harness()
    notRpc = h.post({"hello": 1}, headers={"mcp-protocol-version": "2026-07-28"})
    assertRefused(h, notRpc, 400, -32600)
    badId = dict(discover(), id=True)
    assertRefused(h, h.post(badId), 400, -32600)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"result": 1}, "must not carry result"),
        ({"error": {"code": 1, "message": "x"}}, "must not carry error"),
        ({"foo": 1}, "unknown member 'foo'"),
    ],
    ids=["result", "error", "foo"],
)
def test_row4_a_request_with_another_member_is_400_as_on_the_2025_side(
    extra: dict[str, Any], named: str
) -> None:
    h = Era2026Harness()
    message = {**body("tools/list", 7), **extra}
    err = assertRefused(h, h.post(message), 400, -32600, requestId=7)
    assert named in err["message"]
    refusing = Era2026Harness(refusals={"srv": REASON})  # row 4 comes before row 12
    assertRefused(refusing, refusing.post(message), 400, -32600, requestId=7)
    # a notification is not checked for members (nor on the 2025 side): dropped
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", **extra}
    response = h.post(note, headers={"mcp-protocol-version": "2026-07-28"})
    assert response.status == 202 and response.body == b""


# -- row 5: notifications ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["notifications/cancelled", "notifications/initialized"])
def test_row5_a_notification_is_202_with_an_empty_body(method: str) -> None:
    h = Era2026Harness()
    note = {"jsonrpc": "2.0", "method": method, "params": {"requestId": 1, "_meta": meta()}}
    response = h.post(note)
    assert response.status == 202 and response.body == b""
    assert "content-type" not in response.headers
    assert h.era2026.reached == 0
    headerOnly = h.post(
        {"jsonrpc": "2.0", "method": method}, headers={"mcp-protocol-version": "2026-07-28"}
    )
    assert headerOnly.status == 202 and headerOnly.body == b""


# -- row 6: the envelope ----------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"_meta": "x"},
        {"_meta": {era2026form.PROTOCOL_VERSION_KEY: 2026, era2026form.CAPABILITIES_KEY: {}}},
        {"_meta": {era2026form.PROTOCOL_VERSION_KEY: "2026-07-28"}},
        {"_meta": meta(capabilities=[])},  # type: ignore[arg-type]
        {"_meta": {**meta(), era2026form.CLIENT_INFO_KEY: "me"}},
        {"_meta": {**meta(), era2026form.LOG_LEVEL_KEY: "loud"}},
        {
            "_meta": {
                era2026form.PROTOCOL_VERSION_KEY: "2026-07-28",
                era2026form.CAPABILITIES_KEY: 1,
            }
        },
    ],
    ids=["meta", "version", "no-caps", "caps", "clientInfo", "logLevel", "caps-int"],
)
def test_row6_a_bad_envelope_is_400_invalid_params(params: dict[str, Any]) -> None:
    h = Era2026Harness()
    message = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": params}
    response = h.post(
        message, headers={"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
    )
    assertRefused(h, response, 400, jsonrpc.INVALID_PARAMS, requestId=5)


def test_row6_a_claimless_request_with_a_era2026_header_is_400_invalid_params() -> None:
    h = Era2026Harness()
    response = h.post(
        {"jsonrpc": "2.0", "id": "x", "method": "tools/list"},
        headers={"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"},
    )
    assertRefused(h, response, 400, jsonrpc.INVALID_PARAMS, requestId="x")


def test_row6_comes_before_row7() -> None:
    h = Era2026Harness()
    message = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": "x"}}
    assertRefused(
        h, h.post(message, headers={"mcp-protocol-version": "2026-07-28"}), 400, -32602, 5
    )


# -- row 7: routing headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"mcp-protocol-version": None},
        {"mcp-protocol-version": "2025-11-25"},
        {"mcp-method": None},
        {"mcp-method": "tools/list"},
        {"mcp-name": None},
        {"mcp-name": "other"},
        {"mcp-name": "=?base64?!!!?="},
        {"mcp-method": "tools/call\xe9"},
    ],
    ids=["no-version", "version", "no-method", "method", "no-name", "name", "bad-b64", "8bit"],
)
def test_row7_routing_headers_must_match_the_body(overrides: dict[str, str | None]) -> None:
    h = Era2026Harness()
    message = toolsCall(requestId=7)
    response = h.request("POST", "/srv/mcp", message, headers=headersFor(message, **overrides))
    assertRefused(h, response, 400, jsonrpc.HEADER_MISMATCH, requestId=7)


@pytest.mark.parametrize("name", ["mcp-protocol-version", "mcp-method", "mcp-name"])
def test_row7_a_repeated_routing_header_is_400(name: str) -> None:
    h = Era2026Harness()
    message = toolsCall(requestId=7)
    lines = [("accept", ACCEPT_BOTH), ("content-type", "application/json")]
    lines += list(headersFor(message).items())
    lines.append((name, headersFor(message)[name]))
    response = rawRequest(h, "POST", lines, json.dumps(message).encode())
    assertRefused(h, response, 400, jsonrpc.HEADER_MISMATCH, requestId=7)


def test_row7_a_base64_name_is_decoded() -> None:
    h = Era2026Harness()
    h.era2026.autoAnswer = {"resultType": "complete", "content": []}
    message = toolsCall(name="héllo wörld ")
    headers = headersFor(message)
    assert headers["mcp-name"].startswith("=?base64?")
    response = h.post(message)
    assert response.status == 200
    assert h.era2026.calls[0].request.params["name"] == "héllo wörld "


def test_row7_a_session_header_is_ignored_and_never_echoed() -> None:
    h = Era2026Harness()
    h.era2026.autoAnswer = {"resultType": "complete", "tools": []}
    response = h.post(body("tools/list"), session="some-old-session")
    assert response.status == 200
    assert "mcp-session-id" not in response.headers


# -- row 8: version ---------------------------------------------------------------------


def test_row8_an_unsupported_version_is_400_with_what_is_supported() -> None:
    h = Era2026Harness()
    message = body("tools/list", 8, version="2099-01-01")
    err = assertRefused(h, h.post(message), 400, jsonrpc.UNSUPPORTED_VERSION, requestId=8)
    assert err["data"]["requested"] == "2099-01-01"
    assert err["data"]["supported"][0] == "2026-07-28"
    assert err["data"]["supported"] == list(versions.ERA2026_VERSIONS)


# -- row 9: methods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "tasks/list",
        "tasks/result",
        "unknown/method",
    ],
)
def test_row9_a_method_outside_the_revision_is_404(method: str) -> None:
    h = Era2026Harness()
    params = {"uri": "file:///a", "level": "info", "taskId": "t"}
    response = h.post(body(method, 9, params))
    err = assertRefused(h, response, 404, jsonrpc.METHOD_NOT_FOUND, requestId=9)
    assert method in err["message"]


def test_row9_the_core_may_say_a_method_is_missing_at_the_child() -> None:
    h = Era2026Harness()
    response = h.post(body("prompts/list", 9))
    h.era2026.calls[0].error(jsonrpc.METHOD_NOT_FOUND, "Method not found: prompts/list")
    assert response.status == 404
    assert error(response)["code"] == -32601 and response.json()["id"] == 9


# -- row 10: Mcp-Param-* -----------------------------------------------------------------


def weather(h: Era2026Harness) -> dict[str, Any]:
    h.era2026.paramMaps[("srv", "", "weather")] = {"Region": "region"}
    return toolsCall("weather", {"region": "eu-west", "days": 3}, requestId=10)


def test_row10_a_missing_param_header_is_400() -> None:
    h = Era2026Harness()
    assertRefused(h, h.post(weather(h)), 400, jsonrpc.HEADER_MISMATCH, requestId=10)
    assert h.era2026.paramLookups == [("srv", "", "weather")]


def test_row10_a_mismatching_param_header_is_400() -> None:
    h = Era2026Harness()
    response = h.post(weather(h), headers={"mcp-param-region": "us-east"})
    assertRefused(h, response, 400, jsonrpc.HEADER_MISMATCH, requestId=10)


def test_row10_a_matching_param_header_passes() -> None:
    h = Era2026Harness()
    h.post(weather(h), headers={"mcp-param-region": "eu-west"})
    assert len(h.era2026.calls) == 1


def test_row10_a_tool_not_listed_yet_is_not_checked() -> None:
    h = Era2026Harness()
    h.post(toolsCall("unlisted", {"a": 1}), headers={"mcp-param-whatever": "x"})
    assert len(h.era2026.calls) == 1


def test_row10_comes_after_row9_and_before_row11() -> None:
    h = Era2026Harness()
    message = weather(h)
    message["params"]["requestState"] = 5
    response = h.post(message)
    assertRefused(h, response, 400, jsonrpc.HEADER_MISMATCH, requestId=10)


# -- row 11: the params the gateway reads ----------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        toolsCall(name=5, requestId=11),
        body("tools/call", 11, {"arguments": {}}),
        body("prompts/get", 11, {}),
        body("resources/read", 11, {"uri": ["file:///a"]}),
        toolsCall(requestId=11, params={"inputResponses": []}),
        toolsCall(requestId=11, params={"requestState": 5}),
        body("prompts/get", 11, {"name": "p", "requestState": {}}),
        listenBody("all", 11),
        listenBody({"toolsListChanged": "yes"}, 11),
        listenBody({"resourceSubscriptions": ["file:///a", 5]}, 11),
        listenBody({"resourceSubscriptions": ["u"] * (MAX_LISTEN_URIS + 1)}, 11),
        listenBody({"taskIds": "t"}, 11),
        listenBody({"taskIds": ["t", 5]}, 11),
        listenBody({"taskIds": ["t"] * (MAX_LISTEN_URIS + 1)}, 11),
    ],
    ids=[
        "name-type",
        "no-name",
        "prompt-no-name",
        "uri-type",
        "inputResponses",
        "requestState",
        "prompt-state",
        "listen-type",
        "listen-flag",
        "listen-uris",
        "listen-many",
        "listen-task-type",
        "listen-task-id",
        "listen-task-many",
    ],
)
def test_row11_bad_params_are_400_invalid_params(message: dict[str, Any]) -> None:
    h = Era2026Harness()
    assertRefused(h, h.post(message), 400, jsonrpc.INVALID_PARAMS, requestId=11)


def test_row11_mrtr_fields_on_other_methods_are_not_the_cores() -> None:
    h = Era2026Harness()
    h.post(body("tools/list", 1, {"inputResponses": [], "requestState": 5}))
    request = h.era2026.calls[0].request
    assert request.inputResponses is None and request.requestState is None
    assert "requestState" not in request.params and "inputResponses" not in request.params


# -- row 12: servers that do not serve the 2026 revision -----------------------------------


@pytest.mark.parametrize(
    "message",
    [
        discover(),
        body("tools/list", "d"),
        {"jsonrpc": "2.0", "id": "d", "method": "tools/list", "params": {"_meta": "x"}},
        body("initialize", "d"),
        body("tools/list", "d", version="2099-01-01"),
    ],
    ids=["discover", "tools/list", "envelope", "initialize", "version"],
)
def test_row12_a_refusing_server_answers_404_to_every_era2026_request(
    message: dict[str, Any],
) -> None:
    h = Era2026Harness(refusals={"srv": REASON})
    with capturedGatewayLogs() as events:
        response = h.post(message, headers={"mcp-protocol-version": "2026-07-28"})
    err = assertRefused(h, response, 404, jsonrpc.METHOD_NOT_FOUND, requestId="d")
    assert REASON in err["message"] and "initialize" in err["message"]
    assert not [e for e in events if "refused" in e.get("log_format", "")]  # probes are not logged


def test_row12_covers_notifications_too() -> None:
    h = Era2026Harness(refusals={"srv": REASON})
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"_meta": meta()}}
    response = h.post(note)
    assert response.status == 404 and error(response)["code"] == -32601


def test_row12_comes_after_row4() -> None:
    h = Era2026Harness(refusals={"srv": REASON})
    assertRefused(h, h.post([discover()]), 400, -32600)


def test_row12_handshake_initialize_still_works_on_a_refusing_server() -> None:
    h = Era2026Harness(refusals={"srv": REASON})
    assert h.post(discover()).status == 404
    assert h.post(body("tools/list")).status == 404
    sid = h.initialize()  # the fallback: a handshake session on the same endpoint
    listed = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        session=sid,
    )
    forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/list"]
    assert len(forwarded) == 1
    h.process().reply({"jsonrpc": "2.0", "id": forwarded[0]["id"], "result": {"tools": []}})
    assert listed.events() == [{"jsonrpc": "2.0", "id": 2, "result": {"tools": []}}]
    assert h.era2026.reached == 0


def test_row12_only_the_refusing_server() -> None:
    h = Era2026Harness({"srv": spec("srv"), "other": spec("other")}, refusals={"other": REASON})
    assert h.post(discover(), path="/other/mcp").status == 404
    h.post(discover(), path="/srv/mcp")
    assert [c.server for c in h.era2026.calls] == ["srv"]


# -- row 13: in flight --------------------------------------------------------------------------


def test_row13_over_max_era2026_in_flight_is_in_band_too_many_requests() -> None:
    h = Era2026Harness(limits=MessageBounds(maxEra2026InFlight=2))
    first, second = h.post(toolsCall(requestId=1)), h.post(body("subscriptions/listen", 2))
    third = h.post(toolsCall(requestId=3))
    assert third.status == 200 and third.headers["content-type"] == "application/json"
    assert third.json()["id"] == 3 and error(third)["code"] == jsonrpc.TOO_MANY_REQUESTS
    assert h.era2026.reached == 2
    h.era2026.calls[0].reply({"resultType": "complete", "content": []})
    assert first.status == 200
    fourth = h.post(toolsCall(requestId=4))
    assert h.era2026.reached == 3 and not fourth.complete
    disconnect(second)  # a listen going away gives its place back
    h.post(toolsCall(requestId=5))
    assert h.era2026.reached == 4
    assert endpointOf(h).era2026.inFlight == 2


# -- row 14: a missing client capability ------------------------------------------------------


REQUIRED: dict[str, Any] = {"requiredCapabilities": {"sampling": {}}}


def test_row14_missing_capability_before_anything_is_400_with_its_data() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=14))
    h.era2026.calls[0].error(jsonrpc.MISSING_CAPABILITY, "needs sampling", REQUIRED)
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 14,
        "error": {"code": -32021, "message": "needs sampling", "data": REQUIRED},
    }


def test_row14_missing_capability_after_a_progress_event_is_in_band() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=14, _meta={"progressToken": "p"}))
    call = h.era2026.calls[0]
    progress = jsonrpc.notification("notifications/progress", {"progressToken": "p", "progress": 1})
    assert call.sink(progress)
    call.error(jsonrpc.MISSING_CAPABILITY, "needs sampling", REQUIRED)
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert sseEvents(response) == [
        progress,
        {
            "jsonrpc": "2.0",
            "id": 14,
            "error": {"code": -32021, "message": "needs sampling", "data": REQUIRED},
        },
    ]
    assert response.complete


# -- row 15: results --------------------------------------------------------------------------


DISCOVERED = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {"tools": {"listChanged": True}},
    "_meta": {era2026form.SERVER_INFO_KEY: {"name": "fake", "version": "0"}},
    "ttlMs": 0,
    "cacheScope": "public",
}


def test_row15_discover_goes_to_the_core_and_its_answer_is_json() -> None:
    h = Era2026Harness()
    caps: dict[str, Any] = {"sampling": {}, "elicitation": {"form": {}}}
    response = h.post(discover(capabilities=caps))
    call = h.era2026.calls[0]
    assert call.server == "srv"
    request = call.request
    assert request.clientId == "d" and request.method == "server/discover"
    assert request.params == {}  # the envelope is the web's, not the child's
    assert request.capabilities == caps
    assert request.clientInfo == {"name": "test", "version": "1"}
    assert request.logLevel is None and request.scope == "" and request.credentials == ()
    call.reply(DISCOVERED)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.json() == {"jsonrpc": "2.0", "id": "d", "result": DISCOVERED}
    assert "mcp-session-id" not in response.headers
    assert h.gateway.sessions.get("d") is None and len(h.gateway.sessions) == 0


def test_row15_a_era2026_request_carries_what_the_core_needs() -> None:
    h = Era2026Harness()
    message = toolsCall(
        "ask",
        {"q": "hi"},
        requestId="r2",
        params={"inputResponses": {"k": {"action": "accept"}}, "requestState": "v1.x"},
        _meta={"progressToken": 7, era2026form.LOG_LEVEL_KEY: "debug"},
    )
    h.post(message)
    request = h.era2026.calls[0].request
    assert request.clientId == "r2" and request.method == "tools/call"
    assert request.params == {
        "name": "ask",
        "arguments": {"q": "hi"},
        "_meta": {"progressToken": 7},
    }
    assert request.logLevel == "debug"
    assert request.inputResponses == {"k": {"action": "accept"}}
    assert request.requestState == "v1.x"


def test_row15_ids_are_echoed_verbatim() -> None:
    h = Era2026Harness()
    h.era2026.autoAnswer = {"resultType": "complete", "tools": []}
    assert h.post(body("tools/list", "1")).json()["id"] == "1"
    assert h.post(body("tools/list", 1)).json()["id"] == 1


def test_row15_progress_then_result_is_an_sse_stream_without_ids() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=15, _meta={"progressToken": 15}))
    call = h.era2026.calls[0]
    assert response.transport.value() == b""  # nothing yet: it may still be JSON
    progress = jsonrpc.notification(
        "notifications/progress", {"progressToken": 15, "progress": 1, "total": 2}
    )
    call.sink(progress)
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "mcp-session-id" not in response.headers
    call.reply({"resultType": "complete", "content": []})
    assert sseEvents(response) == [
        progress,
        {"jsonrpc": "2.0", "id": 15, "result": {"resultType": "complete", "content": []}},
    ]
    assert response.complete
    lines = response.body.split(b"\n")
    assert not [line for line in lines if line.startswith((b"id:", b"retry:"))]


def test_row15_a_second_of_silence_commits_sse_and_keep_alives_follow() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=15))
    h.reactor.advance(1.0)
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    h.reactor.advance(15.0)
    assert response.comments() == [b": keep-alive"]
    h.era2026.calls[0].error(jsonrpc.INVALID_PARAMS, "Invalid or expired requestState")
    assert response.status == 200  # committed: in-band
    assert sseEvents(response)[-1]["error"]["code"] == -32602
    assert response.complete


def test_row15_a_child_error_is_in_band() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=15))
    h.era2026.calls[0].error(jsonrpc.INTERNAL_ERROR, "boom")
    assert response.status == 200 and error(response)["code"] == -32603


def test_row15_a_failure_of_the_core_is_an_error_answer_not_a_500() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=15))
    h.era2026.calls[0].answer.errback(ServerUnavailable("server 'srv' is disabled"))
    assert response.status == 200
    assert error(response) == {"code": -32000, "message": "server 'srv' is disabled"}
    with capturedGatewayLogs():
        broken = h.post(toolsCall(requestId=16))
        h.era2026.calls[1].answer.errback(RuntimeError("defect"))
    assert broken.status == 200 and error(broken)["code"] == -32603
    assert endpointOf(h).era2026.inFlight == 0


def test_row15_a_core_that_raises_is_an_error_answer_not_a_500() -> None:
    h = Era2026Harness()

    def broken(*args: Any) -> Any:
        raise RuntimeError("defect")

    h.era2026.era2026Call = broken  # type: ignore[method-assign,assignment]
    with capturedGatewayLogs():
        response = h.post(toolsCall(requestId=15))
    assert response.status == 200 and error(response)["code"] == -32603
    assert endpointOf(h).era2026.inFlight == 0


# -- disconnect = cancel ----------------------------------------------------------------------


def test_the_client_going_away_cancels_the_call() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=1))
    call = h.era2026.calls[0]
    call.sink(jsonrpc.notification("notifications/progress", {"progressToken": 1}))
    written = response.transport.value()
    disconnect(response)
    assert call.cancelled == [True]
    assert not call.sink(jsonrpc.notification("notifications/progress", {"progressToken": 1}))
    assert response.transport.value() == written
    assert endpointOf(h).era2026.inFlight == 0


def test_the_end_of_an_answered_response_is_not_a_cancel() -> None:
    h = Era2026Harness()
    response = h.post(toolsCall(requestId=1))
    call = h.era2026.calls[0]
    call.reply({"resultType": "input_required", "inputRequests": {}, "requestState": "s"})
    disconnect(response)
    assert call.cancelled == []


# -- routes and credentials -------------------------------------------------------------------


def test_a_workspace_route_and_credential_headers_reach_the_core() -> None:
    from mcpgateway.core.pools.keyedplacement import KeyedPlacement

    reactor = FakeProcessReactor()
    base = replace(spec("fs"), mode="workspace", credentialEnv=("TOKEN",))
    key = "a" * 16
    fs = replace(
        base,
        variants=(
            Variant("", replace(base, cwd="/"), "child-global"),
            Variant(key, replace(base, cwd="/work/a"), f"child-{key}"),
        ),
    )
    gateway = Gateway({"fs": fs}, fakeSpawner(reactor))
    assert isinstance(gateway.pools["fs"], ServerPool) and isinstance(
        gateway.pools["fs"].placement, KeyedPlacement
    )
    fake = FakeEra2026()
    h = Era2026Harness()
    h.reactor, h.gateway, h.era2026 = reactor, gateway, fake
    h.site = makeSite(gateway, reactor, keys=WorkspaceKeys(b"s" * 32), era2026=fake)
    h.post(body("tools/list"), path=f"/fs~{key}/mcp", headers={"x-mcp-env-token": "secret"})
    request = fake.calls[0].request
    assert fake.calls[0].server == "fs"
    assert request.scope == key
    assert request.credentials == (("TOKEN", "secret"),)
    assert request.credentialKey and "secret" not in request.credentialKey
    bad = h.request(
        "POST",
        f"/fs~{key}/mcp",
        body("tools/list", 2),
        headers={**headersFor(body("tools/list")), "x-mcp-env-token": "x" * 9000},
    )
    assert bad.status == 400 and error(bad)["code"] == -32600
    assert "X-Mcp-Env-TOKEN" in error(bad)["message"] and len(fake.calls) == 1


# -- subscriptions/listen ---------------------------------------------------------------------


def openListen(h: Era2026Harness, notifications: dict[str, Any] | None = None) -> Response:
    return h.post(
        listenBody(
            notifications
            if notifications is not None
            else {"toolsListChanged": True, "resourceSubscriptions": ["file:///a", "file:///a"]}
        )
    )


TOOLS_CHANGED = jsonrpc.notification("notifications/tools/list_changed")


def test_listen_asks_the_core_for_what_the_client_wants() -> None:
    h = Era2026Harness()
    openListen(h)
    listen = h.era2026.listens[0]
    assert listen.wanted == ListenFilter(tools=True, uris=("file:///a",))
    assert listen.request.method == "subscriptions/listen" and listen.request.clientId == "listen-1"
    assert h.era2026.calls == []


def test_listen_acknowledges_first_then_tags_every_frame() -> None:
    h = Era2026Harness()
    response = openListen(h)
    listen = h.era2026.listens[0]
    assert listen.sink(TOOLS_CHANGED)  # before the core said what it honours: kept
    handle = listen.open(ListenFilter(tools=True))
    updated = jsonrpc.notification("notifications/resources/updated", {"uri": "file:///a"})
    assert listen.sink(updated)
    events = sseEvents(response)
    assert events[0] == era2026form.acknowledged("listen-1", {"toolsListChanged": True})
    assert events[1:] == [
        era2026form.tagged(TOOLS_CHANGED, "listen-1"),
        era2026form.tagged(updated, "listen-1"),
    ]
    for frame in events:
        assert frame["params"]["_meta"][era2026form.SUBSCRIPTION_ID_KEY] == "listen-1"
    assert response.headers["content-type"] == "text/event-stream"
    assert not response.complete and handle.closed == 0


def test_listen_keeps_alive() -> None:
    h = Era2026Harness()
    response = openListen(h)
    h.era2026.listens[0].open()
    h.reactor.advance(15.0)
    assert response.comments() == [b": keep-alive"]


def test_listen_ends_gracefully_when_the_gateway_ends_its_streams() -> None:
    h = Era2026Harness()
    response = openListen(h)
    handle = h.era2026.listens[0].open()
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    assert root.endEra2026Streams("the gateway is stopping") == 1
    assert sseEvents(response)[-1] == listenEnded("listen-1")
    assert listenEnded("listen-1")["result"] == {
        "resultType": "complete",
        "_meta": {era2026form.SUBSCRIPTION_ID_KEY: "listen-1"},
    }
    assert response.complete
    assert handle.closed == 1
    assert endpointOf(h).era2026.inFlight == 0
    assert root.endEra2026Streams("again") == 0


def test_listen_ends_gracefully_when_the_core_ends_it() -> None:
    h = Era2026Harness()
    response = openListen(h)
    handle = h.era2026.listens[0].open()
    handle.ended.callback("server 'srv' was removed")
    assert sseEvents(response)[-1] == listenEnded("listen-1")
    assert response.complete
    assert handle.closed == 0  # the core ended it: nothing to give back
    assert endpointOf(h).era2026.inFlight == 0


def test_listen_client_going_away_closes_the_handle() -> None:
    h = Era2026Harness()
    response = openListen(h)
    handle = h.era2026.listens[0].open()
    disconnect(response)
    assert handle.closed == 1
    assert not h.era2026.listens[0].sink(TOOLS_CHANGED)
    assert endpointOf(h).era2026.inFlight == 0


def test_listen_client_going_away_before_it_opened_cancels_the_opening() -> None:
    h = Era2026Harness()
    response = openListen(h)
    disconnect(response)
    assert h.era2026.listens[0].cancelled == [True]
    assert endpointOf(h).era2026.inFlight == 0


def test_listen_that_cannot_open_is_answered_with_the_error() -> None:
    h = Era2026Harness()
    response = openListen(h)
    h.era2026.listens[0].opened.errback(ServerUnavailable("server 'srv' is disabled"))
    assert response.status == 200 and error(response)["code"] == -32000
    assert endpointOf(h).era2026.inFlight == 0


def test_listen_of_an_empty_filter_is_acknowledged_empty() -> None:
    h = Era2026Harness()
    response = openListen(h, {})
    h.era2026.listens[0].open()
    assert sseEvents(response) == [era2026form.acknowledged("listen-1", {})]


def test_listen_for_tasks_asks_the_core_and_acknowledges_the_ones_honoured() -> None:
    h = Era2026Harness()
    response = h.post(
        body(
            "subscriptions/listen",
            "listen-1",
            {"notifications": {"taskIds": ["t1", "t2", "t1"]}},
            capabilities={"extensions": {EXTENSION: {}}},
        )
    )
    listen = h.era2026.listens[0]
    assert listen.wanted == ListenFilter(taskIds=("t1", "t2"))
    listen.open(ListenFilter(taskIds=("t2",)))
    status = jsonrpc.notification("notifications/tasks", {"taskId": "t2", "status": "working"})
    assert listen.sink(status)
    events = sseEvents(response)
    assert events == [
        era2026form.acknowledged("listen-1", {"taskIds": ["t2"]}),
        era2026form.tagged(status, "listen-1"),
    ]


def test_listen_for_tasks_without_the_extension_is_missing_a_capability() -> None:
    h = Era2026Harness()
    refused = assertRefused(
        h,
        h.post(listenBody({"toolsListChanged": True, "taskIds": ["t1"]}, 11)),
        400,
        jsonrpc.MISSING_CAPABILITY,
        requestId=11,
    )
    assert refused["data"] == {"requiredCapabilities": {"extensions": {EXTENSION: {}}}}
    assert h.era2026.listens == []


def test_honoured_notifications_name_only_what_is_honoured() -> None:
    assert honouredNotifications(ListenFilter()) == {}
    assert honouredNotifications(ListenFilter(True, True, True, ("u",))) == {
        "toolsListChanged": True,
        "promptsListChanged": True,
        "resourcesListChanged": True,
        "resourceSubscriptions": ["u"],
    }


def test_a_hand_over_ends_the_listen_streams() -> None:
    h = Era2026Harness()
    response = openListen(h)
    handle = h.era2026.listens[0].open()
    site = h.site
    assert isinstance(site, GatewaySite)
    site.handOver(1.0)
    assert sseEvents(response)[-1] == listenEnded("listen-1")
    assert handle.closed == 1


def test_stopping_the_listener_ends_the_listen_streams() -> None:
    h = Era2026Harness()
    response = openListen(h)
    handle = h.era2026.listens[0].open()
    endpoint: Any = object()
    listener = ListenerService(endpoint, "tcp:0", h.site, h.reactor)
    listener.startService = lambda: None  # type: ignore[method-assign]
    listener.running = True
    listener.stopService()
    assert sseEvents(response)[-1] == listenEnded("listen-1")
    assert handle.closed == 1


# -- hypothesis: random headers and bodies ---------------------------------------------------


_METHODS = [*sorted(era2026form.ERA2026_METHODS), "initialize", "ping", "x/y", ""]
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["request"] * 6 + ["notification", "other"]))
    if kind == "other":
        return draw(
            st.one_of(
                _JUNK,
                st.lists(st.just(body("tools/list")), min_size=1, max_size=2),
                st.just({"jsonrpc": "2.0", "id": 1, "result": {}}),
            )
        )
    method = draw(st.sampled_from(_METHODS))
    envelope: Any = meta()
    roll = draw(st.sampled_from(["good"] * 4 + ["variant", "junk"]))
    if roll == "variant":
        level = draw(st.sampled_from([None, "debug", "loud"]))
        envelope = meta(version=draw(st.sampled_from(["2026-07-28", "2099-01-01", "2025-11-25"])))
        envelope[era2026form.CAPABILITIES_KEY] = draw(st.one_of(st.just({"sampling": {}}), _JUNK))
        if level is not None:
            envelope[era2026form.LOG_LEVEL_KEY] = level
    elif roll == "junk":
        envelope = draw(_JUNK)
    params: dict[str, Any] = {"_meta": envelope}
    for key, good in (
        ("name", "echo"),
        ("uri", "file:///a"),
        ("arguments", {"region": "eu"}),
        ("inputResponses", {}),
        ("requestState", "v1.x"),
        ("notifications", {"toolsListChanged": True}),
    ):
        choice = draw(st.sampled_from(["good", "good", "absent", "junk"]))
        if choice == "good":
            params[key] = good
        elif choice == "junk":
            params[key] = draw(_JUNK)
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if kind == "request":
        message["id"] = draw(st.one_of(st.integers(), st.text(max_size=4), st.just(True)))
    return message


@st.composite
def headerSets(draw: st.DrawFn, message: Any) -> dict[str, str]:
    correct = headersFor(message) if isinstance(message, dict) else {}
    correct.setdefault("mcp-protocol-version", "2026-07-28")
    correct["mcp-param-region"] = "eu"
    out: dict[str, str] = {}
    for name in ("mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param-region"):
        choice = draw(st.sampled_from(["correct"] * 6 + ["absent", "junk"]))
        if choice == "correct" and name in correct:
            out[name] = correct[name]
        elif choice == "junk":
            out[name] = draw(
                st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=6)
            )
    if draw(st.booleans()):
        out["mcp-session-id"] = "stale"
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_headers_and_bodies_never_500_and_refusals_never_reach_the_core(
    data: st.DataObject,
) -> None:
    h = Era2026Harness()
    h.era2026.autoAnswer = {"resultType": "complete"}
    h.era2026.paramMaps[("srv", "", "echo")] = {"Region": "region"}
    message = data.draw(bodies())
    headers = data.draw(headerSets(message))
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", message, headers=headers)
    if h.era2026.listens:
        h.era2026.listens[0].open()
    assert response.transport.value(), "no answer"
    status = response.status
    event(f"HTTP {status}, reached the core: {h.era2026.reached > 0}")
    assert status != 500
    assert "mcp-session-id" not in response.headers
    assert not [e for e in events if e.get("log_failure") is not None]
    if status != 200:
        assert h.era2026.reached == 0, (status, response.body)
        assert status in (202, 400, 404, 405, 406, 413, 415)
        if status != 202:
            assert response.headers["content-type"] == "application/json"
            answer = response.json()
            assert answer["error"]["code"] in (-32700, -32600, -32601, -32602, -32020, -32022)
    else:
        assert h.era2026.reached == 1, response.body


# -- through the real core (fake children) ------------------------------------------------------


def realPost(h: Harness, message: dict[str, Any]) -> Response:
    return h.request("POST", "/srv/mcp", message, headers=headersFor(message))


def childSampling(meta: dict[str, Any]) -> dict[str, Any]:
    """The child's sampling request 0 (no messages, five tokens) with C{meta}."""
    return jsonrpc.request(
        0, "sampling/createMessage", {"messages": [], "maxTokens": 5, "_meta": meta}
    )


def test_through_the_real_core_discover_and_an_input_required_round_trip() -> None:
    h = Harness()
    discovered = realPost(h, discover())
    h.answerHandshake()
    assert discovered.status == 200
    result = discovered.json()["result"]
    assert result["supportedVersions"] == ["2026-07-28"]
    assert result["resultType"] == "complete" and result["cacheScope"] == "public"
    assert len(h.gateway.sessions) == 0  # a 2026 client opens no session
    caps: dict[str, Any] = {"sampling": {}}
    first = realPost(h, toolsCall("ask", {}, requestId=3, capabilities=caps))
    child = h.process()
    [call] = [m for m in child.sentMessages() if m.get("method") == "tools/call"]
    assert era2026form.PROTOCOL_VERSION_KEY not in json.dumps(call)  # the envelope is stripped
    child.reply(childSampling({childhints.HINT_RELATED: call["id"], childhints.HINT_KEY: "q"}))
    h.reactor.advance(0.1)
    asked = first.json()["result"]
    assert first.status == 200 and asked["resultType"] == "input_required"
    assert asked["inputRequests"] == {
        "q": {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}
    }
    answer = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
    retry = realPost(
        h,
        toolsCall(
            "ask",
            {},
            requestId=4,
            capabilities=caps,
            params={"requestState": asked["requestState"], "inputResponses": {"q": answer}},
        ),
    )
    assert child.sentMessages()[-1] == {"jsonrpc": "2.0", "id": 0, "result": answer}
    child.reply({"jsonrpc": "2.0", "id": call["id"], "result": {"content": []}})
    assert retry.status == 200
    assert retry.json()["id"] == 4 and retry.json()["result"]["resultType"] == "complete"
    assert "mcp-session-id" not in retry.headers


def test_through_the_real_core_a_missing_capability_is_400() -> None:
    h = Harness()
    response = realPost(h, toolsCall("ask", {}, requestId=3))
    h.answerHandshake()
    child = h.process()
    [call] = [m for m in child.sentMessages() if m.get("method") == "tools/call"]
    child.reply(childSampling({childhints.HINT_RELATED: call["id"]}))
    h.reactor.advance(0.1)
    assert response.status == 400
    assert response.json()["error"]["code"] == jsonrpc.MISSING_CAPABILITY
    assert response.json()["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}


# -- row 16: an error answer's status follows its code ------------------------------------------


def readMissing(h: Harness, requestId: str) -> tuple[Response, Any, int]:
    """A 2026 resources/read to a child that declares resources: the
    response, the child, and the child-side id of the read."""
    response = realPost(h, body("resources/read", requestId, {"uri": "file:///missing"}))
    child = h.process()
    assert [m["method"] for m in child.sentMessages()] == ["initialize"]
    h.answerHandshake(capabilities={"resources": {}})
    [sent] = [m for m in child.sentMessages() if m.get("method") == "resources/read"]
    return response, child, sent["id"]


@pytest.mark.parametrize(
    ("childCode", "status", "code"),
    [
        (-32002, 400, jsonrpc.INVALID_PARAMS),  # resource not found, translated
        (jsonrpc.INVALID_PARAMS, 400, jsonrpc.INVALID_PARAMS),
        (jsonrpc.INVALID_REQUEST, 400, jsonrpc.INVALID_REQUEST),
        (jsonrpc.METHOD_NOT_FOUND, 404, jsonrpc.METHOD_NOT_FOUND),
        (jsonrpc.INTERNAL_ERROR, 200, jsonrpc.INTERNAL_ERROR),
        (-32099, 200, jsonrpc.INTERNAL_ERROR),  # an undefined reserved code, translated
        (-1, 200, -1),
    ],
)
def test_row16_a_childs_error_before_anything_streamed_takes_the_status_of_its_code(
    childCode: int, status: int, code: int
) -> None:
    """docs/design/era.md row 16: the Python SDK's table, the child's errors included
    (a resources/read of a missing URI is 400)."""
    h = Harness()
    response, child, sent = readMissing(h, "read-1")
    child.reply({"jsonrpc": "2.0", "id": sent, "error": {"code": childCode, "message": "no"}})
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["id"] == "read-1" and answer["error"]["code"] == code


def test_a_childs_error_answer_is_logged_as_traffic_not_as_a_refusal() -> None:
    """A well-formed 2026 request the child answered with an error (a
    resource it does not have) is an info line saying it was answered, not
    a warning that the client's request was refused."""
    h = Harness()
    with capturedGatewayLogs() as events:
        response, child, sent = readMissing(h, "read-3")
        child.reply({"jsonrpc": "2.0", "id": sent, "error": {"code": -32002, "message": "gone"}})
    assert response.status == 400
    [line] = [e for e in events if "ClientErrors" in str(e.get("log_namespace"))]
    assert line["log_level"] == LogLevel.info
    assert str(line["log_format"]).startswith("answered") and line["reason"] == "gone"


def test_row16_once_committed_a_childs_error_is_in_band() -> None:
    h = Harness()
    response, child, sent = readMissing(h, "read-2")
    h.reactor.advance(1.0)  # a second of silence: committed to SSE
    child.reply({"jsonrpc": "2.0", "id": sent, "error": {"code": -32602, "message": "no"}})
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert sseEvents(response)[-1]["error"]["code"] == -32602


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(taskIds=_JSON | st.lists(st.text(max_size=12), max_size=8), others=_JSON)
def test_a_listens_task_ids_are_a_bounded_list_of_strings_or_refused(
    taskIds: Any, others: Any
) -> None:
    wanted = listenFilter({"notifications": {"taskIds": taskIds}})
    if isinstance(taskIds, list) and all(isinstance(t, str) for t in taskIds):
        assert isinstance(wanted, ListenFilter)
        assert wanted.taskIds == tuple(dict.fromkeys(taskIds))
        assert honouredNotifications(wanted).get("taskIds", []) == list(wanted.taskIds)
    else:
        assert isinstance(wanted, str) and "taskIds" in wanted
    mixed = listenFilter({"notifications": {"taskIds": ["t"], "toolsListChanged": others}})
    assert isinstance(mixed, str) or mixed.taskIds == ("t",)
