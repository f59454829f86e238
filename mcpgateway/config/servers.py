# -*- test-case-name: tests.config.test_servers -*-
"""Read a C{mcpServers} file into immutable L{ServerSpec} values.

Accepts Claude Code's C{~/.claude.json} (user scope at top level, local scope
under C{projects.<path>.mcpServers}), a project C{.mcp.json}, or a file of the
gateway's own with the same shape. The user's (or the gateway file's) servers
become specs at once; a project's entries are kept raw (L{ProjectEntry}):
L{mcpgateway.config.scopes} expands them per workspace (its C{.env}) into
the routes of that workspace, see L{parseConfig}. Expands C{${VAR}} and
C{${VAR:-default}} in command, args, env and cwd; notes (and checks) the
secret references in args, env and headers, which are resolved only when a
child starts (L{mcpgateway.secrets}). Entries that are not stdio
servers, or are invalid, become one warning each; a file that cannot be read
or parsed is an error. Pure: no logging, no reactor; the caller reports what
it returns.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from mcpgateway.config.aggregate import FilterError, serverFilter
from mcpgateway.config.bundleddemo import demoConfig as demoConfig
from mcpgateway.config.bundleddemo import pointsAtDemo
from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.entryerror import EntryError as EntryError
from mcpgateway.config.entryerror import LeftToClient as LeftToClient
from mcpgateway.config.entryerror import expand as _expand
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.config.identity import IdentityError, parseServerInfo
from mcpgateway.config.problems import InvalidEntry
from mcpgateway.config.quotas import QuotasError, canonical
from mcpgateway.config.references import BadReference, referencesOf
from mcpgateway.core.environment import isGatewayOwn
from mcpgateway.core.spec import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_REQUEST_TIMEOUT,
    MODES,
    REMOTE_AUTH,
    ClientCredentials,
    RemoteEndpoint,
    ServerSpec,
    TokenExchangeSettings,
    shareOf,
)
from mcpgateway.flow.labels import EntryLabels, LabelsError, parseEntryLabels
from mcpgateway.sandbox.profile import SandboxError, SandboxProfile, parseSandbox

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
GLOBAL_SCOPES = ("user", "gateway")
"""Scopes whose servers the gateway serves at its global routes."""
REMOTE_SETTINGS = ("keep", "adopt")
"""What the gateway does with the remote entries of clients' files (its
C{--remote} option, C{"remote"} in its C{servers.json}): C{keep} leaves them
with the client (they cost no process), C{adopt} serves them too, as it
serves their stdio entries."""
WIDER_THAN_CREDENTIAL = ("global", "workspace")
"""Scopes that share a child across credential sets: an entry with
C{credentialEnv} cannot have them (a child per set of values is the
C{credential} scope); C{session} can (its child is the session's anyway)."""
MAX_REQUEST_TIMEOUT_MS = 86_400_000.0
"""The longest C{requestTimeout} an entry may ask for: one day, in milliseconds
(a larger one, C{1e300} say, is a request that never times out)."""


class ConfigError(Exception):
    """The config file cannot be used at all."""


@dataclass
class LoadedConfig:
    """What a config file yields: the servers, and what was skipped and why."""

    servers: dict[str, ServerSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was done while loading (for an info log line)."""
    errors: list[str] = field(default_factory=list)
    """What the user must act on (for an error log line): the gateway serves on."""
    invalid: list[InvalidEntry] = field(default_factory=list)
    """The entries skipped for what they hold (each has its warning too)."""
    source: str = ""
    projects: list[ProjectEntry] = field(default_factory=list)
    """The entries of projects (local scope, a C{.mcp.json}), raw: each is
    expanded for its workspace by L{mcpgateway.config.scopes.buildScopes}."""
    limits: str = ""
    """The file's top-level C{"limits"} (L{mcpgateway.config.quotas}),
    checked, as compact JSON; empty when it has none or they are wrong (an
    error then says why)."""


@dataclass(frozen=True)
class ProjectEntry:
    """One server entry of a project, as the file has it."""

    workspace: str
    """The project directory (the key of C{projects} in C{~/.claude.json},
    the directory of a C{.mcp.json})."""
    name: str
    entry: dict[str, Any]
    label: str
    """Where it comes from, for warnings: C{local scope of project /p}."""
    origin: str | None = None
    """The project's own file it comes from (a repository's C{.mcp.json},
    C{.cursor/mcp.json}...), whose secret references resolve only once the
    user approves them (L{mcpgateway.config.origins}); C{None}: the user's
    own config."""


def defaultConfigPath(home: str | None = None) -> Path | None:
    """C{~/.claude.json} when it exists, else C{None} (the bundled demo)."""
    path = Path(home or os.path.expanduser("~")) / ".claude.json"
    return path if path.is_file() else None


def readConfigFile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse a config file, or raise L{ConfigError} naming the file
    and the position of the JSON error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"config file {path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def loadConfig(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load the servers of C{path} (the bundled demo when C{None})."""
    if path is None:
        demo = parseConfig(demoConfig(), "bundled demo", environ)
        demo.servers = {n: replace(s, configFile=None) for n, s in demo.servers.items()}
        return demo
    name = Path(path).name
    defaultScope = (
        "project" if name == ".mcp.json" else ("user" if name == ".claude.json" else "gateway")
    )
    return parseConfig(readConfigFile(path), str(path), environ, defaultScope)


def parseConfig(
    data: Mapping[str, Any],
    source: str,
    environ: Mapping[str, str] | None = None,
    defaultScope: str = "gateway",
    remotes: bool = False,
) -> LoadedConfig:
    """Turn a parsed config document into server specs, project entries and warnings.

    The top-level C{mcpServers} of a user or gateway file become
    L{LoadedConfig.servers}, served at C{/<name>/mcp} for every client. The
    entries of a project (C{projects.<path>.mcpServers}, or the top level of
    a C{.mcp.json}: C{defaultScope} C{project}, its workspace the file's
    directory) become L{LoadedConfig.projects}, checked here (an invalid or
    non-stdio one is a warning and is dropped) but expanded later, for their
    workspace. A name may be in both: each definition keeps its meaning.

    @param remotes: serve the remote entries of a user file too (C{--remote
        adopt}); else only a gateway file's remote entries are served.
    """
    env = os.environ if environ is None else environ
    loaded = LoadedConfig(source=source)
    scopes: list[tuple[str, str, Any]] = []
    if "mcpServers" in data:
        where = os.path.dirname(os.path.abspath(source)) if defaultScope == "project" else ""
        scopes.append((defaultScope, where, data["mcpServers"]))
    projects = data.get("projects")
    if isinstance(projects, dict):
        for projectPath in sorted(projects):
            project = projects[projectPath]
            if isinstance(project, dict) and "mcpServers" in project:
                scopes.append(("local", projectPath, project["mcpServers"]))
    if not scopes:
        loaded.warnings.append(f"{source} has no mcpServers object; no servers to serve")
    try:
        loaded.limits = canonical(data.get("limits"))
    except QuotasError as e:
        loaded.errors.append(f"{source}: {e}; no gateway-wide limits apply")
    for scope, where, block in scopes:
        label = f"{scope} scope" + (f" of project {where}" if scope == "local" else "")
        if not isinstance(block, dict):
            loaded.warnings.append(f"mcpServers in {label} is not an object; skipped")
            continue
        for name, entry in block.items():
            try:
                if scope in GLOBAL_SCOPES:
                    spec = parseEntry(name, entry, env, scope, remotes=remotes)
                    loaded.servers[name] = replace(spec, configFile=source)
                    continue
                # Checked now; ${VAR} is expanded per workspace (its .env may set it).
                parseEntry(name, entry, _AnyVariable(), scope, remotes=remotes)
            except LeftToClient as left:
                loaded.notes.append(f"server '{name}' ({label}): {left}")
                if pointsAtDemo(entry) and "demo" not in loaded.servers:
                    loaded.servers["demo"] = _demo(env)
                    loaded.notes.append(
                        f"server '{name}' ({label}) points at the gateway's bundled demo"
                        " (/demo/mcp): it is served"
                    )
                continue
            except EntryError as skip:
                loaded.warnings.append(f"server '{name}' ({label}): {skip}; skipped")
                loaded.invalid.append(InvalidEntry(str(name), source, label, str(skip)))
                continue
            loaded.projects.append(ProjectEntry(where, name, dict(entry), label))
    return loaded


def _demo(environ: Mapping[str, str] | None) -> ServerSpec:
    """The bundled demo's spec (L{demoConfig}), as the gateway serves it."""
    demo = parseConfig(demoConfig(), "bundled demo", environ).servers["demo"]
    return replace(demo, configFile=None)


class _AnyVariable(Mapping[str, str]):
    """An environment where every variable is set (empty): checks an entry
    without expanding it. C{PATH} is empty: nothing is looked up."""

    def __getitem__(self, key: str) -> str:
        return ""

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _kind(
    entry: dict[str, Any], environ: Mapping[str, str], scope: str, strict: bool, remotes: bool
) -> tuple[RemoteEndpoint | None, tuple[str, list[str], dict[str, str], str | None], str]:
    """What an entry runs: a remote endpoint (or C{None}), the stdio launch
    (C{command}, C{args}, C{env}, C{cwd}; a remote server's URL as its
    command), and its share word."""
    if strict and "command" in entry and ("url" in entry or "serverUrl" in entry):
        raise EntryError(
            "an entry has 'command' (a stdio server) or 'url' (a remote one), not both"
        )
    remote = _remote(entry, environ, scope, remotes)
    if remote is None:
        command, args, env, cwd = _launch(entry)
    else:
        command, args, env, cwd = remote.url or remote.spec or "", [], {}, None
    share = _share(entry, remote is not None)
    if (
        remote is not None
        and remote.transport == "openapi"
        and not ("share" in entry or "mode" in entry)
    ):
        share = "global"  # a REST API has no session: one child answers every client
    return remote, (command, args, env, cwd), share


def parseEntry(
    name: Any,
    entry: Any,
    environ: Mapping[str, str],
    scope: str = "gateway",
    strict: bool = False,
    remotes: bool = False,
) -> ServerSpec:
    """Validate one C{mcpServers} entry, or raise L{EntryError} saying why not.

    C{strict} (a new entry, from the API or C{servers add}) also refuses what
    a file may say and the gateway reads its own way: C{credentialEnv} with a
    C{global} or C{workspace} share (in a file it is served as C{credential},
    what it gets: L{mcpgateway.config.classification.resolve}), so a server
    already in a file is never dropped for it.

    A C{user}-scope entry (a client's user file, such as the top level of
    C{~/.claude.json}) with a relative C{cwd} is refused: the client resolves
    it against the directory it runs in, which the gateway does not know (a
    project's entry is resolved against its workspace, by
    L{mcpgateway.config.scopes}).

    A remote entry is served from the gateway's own config (scope
    C{gateway}), and with C{remotes} (C{--remote adopt}) from a client's user
    scope too; a project's remote entries stay with the client."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise EntryError("the name must be 1-64 letters, digits, '-', '_' or '.' to be URL-safe")
    if not isinstance(entry, dict):
        raise EntryError("the entry is not an object")
    remote, (command, args, env, cwd), share = _kind(entry, environ, scope, strict, remotes)
    credentialEnv = _credentialEnv(entry)
    envFrom = _envFrom(entry)
    explicit = "share" in entry or "mode" in entry
    if strict and credentialEnv and share in WIDER_THAN_CREDENTIAL and explicit:
        raise EntryError(
            f"'credentialEnv' gives a child per set of credential values, which '{share}'"
            ' servers do not have: say "share": "credential" (or leave "share" out),'
            " or drop 'credentialEnv'"
        )
    maxChildren = entry.get("maxChildren", DEFAULT_MAX_CHILDREN)
    if isinstance(maxChildren, bool) or not isinstance(maxChildren, int) or maxChildren < 1:
        raise EntryError("'maxChildren' must be a whole number of at least 1")
    timeoutMs = _positive(entry, "requestTimeout", "milliseconds", MAX_REQUEST_TIMEOUT_MS)
    idleMs = _positive(entry, "idleTimeout", "milliseconds")
    maxRssMb = _positive(entry, "maxRssMb", "megabytes")
    pingMs = _positive(entry, "healthPing", "milliseconds")
    prewarm = _flag(entry, "prewarm", False)
    lazy = _flag(entry, "lazy", True)
    era2026 = _flag(entry, "era2026", _flag(entry, OLD_ERA2026_KEY, True))
    perUser = _flag(entry, "perUser", False)
    era = entry.get("era", "handshake")
    era = OLD_ERA_WORDS.get(era, era) if isinstance(era, str) else era
    if era not in ("handshake", "era2026"):
        raise EntryError('\'era\' must be "handshake" or "era2026"')
    try:
        aggregate = serverFilter(entry)  # what of it the aggregate endpoint /mcp lists
    except FilterError as e:
        raise EntryError(str(e)) from None
    references = _secretReferences(entry, args, env, remote is not None)
    if remote is None:  # a remote URL is expanded already
        command = _expand(command, environ, "command")
    expandedArgs = tuple(_expand(a, environ, "args") for a in args)
    expandedEnv = tuple(sorted((k, _expand(v, environ, f"env.{k}")) for k, v in env.items()))
    if cwd is not None:
        given, cwd = cwd, os.path.expanduser(_expand(cwd, environ, "cwd"))
        if scope == "user" and not os.path.isabs(cwd):
            # The client starts it in the directory it runs in (a project);
            # the gateway has no such directory for a user-scope server.
            raise EntryError(f"its cwd {given!r} is relative to a directory only the client knows")
    searchPath = dict(expandedEnv).get("PATH", environ.get("PATH"))
    return ServerSpec(
        name=name,
        command=command,
        args=expandedArgs,
        env=expandedEnv,
        cwd=cwd,
        mode=share,
        modeDeclared="share" in entry or "mode" in entry or remote is not None,
        requestTimeout=DEFAULT_REQUEST_TIMEOUT if timeoutMs is None else timeoutMs / 1000.0,
        requestTimeoutDeclared=timeoutMs is not None,
        prewarm=prewarm,
        lazy=lazy,
        era2026=era2026,
        era=era,
        idleTimeout=None if idleMs is None else idleMs / 1000.0,
        maxRssMb=maxRssMb,
        healthPing=None if pingMs is None else pingMs / 1000.0,
        scope=scope,
        executable=which(command, searchPath),
        credentialEnv=credentialEnv,
        envFrom=envFrom,
        maxChildren=maxChildren,
        perUser=perUser,
        aggregate=aggregate,
        remote=remote,
        references=references,
        sandbox=_sandbox(entry),
        limits=_quotas(entry),
        **_described(entry),
    )


class _Described(TypedDict):
    displayName: str | None
    displayTitle: str | None
    labels: EntryLabels


def _described(entry: dict[str, Any]) -> _Described:
    """The entry's C{"serverInfo"} (the name and title its clients see,
    L{mcpgateway.config.identity}) and C{"labels"} (L{mcpgateway.flow.labels}),
    checked, as L{ServerSpec} fields."""
    try:
        name, title = parseServerInfo(entry)
        labels = parseEntryLabels(entry.get("labels"))
    except (IdentityError, LabelsError) as e:
        raise EntryError(str(e)) from None
    return _Described(displayName=name, displayTitle=title, labels=labels)


def _quotas(entry: dict[str, Any]) -> str:
    """The entry's C{"limits"} (L{mcpgateway.config.quotas}), checked."""
    try:
        return canonical(entry.get("limits"), "'limits'")
    except QuotasError as e:
        raise EntryError(str(e)) from None


