# -*- test-case-name: tests.core.pools.test_pool -*-
"""A configured server as the core sees it: an immutable L{ServerSpec} (a
stdio command, or a remote server's L{RemoteEndpoint}), and how its children
are shared (L{Sharing})."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from mcpgateway.core.environment import basicEnvironment
from mcpgateway.flow.labels import NO_ENTRY_LABELS, EntryLabels
from mcpgateway.sandbox.profile import DEFAULT as DEFAULT_SANDBOX
from mcpgateway.sandbox.profile import SandboxProfile


class Sharing(Enum):
    """Who a server's children serve: its I{scope}. The values are the words
    of the config's C{"share"} (C{"mode"}'s C{stateless}/C{stateful} are read
    as C{global}/C{session}, see L{MODE_WORDS})."""

    GLOBAL = "global"
    """One child for every session, initialized by the gateway."""
    WORKSPACE = "workspace"
    """One child per workspace (project directory), started there with its C{.env}."""
    CREDENTIAL = "credential"
    """One child per distinct set of credential values."""
    SESSION = "session"
    """One child per session, spawned at its C{initialize}, stopped when it ends."""
    SHARED = "global"
    """Alias of L{GLOBAL}."""
    PER_SESSION = "session"
    """Alias of L{SESSION}."""

    @property
    def modeWord(self) -> str:
        """The C{"mode"} word of this scope (C{/health} and older clients):
        C{stateful} for a child per session, else C{stateless}."""
        return "stateful" if self is Sharing.SESSION else "stateless"


SHARES = tuple(sharing.value for sharing in Sharing)
"""Every C{"share"} word, narrowest last."""
MODE_WORDS = {"stateless": "global", "stateful": "session"}
"""C{"mode"} words and the C{"share"} they mean."""
MODES = SHARES + tuple(MODE_WORDS)
"""Every word a config entry's C{"share"} or C{"mode"} may say."""
DEFAULT_MAX_CHILDREN = 16
"""Children a workspace- or credential-scoped server may run at once."""
SCOPED_IDLE_TIMEOUT = 600.0
"""Seconds after which an idle workspace or credential child is stopped."""


def shareOf(word: str) -> Sharing:
    """The scope a C{"share"} or C{"mode"} word names (C{ValueError} if none)."""
    return Sharing(MODE_WORDS.get(word, word))


DEFAULT_REQUEST_TIMEOUT = 60.0
DEFAULT_START_TIMEOUT = 60.0
"""Seconds a child's handshake may take (C{--start-timeout}), whatever
shorter request timeout its calls have: a confined child's launcher and
bubblewrap, or an C{npx} resolving its package, make a start slower than
a call."""

REMOTE_AUTH = ("user", "shared", "exchange")
"""Whose upstream token a remote server's children use (L{RemoteEndpoint.auth})."""
REMOTE_TRANSPORTS = ("http", "sse", "openapi")
"""How a remote server is reached: C{http} (Streamable HTTP), C{sse} (the
2024-11-05 HTTP+SSE transport), or C{openapi} (a REST API whose OpenAPI
document gives its tools)."""


@dataclass(frozen=True)
class TokenExchangeSettings:
    """Where and as whom the gateway trades a principal's access token for
    a remote server's (RFC 8693; an entry's C{"exchange"} object)."""

    tokenUrl: str | None = None
    """The token endpoint (C{None}: the one the gateway's C{--oauth-issuer}
    publishes in its metadata)."""
    clientId: str | None = None
    clientSecret: str | None = field(default=None, repr=False)
    """The gateway's client secret at that endpoint (HTTP Basic); never shown."""
    audience: str | None = None
    """The RFC 8693 C{audience}, when the issuer wants one besides the resource."""
    scope: str | None = None


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth client that gets its tokens with the client credentials
    grant (RFC 6749 section 4.4): the gateway calling an API as itself."""

    tokenUrl: str
    """The authorization server's token endpoint."""
    clientId: str
    clientSecret: str = field(default="", repr=False)
    """Sent with HTTP Basic (C{""}: a public client, named in the form);
    never logged or shown."""
    scope: str | None = None
    audience: str | None = None
    """The C{audience} some authorization servers (Auth0's) want."""


