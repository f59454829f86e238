# -*- test-case-name: tests.remote.oauth.test_oauth,tests.remote.oauth.test_oauth_hosts -*-
"""Where a remote server's authorization server is, and what it offers: the
MCP authorization spec's discovery, as pure functions of what the servers
answered (the HTTP is the caller's: the CLI's login, the gateway's refresh).

A 401 from the MCP server carries C{WWW-Authenticate: Bearer
resource_metadata="..."} (RFC 9728); without it, the protected-resource
metadata is at C{/.well-known/oauth-protected-resource<path>} of the
server's URL, then at the root. That metadata names C{authorization_servers};
the first one's metadata is at C{/.well-known/oauth-authorization-server<path>}
(RFC 8414), then C{/.well-known/openid-configuration<path>} and
C{<issuer>/.well-known/openid-configuration} (OpenID Connect discovery). The
authorization server must offer PKCE with C{S256}; C{resource} (RFC 8707) is
always sent: the token is for this server and no other.

What the documents say is checked against where they came from: an
authorization server's metadata names, as its C{issuer}, exactly the issuer
it was looked up for (RFC 8414 section 3.3; OpenID Connect discovery says
the same), and a server's protected-resource metadata names, as its
C{resource}, the server's own URL or a path above it on the same origin
(RFC 9728 section 3.3; the MCP SDKs accept the same). Which hosts the
endpoints may be on is L{mcpgateway.remote.oauth.hosts}'.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from mcpgateway.remote.oauth.tokens import UpstreamGrant

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class DiscoveryError(Exception):
    """The server's or its authorization server's metadata is missing or
    unusable; the message says what."""


def challengeParams(header: str | None) -> dict[str, str]:
    """The parameters of a C{Bearer} challenge (C{resource_metadata},
    C{scope}, C{error}, ...), lower-cased names; C{{}} without one."""
    if not header:
        return {}
    at = header.lower().find("bearer")
    if at < 0:
        return {}
    params: dict[str, str] = {}
    for match in _PARAM.finditer(header[at + len("bearer") :]):
        name, quoted, bare = match.groups()
        value = bare if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
        params.setdefault(name.lower(), value)
    return params


def _wellKnown(url: str, name: str, keepPath: bool = True) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/") if keepPath else ""
    return urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{name}{path}", "", ""))


def resourceMetadataUrls(serverUrl: str, challenge: dict[str, str]) -> list[str]:
    """Where to look for the server's protected-resource metadata, in order."""
    urls = []
    given = challenge.get("resource_metadata")
    if given and sameOriginOrHttps(given):
        urls.append(given)
    for url in (
        _wellKnown(serverUrl, "oauth-protected-resource"),
        _wellKnown(serverUrl, "oauth-protected-resource", keepPath=False),
    ):
        if url not in urls:
            urls.append(url)
    return urls


def authServerMetadataUrls(issuer: str) -> list[str]:
    """Where to look for an authorization server's metadata, in order."""
    parts = urlsplit(issuer)
    urls = [
        _wellKnown(issuer, "oauth-authorization-server"),
        _wellKnown(issuer, "openid-configuration"),
    ]
    root = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    urls.append(f"{root}/.well-known/openid-configuration")
    if parts.path.strip("/"):
        urls.append(_wellKnown(issuer, "oauth-authorization-server", keepPath=False))
    return list(dict.fromkeys(urls))


