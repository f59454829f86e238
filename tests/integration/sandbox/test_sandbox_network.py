"""A confined child's network allow list, enforced by the gateway's proxy
(docs/guide/sandbox.md), with a real gateway run with C{--sandbox auto}:

 - the hostile fixture (tests/fixtures/hostile_server.py) reaches a local
   HTTP server its profile names literally (C{127.0.0.1:PORT}), through
   C{HTTP_PROXY}; a host not on its list is refused (403), logged once with
   the profile line that allows it, and counted; the gateway's own port,
   and the same local server by the name C{localhost}, are refused; a
   direct connection, without the proxy, has no route;
 - the same from a gateway run by an unprivileged account (its children
   in a user namespace of their own);
 - under Landlock (where bubblewrap cannot run), a child connects to its
   proxy's loopback port and no other;
 - an C{npx -y} server the npm cache does not hold installs through the
   proxy (its registry is on its list by default) and answers.

Bubblewrap must work here (the proxy needs its network namespace); the
npm test skips, saying why, only when the registry is unreachable.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration import sandboxkit
from tests.integration.gateway import RunningGateway, waitFor, writeConfig

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
REFUSED_LINE = "the network proxy refused"


@pytest.fixture
def local() -> Iterator[int]:
    """A local HTTP server on loopback: its port."""
    with sandboxkit.helloServer(b"hello through the proxy") as port:
        yield port


def test_a_child_reaches_only_what_its_allow_list_names(
    home: Path, start: Starter, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sandboxkit.bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    config = writeConfig(
        home / "servers.json",
        {
            "hostile": sandboxkit.hostileEntry(
                workspace, network={"allowedDomains": [f"127.0.0.1:{local}"]}
            )
        },
    )
    gateway = start("--config", str(config), "--sandbox", "auto")
    url = gateway.url("hostile")

    def fetch(target: str, **more: Any) -> dict[str, Any]:
        answer: dict[str, Any] = sandboxkit.toolCall(url, "fetch", {"url": target, **more})
        return answer

    allowed = fetch(f"http://127.0.0.1:{local}/")
    assert allowed == {"ok": True, "status": 200, "body": "hello through the proxy"}, allowed

    for _ in range(2):
        refused = fetch("http://example.org/")
        assert refused["status"] == 403, refused
        assert 'add "example.org" to "sandbox"' in refused["body"]
    assert waitFor(lambda: REFUSED_LINE in gateway.text())
    told = [line for line in gateway.text().splitlines() if REFUSED_LINE in line]
    assert len([line for line in told if "example.org" in line]) == 1, told
    assert '"allowedDomains"' in told[0]

    own = fetch(f"http://127.0.0.1:{gateway.port}/health")
    assert own["status"] == 403, own
    byName = fetch(f"http://localhost:{local}/")
    assert byName["status"] == 403, byName

    direct = fetch(f"http://127.0.0.1:{local}/", direct=True)
    assert not direct["ok"] and "status" not in direct, direct
    connect = sandboxkit.toolCall(url, "connect", {"port": local})
    assert not connect["ok"], connect

    line = gateway.health()["servers"]["hostile"]
    assert line["network"]["refused"] >= 4, line
    assert "example.org:80" in line["network"]["refusedHosts"]


@pytest.fixture
def account() -> Iterator[sandboxkit.Account]:
    """A throwaway account (as tests/integration/sandbox/test_sandbox_unprivileged.py makes)."""
    if os.geteuid() != 0:
        pytest.skip("making a throwaway account (useradd) needs root; CI runs as root")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("useradd and setpriv (util-linux) are needed")
    made = sandboxkit.Account()
    yield made
    made.remove()


def test_an_unprivileged_gateways_child_reaches_its_allow_list(
    account: sandboxkit.Account, local: int
) -> None:
    """As a person runs it: the proxy's socket, made by an account without
    privileges, is reached from that account's user namespace."""
    sandboxkit.bwrapOrSkip()
    python, path = sandboxkit.gatewayPythonFor(account)
    home = account.home
    (home / "state").mkdir(mode=0o700)
    entry = {
        "command": python,
        "args": [str(sandboxkit.HOSTILE)],
        "sandbox": {"network": {"allowedDomains": [f"127.0.0.1:{local}"]}},
    }
    config = writeConfig(home / "servers.json", {"hostile": entry})
    gateway = account.gateway(python, path, config)
    try:
        url = gateway.url("hostile")
        assert sandboxkit.toolCall(url, "whoami")["uid"] == account.uid
        allowed = sandboxkit.toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert allowed["status"] == 200, (allowed, gateway.text())
        refused = sandboxkit.toolCall(
            url, "fetch", {"url": f"http://127.0.0.1:{gateway.port}/health"}
        )
        assert refused["status"] == 403, refused
    finally:
        gateway.stop()


LANDLOCK_PROGRAM = """
import json, os, socket, sys
def attempt(port):
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        return "ok"
    except OSError as e:
        return e.errno
print(json.dumps({"proxy": attempt(int(sys.argv[1])), "other": attempt(int(sys.argv[2])),
                  "variable": os.environ.get("HTTPS_PROXY")}))
"""


def test_under_landlock_a_child_connects_to_its_proxy_port_only(home: Path) -> None:
    """Where bubblewrap cannot run (Landlock from ABI 4): TCP connect to the
    proxy's loopback port only, and the variables pointing at it."""
    from mcpgateway.sandbox.probe import landlockAbi

    version, why = landlockAbi()
    if version < 4:
        pytest.skip(f"Landlock network rules need ABI 4 (here: {version or why})")
    proxy, other = sandboxkit.Listener(), sandboxkit.Listener()
    request = {
        "server": "ll",
        "mechanism": "landlock",
        "landlock": version,
        "command": sys.executable,
        "cwd": str(home),
        "gatewayCwd": str(home),
        "home": str(home),
        "stateDir": str(home / "state"),
        "network": {"mode": "allow", "allowedDomains": ["x.org"], "proxyPort": proxy.port},
        "profile": {},
        "interpreter": sys.executable,
        "interpreterPaths": [p for p in sys.path if p.startswith("/")],
    }
    argv = [sys.executable, "-c", LANDLOCK_PROGRAM, str(proxy.port), str(other.port)]
    try:
        done = sandboxkit.launch(request, argv, home, home, {})
    finally:
        proxy.close()
        other.close()
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == {
        "proxy": "ok",
        "other": errno.EACCES,
        "variable": f"http://127.0.0.1:{proxy.port}",
    }


def registryReachable() -> bool:
    try:
        with socket.create_connection(("registry.npmjs.org", 443), 5):
            return True
    except OSError:
        return False


def test_an_npx_server_installs_through_the_proxy(home: Path, start: Starter) -> None:
    sandboxkit.bwrapOrSkip()
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx not found")
    if not registryReachable():
        pytest.skip("the npm registry is not reachable from this machine")
    config = writeConfig(
        home / "servers.json",
        {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}},
    )
    gateway = start("--config", str(config), "--sandbox", "auto", "--no-resolve")
    assert "read_graph" in sandboxkit.toolNames(gateway.url("memory"))
    # its own cache, empty at its first start: npx downloaded into it (never the user's ~/.npm)
    assert list((home / "state" / "caches").glob("memory-*/npm/cache/_npx"))
    assert not (home / ".npm").exists()
    assert REFUSED_LINE not in gateway.text()
    # its only way out was its proxy socket
    assert gateway.health()["servers"]["memory"]["network"]["refused"] == 0
