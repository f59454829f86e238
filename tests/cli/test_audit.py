"""C{mcpgateway audit verify}: exit 0 on an intact trail, 1 naming the
first bad record (a head cut off among them), 3 for a trail whose head is
not proven, rotated files put oldest first, C{--json}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.cli.audit import trailOrder
from mcpgateway.cli.main import main
from mcpgateway.ops.auditkey import loadOrCreateKey
from tests.support.ops.auditverify import rotatedTrail, rows, write


def test_rotated_files_are_put_oldest_first() -> None:
    assert trailOrder(["a.jsonl", "a.jsonl.1", "a.jsonl.2"]) == [
        "a.jsonl.2",
        "a.jsonl.1",
        "a.jsonl",
    ]
    assert trailOrder(["x", "y"]) == ["x", "y"]


def test_verify_says_intact_or_names_the_bad_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    assert main(["audit", "verify", str(path)]) == 0
    assert "intact: 5 record(s)" in capsys.readouterr().out
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"alice", b"alicf")
    path.write_bytes(b"".join(lines))
    assert main(["audit", "verify", str(path)]) == 1
    assert f"NOT INTACT: {path}:3: edited" in capsys.readouterr().out
    assert main(["audit", "verify", "--json", str(path)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["problem"]["line"] == 3


def keyedTrail(tmp_path: Path) -> tuple[Path, Path]:
    """A state directory holding an audit key, and a trail of three records
    written with it."""
    state = tmp_path / "state"
    state.mkdir()
    key = loadOrCreateKey(state / "audit.key")
    path = tmp_path / "audit.jsonl"
    write(path, 3, key=key)
    return state, path


def test_verify_checks_a_keyed_trail_with_the_state_directorys_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, path = keyedTrail(tmp_path)
    assert main(["audit", "verify", "--state-dir", str(state), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("intact: 5 record(s)") and "1 keyed (MACs checked" in out
    # someone without the key edits a record and seals it (and the chain) again
    lines = path.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry.pop("hash")
    entry["principal"] = "mallory"
    from mcpgateway.ops.auditchain import seal

    lines[2] = seal(entry)[0] + b"\n"
    path.write_bytes(b"".join(lines))
    assert main(["audit", "verify", "--key-file", str(state / "audit.key"), str(path)]) == 1
    assert f"NOT INTACT: {path}:3: edited: its MAC does not match" in capsys.readouterr().out


def test_verify_without_the_key_checks_the_structure_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 2, key=b"k" * 32)
    state = str(tmp_path / "nowhere")
    assert main(["audit", "verify", "--state-dir", state, str(path)]) == 3
    assert capsys.readouterr().out.startswith("structure intact, integrity NOT checked")
    assert main(["audit", "verify", "--json", "--state-dir", state, str(path)]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["integrity"] == "structure"
    missing = tmp_path / "missing.key"
    assert main(["audit", "verify", "--key-file", str(missing), str(path)]) == 1
    assert f"--key-file {missing}: no such file" in capsys.readouterr().err


def test_an_unkeyed_trail_is_said_to_be_unkeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 1)
    state = str(tmp_path / "nowhere")
    assert main(["audit", "verify", "--state-dir", state, str(path)]) == 0
    captured = capsys.readouterr()
    assert "1 unkeyed" in captured.out and "unkeyed segment(s)" in captured.out + captured.err
    assert main(["audit", "verify", "--require-keyed", "--state-dir", state, str(path)]) == 3


def resealedUnkeyed(path: Path) -> None:
    """Seal every record of the trail at C{path} again without a key (what
    someone who can write the log but cannot read the key can do): each
    record's C{mac} dropped, its hash and the chain's made anew."""
    from mcpgateway.ops.auditchain import seal

    previous = None
    out = []
    for line in path.read_bytes().splitlines():
        entry = json.loads(line)
        for member in ("hash", "mac", "prev"):
            entry.pop(member, None)
        if previous is not None:
            entry["prev"] = previous
        sealed, previous = seal(entry)
        out.append(sealed + b"\n")
    path.write_bytes(b"".join(out))


def test_with_an_audit_key_a_trail_sealed_again_unkeyed_is_not_proven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, path = keyedTrail(tmp_path)
    resealedUnkeyed(path)
    assert main(["audit", "verify", "--state-dir", str(state), str(path)]) == 3
    captured = capsys.readouterr()
    assert captured.out.startswith("unkeyed, integrity NOT proven: 1 of 1 segment(s)")
    assert f"an audit key is there ({state / 'audit.key'})" in captured.out
    assert "--allow-unkeyed" in captured.out + captured.err
    keyFile = str(state / "audit.key")
    for option in ("--key-file", "--audit-key-file"):
        assert main(["audit", "verify", option, keyFile, str(path)]) == 3
    capsys.readouterr()
    assert main(["audit", "verify", "--json", "--state-dir", str(state), str(path)]) == 3
    document = json.loads(capsys.readouterr().out)
    assert (document["ok"], document["requireKeyed"], document["unkeyed"]) == (False, True, 1)


def test_allow_unkeyed_accepts_a_trail_written_before_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = tmp_path / "audit.jsonl"
    write(path, 2)  # before the gateway had a key
    loadOrCreateKey(state / "audit.key")
    verify = ["audit", "verify", "--state-dir", str(state)]
    assert main([*verify, str(path)]) == 3
    capsys.readouterr()
    assert main([*verify, "--allow-unkeyed", str(path)]) == 0
    assert capsys.readouterr().out.startswith("intact: 4 record(s) in 1 file(s), 1 segment(s)")
    # an edited record still fails, allowed unkeyed or not
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"alice", b"alicf")
    path.write_bytes(b"".join(lines))
    assert main([*verify, "--allow-unkeyed", str(path)]) == 1


def test_require_keyed_and_allow_unkeyed_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 1)
    assert main(["audit", "verify", "--require-keyed", "--allow-unkeyed", str(path)]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_verify_names_a_lone_trail_cut_at_its_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    path.write_bytes(b"".join(rows(path)[2:]))
    assert main(["audit", "verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"NOT INTACT: {path}:1: removed: the trail begins with record 2 of")
    assert main(["audit", "verify", "--allow-rotated-away", str(path)]) == 1


def test_verify_says_a_file_given_without_the_ones_before_it_is_not_proven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = rotatedTrail(tmp_path)
    lone = files[-1]
    assert main(["audit", "verify", lone]) == 3
    out = capsys.readouterr().out
    assert (
        out.startswith("head NOT proven: ")
        and f"but it begins in {lone}, rotated after 'audit.jsonl.1'" in out
    ), out
    assert f"file {len(files) - 1} of the trail" in out
    assert main(["audit", "verify", "--json", lone]) == 3
    document = json.loads(capsys.readouterr().out)
    assert (document["ok"], document["intact"], document["headProven"]) == (False, True, False)
    assert document["after"]["file"] == "audit.jsonl.1"
    assert main(["audit", "verify", "--allow-rotated-away", lone]) == 0
    said = capsys.readouterr()
    assert said.out.startswith("intact: ") and "head NOT proven: it begins in" in said.err
    assert main(["audit", "verify", *files]) == 0
    assert "head NOT proven" not in capsys.readouterr().out
