# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""Credential headers: the C{X-Mcp-Env-<NAME>} values a client sends for a
server's C{credentialEnv}, read and bounded (L{readCredentials}); the ones
the entry does not list are ignored and counted, never passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.web.iweb import IRequest

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only


CREDENTIAL_HEADER = b"x-mcp-env-"
"""The prefix of a credential header: C{X-Mcp-Env-<NAME>: value}."""
MAX_CREDENTIAL = 8192
"""The longest credential value accepted, in bytes."""
Credentials = tuple[tuple[str, str], ...]


class BadCredential(Exception):
    """A credential header that cannot be used (the message names it, never its value)."""


def readCredentials(request: IRequest, names: tuple[str, ...]) -> Credentials:
    """The values of the C{X-Mcp-Env-<NAME>} headers of C{request} for
    C{names} (header names are case-insensitive), sorted by name.

    @raise BadCredential: a header is repeated, or its value is not UTF-8
        text without NUL of at most L{MAX_CREDENTIAL} bytes.
    """
    values: list[tuple[str, str]] = []
    headers = request.requestHeaders
    for name in names:
        raw = headers.getRawHeaders(CREDENTIAL_HEADER + name.encode("ascii"))
        if raw is None:
            continue
        shown = f"X-Mcp-Env-{name}"
        if len(raw) != 1:
            raise BadCredential(f"{shown} is given {len(raw)} times; give it once")
        data = raw[0]
        if len(data) > MAX_CREDENTIAL:
            raise BadCredential(f"{shown} is over {MAX_CREDENTIAL} bytes")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadCredential(f"{shown} is not UTF-8 text") from None
        if "\0" in value:
            raise BadCredential(f"{shown} holds a NUL character")
        values.append((name, value))
    values.sort()
    return tuple(values)


def ignoredCredentialHeaders(request: IRequest, names: tuple[str, ...]) -> list[str]:
    """The names of the C{X-Mcp-Env-*} headers of C{request} that are not for
    C{names}, never their values. A header's name has no case (HTTP; the
    request keeps none of the client's), and neither has the variable it
    names (C{X-Mcp-Env-token} gives C{credentialEnv}'s C{"TOKEN"}): each is
    given in upper case, the way environment variables are written."""
    listed = {CREDENTIAL_HEADER + name.lower().encode("ascii") for name in names}
    lowered = (key.lower() for key, _ in request.requestHeaders.getAllRawHeaders())
    return [
        key[len(CREDENTIAL_HEADER) :].upper().decode("latin-1")[:64]
        for key in lowered
        if key.startswith(CREDENTIAL_HEADER) and key not in listed
    ]
