# -*- test-case-name: tests.startup.test_tap,tests.web.test_team_web -*-
"""A team gateway's door, wired: the tokens file or the OAuth issuer that
tells callers apart, per-principal keys and limits, and the audit log
(docs/guide/team.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service

from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.preflight import Preflight
    from mcpgateway.web.teamcluster import TeamServices
from mcpgateway.startup.cluster import ClusterWiring
from mcpgateway.startup.options import Options
from mcpgateway.startup.process import refuse, threadRunner


def _principalKeys(secret: bytes | None) -> Any:
    """A principal's name to its key: a keyed hash (never the name) that
    sessions, sharing scopes, /health and the audit log carry."""
    from mcpgateway.config.workspaces import WorkspaceKeys

    keys = WorkspaceKeys(secret if secret is not None else os.urandom(32))

    def keyOf(name: str) -> str:
        return keys.digest("principal", name.encode("utf-8"))

    return keyOf


class _Polling(Service):
    """Polls a tokens file (L{mcpgateway.auth.tokens.TokensFile}) from
    C{startService} on: after daemonizing."""

    def __init__(self, tokens: Any) -> None:
        self._tokens = tokens

    def startService(self) -> None:
        super().startService()
        self._tokens.start()

    def stopService(self) -> None:
        self._tokens.stop()
        super().stopService()


def wireTeam(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    top: Any,
    gateway: Any,
    secret: bytes | None,
    cluster: ClusterWiring | None = None,
) -> TeamServices:
    """A team gateway's door (docs/guide/team.md): the authentication gate (a
    tokens file, or an OAuth issuer's JWTs), the per-principal limits and
    the audit log; their services (polling, key fetching, the log file)
    start with the tree, after daemonizing. A cluster replica's door also
    takes its peers' forwarded requests (docs/guide/cluster.md)."""
    from mcpgateway.web.teamcluster import TeamServices

    authStatus: Any = None
    gate: Any = None
    if options["auth-tokens"]:
        gate, authStatus = _tokensGate(options, reactor, top, secret)
    elif options["oauth-issuer"]:
        gate, authStatus = _oauthGate(options, reactor, top, gateway, secret)
    quota = None
    limited = options["max-requests-per-principal"] or options["rate-per-principal"]
    if gate is not None and limited:  # without authentication there is one caller
        from mcpgateway.auth.quota import PrincipalQuota

        quota = PrincipalQuota(
            reactor, options["max-requests-per-principal"], options["rate-per-principal"]
        )
    audit = None
    if options["audit-log"]:
        from mcpgateway.ops.audit import AuditLog, childSecrets

        audit = AuditLog(
            Path(options["audit-log"]),
            reactor,
            payloads=options["audit-payloads"],
            threads=threadRunner(reactor),
            exporters=_auditExporters(options, reactor),
            redact=childSecrets(gateway.pools),
            key=_auditKey(options, pre),
        )
        audit.setServiceParent(top)

    def status() -> dict[str, Any]:
        line: dict[str, Any] = authStatus() if authStatus is not None else {"mode": "none"}
        if quota is not None:
            line["limits"] = {
                "maxConcurrent": quota.maxConcurrent,
                "perSecond": quota.perSecond,
                "principals": len(quota),
            }
        if audit is not None:
            line["audit"] = True
        return line

    clustered = None
    if cluster is not None:
        from twisted.logger import Logger

        clustered = cluster.services(
            reactor, top, gateway, pre.stateDir, float(options["idle-timeout"])
        )
        log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
        log.info(
            "cluster: replica {replica}, reached by its peers at {url}; {count} key(s)",
            replica=cluster.replica,
            url=cluster.url if cluster.port else f"{cluster.host}:<listening port>",
            count=len(cluster.keys),
        )
    surface = TeamServices(gate, quota, audit, status, clustered, bool(options["public-health"]))
    if gate is not None:  # without authentication every caller uses the CLI's login
        pages = wireUpstreamLogin(options, pre, reactor, gateway, authStatus)
        if pages is not None:
            surface.upstreamLogin, base, credentials = pages
            surface.listeners.append(base.listening)
            _nameForLinks(gate, credentials)
    return surface


