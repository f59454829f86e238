"""C{mcpgateway catalog refresh|show}: the management API calls, the text
and JSON output, the exit codes, and the one line without a gateway."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.support import Cli, FakeGateway, api, lastCall, outputLines
from tests.support.core.catalog_status import UNLISTED

REFRESHED: dict[str, Any] = {
    "servers": {
        "fs": {"tools": 14, "prompts": 0, "resources": 1, "ms": 412.5, "error": None},
        "memory": {"tools": 9, "prompts": 1, "resources": 0, "ms": 180.0, "error": None},
    }
}
STATUS: dict[str, Any] = {
    "servers": {
        "fs": {
            "source": "live",
            "tools": 14,
            "prompts": 0,
            "resources": 1,
            "resourceTemplates": 0,
            "taken": 1700000000.0,
            "stale": False,
            "catalogs": 1,
            "error": None,
        },
        "old": {
            "source": "snapshot",
            "tools": 3,
            "prompts": 0,
            "resources": 0,
            "resourceTemplates": 0,
            "taken": 1690000000.0,
            "stale": True,
            "catalogs": 1,
            "error": None,
        },
        "new": {**UNLISTED, "error": "server 'new' was not listed within 10 s"},
    }
}


def test_refresh_lists_every_server(running: FakeGateway, cli: Cli) -> None:
    api(running, "POST", "/catalog/refresh", 200, REFRESHED)
    assert outputLines(cli, "catalog", "refresh") == [
        "fs      14 tools, 0 prompts, 1 resource in 412.5 ms",
        "memory  9 tools, 1 prompt, 0 resources in 180 ms",
    ]
    assert lastCall(running)[:2] == ("POST", "/api/v1/catalog/refresh")
    assert lastCall(running)[3] is None


def test_refresh_named_servers_json_and_a_failure_exits_1(running: FakeGateway, cli: Cli) -> None:
    answer = {
        "servers": {
            "fs": REFRESHED["servers"]["fs"],
            "broken": {"tools": 0, "prompts": 0, "resources": 0, "ms": 3.0, "error": "boom"},
        }
    }
    api(running, "POST", "/catalog/refresh", 200, answer)
    code, out, _ = cli("catalog", "refresh", "--server", "fs", "--server", "broken", "--json")
    assert code == 1
    assert json.loads(out) == {"ok": False, "servers": answer["servers"]}
    assert lastCall(running)[3] == {"servers": ["fs", "broken"]}
    code, out, _ = cli("catalog", "refresh", "--server", "broken")
    assert code == 1
    assert "broken  failed in 3 ms: boom" in out.splitlines()


def test_show_is_a_table_with_problems_below(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/catalog", 200, STATUS)
    code, out, err = cli("catalog", "show")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "NAME  SOURCE            TOOLS  PROMPTS  RESOURCES  TAKEN",
        "fs    live              14     0        1          2023-11-14 22:13:20Z",
        "new   unknown           0      0        0          -",
        "old   snapshot (stale)  3      0        0          2023-07-22 04:26:40Z",
        "  ! new: server 'new' was not listed within 10 s",
        "unknown: never listed yet; `mcpgateway catalog refresh` lists them now",
    ]
    code, out, _ = cli("catalog", "show", "--json")
    assert code == 0 and json.loads(out) == STATUS
    assert lastCall(running)[:2] == ("GET", "/api/v1/catalog")


def test_no_gateway_is_one_line_and_exit_1(cli: Cli) -> None:
    for args in (["catalog", "refresh"], ["catalog", "show"]):
        code, out, err = cli(*args)
        assert (code, out) == (1, "")
        assert err == "mcpgateway: the gateway is not running; `mcpgateway start` starts it\n"


def test_an_api_refusal_is_its_message(running: FakeGateway, cli: Cli) -> None:
    api(running, "POST", "/catalog/refresh", 404, {"error": "no server named 'x'"})
    code, _, err = cli("catalog", "refresh", "--server", "x")
    assert (code, err) == (1, "mcpgateway: no server named 'x'\n")
    api(running, "GET", "/catalog", 200, {"nope": 1})
    code, _, err = cli("catalog", "show")
    assert code == 1 and "did not answer servers" in err


def test_refresh_says_which_scopes_it_kept_and_which_not(running: FakeGateway, cli: Cli) -> None:
    counts = {"tools": 13, "prompts": 3, "resources": 100}
    answer = {
        "servers": {
            "everything": {
                **counts,
                "ms": 950.0,
                "error": None,
                "scopes": {"/everything/mcp": {**counts, "error": None}},
            },
            "team": {
                **counts,
                "ms": 20.0,
                "error": None,
                "unsaved": ["its catalogs are kept per principal"],
            },
        }
    }
    api(running, "POST", "/catalog/refresh", 200, answer)
    assert outputLines(cli, "catalog", "refresh") == [
        "everything  13 tools, 3 prompts, 100 resources in 950 ms",
        "  /everything/mcp: catalog kept for its start-ups (13 tools, 3 prompts, 100 resources)",
        "team        13 tools, 3 prompts, 100 resources in 20 ms",
        "  not kept: its catalogs are kept per principal",
    ]


def test_a_route_not_listed_exits_1(running: FakeGateway, cli: Cli) -> None:
    zero = {"tools": 0, "prompts": 0, "resources": 0}
    answer = {
        "servers": {
            "fs": {
                **zero,
                "ms": 10.0,
                "error": None,
                "globalRoute": False,
                "scopes": {
                    "/fs~aaaa/mcp": {"tools": 2, "prompts": 0, "resources": 0, "error": None},
                    "/fs~bbbb/mcp": {**zero, "error": "server 'fs' exited with code 3"},
                },
            }
        }
    }
    api(running, "POST", "/catalog/refresh", 200, answer)
    code, out, _ = cli("catalog", "refresh")
    assert code == 1
    assert out.splitlines() == [
        "fs  no route /fs/mcp: listed by route in 10 ms",
        "  /fs~aaaa/mcp: catalog kept for its start-ups (2 tools, 0 prompts, 0 resources)",
        "  /fs~bbbb/mcp: its catalog was not kept: server 'fs' exited with code 3",
    ]
    code, out, _ = cli("catalog", "refresh", "--json")
    assert code == 1 and json.loads(out) == {"ok": False, "servers": answer["servers"]}
