"""Sealed session ids: what they carry, what they are bound to, what breaks them."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.cluster.keyfile import ClusterKeyError, derive, loadClusterKeys, newClusterKey
from mcpgateway.cluster.sealing import LABEL, MAX_ID_LENGTH, Address, SessionSealer, keyId
from mcpgateway.core.sessions import ROUTED_CAPABILITIES, SessionFacts, SessionIds
from mcpgateway.protocol.versions import HANDSHAKE_VERSIONS

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
HERE = Address("10.1.2.3", 9100)


def facts(
    server: str = "github",
    scope: str = "",
    principal: str = "",
    credential: str = "",
    owned: bool = False,
    capabilities: frozenset[str] = frozenset({"sampling"}),
    created: float = 1_700_000_000.0,
) -> SessionFacts:
    return SessionFacts(
        server=server,
        scope=scope,
        principal=principal,
        credential=credential,
        protocolVersion="2025-06-18",
        capabilities=capabilities,
        owned=owned,
        created=created,
    )


def sealer(
    keys: tuple[bytes, ...] = (KEY,), label: str = "r1", address: Address = HERE
) -> SessionSealer:
    return SessionSealer(keys, label, lambda: address)


def flipped(sessionId: str, index: int) -> str:
    """C{sessionId} with the character at C{index} replaced by another of
    the base64url alphabet."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = alphabet[(alphabet.index(sessionId[index]) + 1) % len(alphabet)]
    return sessionId[:index] + other + sessionId[index + 1 :]


def test_a_sealer_is_a_session_ids() -> None:
    ids: SessionIds = sealer()
    assert ids.newId(facts()).startswith("r1.")


def test_round_trip() -> None:
    made = facts(scope="abcdefghijklmnop", principal="qrstuvwxyz234567", owned=True)
    sessionId = sealer().newId(made)
    assert sealer().open(sessionId, "github", "abcdefghijklmnop", "qrstuvwxyz234567") == (
        HERE,
        made,
    )


def test_round_trip_at_the_maxima_fits_the_session_store() -> None:
    owner = Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, tls=True)
    made = facts(
        server="s" * 200,
        scope="k" * 200,
        principal="p" * 128,
        credential="c" * 32,
        owned=True,
        capabilities=frozenset(ROUTED_CAPABILITIES),
        created=float(2**32 - 1),
    )
    seal = sealer(label="x" * 32, address=owner)
    sessionId = seal.newId(made)
    assert len(sessionId) == MAX_ID_LENGTH <= 256
    assert sessionId.isascii() and sessionId.isprintable() and " " not in sessionId
    assert seal.open(sessionId, made.server, made.scope, made.principal) == (owner, made)


def test_the_gateways_own_credential_keys_are_carried_compactly() -> None:
    made = facts(credential="abcdefghijklmnop")
    long = facts(credential="abcdefghijklmnopq")
    short, longer = sealer().newId(made), sealer().newId(long)
    assert len(short) < len(longer)
    assert sealer().open(short, "github", "", "") == (HERE, made)
    assert sealer().open(longer, "github", "", "") == (HERE, long)


def test_ids_differ_for_the_same_facts() -> None:
    assert sealer().newId(facts()) != sealer().newId(facts())


def test_every_character_flipped_fails_to_open() -> None:
    sessionId = sealer().newId(facts(credential="abcdefghijklmnop", owned=True))
    start = sessionId.index(".") + 1
    for index in range(start, len(sessionId)):
        assert sealer().open(flipped(sessionId, index), "github", "", "") is None, index


def test_every_truncation_and_extension_fails_to_open() -> None:
    sessionId = sealer().newId(facts())
    for end in range(len(sessionId)):
        assert sealer().open(sessionId[:end], "github", "", "") is None, end
    for extra in ("A", "AA", "AAA", "AAAA", "=", "==", ".", " "):
        assert sealer().open(sessionId + extra, "github", "", "") is None, extra


def test_every_byte_of_the_body_flipped_fails_to_open() -> None:
    sessionId = sealer().newId(facts())
    label, _, text = sessionId.partition(".")
    body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    for index in range(len(body)):
        for bit in (0x01, 0x80):
            changed = bytearray(body)
            changed[index] ^= bit
            again = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
            assert sealer().open(f"{label}.{again}", "github", "", "") is None, index


def test_bound_to_server_route_and_principal() -> None:
    sessionId = sealer().newId(facts(scope="aaaa", principal="alice"))
    assert sealer().open(sessionId, "github", "aaaa", "alice") is not None
    assert sealer().open(sessionId, "gitlab", "aaaa", "alice") is None
    assert sealer().open(sessionId, "github", "", "alice") is None
    assert sealer().open(sessionId, "github", "aaaa", "bob") is None
    assert sealer().open(sessionId, "github", "aaaa", "") is None
    # No ambiguity where the route ends and the principal begins.
    assert sealer().open(sessionId, "github", "aaaaa", "lice") is None
    assert sealer().open(sessionId, "github~aaaa", "", "alice") is None


