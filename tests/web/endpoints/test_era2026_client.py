"""The client a 2026 request names, as the web hands it to the core: the pid
it says it runs as (C{X-Client-Pid}, else C{clientInfo.pid}), never for an
authenticated request, and whatever else its C{clientInfo} holds."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from mcpgateway.protocol.era2026form import CLIENT_INFO_KEY
from tests.support.json_values import jsonValues
from tests.support.web.fakeera2026 import Era2026Harness, body, meta


def clientOf(h: Era2026Harness, info: Any, headers: dict[str, str] | None = None) -> Any:
    """The request the core got for a C{tools/list} whose C{clientInfo} is C{info}."""
    envelope = meta()
    envelope[CLIENT_INFO_KEY] = info
    h.era2026.autoAnswer = {"tools": []}
    response = h.post(body("tools/list", _meta=envelope), headers=headers)
    assert response.status == 200, response.body
    return h.era2026.calls[-1].request


def test_the_pid_a_client_says_is_on_its_request() -> None:
    h = Era2026Harness()
    assert clientOf(h, {"name": "c"}).clientPid is None
    assert clientOf(h, {"name": "c", "pid": 4242}).clientPid == 4242
    assert clientOf(h, {"name": "c", "pid": 4242}, {"x-client-pid": "77"}).clientPid == 77
    assert clientOf(h, {"name": "c", "pid": "4242"}).clientPid is None
    assert clientOf(h, {"name": "c", "pid": True}).clientPid is None


@given(jsonValues())
def test_any_client_info_object_is_carried_without_error(info: Any) -> None:
    h = Era2026Harness()
    request = clientOf(h, {"name": info, "pid": info})
    assert request.clientInfo == {"name": info, "pid": info}
    assert request.clientPid is None or request.clientPid == info
