# -*- test-case-name: tests.auth.test_jwks -*-
"""The OAuth issuer's signing keys (its JWKS), fetched, cached and refreshed.

L{httpFetch} GETs a URL with treq on the given agent and clock (never the
global reactor): the headers within C{timeout} (treq's own timeout), then
the body within another C{timeout} (treq's stops at the headers; the
connection is closed then) and at most C{maxBytes} (closed as soon as it
is over); a status other than 200 fails, and so does a redirect. What it fetched carries
the response's C{Cache-Control: max-age}.

L{KeySet} holds the keys by C{kid}. It fetches them in L{KeySet.start}
(after twistd daemonized: L{KeySetService}), discovering the JWKS URI
first when none is configured (RFC 8414
C{/.well-known/oauth-authorization-server[/path]}, then OpenID Connect
discovery; the document's C{issuer} must be the issuer exactly). A C{kid}
it does not know triggers a refresh at most once per C{minRefresh} seconds
(whatever the tokens say: an attacker's made-up kids cost one fetch per
C{minRefresh}; the start and periodic fetches do not count); every request
waiting meanwhile shares that one fetch. The keys are also
refreshed every C{max-age} (clamped to [5 min, 24 h]; 1 h without one). A
failed fetch keeps the keys it had and logs one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, TimeoutError
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IResponse

from mcpgateway.runtime import logs
from mcpgateway.runtime.addresses import isLoopbackHost

Fetch = Callable[[str], Deferred[bytes]]

MIN_PERIOD = 300.0
MAX_PERIOD = 86400.0
DEFAULT_PERIOD = 3600.0
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})")


class FetchError(Exception):
    """A fetch that gave no usable body (the message says why, briefly)."""


class Fetched(bytes):
    """A fetched body, with the response's C{max-age} (seconds) if it had one."""

    maxAge: float | None = None


def maxAgeOf(cacheControl: str | None) -> float | None:
    """The C{max-age} of a C{Cache-Control} value, if any."""
    if not cacheControl:
        return None
    match = _MAX_AGE.search(cacheControl.lower())
    return None if match is None else float(match.group(1))


def httpFetch(
    agent: IAgent, clock: IReactorTime, timeout: float = 5.0, maxBytes: int = 262144
) -> Fetch:
    """A L{Fetch} over C{agent}, timed on C{clock} (see the module docstring)."""
    from treq.client import HTTPClient

    client = HTTPClient(agent)

    def fetch(url: str) -> Deferred[bytes]:
        requested = client.get(
            url,
            headers=Headers({b"Accept": [b"application/json"]}),
            allow_redirects=False,
            reactor=cast(Any, clock),
            timeout=timeout,
            unbuffered=True,
        )

        def gotResponse(response: IResponse) -> Deferred[bytes]:
            if response.code != 200:
                _drop(response)
                raise FetchError(f"HTTP {response.code}")
            if response.length is not UNKNOWN_LENGTH and response.length > maxBytes:
                _drop(response)
                raise FetchError(f"larger than {maxBytes} bytes")
            body = _Body(maxBytes)
            response.deliverBody(body)
            body.finished.addTimeout(timeout, clock)
            cacheControl = response.headers.getRawHeaders(b"cache-control")

            def done(data: bytes) -> bytes:
                fetched = Fetched(data)
                if cacheControl:
                    fetched.maxAge = maxAgeOf(cacheControl[-1].decode("latin-1"))
                return fetched

            return body.finished.addCallback(done)

        def failed(reason: Failure) -> Failure:
            if reason.check(CancelledError, TimeoutError):
                return Failure(FetchError(f"no answer within {timeout:g} s"))
            return reason

        return requested.addCallback(gotResponse).addErrback(failed)

    return fetch


def _drop(response: IResponse) -> None:
    """Close the connection of a body nobody wants (at its first bytes)."""
    body = _Body(0)
    response.deliverBody(body)
    body.finished.addErrback(lambda _: None)


