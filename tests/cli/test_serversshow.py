"""C{mcpgateway servers show NAME}: one server from the management API,
with the data-origin labels of the server and of each tool, and where each
came from."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.support import Cli, FakeGateway, api, lastCall, outputLines

SERVER: dict[str, Any] = {
    "name": "gh",
    "origin": "config",
    "state": "running",
    "share": "global",
    "config": {"command": "github-mcp-server", "args": ["stdio"]},
    "labels": {
        "labels": ["untrusted", "private", "egress"],
        "source": "table",
        "row": "github",
        "entry": {"tools": {"get_me": []}},
        "tools": {
            "create_issue": {"labels": ["egress"], "source": "table", "row": "github"},
            "get_file_contents": {"labels": ["private"], "source": "table", "row": "github"},
            "get_issue": {"labels": ["untrusted"], "source": "table", "row": "github"},
            "get_me": {"labels": [], "source": "entry", "row": ""},
        },
    },
}


def test_servers_show_prints_the_labels_and_where_each_came_from(
    running: FakeGateway, cli: Cli
) -> None:
    api(running, "GET", "/servers/gh", 200, SERVER)
    assert outputLines(cli, "servers", "show", "gh") == [
        "gh: running, share global, from config",
        "  runs: github-mcp-server stdio",
        "  labels: untrusted, private, egress, from the shipped table (row github)",
        "  TOOL               LABELS     FROM",
        "  create_issue       egress     table (github)",
        "  get_file_contents  private    table (github)",
        "  get_issue          untrusted  table (github)",
        "  get_me             (none)     entry",
    ]
    assert lastCall(running)[:2] == ("GET", "/api/v1/servers/gh")


def test_servers_show_of_a_server_never_listed_and_json(running: FakeGateway, cli: Cli) -> None:
    never = {
        **SERVER,
        "labels": {"labels": ["private"], "source": "entry", "tools": None},
    }
    api(running, "GET", "/servers/gh", 200, never)
    assert outputLines(cli, "servers", "show", "gh")[2:] == [
        '  labels: private, from its entry\'s "labels"',
        "  tools: not listed yet (`mcpgateway catalog refresh --server NAME` lists them)",
    ]
    code, out, _ = cli("servers", "show", "gh", "--json")
    assert code == 0 and json.loads(out) == never


def test_servers_show_of_an_older_gateway_without_labels(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers/gh", 200, {"name": "gh", "state": "idle", "share": "global"})
    assert outputLines(cli, "servers", "show", "gh") == ["gh: idle, share global, from ?"]


def test_servers_show_of_an_unknown_server(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers/nope", 404, {"error": "no server named 'nope'"})
    assert cli("servers", "show", "nope") == (1, "", "mcpgateway: no server named 'nope'\n")
