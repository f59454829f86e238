"""Adoption: every servable stdio entry of every scope of a
C{~/.claude.json} is adopted at its route (C{/<name>/mcp}, or the workspace
route C{/<name>~<key>/mcp} of a project whose entry differs from the user
scope's), the keys are the state directory's workspace keys, and restore
gives the file back byte for byte.

Every file lives under C{tmp_path} (the fake home, also C{$HOME})."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.claude import GATEWAY_TS_KEY, ClaudeConfig
from mcpgateway.clientconfigs.clients.claudecode import looksLikeGatewayEntry
from mcpgateway.config.servers import ConfigError, parseConfig
from mcpgateway.config.workspaces import KEY_FILE, KEY_PATTERN, WorkspaceKeys, workspaceKey
from mcpgateway.core.spec import ServerSpec
from tests.clientconfigs.adoptkit import load

ENV: dict[str, str] = {"PATH": ""}
SECRET = bytes(range(32))


def stringify(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def filesystem(root: str) -> dict[str, Any]:
    return {
        "type": "stdio",
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-filesystem", root],
        "env": {},
    }


def issueConfig(home: Path) -> tuple[Path, str, str]:
    """The issue's config: two projects that each define 'filesystem' with
    their own root, and a user-scope 'filesystem'."""
    one, two = home / "work" / "one", home / "work" / "two"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    doc = {
        "numStartups": 12,
        "mcpServers": {"filesystem": filesystem(str(home))},
        "projects": {
            str(one): {"allowedTools": [], "mcpServers": {"filesystem": filesystem(str(one))}},
            str(two): {"allowedTools": [], "mcpServers": {"filesystem": filesystem(str(two))}},
        },
        "tipsHistory": {},
    }
    path = home / ".claude.json"
    path.write_text(stringify(doc), encoding="utf-8")
    return path, str(one), str(two)


def adopted(path: Path, stateDir: Path, **kw: Any) -> AdoptedClaudeConfig:
    kw.setdefault("environ", ENV)
    return AdoptedClaudeConfig(path, stateDir, "127.0.0.1", **kw)


def http(url: str) -> dict[str, str]:
    return {"type": "http", "url": url}


# -- the issue's config -------------------------------------------------------------------


def test_two_projects_and_the_user_scope_get_three_routes(home: Path, stateDir: Path) -> None:
    path, one, two = issueConfig(home)
    before = path.read_bytes()
    source = adopted(path, stateDir)
    source.load()
    notes = source.listening(9100)
    assert notes == [
        "adopted 3 entries: filesystem (user scope),"
        f" filesystem (local scope of project {one}),"
        f" filesystem (local scope of project {two})"
    ]

    keys = WorkspaceKeys.forStateDir(stateDir)  # the state directory's secret, made on use
    keyOne, keyTwo = keys.key(one), keys.key(two)
    assert keyOne != keyTwo
    assert KEY_PATTERN.fullmatch(keyOne) and KEY_PATTERN.fullmatch(keyTwo)
    data = load(path)
    assert data["mcpServers"]["filesystem"] == http("http://127.0.0.1:9100/filesystem/mcp")
    assert data["projects"][one]["mcpServers"]["filesystem"] == http(
        f"http://127.0.0.1:9100/filesystem~{keyOne}/mcp"
    )
    assert data["projects"][two]["mcpServers"]["filesystem"] == http(
        f"http://127.0.0.1:9100/filesystem~{keyTwo}/mcp"
    )
    assert stat.S_IMODE((stateDir / KEY_FILE).stat().st_mode) == 0o600

    # What the gateway is given: every original at its own place.
    served = source._claude.servedDocument()
    assert served["mcpServers"]["filesystem"]["args"][-1] == str(home)
    assert served["projects"][one]["mcpServers"]["filesystem"]["args"][-1] == one
    assert served["projects"][two]["mcpServers"]["filesystem"]["args"][-1] == two
    assert source.load().servers["filesystem"].args[-1] == str(home)

    source.stopping()
    assert path.read_bytes() == before


def test_the_served_project_entries_are_the_originals_at_their_paths(
    home: Path, stateDir: Path
) -> None:
    """Piece B builds a project's variants from LoadedConfig.projects: each
    adopted project entry must reach it as its original stdio entry."""
    path, one, two = issueConfig(home)
    source = adopted(path, stateDir)
    source.load()
    source.listening(9100)
    loaded = source.load()
    projects = getattr(loaded, "projects", None)
    if projects is None:
        pytest.skip("LoadedConfig.projects (piece B) is not there yet")
    got = {(p.workspace, p.name): p.entry for p in projects}
    assert got == {(one, "filesystem"): filesystem(one), (two, "filesystem"): filesystem(two)}


def test_an_identical_project_entry_gets_the_global_url(home: Path, stateDir: Path) -> None:
    path, one, two = issueConfig(home)
    data = load(path)
    data["projects"][one]["mcpServers"]["filesystem"] = filesystem(str(home))
    path.write_text(stringify(data))
    source = adopted(path, stateDir)
    source.load()
    source.listening(9100)
    data = load(path)
    key = WorkspaceKeys.forStateDir(stateDir).key(two)
    assert data["projects"][one]["mcpServers"]["filesystem"] == http(
        "http://127.0.0.1:9100/filesystem/mcp"
    )
    assert data["projects"][two]["mcpServers"]["filesystem"] == http(
        f"http://127.0.0.1:9100/filesystem~{key}/mcp"
    )


def test_a_config_without_project_servers_needs_no_key_file(home: Path, stateDir: Path) -> None:
    path = home / ".claude.json"
    path.write_text(stringify({"mcpServers": {"fs": filesystem("/")}, "projects": {"/p": {}}}))
    source = adopted(path, stateDir)
    source.load()
    source.listening(9100)
    assert load(path)["mcpServers"]["fs"]["type"] == "http"
    assert not (stateDir / KEY_FILE).exists()


def test_given_keys_are_used(home: Path, stateDir: Path) -> None:
    path, one, _ = issueConfig(home)
    source = adopted(path, stateDir, keys=WorkspaceKeys(SECRET))
    source.load()
    source.listening(9100)
    key = workspaceKey(SECRET, one)
    assert load(path)["projects"][one]["mcpServers"]["filesystem"]["url"].endswith(
        f"/filesystem~{key}/mcp"
    )
    assert not (stateDir / KEY_FILE).exists()


def test_the_routes_are_stable_across_restarts(home: Path, stateDir: Path) -> None:
    """A gateway killed and started again (same port) finds every entry at
    the URL it would write: nothing to re-point, nothing written."""
    path, _, _ = issueConfig(home)
    first = adopted(path, stateDir)
    first.load()
    first.listening(9100)
    adoptedBytes = path.read_bytes()
    backup = (stateDir / "config-backup.json").read_bytes()
    second = adopted(path, stateDir)
    second.continueAdoption()  # the restart hand-over: nothing is recovered
    assert second.load().errors == []
    assert second.listening(9100) == []
    assert path.read_bytes() == adoptedBytes
    assert (stateDir / "config-backup.json").read_bytes() == backup


def test_an_unusable_key_file_stops_the_rewrite_and_says_what_to_do(
    home: Path, stateDir: Path
) -> None:
    path, _, _ = issueConfig(home)
    (stateDir / KEY_FILE).write_text("not a key\n")
    before = path.read_bytes()
    source = adopted(path, stateDir)
    source.load()
    with pytest.raises(ConfigError, match=r"workspace key file .* Remove it"):
        source.listening(9100)
    assert path.read_bytes() == before  # nothing half-adopted
    assert not (stateDir / "config-backup.json").exists()


def test_a_project_variable_set_in_its_workspace_env_is_adopted(home: Path, stateDir: Path) -> None:
    """A project's ${TOKEN} is expanded as config expands it (the workspace's
    .env over the gateway's .env over the environment): set in one
    project's .env, that entry is adopted at its route; unset in the
    other's, that one stays the client's own stdio entry."""
    one, two = home / "one", home / "two"
    one.mkdir()
    two.mkdir()
    (one / ".env").write_text("TOKEN=t1\n")
    entry = {"command": "db-mcp", "env": {"TOKEN": "${TOKEN}"}}
    path = home / ".claude.json"
    path.write_text(
        stringify(
            {
                "projects": {
                    str(one): {"mcpServers": {"db": entry}},
                    str(two): {"mcpServers": {"db": entry}},
                }
            }
        )
    )
    source = adopted(path, stateDir)
    source.load()
    source.listening(9100)
    data = load(path)
    key = WorkspaceKeys.forStateDir(stateDir).key(one)
    assert data["projects"][str(one)]["mcpServers"]["db"] == http(
        f"http://127.0.0.1:9100/db~{key}/mcp"
    )
    assert data["projects"][str(two)]["mcpServers"]["db"] == entry
    (stateDir / ".env").write_text("TOKEN=shared\n")  # now the gateway's .env sets it
    source.load()
    assert load(path)["projects"][str(two)]["mcpServers"]["db"]["type"] == "http"


# -- ~key entries are the gateway's --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ours"),
    [
        ("http://127.0.0.1:9100/fs/mcp", True),
        ("http://127.0.0.1:9100/fs~abcdefghijklmnop/mcp", True),
        ("http://localhost:1/fs~a2b3c4d5e6f7g2h3/mcp", True),
        ("http://[::1]:9100/fs~abcdefghijklmnop/mcp", True),
        ("http://127.0.0.1:9100/fs~abcdefghijklmno/mcp", False),  # 15 characters
        ("http://127.0.0.1:9100/fs~abcdefghijklmnopq/mcp", False),  # 17
        ("http://127.0.0.1:9100/fs~ABCDEFGHIJKLMNOP/mcp", False),  # not [a-z2-7]
        ("http://127.0.0.1:9100/fs~abcdefghijklmn01/mcp", False),
        ("http://127.0.0.1:9100/fs~/mcp", False),
        ("http://127.0.0.1:9100/other~abcdefghijklmnop/mcp", False),  # another server
        ("http://127.0.0.1:9100/fs~abcdefghijklmnop~abcdefghijklmnop/mcp", False),
        ("http://127.0.0.1:9100/fs~abcdefghijklmnop/mcp/x", False),
        ("http://example.com:9100/fs~abcdefghijklmnop/mcp", False),
        ("https://127.0.0.1:9100/fs~abcdefghijklmnop/mcp", False),
        ("http://127.0.0.1/fs~abcdefghijklmnop/mcp", False),  # no port
    ],
)
def test_workspace_routes_look_like_gateway_entries(url: str, ours: bool) -> None:
    assert looksLikeGatewayEntry("fs", http(url)) is ours


def test_a_stranded_workspace_route_is_reported(home: Path, stateDir: Path) -> None:
    """An entry at a workspace route that no backup knows is stranded (its
    original command is lost), as a global one is."""
    path = home / ".claude.json"
    lost = "http://127.0.0.1:9100/fs~abcdefghijklmnop/mcp"
    path.write_text(
        stringify(
            {
                "mcpServers": {"fs": filesystem("/")},
                "projects": {
                    "/p": {"mcpServers": {"fs": http(lost)}},
                    "/q": {"mcpServers": {"fs": http("http://127.0.0.1:9100/fs~short/mcp")}},
                },
            }
        )
    )
    loaded = adopted(path, stateDir).load()
    assert len(loaded.errors) == 1
    assert f"fs (local scope of project /p) -> {lost}" in loaded.errors[0]
    assert "/q" not in loaded.errors[0]


def test_an_adopted_workspace_route_is_not_stranded(home: Path, stateDir: Path) -> None:
    path, _, _ = issueConfig(home)
    first = adopted(path, stateDir)
    first.load()
    first.listening(9100)
    assert ClaudeConfig(path, stateDir, environ=ENV).strandedEntries() == []


# -- the property: adopt then restore is the identity -----------------------------------


NAMES = st.sampled_from(["fs", "db", "x.y", "bad name", "fs~x"])
STDIO = st.fixed_dictionaries(
    {"command": st.sampled_from(["a", "b"])},
    optional={
        "type": st.just("stdio"),
        "args": st.lists(st.sampled_from(["-v", ".", "é"]), max_size=2),
        "env": st.dictionaries(
            st.sampled_from(["K", "T"]), st.sampled_from(["v", "${UNSET}", "${UNSET:-d}"])
        ),
    },
)
ENTRY = st.one_of(
    STDIO,
    STDIO,
    st.just(http("https://example.com/mcp")),
    st.just({"type": "sse", "url": "http://localhost:1/sse"}),
    st.just({"command": "c", "args": "not-a-list"}),
    st.just(http("http://127.0.0.1:9100/fs/mcp")),  # a stranded gateway entry
    st.none(),
)
SERVERS = st.dictionaries(NAMES, ENTRY, max_size=3)
PROJECT = st.fixed_dictionaries(
    {}, optional={"allowedTools": st.just([]), "mcpServers": st.one_of(SERVERS, st.just([]))}
)
PATHS = st.sampled_from(["/w/one", "/w/two", "/w/one/sub", "/w/é ü", "rel/p"])
DOCS = st.fixed_dictionaries(
    # Non-ASCII text outside the entries, as Claude Code's file has: an
    # ASCII-escaped file whose only non-ASCII text is in adopted entries
    # comes back unescaped (JsonFormat.detect cannot tell any more).
    {"numStartups": st.integers(0, 9), "oauthAccount": st.just({"displayName": "Zoë ✓"})},
    optional={
        "mcpServers": SERVERS,
        "projects": st.dictionaries(PATHS, PROJECT, max_size=3),
        GATEWAY_TS_KEY: st.integers(0, 5),
    },
)
LAYOUTS: list[Callable[[Any], str]] = [
    lambda doc: json.dumps(doc, indent=2, ensure_ascii=False),
    lambda doc: json.dumps(doc, indent=4) + "\n",
    lambda doc: json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
]


def servable(name: str, entry: Any) -> ServerSpec | None:
    """The oracle: the spec the gateway would serve from a client's file
    (where remote servers stay with the client), scope-independent."""
    spec = parseConfig({"mcpServers": {name: entry}}, "", ENV, "user").servers.get(name)
    return None if spec is None else replace(spec, scope="gateway")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=DOCS, layout=st.sampled_from(range(len(LAYOUTS))))
def test_adopt_then_restore_is_the_identity(doc: dict[str, Any], layout: int) -> None:
    keys = WorkspaceKeys(SECRET)

    def urlFor(name: str, workspace: str | None) -> str:
        route = name if workspace is None else f"{name}~{keys.key(workspace)}"
        return f"http://127.0.0.1:9100/{route}/mcp"

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        stateDir = home / "state"
        stateDir.mkdir()
        path = home / ".claude.json"
        before = LAYOUTS[layout](doc).encode("utf-8")
        path.write_bytes(before)
        config = ClaudeConfig(path, stateDir, home=home, environ=ENV, now=lambda: 1.0)
        served = config.servedDocument()
        config.adopt(urlFor)

        after = load(path)
        user = {}
        if isinstance(doc.get("mcpServers"), dict):
            for name, entry in doc["mcpServers"].items():
                spec = servable(name, entry)
                if spec is not None:
                    user[name] = spec
        for scope, block in [(None, doc.get("mcpServers"))] + [
            (p, project.get("mcpServers")) for p, project in doc.get("projects", {}).items()
        ]:
            if not isinstance(block, dict):
                continue
            now = after["mcpServers"] if scope is None else after["projects"][scope]["mcpServers"]
            for name, entry in block.items():
                spec = servable(name, entry)
                if spec is None or (scope is not None and not os.path.isabs(scope)):
                    assert now[name] == entry  # not servable, or no workspace: left alone
                    continue
                shared = scope is None or user.get(name) == spec
                assert now[name] == http(urlFor(name, None if shared else scope))
        assert config.servedDocument() == served  # the gateway is given the originals
        assert config.adopt(urlFor).changed is False  # idempotent

        config.restore()
        assert path.read_bytes() == before
        assert re.fullmatch(r"config-backup\.json\.1", " ".join(os.listdir(stateDir))) or (
            os.listdir(stateDir) == []
        )


def test_an_entry_at_the_bundled_demos_route_is_not_stranded(home: Path, stateDir: Path) -> None:
    """The README's first steps point Claude Code at the demo by hand: the
    gateway serves the demo for it, and no original command is lost."""
    path = home / ".claude.json"
    path.write_text(stringify({"mcpServers": {"demo": http("http://127.0.0.1:9100/demo/mcp")}}))
    assert ClaudeConfig(path, stateDir, environ=ENV).strandedEntries() == []
    loaded = adopted(path, stateDir).load()
    assert loaded.errors == [] and list(loaded.servers) == ["demo"]
