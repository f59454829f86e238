"""Workspace routes and credential headers at the HTTP layer (docs/guide/scopes.md).

C{/<server>~<key>/mcp} reaches the endpoint of that route, whose sessions
carry its key and its variant; an unknown key is 404 and never falls back to
the global route; a session is only found through the route it was opened
on. C{X-Mcp-Env-<NAME>} headers count only for the names the entry lists in
C{credentialEnv}: their values are keyed, go into the session's variant (so
into its child's environment), and never into a log event.

Real Site, real pools (a L{mcpgateway.core.pools.keyedplacement.KeyedPlacement} for the
server with routes), fake children, fake clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from twisted.web.http_headers import Headers

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.report.metrics import renderMetrics
from mcpgateway.web.app import GatewaySite
from mcpgateway.web.endpoints.credentials import BadCredential, readCredentials
from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.root import GatewayRoot
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, Response
from tests.support.web.scopes_web import KEY_A, KEY_B, SECRET, UNKNOWN, initialize, scopedHarness

TOKEN = "tok-3f9a1c-never-logged"


def sessionOf(h: Harness, sid: str) -> Session:
    session = h.gateway.sessions.get(sid)
    assert session is not None
    return session


def call(
    h: Harness, path: str, sid: str, headers: dict[str, str] | None = None, requestId: int = 7
) -> Response:
    return h.request(
        "POST",
        path,
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/list"},
        session=sid,
        headers=headers,
    )


# -- routes ---------------------------------------------------------------------------


def test_a_workspace_route_opens_a_session_of_its_variant() -> None:
    h = scopedHarness()
    sid = h.initialize(f"fs~{KEY_A}")
    session = sessionOf(h, sid)
    assert session.scope == KEY_A
    assert session.variant is not None and session.variant.launch.cwd == "/work/a"


def test_the_global_route_is_unchanged() -> None:
    h = scopedHarness()
    session = sessionOf(h, h.initialize("fs"))
    assert session.scope == ""
    assert sessionOf(h, h.initialize("srv")).scope == ""


def test_an_unknown_key_is_404_and_never_the_global_route() -> None:
    h = scopedHarness()
    response = initialize(h, f"/fs~{UNKNOWN}/mcp")
    assert response.status == 404
    assert "no route" in response.json()["error"]["message"]
    assert h.reactor.processes == []  # nothing was started for it
    assert len(h.gateway.sessions) == 0


def test_a_key_on_a_server_without_routes_or_an_empty_key_is_404() -> None:
    h = scopedHarness()
    assert initialize(h, f"/srv~{KEY_A}/mcp").status == 404
    assert initialize(h, "/fs~/mcp").status == 404
    missing = initialize(h, f"/nope~{KEY_A}/mcp")
    assert missing.status == 404
    assert "no server named 'nope'" in missing.json()["error"]["message"]


def test_a_session_is_found_only_through_its_own_route() -> None:
    h = scopedHarness()
    onA = h.initialize(f"fs~{KEY_A}")
    onGlobal = h.initialize("fs")
    assert call(h, f"/fs~{KEY_B}/mcp", onA).status == 404
    assert call(h, "/fs/mcp", onA).status == 404
    assert call(h, f"/fs~{KEY_A}/mcp", onGlobal).status == 404
    get = h.request("GET", f"/fs~{KEY_B}/mcp", session=onA, accept="text/event-stream")
    assert get.status == 404
    assert h.request("DELETE", f"/fs~{KEY_B}/mcp", session=onA).status == 404
    assert h.gateway.sessions.get(onA) is not None
    # Through its own route it is served.
    response = call(h, f"/fs~{KEY_A}/mcp", onA)
    [(child, sent)] = [
        (p, m)
        for p in h.reactor.processes
        for m in p.sentMessages()
        if m.get("method") == "tools/list"
    ]
    assert child.path == "/work/a"  # the child of workspace A
    child.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"tools": []}})
    assert response.status == 200 and response.events()[-1]["result"] == {"tools": []}


def test_a_route_that_goes_away_on_reload_is_404() -> None:
    h = scopedHarness()
    assert h.initialize(f"fs~{KEY_B}")
    pool = h.gateway.pools["fs"]
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
    pool.useSpec(replace(pool.spec, variants=pool.spec.variants[:2]))  # workspace B is gone
    assert initialize(h, f"/fs~{KEY_B}/mcp").status == 404


# -- credential headers ---------------------------------------------------------------


def test_a_listed_credential_header_reaches_the_variant_and_is_never_logged() -> None:
    h = scopedHarness(credentialEnv=("GITHUB_TOKEN",))
    with capturedGatewayLogs() as events:
        response = initialize(
            h, f"/fs~{KEY_A}/mcp", {"X-Mcp-Env-GITHUB_TOKEN": TOKEN, "X-Mcp-Env-PATH": "/evil"}
        )
        sid = response.headers["mcp-session-id"]
        session = sessionOf(h, sid)
        call(h, f"/fs~{KEY_A}/mcp", sid, {"X-Mcp-Env-GITHUB_TOKEN": TOKEN}, requestId=9)
    assert session.credential == WorkspaceKeys(SECRET).credential({"GITHUB_TOKEN": TOKEN})
    assert session.variant is not None
    env = dict(session.variant.launch.env)
    assert env["GITHUB_TOKEN"] == TOKEN
    assert "PATH" not in env  # not listed: never reaches a child
    assert [m["id"] for m in h.process().sentMessages() if m.get("method") == "tools/list"]
    [child] = h.reactor.processes
    assert child.env is not None and child.env["GITHUB_TOKEN"] == TOKEN
    assert "PATH" not in child.env and child.path == "/work/a"
    rendered = repr([dict(e) for e in events])
    assert TOKEN not in rendered and "/evil" not in rendered
    [ignored] = [e for e in events if "ignored the header" in e.get("log_format", "")]
    assert ignored["names"] == "X-Mcp-Env-PATH"  # its name as the client wrote it here


def test_credential_headers_on_a_server_that_lists_none_are_ignored() -> None:
    h = scopedHarness()
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-GITHUB_TOKEN": TOKEN}).headers["mcp-session-id"]
    session = sessionOf(h, sid)
    assert session.credential == ""
    assert session.variant is not None and "GITHUB_TOKEN" not in dict(session.variant.launch.env)
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    endpoint = root._endpoints["fs"]
    assert endpoint.ignoredCredentialHeaders == 1


def test_two_credentials_give_two_keys_the_same_one_key() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    keys = []
    for value in ("one", "two", "one"):
        response = initialize(h, "/fs/mcp", {"X-Mcp-Env-TOKEN": value})
        keys.append(sessionOf(h, response.headers["mcp-session-id"]).credential)
    assert keys[0] == keys[2] != keys[1]
    assert all(len(key) == 16 for key in keys)
    # Two credential sets, two children; the same one again, the same child.
    assert [p.env["TOKEN"] for p in h.reactor.processes if p.env] == ["one", "two"]


def test_other_credentials_on_an_open_session_are_refused_in_band() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-TOKEN": "one"}).headers["mcp-session-id"]
    sent = len(h.process().sentMessages())
    response = call(h, "/fs/mcp", sid, {"X-Mcp-Env-TOKEN": "two"})
    assert response.status == 200
    error = response.json()["error"]
    assert error["code"] == -32602 and "initialize again" in error["message"]
    assert "two" not in error["message"]
    assert len(h.process().sentMessages()) == sent  # nothing reached the child
    notification = h.request(
        "POST",
        "/fs/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        session=sid,
        headers={"X-Mcp-Env-TOKEN": "two"},
    )
    assert notification.status == 400


def test_a_repeated_credential_header_is_refused() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    response = initialize(h, "/fs/mcp", {"X-Mcp-Env-TOKEN": "one", "x-mcp-env-token": "two"})
    assert response.status == 400
    assert "X-Mcp-Env-TOKEN is given 2 times" in response.json()["error"]["message"]
    assert len(h.gateway.sessions) == 0


def test_a_restored_credential_session_is_bound_again_by_its_headers() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    sid = initialize(h, "/fs/mcp", {"X-Mcp-Env-TOKEN": "one"}).headers["mcp-session-id"]
    session = sessionOf(h, sid)
    session.variant = None  # as restored from sessions.json: the key, not the values
    without = call(h, "/fs/mcp", sid)
    assert "not known to this gateway process" in without.json()["error"]["message"]
    assert (
        "initialize again"
        in call(h, "/fs/mcp", sid, {"X-Mcp-Env-TOKEN": "two"}).json()["error"]["message"]
    )
    assert session.variant is None
    call(h, "/fs/mcp", sid, {"X-Mcp-Env-TOKEN": "one"})
    assert session.variant is not None and dict(session.variant.launch.env)["TOKEN"] == "one"


def headersWith(pairs: list[tuple[bytes, bytes]]) -> Any:
    class Request:
        requestHeaders = Headers()

    request = Request()
    request.requestHeaders = Headers()
    for name, value in pairs:
        request.requestHeaders.addRawHeader(name, value)
    return request


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"x-mcp-env-token", b"X-Mcp-Env-OTHER", b"x-mcp-env-a", b"accept"]),
            st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
        ),
        max_size=5,
    )
)
def test_reading_credentials_gives_listed_names_or_a_refusal(
    pairs: list[tuple[bytes, bytes]],
) -> None:
    request = headersWith(pairs)
    try:
        values = readCredentials(request, ("TOKEN", "A"))
    except BadCredential as e:
        for _, value in pairs:  # the refusal never shows a value
            if len(value) > 3:
                assert value.decode("latin-1") not in str(e)
        return
    assert {name for name, _ in values} <= {"TOKEN", "A"}
    assert list(values) == sorted(values)
    for name, text in values:
        assert "\0" not in text
        assert (b"x-mcp-env-" + name.lower().encode(), text.encode()) in [
            (k.lower(), v) for k, v in pairs
        ]


# -- a restart's hand-over --------------------------------------------------------------


def test_a_get_stream_of_an_older_protocol_after_the_hand_over_ends_without_a_retry() -> None:
    h = Harness()
    sid = h.initialize(version="2025-03-26")
    site = h.site
    assert isinstance(site, GatewaySite)
    site.handOver(30.0)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream", headers={})
    assert stream.status == 200 and stream.complete
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.headers["connection"] == "close"
    assert stream.body == b""
    assert stream.transport.disconnecting
    session = sessionOf(h, sid)
    assert session.getStream is None


def test_a_resumable_get_stream_after_the_hand_over_carries_only_the_retry_delay() -> None:
    h = Harness()
    sid = h.initialize()
    site = h.site
    assert isinstance(site, GatewaySite)
    site.handOver(30.0)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.complete and stream.transport.disconnecting
    assert stream.body == b"retry: 1000\n\n" or stream.body.startswith(b"retry: ")
    assert b"id:" not in stream.body and b"data:" not in stream.body


def test_endpoints_built_without_keys_refuse_credential_headers() -> None:
    h = scopedHarness(credentialEnv=("TOKEN",))
    endpoint = McpEndpoint(h.gateway, "fs", h.reactor)
    request = headersWith([(b"x-mcp-env-token", b"v")])
    try:
        endpoint._credentials.read(request)
    except BadCredential as e:
        assert "no credential headers" in str(e)
    else:
        raise AssertionError("accepted without keys")


# -- /health and /metrics of a scoped server ------------------------------------------------


def test_health_and_metrics_show_the_children_by_scope_key() -> None:
    h = scopedHarness()
    h.initialize(f"fs~{KEY_A}")
    h.initialize(f"fs~{KEY_A}")
    h.initialize(f"fs~{KEY_B}")
    health = h.request("GET", "/health").json()
    fs = health["servers"]["fs"]
    assert (fs["share"], fs["mode"], fs["children"], fs["maxChildren"]) == (
        "workspace",
        "stateless",
        2,
        16,
    )
    pids = {p.path: p.pid for p in h.reactor.processes}
    assert fs["scopes"] == {
        KEY_A: {"pid": pids["/work/a"], "sessions": 2, "children": 1},
        KEY_B: {"pid": pids["/work/b"], "sessions": 1, "children": 1},
    }
    assert (fs["poolWaits"], fs["poolTimeouts"], fs["evictions"], fs["promoted"]) == (
        0,
        0,
        0,
        None,
    )
    assert "/work/a" not in h.request("GET", "/health").body.decode()
    rows = h.request("GET", "/sessions").json()["sessions"]
    assert sorted(r["scope"] for r in rows if r["server"] == "fs") == [KEY_A, KEY_A, KEY_B]
    text = renderMetrics(h.gateway, "/nonexistent-proc").decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples[("mcpgateway_server_children", (("scope", "workspace"), ("server", "fs")))] == 2
    assert samples[("mcpgateway_scope_sessions", (("scope_key", KEY_A), ("server", "fs")))] == 2
    assert samples[("mcpgateway_scope_sessions", (("scope_key", KEY_B), ("server", "fs")))] == 1
    assert samples[("mcpgateway_server_promoted", (("server", "fs"),))] == 0
    assert samples[("mcpgateway_pool_waits_total", (("server", "fs"),))] == 0
    assert "/work/a" not in text
