# -*- test-case-name: tests.auth.test_metadata -*-
"""The texts an OAuth 2.1 resource server shows: its protected resource
metadata (RFC 9728) and its C{WWW-Authenticate} challenges (RFC 6750).

Standard library only. The metadata of the gateway lives at
C{<origin>/.well-known/oauth-protected-resource<path of the resource>}
(RFC 9728 §3.1: the well-known segment goes between the host and the
path); that of one endpoint (C{/<server>[~key]/mcp}, whose URL is then the
C{resource}) appends the endpoint's path. Challenges quote their values
and drop what RFC 6750 does not allow inside them (C{"}, C{\\}, controls,
non-ASCII), so no caller-supplied text can break the header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mcpgateway.httpbase.principal import Refusal

WELL_KNOWN = "/.well-known/oauth-protected-resource"
SCOPE_ADMIN = "mcp:admin"
SCOPE_PREFIX = "mcp:"

_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_NOT_SCOPE_TOKEN = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")


def serverScope(server: str) -> str:
    """The scope that lets a token use C{server} (C{mcp:<server>})."""
    return SCOPE_PREFIX + server


def endpointUrl(resource: str, endpointPath: str) -> str:
    """The URL of an endpoint (C{/<server>[~key]/mcp}) of the gateway whose
    canonical URI is C{resource}."""
    if not endpointPath:
        return resource
    return resource.rstrip("/") + "/" + endpointPath.lstrip("/")


def metadataUrl(resource: str, endpointPath: str = "") -> str:
    """Where the metadata of C{resource} (or of its endpoint
    C{endpointPath}) is served (RFC 9728 §3.1)."""
    parts = urlsplit(endpointUrl(resource, endpointPath))
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, "", ""))


def resourcePath(resource: str) -> str:
    """The path of C{resource} (C{""} for an origin), as the metadata
    paths carry it after L{WELL_KNOWN}."""
    return urlsplit(resource).path.rstrip("/")


def protectedResource(resource: str, issuer: str, scopes: Sequence[str]) -> dict[str, Any]:
    """The RFC 9728 metadata document of C{resource}."""
    return {
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": list(scopes),
        "bearer_methods_supported": ["header"],
    }


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def description(text: str) -> str:
    """C{text} with only the characters an C{error_description} may hold."""
    return _NOT_DESCRIPTION.sub("?", text)[:300]


def scopeValue(scope: str) -> str:
    """C{scope} (space-separated tokens) with only what a scope may hold."""
    tokens = (_NOT_SCOPE_TOKEN.sub("", token) for token in scope.split(" "))
    return " ".join(t for t in tokens if t)


def challenge(refusal: Refusal, resourceMetadata: str | None, realm: str = "mcpgateway") -> bytes:
    """The C{WWW-Authenticate} value for C{refusal}: with the metadata URL
    (OAuth) or the realm (static tokens), the error and its description
    when the request carried a token (RFC 6750 §3.1: none without), and
    the scope that would do."""
    params: list[tuple[str, str]] = []
    if resourceMetadata is None:
        params.append(("realm", realm))
    if refusal.error is not None:
        params.append(("error", refusal.error))
        if refusal.description:
            params.append(("error_description", description(refusal.description)))
    if refusal.scope and resourceMetadata is not None:
        scope = scopeValue(refusal.scope)
        if scope:
            params.append(("scope", scope))
    if resourceMetadata is not None:
        params.append(("resource_metadata", resourceMetadata))
        if refusal.error is None:
            params.insert(0, params.pop())
    text = "Bearer " + ", ".join(f"{name}={_quoted(value)}" for name, value in params)
    return text.encode("ascii", "replace")
