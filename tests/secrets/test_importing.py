"""What C{secret import} takes for a plain-text token, the names it gives
them, how it rewrites servers.json, and what it reports of adopted configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.references import SECRET_NAME, parseReferences
from mcpgateway.secrets.importing import (
    Finding,
    adoptedFindings,
    findings,
    looksLikeToken,
    rewrite,
    secretNameFor,
)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp_0123456789abcdef"),
        ("ANYTHING", "github_pat_11AAAA"),
        ("ANYTHING", "sk-proj-abc"),
        ("SLACK", "xoxb-1-2-3"),
        ("API_KEY", "a1b2c3d4e5f6"),
        ("db_password", "hunter2hunter2"),
        ("CLIENT_SECRET", "Zm9vYmFyYmF6"),
    ],
)
def test_tokens_are_found(name: str, value: str) -> None:
    assert looksLikeToken(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_KEY", "${keyring:api}"),
        ("API_KEY", "${API_KEY}"),
        ("API_KEY", "short"),
        ("API_KEY", "true"),
        ("API_KEY", "12345678901"),
        ("SSH_KEY_PATH", "/home/me/.ssh/id_ed25519"),
        ("KEY_FILE", "~/keys/k"),
        ("TOKEN_URL", "https://auth.example.com/token"),
        ("SECRET", "two words here"),
        ("LOG_LEVEL", "debug-verbose-mode"),
        ("TOKEN", ""),
    ],
)
def test_other_values_are_not(name: str, value: str) -> None:
    assert not looksLikeToken(name, value)


def test_findings_of_entries_and_overrides_in_file_order() -> None:
    document = {
        "mcpServers": {
            "github": {"command": "gh", "env": {"GITHUB_TOKEN": "ghp_x1", "MODE": "fast"}},
            "nothing": {"command": "x"},
        },
        "overrides": {"slack": {"env": {"SLACK_BOT_TOKEN": "xoxb-1"}}, "bad": "not an object"},
    }
    found = findings(document)
    assert [(f.section, f.server, f.variable) for f in found] == [
        ("mcpServers", "github", "GITHUB_TOKEN"),
        ("overrides", "slack", "SLACK_BOT_TOKEN"),
    ]
    assert "ghp_x1" not in repr(found) and "ghp_x1" not in found[0].label
    assert found[0].label == "server 'github': env GITHUB_TOKEN (6 characters)"


def test_a_name_is_taken_once_and_an_equal_value_reuses_it() -> None:
    finding = Finding("mcpServers", "gh", "TOKEN", "v1")
    assert secretNameFor(finding, {}) == ("gh.TOKEN", True)
    assert secretNameFor(finding, {"gh.TOKEN": "v1"}) == ("gh.TOKEN", False)
    assert secretNameFor(finding, {"gh.TOKEN": "other", "gh.TOKEN-2": None}) == (
        "gh.TOKEN-3",
        True,
    )


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True), st.text(min_size=1))
def test_every_server_and_variable_give_a_usable_name(server: str, variable: str) -> None:
    name, _ = secretNameFor(Finding("mcpServers", server, variable, "v"), {})
    assert SECRET_NAME.fullmatch(name)
    assert parseReferences("${keyring:" + name + "}")[0].target == name


def test_rewrite_replaces_only_values_still_there() -> None:
    document = {
        "mcpServers": {"gh": {"env": {"T": "ghp_1", "U": "ghp_2"}}},
        "overrides": {"gh": {"env": {"T": "ghp_3"}}},
    }
    moved = {
        Finding("mcpServers", "gh", "T", "ghp_1"): "gh.T",
        Finding("mcpServers", "gh", "U", "changed-since"): "gh.U",
        Finding("overrides", "gh", "T", "ghp_3"): "gh.T-2",
    }
    out, count = rewrite(document, moved)
    assert count == 2
    assert out["mcpServers"]["gh"]["env"] == {"T": "${keyring:gh.T}", "U": "ghp_2"}
    assert out["overrides"]["gh"]["env"] == {"T": "${keyring:gh.T-2}"}
    assert document["mcpServers"]["gh"]["env"]["T"] == "ghp_1"  # a copy


def test_adopted_configs_tokens_are_reported(tmp_path: Path) -> None:
    from mcpgateway.clientconfigs.backups import BACKUP_DIR, Backup, BlockInfo, Record
    from mcpgateway.clientconfigs.clients.claudecode import TOP

    backup = Backup("claude-code", "/home/me/.claude.json", "jsondata")
    backup.blocks[TOP] = BlockInfo(None, "user")
    original = {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_adopted1", "X": "y"}}
    backup.records[(TOP, "github")] = Record(original, {"url": "u"}, "u", original)
    folder = tmp_path / BACKUP_DIR
    folder.mkdir()
    (folder / "claude-code-home.json").write_bytes(backup.encode())
    (folder / "broken.json").write_text("{not json")
    found = adoptedFindings(tmp_path)
    assert [(f.configPath, f.server, f.variable) for f in found] == [
        ("/home/me/.claude.json", "github", "GITHUB_TOKEN")
    ]
    assert "ghp_adopted1" not in repr(found)
    assert json.loads((folder / "claude-code-home.json").read_text())  # left as it is
