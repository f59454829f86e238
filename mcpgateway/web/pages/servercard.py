# -*- test-case-name: tests.web.pages.test_servercard -*-
"""The MCP Server Cards of the gateway and of each server it serves.

Tracks a draft: SEP-2127 ("MCP Server Cards"), not yet part of the MCP
specification, whose shape may still change. C{GET
/.well-known/mcp/server-card} is the gateway's card (its aggregate endpoint
C{/mcp}, with the cards of its servers listed in C{_meta}); C{GET
/.well-known/mcp/server-card/<server>} is one server's card (its route
C{/<server>/mcp}). The C{.json} spelling of an earlier draft is read too.

A card is made from what the gateway knows already: the entry (the name
its clients see, L{mcpgateway.core.identity}), the revisions it serves and
the catalog of what the server listed when a child last ran. Answering
never starts a child. The draft calls cards public; a gateway that
authenticates asks for the same token as its endpoints anyway (a card
names servers and tools, which such a gateway shows no one else), and a
principal sees only the servers it may use. C{Origin} and C{Host} are
checked before (L{mcpgateway.web.root.GatewayRoot}), as for every request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from mcpgateway import __version__
from mcpgateway.core.catalogdata import withoutWithheld
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.identity import presentedInfo
from mcpgateway.core.spec import ServerSpec
from mcpgateway.httpbase.principal import ANONYMOUS, Principal, Refusal, Verdict
from mcpgateway.protocol import versions
from mcpgateway.web.plumbing.replies import jsonReply
from mcpgateway.web.teamcluster import Gate

__all__ = ["CARD_NAMES", "SCHEMA", "ServerCards", "gatewayCard", "isCardPath", "serverCard"]

SCHEMA = "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json"
"""The C{$schema} of a card, as SEP-2127's draft gives it."""
CARD_NAMES = (b"server-card", b"server-card.json")
"""The last segment of a card's path: the draft's, and an earlier draft's."""
CARD_KINDS = ("tools", "prompts", "resources")
"""The catalog's lists a card carries (the draft has no templates)."""
SERVER_CAPABILITIES = ("experimental", "logging", "completions", "prompts", "resources", "tools")
AGGREGATE_CAPABILITIES: dict[str, Any] = {
    "tools": {"listChanged": True},
    "prompts": {"listChanged": True},
    "resources": {"subscribe": True, "listChanged": True},
    "completions": {},
    "logging": {},
}
"""What C{/mcp} declares: its lists change with its members, so the
gateway's card lists no primitives (the draft's "dynamic")."""
SERVERS_KEY = "mcpgateway/servers"
"""The C{_meta} key of the gateway's card that lists its servers' cards."""


def isCardPath(postpath: list[bytes]) -> bool:
    """Whether the path below C{/.well-known} is a card's
    (C{mcp/server-card}, then nothing or a server's name)."""
    return len(postpath) >= 2 and postpath[0] == b"mcp" and postpath[1] in CARD_NAMES


def namespaceOf(host: str) -> str:
    """The reverse-DNS namespace of a card's C{name}, from the host that
    serves it (C{gw.example.com} is C{com.example.gw}; an address or a
    single label, C{localhost}, stays as it is)."""
    host = host.strip("[]").rstrip(".").lower() or "localhost"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ".".join(reversed(host.split(".")))
    return host


def _remote(url: str, spec: ServerSpec | None, authenticated: bool) -> dict[str, Any]:
    supported = list(versions.HANDSHAKE_VERSIONS)
    if spec is None or spec.era2026:
        supported += list(versions.ERA2026_VERSIONS)
    remote: dict[str, Any] = {
        "type": "streamable-http",
        "url": url,
        "supportedProtocolVersions": supported,
    }
    if authenticated:
        remote["authentication"] = {"required": True, "schemes": ["bearer"]}
    return remote


