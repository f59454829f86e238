# -*- test-case-name: tests.web.pages.test_statusconsole -*-
"""The console's files: its style and its scripts, served by the gateway
itself at C{GET /status/assets/<name>} (nothing comes from a CDN).

The files sit next to this module (C{assets/}), read once when it is
imported. The page links each with its digest (C{?v=...}), so a browser
may keep one for a year (C{immutable}): a gateway that serves other bytes
links another URL. Each answer says its type, C{nosniff}, and a policy that
lets it load nothing.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from twisted.web.iweb import IRequest

from mcpgateway.web.plumbing.replies import jsonReply

PREFIX = "/status/assets/"
TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8"}
SCRIPTS = ("console.js", "plots.js", "logtail.js", "tryout.js")
"""The page's scripts, in the order it runs them (console.js first: the others use it)."""
STYLES = ("console.css",)
OWN_SCRIPTS = ("approvals.js",)
"""The scripts of the console's other pages (the held calls':
L{mcpgateway.web.pages.approvalspage})."""


def _load() -> dict[str, bytes]:
    folder = resources.files(__package__ or "mcpgateway.web.pages").joinpath("assets")
    return {name: folder.joinpath(name).read_bytes() for name in STYLES + SCRIPTS + OWN_SCRIPTS}


FILES: dict[str, bytes] = _load()
DIGESTS = {name: hashlib.sha256(body).hexdigest()[:16] for name, body in FILES.items()}


def url(name: str) -> str:
    """Where the page links C{name}: its path with its digest."""
    return f"{PREFIX}{name}?v={DIGESTS[name]}"


def weight() -> int:
    """The bytes of every file the status page loads besides itself."""
    return sum(len(FILES[name]) for name in STYLES + SCRIPTS)


def serveAsset(request: IRequest, name: str) -> bytes:
    """Answer C{GET /status/assets/<name>}."""
    body = FILES.get(name)
    kind = TYPES.get(name[name.rfind(".") :]) if "." in name else None
    if body is None or kind is None:
        return jsonReply(request, 404, {"error": f"no such asset: {name[:64]}"})
    request.setHeader(b"content-type", kind)
    request.setHeader(b"cache-control", b"public, max-age=31536000, immutable")
    request.setHeader(b"etag", b'"' + DIGESTS[name].encode("ascii") + b'"')
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"content-security-policy", b"default-src 'none'")
    if request.getHeader(b"if-none-match") == b'"' + DIGESTS[name].encode("ascii") + b'"':
        request.setResponseCode(304)
        return b""
    return body
