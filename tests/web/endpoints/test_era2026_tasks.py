"""The Tasks extension's requests through the real site's 2026-07-28
ladder (a fake core behind it): tasks/get, tasks/update and tasks/cancel
reach the core with their taskId checked against C{Mcp-Name} (-32020 on a
mismatch or a missing header), tasks/update needs an inputResponses
object, and the removed methods (tasks/result, tasks/list) are 404."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.protocol import jsonrpc
from tests.support.web.fakeera2026 import Era2026Harness, body


def tasksBody(method: str, **params: Any) -> dict[str, Any]:
    return body(method, 7, {"taskId": "t-1", **params})


@pytest.mark.parametrize(
    ("method", "params"),
    [("tasks/get", {}), ("tasks/cancel", {}), ("tasks/update", {"inputResponses": {}})],
)
def test_a_tasks_request_reaches_the_core_with_its_task_id(
    method: str, params: dict[str, Any]
) -> None:
    h = Era2026Harness()
    response = h.post(tasksBody(method, **params))
    [call] = h.era2026.calls
    assert call.request.method == method and call.request.params["taskId"] == "t-1"
    assert call.request.inputResponses == params.get("inputResponses")
    call.reply({"resultType": "complete"})
    assert response.status == 200
    assert response.json()["result"] == {"resultType": "complete"}


@pytest.mark.parametrize("name", [None, "t-2"])
def test_mcp_name_must_be_the_task_id(name: str | None) -> None:
    h = Era2026Harness()
    headers = {"mcp-name": name} if name is not None else {}
    message = tasksBody("tasks/get")
    sent = (
        h.post(message, headers=headers)
        if name
        else h.request(
            "POST",
            "/srv/mcp",
            message,
            headers={"mcp-protocol-version": "2026-07-28", "mcp-method": "tasks/get"},
        )
    )
    assert sent.status == 400
    assert sent.json()["error"]["code"] == jsonrpc.HEADER_MISMATCH
    assert h.era2026.reached == 0


def test_a_task_id_that_is_not_a_string_is_invalid_params() -> None:
    h = Era2026Harness()
    response = h.post(body("tasks/get", 7, {"taskId": 5}))
    assert response.status == 400
    assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS


def test_an_update_without_an_input_responses_object_is_invalid_params() -> None:
    h = Era2026Harness()
    response = h.post(tasksBody("tasks/update", inputResponses=[1]))
    assert response.status == 400
    assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS
    assert h.era2026.reached == 0


@pytest.mark.parametrize("method", ["tasks/result", "tasks/list"])
def test_the_removed_methods_are_not_found(method: str) -> None:
    h = Era2026Harness()
    response = h.post(tasksBody(method))
    assert response.status == 404
    assert response.json()["error"]["code"] == jsonrpc.METHOD_NOT_FOUND