class _Body(Protocol):
    """Collects a response body of at most C{maxBytes}; C{finished} fires
    with it. Over the cap, or cancelled (a timeout), the connection is
    closed (C{stopProducing}: the HTTP client drops it)."""

    def __init__(self, maxBytes: int) -> None:
        self._maxBytes = maxBytes
        self._chunks: list[bytes] = []
        self._size = 0
        self.finished: Deferred[bytes] = Deferred(lambda _: self._close())

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        self._size += len(data)
        if self._size > self._maxBytes:
            self._close()
            self.finished.errback(FetchError(f"larger than {self._maxBytes} bytes"))
            return
        self._chunks.append(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.finished.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.finished.callback(b"".join(self._chunks))
        else:
            self.finished.errback(reason)


def isLoopbackUrl(url: str) -> bool:
    """Whether C{url}'s host is this machine (L{isLoopbackHost})."""
    return isLoopbackHost(urlsplit(url).hostname or "")


def discoveryUrls(issuer: str) -> list[str]:
    """Where the issuer's metadata may be: RFC 8414 (the well-known segment
    between host and path), then OpenID Connect (appended)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit(
        (parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", "")
    )
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return [rfc8414, oidc]


def parseKeys(body: bytes) -> dict[str | None, PyJWK]:
    """The signing keys of a JWKS document, by C{kid} (L{FetchError} when it
    holds none). Keys for encryption and keys PyJWT cannot use are left out."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError("the JWKS is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FetchError('the JWKS has no "keys" list')
    usable = [
        k
        for k in document["keys"]
        if isinstance(k, dict) and k.get("use", "sig") == "sig" and k.get("kty") != "oct"
    ]
    try:
        keySet = PyJWKSet(usable)
    except (PyJWKSetError, PyJWKError, ValueError, TypeError):
        raise FetchError("the JWKS holds no usable signing key") from None
    keys: dict[str | None, PyJWK] = {}
    for key in keySet.keys:
        kid = key.key_id if isinstance(key.key_id, str) else None
        keys.setdefault(kid, key)
    return keys


class KeySet:
    """The issuer's keys (see the module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        fetch: Fetch,
        clock: IReactorTime,
        issuer: str,
        jwksUri: str | None,
        minRefresh: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.issuer = issuer
        self.jwksUri = jwksUri
        self.minRefresh = minRefresh
        self._keys: dict[str | None, PyJWK] = {}
        self._fetching: Deferred[None] | None = None
        self._waiters: list[Deferred[None]] = []
        self._lastAttempt: float | None = None
        self._next: IDelayedCall | None = None
        self._running = False
        self.fetched: float | None = None
        """When the keys were last fetched (the clock's seconds)."""
        self.fetches = 0
        self.failures = 0
        self.lastError: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether any key is known."""
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def start(self) -> Deferred[None]:
        """Fetch the keys now, and keep them fresh; fires once the first
        fetch ended (never fails: a failure is logged)."""
        self._running = True
        return self.refresh()

    def stop(self) -> None:
        self._running = False
        call, self._next = self._next, None
        if call is not None and call.active():
            call.cancel()
        fetching, self._fetching = self._fetching, None
        if fetching is not None:
            fetching.cancel()

    def key(self, kid: str | None) -> PyJWK | Deferred[PyJWK | None] | None:
        """The key named C{kid} (C{None}: the only key, when there is one):
        at once when known; else after a refresh, when one may happen now
        (C{None} if it still is unknown)."""
        found = self._lookup(kid)
        if found is not None:
            return found
        if self._fetching is None and not self._mayRefresh():
            return None
        waited = self._wait()
        return waited.addCallback(lambda _: self._lookup(kid))

    def _lookup(self, kid: str | None) -> PyJWK | None:
        found = self._keys.get(kid)
        if found is None and kid is None and len(self._keys) == 1:
            found = next(iter(self._keys.values()))
        return found

    def _mayRefresh(self) -> bool:
        return (
            self._lastAttempt is None
            or self._clock.seconds() - self._lastAttempt >= self.minRefresh
        )

    def _wait(self) -> Deferred[None]:
        waiter: Deferred[None] = Deferred(lambda d: self._forget(d))
        self._waiters.append(waiter)
        if self._fetching is None:
            self._lastAttempt = self._clock.seconds()
            self.refresh()
        return waiter

    def _forget(self, waiter: Deferred[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def refresh(self) -> Deferred[None]:
        """Fetch the keys now (or join the fetch under way); never fails."""
        if self._fetching is not None:
            joined: Deferred[None] = Deferred()
            self._waiters.append(joined)
            return joined
        self.fetches += 1
        fetching = self._fetchKeys()
        self._fetching = fetching
        fetching.addCallback(self._gotKeys).addErrback(self._failed)
        fetching.addBoth(self._fetched)
        done: Deferred[None] = Deferred()
        self._waiters.append(done)
        return done

    def _fetchKeys(self) -> Deferred[Any]:
        if self.jwksUri is not None:
            return self._fetch(self.jwksUri).addCallback(_withMaxAge)
        return self._discover(discoveryUrls(self.issuer), [])

    def _discover(self, urls: list[str], why: list[str]) -> Deferred[Any]:
        if not urls:
            return _failed(FetchError("issuer metadata not found: " + "; ".join(why)))
        url, rest = urls[0], urls[1:]

        def found(body: bytes) -> Deferred[Any]:
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                raise FetchError(f"{url} is not JSON") from None
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise FetchError(f"{url} names another issuer")
            jwksUri = document.get("jwks_uri")
            if not isinstance(jwksUri, str) or urlsplit(jwksUri).scheme not in ("https", "http"):
                raise FetchError(f"{url} has no jwks_uri")
            if urlsplit(jwksUri).scheme == "http" and not isLoopbackUrl(jwksUri):
                raise FetchError(f"{url} gives a jwks_uri that is not https")
            self.jwksUri = jwksUri
            self.log.info("auth: the issuer's keys are at {uri}", uri=jwksUri)
            return self._fetch(jwksUri).addCallback(_withMaxAge)

        def notFound(reason: Failure) -> Deferred[Any] | Failure:
            if self.jwksUri is not None:
                return reason  # the JWKS itself failed
            return self._discover(rest, [*why, f"{url}: {reason.getErrorMessage()}"])

        return self._fetch(url).addCallback(found).addErrback(notFound)

    def _gotKeys(self, result: tuple[bytes, float | None]) -> float:
        body, maxAge = result
        keys = parseKeys(body)
        if set(keys) != set(self._keys):
            self.log.info(
                "auth: {count} signing keys from {uri}", count=len(keys), uri=self.jwksUri
            )
        self._keys = keys
        self.fetched = self._clock.seconds()
        self.lastError = None
        period = DEFAULT_PERIOD if maxAge is None else maxAge
        return min(MAX_PERIOD, max(MIN_PERIOD, period))

    def _failed(self, reason: Failure) -> float | None:
        if not self._running and reason.check(CancelledError):
            return None  # stopped
        self.failures += 1
        why = reason.getErrorMessage() if reason.check(FetchError) else _brief(reason)
        self.lastError = why
        self.log.warn(
            "auth: could not fetch the issuer's keys ({uri}): {why}; keeping {count} keys",
            uri=self.jwksUri or self.issuer,
            why=why,
            count=len(self._keys),
        )
        return self.minRefresh if not self._keys else MIN_PERIOD

    def _fetched(self, period: object) -> None:
        self._fetching = None
        if self._running and isinstance(period, float):
            if self._next is not None and self._next.active():
                self._next.cancel()
            self._next = self._clock.callLater(period, self._periodic)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _periodic(self) -> None:
        self._next = None
        self.refresh()

    def status(self) -> dict[str, Any]:
        """For C{/health}: how many keys, when fetched, the last error."""
        return {
            "keys": len(self._keys),
            "uri": self.jwksUri,
            "fetchedAgo": None
            if self.fetched is None
            else round(self._clock.seconds() - self.fetched, 1),
            "fetches": self.fetches,
            "failures": self.failures,
            "lastError": self.lastError,
        }


def _withMaxAge(body: bytes) -> tuple[bytes, float | None]:
    return bytes(body), getattr(body, "maxAge", None)


def _failed(error: Exception) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.errback(Failure(error))
    return d


def _brief(reason: Failure) -> str:
    text = reason.getErrorMessage()
    name = reason.type.__name__ if isinstance(reason.type, type) else "error"
    return f"{name}: {text}"[:200] if text else name


class KeySetService(Service):
    """Starts a L{KeySet} with the service tree (after twistd daemonized)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    def startService(self) -> None:
        super().startService()
        self.keys.start()

    def stopService(self) -> Deferred[None] | None:
        self.keys.stop()
        super().stopService()
        return None