def _sandbox(entry: dict[str, Any]) -> SandboxProfile:
    """The entry's C{"sandbox"} (and VS Code's C{"sandboxEnabled"}),
    L{mcpgateway.sandbox.profile}."""
    try:
        return parseSandbox(entry)
    except SandboxError as e:
        raise EntryError(str(e)) from None


def _secretReferences(
    entry: dict[str, Any], args: list[str], env: dict[str, str], remote: bool
) -> frozenset[str]:
    """The secret references the entry writes in its C{args}, C{env} and
    (a remote entry) C{headers}, before any C{${VAR}} is expanded: only
    these are resolved when a child starts (L{mcpgateway.secrets})."""
    places = [(f"args[{i}]", arg) for i, arg in enumerate(args)]
    places += [(f"env.{key}", value) for key, value in env.items()]
    if remote:
        places += [(f"headers.{key}", value) for key, value in entry.get("headers", {}).items()]
    try:
        return referencesOf(places)
    except BadReference as e:
        raise EntryError(str(e)) from None


REMOTE_TYPES = {
    "openapi": "openapi",
    "http": "http",
    "streamable-http": "http",
    "streamableHttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
"""The C{type} words of remote entries, and the transport each means."""


def isRemoteEntry(entry: Any) -> bool:
    """Whether C{entry} is a remote server's entry (L{REMOTE_TYPES}, or a
    C{url}/C{serverUrl} without a C{command})."""
    return isinstance(entry, dict) and _remoteType(entry) is not None


def _remoteType(entry: dict[str, Any]) -> str | None:
    """The C{type} word of a remote entry, C{None} for any other entry."""
    kind = entry.get("type")
    if kind is None and "command" not in entry and ("url" in entry or "serverUrl" in entry):
        kind = "http"
    return kind if isinstance(kind, str) and kind in REMOTE_TYPES else None


def _remote(
    entry: dict[str, Any], environ: Mapping[str, str], scope: str, remotes: bool = False
) -> RemoteEndpoint | None:
    """A remote entry's endpoint, checked, its C{${VAR}} references expanded
    (C{None}: a stdio entry). Claude Code's and VS Code's C{type}/C{url}/
    C{headers}, Cursor's C{url} without a type (Streamable HTTP) and
    Windsurf's C{serverUrl} are read as they are written; Claude Code's
    C{oauth} gives the client id a login registers as.

    The gateway's own config serves remote servers; a client's file does
    only in its user scope and with C{remotes} (C{--remote adopt}), and
    never an C{openapi} entry (no client writes one). Elsewhere they stay
    with the client (they cost no process)."""
    kind = _remoteType(entry)
    if kind is None:
        return None
    if scope != "gateway":
        if not remotes:
            raise LeftToClient(f"type '{kind}' is a remote server; clients keep using it directly")
        if kind == "openapi":
            raise EntryError("type 'openapi' is served from the gateway's own config only")
        if scope != "user":
            raise LeftToClient(
                f"type '{kind}' is a remote server of a project; clients keep using it"
                " directly (the gateway adopts the remote entries of user files only)"
            )
        if "headersHelper" in entry:
            raise LeftToClient(
                "its headers come from 'headersHelper', a command only the client runs;"
                " clients keep using it directly"
            )
    spec, clientCredentials = None, None
    if kind == "openapi":
        spec = _openapiSpec(entry, environ)
        given = entry.get("baseUrl")
        url = "" if given is None else _httpUrl(given, environ, "baseUrl")
        clientCredentials = _clientCredentials(entry, environ)
    else:
        url = _httpUrl(entry.get("url", entry.get("serverUrl")), environ, "url")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise EntryError("'headers' must be an object of string values")
    expanded = []
    for key, value in sorted(headers.items()):
        if not _HEADER_NAME.fullmatch(key):
            raise EntryError(f"header name {key!r} is not a valid HTTP header name")
        value = _expand(value, environ, f"headers.{key}")
        if not value.isascii():
            raise EntryError(f"the value of header {key!r} must be ASCII")
        if not value.isprintable():
            raise EntryError(f"the value of header {key!r} holds a control character")
        expanded.append((key, value))
    if clientCredentials is not None and any(k.lower() == "authorization" for k, _ in expanded):
        raise EntryError("an entry with 'oauth.tokenUrl' cannot have an Authorization header too")
    endpoint = _withAuth(
        RemoteEndpoint(
            url, REMOTE_TYPES[kind], tuple(expanded), spec, clientCredentials=clientCredentials
        ),
        entry,
        environ,
    )
    clientId = _oauthClientId(entry, environ)
    return endpoint if clientId is None else replace(endpoint, oauthClientId=clientId)


def _withAuth(
    endpoint: RemoteEndpoint, entry: dict[str, Any], environ: Mapping[str, str]
) -> RemoteEndpoint:
    """C{endpoint} with the entry's C{auth} (whose upstream token its
    children use) and, for C{"exchange"}, its C{exchange} object."""
    auth = entry.get("auth", "user")
    if auth not in REMOTE_AUTH:
        raise EntryError(f"'auth' must be one of {', '.join(map(repr, REMOTE_AUTH))}")
    given = entry.get("exchange")
    if auth != "exchange":
        if given is not None:
            raise EntryError('\'exchange\' is for an entry with "auth": "exchange"')
        return replace(endpoint, auth=auth)
    if endpoint.transport != "http":
        raise EntryError('"auth": "exchange" is for Streamable HTTP servers ("type": "http")')
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise EntryError("'exchange' must be an object")
    unknown = sorted(set(given) - {"tokenUrl", "clientId", "clientSecret", "audience", "scope"})
    if unknown:
        raise EntryError(f"'exchange' has unknown key(s) {', '.join(map(repr, unknown))}")
    values: dict[str, str | None] = {}
    for key in ("clientId", "clientSecret", "audience", "scope"):
        value = given.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise EntryError(f"'exchange.{key}' must be a non-empty string")
        values[key] = None if value is None else _expand(value.strip(), environ, f"exchange.{key}")
    tokenUrl = given.get("tokenUrl")
    settings = TokenExchangeSettings(
        tokenUrl=None if tokenUrl is None else _httpUrl(tokenUrl, environ, "exchange.tokenUrl"),
        clientId=values["clientId"],
        clientSecret=values["clientSecret"],
        audience=values["audience"],
        scope=values["scope"],
    )
    return replace(endpoint, auth=auth, exchange=settings)


def _oauthClientId(entry: dict[str, Any], environ: Mapping[str, str]) -> str | None:
    """The client id of an entry's C{oauth} object (Claude Code's C{{"clientId",
    "callbackPort", ...}}), C{None} when it names none."""
    oauth = entry.get("oauth")
    if oauth is None:
        return None
    if not isinstance(oauth, dict):
        raise EntryError("'oauth' must be an object")
    clientId = oauth.get("clientId")
    if clientId is None:
        return None
    if not isinstance(clientId, str) or not clientId.strip():
        raise EntryError("'oauth.clientId' must be a non-empty string")
    return _expand(clientId.strip(), environ, "oauth.clientId")


def _clientCredentials(
    entry: dict[str, Any], environ: Mapping[str, str]
) -> ClientCredentials | None:
    """An C{openapi} entry's OAuth client credentials: its C{oauth} object
    with C{tokenUrl}, C{clientId}, and optionally C{clientSecret}, C{scope}
    and C{audience}, their C{${VAR}}s expanded (C{None}: no C{tokenUrl})."""
    oauth = entry.get("oauth")
    if not isinstance(oauth, dict) or "tokenUrl" not in oauth:
        return None
    values: dict[str, str] = {}
    for key in ("clientId", "clientSecret", "scope", "audience"):
        value = oauth.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise EntryError(f"'oauth.{key}' must be a non-empty string")
        values[key] = _expand(value.strip(), environ, f"oauth.{key}")
    if "clientId" not in values:
        raise EntryError("'oauth.clientId' is needed with 'oauth.tokenUrl' (client credentials)")
    return ClientCredentials(
        _httpUrl(oauth["tokenUrl"], environ, "oauth.tokenUrl"),
        values["clientId"],
        values.get("clientSecret", ""),
        values.get("scope"),
        values.get("audience"),
    )


def _httpUrl(given: Any, environ: Mapping[str, str], key: str) -> str:
    """An entry's C{key}, an http(s) URL, its C{${VAR}}s expanded."""
    if not isinstance(given, str) or not given.strip():
        raise EntryError(f"'{key}' must be a non-empty string")
    url = _expand(given.strip(), environ, key)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError as e:
        raise EntryError(f"'{key}' is not a URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EntryError(f"'{key}' must be an http:// or https:// URL, not {url!r}")
    if not url.isascii():
        raise EntryError(f"'{key}' must be ASCII (percent-encode the rest)")
    return url


def _openapiSpec(entry: dict[str, Any], environ: Mapping[str, str]) -> str:
    """An C{openapi} entry's document: an http(s) URL, or an absolute path
    (C{~} expanded)."""
    given = entry.get("spec")
    if not isinstance(given, str) or not given.strip():
        raise EntryError("'spec' must name the OpenAPI document: a file's path or a URL")
    if given.strip().lower().startswith(("http://", "https://")):
        return _httpUrl(given, environ, "spec")
    path = os.path.expanduser(_expand(given.strip(), environ, "spec"))
    if not os.path.isabs(path):
        raise EntryError(f"'spec' must be an absolute path or a URL, not {given!r}")
    return path


def httpsRemotes(*paths: Path) -> bool:
    """Whether any of the gateway's own config files C{paths} (its
    C{--config}, its C{servers.json}) has a remote server on https: then the
    gateway keeps TLS support loaded (L{mcpgateway.startup.endpoints.leaveOutTLS}).
    A file that cannot be read or parsed has none (it is reported later)."""
    for path in paths:
        if path.name in (".claude.json", ".mcp.json"):
            continue  # a client's file: its remote servers stay with the client
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        block = data.get("mcpServers") if isinstance(data, dict) else None
        for entry in block.values() if isinstance(block, dict) else ():
            if isinstance(entry, dict) and "command" not in entry:
                for key in ("url", "serverUrl", "baseUrl", "spec"):
                    url = entry.get(key)
                    if isinstance(url, str) and url.strip().lower().startswith("https:"):
                        return True
    return False


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _launch(entry: dict[str, Any]) -> tuple[str, list[str], dict[str, str], str | None]:
    """A stdio entry's C{command}, C{args}, C{env} and C{cwd}, checked (their
    C{${VAR}} references not expanded yet); L{EntryError} for an entry of
    another type or a value of the wrong kind."""
    kind = entry.get("type")
    if kind is None and "command" not in entry:
        kind = "http" if ("url" in entry or "serverUrl" in entry) else None
    if kind not in (None, "stdio"):
        raise LeftToClient(f"type '{kind}' is not a stdio server; clients keep using it directly")
    if "command" not in entry:
        raise EntryError("it has neither 'command' (a stdio server) nor 'url' (a remote one)")
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise EntryError("'command' must be a non-empty string")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise EntryError("'args' must be a list of strings")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise EntryError("'env' must be an object of string values")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise EntryError("'cwd' must be a string")
    return command, args, env, cwd


OLD_ERA2026_KEY = "modern"
"""The entry key that C{"era2026"} replaced, still read when C{"era2026"} is absent."""
OLD_ERA_WORDS = {"legacy": "handshake", "modern": "era2026"}
"""The C{"era"} words that C{"handshake"} and C{"era2026"} replaced, still read."""


def _flag(entry: dict[str, Any], key: str, default: bool) -> bool:
    """The entry's boolean C{key} (C{default} when absent)."""
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise EntryError(f"'{key}' must be true or false")
    return value


def _share(entry: dict[str, Any], remote: bool = False) -> str:
    """The entry's scope as a C{"share"} word: its C{"share"}, or its older
    C{"mode"} (both may be given when they agree); when neither, C{global}
    for a stdio server and C{session} for a remote one (an upstream session
    per client session costs no process, and the server sees each client's
    own C{initialize}). A remote server is shared C{global}ly or per
    C{session}: it has no workspace and no environment."""
    words = []
    for key in ("share", "mode"):
        if key in entry:
            word = entry[key]
            if not isinstance(word, str) or word not in MODES:
                raise EntryError(f"'{key}' must be one of {', '.join(MODES)}")
            words.append(shareOf(word).value)
    if len(set(words)) > 1:
        raise EntryError(f"'share' ({entry['share']}) and 'mode' ({entry['mode']}) disagree")
    if not remote:
        return words[0] if words else "global"
    if words and words[0] not in ("global", "session"):
        raise EntryError(f"a remote server is shared 'global' or per 'session', not '{words[0]}'")
    return words[0] if words else "session"


def _credentialEnv(entry: dict[str, Any]) -> tuple[str, ...]:
    """The variables a client may give as C{X-Mcp-Env-*} headers."""
    return _safeNames(entry, "credentialEnv", "a client")


def _envFrom(entry: dict[str, Any]) -> tuple[str, ...]:
    """The names a workspace's C{.env} may give the server's children
    besides those of its C{env} and C{credentialEnv} (C{"envFrom": ["NAME",
    ...]})."""
    return _safeNames(entry, "envFrom", "a workspace's .env")


def _safeNames(entry: dict[str, Any], key: str, setter: str) -> tuple[str, ...]:
    """The entry's C{key}: a list of variable names that C{setter} (someone
    other than the user) may set; a name that steers a loader or an
    interpreter, or the gateway's own, is refused."""
    names = entry.get(key, [])
    if not isinstance(names, list) or not all(
        isinstance(n, str) and ENV_NAME.fullmatch(n) for n in names
    ):
        raise EntryError(f"'{key}' must be a list of environment variable names")
    refused = sorted({n for n in names if isDenied(n) or isGatewayOwn(n)})
    if refused:
        raise EntryError(
            f"'{key}' may not list {', '.join(refused)}: {setter} must not set"
            " the gateway's own variables or make the server load other code"
        )
    return tuple(dict.fromkeys(names))


def which(command: str, searchPath: str | None) -> str | None:
    """C{command} looked up on C{searchPath}; C{None} when not found or not a
    name a file can have."""
    try:
        return shutil.which(command, path=searchPath)
    except (ValueError, UnicodeError, OSError):
        return None


def _positive(
    entry: dict[str, Any], key: str, unit: str, maximum: float | None = None
) -> float | None:
    """C{entry[key]}: a finite positive number (at most C{maximum}), or C{None}
    when absent.

    @raise EntryError: anything else, naming the key, the unit and the bound.
    """
    value = entry.get(key)
    if value is None:
        return None
    bound = "" if maximum is None else f", at most {maximum:.0f} ({_span(maximum, unit)})"
    why = f"'{key}' must be a positive number of {unit}{bound}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EntryError(why)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise EntryError(why)
    if maximum is not None and number > maximum:
        raise EntryError(f"{why}, not {_asGiven(value)}")
    return number


def _asGiven(value: int | float) -> str:
    """C{value} as the file or the request wrote it: every digit of a whole
    number (C{86400001}, never C{8.64e+07}), a fraction as Python reads it
    back (C{1e+300})."""
    return str(value) if isinstance(value, int) else repr(value)


def _span(maximum: float, unit: str) -> str:
    """C{maximum} C{unit} in words (one day)."""
    if unit == "milliseconds" and maximum == 86_400_000:
        return "one day"
    return f"{maximum:g} {unit}"
