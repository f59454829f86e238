"""A gateway without authentication has a door (only its owner's account
connects), a gateway with tokens has none; C{--owner-accepts-root} lets
root's connections in, and is refused where tokens decide instead. The door
holds the state directory's owner token (made at the first start, kept
after); the adopted entries carry it only where this process cannot name a
connection's account, and never on a gateway that authenticates."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactorClock

from mcpgateway.httpbase.door import Door, KernelNamer
from mcpgateway.runtime.ownertoken import HEADER, readOwnerToken
from mcpgateway.runtime.paths import OWNER_TOKEN_FILE
from mcpgateway.startup.dooroptions import doorFor, ownerHeaders
from tests.support.startup.options import parseIn, refusal


def test_a_gateway_without_authentication_has_a_door(tmp_path: Path) -> None:
    reactor = MemoryReactorClock()
    door = doorFor(parseIn(tmp_path), reactor)  # type: ignore[arg-type]
    assert isinstance(door, Door) and isinstance(door.namer, KernelNamer)
    assert door.clock is reactor and not door.acceptsRoot
    withRoot = doorFor(parseIn(tmp_path, "--owner-accepts-root"), reactor)  # type: ignore[arg-type]
    assert withRoot is not None and withRoot.acceptsRoot


def test_a_gateway_with_tokens_has_none(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    options = parseIn(tmp_path, "--auth-tokens", str(tokens))
    assert doorFor(options, MemoryReactorClock()) is None  # type: ignore[arg-type]


def test_owner_accepts_root_is_refused_with_authentication(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    said = refusal(tmp_path, capsys, "--auth-tokens", str(tokens), "--owner-accepts-root")
    assert "--owner-accepts-root is for a gateway without authentication" in said


def test_the_door_is_given_the_state_directorys_owner_token(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    door = doorFor(parseIn(tmp_path), MemoryReactorClock(), state)  # type: ignore[arg-type]
    assert door is not None and door.token == readOwnerToken(state) is not None
    again = doorFor(parseIn(tmp_path), MemoryReactorClock(), state)  # type: ignore[arg-type]
    assert again is not None and again.token == door.token  # kept across restarts


def test_a_token_file_that_cannot_be_used_refuses_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / OWNER_TOKEN_FILE).write_text("not a token\n")
    with pytest.raises(SystemExit):
        doorFor(parseIn(tmp_path), MemoryReactorClock(), tmp_path)  # type: ignore[arg-type]
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "owner token file" in said and "Remove it" in said


def test_adopted_entries_carry_the_token_only_where_peers_cannot_be_named(
    tmp_path: Path,
) -> None:
    options = parseIn(tmp_path)
    assert ownerHeaders(options, tmp_path, lambda: True) == {}
    assert not (tmp_path / OWNER_TOKEN_FILE).exists()  # no secret made for nothing
    headers = ownerHeaders(options, tmp_path, lambda: False)
    assert headers == {HEADER: readOwnerToken(tmp_path)}
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    authenticated = parseIn(tmp_path, "--auth-tokens", str(tokens))
    assert ownerHeaders(authenticated, tmp_path, lambda: False) == {}


def test_a_token_that_cannot_be_made_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot make the owner token file"):
        ownerHeaders(parseIn(tmp_path), tmp_path / "missing", lambda: False)
