"""Adding a token's entry to a tokens file (C{mcpgateway token new}): the
file made mode 0600 when there is none; else the entry written after the
last, laid out as that one is, every other byte kept, the file as it was
kept beside it; a file the gateway would refuse is left alone."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.auth.tokenfile import TokensFileError, parseTokens, tokenEntry, tokenHash
from mcpgateway.cli.tokensedit import TokensEditError, addEntry, backupPath, withEntry

A, B = ("a" * 64, "b" * 64)


def entryOf(name: str, **more: Any) -> dict[str, Any]:
    return {"sha256": tokenEntry(name)[1]["sha256"], "principal": name, **more}


def test_a_new_file_is_made_0600_with_the_entries_added(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first, alice = tokenEntry("alice")
    second, bob = tokenEntry("bob", ["github", "github", "fs"], admin=True, expires=2e9)
    addEntry(path, alice)
    addEntry(path, bob)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = parseTokens(path.read_bytes(), str(path))
    assert [(e.sha256, e.principal, e.servers, e.admin, e.expires) for e in entries] == [
        (tokenHash(first), "alice", None, False, None),
        (tokenHash(second), "bob", frozenset({"github", "fs"}), True, 2e9),
    ]
    assert first not in path.read_text() and second not in path.read_text()


HAND_WRITTEN = f"""{{
    "version": 1,
    "tokens": [
        {{"sha256": "{A}", "principal": "alice", "comment": "laptop"}},
        {{"sha256": "{B}", "principal": "bob",
          "servers": ["fs"]}}
    ]
}}
"""


def test_an_entry_is_added_after_the_last_and_nothing_else_moves(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(HAND_WRITTEN)
    path.chmod(0o640)
    carol = entryOf("carol")
    addEntry(path, carol)
    text = path.read_text()
    cut = HAND_WRITTEN.index('"servers": ["fs"]}') + len('"servers": ["fs"]}')
    assert text.startswith(HAND_WRITTEN[:cut]) and text.endswith(HAND_WRITTEN[cut:])
    added = text[cut : len(text) - len(HAND_WRITTEN) + cut]
    assert added == ",\n        " + json.dumps(carol)  # the layout of the one before
    assert json.loads(text)["tokens"][-1] == carol
    assert backupPath(path).read_text() == HAND_WRITTEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "before",
    [
        '{"version": 1, "tokens": []}',
        '{\n  "version": 1,\n  "tokens": []\n}\n',
        '{\r\n\t"tokens": [\r\n\t\t{\r\n\t\t\t"principal": "alice",\r\n\t\t\t"sha256": "'
        + A
        + '"\r\n\t\t}\r\n\t],\r\n\t"version": 1\r\n}',
        '{"version":1,"tokens":[{"sha256":"' + A + '","principal":"alice"}]}',
    ],
    ids=["one-line-empty", "indented-empty", "crlf-tabs", "compact"],
)
def test_every_layout_keeps_its_own(tmp_path: Path, before: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(before.encode())
    carol = entryOf("carol", servers=["fs"])
    addEntry(path, carol)
    after = path.read_bytes().decode()
    assert json.loads(after)["tokens"] == [*json.loads(before)["tokens"], carol]
    assert ("\r\n" in after) == ("\r\n" in before)
    assert ("\n" in after.strip()) == ("\n" in before.strip())
    if "\t" in before:
        assert '\t\t\t"principal": "carol"' in after
    if '":"' in before:
        assert '"principal":"carol"' in after


def test_a_file_the_gateway_refuses_is_left_alone(tmp_path: Path) -> None:
    with pytest.raises(TokensFileError, match="cannot name a principal"):
        tokenEntry("a b")
    path = tmp_path / "tokens.json"
    bad = '{"version": 1, "tokens": [{"principal": "x"}]}'
    path.write_text(bad)
    with pytest.raises(TokensEditError, match=r"tokens\[0\]\.sha256"):
        addEntry(path, entryOf("alice"))
    assert path.read_text() == bad and not backupPath(path).exists()


principals = st.from_regex(r"[a-z][a-z0-9.@+-]{0,12}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(principals, max_size=4),
    indent=st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    added=principals,
)
def test_any_file_json_dumps_writes_gets_exactly_the_entry_more(
    names: list[str], indent: int | str | None, added: str
) -> None:
    document: dict[str, Any] = {"version": 1, "tokens": [entryOf(n) for n in names]}
    document["note"] = "kept"
    text = json.dumps(document, indent=indent)
    entry = entryOf(added, admin=True)
    after = json.loads(withEntry(text, entry))
    assert after == {**document, "tokens": [*document["tokens"], entry]}
