"""L{mcpgateway.ops.management}: each server's routes in C{/api/v1/servers}
(what C{mcpgateway start} prints), C{credentialEnv} in
a server added through the API, and the refusal of a command given
by a path that is not there (wording a). Through the API harness of
C{tests.web.admin.test_api}: a real Site, a fake clock, fake children."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spawn import notFound
from tests.support.web.api import (
    FAKE,
    ApiHarness,
    assertNoSecrets,
    error,
    initializeBody,
    managedFile,
)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[ApiHarness]:
    harness = ApiHarness(tmp_path / "state")
    yield harness
    assertNoSecrets(harness)


def projectHarness(tmp_path: Path) -> tuple[ApiHarness, dict[str, str]]:
    """A gateway whose config has the user's C{srv} and C{pmem}, a server
    only projects P and Q define; the workspace key of each project."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    projects = {name: tmp_path / name for name in ("P", "Q")}
    for path in projects.values():
        path.mkdir()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "mcpServers": {"srv": {"command": FAKE, "args": ["-m", "srv"]}},
                "projects": {
                    str(path): {"mcpServers": {"pmem": {"command": FAKE, "args": ["-m", name]}}}
                    for name, path in projects.items()
                },
            }
        )
    )
    keys = WorkspaceKeys.forStateDir(state)
    return ApiHarness(state), {name: keys.key(path) for name, path in projects.items()}


def test_servers_list_each_servers_routes(tmp_path: Path) -> None:
    """A project-only server has no key-less route: it lists its projects'
    routes only, and each route listed answers while C{/pmem/mcp} is 404."""
    h, keys = projectHarness(tmp_path)
    servers = {s["name"]: s for s in h.api("GET", "/servers").json()["servers"]}
    assert servers["srv"]["routes"] == [{"key": "", "path": "/srv/mcp"}]
    assert servers["pmem"]["routes"] == sorted(
        ({"key": key, "path": f"/pmem~{key}/mcp"} for key in keys.values()),
        key=lambda r: r["key"],
    )
    assert h.api("GET", "/servers/pmem").json()["routes"] == servers["pmem"]["routes"]
    assert h.request("POST", "/pmem/mcp", initializeBody()).status == 404
    for route in servers["pmem"]["routes"]:
        response = h.request("POST", route["path"], initializeBody())
        if not response.complete:
            h.answerHandshake()
        assert response.status == 200, (route, response.body)


def test_a_user_server_also_defined_by_a_project_lists_both(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    project = tmp_path / "P"
    project.mkdir()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "mcpServers": {"fs": {"command": FAKE, "args": ["-m", "fs"]}},
                "projects": {
                    str(project): {"mcpServers": {"fs": {"command": FAKE, "args": ["-m", "P"]}}}
                },
            }
        )
    )
    key = WorkspaceKeys.forStateDir(state).key(project)
    h = ApiHarness(state)
    [fs] = h.api("GET", "/servers").json()["servers"]
    assert fs["routes"] == [
        {"key": "", "path": "/fs/mcp"},
        {"key": key, "path": f"/fs~{key}/mcp"},
    ]


# -- credentialEnv ----------------------------------------------------------------------


def test_add_takes_credential_env_and_scopes_children_by_it(h: ApiHarness) -> None:
    """A credential server added through the API gets a child per set of
    the headers its credentialEnv names; the entry keeps the list."""
    response = h.api(
        "POST",
        "/servers",
        {"name": "gh", "command": FAKE, "share": "credential", "credentialEnv": ["GH_TOKEN"]},
    )
    assert response.status == 201, response.body
    assert response.json()["share"] == "credential"
    assert managedFile(h)["mcpServers"]["gh"]["credentialEnv"] == ["GH_TOKEN"]
    assert h.gateway.pools["gh"].spec.credentialEnv == ("GH_TOKEN",)
    for value in ("alice-token", "bob-token"):
        response = h.request(
            "POST", "/gh/mcp", initializeBody(), headers={"X-Mcp-Env-GH_TOKEN": value}
        )
        if not response.complete:
            h.answerHandshake()
        assert response.status == 200, response.body
    children = [env for _, _, env, _ in h.reactor.spawned]
    assert [env is not None and env.get("GH_TOKEN") for env in children] == [
        "alice-token",
        "bob-token",
    ]


