"""Where a project's entry comes from: an entry of a project's own file
(a repository's) gets an origin on its launch, with the digest an approval
names; the user's own entries get none, and the two never share a child
when the entry has secret references."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.classification import Overrides
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.config.origins import entryDigest, withOrigins
from mcpgateway.config.scopes import Scoped, buildScopes
from mcpgateway.config.servers import parseConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spec import EntryOrigin, Variant

KEYS = WorkspaceKeys(bytes(range(32)))
ENVIRON = {"PATH": "", "HOME": "/home/me"}
WITH_SECRET = {"command": "gh-server", "env": {"GITHUB_TOKEN": "${keyring:gh}"}}


def build(document: dict[str, Any], origins: dict[tuple[str, str], str]) -> Scoped:
    loaded = withOrigins(parseConfig(document, "/home/me/.claude.json", ENVIRON, "user"), origins)
    return buildScopes(loaded, Overrides(), KEYS, EnvFile("/state/.env"), ENVIRON)


def variants(scoped: Scoped, name: str) -> dict[str, Variant]:
    return {variant.key: variant for variant in scoped.specs[name].variants}


def project(root: Path, name: str) -> str:
    path = root / name
    path.mkdir()
    return str(path)


def test_a_repository_entry_gets_its_origin_and_the_users_does_not(tmp_path: Path) -> None:
    mine, clone = project(tmp_path, "mine"), project(tmp_path, "clone")
    scoped = build(
        {
            "projects": {
                mine: {"mcpServers": {"gh": WITH_SECRET}},
                clone: {"mcpServers": {"gh": WITH_SECRET}},
            }
        },
        {(clone, "gh"): os.path.join(clone, ".mcp.json")},
    )
    routes = variants(scoped, "gh")
    own, cloned = routes[KEYS.key(mine)], routes[KEYS.key(clone)]
    assert own.launch.origin is None
    assert cloned.launch.origin == EntryOrigin(
        os.path.join(clone, ".mcp.json"), os.path.realpath(clone), entryDigest(WITH_SECRET)
    )
    assert cloned.launch.references == frozenset({"${keyring:gh}"})
    # The same program with the same references, but one is the user's:
    # they never share a child (each starts with its own, resolved or refused).
    assert own.childKey != cloned.childKey


def test_without_references_a_repositorys_entry_still_has_a_child_of_its_own(
    tmp_path: Path,
) -> None:
    """The repository's child is shown nothing its entry names outside its
    workspace; the user's own entry's child is: one child cannot be both."""
    mine, clone = project(tmp_path, "mine"), project(tmp_path, "clone")
    plain = {"command": "fs-server", "share": "global"}
    scoped = build(
        {"projects": {mine: {"mcpServers": {"fs": plain}}, clone: {"mcpServers": {"fs": plain}}}},
        {(clone, "fs"): os.path.join(clone, ".cursor", "mcp.json")},
    )
    routes = variants(scoped, "fs")
    assert routes[KEYS.key(clone)].launch.origin is not None
    assert routes[KEYS.key(clone)].launch.confinedTo == os.path.realpath(clone)
    assert routes[KEYS.key(mine)].launch.confinedTo is None
    assert routes[KEYS.key(mine)].childKey != routes[KEYS.key(clone)].childKey


def test_a_repository_entry_that_is_the_users_is_served_as_the_users(tmp_path: Path) -> None:
    """Copying the entry to the user scope is one way to let it use the
    user's secrets: the project's route is then served by the user's launch."""
    clone = project(tmp_path, "clone")
    scoped = build(
        {
            "mcpServers": {"gh": WITH_SECRET},
            "projects": {clone: {"mcpServers": {"gh": WITH_SECRET}}},
        },
        {(clone, "gh"): os.path.join(clone, ".mcp.json")},
    )
    routes = variants(scoped, "gh")
    assert routes[KEYS.key(clone)].launch.origin is None
    assert routes[KEYS.key(clone)].childKey == routes[""].childKey


def test_with_origins_marks_only_the_entries_named() -> None:
    loaded = parseConfig(
        {"projects": {"/p": {"mcpServers": {"a": {"command": "a"}, "b": {"command": "b"}}}}},
        "/home/me/.claude.json",
        ENVIRON,
        "user",
    )
    marked = withOrigins(loaded, {("/p", "b"): "/p/.mcp.json"})
    assert {p.name: p.origin for p in marked.projects} == {"a": None, "b": "/p/.mcp.json"}
    assert withOrigins(loaded, {}) is loaded


entries = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.text(max_size=8) | st.lists(st.text(max_size=8), max_size=3),
    max_size=5,
)


@given(entries)
def test_the_digest_is_of_the_content_not_the_order(entry: dict[str, Any]) -> None:
    reordered = dict(reversed(list(entry.items())))
    assert entryDigest(reordered) == entryDigest(entry)
    assert entryDigest(entry).startswith("sha256:")


@given(entries, st.text(min_size=1, max_size=8))
def test_any_change_changes_the_digest(entry: dict[str, Any], key: str) -> None:
    changed = {**entry, key: [*entry[key], "x"] if isinstance(entry.get(key), list) else "new!"}
    if changed != entry:
        assert entryDigest(changed) != entryDigest(entry)