def _nameForLinks(gate: Any, credentials: Any) -> None:
    """Let the sign-in links name the principal they are for (their page
    asks whoever opens one whether they are that principal)."""
    previous = gate.onToken

    def named(principal: Any, token: str) -> None:
        credentials.named(principal.key, principal.name)
        if previous is not None:
            previous(principal, token)

    gate.onToken = named


def _tokensGate(options: Options, reactor: IReactor, top: Any, secret: bytes | None) -> Any:
    from mcpgateway.auth.tokenfile import TokensFileError
    from mcpgateway.auth.tokens import TokensFile, TokenTable
    from mcpgateway.web.plumbing.auth import AuthGate

    table = TokenTable((), _principalKeys(secret), reactor)
    tokens = TokensFile(Path(options["auth-tokens"]), table, reactor, threadRunner(reactor))
    try:
        tokens.load()
    except TokensFileError as e:
        refuse(str(e))
    except OSError as e:
        refuse(f"--auth-tokens {options['auth-tokens']}: {e.strerror or e}")
    _Polling(tokens).setServiceParent(top)
    gate = AuthGate(table, reactor, None, None, lambda: ())

    def status() -> dict[str, Any]:
        return {
            "mode": "tokens",
            "principals": table.principals(),
            "tokens": len(table),
            "reloads": tokens.reloads,
            "lastError": tokens.lastError,
        }

    return gate, status


def _oauthGate(
    options: Options, reactor: IReactor, top: Any, gateway: Any, secret: bytes | None
) -> Any:
    from twisted.web.client import Agent, HTTPConnectionPool

    from mcpgateway.auth.bearer import JwtVerifier, OAuthSettings
    from mcpgateway.auth.jwks import KeySet, KeySetService, httpFetch
    from mcpgateway.auth.metadata import SCOPE_ADMIN, serverScope
    from mcpgateway.web.plumbing.auth import AuthGate

    issuer, resource = options["oauth-issuer"], options["resource-uri"]
    settings = OAuthSettings(
        issuer=issuer,
        resource=resource,
        audiences=options["oauth-audience"],
        jwksUri=options["oauth-jwks-uri"],
        requiredScopes=options["oauth-scopes"],
        principalClaim=options["oauth-principal-claim"],
    )
    pool = HTTPConnectionPool(reactor, persistent=False)
    if options["oauth-ca-file"]:
        from twisted.internet.ssl import Certificate
        from twisted.web.client import BrowserLikePolicyForHTTPS

        pem = Path(options["oauth-ca-file"]).read_bytes()
        policy = BrowserLikePolicyForHTTPS(trustRoot=Certificate.loadPEM(pem))
        agent = Agent(reactor, contextFactory=policy, pool=pool)
    else:
        agent = Agent(reactor, pool=pool)
    keys = KeySet(httpFetch(agent, reactor), reactor, issuer, options["oauth-jwks-uri"])
    KeySetService(keys).setServiceParent(top)
    verifier = JwtVerifier(settings, keys, _principalKeys(secret), reactor)

    def scopes() -> list[str]:
        return [SCOPE_ADMIN, *(serverScope(name) for name in sorted(gateway.pools))]

    gate = AuthGate(verifier, reactor, resource, issuer, scopes)
    _tradeTokens(gate, gateway, issuer)

    def status() -> dict[str, Any]:
        return {"mode": "oauth", "issuer": issuer, "resource": resource, "jwks": keys.status()}

    return gate, status


