"""C{mcpgateway start} prints the routes the gateway serves:
C{/<server>/mcp} only for a server that has it, each project's own route
C{/<server>~<key>/mcp} with the project's path, a few lines however many
servers and projects, never a guessed URL."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.cli.routes import (
    LINES_SHOWN,
    PROJECT_ROUTES_SHOWN,
    Route,
    parseRoutes,
    routeLines,
)
from mcpgateway.config.workspaces import WorkspaceKeys, isKey
from tests.cli.support import HEALTH, FakeGateway
from tests.support.cli.start_routes import healthOf, serversAnswer
from tests.support.cli.started import Start

URL = "http://127.0.0.1:9700"
OTHER_KEY = "z" * 16


def test_start_prints_a_project_only_server_at_its_workspace_route(
    stateDir: Path,
    home: Path,
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    """The tester's case: C{everything} is the user's, C{pmem} only a
    project's. C{/pmem/mcp} is a 404: it must not be printed; its project's
    route is, with the project's path."""
    project = home / "P"
    project.mkdir()
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "mcpServers": {"everything": {"command": "npx"}},
                "projects": {str(project): {"mcpServers": {"pmem": {"command": "pmem"}}}},
            }
        )
    )
    key = WorkspaceKeys.forStateDir(stateDir).key(project)
    fakeGateway.answers["/health"] = (200, healthOf("everything", "pmem"))
    fakeGateway.answers["/api/v1/servers"] = (
        200,
        serversAnswer({"everything": [""], "pmem": [key]}),
    )
    code, out, _ = start().outcome
    assert code == 0
    url = f"http://127.0.0.1:{fakeGateway.port}"
    assert out.splitlines() == [
        f"mcpgateway started (pid {os.getpid()}): 2 servers at {url}/<server>/mcp"
        " (a project's own entry: /<server>~<key>/mcp)",
        f"  {url}/everything/mcp",
        f"  {url}/pmem~{key}/mcp  (project {project})",
    ]
    assert f"{url}/pmem/mcp" not in out
    (stateDir / "state.json").unlink()  # start again, with --json
    code, out, _ = start("--json").outcome
    document = json.loads(out)
    assert document["servers"] == ["everything", "pmem"]
    assert document["routes"] == {
        "everything": [{"key": "", "url": f"{url}/everything/mcp", "project": None}],
        "pmem": [{"key": key, "url": f"{url}/pmem~{key}/mcp", "project": str(project)}],
    }


def test_a_server_of_the_user_and_of_projects_lists_both(
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    """A key no project of the config gives is printed without a path."""
    fakeGateway.answers["/health"] = (200, healthOf("fs"))
    fakeGateway.answers["/api/v1/servers"] = (200, serversAnswer({"fs": [OTHER_KEY, ""]}))
    code, out, _ = start().outcome
    assert code == 0
    url = f"http://127.0.0.1:{fakeGateway.port}"
    assert out.splitlines()[1:] == [f"  {url}/fs/mcp", f"  {url}/fs~{OTHER_KEY}/mcp"]


def test_without_the_routes_start_guesses_no_url(
    stateDir: Path,
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    """The API refuses (a token it lacks): the servers are named, no URL
    that may be a 404 is printed, and the start still succeeds."""
    fakeGateway.routes[("GET", "/api/v1/servers")] = (401, {"error": "token required"})
    code, out, _ = start().outcome
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "  servers: context7, serena, tavily"
    assert lines[2].startswith("  (their routes are not listed: token required")
    assert "/context7/mcp" not in out
    (stateDir / "state.json").unlink()
    code, out, _ = start("--json").outcome
    document = json.loads(out)
    assert document["routes"] is None and "token required" in document["routesError"]


def test_a_gateway_without_servers_lists_nothing(
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    fakeGateway.answers["/health"] = (200, healthOf())
    fakeGateway.answers["/api/v1/servers"] = (200, {"servers": []})
    code, out, _ = start().outcome
    assert code == 0
    assert out == (
        f"mcpgateway started (pid {os.getpid()}): 0 servers at"
        f" http://127.0.0.1:{fakeGateway.port}/<server>/mcp\n"
    )


def test_an_older_gateway_without_routes_gets_no_guessed_url(
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    fakeGateway.answers["/api/v1/servers"] = (200, {"servers": [{"name": "context7"}]})
    code, out, _ = start().outcome
    assert code == 0
    assert "lists no routes" in out and "/context7/mcp" not in out


def test_many_routes_stay_a_few_lines() -> None:
    """Ten projects on one server: three shown, the rest counted; forty
    servers: the lines stop at L{LINES_SHOWN}, the rest counted."""
    keys = [chr(ord("a") + i) * 16 for i in range(10)]
    routes = {"fs": [Route("fs", key, f"/p/{key[0]}") for key in keys]}
    lines = routeLines(URL, routes)
    assert lines == [
        *(f"  {URL}/fs~{key}/mcp  (project /p/{key[0]})" for key in keys[:PROJECT_ROUTES_SHOWN]),
        "    … and 7 more project routes of fs",
    ]
    many = {f"s{i:02}": [Route(f"s{i:02}", "")] for i in range(40)}
    lines = routeLines(URL, many)
    assert len(lines) == LINES_SHOWN + 1
    assert lines[0] == f"  {URL}/s00/mcp"
    assert lines[-1] == (
        "  … and 20 more servers: `mcpgateway servers list --json` lists every route"
    )


def test_a_server_with_no_route_says_so() -> None:
    assert routeLines(URL, {"ghost": []}) == ["  ghost: no route (no entry serves it)"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
ROUTE = st.fixed_dictionaries({"key": st.one_of(st.just(""), st.text(max_size=20), JSON)})
SERVER = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=10), JSON), "routes": st.lists(ROUTE | JSON, max_size=4)}
)


@settings(max_examples=80, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"servers": st.lists(SERVER | JSON, max_size=4)})))
def test_parse_routes_takes_any_answer(answer: Any) -> None:
    """Whatever answers on the port: names to keys, every key C{""} or a
    key's shape (nothing else reaches the terminal or a URL)."""
    for name, keys in parseRoutes(answer).items():
        assert isinstance(name, str) and name
        assert all(key == "" or isKey(key) for key in keys)
        assert len(set(keys)) == len(keys)


def test_parse_routes_drops_malformed_keys() -> None:
    answer = {
        "servers": [
            {"name": "a", "routes": [{"key": ""}, {"key": "../../etc"}, {"key": OTHER_KEY}, 7]},
            {"name": "b"},  # an older gateway: no routes
            {"name": 3, "routes": []},
        ]
    }
    assert parseRoutes(answer) == {"a": ["", OTHER_KEY]}


def test_routes_are_read_from_health_and_the_api_is_left_alone(
    home: Path,
    fakeGateway: FakeGateway,
    start: Start,
) -> None:
    """The management API's first request loads Klein into the
    gateway (about 8 MB for its whole life): start reads the routes /health
    gives, and asks the API only when /health has none."""
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"everything": {}}}))
    [line] = serversAnswer({"everything": [""]})["servers"]
    fakeGateway.answers["/health"] = (200, {**HEALTH, "servers": {"everything": line}})
    code, out, _ = start().outcome
    assert code == 0
    assert f"  http://127.0.0.1:{fakeGateway.port}/everything/mcp" in out.splitlines()
    assert not any(path.startswith("/api") for path in fakeGateway.requests)
