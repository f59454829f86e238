# -*- test-case-name: tests.remote.test_weblogin -*-
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
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlencode

TICKET_TTL = 600
"""Seconds a login link stays good."""
STATE_TTL = 900
"""Seconds a login may spend at the authorization server."""
START_PATH = "/oauth/start/"
CALLBACK_PATH = "/oauth/callback"


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
    """

    def __init__(
        self,
        cipher: Callable[[], Cipher],
        base: Callable[[], str],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._cipher = cipher
        self._base = base
        self._now = now

    @property
    def callbackUrl(self) -> str:
        """Where the authorization server sends the browser back."""
        return self._base() + CALLBACK_PATH

    def link(self, server: str, principal: str) -> str:
        """The URL that signs C{principal} in to C{server}."""
        ticket = self.seal({"k": "ticket", "s": server, "p": principal})
        return f"{self._base()}{START_PATH}{quote(server, safe='')}?" + urlencode(
            {"ticket": ticket}
        )

    def principalOf(self, ticket: str, server: str) -> str:
        """The principal a ticket for C{server} is for.

        @raise LinkError: it is not a good ticket for C{server}."""
        data = self.unseal(ticket, TICKET_TTL)
        if data.get("k") != "ticket" or data.get("s") != server:
            raise LinkError("the link is for another server")
        principal = data.get("p")
        if not isinstance(principal, str) or not principal:
            raise LinkError("the link names no principal")
        return principal

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
