"""Pins and MCP Apps: a tool's C{_meta.ui} (its app and who may call it)
is pinned, so a changed app is a changed tool."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.trust.diff import changeLines
from mcpgateway.trust.pins import CHANGED, firstPins, toolDigest

GET_TIME: dict[str, Any] = {
    "name": "get-time",
    "description": "Returns the current server time as an ISO 8601 string.",
    "inputSchema": {"type": "object", "properties": {}},
    "_meta": {
        "ui": {"resourceUri": "ui://get-time/mcp-app.html"},
        "ui/resourceUri": "ui://get-time/mcp-app.html",
    },
}


def withUi(**ui: Any) -> dict[str, Any]:
    return {**GET_TIME, "_meta": {**GET_TIME["_meta"], "ui": {**GET_TIME["_meta"]["ui"], **ui}}}


@pytest.mark.parametrize(
    ("changed", "where"),
    [
        (withUi(resourceUri="ui://get-time/other.html"), "/_meta/ui/resourceUri"),
        (withUi(visibility=["model"]), "/_meta/ui/visibility"),
        (withUi(visibility=["app"]), "/_meta/ui/visibility"),
        ({**GET_TIME, "_meta": {"ui/resourceUri": "ui://get-time/mcp-app.html"}}, "/_meta/ui"),
    ],
)
def test_a_changed_app_is_a_changed_tool(changed: dict[str, Any], where: str) -> None:
    pins = firstPins("basic", "launch1", [GET_TIME], 100.0)
    assert toolDigest(changed) != toolDigest(GET_TIME)
    change = pins.note(changed, toolDigest(changed), 200.0)
    assert change is not None and change.kind == CHANGED
    assert any(where in line for line in changeLines(GET_TIME, changed))


def test_the_same_app_is_the_same_tool() -> None:
    pins = firstPins("basic", "launch1", [GET_TIME], 100.0)
    reordered = {**GET_TIME, "_meta": dict(reversed(list(GET_TIME["_meta"].items())))}
    assert pins.note(reordered, toolDigest(reordered), 200.0) is None
