"""C{mcpgateway token list} and C{token revoke}: the entries of a tokens
file with each principal's key and never a hash; revoking cuts exactly the
chosen entries out of the file, the rest byte for byte, the file as it was
kept beside it; and C{token new} says the principal's key and the tokens
it already had, which stay valid."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.auth.tokenfile import parseTokens, tokenHash
from mcpgateway.cli import tokensedit
from mcpgateway.cli.tokensedit import removeEntries, withoutEntries
from mcpgateway.config.workspaces import loadSecret
from mcpgateway.startup.team import _principalKeys
from tests.cli.support import Cli
from tests.support.auth.tokens import addToken

A, B, C = ("a" * 64, "b" * 64, "c" * 64)

HAND_WRITTEN = f"""{{
    "version": 1,
    "tokens": [
        {{"sha256": "{A}", "principal": "alice", "created": 1798761600, "comment": "laptop"}},
        {{"sha256": "{B}", "principal": "bob", "servers": ["fs", "github"],
          "expires": 1000, "created": 1798761601}},
        {{"sha256": "{C}", "principal": "alice", "admin": true, "created": 1798848000}}
    ]
}}
"""
"""A tokens file as a person writes it: four spaces, entries on one line
(one on two), a comment, bob's token expired long ago."""


def handWritten(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(HAND_WRITTEN)
    path.chmod(0o640)
    return path


def cutOut(text: str, entry: str, before: str = ",\n        ", after: str = "") -> str:
    """C{text} with C{entry}'s line cut out, as a person deleting it would."""
    line = next(ln for ln in text.splitlines() if entry in ln)
    piece = before + line.strip().rstrip(",") + after
    assert piece in text, piece
    return text.replace(piece, "", 1)


# -- token new ---------------------------------------------------------------------------


def test_token_new_says_the_principal_key(stateDir: Path, tmp_path: Path, cli: Cli) -> None:
    gatewayKey = _principalKeys(loadSecret(stateDir))
    path = tmp_path / "tokens.json"
    code, _, err = cli("token", "new", "alice", "--file", str(path))
    assert code == 0
    assert "alice's principal key (the audit log, /sessions and the log name alice by it):" in err
    assert f": {gatewayKey('alice')}, made with the workspace key {stateDir}" in err
    assert "already had" not in err
    code, out, _ = cli("token", "new", "bob", "--file", str(path), "--json")
    document = json.loads(out)
    assert document["key"] == gatewayKey("bob") and document["otherTokens"] == 0
    assert document["keyFile"] == str(stateDir / "workspace.key")


def test_token_new_without_a_workspace_key_makes_none(
    stateDir: Path, tmp_path: Path, cli: Cli
) -> None:
    path = tmp_path / "tokens.json"
    code, out, err = cli("token", "new", "alice", "--file", str(path))
    assert code == 0 and out.startswith("mcpgw_")
    assert "alice's principal key cannot be made here:" in err
    assert "`mcpgateway audit key alice` says it then" in err
    assert not (stateDir / "workspace.key").exists()
    code, out, _ = cli("token", "new", "bob", "--file", str(path), "--json")
    assert json.loads(out)["key"] is None


def test_token_new_says_the_tokens_the_principal_already_has(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    cli("token", "new", "alice", "--file", str(path))
    cli("token", "new", "bob", "--file", str(path))
    code, _, err = cli("token", "new", "alice", "--file", str(path))
    assert code == 0
    assert f"alice already had 1 other token in {path}, made " in err
    assert ": it stays valid. To end them and keep the new one: mcpgateway token revoke" in err
    assert f"alice --keep-newest --file {path}" in err
    code, out, err = cli("token", "new", "alice", "--file", str(path), "--json")
    assert json.loads(out)["otherTokens"] == 2
    assert [e.principal for e in parseTokens(path.read_bytes(), "")].count("alice") == 3


# -- token list --------------------------------------------------------------------------


def test_token_list_shows_each_entry_with_its_key_never_its_hash(
    stateDir: Path, tmp_path: Path, cli: Cli
) -> None:
    gatewayKey = _principalKeys(loadSecret(stateDir))
    path = handWritten(tmp_path)
    code, out, err = cli("token", "list", "--file", str(path))
    assert code == 0, err
    alice, bob = gatewayKey("alice"), gatewayKey("bob")
    assert out.splitlines() == [
        "PRINCIPAL  KEY               CREATED               EXPIRES"
        "                         SERVERS    ADMIN",
        f"alice      {alice}  2027-01-01T00:00:00Z  -                               all",
        f"bob        {bob}  2027-01-01T00:00:01Z  1970-01-01T00:16:40Z (expired)  fs,github",
        f"alice      {alice}  2027-01-02T00:00:00Z  -"
        "                               all        admin",
    ]
    assert f"3 tokens in {path}; keys made with the workspace key" in err
    code, out, _ = cli("token", "list", "--file", str(path), "--json")
    document = json.loads(out)
    assert document["tokens"][1] == {
        "principal": "bob",
        "key": bob,
        "created": 1798761601,
        "expires": 1000,
        "expired": True,
        "servers": ["fs", "github"],
        "admin": False,
        "comment": None,
    }
    assert document["tokens"][0]["comment"] == "laptop"
    for digest in (A, B, C):
        assert digest not in out + err


def test_token_list_without_a_workspace_key(tmp_path: Path, cli: Cli) -> None:
    path = handWritten(tmp_path)
    code, out, err = cli("token", "list", "--file", str(path))
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["alice", "?"]
    assert "no principal keys (?):" in err and "workspace.key is not there" in err


def test_token_list_of_a_file_the_gateway_refuses(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"version": 1, "tokens": [{"principal": "x"}]}')
    code, out, err = cli("token", "list", "--file", str(path))
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: {path}: tokens[0].sha256: must be 64 lowercase hex characters\n"
    code, _, err = cli("token", "list", "--file", str(tmp_path / "none.json"))
    assert code == 1 and "none.json: no such file" in err


# -- token revoke ------------------------------------------------------------------------


def test_revoking_a_name_cuts_its_entries_and_keeps_the_rest_as_written(
    tmp_path: Path, cli: Cli
) -> None:
    path = handWritten(tmp_path)
    code, out, err = cli("token", "revoke", "alice", "--file", str(path))
    assert code == 0, err
    assert out == "revoked 2 tokens of alice (made 2027-01-01T00:00:00Z, 2027-01-02T00:00:00Z)\n"
    assert f"alice has 0 tokens left in {path}" in err and "within 2 seconds" in err
    expected = cutOut(cutOut(HAND_WRITTEN, C), A, before="", after=",\n        ")
    assert path.read_text() == expected
    (entry,) = parseTokens(path.read_bytes(), str(path))
    assert entry.principal == "bob" and entry.sha256 == B
    backup = tmp_path / "tokens.json.bak"
    assert backup.read_text() == HAND_WRITTEN
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file's own mode kept


def test_revoking_the_one_made_at_a_time(tmp_path: Path, cli: Cli) -> None:
    path = handWritten(tmp_path)
    code, out, _ = cli(
        "token", "revoke", "alice", "--created", "2027-01-02T00:00:00Z", "--file", str(path)
    )
    assert code == 0 and out == "revoked 1 token of alice (made 2027-01-02T00:00:00Z)\n"
    assert path.read_text() == cutOut(HAND_WRITTEN, C)
    code, out, _ = cli("token", "revoke", "bob", "--created", "1798761601", "--file", str(path))
    assert code == 0
    assert [e.sha256 for e in parseTokens(path.read_bytes(), "")] == [A]


def test_revoking_all_but_the_newest(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    old = addToken(path, "alice")
    addToken(path, "bob")
    new = addToken(path, "alice")  # made in the same second: --created could not tell
    code, out, err = cli("token", "revoke", "alice", "--keep-newest", "--file", str(path), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["remaining"] == 1 and len(document["revoked"]) == 1
    assert document["backup"] == str(path) + ".bak"
    hashes = [e.sha256 for e in parseTokens(path.read_bytes(), "")]
    assert tokenHash(old) not in hashes and tokenHash(new) in hashes and len(hashes) == 2
    assert old not in out and tokenHash(old) not in out
    code, _, err = cli("token", "revoke", "alice", "--keep-newest", "--file", str(path))
    assert code == 1 and "alice has only one token" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["carol"], "holds no token of 'carol': nothing was changed"),
        (
            ["alice", "--created", "2030-01-01"],
            "no token of alice in {path} was made at 2030-01-01T00:00:00Z (its tokens were"
            " made 2027-01-01T00:00:00Z, 2027-01-02T00:00:00Z): nothing was changed",
        ),
    ],
)
def test_revoking_nothing_changes_nothing(
    tmp_path: Path, cli: Cli, args: list[str], words: str
) -> None:
    path = handWritten(tmp_path)
    code, out, err = cli("token", "revoke", *args, "--file", str(path))
    assert (code, out) == (1, "")
    assert words.format(path=path) in err
    assert path.read_text() == HAND_WRITTEN
    assert not (tmp_path / "tokens.json.bak").exists()


def test_revoke_usage_errors(tmp_path: Path, cli: Cli) -> None:
    path = handWritten(tmp_path)
    code, _, err = cli("token", "revoke", "alice", "--created", "soon", "--file", str(path))
    assert code == 2 and "--created 'soon': give the time `token list` shows" in err
    code, _, err = cli(
        "token", "revoke", "alice", "--created", "1", "--keep-newest", "--file", str(path)
    )
    assert code == 2
    assert path.read_text() == HAND_WRITTEN


@pytest.mark.parametrize(
    ("text", "remove", "expected"),
    [
        ('{"version":1,"tokens":[{"x":1}]}', {0}, '{"version":1,"tokens":[]}'),
        (
            '{"version":1,"tokens":[{"x":1},{"x":2},{"x":3}]}',
            {1},
            '{"version":1,"tokens":[{"x":1},{"x":3}]}',
        ),
        ('{"version":1,"tokens":[{"x":1}, {"x":2}]}', {0}, '{"version":1,"tokens":[{"x":2}]}'),
        ('{"version":1,"tokens":[{"x":1}, {"x":2}]}', {0, 1}, '{"version":1,"tokens":[]}'),
        (
            '{"tokens": [\n  {"x": 1},\n  {"x": 2}\n], "version": 1}\n',
            {1},
            '{"tokens": [\n  {"x": 1}\n], "version": 1}\n',
        ),
    ],
)
def test_entries_are_cut_with_their_separator(text: str, remove: set[int], expected: str) -> None:
    assert withoutEntries(text, remove) == expected


def test_a_write_meanwhile_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program (a C{token new}) writes the file between the read
    and the rename: the removal is made again on what it wrote."""
    path = handWritten(tmp_path)
    calls: list[int] = []

    def choose(entries: list[dict[str, Any]]) -> set[int]:
        calls.append(len(entries))
        if len(calls) == 1:
            addToken(path, "carol")
        return {i for i, e in enumerate(entries) if e["principal"] == "bob"}

    removeEntries(path, choose)
    assert calls == [3, 4]
    assert [e.principal for e in parseTokens(path.read_bytes(), "")] == ["alice", "alice", "carol"]


def test_a_file_that_keeps_changing_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = handWritten(tmp_path)
    monkeypatch.setattr(tokensedit, "replaceIfUnchanged", lambda *a: False)
    with pytest.raises(tokensedit.TokensEditError, match="kept changing"):
        removeEntries(path, lambda entries: {0})
    assert path.read_text() == HAND_WRITTEN