def test_a_wrong_key_fails_to_open() -> None:
    sessionId = sealer().newId(facts())
    assert sealer((OTHER_KEY,)).open(sessionId, "github", "", "") is None


def test_rotation_the_first_key_seals_every_key_opens() -> None:
    old = sealer((KEY,)).newId(facts())
    rotated = sealer((OTHER_KEY, KEY))
    new = rotated.newId(facts())
    assert rotated.open(old, "github", "", "") == (HERE, facts())
    assert rotated.open(new, "github", "", "") == (HERE, facts())
    assert sealer((KEY,)).open(new, "github", "", "") is None  # sealed under the new key
    assert sealer((OTHER_KEY,)).open(new, "github", "", "") == (HERE, facts())


def test_key_ids_do_not_depend_on_the_keys_position() -> None:
    sessionId = sealer((KEY,)).newId(facts())
    body = base64.urlsafe_b64decode(sessionId.partition(".")[2] + "===")
    assert body[0] == keyId(KEY)


def test_the_label_is_a_hint_a_tampered_one_still_opens() -> None:
    sessionId = sealer(label="r1").newId(facts())
    body = sessionId.partition(".")[2]
    assert sealer(label="r2").open(f"r2.{body}", "github", "", "") == (HERE, facts())
    assert sealer().open(f"anything.{body}", "github", "", "") == (HERE, facts())
    assert sealer().open(body, "github", "", "") is None  # no label at all: not ours


def test_random_ids_do_not_open() -> None:
    assert sealer().open("", "github", "", "") is None
    assert sealer().open("Zm9vYmFy" * 4, "github", "", "") is None
    assert sealer().open("r1." + "A" * 100, "github", "", "") is None
    assert sealer().open("r1." + "A" * 300, "github", "", "") is None
    assert sealer().open("r1.é", "github", "", "") is None


def test_the_owner_address_is_asked_at_each_id() -> None:
    addresses = iter([Address("10.0.0.1", 1), Address("::1", 2, tls=True)])
    seal = SessionSealer([KEY], "r1", lambda: next(addresses))
    first, second = seal.newId(facts()), seal.newId(facts())
    assert seal.open(first, "github", "", "") == (Address("10.0.0.1", 1), facts())
    assert seal.open(second, "github", "", "") == (Address("::1", 2, tls=True), facts())


@pytest.mark.parametrize(
    ("address", "made"),
    [
        (Address("replica-1.example", 9100), facts()),
        (Address("10.0.0.1", 0), facts()),
        (Address("10.0.0.1", 70000), facts()),
        (HERE, facts(credential="c" * 33)),
        (HERE, facts(credential="clé")),
        (HERE, SessionFacts("g", "", "", "", "2026-07-28", frozenset(), False, 0.0)),
    ],
)
def test_what_cannot_be_sealed_is_refused(address: Address, made: SessionFacts) -> None:
    with pytest.raises(ValueError):
        sealer(address=address).newId(made)


@pytest.mark.parametrize(
    ("keys", "label"),
    [((), "r1"), ((b"short",), "r1"), ((KEY,), "R1"), ((KEY,), ""), ((KEY,), "a" * 33)],
)
def test_a_sealer_refuses_bad_keys_and_labels(keys: tuple[bytes, ...], label: str) -> None:
    with pytest.raises(ValueError):
        SessionSealer(keys, label, lambda: HERE)


def test_addresses_compare_in_canonical_form() -> None:
    assert Address("FD00:0:0::1", 9100) == Address("fd00::1", 9100)
    assert Address("FD00:0:0::1", 9100).host == "fd00::1"
    assert Address("replica-1", 9100).host == "replica-1"
    seal = sealer(address=Address("FD00:0:0::1", 9100))
    opened = seal.open(seal.newId(facts()), "github", "", "")
    assert opened is not None and opened[0] == Address("FD00::1", 9100)


def test_address_url() -> None:
    assert HERE.url == "http://10.1.2.3:9100"
    assert Address("fd00::1", 443, tls=True).url == "https://[fd00::1]:443"


hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
credentials = st.one_of(
    st.just(""),
    st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=16, max_size=16),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=32),
)