@pytest.mark.parametrize(
    ("credentialEnv", "message"),
    [
        ("GH_TOKEN", "'credentialEnv' must be a list of environment variable names"),
        (["1TOKEN"], "'credentialEnv' must be a list of environment variable names"),
        (["GH-TOKEN"], "'credentialEnv' must be a list of environment variable names"),
        ([7], "'credentialEnv' must be a list of environment variable names"),
        (["LD_PRELOAD"], "'credentialEnv' may not list LD_PRELOAD"),
        (["MCPGATEWAY_API_TOKEN"], "'credentialEnv' may not list MCPGATEWAY_API_TOKEN"),
    ],
)
def test_add_refuses_a_credential_env_the_config_loader_refuses(
    h: ApiHarness, credentialEnv: Any, message: str
) -> None:
    body = {"name": "gh", "command": FAKE, "credentialEnv": credentialEnv}
    response = h.api("POST", "/servers", body)
    assert response.status == 400
    assert error(response).startswith(message)
    assert "gh" not in h.gateway.pools
    assert not (h.stateDir / "servers.json").exists()


@pytest.mark.parametrize(
    "scope", [{"share": "global"}, {"share": "workspace"}, {"mode": "stateless"}]
)
def test_add_refuses_credential_env_with_a_wider_share(
    h: ApiHarness, scope: dict[str, str]
) -> None:
    """Such a server would be served a child per credential
    set while called global: refused with a 400 naming both."""
    body = {"name": "gh", "command": FAKE, **scope, "credentialEnv": ["GH_TOKEN"]}
    response = h.api("POST", "/servers", body)
    assert response.status == 400
    assert error(response).startswith("'credentialEnv' gives a child per set of credential")
    assert "gh" not in h.gateway.pools


def test_add_credential_env_without_a_share_is_a_credential_server(h: ApiHarness) -> None:
    """What it gets is what /health, servers list and status say."""
    body = {"name": "gh", "command": FAKE, "credentialEnv": ["GH_TOKEN"]}
    response = h.api("POST", "/servers", body)
    assert response.status == 201, response.body
    assert response.json()["share"] == "credential"
    assert h.gateway.pools["gh"].spec.mode == "credential"


def test_add_says_a_too_long_request_timeout_as_given(h: ApiHarness) -> None:
    """86400001 was shown as 8.64e+07, which reads as the limit."""
    body = {"name": "x", "command": FAKE, "requestTimeout": 86_400_001}
    response = h.api("POST", "/servers", body)
    assert response.status == 400
    assert error(response).endswith("at most 86400000 (one day), not 86400001")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.lists(st.text(alphabet="AZaz_09-=$ ", max_size=6), max_size=3),
        st.none(),
        st.integers(),
        st.text(max_size=5),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_add_answers_any_credential_env_with_201_or_400(h: ApiHarness, names: Any) -> None:
    """Whatever the field holds: a 201 with exactly those names kept, or a
    400 naming the field; never a 500, never a half-added server."""
    name = f"s{len(h.gateway.pools)}"
    response = h.api("POST", "/servers", {"name": name, "command": FAKE, "credentialEnv": names})
    if response.status == 201:
        assert h.gateway.pools[name].spec.credentialEnv == tuple(dict.fromkeys(names))
    else:
        assert response.status == 400, response.body
        assert error(response).startswith("'credentialEnv' ")
        assert name not in h.gateway.pools


# -- a command given by its path ----------------------------------------------------------


def test_add_says_a_path_is_not_found_rather_than_not_on_path(
    h: ApiHarness, tmp_path: Path
) -> None:
    response = h.api("POST", "/servers", {"name": "x", "command": "/nonexistent/bin/foo"})
    assert (response.status, error(response)) == (
        400,
        "command: '/nonexistent/bin/foo' was not found",
    )
    plain = tmp_path / "notes.txt"
    plain.write_text("not a program")
    response = h.api("POST", "/servers", {"name": "x", "command": str(plain)})
    assert error(response) == f"command: '{plain}' is not an executable file"
    response = h.api("POST", "/servers", {"name": "x", "command": "no-such-command-4711"})
    assert error(response) == "command: 'no-such-command-4711' was not found on PATH"


def test_not_found_by_the_shape_of_the_command(tmp_path: Path) -> None:
    assert notFound("npx") == "was not found on PATH"
    assert notFound(str(tmp_path / "gone")) == "was not found"
    assert notFound(str(tmp_path)) == "is not an executable file"  # a directory
