"""While the gateway runs, an entry of a hand-edited
C{~/.claude.json} that it does not own keeps its own text (a one-line
C{"remote"} stays on one line); only the adopted entries and the stamp key
change. The text of any other layout (machine-written) is unchanged by
this: see L{mcpgateway.clientconfigs.jsonfile.JsonFormat}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.claude import ClaudeConfig
from tests.clientconfigs.adoptkit import urlFor

CLAUDE = """{
  "numStartups": 3,
  "mcpServers": {
    "memory": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"]
    },
    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"}
  }
}
"""


def test_an_entry_the_gateway_does_not_own_keeps_its_layout(home: Path, tmp_path: Path) -> None:
    path = home / ".claude.json"
    path.write_text(CLAUDE)
    config = ClaudeConfig(path, tmp_path / "state", home=home, environ={})

    report = config.adopt(urlFor)

    assert report.adopted
    text = path.read_text()
    stamp = json.loads(text)["_mcp_gateway_ts"]
    assert text == (
        '{\n  "numStartups": 3,\n  "mcpServers": {\n    "memory": {\n'
        '      "type": "http",\n      "url": "http://127.0.0.1:9100/memory/mcp"\n    },\n'
        '    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"}\n  },\n'
        f'  "_mcp_gateway_ts": {stamp}\n}}\n'
    )
    config.restore()
    assert path.read_text() == CLAUDE


def test_update_removes_and_adds_members_in_place() -> None:
    text = '{"a": 1,\n "b": {"x": [1, 2]},\n "c": 3}'
    assert jsonc.update(text, {"b": {"x": [1, 2]}, "c": 3}) == '{"b": {"x": [1, 2]},\n "c": 3}'
    assert jsonc.update(text, {"a": 1, "b": {"x": [1, 2]}}) == '{"a": 1,\n "b": {"x": [1, 2]}}'
    assert jsonc.update(text, {"a": 1, "b": {"x": [1, 2]}, "c": 3, "d": True}) == (
        '{"a": 1,\n "b": {"x": [1, 2]},\n "c": 3,\n "d": true}'
    )
    assert jsonc.update('{"a": 1, "a": 2, "b": 0}', {"a": 3, "b": 0}) is None


SHARED_LINE = """{
  "numStartups": 3, "mcpServers": {
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
  }
}
"""


def test_the_stamp_after_a_last_member_that_shares_its_line(home: Path, tmp_path: Path) -> None:
    """The top-level C{"mcpServers"} shares its line
    with C{"numStartups"}; the stamp key added after it goes on a line of its
    own, and the file stays JSON that Claude Code can read, with no key twice."""
    path = home / ".claude.json"
    path.write_text(SHARED_LINE)
    config = ClaudeConfig(path, tmp_path / "state", home=home, environ={})

    assert config.adopt(urlFor).adopted

    text = path.read_text()
    data = json.loads(text, object_pairs_hook=_noDuplicates)
    assert text == (
        '{\n  "numStartups": 3, "mcpServers": {\n    "memory": {\n      "type": "http",\n'
        '      "url": "http://127.0.0.1:9100/memory/mcp"\n    }\n  },\n'
        f'  "_mcp_gateway_ts": {data["_mcp_gateway_ts"]}\n}}\n'
    )
    config.restore()
    assert path.read_text() == SHARED_LINE


def _noDuplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    assert len({key for key, _ in pairs}) == len(pairs), pairs
    return dict(pairs)
