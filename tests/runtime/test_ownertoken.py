"""The owner token: made once per state directory (mode 0600) and kept;
what is not a token is an error naming the file, never replaced (a
symlink is not followed: tests/runtime/test_secretfile.py); a command
reads it without making one; it is sent to a loopback gateway only; a
presented token is compared whole (any bytes: never an exception)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime import ownertoken
from mcpgateway.runtime.ownertoken import (
    HEADER,
    TOKEN_PATTERN,
    OwnerTokenError,
    loadOwnerToken,
    newToken,
    ownerHeaders,
    readOwnerToken,
    tokenMatches,
    tokenPath,
)
from mcpgateway.runtime.paths import OWNER_TOKEN_FILE


def test_the_token_is_made_once_private_and_kept(tmp_path: Path) -> None:
    assert readOwnerToken(tmp_path) is None  # a command never makes one
    assert not tokenPath(tmp_path).exists()
    token = loadOwnerToken(tmp_path)
    path = tmp_path / OWNER_TOKEN_FILE
    assert TOKEN_PATTERN.fullmatch(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == token + "\n"
    assert loadOwnerToken(tmp_path) == token == readOwnerToken(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [OWNER_TOKEN_FILE]


def test_tokens_are_random() -> None:
    assert len({newToken() for _ in range(32)}) == 32


def test_a_file_that_holds_no_token_is_an_error_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / OWNER_TOKEN_FILE
    for content in ("", "short\n", "$" * 43, "é" * 43, "a" * 44):
        path.write_text(content)
        with pytest.raises(OwnerTokenError) as caught:
            loadOwnerToken(tmp_path)
        assert f"the owner token file {path} does not hold a token" in str(caught.value)
        assert path.read_text() == content and readOwnerToken(tmp_path) is None


def test_what_is_no_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / OWNER_TOKEN_FILE).mkdir()
    with pytest.raises(OwnerTokenError, match=f"{OWNER_TOKEN_FILE} is not a regular file"):
        loadOwnerToken(tmp_path)
    assert readOwnerToken(tmp_path) is None


def test_a_state_dir_that_cannot_hold_it_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        loadOwnerToken(tmp_path / "missing")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9100/health",
        "https://localhost:9100/api/v1/servers",
        "http://[::1]:9100/demo/mcp",
    ],
)
def test_a_loopback_gateway_is_sent_the_token(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ownertoken, "foreignListener", lambda port, host: None)
    token = loadOwnerToken(tmp_path)
    assert ownerHeaders(tmp_path, url) == {HEADER: token}


def test_a_port_another_account_listens_on_is_never_sent_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that died left its port to whoever takes it."""
    asked: list[tuple[int, str]] = []

    def bob(port: int, host: str) -> str:
        asked.append((port, host))
        return "uid 1002, bob"

    monkeypatch.setattr(ownertoken, "foreignListener", bob)
    loadOwnerToken(tmp_path)
    assert ownerHeaders(tmp_path, "http://127.0.0.1:9100/health") == {}
    assert ownerHeaders(tmp_path, "https://localhost/api") == {}
    assert asked == [(9100, "127.0.0.1"), (443, "localhost")]


@pytest.mark.parametrize(
    "url",
    [
        "http://gateway.example:9100/health",
        "http://10.0.0.5:9100/health",
        "ftp://127.0.0.1/x",
        "http://[::1/broken",
        "not a url",
    ],
)
def test_no_other_place_is_sent_the_token(tmp_path: Path, url: str) -> None:
    loadOwnerToken(tmp_path)
    assert ownerHeaders(tmp_path, url) == {}


def test_no_token_no_header(tmp_path: Path) -> None:
    assert ownerHeaders(tmp_path, "http://127.0.0.1:9100/health") == {}


def test_a_presented_token_is_compared_whole() -> None:
    token = "A" * 43
    assert tokenMatches(token.encode(), token)
    assert tokenMatches(f" {token}\t", token)
    assert not tokenMatches(None, token)
    assert not tokenMatches(b"", token)
    assert not tokenMatches(token[:-1].encode(), token)
    assert not tokenMatches((token + "A").encode(), token)
    assert not tokenMatches(token.lower(), token)


@given(st.one_of(st.none(), st.binary(max_size=100), st.text(max_size=100)))
def test_any_presented_value_is_compared_without_an_exception(
    presented: bytes | str | None,
) -> None:
    assert tokenMatches(presented, "B" * 43) == (
        presented is not None
        and (
            presented
            if isinstance(presented, bytes)
            else presented.encode("utf-8", "surrogateescape")
        ).strip()
        == b"B" * 43
    )