class GatewayUrl:
    """The gateway's URL as principals reach it: C{--resource-uri}'s origin
    when given, else its listening address (the port known once it
    listens)."""

    def __init__(self, endpoint: str, resourceUri: str | None) -> None:
        self._endpoint = endpoint
        self._fixed = _origin(resourceUri) if resourceUri else None
        self._port: int | None = None

    def listening(self, port: int) -> None:
        self._port = port

    def __call__(self) -> str:
        if self._fixed is not None:
            return self._fixed
        from mcpgateway.startup.endpoints import endpointInterface, hostAddress, isTLSEndpoint

        interface = endpointInterface(self._endpoint)
        if interface in (None, "", "0.0.0.0", "::"):
            interface = hostAddress() or "127.0.0.1"
        host = f"[{interface}]" if ":" in interface else interface
        scheme = "https" if isTLSEndpoint(self._endpoint) else "http"
        return f"{scheme}://{host}:{self._port or 0}"


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def wireUpstreamLogin(
    options: Options, pre: Preflight, reactor: IReactor, gateway: Any, authStatus: Any = None
) -> Any:
    """The pages through which principals sign in to remote servers
    (L{mcpgateway.web.pages.upstreamlogin}), the URL their links start with and
    the credentials that make the links; C{None} when the gateway serves no
    remote server (no tokens to hold). A sign-in is kept without the
    principal's confirmation only when the links are loopback ones and the
    tokens file names one principal (C{authStatus}): the browser is then
    that one local user's."""
    from mcpgateway.remote.connect import RemoteServers

    remotes = getattr(gateway.spawner, "remotes", None)
    credentials = remotes.credentials() if isinstance(remotes, RemoteServers) else None
    if credentials is None:
        return None
    from mcpgateway.remote.oauth.links import LoginLinks
    from mcpgateway.remote.oauth.tokens import TokenStore
    from mcpgateway.remote.oauth.weblogin import WebLogin
    from mcpgateway.startup.process import threadRunner
    from mcpgateway.web.pages.upstreamlogin import UpstreamLoginPages

    store = TokenStore(pre.stateDir)
    base = GatewayUrl(options["endpoint"], options["resource-uri"])
    links = LoginLinks(store.cipher, base)
    credentials.links = links

    def endpointOf(server: str) -> Any:
        pool = gateway.pools.get(server)
        remote = None if pool is None else pool.spec.remote
        return remote if remote is not None and remote.tokenPerPrincipal else None

    def singleUser() -> bool:
        counted = authStatus().get("principals") if authStatus is not None else None
        return links.loopback and isinstance(counted, int) and counted <= 1

    login = WebLogin(
        store,
        links,
        endpointOf,
        threadRunner(reactor),
        onGrant=lambda _: credentials.look(),
        singleUser=singleUser,
    )
    return UpstreamLoginPages(login), base, credentials


def _tradeTokens(gate: Any, gateway: Any, issuer: str) -> None:
    """Let the remote servers with C{"auth": "exchange"} trade the tokens
    principals present (RFC 8693) at C{issuer} by default."""
    from mcpgateway.remote.connect import RemoteServers

    remotes = getattr(gateway.spawner, "remotes", None)
    if not isinstance(remotes, RemoteServers):
        return
    remotes.issuer = issuer
    subjects = remotes.subjects

    def remember(principal: Any, token: str) -> None:
        subjects.remember(principal.key, token, principal.expires)

    gate.onToken = remember


def _auditKey(options: Options, pre: Preflight) -> bytes:
    """The audit chain's key (L{mcpgateway.ops.auditkey}), made the first
    time the gateway audits: read once, here, at start (never per record,
    never logged). A key that cannot be made or used refuses the start, in
    one line."""
    from mcpgateway.ops.auditkey import AuditKeyError, keyPath, loadOrCreateKey

    path = keyPath(options.get("audit-key-file"), pre.stateDir)
    try:
        return loadOrCreateKey(path)
    except AuditKeyError as e:
        refuse(f"--audit-log {options['audit-log']}: {e}")


def _auditExporters(options: Any, reactor: IReactor) -> tuple[Any, ...]:
    """Where audit records go besides the file: syslog (C{--audit-syslog}),
    OpenTelemetry logs (C{--audit-otel})."""
    exporters: list[Any] = []
    if options.get("audit-syslog"):
        from mcpgateway.ops.auditexport import SyslogExporter, parseTarget

        exporters.append(SyslogExporter(parseTarget(options["audit-syslog"]), reactor))
    if options.get("audit-otel"):
        from mcpgateway.ops.otelaudit import OtelAuditExporter

        exporters.append(OtelAuditExporter())
    return tuple(exporters)
