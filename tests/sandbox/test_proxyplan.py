"""A child with an allow list behind the gateway's proxy: the gateway
names its socket in the request (bubblewrap only), the launcher binds the
socket and the forwarder into the sandbox, runs the forwarder first and
sets the variables clients read."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.logger import LogLevel

from mcpgateway.core.spec import EntryOrigin
from mcpgateway.sandbox import landlock, proxyplan
from mcpgateway.sandbox.bwrap import STDOUT_HANDOVER
from mcpgateway.sandbox.launch import plan
from tests.fakes import capturedGatewayLogs
from tests.support.sandbox.confine import ARGV, ENV, requestOf, sandbox, spec
from tests.support.sandbox.layout import request, tree
from tests.support.sandbox.proxyplan import FakeProxy, allowing

COMMAND = ["/usr/bin/node", "server.js"]
URL = f"http://127.0.0.1:{proxyplan.PORT}"


def test_a_child_with_an_allow_list_is_given_its_servers_proxy_socket() -> None:
    proxy = FakeProxy()
    box = sandbox(proxy=proxy)
    box.found = {"mechanism": "bwrap"}
    asked = requestOf(box.command(allowing("api.x.org", denied=("bad.x.org",)), ARGV, ENV) or [])
    assert asked["network"]["proxy"] == "/run/gw/n.sock" and "proxyPort" not in asked["network"]
    assert proxy.asked == [("n", ("api.x.org",), ("bad.x.org",))]
    npx = requestOf(box.command(spec("m", command="npx"), ARGV, ENV) or [])
    assert npx["network"]["proxy"] == "/run/gw/m.sock"
    assert proxy.asked[-1] == ("m", ("registry.npmjs.org",), ())


def test_no_socket_without_an_allow_list_without_a_proxy_or_under_landlock() -> None:
    proxy = FakeProxy()
    box = sandbox(proxy=proxy)
    for entry in (spec(), spec("h", sandbox={"network": "host"})):
        assert "proxy" not in requestOf(box.command(entry, ARGV, ENV) or [])["network"]
    assert (
        "proxy" not in requestOf(sandbox().command(allowing("x.org"), ARGV, ENV) or [])["network"]
    )
    box.found = {"mechanism": "landlock", "landlock": {"abi": 3}}
    assert "proxy" not in requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert proxy.asked == []


def test_under_landlock_from_abi_4_a_child_gets_a_loopback_port_instead() -> None:
    proxy = FakeProxy()
    box = sandbox(proxy=proxy)
    box.found = {"mechanism": "landlock", "landlock": {"abi": 4}}
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert network["proxyPort"] == 40000 and "proxy" not in network
    assert proxy.asked == [("n", ("x.org",), ())]


def test_the_landlock_launcher_allows_connect_to_the_proxys_port_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restricted: list[tuple[int, str, dict[str, Any]]] = []

    def restrict(paths: Any, abi: int, net: str, **extra: Any) -> None:
        restricted.append((abi, net, extra))

    monkeypatch.setattr(landlock, "restrict", restrict)
    tree(tmp_path)
    network = {"mode": "allow", "allowedDomains": ["x.org"], "proxyPort": 40000}
    asked = request(tmp_path, mechanism="landlock", landlock=4, network=network)
    _, argv, env = plan(asked, COMMAND, {"ALL_PROXY": "socks5://h:1"})
    assert argv == COMMAND and env["HTTPS_PROXY"] == "http://127.0.0.1:40000"
    assert "ALL_PROXY" not in env and env["npm_config_https_proxy"] == "http://127.0.0.1:40000"
    old = request(tmp_path, mechanism="landlock", landlock=3, network=network)
    _, _, oldEnv = plan(old, COMMAND, {})
    assert "HTTPS_PROXY" not in oldEnv
    assert restricted == [(4, "allow", {"proxyPort": 40000}), (3, "allow", {})]


def test_a_proxied_allow_list_is_news_and_a_weaker_or_unenforced_one_a_warning() -> None:
    proxied, byPort, old = (sandbox(proxy=FakeProxy()) for _ in range(3))
    byPort.found = {"mechanism": "landlock", "landlock": {"abi": 7}}
    old.found = {"mechanism": "landlock", "landlock": {"abi": 3}}
    with capturedGatewayLogs() as events:
        for box in (proxied, byPort, old):
            box.command(allowing("x.org"), ARGV, ENV)
    told = [e for e in events if e.get("server") == "n"]
    assert [e["log_level"] for e in told] == [LogLevel.info, LogLevel.warn, LogLevel.warn]
    assert "through the gateway's network proxy" in told[0]["log_format"]
    assert "UDP and TCP Fast Open still go out" in told[1]["more"]  # no filter found
    assert told[2]["how"].startswith("under Landlock before ABI 4")


def test_under_landlock_with_the_filter_only_the_port_is_said() -> None:
    """The filter refuses UDP and TCP Fast Open behind the proxy's port."""
    byPort = sandbox(proxy=FakeProxy())
    byPort.found = {"mechanism": "landlock", "landlock": {"abi": 7}, "seccomp": {"works": True}}
    with capturedGatewayLogs() as events:
        byPort.command(allowing("x.org"), ARGV, ENV)
    [told] = [e for e in events if e.get("server") == "n"]
    assert told["more"] == "" and "that port number on any host" in told["log_format"]


