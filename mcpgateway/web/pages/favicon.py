# -*- test-case-name: tests.web.pages.test_statuspage_icon -*-
"""The status page's icon: C{GET /favicon.svg}, and C{GET /favicon.ico} for
the browsers and tools that ask for that name whatever the page links.

A small SVG, served by the gateway itself (the page fetches nothing from
elsewhere), the same bytes at both paths. It is no secret: served before a
team gateway's admin door (a browser asks for it without the admin's
credentials, and a 401 would be an error in its console), and cached for a
day.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from mcpgateway.web.plumbing.replies import jsonReply

ICON_PATH = "/favicon.svg"
"""Where the page links its icon."""
PATHS = frozenset({b"favicon.svg", b"favicon.ico"})
"""The root's segments this resource answers."""

ICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="7" fill="#1d2125"/>'
    b'<path d="M7 8l9 8M7 24l9-8M25 8l-9 8M25 24l-9-8" stroke="#e3e6e8"'
    b' stroke-width="2.6" stroke-linecap="round"/>'
    b'<circle cx="16" cy="16" r="4.6" fill="#3fb950"/></svg>'
)
"""A hub with four spokes: many clients, one gateway."""


class Favicon(Resource):
    """Answers C{GET}/C{HEAD} of C{/favicon.svg} and C{/favicon.ico} with
    L{ICON}; mounted by L{mcpgateway.web.root.GatewayRoot}."""

    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return jsonReply(request, 405, {"error": "only GET is allowed here"})
        request.setHeader(b"content-type", b"image/svg+xml")
        request.setHeader(b"cache-control", b"public, max-age=86400")
        request.setHeader(b"x-content-type-options", b"nosniff")
        # Opened by itself, an SVG is a document: this one may run and load nothing.
        request.setHeader(b"content-security-policy", b"default-src 'none'")
        return ICON


FAVICON = Favicon()
"""The one instance the root hands out (it keeps no state)."""
