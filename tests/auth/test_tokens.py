"""The static tokens file: parsing, the table, polled reloads, adding a token."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from mcpgateway.auth.tokens import (
    TOKEN_PREFIX,
    TokenEntry,
    TokensFile,
    TokensFileError,
    TokenTable,
    newToken,
    parseTokens,
    tokenHash,
)
from mcpgateway.httpbase.principal import VIA_TOKEN, Principal, Refusal
from tests.fakes import capturedGatewayLogs


def keyOf(name: str) -> str:
    return "k-" + name


def document(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"version": 1, "tokens": list(entries)}).encode()


def entry(token: str, principal: str = "alice", **more: Any) -> dict[str, Any]:
    return {"sha256": tokenHash(token), "principal": principal, **more}


def syncThread(f: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
    """runInThread, at once, in this thread."""
    try:
        return succeed(f(*args, **kwargs))
    except Exception:
        return fail()


# -- the format ------------------------------------------------------------------------


def test_a_new_token_has_the_prefix_and_256_bits() -> None:
    token = newToken()
    assert token.startswith(TOKEN_PREFIX)
    assert re.fullmatch(r"mcpgw_[A-Za-z0-9_-]{43}", token)
    assert newToken() != token


def test_parse_reads_every_field() -> None:
    a, b = newToken(), newToken()
    entries = parseTokens(
        document(
            entry(a),
            entry(b, "ci@team", servers=["github", "fs"], admin=True, expires=1798761600),
        ),
        "t.json",
    )
    assert entries == (
        TokenEntry(tokenHash(a), "alice", None, False, None),
        TokenEntry(tokenHash(b), "ci@team", frozenset({"github", "fs"}), True, 1798761600.0),
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"principal": "bob"}, "t.json: tokens[1].sha256: must be 64 lowercase hex characters"),
        ({"sha256": "ab" * 32}, "t.json: tokens[1].principal: must be"),
        ({"sha256": "AB" * 32, "principal": "bob"}, "t.json: tokens[1].sha256: must be 64"),
        ({"sha256": "ab" * 32, "principal": "-bob"}, "t.json: tokens[1].principal"),
        ({"sha256": "ab" * 32, "principal": "b o b"}, "t.json: tokens[1].principal"),
        ({"sha256": "ab" * 32, "principal": "bob", "servers": "github"}, "tokens[1].servers"),
        ({"sha256": "ab" * 32, "principal": "bob", "servers": ["a/b"]}, "tokens[1].servers"),
        ({"sha256": "ab" * 32, "principal": "bob", "admin": "yes"}, "tokens[1].admin"),
        ({"sha256": "ab" * 32, "principal": "bob", "expires": "2027"}, "tokens[1].expires"),
        ({"sha256": "ab" * 32, "principal": "bob", "expires": True}, "tokens[1].expires"),
        ({"sha256": "ab" * 32, "principal": "bob", "server": ["x"]}, "unknown field 'server'"),
        ({"sha256": "ab" * 32, "principal": "bob", "ab" * 32: 1}, "its name is not shown"),
        ({"sha256": "ab" * 32, "principal": "bob", "mcpgw_x": 1}, "its name is not shown"),
        ("nope", "t.json: tokens[1]: expected an object"),
    ],
)
def test_a_bad_entry_is_named_by_index_and_field_never_by_hash(item: Any, message: str) -> None:
    good = entry(newToken())
    with pytest.raises(TokensFileError) as raised:
        parseTokens(document(good, item), "t.json")
    text = str(raised.value)
    assert message in text
    assert good["sha256"] not in text and "ab" * 32 not in text and "AB" * 32 not in text


def test_a_token_listed_twice_is_refused_without_its_hash() -> None:
    token = newToken()
    with pytest.raises(TokensFileError) as raised:
        parseTokens(document(entry(token), entry(token, "bob")), "t.json")
    assert str(raised.value) == "t.json: tokens[1].sha256: the same token as tokens[0]"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "t.json: not valid JSON (line 1)"),
        (b"\xff", "t.json: not valid JSON"),
        (b"[]", 't.json: expected an object {"version": 1, "tokens": [...]}'),
        (b'{"version": 2, "tokens": []}', "t.json: version must be 1"),
        (b'{"version": true, "tokens": []}', "t.json: version must be 1"),
        (b'{"version": 1}', "t.json: tokens must be a list"),
        (b"[" * 100000, "t.json: not valid JSON"),
    ],
)
def test_a_bad_file_says_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(TokensFileError) as raised:
        parseTokens(data, "t.json")
    assert str(raised.value) == message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
entry_like = st.fixed_dictionaries(
    {},
    optional={
        "sha256": st.sampled_from(["ab" * 32, "cd" * 32, "x"]) | json_values,
        "principal": st.sampled_from(["alice", "", "-x"]) | json_values,
        "servers": st.lists(st.sampled_from(["a", "b", "", "c d"]), max_size=3) | json_values,
        "admin": json_values,
        "expires": json_values,
        "comment": json_values,
    },
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"version": st.just(1) | json_values, "tokens": st.lists(entry_like, max_size=4)}
        ),
    )
)
def test_any_json_gives_entries_or_a_tokens_file_error(value: Any) -> None:
    data = json.dumps(value).encode()
    try:
        entries = parseTokens(data, "t.json")
    except TokensFileError as e:
        assert str(e).startswith("t.json: ")
        assert "ab" * 32 not in str(e) and "cd" * 32 not in str(e)
    else:
        assert all(isinstance(e, TokenEntry) for e in entries)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_entries_or_a_tokens_file_error(data: bytes) -> None:
    try:
        entries = parseTokens(data, "t.json")
    except TokensFileError as e:
        assert str(e).startswith("t.json: ")
    else:
        assert isinstance(entries, tuple)


# -- the table -------------------------------------------------------------------------


def test_the_table_answers_with_the_principal_of_a_token() -> None:
    token = newToken()
    clock = Clock()
    table = TokenTable(parseTokens(document(entry(token, servers=["github"])), "t"), keyOf, clock)
    assert table.authenticate(token) == Principal(
        "alice", "k-alice", VIA_TOKEN, servers=frozenset({"github"})
    )
    assert len(table) == 1 and table.principals() == 1


@pytest.mark.parametrize("other", ["", "mcpgw_x", "Bearer", "\ud800"])
def test_the_table_refuses_an_unknown_token(other: str) -> None:
    table = TokenTable(parseTokens(document(entry(newToken())), "t"), keyOf, Clock())
    verdict = table.authenticate(other)
    assert verdict == Refusal(401, "invalid_token", "the bearer token was refused: it is not valid")


def test_an_expired_token_is_refused_as_expired() -> None:
    token, clock = newToken(), Clock()
    clock.advance(1000)
    table = TokenTable(parseTokens(document(entry(token, expires=1500)), "t"), keyOf, clock)
    assert isinstance(table.authenticate(token), Principal)
    clock.advance(500)
    verdict = table.authenticate(token)
    assert isinstance(verdict, Refusal) and verdict.description == "the bearer token has expired"


def test_the_table_says_whether_a_token_it_let_in_still_stands() -> None:
    a, b, clock = newToken(), newToken(), Clock()
    table = TokenTable(
        parseTokens(document(entry(a), entry(b, "bob", expires=100)), "t"), keyOf, clock
    )
    alice, bob = table.authenticate(a), table.authenticate(b)
    assert isinstance(alice, Principal) and isinstance(bob, Principal)
    assert (alice.credential, bob.credential) == (tokenHash(a), tokenHash(b))
    assert "credential" not in repr(alice) and tokenHash(a) not in repr(alice)
    assert (table.standing(alice), table.standing(bob)) == (None, None)
    assert (table.endsAt(alice), table.endsAt(bob)) == (None, 100)
    # Another grant for alice's token, a later expiry for bob's.
    table.replace(
        parseTokens(document(entry(a, servers=["github"]), entry(b, "bob", expires=200)), "t")
    )
    assert table.standing(alice) == "was changed in the tokens file"
    assert (table.standing(bob), table.endsAt(bob)) == (None, 200)
    clock.advance(200)
    assert table.standing(bob) == "expired"
    table.replace(())
    assert table.standing(bob) == "was removed from the tokens file"
    assert table.endsAt(bob) is None


def test_the_table_tells_its_watchers_of_every_new_table() -> None:
    table = TokenTable((), keyOf, Clock())
    told: list[int] = []
    table.watch(lambda: told.append(len(table)))
    table.replace(parseTokens(document(entry(newToken())), "t"))
    table.replace(())
    assert told == [1, 0]


# -- the file, polled ------------------------------------------------------------------


def writeTokens(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a new inode, as an atomic writer makes


@pytest.fixture
def tokensFile(tmp_path: Path) -> tuple[TokensFile, Clock, str]:
    path, token, clock = tmp_path / "tokens.json", newToken(), Clock()
    writeTokens(path, document(entry(token)))
    table = TokenTable((), keyOf, clock)
    watched = TokensFile(path, table, clock, syncThread, interval=2.0)
    watched.load()
    watched.start()
    return watched, clock, token


def test_load_raises_on_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(document({"principal": "x"}))
    watched = TokensFile(path, TokenTable((), keyOf, Clock()), Clock(), syncThread)
    with pytest.raises(TokensFileError, match=r"tokens\[0\]\.sha256"):
        watched.load()
    with pytest.raises(OSError):
        TokensFile(tmp_path / "none", TokenTable((), keyOf, Clock()), Clock(), syncThread).load()


def test_a_changed_file_is_served_within_two_seconds(
    tokensFile: tuple[TokensFile, Clock, str],
) -> None:
    watched, clock, old = tokensFile
    new = newToken()
    writeTokens(watched.path, document(entry(new, "bob")))
    assert isinstance(watched.table.authenticate(old), Principal)
    with capturedGatewayLogs() as events:
        clock.advance(2)
    assert isinstance(watched.table.authenticate(new), Principal)
    revoked = watched.table.authenticate(old)
    assert isinstance(revoked, Refusal) and revoked.status == 401
    assert watched.reloads == 1
    assert [e["log_format"] for e in events] == ["auth: {path} reloaded: {count} tokens"]


def test_a_reload_tells_the_tables_watchers(tokensFile: tuple[TokensFile, Clock, str]) -> None:
    watched, clock, _ = tokensFile
    told: list[bool] = []
    watched.table.watch(lambda: told.append(True))
    clock.advance(2)
    assert told == []  # unchanged: no new table
    writeTokens(watched.path, document(entry(newToken(), "bob")))
    clock.advance(2)
    assert told == [True]


def test_an_unchanged_file_is_not_read_again(
    tokensFile: tuple[TokensFile, Clock, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    watched, clock, _ = tokensFile
    parsed: list[str] = []
    import mcpgateway.auth.tokens as module

    real = module.parseTokens

    def spy(data: bytes, source: str) -> tuple[TokenEntry, ...]:
        parsed.append(source)
        return real(data, source)

    monkeypatch.setattr(module, "parseTokens", spy)
    clock.advance(2)
    clock.advance(2)
    assert parsed == [] and watched.reloads == 0


def test_an_invalid_reload_keeps_the_old_table_and_says_so_once(
    tokensFile: tuple[TokensFile, Clock, str],
) -> None:
    watched, clock, token = tokensFile
    secret = newToken()
    writeTokens(watched.path, document(entry(secret), {"sha256": tokenHash(secret)}))
    with capturedGatewayLogs() as events:
        for _ in range(5):
            clock.advance(2)
    assert isinstance(watched.table.authenticate(token), Principal)
    assert isinstance(watched.table.authenticate(secret), Refusal)
    errors = [e for e in events if e["log_level"].name == "error"]
    assert len(errors) == 1
    assert "tokens[1].principal" in errors[0]["why"]
    assert watched.lastError is not None
    text = repr(events)
    assert secret not in text and tokenHash(secret) not in text and token not in text
    # fixed: served, and the error is forgotten
    writeTokens(watched.path, document(entry(secret)))
    clock.advance(2)
    assert isinstance(watched.table.authenticate(secret), Principal)
    assert watched.lastError is None


def test_a_removed_file_keeps_the_table_with_one_error(
    tokensFile: tuple[TokensFile, Clock, str],
) -> None:
    watched, clock, token = tokensFile
    watched.path.unlink()
    with capturedGatewayLogs() as events:
        for _ in range(4):
            clock.advance(2)
    assert isinstance(watched.table.authenticate(token), Principal)
    assert len([e for e in events if e["log_level"].name == "error"]) == 1


def test_one_look_at_a_time_and_stop_ends_the_polling(tmp_path: Path) -> None:
    path, clock = tmp_path / "t.json", Clock()
    writeTokens(path, document())
    pending: list[Deferred[Any]] = []

    def slowThread(f: Any, *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        pending.append(d)
        return d

    watched = TokensFile(path, TokenTable((), keyOf, clock), clock, slowThread)
    watched.start()
    clock.advance(2)
    clock.advance(2)
    assert len(pending) == 1
    watched.stop()
    assert clock.getDelayedCalls() == []