@settings(max_examples=80, deadline=None)
@given(
    server=st.text(min_size=1, max_size=40),
    scope=st.text(max_size=40),
    principal=st.text(max_size=40),
    credential=credentials,
    version=st.sampled_from(HANDSHAKE_VERSIONS),
    capabilities=st.frozensets(st.sampled_from(ROUTED_CAPABILITIES)),
    owned=st.booleans(),
    created=st.integers(0, 2**32 - 1),
    host=hosts,
    port=st.integers(1, 65535),
    tls=st.booleans(),
    label=st.from_regex(LABEL, fullmatch=True),
)
def test_any_facts_round_trip(
    server: str,
    scope: str,
    principal: str,
    credential: str,
    version: str,
    capabilities: frozenset[str],
    owned: bool,
    created: int,
    host: str,
    port: int,
    tls: bool,
    label: str,
) -> None:
    made = SessionFacts(
        server, scope, principal, credential, version, capabilities, owned, float(created)
    )
    owner = Address(host, port, tls)
    seal = sealer(label=label, address=owner)
    sessionId = seal.newId(made)
    assert len(sessionId) <= MAX_ID_LENGTH
    assert seal.open(sessionId, server, scope, principal) == (owner, made)
    assert seal.open(sessionId, server + "x", scope, principal) is None


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_opens_to_nothing_or_is_an_id_we_made(text: str) -> None:
    assert sealer().open(text, "github", "", "") is None


# -- the key file ------------------------------------------------------------


def writeKeys(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_load_keys(tmp_path: Path) -> None:
    first, second = newClusterKey(), newClusterKey()
    path = writeKeys(tmp_path / "keys", f"# the cluster's keys\n{first}\n\n  {second}  \n")
    assert loadClusterKeys(path) == (base64.b64decode(first), base64.b64decode(second))


def test_a_read_only_key_file_is_fine(tmp_path: Path) -> None:
    path = writeKeys(tmp_path / "keys", newClusterKey() + "\n", 0o400)
    assert len(loadClusterKeys(path)) == 1


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o666, 0o620])
def test_a_key_file_open_to_others_is_refused_naming_its_mode(tmp_path: Path, mode: int) -> None:
    path = writeKeys(tmp_path / "keys", newClusterKey() + "\n", mode)
    with pytest.raises(ClusterKeyError, match=f"mode {mode:04o}"):
        loadClusterKeys(path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no key"),
        ("# only a comment\n", "no key"),
        ("bm90IDMyIGJ5dGVz\n", "line 1"),
        (newClusterKey() + "\nnot base64!\n", "line 2"),
        (base64.b64encode(os.urandom(33)).decode() + "\n", "line 1"),
    ],
    # Named, not shown: each parallel worker draws its own random keys.
    ids=["empty", "comment", "short", "second-line", "long"],
)
def test_a_malformed_key_file_is_refused(tmp_path: Path, text: str, why: str) -> None:
    path = writeKeys(tmp_path / "keys", text)
    with pytest.raises(ClusterKeyError, match=why) as caught:
        loadClusterKeys(path)
    assert "not base64!" not in str(caught.value)  # a line's text is never shown


def test_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClusterKeyError, match="keys"):
        loadClusterKeys(tmp_path / "keys")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir(mode=0o700)
    with pytest.raises(ClusterKeyError):
        loadClusterKeys(tmp_path / "keys")


def test_new_keys_load(tmp_path: Path) -> None:
    path = writeKeys(tmp_path / "keys", newClusterKey() + "\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(loadClusterKeys(path)[0]) == 32


def test_derive() -> None:
    a, b = derive(KEY, "session-id"), derive(KEY, "peer")
    assert len(a) == len(b) == 32
    assert a != b != KEY
    assert derive(KEY, "session-id") == a
    assert derive(OTHER_KEY, "session-id") != a


def test_the_session_store_keeps_ids_at_the_maxima(tmp_path: Path) -> None:
    from mcpgateway.ops.sessionstore import SessionStore

    owner = Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, tls=True)
    sessionId = sealer(label="x" * 32, address=owner).newId(facts(credential="c" * 32))
    assert len(sessionId) == MAX_ID_LENGTH
    record: dict[str, Any] = {
        "id": sessionId,
        "server": "github",
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {},
        "logLevel": None,
        "subscriptions": [],
        "clientPid": None,
        "created": 1.0,
        "lastActivity": 1.0,
        "scope": "",
        "credential": "",
        "principal": "",
    }
    SessionStore(tmp_path / "sessions.json").save([record])
    assert [r["id"] for r in SessionStore(tmp_path / "sessions.json").load()] == [sessionId]


def test_a_key_file_of_another_user_is_refused_naming_the_owner(tmp_path: Path) -> None:
    path = writeKeys(tmp_path / "keys", newClusterKey() + "\n")
    other = os.geteuid() + 1
    with pytest.raises(ClusterKeyError) as caught:
        loadClusterKeys(path, uid=other)
    assert f"belongs to uid {os.geteuid()}" in str(caught.value)
    assert f"chown {other} {path}" in str(caught.value)
    assert len(loadClusterKeys(path, uid=os.geteuid())) == 1
