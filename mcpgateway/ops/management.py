# -*- test-case-name: tests.web.admin.test_api -*-
"""Changing and inspecting the running gateway: what the management API does.

L{ServerChanges} validates each change, writes it to the gateway's own file
(C{servers.json}, atomically) and reloads, so the change is live at once and
survives a restart. Errors are L{ManagementError}s with an HTTP status and a
message naming the field. Nothing it returns shows an env value or a token.
Only a server the API added can be removed: the refusal of any other one
names where it comes from and what to do instead (L{notRemovable}).

A server's summary lists its routes (L{mcpgateway.core.spec.routesOf}): the key-less
C{/<name>/mcp} where the server has one, and C{/<name>~<key>/mcp} for each
workspace route (C{mcpgateway start} prints them: a project-only server has
no key-less route).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from mcpgateway.config import servers as config
from mcpgateway.config.configservice import ConfigService
from mcpgateway.config.problems import ConfigProblems
from mcpgateway.config.serversfile import (
    ServersFile,
    addWorkspaceEntry,
    blockedEnvKeys,
    removeWorkspaceEntry,
    workspaceEntries,
)
from mcpgateway.config.watched import ConfigSource, PlainFile
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import notFound
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import ServerStatus
from mcpgateway.flow.defaults import ServerLabelling, describe
from mcpgateway.ops.catalogrefresh import refreshedLine, refreshServer
from mcpgateway.report.health import healthLine
from mcpgateway.sandbox.defaults import SYSTEM_DIRS
from mcpgateway.sandbox.places import KERNEL, PRIVATE, under

if TYPE_CHECKING:  # imported when a server's source is looked up (adopting gateways)
    from pathlib import Path

    from mcpgateway.clientconfigs.engine import AdoptionEngine

SECRET = "***"
ADD_FIELDS = frozenset(
    {
        "type",
        "command",
        "args",
        "env",
        "cwd",
        "share",
        "mode",
        "requestTimeout",
        "credentialEnv",
        "envFrom",
        "url",
        "headers",
        "spec",
        "baseUrl",
        "auth",
        "exchange",
        "oauth",
    }
)
"""The fields of C{POST /api/v1/servers} besides C{name} (C{url} and
C{headers}: a remote server)."""


class ManagementError(Exception):
    """A refused change: HTTP C{status} and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServerChanges:
    """The operations behind C{/api/v1}."""

    def __init__(
        self,
        gateway: Gateway,
        configService: ConfigService,
        managed: ServersFile,
        principals: bool = False,
    ) -> None:
        """
        @param principals: the gateway authenticates its callers (a team
            gateway's door): each session has a principal's key.
        """
        self._gateway = gateway
        self._config = configService
        self._managed = managed
        self._principals = principals

    # -- reading ---------------------------------------------------------------

    def problems(self) -> ConfigProblems:
        """What the config holds that the gateway cannot use
        (L{mcpgateway.config.configservice.ConfigService.problems})."""
        return self._config.problems()

    def pool(self, name: str) -> PoolLike:
        pool = self._gateway.pools.get(name)
        if pool is None:
            raise ManagementError(404, f"no server named '{name}'")
        return pool

    def servers(self) -> list[dict[str, Any]]:
        status = self._gateway.readModel.status()
        return [self._summary(name, status.servers[name]) for name in sorted(status.servers)]

    def summary(self, name: str) -> dict[str, Any]:
        self.pool(name)
        return self._summary(name, self._gateway.readModel.server(name))

    def _summary(self, name: str, status: ServerStatus) -> dict[str, Any]:
        return {
            "name": name,
            "origin": self._origin(name),
            **healthLine(status),  # its "routes" too (L{routesOf})
        }

    def server(self, name: str) -> dict[str, Any]:
        """Everything about one server, without secrets."""
        pool = self.pool(name)
        status = self._gateway.readModel.server(name)
        spec = status.spec
        return {
            **self._summary(name, status),
            "config": {
                "command": spec.command,
                "args": list(spec.args),
                "cwd": spec.cwd,
                "env": {key: SECRET for key, _ in spec.env},
                "mode": spec.sharing.modeWord,
                "share": spec.sharing.value,
                "requestTimeout": spec.requestTimeout * 1000,
                "scope": spec.scope,
                "disabled": spec.disabled,
                **remoteConfig(spec),
            },
            "launch": launchOf(status),
            "labels": self._labels(spec),
            "enabled": not status.disabled,
            "uptime": status.uptime,
            "mtbf": status.mtbf,
            "lastErrors": [
                e for e in pool.events.recent() if e["kind"] in ("exited", "circuit-open")
            ][-5:],
        }

    def _labels(self, spec: ServerSpec) -> dict[str, Any]:
        """The labels of C{spec}'s server and of each tool its catalog lists
        (L{mcpgateway.flow.defaults.describe}; its tools C{None} while it was
        never listed)."""
        catalogs = getattr(self._gateway, "catalogs", None)
        catalog = catalogs.get(spec.name) if isinstance(catalogs, Catalogs) else None
        listed = None if catalog is None else catalog.lists.get("tools", ())
        return describe(ServerLabelling.of(spec.command, spec.args, spec.labels), listed)

    def events(self, name: str) -> EventLog:
        return self.pool(name).events

    def tools(self) -> Deferred[list[dict[str, Any]]]:
        """Every tool of every server, as C{/mcp} names them, from the
        catalogs (servers with no child running included; a server never
        listed yet is missing until its first child or
        C{mcpgateway catalog refresh})."""
        rows = self._gateway.aggregateSide.aggregator.allTools()
        return succeed(
            [{**definition, "name": name, "server": server} for name, server, definition in rows]
        )

    # -- catalogs ----------------------------------------------------------------

    def _catalogs(self) -> Catalogs:
        catalogs = getattr(self._gateway, "catalogs", None)
        if not isinstance(catalogs, Catalogs):
            raise ManagementError(503, "this gateway keeps no catalogs")
        return catalogs

    def catalog(self) -> dict[str, Any]:
        """What each server's catalog is (source, counts, when, stale, error)."""
        return {"servers": self._catalogs().status()}

    def refreshCatalogs(self, body: Any) -> Deferred[dict[str, Any]]:
        """List the servers again (C{{"servers": [names]}}; none or no body:
        every enabled server), starting each once when it does not run, and
        keep the catalogs of their scopes (L{mcpgateway.ops.catalogrefresh}):
        C{{"servers": {name: {"tools", "prompts", "resources", "ms", "error",
        "scopes"?, "unsaved"?, "globalRoute"?}}}}."""
        catalogs = self._catalogs()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ManagementError(400, "the body must be a JSON object")
        unknown = sorted(set(body) - {"servers"})
        if unknown:
            raise ManagementError(400, f"unknown field(s): {', '.join(unknown)}")
        named = body.get("servers")
        pools = self._gateway.pools
        if named is None:
            names = sorted(name for name, pool in pools.items() if not pool.disabled)
        elif isinstance(named, list) and all(isinstance(n, str) for n in named):
            names = sorted(set(named))
            for name in names:
                self.pool(name)
        else:
            raise ManagementError(400, "servers: must be a list of server names")
        clock = self._gateway.clock
        results: dict[str, dict[str, Any]] = {}
        waiting = []
        for name in names:
            pool = pools[name]
            if pool.disabled:
                results[name] = refreshedLine(None, 0.0, f"server '{name}' is disabled")
                continue

            def done(line: dict[str, Any], name: str = name) -> None:
                results[name] = line

            refreshing = refreshServer(catalogs, pool, clock, self._principals)
            waiting.append(refreshing.addCallback(done))

        def answer(_: object) -> dict[str, Any]:
            return {"servers": {name: results[name] for name in sorted(results)}}

        return DeferredList(waiting, consumeErrors=True).addCallback(answer)

    # -- changing --------------------------------------------------------------

    def add(self, body: Any) -> Deferred[dict[str, Any]]:
        """Add a stdio server: C{{"name", "command", "args"?, "env"?, "cwd"?,
        "share"? (or the older "mode"), "requestTimeout"?, "credentialEnv"?}}
        (C{credentialEnv}: the variables a client may send as
        C{X-Mcp-Env-<NAME>} headers, checked as the config loader checks an
        entry's), or a remote one: C{{"name", "type"?, "url", "headers"?,
        "share"?, "requestTimeout"?}}; with C{"workspace": "/abs/dir"}, for
        the sessions of that workspace only (served on its routes, as a
        project's entry in a client's file is)."""
        if not isinstance(body, dict):
            raise ManagementError(400, "the body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not config.NAME_PATTERN.fullmatch(name):
            raise ManagementError(400, "name: 1-64 letters, digits, '-', '_' or '.'")
        workspace = _workspaceOf(body.get("workspace"))
        if workspace is not None:
            _refuseWideWorkspace(workspace, self._managed.path.parent)
        if workspace is None and name in self._gateway.pools:
            raise ManagementError(409, f"name: a server named '{name}' exists")
        entry = {key: value for key, value in body.items() if key not in ("name", "workspace")}
        unknown = sorted(set(entry) - ADD_FIELDS)
        if unknown:
            raise ManagementError(400, f"unknown field(s): {', '.join(unknown)}")
        self._checkEnv(entry.get("env", {}))
        try:
            spec = config.parseEntry(name, entry, self._environ(), strict=True)
        except config.EntryError as e:
            raise ManagementError(400, str(e)) from None
        if not spec.runnable:
            raise ManagementError(400, f"command: '{spec.command}' {notFound(spec.command)}")
        data = self._managed.read()
        if workspace is None:
            data["mcpServers"][name] = entry
        elif workspace in workspaceEntries(data, name):
            raise ManagementError(409, f"name: workspace {workspace} has a server named '{name}'")
        else:
            addWorkspaceEntry(data, workspace, name, entry)
        self._managed.write(data)
        return self._applied(lambda: self.summary(name))

    def remove(self, name: str, workspace: str | None = None) -> Deferred[dict[str, Any]]:
        """Remove a server the API added: its entry for every workspace, or
        the one of C{workspace}; without C{workspace}, a server added for
        one workspace only is removed there."""
        self.pool(name)
        data = self._managed.read()
        own = workspaceEntries(data, name)
        if workspace is None and name not in data["mcpServers"] and len(own) == 1:
            [workspace] = own
        if workspace is not None:
            if workspace not in own:
                raise ManagementError(
                    409, f"workspace {workspace} has no server named '{name}' added through the API"
                )
            removeWorkspaceEntry(data, workspace, name)
            self._managed.write(data)
            return self._applied(lambda: {"removed": name, "workspace": workspace})
        if name not in data["mcpServers"]:
            if own:
                raise ManagementError(
                    409,
                    f"server '{name}' was added for {len(own)} workspaces"
                    f" ({', '.join(own)}): say which (?workspace=DIR)",
                )
            raise ManagementError(409, notRemovable(name, self._config.source))
        del data["mcpServers"][name]
        data["overrides"].pop(name, None)
        self._managed.write(data)
        return self._applied(lambda: {"removed": name})

    def patch(self, name: str, body: Any) -> Deferred[dict[str, Any]]:
        """C{{"enabled": bool}} and/or C{{"env": {...}}} (added to the server's
        env); or C{{"set": {KEY: value}, "unset": [KEY]}}: an edit of its
        entry in the gateway's file (L{mcpgateway.config.serversedit}), whose
        answer has the lines of what changed under C{"changes"}."""
        self.pool(name)
        if not isinstance(body, dict) or not body:
            raise ManagementError(400, "the body must be a JSON object with enabled and/or env")
        if set(body) & {"set", "unset"}:
            return self._edit(name, body)
        unknown = sorted(set(body) - {"enabled", "env"})
        if unknown:
            raise ManagementError(400, f"unknown field(s): {', '.join(unknown)}")
        data = self._managed.read()
        override = dict(data["overrides"].get(name, {}))
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ManagementError(400, "enabled: must be true or false")
            override["disabled"] = not body["enabled"]
        if "env" in body:
            env = body["env"]
            if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
                raise ManagementError(400, "env: must be an object of string values")
            self._checkEnv(env)
            override["env"] = {**override.get("env", {}), **env}
        data["overrides"][name] = override
        self._managed.write(data)
        return self._applied(lambda: self.summary(name))

    def _edit(self, name: str, body: dict[str, Any]) -> Deferred[dict[str, Any]]:
        from mcpgateway.config import serversedit

        unknown = sorted(set(body) - {"set", "unset"})
        if unknown:
            raise ManagementError(400, f"unknown field(s) beside set/unset: {', '.join(unknown)}")
        data = self._managed.read()
        try:
            kind, changes = serversedit.apply(
                data, name, serversedit.editFromBody(body), self._environ()
            )
        except serversedit.EditError as e:
            raise ManagementError(400, str(e)) from None
        self._managed.write(data)
        return self._applied(lambda: {**self.summary(name), "edited": kind, "changes": changes})

    def restart(self, name: str) -> Deferred[dict[str, Any]]:
        """Stop the server's children; the next request starts a fresh one,
        and the next client's start-up does too: what the server listed
        before is not served for it until a fresh child lists again (its
        code may have changed, which is why one restarts a server)."""
        pool = self.pool(name)

        def endSession(session: Session) -> None:
            self._gateway.endSession(session, "server restarted through the API")

        catalogs = getattr(self._gateway, "catalogs", None)
        if isinstance(catalogs, Catalogs):
            catalogs.restarted(name)
        return pool.restart(endSession, "restarted through the management API").addCallback(
            lambda pids: {"restarted": name, "stopped": pids}
        )

    def share(self, name: str) -> Deferred[dict[str, Any]]:
        """Undo the server's promotion (C{promotions.json}): it has the share
        of its entry again from the reload on (each session open then goes
        on with its own child until it ends; new sessions share)."""
        from mcpgateway.config.promotions import PromotionStore

        self.pool(name)
        try:
            undone = PromotionStore(self._managed.path.parent).forget(name)
        except OSError as e:
            raise ManagementError(500, f"cannot write promotions.json: {e.strerror or e}") from None
        if undone is None:
            return succeed({"shared": name, "promoted": None})
        promoted = {"share": undone.share, "why": undone.why}
        return self._applied(lambda: {"shared": name, "promoted": promoted})

    def resetCircuit(self, name: str) -> Deferred[dict[str, Any]]:
        pool = self.pool(name)
        pool.resetCircuit()
        pool.events.emit("circuit-reset", "circuit reset through the management API")
        return succeed(self.summary(name))

    # -- helpers ----------------------------------------------------------------

    def _applied(self, answer: Any) -> Deferred[dict[str, Any]]:
        """Reload, then C{answer()}; a failed reload is a 500 that says why
        (the change is saved and applies once the config loads again)."""

        def failed(reason: Any) -> Any:
            raise ManagementError(
                500,
                f"saved to {self._managed.path}, but reloading the"
                f" config failed: {reason.getErrorMessage()}",
            )

        return self._config.reload().addCallbacks(lambda _: answer(), failed)

    def _checkEnv(self, env: Any) -> None:
        if not isinstance(env, dict):
            raise ManagementError(400, "env: must be an object of string values")
        blocked = blockedEnvKeys(env)
        if blocked:
            raise ManagementError(400, f"env: key(s) not allowed: {', '.join(blocked)}")

    def _environ(self) -> dict[str, str]:
        return dict(os.environ)

    def _origin(self, name: str) -> str:
        try:
            data = self._managed.read()
            managed = name in data["mcpServers"] or bool(workspaceEntries(data, name))
        except ValueError:
            managed = False
        return "api" if managed else "config"


def _workspaceOf(value: Any) -> str | None:
    """A C{POST /servers} body's C{workspace}: an absolute path of a directory
    (normalized), or C{None} when absent; else a 400."""
    if value is None:
        return None
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ManagementError(400, "workspace: an absolute path of a directory")
    if not os.path.isdir(value):
        raise ManagementError(400, f"workspace: {value} is not a directory")
    return os.path.normpath(value)


def _refuseWideWorkspace(workspace: str, stateDir: Path, home: str | None = None) -> None:
    """Refuse (400, naming why: L{wideWorkspace}) a workspace that would
    hand a server's children far more than a project. A workspace is where
    a workspace-scoped child may write, and anything that reaches the API
    could otherwise make the home, its settings and keys, or the system
    writable to a child of its choosing."""
    why = wideWorkspace(
        os.path.realpath(workspace),
        os.path.realpath(home or os.path.expanduser("~")),
        os.path.realpath(stateDir),
    )
    if why is not None:
        raise ManagementError(
            400, f"workspace: {workspace} {why}: name the project's own directory"
        )


SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")
"""Every account's temporary directories (a folder in one may be a project)."""


def wideWorkspace(real: str, home: str, state: str) -> str | None:
    """Why C{real} (a real path) is no project's directory, in words, or
    C{None}: the root, the home or what holds it, a dot-folder of the
    home (C{~/.config}, C{~/.ssh}: settings, keys and credentials) or what
    one holds, the gateway's state directory (what it holds and what holds
    it), a shared temporary directory, or the system's (what C{/usr},
    C{/etc}, C{/var}, C{/proc}... hold, as
    L{Places.system<mcpgateway.sandbox.places.Places.system>} reads it)."""
    if real == "/":
        return "is the root"
    if under(real, state):
        return "is the gateway's state directory or inside it"
    if real == home:
        return "is your home"
    if under(home, real) or real in ("/home", "/Users"):
        return "holds your home (or every user's)"
    if under(state, real):
        return "holds the gateway's state directory"
    if under(real, home):
        first = real[len(home.rstrip("/")) + 1 :].split("/", 1)[0]
        if first.startswith("."):
            return f"is in ~/{first}, a dot-folder of your home (settings, keys, credentials)"
        return None
    if real in SHARED_TEMPORARY:
        return "is a temporary directory every account shares"
    if any(under(real, root) for root in PRIVATE):
        return None
    roots = {*SYSTEM_DIRS, *KERNEL}
    if any(under(real, root) or under(real, os.path.realpath(root)) for root in roots):
        return "is a system directory"
    return None


def launchOf(status: ServerStatus) -> list[str] | None:
    """The command line the server's children start with: the binary an
    C{npx}/C{uvx} entry resolved to and its arguments, else the entry's
    command as found on C{PATH} and its C{args}; C{None} when the command
    cannot be found (nothing starts). Never the environment."""
    if status.launch is not None:
        return list(status.launch)
    spec = status.spec
    if spec.remote is not None:
        return [spec.remote.url]
    return None if spec.executable is None else [spec.executable, *spec.args]


def notRemovable(name: str, source: ConfigSource) -> str:
    """Why server C{name}, which the gateway's C{servers.json} does not
    have, cannot be removed through the API: where it comes from
    (L{sourcesOf}, or the bundled demo), and what to do instead."""
    disable = f"disable it here (mcpgateway servers disable {name})"
    files = sourcesOf(name, source)
    if files:
        return f"server '{name}' comes from {' and '.join(files)}; remove it there, or {disable}"
    if name in config.demoConfig()["mcpServers"]:
        return (
            f"server '{name}' is the bundled demo, served because the gateway has no"
            f" ~/.claude.json and no --config; it cannot be removed: {disable}"
        )
    return (
        f"server '{name}' comes from a client's config file the gateway adopted"
        f" (mcpgateway status names them); remove it there, or {disable}"
    )


def sourcesOf(name: str, source: ConfigSource) -> list[str]:
    """The files server C{name} comes from: those the gateway adopted that
    list it, each with its client (C{Claude Code's /home/u/.claude.json},
    C{Cursor's /home/u/.cursor/mcp.json}, as their backups record it), else
    the config file served as it is (C{--config}, or C{~/.claude.json}
    with C{--no-rewrite}); none for the bundled demo. Reads the backups:
    called only to say why a server cannot be removed."""
    if isinstance(source, PlainFile):
        return [] if source.path is None else [str(source.path)]
    from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
    from mcpgateway.clientconfigs.clientsource import ClientsSource

    base = source.base if isinstance(source, ClientsSource) else source
    found = []
    if isinstance(base, AdoptedClaudeConfig):
        try:
            routes = base.servedRoutes()
        except (config.ConfigError, OSError, ValueError):
            routes = {}
        if any(served == name for served, _ in routes):
            found.append(f"Claude Code's {base.path}")
    if isinstance(source, ClientsSource):
        found += _adoptedFrom(name, source.engine)
    if not found and base.path is not None:
        found.append(str(base.path))
    return list(dict.fromkeys(found))


def _adoptedFrom(name: str, engine: AdoptionEngine) -> list[str]:
    """The other clients' files whose backup holds an adopted entry C{name}."""
    from mcpgateway.clientconfigs.backups import readBackup

    found = []
    for adapter, file in engine.files():
        try:
            backup = readBackup(engine.backupPathOf(adapter, file.path))
        except (config.ConfigError, OSError, ValueError):
            continue
        if backup is not None and any(listed == name for _, listed in backup.records):
            found.append(f"{adapter.title or adapter.id}'s {file.path}")
    return found


def remoteConfig(spec: ServerSpec) -> dict[str, Any]:
    """A remote server's URL, transport and header names (never their values)."""
    remote = spec.remote
    if remote is None:
        return {}
    shown: dict[str, Any] = {
        "url": remote.url,
        "transport": remote.transport,
        "headers": {key: SECRET for key, _ in remote.headers},
    }
    if remote.spec is not None:
        shown["spec"] = remote.spec
    if remote.auth != "user":
        shown["auth"] = remote.auth
    if remote.oauthClientId is not None:
        shown["oauthClientId"] = remote.oauthClientId
    if remote.exchange is not None:
        exchange = remote.exchange
        shown["exchange"] = {
            key: value
            for key, value in (
                ("tokenUrl", exchange.tokenUrl),
                ("clientId", exchange.clientId),
                ("clientSecret", None if exchange.clientSecret is None else SECRET),
                ("audience", exchange.audience),
                ("scope", exchange.scope),
            )
            if value is not None
        }
    given = remote.clientCredentials
    if given is not None:
        # An openapi entry's client credentials: the secret never shown.
        shown["oauth"] = {
            key: value
            for key, value in (
                ("tokenUrl", given.tokenUrl),
                ("clientId", given.clientId),
                ("clientSecret", SECRET if given.clientSecret else None),
                ("scope", given.scope),
                ("audience", given.audience),
            )
            if value is not None
        }
    return shown
