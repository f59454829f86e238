"""The TOML part: the comments before the next table
that tomlkit attaches to the end of an adopted entry's last (sub-)table
stay in place when the entry is rewritten, and when it is given back after
the user edited the file while the gateway ran."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.location import Location
from mcpgateway.clientconfigs.tomldoc import TomlDocument
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write

CONFIG = """model = "o4-mini"

[mcp_servers.memory]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-memory"]

[mcp_servers.memory.env]
MEMORY_FILE_PATH = "/home/me/memory.json"

# a remote one
[mcp_servers.search]
url = "https://example.com/mcp"

[mcp_servers.fs]
command = "fs-server"
# the last server, keep this
"""
SERVERS = Location(("mcp_servers",))


def test_comments_after_an_adopted_table_survive_adoption_and_a_concurrent_edit(
    tmp_path: Path,
) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", CONFIG, 0o600)
    gateway = engine(tmp_path, [Codex()], host)
    gateway.adopt(urlFor)
    adopted = path.read_text()
    assert "MEMORY_FILE_PATH" not in adopted
    assert "# a remote one\n[mcp_servers.search]" in adopted
    assert adopted.endswith('url = "http://127.0.0.1:9100/fs/mcp"\n# the last server, keep this\n')

    # The user edits the file while the gateway runs: no exact undo any more.
    path.write_text(adopted.replace('model = "o4-mini"', 'model = "o3"'))
    report = gateway.restore()
    assert not report.warnings, report.warnings
    assert path.read_text() == CONFIG.replace('model = "o4-mini"', 'model = "o3"')


def test_a_table_without_comments_after_it_is_replaced_as_before() -> None:
    text = '[mcp_servers.a]\ncommand = "x"\n\n[mcp_servers.b]\nurl = "u"\n'
    doc = TomlDocument(text)
    doc.replaceEntry(SERVERS, "a", {"url": "http://127.0.0.1:9100/a/mcp"})
    assert (
        doc.text()
        == '[mcp_servers.a]\nurl = "http://127.0.0.1:9100/a/mcp"\n\n[mcp_servers.b]\nurl = "u"\n'
    )


_comment = st.text(
    st.characters(codec="ascii", exclude_characters="\r\n\x7f", min_codepoint=32), max_size=20
)


@settings(max_examples=40, deadline=None)
@given(
    comments=st.lists(_comment, min_size=1, max_size=3),
    blank=st.booleans(),
    subTable=st.booleans(),
)
def test_replace_and_put_back_round_trips(comments: list[str], blank: bool, subTable: bool) -> None:
    """Replacing an entry, then replacing it with its original again, gives
    the text back exactly, wherever comments were after it."""
    entry = '[mcp_servers.a]\ncommand = "x"\n'
    if subTable:
        entry += '\n[mcp_servers.a.env]\nK = "v"\n'
    trailer = ("\n" if blank else "") + "".join(f"#{c}\n" for c in comments)
    text = entry + trailer + '[mcp_servers.b]\nurl = "u"\n'
    original = TomlDocument(text).entries(SERVERS)
    assert original is not None
    doc = TomlDocument(text)
    doc.replaceEntry(SERVERS, "a", {"url": "http://127.0.0.1:9100/a/mcp"})
    adopted = doc.text()
    assert trailer + "[mcp_servers.b]" in adopted
    back = TomlDocument(adopted)
    back.replaceEntry(SERVERS, "a", dict(original)["a"])
    assert back.text() == text
