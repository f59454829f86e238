"""What C{/<server>/mcp} answers and logs on the paths a fresh user takes
wrong (docs/guide/errors.md, docs/guide/scopes.md):

- an unusable C{X-Mcp-Env-*} header (over 8192 bytes, repeated) is 400 with
  C{-32600} on every request of a session (a DELETE too), as on
  C{initialize}; other values than the session's stay C{-32602} in-band;
- an ignored C{X-Mcp-Env-*} header is logged by its name in upper case,
  whatever case the client wrote, and never with its value;
- C{Session not found} and C{no route} answers carry the request's id when
  the body was read (C{null} for a notification, a batch, a GET, a DELETE,
  and for a refusal made from the path before any body is read).

Real Site, real pools, fake children, fake clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.backends import PREDECESSOR_WAIT
from mcpgateway.web.endpoints.credentials import MAX_CREDENTIAL
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.core.predecessor import Restart
from tests.support.web.scopes_web import KEY_A, SECRET, UNKNOWN, initialize, scopedHarness, variant

BIG = "t" * (MAX_CREDENTIAL + 808)  # 9,000 bytes, as a client once sent


def toolsList(
    h: Harness, sid: str, headers: dict[str, str] | None = None, requestId: Any = 7
) -> Response:
    return h.request(
        "POST",
        "/fs/mcp",
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/list"},
        session=sid,
        headers=headers,
    )


def childGot(h: Harness, method: str) -> list[Any]:
    return [m for p in h.reactor.processes for m in p.sentMessages() if m.get("method") == method]


# -- item 6: an unusable credential header is 400 on every request ------------------------


def test_an_oversized_credential_header_on_a_later_request_is_400_as_on_initialize() -> None:
    h = scopedHarness(credentialEnv=("SECRET_TOKEN",))
    refusedAtStart = initialize(h, "/fs/mcp", {"X-Mcp-Env-SECRET_TOKEN": BIG})
    assert refusedAtStart.status == 400
    assert refusedAtStart.json()["error"]["code"] == -32600
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-SECRET_TOKEN": "ok"}).headers["mcp-session-id"]
    with capturedGatewayLogs() as events:
        response = toolsList(h, sid, {"X-Mcp-Env-SECRET_TOKEN": BIG})
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32600, "message": "X-Mcp-Env-SECRET_TOKEN is over 8192 bytes"},
    }
    assert response.json()["error"] == refusedAtStart.json()["error"]
    assert childGot(h, "tools/list") == []  # nothing reached the child
    assert BIG not in repr([dict(e) for e in events])
    assert h.gateway.sessions.get(sid) is not None  # the session lives on
    # A notification and a GET of the session: the same 400.
    notification = h.request(
        "POST",
        "/fs/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        session=sid,
        headers={"X-Mcp-Env-SECRET_TOKEN": BIG},
    )
    assert notification.status == 400 and notification.json()["id"] is None
    assert notification.json()["error"]["code"] == -32600
    big = {"X-Mcp-Env-SECRET_TOKEN": BIG}
    stream = h.request("GET", "/fs/mcp", session=sid, accept="text/event-stream", headers=big)
    assert stream.status == 400 and stream.json()["error"]["code"] == -32600


def test_a_delete_with_an_unusable_credential_header_is_400_and_the_session_lives_on() -> None:
    # DELETE was the one request of the session the check
    # skipped: it ended the session (200) despite a 9,000-byte header.
    h = scopedHarness(credentialEnv=("SECRET_TOKEN",))
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-SECRET_TOKEN": "ok"}).headers["mcp-session-id"]
    for bad in ({"X-Mcp-Env-SECRET_TOKEN": BIG}, {"X-Mcp-Env-SECRET_TOKEN": "a\u00ff"}):
        with capturedGatewayLogs() as events:
            refused = h.request("DELETE", "/fs/mcp", session=sid, headers=bad)
        assert refused.status == 400, bad
        assert refused.json()["id"] is None
        assert refused.json()["error"]["code"] == -32600
        assert "X-Mcp-Env-SECRET_TOKEN" in refused.json()["error"]["message"]
        assert BIG not in repr([dict(e) for e in events])
        assert h.gateway.sessions.get(sid) is not None  # not ended
    # Its own values, other values or none: a DELETE ends the session (it
    # needs no child; a restored session's client may not have them).
    ended = h.request("DELETE", "/fs/mcp", session=sid, headers={"X-Mcp-Env-SECRET_TOKEN": "no"})
    assert ended.status == 200 and ended.json()["ended"]["sessions"] == [sid]
    assert h.gateway.sessions.get(sid) is None


def test_a_repeated_credential_header_on_a_later_request_is_400() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-TOKEN": "one"}).headers["mcp-session-id"]
    response = toolsList(h, sid, {"X-Mcp-Env-TOKEN": "one", "x-mcp-env-token": "one"})
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == -32600 and "given 2 times" in error["message"]
    # Other values than the session's: still in-band, -32602 (docs/guide/scopes.md).
    differ = toolsList(h, sid, {"X-Mcp-Env-TOKEN": "two"})
    assert differ.status == 200 and differ.json()["error"]["code"] == -32602


# -- item c: an ignored header's name ---------------------------------------------------------


def test_an_ignored_header_is_logged_once_by_its_name_in_upper_case() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    with capturedGatewayLogs() as events:
        sid = initialize(
            h, "/fs/mcp", {"X-Mcp-Env-TOKEN": "one", "X-Mcp-Env-other_var": "hidden-value"}
        ).headers["mcp-session-id"]
        toolsList(h, sid, {"X-Mcp-Env-TOKEN": "one", "x-mcp-env-OTHER_VAR": "hidden-value"})
        toolsList(h, sid, {"X-Mcp-Env-TOKEN": "one", "X-MCP-ENV-Other_Var": "hidden-value"})
    ignored = [e for e in events if "ignored the header" in e.get("log_format", "")]
    assert [e["names"] for e in ignored] == ["X-Mcp-Env-OTHER_VAR"]  # one name, once
    assert "hidden-value" not in repr([dict(e) for e in events])


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abcxyzABCXYZ_019"), min_size=1, max_size=12).filter(
        lambda name: name.upper() != "TOKEN"
    )
)
def test_an_ignored_header_name_is_shown_the_same_whatever_its_case(name: str) -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    shown = set()
    for spelled in (name, name.lower(), name.upper(), name.swapcase()):
        with capturedGatewayLogs() as events:
            initialize(h, "/fs/mcp", {f"x-MCP-env-{spelled}": "v"})
        shown |= {e["names"] for e in events if "ignored the header" in e.get("log_format", "")}
    assert shown == {f"X-Mcp-Env-{name.upper()}"}


# -- item f: the request's id on 404 --------------------------------------------------------


def test_session_not_found_carries_the_requests_id() -> None:
    h = Harness()
    for requestId in (5, "q-5", 0, -3.5):
        response = h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": requestId, "method": "tools/list"},
            session="no-such-session",
        )
        assert response.status == 404
        assert response.json() == {
            "jsonrpc": "2.0",
            "id": requestId,
            "error": {"code": -32600, "message": "Session not found"},
        }


def test_session_not_found_is_null_where_there_is_no_request_id() -> None:
    h = Harness()
    notification = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        session="no-such-session",
    )
    stream = h.request("GET", "/srv/mcp", session="no-such-session", accept="text/event-stream")
    delete = h.request("DELETE", "/srv/mcp", session="no-such-session")
    for response in (notification, stream, delete):
        assert response.status == 404
        assert response.json()["id"] is None
        assert response.json()["error"]["message"] == "Session not found"


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.text(max_size=40),
        st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_any_valid_request_id_comes_back_on_session_not_found(requestId: Any) -> None:
    h = Harness()
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "x"}},
        session="gone",
    )
    assert response.status == 404 and response.json()["id"] == requestId


def test_the_session_of_a_dead_own_child_goes_on_on_a_new_one() -> None:
    """The session's next request is not a 404: a new child is started, the
    session's initialize replayed to it, and the request answered there."""
    h = Harness({"st": spec("st", mode="stateful")})
    sid = h.initialize("st")
    dead = h.process()
    dead.exit(1)
    response = h.request(
        "POST", "/st/mcp", {"jsonrpc": "2.0", "id": "q-1", "method": "tools/list"}, session=sid
    )
    h.reactor.advance(2)  # the breaker's backoff after a crash
    fresh = h.process()
    assert fresh is not dead
    h.answerHandshake()
    [forwarded] = [m for m in fresh.sentMessages() if m.get("method") == "tools/list"]
    fresh.reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"tools": []}})
    assert response.status == 200
    # The warning that the child is new comes first, once.
    assert [e.get("id") for e in response.events()] == [None, "q-1"]
    assert response.events()[0]["params"]["level"] == "warning"


