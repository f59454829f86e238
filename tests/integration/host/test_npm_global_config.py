"""The system's npm configuration reaches the gateway's own installs.

An C{npx -y PKG} entry's package is installed by the gateway with C{npm
install --prefix FOLDER}, and a C{--prefix} also moves where npm looks for
its global config: the system's (C{/usr/etc/npmrc} for Debian's npm, the
node folder's under nvm), where a company sets its registry mirror, its
proxy or the certificate authority of its TLS-inspecting proxy, would be
missed, and the install would fail where the user's own C{npx} works. The
installs are told that file (L{mcpgateway.config.wrappers.npmGlobalConfig}).

Here the real npm says which global config it reads, and a real gateway
installs a package from a registry on loopback that only a global config
names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgateway.config.wrappers import npmGlobalConfig
from tests.integration.gateway import gatewayEnv
from tests.integration.packagekit import NAME, VERSION, PackageIndex, npmCounter
from tests.integration.restartkit import count, freePort, openSession

pytestmark = pytest.mark.integration


def npmOrSkip() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("npx") is None:
        pytest.skip("npm and npx are needed")
    return npm


def npmSays(npm: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [npm, "config", "get", *args],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("prefix", [None, "/opt/company"])
def test_it_names_the_file_npm_itself_reads_without_a_prefix(
    tmp_path: Path, prefix: str | None
) -> None:
    npm = npmOrSkip()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    if prefix is not None:
        env["PREFIX"] = prefix
    assert npmGlobalConfig(npm, env) == npmSays(npm, env, "globalconfig")


def test_npm_told_the_file_reads_it_despite_a_prefix(tmp_path: Path) -> None:
    npm = npmOrSkip()
    system = tmp_path / "system"
    (system / "etc").mkdir(parents=True)
    (system / "etc" / "npmrc").write_text("registry=http://127.0.0.1:9/company/\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PREFIX": str(system)}
    folder = str(tmp_path / "install")
    told = npmGlobalConfig(npm, env)
    assert told is not None
    assert npmSays(npm, env, "registry", "--prefix", folder) == "https://registry.npmjs.org/"
    with_file = npmSays(npm, env, "registry", "--prefix", folder, "--globalconfig", told)
    assert with_file == "http://127.0.0.1:9/company/"


@pytest.fixture
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    npmOrSkip()
    served = PackageIndex(npmCounter(tmp_path_factory.mktemp("package")))
    yield served
    served.close()


def test_the_gateway_installs_from_the_registry_the_global_config_names(
    home: Path, index: PackageIndex
) -> None:
    """The entry says nothing of a registry; the system's npm configuration
    (here the global npmrc of C{$PREFIX}) names one on loopback. The
    entry's children run unconfined: a confined install reaches only the
    registries an environment names (docs/guide/sandbox.md)."""
    system = home / "system"
    (system / "etc").mkdir(parents=True)
    (system / "etc" / "npmrc").write_text(f"registry={index.npmUrl}\nfetch-retries=0\n")
    entry = {"command": "npx", "args": ["-y", f"{NAME}@{VERSION}"], "sandbox": False}
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"counter": entry}}))
    port = freePort()
    env = {**gatewayEnv(home), "PREFIX": str(system)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = cli("start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        session = openSession(port, "counter")
        assert count(port, "counter", session, 1)[0] == 1  # waits for the install
        log = (home / "state" / "gateway.log").read_text()
        assert f"npx {NAME}@{VERSION} resolved to" in log, log[-3000:]
        assert "cannot resolve" not in log
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
