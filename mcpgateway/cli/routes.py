# -*- test-case-name: tests.cli.test_start_routes -*-
"""The routes a running gateway serves, as C{mcpgateway start} prints them.

A server is served at C{/<server>/mcp} only when an entry of the user's
scope (or the gateway's own C{servers.json}) defines it; a project's own
entry is served at its workspace's route, C{/<server>~<key>/mcp}, so a
server only projects define has no key-less route at all. The gateway's
C{/health} (and the management API's C{GET /api/v1/servers}) lists each
server's routes (C{"routes"}); this module reads them (L{fetchRoutes}), maps
each workspace key back to its project's path on this machine
(L{projectPaths}, as C{status} does) and renders them in a few lines
(L{routeLines}).

The answer is read defensively, as C{/health} is: a server without a
well-formed C{"routes"} (an older gateway) is left out, a key that is not a
key's shape is dropped, and the paths are rebuilt here from the name and
the key, never taken from the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.output import CliError, plural
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.config.servers import ConfigError
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys, isKey
from mcpgateway.ops.gatewayprobe import GatewayProbe, claudeConfigPath
from mcpgateway.runtime.paths import API_PREFIX, WORKSPACE_KEY_FILE

PROJECT_ROUTES_SHOWN = 3
"""Workspace routes listed per server at most (the others are counted)."""
LINES_SHOWN = 20
"""Route lines printed at most (the servers left out are counted)."""
ALL_ROUTES = "`mcpgateway servers list --json` lists every route"


@dataclass(frozen=True)
class Route:
    """One route of a server: C{key} C{""} is C{/<server>/mcp}, else the
    workspace route C{/<server>~<key>/mcp} of C{project} (C{None}: no
    project of the client config has that key)."""

    server: str
    key: str
    project: str | None = None

    @property
    def path(self) -> str:
        return f"/{self.server}~{self.key}/mcp" if self.key else f"/{self.server}/mcp"

    def toJson(self, url: str) -> dict[str, Any]:
        return {"key": self.key, "url": url + self.path, "project": self.project}


def parseRoutes(answer: Any) -> dict[str, list[str]]:
    """The route keys of each server of a C{GET /api/v1/servers} answer
    (C{""}: the key-less route); servers without a usable C{"routes"} are
    left out."""
    servers = answer.get("servers") if isinstance(answer, dict) else None
    found: dict[str, list[str]] = {}
    for server in servers if isinstance(servers, list) else ():
        if not isinstance(server, dict):
            continue
        name, routes = server.get("name"), server.get("routes")
        if not isinstance(name, str) or not name or not isinstance(routes, list):
            continue
        keys = [
            route["key"]
            for route in routes
            if isinstance(route, dict)
            and isinstance(route.get("key"), str)
            and (route["key"] == "" or isKey(route["key"]))
        ]
        found[name] = list(dict.fromkeys(keys))
    return found


def fetchRoutes(
    client: GatewayClient, found: GatewayProbe, timeout: float, health: Any = None
) -> dict[str, list[str]]:
    """Each server's route keys: from C{health} (the gateway's C{/health}
    body) when its server lines have them, else from the management API
    (an older gateway, or a C{/health} that hides its detail). C{/health}
    first: the API's first request loads Klein into the gateway, about
    8 MB more for its whole life. L{CliError} when the API does not
    answer, or answers without routes."""
    servers = health.get("servers") if isinstance(health, dict) else None
    if isinstance(servers, dict) and servers:
        lines = [{**line, "name": name} for name, line in servers.items() if isinstance(line, dict)]
        if all("routes" in line for line in lines):
            return parseRoutes({"servers": lines})
    answer = client.api(found, "GET", "/servers", timeout=timeout)
    routes = parseRoutes(answer)
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not routes and (not isinstance(servers, list) or servers):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}/servers lists no routes")
    return routes


def projectPaths(stateDir: Path, found: GatewayProbe, keys: Collection[str]) -> dict[str, str]:
    """The project path of each workspace key of C{keys}, as far as the
    client config's projects give them. Nothing is created: without a
    C{workspace.key} there are no keys to map."""
    wanted = {key for key in keys if key}
    if not wanted or not (stateDir / WORKSPACE_KEY_FILE).is_file():
        return {}
    try:
        secret = WorkspaceKeys.forStateDir(stateDir)
        data, _ = readJson(claudeConfigPath(found.state))
    except (WorkspaceKeyError, ConfigError, OSError):
        return {}
    projects = data.get("projects") if isinstance(data, dict) else None
    known: dict[str, str] = {}
    for project in projects if isinstance(projects, dict) else ():
        try:
            key = secret.key(str(project))
        except ValueError:
            continue
        if key in wanted:
            known[key] = str(project)
    return known


def routesOf(keys: Mapping[str, list[str]], paths: Mapping[str, str]) -> dict[str, list[Route]]:
    """Each server's routes, the key-less one first, then by project path."""
    routes: dict[str, list[Route]] = {}
    for name, serverKeys in keys.items():
        listed = [Route(name, key, paths.get(key)) for key in serverKeys]
        routes[name] = sorted(listed, key=lambda r: (r.key != "", r.project or "~", r.key))
    return routes


def routeLines(url: str, routes: Mapping[str, list[Route]]) -> list[str]:
    """The routes, a line each: the gateway's URL and C{/NAME/mcp}, and for
    a workspace route C{/NAME~KEY/mcp} and C{(project PATH)} (no path when
    no project of the client config has that key). At most
    L{PROJECT_ROUTES_SHOWN} workspace routes per server and L{LINES_SHOWN}
    lines in all; what is left out is counted on one line."""
    blocks: list[list[str]] = []
    for name in sorted(routes):
        block: list[str] = []
        projectRoutes = [r for r in routes[name] if r.key]
        for route in routes[name]:
            if route.key and projectRoutes.index(route) >= PROJECT_ROUTES_SHOWN:
                continue
            line = f"  {url}{route.path}"
            if route.project is not None:
                line += f"  (project {route.project})"
            block.append(line)
        more = len(projectRoutes) - PROJECT_ROUTES_SHOWN
        if more > 0:
            block.append(f"    … and {plural(more, 'more project route')} of {name}")
        if not routes[name]:
            block.append(f"  {name}: no route (no entry serves it)")
        blocks.append(block)
    lines: list[str] = []
    for shown, block in enumerate(blocks):
        if len(lines) + len(block) > LINES_SHOWN:
            lines.append(f"  … and {plural(len(blocks) - shown, 'more server')}: {ALL_ROUTES}")
            break
        lines += block
    return lines
