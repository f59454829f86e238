"""The requestState tokens of multi round-trip requests
(mcpgateway.protocol.requeststate): sealed, bound, expiring, tamper-evident."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol.requeststate import (
    HANDLE_SIZE,
    MAX_TOKEN,
    Binding,
    StateCodec,
    StateError,
    argumentsDigest,
)

KEY = b"k" * 32
HANDLE = bytes(range(HANDLE_SIZE))
BINDING = Binding(
    server="srv",
    route="",
    method="tools/call",
    target="book",
    argsDigest=argumentsDigest({"date": "2026-09-02"}),
)


def seal(round: int = 1, expiresAt: float = 600.0, binding: Binding = BINDING) -> str:
    return StateCodec(KEY).seal(HANDLE, round, expiresAt, binding)


def test_round_trip() -> None:
    codec = StateCodec(KEY)
    token = codec.seal(HANDLE, 3, 600.0, BINDING)
    assert token.startswith("v1.")
    assert len(token) <= MAX_TOKEN
    assert codec.open(token, BINDING, 0.0) == (HANDLE, 3)
    assert codec.open(token, BINDING, 599.998) == (HANDLE, 3)


def test_tokens_are_url_safe_and_short() -> None:
    token = seal(round=2**32 - 1, expiresAt=2.0**40)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert len(token) == 3 + 59


def test_expiry() -> None:
    codec = StateCodec(KEY)
    token = codec.seal(HANDLE, 1, 10.0, BINDING)
    assert codec.open(token, BINDING, 9.5) == (HANDLE, 1)
    with pytest.raises(StateError):
        codec.open(token, BINDING, 10.0)
    with pytest.raises(StateError):
        codec.open(token, BINDING, 1e9)


def test_another_key_refuses() -> None:
    token = seal()
    with pytest.raises(StateError):
        StateCodec(b"x" * 32).open(token, BINDING, 0.0)
    with pytest.raises(StateError):
        StateCodec().open(token, BINDING, 0.0)  # a new process: a new random key


def test_default_keys_differ() -> None:
    assert StateCodec().seal(HANDLE, 1, 5.0, BINDING) != StateCodec().seal(HANDLE, 1, 5.0, BINDING)


@pytest.mark.parametrize(
    "change",
    [
        {"server": "other"},
        {"route": "ws-1"},
        {"method": "prompts/get"},
        {"target": "book2"},
        {"argsDigest": argumentsDigest({"date": "2026-09-03"})},
        {"argsDigest": b""},
        {"principal": "alice"},
    ],
)
def test_every_binding_field_counts(change: dict[str, object]) -> None:
    token = seal()
    with pytest.raises(StateError):
        StateCodec(KEY).open(token, dataclasses.replace(BINDING, **change), 0.0)  # type: ignore[arg-type]


def test_fields_do_not_run_into_each_other() -> None:
    """Length-prefixed fields: moving a character between neighbours is
    another binding."""
    one = Binding("ab", "c", "m", "t", b"")
    two = Binding("a", "bc", "m", "t", b"")
    token = StateCodec(KEY).seal(HANDLE, 1, 5.0, one)
    with pytest.raises(StateError):
        StateCodec(KEY).open(token, two, 0.0)


def test_every_single_byte_flip_refuses() -> None:
    token = seal()
    body = bytearray(base64.urlsafe_b64decode(token[3:] + "="))
    for index in range(len(body)):
        for bit in (0x01, 0x80):
            flipped = bytearray(body)
            flipped[index] ^= bit
            forged = "v1." + base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
            with pytest.raises(StateError):
                StateCodec(KEY).open(forged, BINDING, 0.0)


def test_every_truncation_and_extension_refuses() -> None:
    token = seal()
    for cut in range(len(token)):
        with pytest.raises(StateError):
            StateCodec(KEY).open(token[:cut], BINDING, 0.0)
    for suffix in ("-TAMPERED", "A", "AA", "=", "==", " ", "\n"):
        with pytest.raises(StateError):
            StateCodec(KEY).open(token + suffix, BINDING, 0.0)


@pytest.mark.parametrize(
    "token",
    ["", "v1.", "v2.AAAA", "v1.!!!!", "x" * 1000, "v1." + "A" * 300, "v1.AAA\u00e9", "v1.\ud800"],
)
def test_garbage_refuses(token: str) -> None:
    with pytest.raises(StateError):
        StateCodec(KEY).open(token, BINDING, 0.0)


def test_non_string_refuses() -> None:
    with pytest.raises(StateError):
        StateCodec(KEY).open(5, BINDING, 0.0)  # type: ignore[arg-type]


def test_one_message_for_every_failure() -> None:
    """No oracle: a bad tag, an expiry, a binding, garbage all say the same."""
    codec = StateCodec(KEY)
    token = codec.seal(HANDLE, 1, 10.0, BINDING)
    messages = set()
    for forged, binding, now in [
        (token + "A", BINDING, 0.0),
        (token, BINDING, 11.0),
        (token, dataclasses.replace(BINDING, target="x"), 0.0),
        ("garbage", BINDING, 0.0),
    ]:
        with pytest.raises(StateError) as caught:
            codec.open(forged, binding, now)
        messages.add(str(caught.value))
    assert messages == {"Invalid or expired requestState"}


def test_seal_refuses_what_it_cannot_encode() -> None:
    codec = StateCodec(KEY)
    with pytest.raises(ValueError):
        codec.seal(b"short", 1, 5.0, BINDING)
    with pytest.raises(ValueError):
        codec.seal(HANDLE, -1, 5.0, BINDING)
    with pytest.raises(ValueError):
        codec.seal(HANDLE, 2**32, 5.0, BINDING)


def test_argumentsDigest_is_canonical() -> None:
    assert argumentsDigest({"a": 1, "b": [1, 2]}) == argumentsDigest({"b": [1, 2], "a": 1})
    assert argumentsDigest({"a": 1}) != argumentsDigest({"a": "1"})
    assert argumentsDigest({"a": [1, 2]}) != argumentsDigest({"a": [2, 1]})
    assert argumentsDigest(None) != argumentsDigest({})
    assert len(argumentsDigest({"é": "\ud800"})) == 32


BINDINGS = st.builds(
    Binding,
    server=st.text(max_size=10),
    route=st.text(max_size=10),
    method=st.sampled_from(["tools/call", "prompts/get", "resources/read"]),
    target=st.text(max_size=20),
    argsDigest=st.binary(max_size=32),
    principal=st.text(max_size=8),
)


@settings(max_examples=60)
@given(
    handle=st.binary(min_size=HANDLE_SIZE, max_size=HANDLE_SIZE),
    round=st.integers(min_value=0, max_value=2**32 - 1),
    expiresAt=st.floats(min_value=0.001, max_value=1e12),
    binding=BINDINGS,
    other=BINDINGS,
)
def test_any_token_opens_with_its_own_binding_only(
    handle: bytes, round: int, expiresAt: float, binding: Binding, other: Binding
) -> None:
    codec = StateCodec(KEY)
    token = codec.seal(handle, round, expiresAt, binding)
    assert len(token) <= MAX_TOKEN
    now = expiresAt / 2 - 0.001
    if now >= 0:
        assert codec.open(token, binding, now) == (handle, round)
    if other != binding:
        with pytest.raises(StateError):
            codec.open(token, other, 0.0)


@settings(max_examples=60)
@given(st.text(max_size=80))
def test_open_never_raises_anything_but_StateError(token: str) -> None:
    with pytest.raises(StateError):
        StateCodec(KEY).open(token, BINDING, 0.0)
