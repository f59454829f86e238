"""The peer credential: the caller's principal, bound to one forwarded request, for a while."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.cluster.keyfile import derive
from mcpgateway.cluster.peer import MAX_VALUE, PeerClaim, PeerSeal, SeenNonces
from mcpgateway.httpbase.principal import VIA_OAUTH, VIA_PEER, VIA_TOKEN, Principal
from tests.fakes import capturedGatewayLogs

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ALICE = Principal(
    "alice",
    "abcdefghijklmnop",
    VIA_TOKEN,
    servers=frozenset({"github", "fs"}),
    scopes=frozenset({"mcp:github"}),
    admin=False,
    expires=1_800_000_000.0,
)
REQUEST = (b"POST", b"/github/mcp", "r1.sessionid", b'{"jsonrpc":"2.0","id":1}')


def seals(clock: Clock, key: bytes = KEY, label: str = "r1") -> PeerSeal:
    return PeerSeal(key, label, clock, ttl=30.0)


def test_round_trip_carries_the_principal_as_a_peer() -> None:
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    principal = seals(clock, label="r2").open(value, *REQUEST)
    assert principal == dataclasses.replace(ALICE, via=VIA_PEER)
    assert ALICE.via != VIA_PEER


def test_the_claim_names_the_forwarder_and_how_the_caller_was_proven() -> None:
    clock = Clock()
    admin = Principal("root", "k", VIA_OAUTH, admin=True)
    value = seals(clock, label="r7").seal(admin, *REQUEST)
    claim = seals(clock).claim(value, *REQUEST)
    assert claim == PeerClaim(
        Principal("root", "k", VIA_PEER, servers=None, admin=True), "r7", VIA_OAUTH
    )


def test_the_claim_carries_what_a_policy_reads_and_where_the_request_came_from() -> None:
    """The owner decides a forwarded request by the policy as the replica
    it reached would: with the caller's groups and token claims, how it
    was proven there, and the address the request came from."""
    clock = Clock()
    analyst = dataclasses.replace(
        ALICE, groups=frozenset({"analysts", "eu"}), claims=(("dept", "research"),)
    )
    value = seals(clock, label="r2").seal(analyst, *REQUEST, source="192.0.2.7")
    claim = seals(clock).claim(value, *REQUEST)
    assert claim == PeerClaim(
        dataclasses.replace(analyst, via=VIA_PEER), "r2", VIA_TOKEN, "192.0.2.7"
    )
    assert claim.principal.groups == {"analysts", "eu"}
    assert claim.principal.claims == (("dept", "research"),)


def test_a_seal_that_says_nothing_of_them_opens_without_them() -> None:
    """A replica that seals no groups, claims or source (an earlier
    version, during a rolling upgrade) is still opened: none of them."""
    clock = Clock()
    claims: dict[str, object] = {
        "n": "alice",
        "k": "k",
        "v": VIA_TOKEN,
        "s": None,
        "c": [],
        "a": False,
        "e": None,
        "f": "r0",
        "x": clock.seconds() + 30,
    }
    claim = seals(clock).claim(sealedAs(claims), *REQUEST)
    assert claim == PeerClaim(Principal("alice", "k", VIA_PEER), "r0", VIA_TOKEN, "")
    for bad in ({"g": "analysts"}, {"t": [["dept"]]}, {"t": [[1, 2]]}, {"src": 7}):
        assert seals(clock).claim(sealedAs({**claims, **bad}), *REQUEST) is None, bad


def sealedAs(claims: Mapping[str, object]) -> str:
    """A header value sealing C{claims} for L{REQUEST}, as a replica of
    any version makes one."""
    aead = AESGCM(derive(KEY, "peer"))
    nonce = os.urandom(12)
    plaintext = json.dumps(claims).encode()
    method, path, sessionId, body = REQUEST
    aad = b"".join(
        [
            b"mcpgw-peer1\0",
            method,
            b"\0",
            path,
            b"\0",
            sessionId.encode(),
            b"\0",
            hashlib.sha256(body).digest(),
        ]
    )
    sealed = nonce + aead.encrypt(nonce, plaintext, aad)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def test_it_expires_on_the_clock() -> None:
    clock = Clock()
    clock.advance(1000)
    value = seals(clock).seal(ALICE, *REQUEST)
    clock.advance(29.9)
    assert seals(clock).open(value, *REQUEST) is not None
    clock.advance(0.1)
    assert seals(clock).open(value, *REQUEST) is None
    clock.advance(1000)
    assert seals(clock).open(value, *REQUEST) is None


@pytest.mark.parametrize(
    "other",
    [
        (b"GET", b"/github/mcp", "r1.sessionid", REQUEST[3]),
        (b"POST", b"/gitlab/mcp", "r1.sessionid", REQUEST[3]),
        (b"POST", b"/github~key/mcp", "r1.sessionid", REQUEST[3]),
        (b"POST", b"/github/mcp", "r1.othersession", REQUEST[3]),
        (b"POST", b"/github/mcp", "", REQUEST[3]),
        (b"POST", b"/github/mcp", "r1.sessionid", b'{"jsonrpc":"2.0","id":2}'),
        (b"POST", b"/github/mcp", "r1.sessionid", b""),
    ],
)
def test_bound_to_method_path_session_and_body(other: tuple[bytes, bytes, str, bytes]) -> None:
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    assert seals(clock).open(value, *other) is None


def test_no_ambiguity_between_the_bound_fields() -> None:
    clock = Clock()
    value = seals(clock).seal(ALICE, b"POST", b"/a", "b", b"")
    assert seals(clock).open(value, b"POST", b"/a\0b", "", b"") is None


def test_another_key_does_not_open() -> None:
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    assert seals(clock, key=OTHER_KEY).open(value, *REQUEST) is None


def test_every_character_changed_fails() -> None:
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index in range(len(value) - 1):  # the last one may carry padding bits only
        other = alphabet[(alphabet.index(value[index]) + 1) % len(alphabet)]
        changed = value[:index] + other + value[index + 1 :]
        assert seals(clock).open(changed, *REQUEST) is None, index
    for end in range(len(value)):
        assert seals(clock).open(value[:end], *REQUEST) is None, end


def test_a_principal_that_may_use_every_server() -> None:
    clock = Clock()
    anyone = Principal("bob", "bobkey", VIA_TOKEN)
    principal = seals(clock).open(seals(clock).seal(anyone, *REQUEST), *REQUEST)
    assert principal is not None and principal.servers is None and principal.mayUse("x")


def test_the_token_never_travels() -> None:
    """Nothing but the principal is sealed: a value carries no more than
    its claims (the caller's token is not among the seal's inputs)."""
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    assert len(value) < 300


def test_garbage_is_refused() -> None:
    clock = Clock()
    for value in ("", "!", "AAAA", "A" * (MAX_VALUE + 1), "é" * 40, "A" * 100):
        assert seals(clock).open(value, *REQUEST) is None


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(ValueError):
        PeerSeal(b"short", "r1", Clock())


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(max_size=60),
    key=st.text(max_size=20),
    servers=st.none() | st.frozensets(st.text(max_size=10), max_size=5),
    admin=st.booleans(),
    body=st.binary(max_size=200),
)
def test_any_principal_round_trips(
    name: str, key: str, servers: frozenset[str] | None, admin: bool, body: bytes
) -> None:
    clock = Clock()
    principal = Principal(name, key, VIA_TOKEN, servers=servers, admin=admin)
    value = seals(clock).seal(principal, b"POST", b"/s/mcp", "sid", body)
    opened = seals(clock).open(value, b"POST", b"/s/mcp", "sid", body)
    assert opened == Principal(name, key, VIA_PEER, servers=servers, admin=admin)


def test_a_header_opens_once() -> None:
    """A header captured on the wire and sent again is refused for as long
    as it would otherwise be good."""
    clock = Clock()
    value = seals(clock).seal(ALICE, *REQUEST)
    owner = seals(clock, label="r2")
    assert owner.open(value, *REQUEST) is not None
    clock.advance(10)
    assert owner.open(value, *REQUEST) is None
    again = seals(clock).seal(ALICE, *REQUEST)  # a new seal of the same request: a new nonce
    assert owner.open(again, *REQUEST) is not None
    assert owner.replays == 1


def test_a_replay_is_logged_naming_the_replica_that_sealed_it() -> None:
    clock = Clock()
    value = seals(clock, label="r1").seal(ALICE, *REQUEST)
    owner = seals(clock, label="r2")
    with capturedGatewayLogs() as events:
        assert owner.open(value, *REQUEST) is not None
        assert events == []
        assert owner.open(value, *REQUEST) is None
    [event] = events
    assert event["replica"] == "r1" and "opened before" in str(event["log_format"])
    assert ALICE.key not in repr(event)  # no principal, no header in the line


def test_the_nonces_seen_are_forgotten_once_expired_and_bounded() -> None:
    seen = SeenNonces(limit=3)
    assert seen.first(b"a", expires=30, now=0) and not seen.first(b"a", expires=30, now=1)
    assert seen.first(b"b", expires=31, now=1)
    assert seen.first(b"c", expires=60, now=31)  # a and b expired: forgotten
    assert len(seen) == 1
    for nonce in (b"d", b"e", b"f"):
        assert seen.first(nonce, expires=90, now=32)
    assert len(seen) == 3  # the oldest went to keep the bound
