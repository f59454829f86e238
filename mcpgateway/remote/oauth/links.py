# -*- test-case-name: tests.remote.oauth.test_weblogin -*-
"""The links a principal of an authenticated gateway follows to give the
gateway its own token for a remote server.

A principal's MCP client cannot run C{mcpgateway login} on the gateway's
machine, so the error of a call that needs the principal's token carries a
link instead: C{<gateway>/oauth/start/<server>?ticket=...}. The ticket says
which principal and which server the login is for; it is sealed (Fernet:
encrypted and authenticated) with the key of the gateway's token store, so
nobody can make one for another principal, and it expires after
L{TICKET_TTL}. The same seal carries the login's own state through the
authorization server (the PKCE verifier, the client registration), so the
callback needs nothing kept in memory: any replica that shares the state
directory finishes a login another one started, and a restart in between
loses nothing.

A ticket also carries the principal's name as the gateway knows it, for the
page that asks whoever opened the link whether they are that principal. A
confirmation link (C{<gateway>/oauth/confirm/<server>?ticket=...}) is the
second link of a team gateway's sign-in: the principal's own client gets it
once a sign-in finished, to confirm it from the browser that finished it
(L{mcpgateway.remote.oauth.pending}). A browser is known by a random id the
login pages keep in a cookie; what is sealed and stored is its digest
(L{browserDigest}).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from mcpgateway.runtime.addresses import isLoopbackHost

TICKET_TTL = 600
"""Seconds a login link stays good."""
STATE_TTL = 900
"""Seconds a login may spend at the authorization server."""
START_PATH = "/oauth/start/"
CONFIRM_PATH = "/oauth/confirm/"
CALLBACK_PATH = "/oauth/callback"
TICKET = "ticket"
CONFIRM = "confirm"


def browserDigest(browser: str) -> str:
    """What is sealed and stored of a browser's id (C{""}: no id, which
    matches no browser)."""
    if not browser:
        return ""
    return hashlib.sha256(b"mcpgateway browser\0" + browser.encode()).hexdigest()[:40]


class Cipher(Protocol):
    """What seals: C{cryptography}'s C{Fernet}."""

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes: ...

    def decrypt_at_time(self, token: bytes, ttl: int, current_time: int) -> bytes: ...


class LinkError(Exception):
    """A ticket or a state that does not open (forged, expired, another server's)."""


class LoginLinks:
    """Makes and opens the sealed tickets and states of principals' logins.

    @param cipher: the token store's cipher (L{mcpgateway.remote.oauth.tokens.TokenStore.cipher}).
    @param base: the gateway's URL as principals reach it (no trailing
        slash); asked each time, as the listening port is known late.
    @param own: the links of the gateway's own login (principal C{""}, the
        one C{mcpgateway login} gives), which the status page of a loopback
        gateway without authentication makes for its single local user; the
        links of an authenticated gateway name a principal, always.
    """

    def __init__(
        self,
        cipher: Callable[[], Cipher],
        base: Callable[[], str],
        now: Callable[[], float] = time.time,
        own: bool = False,
    ) -> None:
        self._cipher = cipher
        self._base = base
        self._now = now
        self.own = own

    @property
    def callbackUrl(self) -> str:
        """Where the authorization server sends the browser back."""
        return self._base() + CALLBACK_PATH

    @property
    def origin(self) -> str:
        """The gateway's origin as browsers reach it (C{scheme://host[:port]},
        lower case): the only C{Origin} its login forms are posted from."""
        return originOf(self._base())

    @property
    def loopback(self) -> bool:
        """Whether the links lead to a loopback address: only a browser on
        the gateway's own machine can follow them (and the authorization
        server's redirect back)."""
        try:
            return isLoopbackHost(urlsplit(self._base()).hostname or "")
        except ValueError:
            return False

    def link(self, server: str, principal: str, name: str = "") -> str:
        """The URL that signs C{principal} (called C{name}) in to C{server}."""
        return self._url(START_PATH, TICKET, server, principal, name)

    def confirmLink(self, server: str, principal: str, name: str = "") -> str:
        """The URL from which C{principal} confirms a sign-in to C{server}
        that finished in a browser (L{mcpgateway.remote.oauth.pending})."""
        return self._url(CONFIRM_PATH, CONFIRM, server, principal, name)

    def _url(self, path: str, kind: str, server: str, principal: str, name: str) -> str:
        ticket = self.seal({"k": kind, "s": server, "p": principal, "n": name})
        return f"{self._base()}{path}{quote(server, safe='')}?" + urlencode({"ticket": ticket})

    def principalOf(self, ticket: str, server: str) -> str:
        """The principal a ticket for C{server} is for.

        @raise LinkError: it is not a good ticket for C{server}."""
        return self.opened(ticket, server)[0]

    def opened(self, ticket: str, server: str, kind: str = TICKET) -> tuple[str, str]:
        """The principal a ticket of C{kind} (a sign-in's, or a
        confirmation's) for C{server} is for, and its name (C{""}: unknown).

        @raise LinkError: it is not a good ticket of that kind for C{server}."""
        data = self.unseal(ticket, TICKET_TTL)
        if data.get("k") != kind:
            raise LinkError("the link is not valid or has expired; ask for a new one")
        if data.get("s") != server:
            raise LinkError("the link is for another server")
        principal = data.get("p")
        if not isinstance(principal, str) or not (principal or self.own):
            raise LinkError("the link names no principal")
        name = data.get("n")
        return principal, name if isinstance(name, str) else ""

    def seal(self, data: dict[str, Any]) -> str:
        """C{data} sealed into a URL-safe string."""
        raw = json.dumps(data, separators=(",", ":")).encode()
        return self._cipher().encrypt_at_time(raw, int(self._now())).decode("ascii")

    def unseal(self, token: str, ttl: int = STATE_TTL) -> dict[str, Any]:
        """What L{seal} sealed, if younger than C{ttl} seconds.

        @raise LinkError: forged, damaged or expired (one message for all)."""
        from cryptography.fernet import InvalidToken

        try:
            raw = self._cipher().decrypt_at_time(token.encode("ascii"), ttl, int(self._now()))
            data = json.loads(raw)
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise LinkError("the link is not valid or has expired; ask for a new one") from None
        if not isinstance(data, dict):
            raise LinkError("the link is not valid or has expired; ask for a new one")
        return data


def originOf(url: str) -> str:
    """The origin of C{url} as a browser sends it in C{Origin}: scheme and
    host in lower case, the port unless it is the scheme's default
    (C{""}: not a URL with a host)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not host or scheme not in ("http", "https"):
        return ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")
