# -*- test-case-name: tests.auth.test_tokens,tests.cli.test_token -*-
"""The static tokens file: its format, its parser, and a new token's entry.

Standard library only (the C{mcpgateway token} command imports it and must
not load Twisted); L{mcpgateway.auth.tokens} serves the table it describes.

The file (C{--auth-tokens FILE}) is JSON like the gateway's other state
files::

    {"version": 1, "tokens": [
      {"sha256": "<hex sha256 of the token>", "principal": "alice",
       "servers": ["github"], "admin": false, "expires": 1798761600}]}

C{servers}, C{admin} and C{expires} are optional (no C{servers}: all of
them; C{expires}: epoch seconds); C{comment} and C{created} are kept and
ignored; any other key is an error (a misspelt C{servers} must not grant
every server). A token is C{mcpgw_} and 43 base64url characters (256 random
bits, so an unsalted SHA-256 is enough, and a secret scanner can match the
prefix). The file holds hashes only: a token is shown once, when made.

A parse error names the entry's index and field, never a hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_PREFIX = "mcpgw_"
FORMAT_VERSION = 1
MAX_FILE = 4 * 1024 * 1024
"""Bytes of a tokens file read at most."""

PRINCIPAL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")
SERVER_PATTERN = re.compile(r"[^\s/~]{1,128}\Z")
_HASH = re.compile(r"[0-9a-f]{64}\Z")
_KEYS = frozenset({"sha256", "principal", "servers", "admin", "expires", "comment", "created"})


class TokensFileError(ValueError):
    """A tokens file that cannot be used; the message names the file, the
    entry's index and the field (never a token or a hash)."""


@dataclass(frozen=True)
class TokenEntry:
    """One token of the file: the hash of the token, whose it is, and what it may do."""

    sha256: str
    principal: str
    servers: frozenset[str] | None = None
    admin: bool = False
    expires: float | None = None


def newToken() -> str:
    """A fresh token: C{mcpgw_} and 43 base64url characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def tokenHash(token: str) -> str:
    """The hex SHA-256 of C{token} (what the file stores)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def validPrincipal(name: str) -> bool:
    """Whether C{name} may name a principal (C{[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}})."""
    return PRINCIPAL_PATTERN.match(name) is not None


def parseTokens(data: bytes, source: str) -> tuple[TokenEntry, ...]:
    """The entries of a tokens file's C{data}, or L{TokensFileError} naming
    C{source} and what is wrong."""
    if len(data) > MAX_FILE:
        raise TokensFileError(f"{source}: larger than {MAX_FILE} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as e:
        where = f" (line {e.lineno})" if isinstance(e, json.JSONDecodeError) else ""
        raise TokensFileError(f"{source}: not valid JSON{where}") from None
    if not isinstance(document, dict):
        raise TokensFileError(f'{source}: expected an object {{"version": 1, "tokens": [...]}}')
    version = document.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise TokensFileError(f"{source}: version must be {FORMAT_VERSION}")
    tokens = document.get("tokens")
    if not isinstance(tokens, list):
        raise TokensFileError(f"{source}: tokens must be a list")
    entries: list[TokenEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(tokens):
        entry = _entry(item, f"{source}: tokens[{index}]")
        if entry.sha256 in seen:
            raise TokensFileError(
                f"{source}: tokens[{index}].sha256: the same token as tokens[{seen[entry.sha256]}]"
            )
        seen[entry.sha256] = index
        entries.append(entry)
    return tuple(entries)


def _entry(item: Any, where: str) -> TokenEntry:
    if not isinstance(item, dict):
        raise TokensFileError(f"{where}: expected an object")
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        name = unknown[0]
        if name.startswith(TOKEN_PREFIX) or _HASH.match(name) or len(name) > 40:
            raise TokensFileError(f"{where}: an unknown field (its name is not shown)")
        raise TokensFileError(f"{where}: unknown field {name!r}")
    digest = item.get("sha256")
    if not isinstance(digest, str) or _HASH.match(digest) is None:
        raise TokensFileError(f"{where}.sha256: must be 64 lowercase hex characters")
    principal = item.get("principal")
    if not isinstance(principal, str) or not validPrincipal(principal):
        raise TokensFileError(
            f"{where}.principal: must be 1-128 characters of A-Z a-z 0-9 . _ @ + -,"
            " starting with a letter or digit"
        )
    servers: frozenset[str] | None = None
    if "servers" in item:
        value = item["servers"]
        if not isinstance(value, list) or not all(
            isinstance(s, str) and SERVER_PATTERN.match(s) for s in value
        ):
            raise TokensFileError(f"{where}.servers: must be a list of server names")
        servers = frozenset(value)
    admin = item.get("admin", False)
    if not isinstance(admin, bool):
        raise TokensFileError(f"{where}.admin: must be true or false")
    expires = item.get("expires")
    if expires is not None and (
        isinstance(expires, bool)
        or not isinstance(expires, (int, float))
        or not math.isfinite(expires)
        or expires < 0
    ):
        raise TokensFileError(f"{where}.expires: must be epoch seconds (a number)")
    for name in ("comment", "created"):
        if name in item and not isinstance(item[name], (str, int, float)):
            raise TokensFileError(f"{where}.{name}: must be a string or a number")
    return TokenEntry(
        digest, principal, servers, admin, None if expires is None else float(expires)
    )


def readTokens(path: Path) -> tuple[TokenEntry, ...]:
    """The entries of the file at C{path} (L{TokensFileError}, or C{OSError}
    when it cannot be read)."""
    with path.open("rb") as f:
        return parseTokens(f.read(MAX_FILE + 1), str(path))


def tokenEntry(
    principal: str,
    servers: Sequence[str] | None = None,
    admin: bool = False,
    expires: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """A new token for C{principal} and the entry of a tokens file that
    admits it (its hash, never the token: the token exists nowhere else).

    @raise TokensFileError: the name cannot name a principal, or a server
        name is not one.
    """
    if not validPrincipal(principal):
        raise TokensFileError(
            f"{principal!r} cannot name a principal: use 1-128 characters of"
            " A-Z a-z 0-9 . _ @ + -, starting with a letter or digit"
        )
    if servers is not None:
        bad = [s for s in servers if not SERVER_PATTERN.match(s)]
        if bad:
            raise TokensFileError(f"{bad[0]!r} is not a server name")
    token = newToken()
    entry: dict[str, Any] = {"sha256": tokenHash(token), "principal": principal}
    if servers is not None:
        entry["servers"] = sorted(set(servers))
    if admin:
        entry["admin"] = True
    if expires is not None:
        entry["expires"] = int(expires) if float(expires).is_integer() else expires
    entry["created"] = int(time.time())
    return token, entry