@dataclass(frozen=True)
class RemoteEndpoint:
    """Where a remote MCP server answers, and what every request to it carries.

    A remote server's "child" is an upstream session with it, held by the
    gateway (L{mcpgateway.remote}): the same pools, routing and breaker as a
    process, with no process."""

    url: str
    transport: str = "http"
    """One of L{REMOTE_TRANSPORTS}."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Sent with every request (an API key, say); never logged or shown."""
    spec: str | None = None
    """An C{openapi} server's OpenAPI document: a file's path or a URL (its
    C{url} is then the API's base URL, C{""} for the document's own)."""
    auth: str = "user"
    """Whose upstream OAuth token a child uses (one of L{REMOTE_AUTH}):
    C{"user"}, the token of the principal the child serves (on a gateway
    without authentication, the one C{mcpgateway login} gives); C{"shared"},
    the gateway's own login for every principal; C{"exchange"}, a token the
    gateway gets for the principal by RFC 8693 token exchange."""
    principal: str = ""
    """The key of the principal whose child this endpoint opens (C{""}:
    nobody's in particular); set when the child is started
    (L{ServerSpec.forPrincipal})."""
    oauthClientId: str | None = None
    """The OAuth client id the entry names (Claude Code's C{"oauth":
    {"clientId": ...}}): the client a login registers as instead of
    registering one dynamically (C{None}: none named)."""
    clientCredentials: ClientCredentials | None = None
    """The OAuth client an C{openapi} entry calls its API as (its C{"oauth":
    {"tokenUrl", "clientId", "clientSecret", ...}}): the gateway's own
    identity, whose token (RFC 6749 client credentials grant) every
    principal shares (C{None}: none)."""
    exchange: TokenExchangeSettings | None = field(default=None, repr=False)
    """How an C{"auth": "exchange"} entry's tokens are obtained (C{None}:
    the gateway's issuer's token endpoint, no client of its own)."""

    @property
    def ownAuthorization(self) -> bool:
        """Whether the entry's own headers authorize its requests (an API
        key as C{Authorization}): the gateway's tokens are not used."""
        return any(key.lower() == "authorization" for key, _ in self.headers)

    @property
    def tokenPerPrincipal(self) -> bool:
        """Whether each principal's children call it with a token of the
        principal's own (no shared token, no C{Authorization} header of the
        entry's, no client credentials of the gateway's own): on an
        authenticated gateway no two principals share a child."""
        return (
            self.auth != "shared" and not self.ownAuthorization and self.clientCredentials is None
        )


@dataclass(frozen=True)
class EntryOrigin:
    """A project's entry that comes from a file of the project itself (a
    repository's C{.mcp.json}, C{.cursor/mcp.json}, C{.vscode/mcp.json}...),
    not from the user's own config: its secret references are resolved only
    with the user's approval of exactly this entry
    (L{mcpgateway.secrets.approvals})."""

    path: str
    """The project's file the entry comes from."""
    workspace: str
    """The project directory (its real path)."""
    digest: str
    """The entry's digest, as the gateway serves it
    (L{mcpgateway.config.origins.entryDigest}): what an approval names."""


