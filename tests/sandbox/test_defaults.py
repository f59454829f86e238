"""The default profile's tables: what a launcher's child may reach when its
entry says nothing of the network."""

from __future__ import annotations

import pytest

from mcpgateway.sandbox import defaults


@pytest.mark.parametrize("command", ["uvx", "uv", "/home/me/.venv/bin/uvx"])
def test_uvx_may_fetch_the_python_a_package_needs(command: str) -> None:
    """uv fetches a managed Python (none on the machine fits the package)
    from its mirror, then from GitHub's release downloads, where
    C{github.com} redirects: without them C{uvx} fails confined with
    "tunnel error: unsuccessful" where it works unconfined."""
    mode, allowed = defaults.network(None, (), command)
    assert mode == "allow"
    for host in (
        "pypi.org",
        "files.pythonhosted.org",
        "releases.astral.sh",
        "github.com",
        "release-assets.githubusercontent.com",
    ):
        assert host in allowed, host


@pytest.mark.parametrize(
    ("command", "variables"),
    [
        ("npx", {"npm_config_cache"}),
        ("uvx", {"UV_CACHE_DIR", "UV_TOOL_DIR", "UV_TOOL_BIN_DIR", "UV_PYTHON_INSTALL_DIR"}),
        ("pnpm", {"PNPM_HOME", "npm_config_store_dir", "npm_config_cache_dir"}),
        ("poetry", {"POETRY_CACHE_DIR", "POETRY_VIRTUALENVS_PATH"}),
        ("hatch", {"HATCH_DATA_DIR", "HATCH_CACHE_DIR", "HATCH_CONFIG"}),
        ("pipenv", {"WORKON_HOME", "PIPENV_CACHE_DIR"}),
        ("pipx", {"PIPX_HOME", "PIPX_BIN_DIR"}),
        ("yarn", {"YARN_CACHE_FOLDER", "YARN_GLOBAL_FOLDER"}),
        ("bunx", {"BUN_INSTALL", "BUN_INSTALL_CACHE_DIR"}),
        ("deno", {"DENO_DIR", "DENO_INSTALL_ROOT"}),
    ],
)
def test_each_launcher_names_its_caches_by_the_variables_its_tool_reads(
    command: str, variables: set[str]
) -> None:
    """Where each tool keeps its caches and environments is moved by
    these variables (each checked against the real tool): the launcher
    sets them all to folders of the child's own."""
    launcher = defaults.launcherOf(command)
    assert launcher is not None and launcher.tool is not None
    named = {variable for variable, _ in launcher.caches}
    assert variables <= named
    assert all(path and not path.startswith(("/", ".")) for _, path in launcher.caches)


def test_python_keeps_no_caches_but_reads_the_users_packages() -> None:
    launcher = defaults.launcherOf("python3.12")
    assert launcher is not None and launcher.tool is None and launcher.caches == ()
    assert launcher.reads == ("~/.local/lib",)


def test_an_entry_that_names_its_network_gets_only_that() -> None:
    assert defaults.network("allow", ("example.com",), "uvx") == ("allow", ("example.com",))
    assert defaults.network("none", (), "uvx") == ("none", ())


def test_a_command_that_is_no_launcher_has_no_network() -> None:
    assert defaults.network(None, (), "node") == ("none", ())


@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_every_client_config_the_gateway_adopts_is_on_the_deny_list(system: str) -> None:
    """The MCP clients' config files carry their servers' tokens (in
    C{env} and C{headers}): every home-relative file an adapter adopts is
    masked for every child, by itself or by a directory holding it."""
    from pathlib import Path

    from mcpgateway.clientconfigs.clients import ADAPTERS, EARLIER_BACKUPS
    from mcpgateway.clientconfigs.clients.base import Host

    home = Path("/h")
    denied = [str(home / entry[2:]) for entry in defaults.DENY_HOME]
    host = Host(home=home, system=system, root=Path("/r"))
    missing = []
    for adapter in (*ADAPTERS, EARLIER_BACKUPS):
        for path in adapter.userFiles(host):
            if path.is_relative_to(home) and not any(
                str(path) == d or str(path).startswith(d + "/") for d in denied
            ):
                missing.append((adapter.id, str(path)))
    assert missing == []


@pytest.mark.parametrize(
    "path",
    [
        "~/.claude.json",
        "~/.claude/.credentials.json",
        "~/.codex/auth.json",
        "~/.pgpass",
        "~/.my.cnf",
        "~/.cargo/credentials.toml",
        "~/.cargo/credentials",
        "~/.terraform.d/credentials.tfrc.json",
        "~/.vault-token",
        "~/.config/rclone",
    ],
)
def test_the_ai_clients_and_the_tools_credentials_are_denied(path: str) -> None:
    assert path in defaults.DENY_HOME


def test_debconfs_saved_passwords_are_denied_to_a_root_gateways_children() -> None:
    assert "/var/cache/debconf/passwords.dat" in defaults.DENY_SYSTEM
    assert "/var/cache/debconf/passwords.dat-old" in defaults.DENY_SYSTEM


def test_the_deny_lists_stay_plain_data_the_launcher_reads_without_imports() -> None:
    assert all(entry.startswith("~/") for entry in defaults.DENY_HOME)
    assert all(entry.startswith("/") for entry in defaults.DENY_SYSTEM)
    assert len(set(defaults.DENY_HOME)) == len(defaults.DENY_HOME)