def sameOriginOrHttps(url: str) -> bool:
    """A metadata URL the gateway follows: https, or http on loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def sameIssuer(given: str, expected: str) -> bool:
    """Whether an authorization server's metadata names the issuer it was
    looked up for (RFC 8414 section 3.3: identical; C{https://as} and
    C{https://as/} are one URL, an empty path being C{/})."""

    def form(url: str) -> str:
        parts = urlsplit(url)
        return url[:-1] if parts.path == "/" and not parts.query and url.endswith("/") else url

    return form(given) == form(expected)


@dataclass(frozen=True)
class AuthServer:
    """What the gateway needs of an authorization server's metadata."""

    issuer: str
    authorizationEndpoint: str
    tokenEndpoint: str
    registrationEndpoint: str | None
    revocationEndpoint: str | None
    scopes: tuple[str, ...]
    metadataDocuments: bool
    """Whether it takes a URL as a client id (Client ID Metadata Documents)."""

    @classmethod
    def fromMetadata(cls, data: Any, issuer: str | None = None) -> AuthServer:
        """The metadata C{data}, checked; C{issuer}: the issuer it was
        looked up for, which it must name (RFC 8414 section 3.3)."""
        if not isinstance(data, dict):
            raise DiscoveryError("the authorization server's metadata is not a JSON object")
        for name in ("issuer", "authorization_endpoint", "token_endpoint"):
            value = data.get(name)
            if not isinstance(value, str) or not sameOriginOrHttps(value):
                raise DiscoveryError(f"the authorization server's metadata has no usable {name}")
        if issuer is not None and not sameIssuer(data["issuer"], issuer):
            raise DiscoveryError(
                f"the authorization server's metadata, looked up for {issuer}, names the issuer"
                f" {str(data['issuer'])[:200]}: refused (RFC 8414 section 3.3)"
            )
        methods = data.get("code_challenge_methods_supported")
        if not isinstance(methods, list) or "S256" not in methods:
            raise DiscoveryError(
                "the authorization server does not offer PKCE with S256"
                " (code_challenge_methods_supported); the MCP authorization spec requires it"
            )
        scopes = data.get("scopes_supported")

        def optional(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) and sameOriginOrHttps(value) else None

        return cls(
            issuer=data["issuer"],
            authorizationEndpoint=data["authorization_endpoint"],
            tokenEndpoint=data["token_endpoint"],
            registrationEndpoint=optional("registration_endpoint"),
            revocationEndpoint=optional("revocation_endpoint"),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list)
            else (),
            metadataDocuments=data.get("client_id_metadata_document_supported") is True,
        )

    def endpoints(self) -> list[tuple[str, str]]:
        """Every URL of the server's, with what it is (for the host rules)."""
        named = [
            ("authorization server", self.issuer),
            ("authorization endpoint", self.authorizationEndpoint),
            ("token endpoint", self.tokenEndpoint),
            ("registration endpoint", self.registrationEndpoint),
            ("revocation endpoint", self.revocationEndpoint),
        ]
        return [(what, url) for what, url in named if url]


def authorizationServers(resourceMetadata: Any) -> list[str]:
    """The authorization servers a protected-resource metadata names."""
    if not isinstance(resourceMetadata, dict):
        raise DiscoveryError("the server's protected-resource metadata is not a JSON object")
    servers = resourceMetadata.get("authorization_servers")
    found = (
        [s for s in servers if isinstance(s, str) and sameOriginOrHttps(s)]
        if isinstance(servers, list)
        else []
    )
    if not found:
        raise DiscoveryError(
            "the server's protected-resource metadata names no authorization server"
        )
    return found


@dataclass(frozen=True)
class Pkce:
    """A PKCE verifier and its S256 challenge, and the request's C{state}."""

    verifier: str
    challenge: str
    state: str

    @classmethod
    def make(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier, challenge, secrets.token_urlsafe(24))


def authorizeUrl(
    server: AuthServer,
    clientId: str,
    redirectUri: str,
    pkce: Pkce,
    resource: str,
    scope: str | None,
) -> str:
    """The URL the user opens to grant the gateway access to C{resource}."""
    params = {
        "response_type": "code",
        "client_id": clientId,
        "redirect_uri": redirectUri,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "state": pkce.state,
        "resource": resource,
    }
    if scope:
        params["scope"] = scope
    joiner = "&" if urlsplit(server.authorizationEndpoint).query else "?"
    return server.authorizationEndpoint + joiner + urlencode(params)


def tokenResponse(data: Any) -> dict[str, Any]:
    """A token endpoint's answer, checked: C{access_token} and C{token_type}
    C{Bearer} (any case)."""
    if not isinstance(data, dict):
        raise DiscoveryError("the token endpoint did not answer a JSON object")
    if "error" in data:
        description = data.get("error_description")
        raise DiscoveryError(
            f"the token endpoint refused: {data['error']}"
            + (f" ({description})" if isinstance(description, str) else "")
        )
    if not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise DiscoveryError("the token endpoint's answer has no access_token")
    if str(data.get("token_type", "")).lower() != "bearer":
        raise DiscoveryError(
            f"the token endpoint gave a {data.get('token_type')!r} token, not Bearer"
        )
    return data


def tokenRequest(grant: UpstreamGrant, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a request to C{grant}'s token endpoint."""
    return formRequest(dict(form, resource=grant.resource), grant.clientId, grant.clientSecret)


def formRequest(
    form: dict[str, str], clientId: str | None, clientSecret: str | None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a request to a token endpoint: a
    confidential client authenticates with HTTP Basic (RFC 6749 section
    2.3.1), a public one names itself in the form."""
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    if clientId and clientSecret:
        pair = f"{clientId}:{clientSecret}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif clientId:
        form = dict(form, client_id=clientId)
    return urlencode(form).encode("ascii"), headers


def withTokens(grant: UpstreamGrant, data: dict[str, Any], now: float) -> UpstreamGrant:
    """C{grant} with a token endpoint's answer: the new access token, its
    expiry, and the new refresh token (a server that rotates them gives one;
    one that does not keeps the old)."""
    grant.accessToken = data["access_token"]
    expires = data.get("expires_in")
    grant.expiresAt = (
        now + float(expires) if isinstance(expires, (int, float)) and expires > 0 else None
    )
    refresh = data.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        grant.refreshToken = refresh
    scope = data.get("scope")
    if isinstance(scope, str):
        grant.scope = scope
    return grant
