"""The JSONC part: after the user edited VS Code's
C{mcp.json} while the gateway ran, an entry still exactly as the gateway
wrote it gets its original text back (the comments inside it, its layout),
not a re-serialised copy of its value."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.clients.vscode import VSCode
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write

MCP_JSON = """{
  "servers": {
    "memory": {
      // the knowledge graph
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"],
    },
    "remote": {"type": "http", "url": "https://example.com/mcp"},
  },
}
"""


def test_an_entry_comes_back_with_its_comment_and_layout_after_a_concurrent_edit(
    tmp_path: Path,
) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".config/Code/User/mcp.json", MCP_JSON)
    gateway = engine(tmp_path, [VSCode()], host)
    gateway.adopt(urlFor)
    adopted = path.read_text()
    assert "the knowledge graph" not in adopted
    edited = adopted.replace('"servers": {', '"servers": {\n    "mine": {"url": "u"},', 1)
    path.write_text(edited)

    report = gateway.restore()

    assert not report.warnings, report.warnings
    assert path.read_text() == MCP_JSON.replace(
        '"servers": {', '"servers": {\n    "mine": {"url": "u"},', 1
    )


def test_an_entry_with_keys_added_gets_its_original_value_with_them(tmp_path: Path) -> None:
    """Not exactly what the gateway wrote (Cursor-style "disabled" added):
    the original's value comes back with the added key, as before."""
    host = makeHost(tmp_path)
    path = write(host.home / ".config/Code/User/mcp.json", MCP_JSON)
    gateway = engine(tmp_path, [VSCode()], host)
    gateway.adopt(urlFor)
    adopted = path.read_text()
    path.write_text(adopted.replace('"type": "http",', '"type": "http", "disabled": true,', 1))

    gateway.restore()

    servers = jsonc.parse(path.read_text()).value["servers"]
    assert servers["memory"] == {
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-memory"],
        "disabled": True,
    }
    assert servers["remote"] == {"type": "http", "url": "https://example.com/mcp"}


WHERE = (("servers",), None, "a")
WRITTEN = {"type": "http", "url": "http://127.0.0.1:9100/a/mcp"}
_comment = st.text(
    st.characters(codec="ascii", exclude_characters="\r\n\x7f*/", min_codepoint=32), max_size=12
)


@settings(max_examples=40, deadline=None)
@given(
    comment=_comment,
    multiLine=st.booleans(),
    crlf=st.booleans(),
    compact=st.booleans(),
    edit=st.booleans(),
)
def test_restore_entry_splices_the_original_text(
    comment: str, multiLine: bool, crlf: bool, compact: bool, edit: bool
) -> None:
    sep = ":" if compact else ": "
    if multiLine:
        entry = (
            f'{{\n      // {comment}\n      "command"{sep}"x",\n'
            f'      "args"{sep}["-y", "p"]\n    }}'
        )
    else:
        entry = f'{{/* {comment} */ "command"{sep}"x", "args"{sep}["-y","p"]}}'
    text = f'{{\n  "servers": {{\n    "a": {entry},\n    "b": {{"url"{sep}"u"}}\n  }}\n}}\n'
    if crlf:
        text = text.replace("\n", "\r\n")
    original = {"command": "x", "args": ["-y", "p"]}
    root = jsonc.parse(text)
    node = jsonc.entry(root, *WHERE)
    assert node is not None
    adopted = jsonc.splice(text, node, jsonc.render(WRITTEN, text, node))
    if edit:
        adopted = adopted.replace('"b"', '"c"')
    back = jsonc.restoreEntry(adopted, True, WHERE, WRITTEN, text, original)
    assert back == (text.replace('"b"', '"c"') if edit else text)
    # Touched by the user since: not spliced.
    touched = adopted.replace('"type"', '"type" ')
    assert jsonc.restoreEntry(touched, True, WHERE, WRITTEN, text, original) is None
    # The text before does not hold the original (a later chain): not spliced.
    other = {"command": "y", "args": ["-y", "p"]}
    assert jsonc.restoreEntry(adopted, True, WHERE, WRITTEN, text, other) is None
