"""The document layers (JSON/JSONC splicing, TOML, YAML) and the
read-modify-write of a client file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.documents import UnparsableError, parseDocument, updateFile
from mcpgateway.clientconfigs.jsonfile import ConcurrentWriteError
from mcpgateway.clientconfigs.location import Location
from tests.support.jsonvalues import jsonValues

SERVERS = Location(("mcpServers",))

JSONC_TEXT = """{
  // comment
  "a": 1, /* block */
  "mcpServers": {
    "fs": {"command": "npx"},
    "x": {
      "command": "y",
    },
  },
}
"""


def test_jsoncValueAndSpans() -> None:
    root = jsonc.parse(JSONC_TEXT)
    assert root.value == {"a": 1, "mcpServers": {"fs": {"command": "npx"}, "x": {"command": "y"}}}
    node = jsonc.lookup(root, ("mcpServers", "fs"))
    assert node is not None and JSONC_TEXT[node.start : node.end] == '{"command": "npx"}'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1,}', "trailing comma at line 1 column 8"),
        ('{"a": 1} // c', "line 1 column 10"),
        ("[1,]", "trailing comma"),
        ('{"a": NaN}', "expected a value"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": 0' + "1" * 10, "expected ','"),
        ("[" * 300 + "]" * 300, "nested deeper"),
        ('{"a" 1}', "expected ':'"),
    ],
)
def test_strictJsonRejects(text: str, where: str) -> None:
    with pytest.raises(jsonc.JsonSyntaxError, match=where):
        jsonc.parse(text, jsonc=False)


def test_jsoncAcceptsCommentsAndTrailingCommasOnly() -> None:
    assert jsonc.parse('{"a": [1, 2,], /* x */ "b": 2,} // end').value == {"a": [1, 2], "b": 2}
    with pytest.raises(jsonc.JsonSyntaxError):
        jsonc.parse("{a: 1}")
    with pytest.raises(jsonc.JsonSyntaxError, match="unterminated comment"):
        jsonc.parse('{"a": 1} /* open')
    with pytest.raises(jsonc.JsonSyntaxError):
        jsonc.parse("{'a': 1}")


_json = jsonValues(text=6, keys=4, items=3, leaves=12, infinity=False)


@settings(max_examples=60, deadline=None)
@given(value=_json, indent=st.sampled_from([None, 2, "\t"]))
def test_parsesWhatJsonWrites(value: Any, indent: Any) -> None:
    text = json.dumps(value, indent=indent)
    assert jsonc.parse(text, jsonc=False).value == json.loads(text)


@settings(max_examples=40, deadline=None)
@given(
    entries=st.dictionaries(st.text(min_size=1, max_size=5), _json, min_size=1, max_size=4),
    new=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
    indent=st.sampled_from([None, 2, 4]),
)
def test_replaceEntryChangesOnlyThatEntry(
    entries: dict[str, Any], new: dict[str, Any], indent: Any
) -> None:
    text = json.dumps({"keep": [1, "two"], "mcpServers": entries}, indent=indent)
    doc = parseDocument(Path("f.json"), "json", text.encode())
    name = next(iter(entries))
    doc.replaceEntry(SERVERS, name, new)
    after = json.loads(doc.text())
    assert after == {"keep": [1, "two"], "mcpServers": {**entries, name: new}}
    doc.replaceEntry(SERVERS, name, entries[name] if isinstance(entries[name], dict) else {})
    if isinstance(entries[name], dict):
        assert json.loads(doc.text()) == json.loads(text)


def test_jsoncReplaceKeepsCommentsAndIndents() -> None:
    doc = parseDocument(Path("s.json"), "jsonc", JSONC_TEXT.encode())
    doc.replaceEntry(SERVERS, "x", {"url": "u"})
    doc.replaceEntry(SERVERS, "fs", {"url": "v"})
    assert doc.text() == JSONC_TEXT.replace(
        '"fs": {"command": "npx"}', '"fs": {"url": "v"}'
    ).replace('{\n      "command": "y",\n    }', '{\n      "url": "u"\n    }')


def test_compactOneLineDocumentStaysCompact() -> None:
    doc = parseDocument(Path("s.json"), "json", b'{"mcpServers":{"a":{"command":"x"}}}')
    doc.replaceEntry(SERVERS, "a", {"url": "u"})
    assert doc.text() == '{"mcpServers":{"a":{"url":"u"}}}'


def test_crlfIsKept() -> None:
    text = '{\r\n  "mcpServers": {\r\n    "a": {\r\n      "command": "x"\r\n    }\r\n  }\r\n}\r\n'
    doc = parseDocument(Path("s.json"), "json", text.encode())
    doc.replaceEntry(SERVERS, "a", {"url": "u"})
    assert doc.text() == text.replace('"command": "x"', '"url": "u"')


def test_listLocation() -> None:
    loc = Location(("mcpServers",), listKey="name")
    text = '{"mcpServers": [{"name": "a", "command": "x"}, {"name": "b"}, 3]}'
    doc = parseDocument(Path("c.json"), "json", text.encode())
    assert doc.entries(loc) == [("a", {"name": "a", "command": "x"}), ("b", {"name": "b"})]
    doc.replaceEntry(loc, "a", {"name": "a", "url": "u"})
    assert json.loads(doc.text())["mcpServers"][0] == {"name": "a", "url": "u"}
    with pytest.raises(KeyError):
        doc.replaceEntry(loc, "zz", {})


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("json", b'{"a": 1,}'),
        ("jsonc", b'{"a": }'),
        ("json", b"\xff\xfe"),
        ("toml", b"[mcp_servers\ncommand = 1"),
        ("yaml", b"a: [1, 2\nb: {"),
    ],
)
def test_unparsableNamesTheFile(fmt: str, raw: bytes) -> None:
    with pytest.raises(UnparsableError, match=r"/x/config"):
        parseDocument(Path("/x/config"), fmt, raw)


def test_tomlEntriesAndMissingContainer() -> None:
    doc = parseDocument(Path("c.toml"), "toml", b'model = "o3"\n')
    assert doc.entries(Location(("mcp_servers",))) is None
    doc = parseDocument(Path("c.toml"), "toml", b'[mcp_servers.a]\ncommand = "x"\n')
    assert doc.entries(Location(("mcp_servers",))) == [("a", {"command": "x"})]
    with pytest.raises(KeyError):
        doc.replaceEntry(Location(("mcp_servers",)), "b", {})


def test_yamlKeepsTheDocumentsIndentation() -> None:
    text = "mcpServers:\n    -   name: a\n        command: x\nother: 1  # note\n"
    doc = parseDocument(Path("c.yaml"), "yaml", text.encode())
    assert doc.text() == text
    doc.replaceEntry(Location(("mcpServers",), "name"), "a", {"name": "a", "url": "u"})
    assert doc.text() == "mcpServers:\n    -   name: a\n        url: u\nother: 1  # note\n"


# -- the read-modify-write ---------------------------------------------------------


def test_updateFileKeepsModeAndWritesAtomically(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"old")
    path.chmod(0o640)
    assert updateFile(path, lambda raw: raw + b"!")
    assert path.read_bytes() == b"old!"
    assert path.stat().st_mode & 0o777 == 0o640
    assert not updateFile(path, lambda raw: None)
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_updateFileStartsOverOnAnotherWritersContent(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"a")
    seen = []

    def change(raw: bytes) -> bytes:
        seen.append(raw)
        if len(seen) == 1:
            path.write_bytes(b"b-by-client")
        return raw + b"+gw"

    assert updateFile(path, change)
    assert seen == [b"a", b"b-by-client"]
    assert path.read_bytes() == b"b-by-client+gw"


def test_updateFileGivesUpOnAWriterThatNeverStops(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"0")
    count = [0]

    def change(raw: bytes) -> bytes:
        count[0] += 1
        path.write_bytes(str(count[0]).encode())
        return b"gateway"

    with pytest.raises(ConcurrentWriteError):
        updateFile(path, change, retries=2)
    assert path.read_bytes() == b"3"
    assert sorted(os.listdir(tmp_path)) == ["f.json"]
