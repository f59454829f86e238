"""A project's own entry (a repository's C{.mcp.json}...) gets none of the
user's environment: not the gateway's C{<state-dir>/.env}, of the gateway's
environment only the basics a program needs to run, and its C{${NAME}} of
a variable of the user's is read as C{${env:NAME}}, refused until the user
allows that very entry; what it is not given is named once, never a value.
The user's own entries (a local scope of C{~/.claude.json}) keep every
layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.classification import Overrides
from mcpgateway.config.envfiles import EnvFile, digestOf
from mcpgateway.config.origins import entryDigest, withOrigins
from mcpgateway.config.projectenv import asReferences
from mcpgateway.config.scopes import Scoped, buildScopes
from mcpgateway.config.servers import parseConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.environment import isBasic
from mcpgateway.core.spec import EntryOrigin, ServerSpec
from mcpgateway.secrets.approvals import SecretsApproval, referencesIn, refusal

KEYS = WorkspaceKeys(bytes(range(32)))
WORKSPACE = "/home/me/src/clone"
ENVIRON = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "XDG_CONFIG_HOME": "/home/me/.config",
    "ANTHROPIC_API_KEY": "sk-ant-SHELL",
    "AWS_SECRET_ACCESS_KEY": "SHELL-EXPORTED-AWS",
    "MCPGATEWAY_API_TOKEN": "gateway-own",
}
STATE_ENV = EnvFile(
    "/state/.env",
    (("GITHUB_TOKEN", "ghp_USER_STATE"),),
    digest=digestOf({"GITHUB_TOKEN": "ghp_USER_STATE"}),
)
SECRETS = ("sk-ant-SHELL", "SHELL-EXPORTED-AWS", "gateway-own", "ghp_USER_STATE")


def workspaceFile(values: Mapping[str, str]) -> EnvFile:
    pairs = tuple(sorted(values.items()))
    return EnvFile(f"{WORKSPACE}/.env", pairs, digest=digestOf(pairs), workspace=True)


def build(
    entry: dict[str, Any],
    own: bool = True,
    environ: Mapping[str, str] = ENVIRON,
    state: EnvFile = STATE_ENV,
    workspace: Mapping[str, str] | None = None,
) -> Scoped:
    """Server C{x} of the project L{WORKSPACE}: an entry of its own
    C{.mcp.json} (C{own}), else of the user's local scope."""
    loaded = parseConfig(
        {"projects": {WORKSPACE: {"mcpServers": {"x": entry}}}}, "/home/me/.claude.json", environ
    )
    if own:
        loaded = withOrigins(loaded, {(WORKSPACE, "x"): f"{WORKSPACE}/.mcp.json"})
    return buildScopes(
        loaded,
        Overrides(),
        KEYS,
        state,
        environ,
        lambda _: workspaceFile(workspace or {}),
    )


def launchOf(scoped: Scoped) -> ServerSpec:
    [variant] = scoped.specs["x"].variants
    return variant.launch


def childEnv(launch: ServerSpec, environ: Mapping[str, str] = ENVIRON) -> dict[str, str]:
    """The environment its child starts with (the spawner's base is the
    gateway's environment less its own variables)."""
    base = {k: v for k, v in environ.items() if not k.startswith("MCPGATEWAY_")}
    return launch.environment(base)


def test_a_repositorys_child_gets_none_of_the_users_secrets() -> None:
    launch = launchOf(build({"command": "/bin/true"}))
    env = childEnv(launch)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/me",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "XDG_CONFIG_HOME": "/home/me/.config",
    }


def test_the_users_own_entry_keeps_every_layer() -> None:
    env = childEnv(launchOf(build({"command": "/bin/true"}, own=False)))
    assert env["GITHUB_TOKEN"] == "ghp_USER_STATE"
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-SHELL"
    assert "MCPGATEWAY_API_TOKEN" not in env


def test_a_repositorys_own_env_and_listed_workspace_names_reach_its_child() -> None:
    entry = {"command": "/bin/true", "env": {"MODE": "fast"}, "envFrom": ["DB_URL"]}
    workspace = {"DB_URL": "postgres://repo", "UNLISTED": "x"}
    env = childEnv(launchOf(build(entry, workspace=workspace)))
    assert env["MODE"] == "fast" and env["DB_URL"] == "postgres://repo"
    assert "UNLISTED" not in env


def test_a_repositorys_dollar_name_of_a_users_variable_is_a_reference() -> None:
    entry = {
        "command": "/bin/true",
        "args": ["--token", "${GITHUB_TOKEN}"],
        "env": {"T": "${ANTHROPIC_API_KEY}"},
    }
    launch = launchOf(build(entry))
    assert dict(launch.env)["T"] == "${env:ANTHROPIC_API_KEY}"
    assert launch.args == ("--token", "${env:GITHUB_TOKEN}")
    assert launch.references == {"${env:GITHUB_TOKEN}", "${env:ANTHROPIC_API_KEY}"}
    why = refusal(launch, sorted(launch.references), [])
    assert why is not None and "mcpgateway secret allow x --workspace" in why


def test_the_users_own_dollar_names_expand_as_before() -> None:
    entry = {"command": "/bin/true", "env": {"T": "${GITHUB_TOKEN}", "A": "${ANTHROPIC_API_KEY}"}}
    launch = launchOf(build(entry, own=False))
    assert dict(launch.env)["T"] == "ghp_USER_STATE" and dict(launch.env)["A"] == "sk-ant-SHELL"
    assert launch.references == frozenset()


