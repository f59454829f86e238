"""The YAML part: the comment lines that ruamel keeps
with an adopted entry (before the next list item or key, at the end of the
file) stay in their place when the entry is rewritten, and when it is given
back after the user edited the file while the gateway ran; an entry still
exactly as the gateway wrote it comes back as it was written (flow lists,
quoting, the comments inside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.clients.yamlclients import Continue, Goose
from mcpgateway.clientconfigs.location import Location
from mcpgateway.clientconfigs.yamldoc import YamlDocument
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write

CONTINUE = """name: my-assistant
version: 0.0.1
schema: v1
mcpServers:
  - name: shout
    command: /opt/venv/bin/python
    args:
      - -u
      - /opt/bin/pyshout.py
  # the remote one, keep this comment
  - name: remote
    type: streamable-http
    url: https://mcp.example.com/mcp
# trailing note
"""
SERVERS = Location(("mcpServers",), "name")
EXTENSIONS = Location(("extensions",))


def test_continue_comment_before_the_next_item_survives_adoption_and_a_concurrent_edit(
    tmp_path: Path,
) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".continue" / "config.yaml", CONTINUE)
    gateway = engine(tmp_path, [Continue()], host)
    gateway.adopt(urlFor)
    adopted = path.read_text()
    assert "pyshout" not in adopted
    assert (
        "    url: http://127.0.0.1:9100/shout/mcp\n"
        "  # the remote one, keep this comment\n"
        "  - name: remote\n"
    ) in adopted

    # The user edits the file while the gateway runs: no exact undo any more.
    path.write_text(adopted + "# user edit\n")
    report = gateway.restore()
    assert not report.warnings, report.warnings
    assert path.read_text() == CONTINUE + "# user edit\n"


def test_an_entry_comes_back_in_its_own_style_after_a_concurrent_edit(tmp_path: Path) -> None:
    """Flow lists, quotes and a comment inside the entry: the entry's node
    from the text before adoption is put back, not its value."""
    text = (
        "mcpServers:\n"
        "  # knowledge graph\n"
        "  - name: memory\n"
        "    type: stdio\n"
        "    command: npx  # from npm\n"
        "    args: [\"-y\", '@modelcontextprotocol/server-memory']\n"
        "  - name: remote\n"
        "    url: https://mcp.example.com/mcp\n"
    )
    host = makeHost(tmp_path)
    path = write(host.home / ".continue" / "config.yaml", text)
    gateway = engine(tmp_path, [Continue()], host)
    gateway.adopt(urlFor)
    path.write_text("name: mine\n" + path.read_text())
    report = gateway.restore()
    assert not report.warnings, report.warnings
    assert path.read_text() == "name: mine\n" + text


def test_goose_comment_before_the_next_extension_stays(tmp_path: Path) -> None:
    text = (
        "extensions:\n"
        "  memory:\n"
        "    type: stdio\n"
        "    name: memory\n"
        "    cmd: npx\n"
        "    enabled: true\n"
        "    envs: {}\n"
        "    args:\n"
        "    - -y\n"
        "    - '@modelcontextprotocol/server-memory'\n"
        "  # the developer one\n"
        "  developer:\n"
        "    type: builtin\n"
        "    name: developer\n"
    )
    host = makeHost(tmp_path)
    path = write(host.home / ".config" / "goose" / "config.yaml", text)
    gateway = engine(tmp_path, [Goose()], host)
    gateway.adopt(urlFor)
    adopted = path.read_text()
    assert "  # the developer one\n  developer:\n" in adopted
    path.write_text(adopted + "GOOSE_MODEL: x\n")
    report = gateway.restore()
    assert not report.warnings, report.warnings
    assert path.read_text() == text + "GOOSE_MODEL: x\n"


WRITTEN = {"name": "a", "type": "streamable-http", "url": "http://127.0.0.1:9100/a/mcp"}
_comment = st.text(
    st.characters(codec="ascii", exclude_characters="\r\n\x7f", min_codepoint=32), max_size=20
)
_LAST_VALUES = st.sampled_from(
    [
        "    command: x\n",
        "    args: [x, 'y']\n",
        "    args:\n      - -u\n      - x\n",
        "    env:\n      K: v\n",
        "    env:\n      K:\n        - v\n",
    ]
)


def _entries(text: str, location: Location) -> dict[str, Any]:
    entries = YamlDocument(text).entries(location)
    assert entries is not None
    return dict(entries)


@settings(max_examples=40, deadline=None)
@given(
    comments=st.lists(_comment, max_size=3),
    blank=st.booleans(),
    last=_LAST_VALUES,
    eol=st.one_of(st.none(), _comment),
    atEnd=st.booleans(),
)
def test_replace_and_put_back_round_trips(
    comments: list[str], blank: bool, last: str, eol: str | None, atEnd: bool
) -> None:
    """Replacing a list entry, then putting it back (its value, or its node
    from the text before), gives the text back exactly, wherever comments
    were after it."""
    if eol is not None:
        last = last[:-1] + f"  #{eol}\n"
    entry = "  - name: a\n" + last
    trailer = ("\n" if blank else "") + "".join(f"  #{c}\n" for c in comments)
    after = "" if atEnd else "  - name: b\n    url: u\n"
    text = "mcpServers:\n" + entry + trailer + after
    original = _entries(text, SERVERS)["a"]
    doc = YamlDocument(text)
    doc.replaceEntry(SERVERS, "a", WRITTEN)
    adopted = doc.text()
    assert _entries(adopted, SERVERS)["a"] == WRITTEN
    if comments:
        assert "".join(f"  #{c}\n" for c in comments) + after in adopted

    # Put back from the text before adoption: byte for byte.
    back = YamlDocument(adopted)
    assert back.restoreEntry(SERVERS, "a", WRITTEN, YamlDocument(text))
    assert back.text() == text

    # Put back as a value (the entry had keys added, say): the comments after
    # it are where they were.
    value = YamlDocument(adopted)
    value.replaceEntry(SERVERS, "a", original)
    assert _entries(value.text(), SERVERS)["a"] == original
    assert value.text().endswith(trailer + after)


@settings(max_examples=25, deadline=None)
@given(comments=st.lists(_comment, min_size=1, max_size=3), last=_LAST_VALUES)
def test_mapping_entries_round_trip(comments: list[str], last: str) -> None:
    """The same for entries keyed by name (Goose's extensions)."""
    trailer = "".join(f"  #{c}\n" for c in comments)
    text = "extensions:\n  a:\n" + last + trailer + "  b:\n    uri: u\n"
    doc = YamlDocument(text)
    doc.replaceEntry(EXTENSIONS, "a", {"uri": "http://127.0.0.1:9100/a/mcp"})
    adopted = doc.text()
    assert trailer + "  b:\n" in adopted
    back = YamlDocument(adopted)
    assert back.restoreEntry(
        EXTENSIONS, "a", {"uri": "http://127.0.0.1:9100/a/mcp"}, YamlDocument(text)
    )
    assert back.text() == text


def test_restore_entry_refuses_an_entry_the_user_changed() -> None:
    text = "mcpServers:\n  - name: a\n    command: x\n  # c\n  - name: b\n"
    doc = YamlDocument(text)
    doc.replaceEntry(SERVERS, "a", WRITTEN)
    changed = YamlDocument(doc.text().replace("/a/mcp", "/other/mcp"))
    before = changed.text()
    assert not changed.restoreEntry(SERVERS, "a", WRITTEN, YamlDocument(text))
    assert changed.text() == before
