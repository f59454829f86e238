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


def test_uvx_writes_its_caches_and_its_managed_pythons() -> None:
    """C{~/.local/share/uv} holds uv's tools and its managed Pythons
    (C{python/}), which a confined C{uvx} installs and runs."""
    launcher = defaults.launcherOf("uvx")
    assert launcher is not None
    assert [path for path, _ in launcher.caches] == ["~/.cache/uv", "~/.local/share/uv"]


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
