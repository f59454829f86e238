"""MCP Apps on the aggregate endpoint: C{ui://} URIs under their server
(round-trips, never collide, never escape), every reference rewritten the
same way and nothing else touched, visibility as the extension defines it."""

from __future__ import annotations

import copy
import json
from collections.abc import Hashable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core.aggregate.apps import (
    EXTENSION,
    FLAT_KEY,
    MIME_TYPE,
    appTool,
    declared,
    declaresUi,
    forApps,
    forModel,
    listedTo,
    namespaced,
    original,
    readResult,
    resourceEntry,
    template,
    toolDefinition,
    toolResult,
    updated,
    visibility,
)
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberCall, screened
from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.relay import MemberRelay
from mcpgateway.core.aggregate.skills import localOf
from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, Owner
from mcpgateway.core.aggregate.view import Member, buildView
from mcpgateway.core.decision import ALLOWED, Decision
from mcpgateway.protocol import jsonrpc
from tests.fakes import RecordingSink
from tests.support.core.aggregate import relay as relay_support

servers = st.text(min_size=1, max_size=64)
rests = st.text(max_size=80)

CSP_META = {
    "ui": {
        "csp": {
            "connectDomains": ["https://api.example.com"],
            "resourceDomains": ["https://*.cdn.example.com"],
        },
        "domain": "a904794854a047f6.example.com",
        "permissions": {"clipboardWrite": {}},
        "prefersBorder": True,
    }
}


@given(servers, rests)
def test_namespacing_round_trips(server: str, rest: str) -> None:
    uri = "ui://" + rest
    shown = namespaced(server, uri)
    assert shown.startswith("ui://")
    assert original(shown) == (server, uri)


@given(servers, rests, servers, rests)
def test_two_members_apps_never_collide(a: str, ra: str, b: str, rb: str) -> None:
    if (a, ra) != (b, rb):
        assert namespaced(a, "ui://" + ra) != namespaced(b, "ui://" + rb)


@given(st.text(max_size=120))
def test_a_uri_never_escapes_its_member(uri: str) -> None:
    """Whatever a client sends, what it reaches is one member's C{ui://}
    URI, and exactly the one that member's URI is shown as."""
    found = original(uri)
    if found is not None:
        server, own = found
        assert own.startswith("ui://")
        assert server
        assert namespaced(server, own) == uri


@given(servers, st.text(max_size=80).filter(lambda u: not u.startswith("ui://")))
def test_other_schemes_are_untouched(server: str, uri: str) -> None:
    assert namespaced(server, uri) == uri
    assert original(uri) is None


@given(
    servers.filter(lambda s: "/" not in s),
    rests,
    st.sampled_from(["ui://", "skill://", "file:///"]),
)
def test_an_update_names_the_uri_a_client_subscribed_to(
    server: str, rest: str, scheme: str
) -> None:
    """A member's update of its own URI comes back as the URI the aggregate
    shows for it, which leads back to that member's URI."""
    uri = scheme + rest
    message = jsonrpc.notification("notifications/resources/updated", {"uri": uri, "x": 1})
    shown = updated(message, server)
    assert shown["params"]["x"] == 1
    back = original(shown["params"]["uri"]) or localOf(shown["params"]["uri"])
    if scheme == "ui://" or (scheme == "skill://" and rest):
        assert back == (server, uri)
    else:
        assert shown == message


def test_an_update_of_another_kind_is_untouched() -> None:
    changed = jsonrpc.notification("notifications/resources/list_changed")
    assert updated(changed, "alpha") is changed
    odd = jsonrpc.notification("notifications/resources/updated", {"uri": 7})
    assert updated(odd, "alpha") is odd
    bare = jsonrpc.notification("notifications/resources/updated")
    assert updated(bare, "alpha") is bare


def test_the_shape_of_a_namespaced_uri() -> None:
    assert namespaced("basic", "ui://get-time/mcp-app.html") == "ui://basic/get-time/mcp-app.html"
    assert namespaced("a/b", "ui://x") == "ui://a%2Fb/x"
    assert original("ui://a%2fb/x") is None  # one spelling per server
    assert original("ui:///x") is None
    assert original("ui://basic") is None
    assert original("UI://basic/x") is None