def serverCard(
    spec: ServerSpec, catalog: Any, base: str, namespace: str, authenticated: bool
) -> dict[str, Any]:
    """The card of the server of C{spec}, served at C{base}C{/<name>/mcp};
    C{catalog} is what it listed (a L{mcpgateway.core.catalogdata.Catalog},
    C{None}: nothing yet, so the card has no primitives and no capabilities)."""
    known = getattr(catalog, "serverInfo", None)
    info = presentedInfo(known if isinstance(known, dict) else {}, spec)
    version = info.get("version") if isinstance(info, dict) else None
    card: dict[str, Any] = {
        "$schema": SCHEMA,
        "name": f"{namespace}/{spec.name}",
        "version": version if isinstance(version, str) and version else "unknown",
    }
    title = info.get("title") or info.get("name") if isinstance(info, dict) else None
    if isinstance(title, str) and title:
        card["title"] = title
    card["remotes"] = [_remote(f"{base}/{spec.name}/mcp", spec, authenticated)]
    declared = getattr(catalog, "capabilities", None)
    card["capabilities"] = {
        key: value
        for key, value in (declared.items() if isinstance(declared, dict) else ())
        if key in SERVER_CAPABILITIES
    }
    if catalog is not None:
        private: frozenset[str] = getattr(catalog, "private", frozenset())
        for kind in CARD_KINDS:
            items = catalog.items(kind)
            if items and kind not in private:
                card[kind] = list(items)
    return card


def gatewayCard(names: list[str], base: str, namespace: str, authenticated: bool) -> dict[str, Any]:
    """The gateway's own card: its aggregate endpoint C{/mcp}, and where
    the cards of C{names} (the servers the caller may use) are."""
    return {
        "$schema": SCHEMA,
        "name": f"{namespace}/mcpgateway",
        "version": __version__,
        "title": "mcpgateway (all servers)",
        "description": "An MCP gateway: every server it serves at /mcp, each also at /<server>/mcp",
        "remotes": [_remote(f"{base}/mcp", None, authenticated)],
        "capabilities": dict(AGGREGATE_CAPABILITIES),
        "_meta": {
            SERVERS_KEY: [
                {"name": name, "card": f"{base}/.well-known/mcp/server-card/{name}"}
                for name in names
            ]
        },
    }


class ServerCards(Resource):
    """C{/.well-known/mcp/server-card[/<server>]}: GET (and HEAD) only."""

    isLeaf = True

    def __init__(self, gateway: Gateway, gate: Callable[[], Gate | None]) -> None:
        """
        @param gate: the team gateway's gate, read at each request (C{None}:
            a gateway that authenticates nobody).
        """
        super().__init__()
        self._gateway = gateway
        self._gate = gate

    def render_GET(self, request: IRequest) -> bytes | int:
        gate = self._gate()
        if gate is None:
            return self._card(request, ANONYMOUS, authenticated=False)
        verdict = gate.check(request, None)
        if not isinstance(verdict, Deferred):
            return self._decided(request, gate, verdict)

        def decided(result: Verdict) -> None:
            request.write(self._decided(request, gate, result))
            request.finish()

        def failed(reason: Failure) -> None:
            request.write(jsonReply(request, 503, {"error": "the token could not be checked"}))
            request.finish()

        verdict.addCallbacks(decided, failed)
        return NOT_DONE_YET

    def _decided(self, request: IRequest, gate: Gate, verdict: Verdict) -> bytes:
        if isinstance(verdict, Refusal):
            return gate.refuse(request, verdict)
        return self._card(request, verdict, authenticated=True)

    def _card(self, request: IRequest, principal: Principal, authenticated: bool) -> bytes:
        rest = [segment for segment in request.postpath if segment]
        host = (request.getHeader(b"host") or b"localhost").decode("ascii", "replace")
        base = ("https://" if request.isSecure() else "http://") + host
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        namespace = namespaceOf(hostname)
        pools = self._gateway.pools
        names = sorted(
            name
            for name, pool in pools.items()
            if principal.mayUse(name) and not pool.spec.disabled
        )
        if not rest:
            card = gatewayCard(names, base, namespace, authenticated)
        else:
            name = rest[0].decode("utf-8", "replace")
            pool = pools.get(name)
            if len(rest) > 1 or pool is None or name not in names:
                return jsonReply(request, 404, {"error": f"no server card for {name[:64]!r}"})
            catalogs = self._gateway.catalogs
            catalog = catalogs.get(name, catalogs.keyFor(pool, principal.key))
            if catalog is not None:  # never a tool the pinned tools withhold now
                catalog = withoutWithheld(catalog, pool)
            card = serverCard(pool.spec, catalog, base, namespace, authenticated)
        request.setHeader(b"access-control-allow-origin", b"*")
        request.setHeader(b"access-control-allow-methods", b"GET")
        request.setHeader(b"access-control-allow-headers", b"Content-Type")
        cache = b"private, max-age=60" if authenticated else b"public, max-age=60"
        request.setHeader(b"cache-control", cache)
        return jsonReply(request, 200, card)
