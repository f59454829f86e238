# -*- test-case-name: tests.runtime.test_ownertoken -*-
"""The owner token: what a request to a gateway that serves only its
owner's account carries where the system cannot name the account a
connection comes from (docs/guide/security.md, "Who may connect").

A gateway without authentication asks the kernel, at each accept, which
account holds the client's socket (L{mcpgateway.runtime.peeruid}). Where
the kernel cannot be asked (macOS; a Linux whose netlink and
C{/proc/net/tcp} are both closed to it) the door does not fall back to
open: each request must carry this token in the L{HEADER} header. It is
one random token per state directory, in L{OWNER_TOKEN_FILE} (mode 0600,
in the 0700 state directory that every confined child has masked), made
at the gateway's first start and kept across restarts. The gateway
writes it into the client entries it adopts on such a system; its own
command (L{mcpgateway.cli.http}) and the bridge read it here and send it,
to a gateway on a loopback address only (L{ownerHeaders}): another
machine's gateway has a token of its own, and must never learn this one.
Removing the file makes the next start make a new one.

A header of its own, not C{Authorization}: the management API's
C{--api-token} is a bearer token in C{Authorization}, and an MCP client
owns that header for its OAuth flow (on a 401 it discovers an
authorization server and replaces the header with the token it gets). A
refused request gets 403, which starts no OAuth flow.

Standard library only.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.runtime.paths import OWNER_TOKEN_FILE
from mcpgateway.runtime.portuse import foreignListener
from mcpgateway.runtime.secretfile import SecretFileError, loadSecretFile, readSecretFile

HEADER = "Mcp-Gateway-Owner"
"""The header that carries the owner token."""
HEADER_KEY = HEADER.lower().encode("ascii")
"""L{HEADER} as Twisted's request headers are looked up."""
TOKEN_BYTES = 32
"""Random bytes in a token (43 characters of URL-safe base64)."""
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What a token looks like: no character any client's variable syntax
reads (no C{$}, no braces), so every client's file carries it as it is."""


class OwnerTokenError(Exception):
    """The token file cannot be used; the message names it and says what to do."""


def newToken() -> str:
    """A fresh random token."""
    return base64.urlsafe_b64encode(os.urandom(TOKEN_BYTES)).rstrip(b"=").decode("ascii")


def tokenPath(stateDir: str | os.PathLike[str]) -> Path:
    """Where the state directory C{stateDir} keeps its owner token."""
    return Path(stateDir) / OWNER_TOKEN_FILE


def loadOwnerToken(stateDir: str | os.PathLike[str]) -> str:
    """The owner token of C{stateDir}, made on first use (whoever wins a
    race to make it, every process reads the winner's).

    @raise OwnerTokenError: the file cannot be read or holds no token.
    @raise OSError: it could not be made.
    """
    path = tokenPath(stateDir)
    try:
        data = loadSecretFile(path, lambda: newToken().encode("ascii") + b"\n")
    except SecretFileError as e:
        raise OwnerTokenError(_unusable(path, str(e))) from None
    token = _parsed(data)
    if token is None:
        raise OwnerTokenError(_unusable(path, "does not hold a token"))
    return token


def readOwnerToken(stateDir: str | os.PathLike[str]) -> str | None:
    """The owner token of C{stateDir} as a command reads it: C{None} when
    there is none (no gateway started there yet) or it cannot be read (the
    gateway's answer then says why). Never makes one."""
    try:
        return _parsed(readSecretFile(tokenPath(stateDir)))
    except (OSError, SecretFileError):
        return None


def ownerHeaders(stateDir: str | os.PathLike[str], url: str) -> dict[str, str]:
    """The header a request to C{url} carries: the owner token of
    C{stateDir} when C{url} is an http(s) URL of a loopback address, no
    other account's process listens there (a gateway that died left its
    port to whoever takes it: the token is never theirs to learn), and
    there is a token; else none."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {}
    if parts.scheme not in ("http", "https") or not isLoopbackHost(host):
        return {}
    if foreignListener(port, host) is not None:
        return {}
    token = readOwnerToken(stateDir)
    return {} if token is None else {HEADER: token}


def tokenMatches(presented: bytes | str | None, token: str) -> bool:
    """Whether C{presented} (a request's L{HEADER}, surrounding blanks
    ignored) is C{token}, compared in constant time."""
    if presented is None:
        return False
    if isinstance(presented, str):
        presented = presented.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(presented.strip(), token.encode("ascii"))


def _parsed(data: bytes) -> str | None:
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if TOKEN_PATTERN.fullmatch(text) else None


def _unusable(path: Path, why: str) -> str:
    return (
        f"the owner token file {path} {why}. Remove it to have a new one made (the"
        " clients adopted with the old one get it at the next `mcpgateway start`)"
    )