def test_a_tool_definition_names_its_app_under_its_server() -> None:
    tool = {
        "name": "basic__get-time",
        "inputSchema": {"type": "object"},
        "_meta": {
            "ui": {"resourceUri": "ui://get-time/mcp-app.html", "visibility": ["model", "app"]},
            FLAT_KEY: "ui://get-time/mcp-app.html",
            "other": {"kept": 1},
        },
    }
    before = copy.deepcopy(tool)
    shown = toolDefinition(tool, "basic")
    assert tool == before  # the catalog's copy is never changed
    assert shown["_meta"] == {
        "ui": {
            "resourceUri": "ui://basic/get-time/mcp-app.html",
            "visibility": ["model", "app"],
        },
        FLAT_KEY: "ui://basic/get-time/mcp-app.html",
        "other": {"kept": 1},
    }
    plain = {"name": "x", "inputSchema": {}}
    assert toolDefinition(plain, "basic") is plain


def test_a_resource_keeps_its_meta_byte_for_byte() -> None:
    resource = {
        "uri": "ui://sheet-music/mcp-app.html",
        "name": "viewer",
        "mimeType": MIME_TYPE,
        "_meta": CSP_META,
    }
    shown = resourceEntry(resource, "music")
    assert shown["uri"] == "ui://music/sheet-music/mcp-app.html"
    assert json.dumps(shown["_meta"]) == json.dumps(CSP_META)
    assert shown["mimeType"] == MIME_TYPE
    other = {"uri": "file:///x", "name": "x"}
    assert resourceEntry(other, "music") is other


def test_a_read_result_changes_only_its_uris() -> None:
    html = "<!doctype html><html><head></head><body>app</body></html>"
    result = {
        "contents": [
            {
                "uri": "ui://sheet-music/mcp-app.html",
                "mimeType": MIME_TYPE,
                "text": html,
                "_meta": CSP_META,
            },
        ],
        "_meta": {"x": 1},
    }
    shown = readResult(result, "music")
    (content,) = shown["contents"]
    assert content["uri"] == "ui://music/sheet-music/mcp-app.html"
    assert content["text"] == html
    assert content["mimeType"] == MIME_TYPE
    assert json.dumps(content["_meta"]) == json.dumps(CSP_META)
    assert shown["_meta"] == {"x": 1}
    plain = {"contents": [{"uri": "file:///a", "text": "a"}]}
    assert readResult(plain, "music") is plain


def test_a_tool_result_names_its_apps_under_its_server() -> None:
    result: dict[str, Any] = {
        "content": [
            {"type": "text", "text": "ui://not-a-reference"},
            {"type": "resource_link", "uri": "ui://a/b.html", "name": "b"},
            {"type": "resource", "resource": {"uri": "ui://c.html", "text": "<p>"}},
            {"type": "resource_link", "uri": "https://example.com/", "name": "web"},
        ],
        "_meta": {"ui": {"resourceUri": "ui://a/b.html"}},
    }
    shown = toolResult(result, "srv")
    assert shown["content"][0] == result["content"][0]
    assert shown["content"][1]["uri"] == "ui://srv/a/b.html"
    assert shown["content"][2]["resource"]["uri"] == "ui://srv/c.html"
    assert shown["content"][3] is result["content"][3]
    assert shown["_meta"] == {"ui": {"resourceUri": "ui://srv/a/b.html"}}
    plain = {"content": [{"type": "text", "text": "x"}]}
    assert toolResult(plain, "srv") is plain


def test_a_template_of_apps_expands_under_its_server() -> None:
    given_ = {"uriTemplate": "ui://charts/{id}", "name": "chart"}
    assert template(given_, "viz")["uriTemplate"] == "ui://viz/charts/{id}"
    other = {"uriTemplate": "file:///{path}", "name": "f"}
    assert template(other, "viz") is other


def test_visibility_defaults_to_model_and_app() -> None:
    assert visibility({}) == ("model", "app")
    assert visibility({"_meta": {"ui": {"resourceUri": "ui://x"}}}) == ("model", "app")
    appOnly = {"_meta": {"ui": {"visibility": ["app"]}}}
    assert not forModel(appOnly)
    assert forApps(appOnly)
    modelOnly = {"_meta": {"ui": {"visibility": ["model"]}}}
    assert forModel(modelOnly)
    assert not forApps(modelOnly)


def test_app_only_tools_are_listed_to_hosts_of_apps_only() -> None:
    tools: list[dict[str, Any]] = [
        {"name": "a__get", "_meta": {"ui": {"resourceUri": "ui://a/x"}}},
        {"name": "a__poll", "_meta": {"ui": {"visibility": ["app"]}}},
        {"name": "search"},
    ]
    host = {"extensions": {EXTENSION: {"mimeTypes": [MIME_TYPE]}}}
    assert declaresUi(host)
    assert listedTo(tools, host) == tools
    assert [t["name"] for t in listedTo(tools, {})] == ["a__get", "search"]
    assert [t["name"] for t in listedTo(tools, {"extensions": {EXTENSION: True}})] == [
        "a__get",
        "search",
    ]
    assert not declaresUi(None)