@dataclass(frozen=True)
class ToolFilter:
    """One server's part of an aggregate endpoint (C{/mcp},
    L{mcpgateway.core.aggregate}): its entry's C{"aggregate"}
    (L{ServerSpec.aggregate}), or an endpoint's setting for it.

    @ivar enabled: listed at all.
    @ivar include: tool names listed and callable (empty: all).
    @ivar exclude: tool names never listed nor callable.
    @ivar budget: at most this many of its tools listed (the first ones).
    @ivar alias: the prefix its names get instead of the server's name.
    """

    enabled: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    budget: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class ServerSpec:
    """One stdio MCP server the gateway serves at C{/<name>/mcp}."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    mode: str = "global"
    """Its scope: a C{"share"} word (a older C{"mode"} word is read as one)."""
    modeDeclared: bool = False
    """Whether the entry said C{"share"} or C{"mode"} itself (it then beats the built-in list)."""
    requestTimeout: float = DEFAULT_REQUEST_TIMEOUT
    requestTimeoutDeclared: bool = False
    """Whether the entry (or C{classification.json}) set C{requestTimeout}
    itself: then C{--request-timeout} leaves it alone, whatever its value."""
    scope: str = "gateway"
    executable: str | None = None
    """The command resolved on C{PATH}; C{None} when it was not found."""
    disabled: bool = False
    """Turned off through the management API: served as an error, no children."""
    prewarm: bool = False
    """Start the shared child when the gateway starts, not on first use."""
    lazy: bool = True
    """While its shared child does not run, answer a session's start-up
    (C{initialize}, the lists) from its saved catalog, and start the child
    at the first request the catalog cannot answer (config C{"lazy":
    false}: the child starts at the first session's C{initialize})."""
    idleTimeout: float | None = None
    """Seconds without traffic after which the shared child is stopped."""
    maxRssMb: float | None = None
    """Restart a child whose resident memory grows past this."""
    healthPing: float | None = None
    """Seconds of idleness after which a shared child is pinged (no answer: restarted)."""
    credentialEnv: tuple[str, ...] = ()
    """Variables a client may give as C{X-Mcp-Env-<NAME>} headers (credential scope)."""
    envFrom: tuple[str, ...] = ()
    """Names a workspace's C{.env} may give its children besides its C{env}
    keys and C{credentialEnv} (config C{"envFrom"}); a workspace's C{.env}
    gives them nothing else."""
    maxChildren: int = DEFAULT_MAX_CHILDREN
    """Most children of a workspace- or credential-scoped server at once."""
    variants: tuple[Variant, ...] = ()
    """The routes of a scoped server (workspaces), each with its launch spec;
    empty: the server has only its global route."""
    pinned: bool = False
    """C{classification.json} set its scope: it is never promoted."""
    promoted: str | None = None
    """Why the gateway made it session-scoped (from the state directory)."""
    era2026: bool = True
    """Served to MCP 2026-07-28 clients (config C{"era2026": false}: they get
    404/-32601 and fall back to C{initialize})."""
    aggregate: ToolFilter = field(default_factory=ToolFilter)
    """What of it the aggregate endpoint C{/mcp} lists (its entry's
    C{includeTools}, C{excludeTools}, C{toolBudget}, C{alias} and
    C{"aggregate": false})."""
    perUser: bool = False
    """A child per authenticated principal (config C{"perUser": true}); a
    C{credential}-scoped server has that too (L{perPrincipal})."""
    remote: RemoteEndpoint | None = None
    """A remote server's endpoint (C{None}: a stdio server, whose child is a
    process running C{command})."""
    era: str = "handshake"
    """What the child speaks: C{"handshake"} (the C{initialize} handshake; a
    child that answers it with -32022 listing only 2026 revisions is
    switched to C{"era2026"} by itself) or C{"era2026"} (config C{"era":
    "era2026"}: 2026-07-28 from the start)."""
    references: frozenset[str] = frozenset()
    """The secret references its entry itself writes in its C{env}, C{args}
    or C{headers} (C{${keyring:NAME}}, C{${op://...}}, C{${env:NAME}},
    C{${file:PATH}}: L{mcpgateway.config.references}). They stay as text
    here (what is shown, compared and kept); the spawner's resolver puts
    their values in when a child starts. Text that looks like one but came
    from elsewhere (a C{.env} file, a client's credential header, a
    C{${VAR}}'s value) reaches the child as it is."""
    sandbox: SandboxProfile = DEFAULT_SANDBOX
    """Its entry's C{"sandbox"} (L{mcpgateway.sandbox.profile}): whether its
    children are confined, and what they may do besides the defaults."""
    limits: str = ""
    """Its entry's C{"limits"} (rates and daily quotas of its calls), checked
    and kept as compact JSON (L{mcpgateway.config.quotas.canonical});
    empty when it has none. Read by the governance layer, never by the
    kernel; a change restarts nothing."""
    labels: EntryLabels = NO_ENTRY_LABELS
    """Its entry's C{"labels"} (L{mcpgateway.flow.labels}): what its tools'
    results hold and what calling them sends, over the shipped table and
    the tools' annotations (L{mcpgateway.flow.defaults}). Read by the flow
    rule, never by the kernel; a change restarts nothing."""
    displayName: str | None = None
    """The C{serverInfo.name} its clients see (config C{"serverInfo": {"name":
    ...}}); C{None}: the name its child gives (L{mcpgateway.core.identity})."""
    displayTitle: str | None = None
    """The C{serverInfo.title} its clients see (config C{"serverInfo":
    {"title": ...}}); C{None}: the child's own, if it gives one."""
    origin: EntryOrigin | None = None
    """Where its entry comes from when that is a project's own file (a
    repository's), whose secret references are not the repository's to use
    and whose children inherit only the basics of the gateway's environment
    (L{environment}); C{None}: the user's own config (user scope, a project's local scope in
    the user's file, the gateway's C{servers.json}, C{--config})."""
    configFile: str | None = field(default=None, compare=False)
    """The file its entry is written in, as the user knows it (C{~/.claude.json},
    a client's C{mcp.json}, the gateway's C{servers.json}, a C{--config}
    file): the file C{doctor} and the console tell the user to fix it in.
    C{None}: not known (the bundled demo, an entry built in code). Not part
    of what the server is: two entries that run the same server are equal
    wherever they are written."""
    confinedTo: str | None = None
    """The workspace (its real path) of a project's own entry the user has
    not approved: its children are shown nothing the entry names outside
    it (L{mcpgateway.sandbox.pathrule}); C{None}: the user's own entry,
    or an approved one."""
    servedAlone: str = ""
    """The key of the principal a stdio child of this spec serves alone
    (C{""}: whoever its server's sessions are): its sandbox never gives it
    a place to write that another principal's child may write or run
    (L{mcpgateway.sandbox.request.build})."""

    @property
    def runnable(self) -> bool:
        """Whether a child of it can be started: a remote server, or a stdio
        server whose command was found."""
        return self.remote is not None or self.executable is not None

    @property
    def sharing(self) -> Sharing:
        """How this server's children are shared (its C{mode} as a type)."""
        return shareOf(self.mode)

    @property
    def perPrincipal(self) -> bool:
        """Whether each authenticated principal gets children of its own:
        C{"perUser": true} (on the entry or any of its routes) or the
        C{credential} scope; never a C{session}-scoped server (a child per
        session is per principal already). Without authentication every
        caller is the same principal (C{""}): one child, as before."""
        sharing = self.sharing
        if sharing is Sharing.SESSION:
            return False
        return (
            self.perUser
            or sharing is Sharing.CREDENTIAL
            or (self.remote is not None and self.remote.tokenPerPrincipal)
            or any(variant.launch.perUser for variant in self.variants)
        )

    @property
    def principal(self) -> str:
        """The key of the principal a child of this spec serves alone (C{""}: any)."""
        return self.servedAlone if self.remote is None else self.remote.principal

    def forPrincipal(self, principalKey: str) -> ServerSpec:
        """This spec for a child that serves only the principal whose key is
        C{principalKey} (C{""}: any): a stdio child's sandbox keeps what it
        writes apart from other principals' children; a remote server's
        endpoint names the principal, so the child calls upstream with that
        principal's token (a remote one whose token is shared is this
        spec)."""
        remote = self.remote
        if remote is None:
            return (
                self
                if self.servedAlone == principalKey
                else replace(self, servedAlone=principalKey)
            )
        if not remote.tokenPerPrincipal or remote.principal == principalKey:
            return self
        return replace(self, remote=replace(remote, principal=principalKey))

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: C{base} (the gateway's) plus the entry's
        C{env} (with the C{.env} layers its launch carries). A project's own
        entry (its L{origin}, approved or not) inherits only the basics of
        C{base} (L{basicEnvironment}: C{PATH}, C{HOME}, the locale...): the
        user's secrets exported where the gateway started are not the
        repository's."""
        merged = dict(base) if self.origin is None else basicEnvironment(base)
        merged.update(self.env)
        return merged


@dataclass(frozen=True)
class Variant:
    """One route of a scoped server and how its child is launched."""

    key: str
    """The route key: C{""} for C{/<server>/mcp}, else a workspace key
    (C{/<server>~<key>/mcp})."""
    launch: ServerSpec
    """The spec its child starts with: the workspace's cwd, the env layers resolved."""
    childKey: str = field(default="", repr=False)
    """Variants with equal child keys share one child (a keyed hash of what
    the child is: command, args, env, cwd)."""
    principal: str = ""
    """The key of the principal whose child this is (C{""}: anyone's)."""

    def withCredentials(self, credentialKey: str, values: tuple[tuple[str, str], ...]) -> Variant:
        """This variant for a client that gave credential C{values} (whose
        keyed hash is C{credentialKey}): its env has them on top, and its
        child is the one for that credential."""
        env = dict(self.launch.env)
        env.update(values)
        return replace(
            self,
            launch=replace(self.launch, env=tuple(sorted(env.items()))),
            childKey=f"{self.childKey}/c:{credentialKey}",
        )

    def withPrincipal(self, principalKey: str) -> Variant:
        """This variant for the principal whose key is C{principalKey}: the
        same launch, and a child of that principal's own (C{""}: this
        variant, the child anyone shares)."""
        if not principalKey:
            return self
        return replace(self, childKey=f"{self.childKey}/p:{principalKey}", principal=principalKey)


def routesOf(name: str, spec: ServerSpec) -> list[dict[str, str]]:
    """The routes of server C{name}: C{{"key", "path"}} each, C{key} C{""}
    for the key-less route (C{/<name>/mcp}), else a workspace route's key
    (C{/<name>~<key>/mcp}). A server without variants has the key-less
    route only; one with variants has exactly theirs (no key-less route
    when no user-scope entry defines it)."""
    keys = [variant.key for variant in spec.variants] if spec.variants else [""]
    return [{"key": key, "path": f"/{name}~{key}/mcp" if key else f"/{name}/mcp"} for key in keys]
