"""L{mcpgateway.web.endpoints.guard.checkOrigin}: its kept verdicts are the verdicts."""

from __future__ import annotations

from typing import cast

from hypothesis import given
from hypothesis import strategies as st
from twisted.web.http_headers import Headers
from twisted.web.iweb import IRequest
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.httpbase.headers import GatewayHeaders
from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.web.endpoints import guard


def _reference(request: IRequest, loopbackOnly: bool, tokensRequired: bool) -> guard.Refusal | None:
    """The check as written before its verdicts were kept: the oracle."""
    origin = guard.header(request, "origin")
    host = guard.header(request, "host")
    if origin is not None:
        name = guard._originHost(origin)
        if name is None or not isLoopbackHost(name):
            return 403, (
                f"Origin {origin!r} is not allowed: only loopback origins may call this gateway"
            )
    if (
        loopbackOnly
        and not tokensRequired
        and host is not None
        and not isLoopbackHost(guard._hostOf(host))
    ):
        return 421, f"Host {host!r} is not allowed: this gateway answers loopback names only"
    return None


def _request(headers: Headers, origins: list[bytes], hosts: list[bytes]) -> IRequest:
    request = DummyRequest([b""])
    request.requestHeaders = headers
    if origins:
        headers.setRawHeaders(b"origin", origins)
    if hosts:
        headers.setRawHeaders(b"host", hosts)
    return cast(IRequest, request)


_NAMES = st.sampled_from(
    ["localhost", "127.0.0.1", "[::1]", "app.localhost", "evil.example.com", "10.0.0.1", "[::"]
)
_ORIGINS = st.one_of(
    st.builds(
        lambda scheme, name, port: f"{scheme}://{name}{port}",
        st.sampled_from(["http", "https", "null", ""]),
        _NAMES,
        st.sampled_from(["", ":3000", ":x"]),
    ),
    st.text(max_size=40),
    st.text(min_size=500, max_size=700),
)
_HOSTS = st.one_of(
    st.builds(lambda name, port: name + port, _NAMES, st.sampled_from(["", ":9100"])),
    st.text(max_size=40),
    st.text(min_size=500, max_size=700),
)


@given(
    origins=st.lists(_ORIGINS, max_size=2),
    hosts=st.lists(_HOSTS, max_size=2),
    loopbackOnly=st.booleans(),
    tokensRequired=st.booleans(),
    gateways=st.booleans(),
)
def test_the_verdict_is_the_checks_own(
    origins: list[str], hosts: list[str], loopbackOnly: bool, tokensRequired: bool, gateways: bool
) -> None:
    """Asked twice (the second from the kept verdicts), for any headers,
    short or long, repeated or not, on the gateway's headers or Twisted's:
    the same as the check computed afresh from the last value of each."""
    rawOrigins = [o.encode("utf-8") for o in origins]
    rawHosts = [h.encode("utf-8") for h in hosts]
    for _ in range(2):
        headers = GatewayHeaders() if gateways else Headers()
        request = _request(headers, rawOrigins, rawHosts)
        expected = _reference(request, loopbackOnly, tokensRequired)
        assert guard.checkOrigin(request, loopbackOnly, tokensRequired) == expected


def test_long_values_are_judged_but_not_kept() -> None:
    guard._originRefusal.cache_clear()
    long = b"http://" + b"a" * 600 + b".example.com"
    request = _request(GatewayHeaders(), [long], [b"localhost:9100"])
    refusal = guard.checkOrigin(request, True)
    assert refusal is not None and refusal[0] == 403
    assert guard._originRefusal.cache_info().currsize == 0
    short = _request(GatewayHeaders(), [b"http://localhost:3000"], [b"localhost:9100"])
    assert guard.checkOrigin(short, True) is None
    assert guard._originRefusal.cache_info().currsize == 1


def test_only_an_origin_as_a_browser_serializes_it_is_loopback() -> None:
    """A browser's C{Origin} is C{scheme://host[:port]}: a port that is no
    number, a user, a path are no page's origin, whatever host they name."""
    for origin in ("http://127.0.0.1:9100", "https://localhost", "http://[::1]:3000"):
        assert guard._originHost(origin) is not None, origin
    for origin in (
        "http://127.0.0.1:9100.evil.example",
        "http://127.0.0.1:80x",
        "http://user@127.0.0.1",
        "http://127.0.0.1/path",
        "http://127.0.0.1?q",
        "null",
        "file://",
    ):
        assert guard._originHost(origin) is None, origin
