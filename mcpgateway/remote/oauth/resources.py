# -*- test-case-name: tests.remote.oauth.test_oauth_hosts,tests.remote.oauth.test_oauth -*-
"""A remote server's URL as an OAuth resource: its canonical identifier
(the MCP authorization spec's canonical URI), which the token store keeps a
grant under, and which protected-resource metadata may name it (RFC 9728
section 3.3). Pure functions, standard library only."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def canonicalResource(url: str) -> str:
    """A server URL's canonical resource identifier (the MCP authorization
    spec's canonical URI): scheme and host in lower case, no default port,
    no fragment, no trailing slash. Two spellings of one server's URL give
    the same identifier; another host, port or path gives another."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), parts.query, ""))


def resourceCovers(resource: str, url: str) -> bool:
    """Whether C{resource} (a protected-resource metadata's) is the server
    at C{url} or a path above it on the same origin: C{https://h/} and
    C{https://h/mcp} cover C{https://h/mcp}; C{https://h/other} and
    C{https://elsewhere/mcp} do not."""
    mine, theirs = urlsplit(canonicalResource(url)), urlsplit(canonicalResource(resource))
    if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc) or theirs.query:
        return False
    above = theirs.path
    return not above or mine.path == above or mine.path.startswith(above + "/")