def test_the_aggregate_declares_what_its_members_declare() -> None:
    assert declared([{}, {"tools": {}}]) is None
    assert declared([{"extensions": {EXTENSION: {}}}]) == {}
    assert declared(
        [
            {"extensions": {EXTENSION: {"mimeTypes": [MIME_TYPE]}}},
            {"extensions": {EXTENSION: {"mimeTypes": [MIME_TYPE, "text/x"]}}},
        ]
    ) == {"mimeTypes": [MIME_TYPE, "text/x"]}


def test_an_app_reaches_its_tool_by_its_own_name_only_when_one_member_has_it() -> None:
    owners = {
        "basic__get-time": Owner("basic", "get-time"),
        "preact__get-time": Owner("preact", "get-time"),
        "mon__poll": Owner("mon", "poll"),
        "mon__model-only": Owner("mon", "model-only"),
    }
    definitions = {
        "basic__get-time": {},
        "preact__get-time": {},
        "mon__poll": {"_meta": {"ui": {"visibility": ["app"]}}},
        "mon__model-only": {"_meta": {"ui": {"visibility": ["model"]}}},
    }
    assert appTool("poll", owners, definitions) == ("mon__poll", "")
    name, why = appTool("get-time", owners, definitions)
    assert name is None
    assert "basic, preact" in why and "never guesses" in why
    assert appTool("model-only", owners, definitions) == (None, "")
    assert appTool("nothing", owners, definitions) == (None, "")


def test_a_member_s_update_of_its_app_names_it_under_the_member() -> None:
    relay = MemberRelay()
    parent = relay_support.session()
    alpha = relay_support.member(relay, parent, "alpha")
    sink = RecordingSink()
    for uri in ("ui://get-time/mcp-app.html", "file:///a.txt"):
        updated = jsonrpc.notification("notifications/resources/updated", {"uri": uri})
        assert relay.fromChild(alpha, updated, sink)
    shown = [message["params"]["uri"] for message in sink.messages]
    assert shown == ["ui://alpha/get-time/mcp-app.html", "file:///a.txt"]


class RecordingPolicy:
    """A member policy that lists everything and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def viewKey(self, asker: Asker) -> Hashable:
        return None

    def listable(self, asker: Asker, action: str, server: str, name: str) -> bool:
        self.asked.append((action, server, name))
        return True

    def decide(self, asker: Asker, call: MemberCall) -> Decision:
        return ALLOWED


def test_a_view_shows_apps_under_their_server_and_routes_them_back() -> None:
    app: dict[str, Any] = {"uri": "ui://get-time/mcp-app.html", "name": "app", "_meta": CSP_META}
    lists: dict[str, list[dict[str, Any]]] = {
        "tools": [{"name": "get-time", "_meta": {"ui": {"resourceUri": app["uri"]}}}],
        "resources": [app, {"uri": "file:///x", "name": "x"}],
    }
    view = buildView(
        EndpointSpec(),
        [Member("a", "", lists), Member("b", "", lists)],
        Namer(NameSettings()),
    )
    assert sorted(view.uris) == [
        "file:///x",
        "ui://a/get-time/mcp-app.html",
        "ui://b/get-time/mcp-app.html",
    ]
    assert view.definitions["b__get-time"]["_meta"]["ui"]["resourceUri"] == (
        "ui://b/get-time/mcp-app.html"
    )
    assert view.uriOwner("ui://b/get-time/mcp-app.html") == ("b", "")
    assert view.uriOwner("ui://b/not-listed.html") == ("b", "")  # apps need no listing
    assert view.memberUri("ui://b/get-time/mcp-app.html") == "ui://get-time/mcp-app.html"
    assert view.memberUri("ui://c/x") == "ui://c/x"  # no such member
    assert view.uriOwner("ui://c/x")[0] is None
    assert view.uriOwner("file:///x")[0] is None  # two servers list it: refused, as before
    policy = RecordingPolicy()
    screened(view, policy, Asker())
    assert ("resources/read", "a", "ui://get-time/mcp-app.html") in policy.asked
    assert not any(name.startswith("ui://a/") for _, _, name in policy.asked)
