"""The issuer's keys: httpFetch on a fake agent and a Clock, KeySet's
discovery, refreshes (on unknown kid, periodic), failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web._newclient import Response
from twisted.web.http_headers import Headers

from mcpgateway.auth.jwks import (
    Fetched,
    FetchError,
    KeySet,
    KeySetService,
    discoveryUrls,
    httpFetch,
    maxAgeOf,
    parseKeys,
)
from tests.fakes import capturedGatewayLogs
from tests.fixtures.jwt_issuer import IssuerKey, jwks
from tests.remote.fakehttp import FakeAgent
from tests.support.auth.jwks import FakeFetch, result

ISSUER = "https://idp.example.com"
JWKS = "https://idp.example.com/keys"


def fired(d: Deferred[Any]) -> bool:
    box: list[Any] = []

    def seen(value: Any) -> Any:
        box.append(value)
        return value

    d.addBoth(seen)
    return bool(box)


# -- httpFetch -------------------------------------------------------------------------


def response(code: int = 200, headers: dict[bytes, list[bytes]] | None = None) -> Response:
    return Response._construct(  # type: ignore[no-any-return]
        (b"HTTP", 1, 1), code, b"X", Headers(headers or {}), StringTransport(), None
    )


def test_a_fetch_gets_the_body_and_its_max_age() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock)(JWKS)
    assert (agent.sent[0].method, agent.sent[0].uri) == (b"GET", JWKS.encode())
    answer = response(headers={b"cache-control": [b"public, max-age=600"]})
    agent.sent[0].deferred.callback(answer)
    answer._bodyDataReceived(b'{"keys"')
    answer._bodyDataReceived(b": []}")
    answer._bodyDataFinished()
    body = result(d)
    assert body == b'{"keys": []}' and isinstance(body, Fetched) and body.maxAge == 600.0
    assert clock.getDelayedCalls() == []


def test_headers_that_never_come_time_out_on_the_clock() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock, timeout=5)(JWKS)
    clock.advance(4.9)
    assert not fired(d)
    clock.advance(0.2)
    with pytest.raises(FetchError, match="no answer within 5 s"):
        result(d)


def test_a_body_that_never_ends_times_out_on_the_clock() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock, timeout=5)(JWKS)
    clock.advance(3)
    answer = response()
    agent.sent[0].deferred.callback(answer)
    answer._bodyDataReceived(b"{")
    clock.advance(4.9)
    assert not fired(d)
    clock.advance(0.2)
    with pytest.raises(FetchError, match="no answer within 5 s"):
        result(d)
    assert answer._transport.producerState == "stopped"


def test_a_body_over_the_cap_is_refused() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock)(JWKS)
    answer = response()
    agent.sent[0].deferred.callback(answer)
    for _ in range(300):
        if fired(d):
            break
        answer._bodyDataReceived(b"x" * 1024)
    with pytest.raises(FetchError, match="larger than 262144 bytes"):
        result(d)
    assert answer._transport.producerState == "stopped"


def test_a_declared_length_over_the_cap_is_refused_at_once() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock, maxBytes=10)(JWKS)
    answer = response()
    answer.length = 11  # type: ignore[assignment]
    agent.sent[0].deferred.callback(answer)
    with pytest.raises(FetchError, match="larger than 10 bytes"):
        result(d)


def test_another_status_fails() -> None:
    agent, clock = FakeAgent(), Clock()
    d = httpFetch(agent, clock)(JWKS)
    agent.sent[0].deferred.callback(response(404))
    with pytest.raises(FetchError, match="HTTP 404"):
        result(d)


def test_max_age_parsing() -> None:
    assert maxAgeOf("no-cache, max-age=30") == 30.0
    assert maxAgeOf('max-age="7"') == 7.0
    assert maxAgeOf("s-maxage=5") is None
    assert maxAgeOf(None) is None


# -- parsing ---------------------------------------------------------------------------


def test_parse_keys_by_kid_leaves_out_encryption_and_secret_keys(
    rsa: IssuerKey, ecKey: IssuerKey
) -> None:
    document = jwks(rsa, ecKey)
    document["keys"].append({**ecKey.jwk(), "kid": "enc", "use": "enc"})
    document["keys"].append({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"})
    document["keys"].append({"kty": "nope", "kid": "x"})
    keys = parseKeys(json.dumps(document).encode())
    assert sorted(k for k in keys if k) == ["e1", "r1"]


@pytest.mark.parametrize(
    "body", [b"nope", b"[]", b'{"keys": 1}', b'{"keys": []}', b'{"keys": [{"kty": "oct"}]}']
)
def test_a_jwks_without_usable_keys_fails(body: bytes) -> None:
    with pytest.raises(FetchError):
        parseKeys(body)


def test_discovery_urls_per_rfc8414_then_oidc() -> None:
    assert discoveryUrls("https://idp/tenant/") == [
        "https://idp/.well-known/oauth-authorization-server/tenant",
        "https://idp/tenant/.well-known/openid-configuration",
    ]


# -- KeySet ----------------------------------------------------------------------------


def started(fetch: FakeFetch, clock: Clock, *keys: IssuerKey, **kw: Any) -> KeySet:
    keySet = KeySet(fetch, clock, ISSUER, JWKS, **kw)
    keySet.start()
    fetch.answer(jwks(*keys))
    return keySet


def test_start_fetches_and_keys_are_found_by_kid(rsa: IssuerKey, ecKey: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = started(fetch, clock, rsa, ecKey)
    assert [url for url, _ in fetch.calls] == [JWKS]
    found = keySet.key("r1")
    assert not isinstance(found, Deferred) and found is not None and found.key_id == "r1"
    waiting = keySet.key(None)  # two keys, no kid: none of them, after one refresh
    assert isinstance(waiting, Deferred)
    fetch.answer(jwks(rsa, ecKey))
    assert result(waiting) is None
    assert keySet.key(None) is None  # no fetch now
    assert len(fetch.calls) == 2
    assert keySet.status()["keys"] == 2


def test_one_key_and_no_kid_is_that_key(rsa: IssuerKey) -> None:
    keySet = started(FakeFetch(), Clock(), rsa)
    found = keySet.key(None)
    assert found is not None and not isinstance(found, Deferred) and found.key_id == "r1"


def test_an_unknown_kid_refreshes_once_and_waiters_share_it(
    rsa: IssuerKey, ecKey: IssuerKey
) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = started(fetch, clock, rsa)  # a rotation just after the start is seen at once
    waiting = [keySet.key("e1") for _ in range(5)]
    assert all(isinstance(w, Deferred) for w in waiting)
    assert len(fetch.calls) == 2
    fetch.answer(jwks(rsa, ecKey))
    assert [result(w).key_id for w in waiting] == ["e1"] * 5  # type: ignore[arg-type]


def test_a_hundred_unknown_kids_in_ten_seconds_fetch_once(rsa: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = started(fetch, clock, rsa)
    answers = []
    for i in range(100):
        found = keySet.key(f"nope{i}")
        if isinstance(found, Deferred):
            answers.append(found)
        clock.advance(0.1)
        if i == 0:
            fetch.answer(jwks(rsa))
    assert len(fetch.calls) == 2
    assert [result(a) for a in answers] == [None]
    clock.advance(30)
    assert isinstance(keySet.key("again"), Deferred)
    assert len(fetch.calls) == 3


def test_periodic_refresh_follows_max_age_clamped(rsa: IssuerKey, ecKey: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = KeySet(fetch, clock, ISSUER, JWKS)
    keySet.start()
    fetch.answer(jwks(rsa), maxAge=10)  # clamped to 5 minutes
    clock.advance(299)
    assert len(fetch.calls) == 1
    clock.advance(1)
    assert len(fetch.calls) == 2
    fetch.answer(jwks(rsa, ecKey), maxAge=10**7)  # clamped to a day
    assert keySet.key("e1") is not None
    clock.advance(86399)
    assert len(fetch.calls) == 2
    clock.advance(1)
    assert len(fetch.calls) == 3
    fetch.answer(jwks(rsa))  # no max-age: an hour
    clock.advance(3600)
    assert len(fetch.calls) == 4
    keySet.stop()
    assert clock.getDelayedCalls() == []


def test_a_failed_refresh_keeps_the_keys_and_logs_one_line(rsa: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = started(fetch, clock, rsa)
    clock.advance(3600)
    with capturedGatewayLogs() as events:
        fetch.answer(b"not json")
    assert keySet.key("r1") is not None
    assert keySet.status()["lastError"] == "the JWKS is not JSON"
    assert len([e for e in events if e["log_level"].name == "warn"]) == 1
    clock.advance(300)
    fetch.fail("connection refused")
    assert keySet.key("r1") is not None and keySet.failures == 2


def test_no_keys_yet_is_known_and_retried_soon(rsa: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = KeySet(fetch, clock, ISSUER, JWKS)
    keySet.start()
    fetch.fail()
    assert not keySet.loaded
    waiting = keySet.key("r1")  # a token's kid: one fetch
    assert isinstance(waiting, Deferred) and len(fetch.calls) == 2
    fetch.fail()
    assert result(waiting) is None
    assert keySet.key("r1") is None  # too soon to fetch again
    clock.advance(30)  # the scheduled retry
    assert len(fetch.calls) == 3
    fetch.answer(jwks(rsa))
    assert keySet.loaded


def test_discovery_rfc8414_then_oidc_then_the_jwks(rsa: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = KeySet(fetch, clock, ISSUER, None)
    keySet.start()
    assert fetch.calls[0][0] == ISSUER + "/.well-known/oauth-authorization-server"
    fetch.fail("HTTP 404")
    assert fetch.calls[1][0] == ISSUER + "/.well-known/openid-configuration"
    fetch.answer({"issuer": ISSUER, "jwks_uri": JWKS})
    assert fetch.calls[2][0] == JWKS
    fetch.answer(jwks(rsa))
    assert keySet.loaded and keySet.jwksUri == JWKS
    clock.advance(3600)
    assert fetch.calls[3][0] == JWKS  # discovered once


@pytest.mark.parametrize(
    "document",
    [
        {"issuer": "https://evil.example.com", "jwks_uri": JWKS},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "jwks_uri": "http://idp.example.com/keys"},
        {"issuer": ISSUER, "jwks_uri": "file:///etc/passwd"},
    ],
)
def test_discovery_refuses_another_issuer_or_a_bad_jwks_uri(document: dict[str, Any]) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = KeySet(fetch, clock, ISSUER, None)
    with capturedGatewayLogs():
        keySet.start()
        fetch.answer(document)
        fetch.answer(document)
    assert len(fetch.calls) == 2 and not keySet.loaded and keySet.jwksUri is None
    assert keySet.lastError is not None and "issuer metadata not found" in keySet.lastError


def test_the_service_starts_and_stops_the_key_set(rsa: IssuerKey) -> None:
    fetch, clock = FakeFetch(), Clock()
    keySet = KeySet(fetch, clock, ISSUER, JWKS)
    service = KeySetService(keySet)
    assert fetch.calls == []  # nothing before startService (twistd daemonizes first)
    service.startService()
    assert len(fetch.calls) == 1
    with capturedGatewayLogs() as events:
        service.stopService()
    assert clock.getDelayedCalls() == [] and events == []