def test_the_servers_proxy_line_for_health() -> None:
    assert sandbox(proxy=FakeProxy()).networkStatus("n") == {
        "open": 0,
        "refused": 1,
        "refusedHosts": ["x:443"],
    }
    assert sandbox(proxy=FakeProxy()).networkStatus("other") is None
    assert sandbox().networkStatus("n") is None


def bwrapRequest(tmp_path: Path, network: dict[str, Any]) -> dict[str, Any]:
    """The launcher's request for a bubblewrap child with C{network}, in a
    tree made under C{tmp_path}."""
    tree(tmp_path)
    return request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", network=network)


def test_the_launcher_runs_the_forwarder_in_a_network_of_its_own(tmp_path: Path) -> None:
    asked = bwrapRequest(
        tmp_path, {"mode": "allow", "allowedDomains": ["x.org"], "proxy": "/run/gw/n.sock"}
    )
    environ = {"ALL_PROXY": "socks5://host:1080", "NO_PROXY": "x.org", "PATH": "/usr/bin"}
    _, argv, env = plan(asked, COMMAND, environ)
    assert "--unshare-net" in argv
    assert "ALL_PROXY" not in env and "NO_PROXY" not in env
    end = argv.index("--")
    python = os.path.realpath(sys.executable)
    assert argv[end + 1 :] == [
        *STDOUT_HANDOVER,
        python, "-I", "-S", proxyplan.FORWARDER, str(proxyplan.PORT), proxyplan.SOCKET, "--",
        *COMMAND,
    ]  # fmt: skip
    options = argv[:end]
    set = {options[i + 1]: options[i + 2] for i, o in enumerate(options) if o == "--setenv"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "npm_config_proxy"):
        assert set[name] == URL
    assert set["NO_PROXY"] == "" and set["NODE_USE_ENV_PROXY"] == "1"
    assert "ALL_PROXY" not in set
    socket = options.index("/run/gw/n.sock")
    assert options[socket - 1 : socket + 2] == ["--bind", "/run/gw/n.sock", proxyplan.SOCKET]
    forwarder = options.index(proxyplan.FORWARDER)
    assert options[forwarder - 2] == "--ro-bind"
    assert options[forwarder - 1].endswith("mcpgateway/sandbox/forward.py")
    # its mounts come after the private directories, so no tmpfs hides them
    assert forwarder > max(i for i, o in enumerate(options) if o == "--tmpfs")


def test_without_a_socket_an_allow_list_shares_the_host_network(tmp_path: Path) -> None:
    asked = bwrapRequest(tmp_path, {"mode": "allow", "allowedDomains": ["x.org"]})
    _, argv, _ = plan(asked, COMMAND, {})
    assert "--unshare-net" not in argv and argv[-7:] == ["--", *STDOUT_HANDOVER, *COMMAND]


def test_the_interpreter_outside_the_system_is_bound_read_only() -> None:
    python, prefix = proxyplan.interpreter()
    assert python == os.path.realpath(sys.executable)
    if prefix is not None:
        network, _ = proxyplan.plan("/s.sock", COMMAND)
        assert (prefix, prefix) in network.readOnly


def test_a_client_that_ignores_the_proxy_is_explained() -> None:
    line = "Error: getaddrinfo EAI_AGAIN api.x.org"
    note = sandbox(proxy=FakeProxy()).explain(allowing("api.x.org"), line, ENV)
    assert note is not None and "only through the gateway's proxy" in note
    assert "api.x.org" in note and "HTTP(S)_PROXY" in note
    landlocked = sandbox(proxy=FakeProxy())
    landlocked.found = {"mechanism": "landlock", "landlock": {"abi": 7}}
    assert landlocked.explain(allowing("api.x.org"), line, ENV) is None


def test_an_npx_child_may_reach_the_registry_its_environment_names() -> None:
    environ = {**ENV, "npm_config_registry": "https://npm.example.com/"}
    asked = requestOf(sandbox().command(spec(command="npx"), ARGV, environ) or [])
    assert asked["network"]["allowedDomains"] == ["registry.npmjs.org", "npm.example.com"]
    named = requestOf(sandbox().command(allowing("x.org"), ARGV, environ) or [])
    assert named["network"]["allowedDomains"] == ["x.org"]  # an entry's own list is its own


def test_a_repositorys_entry_names_no_registry_through_its_own_env() -> None:
    """A registry is a host the child may reach: a repository's entry that
    sets npm's registry variables in its own env reaches no more for it;
    the registries of your environment still count for it, and your own
    entry's env names registries as ever."""
    repository = dataclasses.replace(
        spec(command="npx"),
        env=(
            ("npm_config_registry", "https://evil.example/"),
            ("npm_config_@x:registry", "https://evil2.example/"),
        ),
        origin=EntryOrigin("/home/u/clone/.mcp.json", "/home/u/clone", "d1"),
    )
    environ = {
        **ENV,
        "npm_config_registry": "https://evil.example/",
        "npm_config_@x:registry": "https://evil2.example/",
        "npm_config_@acme:registry": "https://npm.acme.internal/",  # yours
    }
    asked = requestOf(sandbox().command(repository, ARGV, environ) or [])
    assert asked["network"]["allowedDomains"] == ["registry.npmjs.org", "npm.acme.internal"]
    yours = dataclasses.replace(repository, origin=None)
    asked = requestOf(sandbox().command(yours, ARGV, environ) or [])
    assert set(asked["network"]["allowedDomains"]) == {
        "registry.npmjs.org",
        "evil.example",
        "evil2.example",
        "npm.acme.internal",
    }
