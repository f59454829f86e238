# -*- test-case-name: tests.httpbase.test_headers -*-
"""Twisted's C{Headers}, with a short path for the bytes the gateway uses.

Every call through twisted.web reads and sets about two dozen headers
(the profile: C{getRawHeaders} 11 times, C{setRawHeaders} and
C{addRawHeader} 6 each), and each one canonicalises its name (Twisted's
name encoder, a cache look-up behind two calls) and runs each value through
C{splitlines}. L{GatewayHeaders} keeps Twisted's storage and semantics (the
same canonical names, values sanitised of CR and LF the same way, C{str}
names and values encoded and decoded the same way) and only shortens the
path for C{bytes}: a name is canonicalised once per process (a bounded
cache), and a value with no CR or LF is stored as it is.

It reads and writes C{_rawHeaders}, the dict Twisted's C{Headers}
documents as its storage (C{@ivar _rawHeaders}); everything else is
Twisted's own code.

And L{isHost}: whether a C{Host} value is C{host[:port]}, which both
channels (the tuned one and the stock one) ask of every request's head
before anything else reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import AnyStr, TypeVar

from twisted.web.http_headers import Headers

_T = TypeVar("_T")

_MAX_NAMES = 512
"""Names kept canonicalised; past it (a client inventing names) Twisted's
own encoder is asked each time."""

_canonical: dict[bytes, bytes] = {}
"""A header name as bytes (any case) -> its canonical form in C{_rawHeaders}."""


def _key(name: bytes) -> bytes:
    """C{name}'s canonical form, as Twisted's C{Headers} stores it."""
    key = _canonical.get(name)
    if key is None:
        probe = Headers()
        probe.setRawHeaders(name, [b""])
        ((key, _),) = probe.getAllRawHeaders()
        if len(_canonical) < _MAX_NAMES:
            _canonical[name] = key
    return key


def canonical(name: bytes) -> bytes:
    """C{name}'s canonical form, as Twisted's C{Headers} stores it: for
    L{GatewayHeaders.setCanonical}, asked once (a module's constant)."""
    return _key(name)


def _clean(value: bytes) -> bytes:
    """C{value} as Twisted's C{Headers} stores it (line breaks become spaces).

    Callers look for a line break first with C{10 in value or 13 in value}
    (LF, CR): an C{int} is found in C{bytes} five times faster than a
    one-byte C{bytes}, which goes through the buffer protocol."""
    return b" ".join(value.splitlines())


class GatewayHeaders(Headers):
    """Twisted's C{Headers}, with a short path for C{bytes} names and values."""

    __slots__ = ()

    def addLines(self, lines: Iterable[tuple[bytes, bytes]]) -> None:
        """Add each C{(name, value)} of a request's head, in order."""
        raw = self._rawHeaders
        canonical = _canonical
        for name, value in lines:
            key = canonical.get(name) or _key(name)
            if 10 in value or 13 in value:
                value = _clean(value)
            values = raw.get(key)
            if values is None:
                raw[key] = [value]
            else:
                values.append(value)

    def setCanonical(self, key: bytes, value: bytes) -> None:
        """Set the header whose canonical name is C{key} (L{canonical}) to
        the one C{value}, which the caller knows has no CR or LF (a
        constant): C{setRawHeaders} without its checks."""
        self._rawHeaders[key] = [value]

    def hasHeader(self, name: AnyStr) -> bool:
        if type(name) is bytes:
            return (_canonical.get(name) or _key(name)) in self._rawHeaders
        return super().hasHeader(name)

    def removeHeader(self, name: AnyStr) -> None:
        if type(name) is bytes:
            self._rawHeaders.pop(_canonical.get(name) or _key(name), None)
            return
        super().removeHeader(name)

    def addRawHeader(self, name: str | bytes, value: str | bytes) -> None:
        if type(name) is bytes and type(value) is bytes:
            key = _canonical.get(name) or _key(name)
            if 10 in value or 13 in value:
                value = _clean(value)
            self._rawHeaders.setdefault(key, []).append(value)
            return
        super().addRawHeader(name, value)

    def setRawHeaders(self, name: str | bytes, values: Sequence[str | bytes]) -> None:
        if type(name) is bytes and type(values) is list:
            cleaned: list[bytes] = []
            for value in values:
                if type(value) is not bytes:
                    break
                cleaned.append(_clean(value) if 10 in value or 13 in value else value)
            else:
                self._rawHeaders[_canonical.get(name) or _key(name)] = cleaned
                return
        super().setRawHeaders(name, values)

    def getRawHeaders(  # type: ignore[override]
        self, name: AnyStr, default: _T | None = None
    ) -> Sequence[AnyStr] | _T | None:
        if type(name) is bytes:
            return self._rawHeaders.get(_canonical.get(name) or _key(name)) or default
        return super().getRawHeaders(name, default)


_HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+(?:%25(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+)?\]"
    rb"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
)
"""RFC 9112 §3.2's C{Host}: C{uri-host [":" port]} (RFC 3986): an IPv6
address in brackets, perhaps with a zone id (RFC 6874: C{[fe80::1%25eth0]},
the C{%} percent-encoded), or a name or IPv4 address (a C{reg-name}), then
perhaps a port."""

_HOSTS_SEEN: dict[bytes, bool] = {}
"""C{Host} values already judged by L{isHost}: a client sends the same
one with every request."""


def isHost(value: bytes) -> bool:
    """Whether C{value} (a C{Host} header's) is C{host[:port]}: not, say,
    C{127.0.0.1:80@evil.com}, which a loose split would read as loopback."""
    verdict = _HOSTS_SEEN.get(value)
    if verdict is None:
        verdict = _HOST.fullmatch(value) is not None
        if len(_HOSTS_SEEN) < 256:
            _HOSTS_SEEN[value] = verdict
    return verdict
