"""C{mcpgateway audit verify}: exit 0 on an intact trail, 1 naming the
first bad record, rotated files put oldest first, C{--json}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.cli.audit import trailOrder
from mcpgateway.cli.main import main
from tests.ops.test_auditverify import write


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
