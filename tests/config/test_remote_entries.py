"""The remote entries of a client's user file: left to the client unless the
gateway adopts them (C{--remote adopt}), and then read with their headers
and OAuth client id; a project's stay with the client; the C{"remote"}
setting of C{servers.json}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.config.servers import EntryError, isRemoteEntry, parseConfig, parseEntry
from mcpgateway.config.serversfile import remoteSetting

ENVIRON = {"PATH": "/usr/bin", "TOKEN": "s3cret"}
LINEAR = {
    "type": "http",
    "url": "https://mcp.example.com/mcp",
    "headers": {"Authorization": "Bearer ${TOKEN}"},
    "oauth": {"clientId": "client-1", "callbackPort": 8123},
}


def test_a_user_scope_remote_entry_is_the_clients_by_default() -> None:
    """Without C{remotes}, a client's remote entry is refused as before."""
    with pytest.raises(EntryError, match="clients keep using it directly"):
        parseEntry("linear", LINEAR, ENVIRON, "user")


def test_an_adopted_user_scope_remote_entry_keeps_its_headers_and_client_id() -> None:
    """With C{remotes}, the entry is served: its URL, its headers expanded,
    the client id of its C{oauth}."""
    spec = parseEntry("linear", LINEAR, ENVIRON, "user", remotes=True)
    assert spec.remote is not None
    assert spec.remote.url == "https://mcp.example.com/mcp"
    assert spec.remote.transport == "http"
    assert spec.remote.headers == (("Authorization", "Bearer s3cret"),)
    assert spec.remote.oauthClientId == "client-1"
    assert spec.scope == "user" and spec.mode == "session"


@pytest.mark.parametrize(
    "entry,transport",
    [
        ({"url": "https://c.example/mcp"}, "http"),
        ({"serverUrl": "https://w.example/mcp"}, "http"),
        ({"type": "sse", "url": "https://old.example/sse"}, "sse"),
    ],
)
def test_every_remote_shape_is_adopted(entry: dict[str, str], transport: str) -> None:
    """Cursor's bare C{url}, Windsurf's C{serverUrl} and C{sse} entries too."""
    spec = parseEntry("r", entry, ENVIRON, "user", remotes=True)
    assert spec.remote is not None and spec.remote.transport == transport
    assert spec.remote.oauthClientId is None


@pytest.mark.parametrize(
    "entry,scope,why",
    [
        (LINEAR, "local", "remote server of a project"),
        (LINEAR, "project", "remote server of a project"),
        ({"type": "openapi", "spec": "https://a.example/o.json"}, "user", "gateway's own config"),
        ({**LINEAR, "headersHelper": "print-headers"}, "user", "headersHelper"),
        ({**LINEAR, "oauth": {"clientId": 7}}, "user", "oauth.clientId"),
    ],
)
def test_what_stays_with_the_client_even_when_adopting(
    entry: dict[str, object], scope: str, why: str
) -> None:
    """A project's remote entry, an OpenAPI one, one whose headers a
    command of the client's makes, a malformed C{oauth}: refused, saying why."""
    with pytest.raises(EntryError, match=why):
        parseEntry("r", entry, ENVIRON, scope, remotes=True)


def test_the_gateways_own_config_serves_remote_entries_either_way() -> None:
    spec = parseEntry("linear", LINEAR, ENVIRON, "gateway")
    assert spec.remote is not None and spec.remote.oauthClientId == "client-1"


def test_parse_config_serves_the_user_scope_and_warns_of_a_projects() -> None:
    """C{parseConfig} with C{remotes}: the user scope's remote entry is a
    server, a project's is left to its client (a note); without it, both
    are."""
    document = {
        "mcpServers": {"linear": LINEAR, "fs": {"command": "fs-server"}},
        "projects": {"/p": {"mcpServers": {"docs": {"type": "http", "url": "https://d/mcp"}}}},
    }
    adopted = parseConfig(document, "~/.claude.json", ENVIRON, "user", remotes=True)
    assert sorted(adopted.servers) == ["fs", "linear"]
    assert adopted.projects == []
    assert any("'docs'" in n and "remote server of a project" in n for n in adopted.notes)
    kept = parseConfig(document, "~/.claude.json", ENVIRON, "user")
    assert sorted(kept.servers) == ["fs"]
    assert len(kept.notes) == 2 and kept.warnings == [] and kept.invalid == []


def test_is_remote_entry() -> None:
    assert isRemoteEntry(LINEAR) and isRemoteEntry({"serverUrl": "https://x"})
    assert not isRemoteEntry({"command": "x", "url": "https://x"})
    assert not isRemoteEntry({"type": "stdio", "command": "x"}) and not isRemoteEntry("x")


def test_the_setting_in_servers_json(tmp_path: Path) -> None:
    """C{"remote"} at the top of C{servers.json}: absent (or no file) is
    C{None}; C{keep} and C{adopt} are read; anything else is refused in a
    line naming the file."""
    assert remoteSetting(tmp_path) is None
    path = tmp_path / "servers.json"
    path.write_text(json.dumps({"mcpServers": {}}))
    assert remoteSetting(tmp_path) is None
    for value in ("keep", "adopt"):
        path.write_text(json.dumps({"remote": value}))
        assert remoteSetting(tmp_path) == value
    path.write_text(json.dumps({"remote": "always"}))
    with pytest.raises(ValueError, match=r'servers.json: "remote" must be "keep" or "adopt"'):
        remoteSetting(tmp_path)