def test_a_repositorys_basics_and_workspace_names_expand() -> None:
    entry = {
        "command": "/bin/true",
        "args": ["${HOME}/cache", "${REPO_TOKEN}"],
        "env": {"REPO_TOKEN": "${REPO_TOKEN}", "LEVEL": "${ANTHROPIC_API_KEY:-none}"},
    }
    launch = launchOf(build(entry, workspace={"REPO_TOKEN": "repo-own"}))
    assert launch.args == ("/home/me/cache", "repo-own")
    assert dict(launch.env)["LEVEL"] == "none"  # the user's value is withheld: the default
    assert launch.references == frozenset()


def test_a_users_variable_in_a_repositorys_command_skips_the_entry() -> None:
    scoped = build({"command": "${AWS_SECRET_ACCESS_KEY}/bin/x"})
    assert "x" not in scoped.specs
    [warning] = scoped.warnings
    assert "${AWS_SECRET_ACCESS_KEY}" in warning and "SHELL-EXPORTED-AWS" not in warning


def test_the_gateways_own_variable_named_by_a_repository_is_never_expanded() -> None:
    scoped = build({"command": "/bin/true", "env": {"T": "${MCPGATEWAY_API_TOKEN}"}})
    assert "x" not in scoped.specs  # ${env:MCPGATEWAY_...} is no usable reference
    assert not any("gateway-own" in w for w in scoped.warnings)


def test_what_is_withheld_is_noted_by_name_once_per_server() -> None:
    entry = {"command": "/bin/true", "env": {"T": "${GITHUB_TOKEN}", "AWS_SECRET_ACCESS_KEY": "x"}}
    scoped = build(entry)
    [note] = scoped.notes
    assert f"server 'x' ({WORKSPACE}/.mcp.json)" in note
    assert "ANTHROPIC_API_KEY" in note and "GITHUB_TOKEN" in note and "/state/.env" in note
    assert "AWS_SECRET_ACCESS_KEY (the gateway's" not in note  # its entry sets it itself
    assert "MCPGATEWAY_API_TOKEN" not in note
    for secret in SECRETS:
        assert secret not in note
    assert build({"command": "/bin/true"}, own=False).notes == []


def test_an_approval_names_the_references_the_gateway_refuses() -> None:
    entry = {"command": "/bin/true", "env": {"T": "${GITHUB_TOKEN}", "R": "${REPO}"}}
    launch = launchOf(build(entry, workspace={"REPO": "r"}))
    served, _ = asReferences(entry, {"REPO"})
    approval = SecretsApproval(
        "x", WORKSPACE, f"{WORKSPACE}/.mcp.json", entryDigest(entry), referencesIn(served)
    )
    assert approval.covers(launch)
    assert refusal(launch, sorted(launch.references), [approval]) is None


NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
VALUE = st.from_regex(r"[A-Za-z0-9]{12,20}", fullmatch=True).map(lambda v: f"SECRET{v}")


@given(
    environ=st.dictionaries(NAME, VALUE, max_size=6),
    state=st.dictionaries(NAME, VALUE, max_size=4),
    written=st.lists(NAME, max_size=4),
)
def test_no_value_of_the_users_reaches_a_repositorys_child(
    environ: dict[str, str], state: dict[str, str], written: list[str]
) -> None:
    """Whatever the gateway's environment and C{.env} hold, and whatever
    names the repository's entry writes as C{${NAME}}, its child starts
    with none of their values but the basics' (its references are refused
    until allowed, and never resolved here)."""
    environ = {k: v for k, v in environ.items() if not isBasic(k)}
    environ.update(PATH="/usr/bin", HOME="/home/me")
    stateFile = EnvFile("/state/.env", tuple(sorted(state.items())), digest=digestOf(state))
    entry = {
        "command": "/bin/true",
        "args": [f"${{{name}}}" for name in written],
        "env": {f"E{i}": f"${{{name}}}" for i, name in enumerate(written)},
    }
    scoped = build(entry, environ=environ, state=stateFile)
    if "x" not in scoped.specs:
        return  # a name that is the gateway's own, or a basic one left unset: not served
    launch = launchOf(scoped)
    seen = " ".join([*launch.args, *childEnv(launch, environ).values()])
    for value in [*environ.values(), *state.values()]:
        if value not in ("/usr/bin", "/home/me"):
            assert value not in seen


@given(base=st.dictionaries(NAME, st.text(max_size=5), max_size=10))
def test_a_repositorys_spec_inherits_only_the_basics(base: dict[str, str]) -> None:
    origin = EntryOrigin(f"{WORKSPACE}/.mcp.json", WORKSPACE, "d")
    spec = ServerSpec("x", "/bin/true", env=(("OWN", "1"),), origin=origin)
    env = spec.environment(base)
    assert set(env) == {k for k in base if isBasic(k)} | {"OWN"}
    assert ServerSpec("x", "/bin/true").environment(base) == base


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "LANG", "LC_CTYPE", "XDG_DATA_HOME", "TMPDIR", "TERM", "TZ", "USER"]
)
def test_the_basics_are_what_a_program_needs(name: str) -> None:
    assert isBasic(name)


@pytest.mark.parametrize(
    "name",
    ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY", "SSH_AUTH_SOCK", "HTTPS_PROXY"],
)
def test_a_secret_or_a_handle_is_no_basic(name: str) -> None:
    assert not isBasic(name)


def test_the_certificate_authorities_a_tls_client_trusts_are_basics() -> None:
    """Behind an intercepting proxy, a repository's install or request
    needs the machine's CA bundle: a path, no secret."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"):
        assert isBasic(name), name
    assert not isBasic("HTTPS_PROXY")  # a proxy's URL may hold its password
