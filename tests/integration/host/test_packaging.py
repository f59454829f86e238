"""The installed distribution: the plugin is found after a non-editable
install, Twisted's own plugin package is untouched, dropin.cache is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _installed() -> metadata.Distribution:
    """The installed distribution in site-packages (not the build's egg-info
    left in the checkout, which the checkout on sys.path would find first)."""
    purelib = sysconfig.get_paths()["purelib"]
    dist = next(iter(metadata.distributions(name="mcpgateway", path=[purelib])), None)
    if dist is None:
        pytest.skip("mcpgateway is not installed (run the README's test command)")
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        pytest.skip("editable install: twistd finds the plugin only via PYTHONPATH=.")
    return dist


def test_wheel_ships_the_plugin_and_no_twisted_init() -> None:
    files = {str(f) for f in _installed().files or []}
    assert "twisted/plugins/mcpgateway_plugin.py" in files
    assert "twisted/__init__.py" not in files
    assert "twisted/plugins/__init__.py" not in files
    assert not any(f.startswith(("tests/", "tap/", "deploy/", "docs/")) for f in files)


def test_wheel_ships_every_module_of_every_subpackage() -> None:
    files = {str(f) for f in _installed().files or []}
    repo = Path(__file__).resolve().parents[3]
    modules = {str(p.relative_to(repo)) for p in (repo / "mcpgateway").rglob("*.py")}
    assert modules <= files, sorted(modules - files)


def test_installed_twistd_lists_the_plugin_without_help_from_the_checkout(tmp_path: Path) -> None:
    _installed()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    twistd = Path(sys.executable).parent / "twistd"
    proc = subprocess.run(
        [str(twistd), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert proc.returncode == 0
    assert "mcpgateway" in proc.stdout
    assert "dropin" not in proc.stderr.lower(), proc.stderr
    import twisted.plugins

    caches = [Path(p) / "dropin.cache" for p in twisted.plugins.__path__]
    assert any(c.is_file() for c in caches)


def test_plugin_import_leaves_the_reactor_alone(tmp_path: Path) -> None:
    """Importing the plugin (as twistd does for every run) installs no reactor
    and imports no klein, so --reactor=... keeps working."""
    code = (
        "import sys; from twisted.plugin import getPlugins, IPlugin;"
        "import twisted.plugins.mcpgateway_plugin as p;"
        "print('twisted.internet.reactor' in sys.modules, 'klein' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=60,
    )
    assert proc.stdout.split() == ["False", "False"], proc.stderr
