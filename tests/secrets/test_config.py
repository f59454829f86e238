"""What the config layer does with secret references: notes them (the entry's
own only), checks them, leaves their text in the spec, and does not take
their kind words for variables of a workspace's C{.env}."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.config.classification import Overrides
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.config.scopes import buildScopes
from mcpgateway.config.servers import EntryError, parseConfig, parseEntry
from mcpgateway.config.serversfile import applyOverride
from mcpgateway.config.workspaces import WorkspaceKeys

ENVIRON = {"PATH": "", "HOME": "/home/me", "TOKEN_VAR": "${keyring:smuggled}"}


def test_the_spec_keeps_the_text_and_notes_the_references_of_env_and_args() -> None:
    spec = parseEntry(
        "s",
        {
            "command": "srv",
            "args": ["--t", "${keyring:a}", "${HOME}/x"],
            "env": {"A": "Bearer ${op://V/I/F}", "B": "${env:USER}", "C": "${TOKEN_VAR}"},
        },
        ENVIRON,
    )
    assert spec.args == ("--t", "${keyring:a}", "/home/me/x")
    assert dict(spec.env) == {
        "A": "Bearer ${op://V/I/F}",
        "B": "${env:USER}",
        "C": "${keyring:smuggled}",  # a variable's value: text, not a reference of the entry
    }
    assert spec.references == frozenset({"${keyring:a}", "${op://V/I/F}", "${env:USER}"})


def test_a_remote_entrys_headers_are_noted() -> None:
    spec = parseEntry(
        "r",
        {"type": "http", "url": "https://x.example/mcp", "headers": {"X-Key": "${file:~/k}"}},
        {},
    )
    assert spec.references == frozenset({"${file:~/k}"})
    assert spec.remote is not None and spec.remote.headers == (("X-Key", "${file:~/k}"),)


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"env": {"T": "${env:MCPGATEWAY_API_TOKEN}"}}, "env.T"),
        ({"args": ["ok", "${op://only/two}"]}, r"args\[1\]"),
    ],
)
def test_a_bad_reference_skips_the_entry_with_a_warning(
    entry: dict[str, object], where: str
) -> None:
    with pytest.raises(EntryError, match=f"^{where}: "):
        parseEntry("s", {"command": "srv", **entry}, ENVIRON)
    loaded = parseConfig({"mcpServers": {"s": {"command": "srv", **entry}}}, "f", ENVIRON)
    assert loaded.servers == {} and "server 's'" in loaded.warnings[0]


def test_an_overrides_env_adds_its_references() -> None:
    spec = parseEntry("s", {"command": "srv", "env": {"A": "${keyring:a}"}}, ENVIRON)
    warnings: list[str] = []
    over = applyOverride(spec, {"env": {"B": "${keyring:b}"}}, warnings, "servers.json: 's'")
    assert over.references == frozenset({"${keyring:a}", "${keyring:b}"}) and warnings == []
    bad = applyOverride(spec, {"env": {"B": "${keyring:b c}"}}, warnings, "servers.json: 's'")
    assert bad.references == spec.references and dict(bad.env)["B"] == "${keyring:b c}"
    assert warnings and warnings[0].startswith("servers.json: 's'.env.B: ${keyring:b c}")


def test_a_workspace_env_variable_named_like_a_kind_is_not_passed(tmp_path: Path) -> None:
    """${env:NAME} names the gateway's variable NAME, not a variable `env`
    of the workspace's .env, which the child does not get."""
    project = tmp_path / "p"
    project.mkdir()
    (project / ".env").write_text("env=from-the-repo\nkeyring=x\nLISTED=yes\n")
    document = {
        "projects": {
            str(project): {
                "mcpServers": {
                    "s": {
                        "command": "srv",
                        "env": {"A": "${env:HOME}", "B": "${keyring:k}", "C": "${LISTED:-no}"},
                    }
                }
            }
        }
    }
    loaded = parseConfig(document, "/home/me/.claude.json", ENVIRON, "user")
    scoped = buildScopes(
        loaded, Overrides(), WorkspaceKeys(bytes(32)), EnvFile("/state/.env"), ENVIRON
    )
    (variant,) = scoped.specs["s"].variants
    env = dict(variant.launch.env)
    assert "env" not in env and "keyring" not in env
    assert env["LISTED"] == "yes" and env["C"] == "yes"
    assert variant.launch.references == frozenset({"${env:HOME}", "${keyring:k}"})