def test_no_route_on_initialize_carries_its_id_and_an_unknown_key_null() -> None:
    """A project-only server has no key-less route: C{initialize} there is
    read, and answered with its id; an unknown route key is refused from the
    path, before the body is read: C{null}."""
    h = Harness()
    base = replace(spec("fs"), mode="workspace")
    fs = replace(base, variants=(variant(base, KEY_A, "/work/a"),))
    h.reactor = FakeProcessReactor()
    h.gateway = Gateway({"fs": fs}, fakeSpawner(h.reactor), lazyStart=False)
    h.site = makeSite(h.gateway, h.reactor, loopbackOnly=True, keys=WorkspaceKeys(SECRET))
    init = {
        "jsonrpc": "2.0",
        "id": "init-9",
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    global_ = h.request("POST", "/fs/mcp", init)
    assert global_.status == 404
    assert global_.json()["id"] == "init-9"
    assert global_.json()["error"]["message"].startswith("no route: ")
    unknown = h.request("POST", f"/fs~{UNKNOWN}/mcp", init)
    assert unknown.status == 404 and unknown.json()["id"] is None


def test_after_waiting_for_the_predecessor_session_not_found_carries_the_id() -> None:
    r = Restart()
    response = r.new.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": "late-1", "method": "tools/list"},
        session="never-issued-by-anyone",
    )
    assert response.transport.value() == b""  # it waits for the predecessor
    r.new.reactor.advance(PREDECESSOR_WAIT)
    assert response.status == 404
    assert response.json()["id"] == "late-1"
    assert response.json()["error"]["message"] == "Session not found"


def test_a_request_without_its_session_header_gets_its_id_back_too() -> None:
    h = Harness()
    missing = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 11, "method": "tools/list"})
    assert missing.status == 400 and missing.json()["id"] == 11
