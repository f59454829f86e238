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
