"""C{--self-service}: the built-in C{gateway} server is in every set of
servers the gateway is handed, from no file; its child gets the gateway's
URL (once it listens), a token of its own and the registry, never the
gateway's API token; it is refused where it cannot work, and withheld from
principals that are no admins."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.python import usage

from mcpgateway import selfservice, tap
from mcpgateway.config.servers import parseEntry
from mcpgateway.httpbase.principal import VIA_TOKEN, Principal
from mcpgateway.registry import client as registryclient
from mcpgateway.runtime import interpreter
from mcpgateway.startup import selfservice as service
from mcpgateway.startup.selfservice import BuiltinServer, selfServiceOf
from mcpgateway.startup.teamoptions import checkSelfService
from mcpgateway.startup.wiring import GatewayReload
from mcpgateway.web.plumbing.auth import AuthGate
from tests.fakes import FakeProcessReactor, capturedGatewayLogs

ENDPOINT = "tcp:0:interface=127.0.0.1"


def test_the_variable_names_are_those_the_program_reads() -> None:
    assert service.SERVER_NAME == selfservice.SERVER_NAME == "gateway"
    assert service.URL_ENV == selfservice.URL_ENV
    assert service.TOKEN_ENV == selfservice.TOKEN_ENV
    assert service.REGISTRY_ENV == selfservice.REGISTRY_ENV
    assert service.GATEWAY_REGISTRY_ENV == registryclient.REGISTRY_ENV


def test_the_entry_runs_the_package_with_the_url_token_and_registry() -> None:
    built = BuiltinServer(ENDPOINT, {"MCPGATEWAY_REGISTRY": "http://127.0.0.1:8765"}, token="t")
    assert built.url is None
    assert service.URL_ENV not in built.entry()["env"]
    built.listening(45123, "127.0.0.1")
    entry = built.entry()
    assert [entry["command"], *entry["args"]] == list(
        interpreter.command("-m", "mcpgateway.selfservice")
    )
    assert entry["env"] == {
        service.URL_ENV: "http://127.0.0.1:45123",
        service.TOKEN_ENV: "t",
        service.REGISTRY_ENV: "http://127.0.0.1:8765",
    }
    assert entry["share"] == "global"


def test_the_server_is_confined_but_reaches_the_gateway_and_the_registry() -> None:
    built = BuiltinServer(ENDPOINT, {}, token="t")
    built.listening(45123, "127.0.0.1")
    profile = built.spec().sandbox
    assert profile.confined("off") and profile.confined("auto")
    assert profile.network.mode == "host"


@pytest.mark.parametrize(
    ("endpoint", "interface", "url"),
    [
        ("tcp:9100:interface=127.0.0.1", None, "http://127.0.0.1:9100"),
        ("tcp:9100:interface=0.0.0.0", "0.0.0.0", "http://127.0.0.1:9100"),
        ("tcp6:9100:interface=\\:\\:1", "::1", "http://[::1]:9100"),
        ("ssl:9443:privateKey=k.pem", "0.0.0.0", "https://127.0.0.1:9443"),
    ],
)
def test_the_url_is_where_the_gateway_listens_on_this_host(
    endpoint: str, interface: str | None, url: str
) -> None:
    built = BuiltinServer(endpoint, {})
    built.listening(int(url.rsplit(":", 1)[1]), interface)
    assert built.url == url


def test_every_gateway_mints_its_own_token_never_the_api_token() -> None:
    environ = {"MCPGATEWAY_API_TOKEN": "the-api-token"}
    first, second = BuiltinServer(ENDPOINT, environ), BuiltinServer(ENDPOINT, environ)
    assert first.token != second.token and len(first.token) >= 40
    assert "the-api-token" not in json.dumps(first.entry())


def test_the_spec_is_one_shared_child_that_waits_for_the_person() -> None:
    built = BuiltinServer("tcp:9100:interface=127.0.0.1", {})
    spec = built.spec()
    assert spec.name == "gateway" and spec.mode == "global" and spec.pinned
    assert spec.requestTimeout == 600.0 and spec.requestTimeoutDeclared
    assert spec.executable == sys.executable
    assert spec == built.spec()  # a reload finds it unchanged: its child stays


def test_it_takes_the_name_from_a_configured_server() -> None:
    built = BuiltinServer("tcp:9100:interface=127.0.0.1", {})
    mine = parseEntry("gateway", {"command": sys.executable}, {})
    other = parseEntry("other", {"command": sys.executable}, {})
    with capturedGatewayLogs() as logged:
        first = built.withBuiltin({"gateway": mine, "other": other})
        second = built.withBuiltin({"gateway": mine})
    assert first == {"gateway": built.spec(), "other": other}
    assert second == {"gateway": built.spec()}
    warnings = [e for e in logged if "is not served" in str(e.get("log_format", ""))]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"self-service": 1, "cluster-key-file": "/k", "endpoint": "tcp:1"}, "one replica"),
        ({"self-service": 1, "endpoint": "unix:/tmp/g.sock"}, "needs a TCP --port"),
    ],
)
def test_it_is_refused_where_it_cannot_work(options: dict[str, Any], why: str) -> None:
    with pytest.raises(usage.UsageError) as refused:
        checkSelfService(options)
    assert why in str(refused.value)
    checkSelfService({**options, "self-service": 0})


def test_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = tap.Options()
    options.parseOptions(["--state-dir", str(tmp_path)])
    assert not options["self-service"] and selfServiceOf(options) is None
    options = tap.Options()
    options.parseOptions(["--self-service", "--state-dir", str(tmp_path)])
    made = selfServiceOf(options)
    assert made is not None and made.url == "http://127.0.0.1:9100"
    with pytest.raises(SystemExit):
        tap.Options().parseOptions(["--self-service", "--port", "unix:/tmp/g.sock"])
    assert "needs a TCP --port" in capsys.readouterr().err


def test_principals_that_are_no_admins_are_refused_it() -> None:
    gate = AuthGate(None, Clock(), None, None, lambda: [])
    BuiltinServer(ENDPOINT, {}).guard(gate)
    BuiltinServer(ENDPOINT, {}).guard(None)  # no authentication: nothing to guard
    assert gate.adminOnly == frozenset({"gateway"})
    alice = Principal("alice", "k", VIA_TOKEN)
    admin = Principal("root", "r", VIA_TOKEN, admin=True)
    assert gate.allowed(admin, "gateway") == admin
    refused = gate.allowed(alice, "gateway")
    assert not isinstance(refused, Principal) and refused.status == 403
    narrowed = gate.allowed(alice, "github")
    assert isinstance(narrowed, Principal)
    assert narrowed.mayUse("github") and not narrowed.mayUse("gateway")


class RecordingGateway:
    def __init__(self) -> None:
        self.handed: list[dict[str, Any]] = []
        self.reconfigurer = self

    def reconfigure(self, specs: dict[str, Any]) -> Any:
        self.handed.append(specs)
        return succeed(None)


def test_every_reload_serves_it() -> None:
    built = BuiltinServer("tcp:9100:interface=127.0.0.1", {})
    reload = GatewayReload(5.0, built)
    recorder = RecordingGateway()
    reload.gateway = recorder  # type: ignore[assignment]
    other = parseEntry("other", {"command": sys.executable}, {})
    reload({"other": other})
    reload({})
    assert [sorted(specs) for specs in recorder.handed] == [["gateway", "other"], ["gateway"]]
    assert recorder.handed[1]["gateway"].requestTimeout == 600.0  # not --request-timeout's


def test_a_gateway_started_with_it_serves_it_with_its_listening_url(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
    config.write_text(json.dumps({"mcpServers": {"demo": demo}}))
    options = tap.Options()
    state = str(tmp_path / "st")
    options.parseOptions(
        ["--port", "9311", "--config", str(config), "--state-dir", state, "--self-service"]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    [gateway] = [s.gateway for s in top if type(s).__name__ == "GatewayService"]  # type: ignore[attr-defined]
    top.startService()
    try:
        assert sorted(gateway.pools) == ["demo", "gateway"]
        env = dict(gateway.pools["gateway"].spec.env)
        assert env[service.URL_ENV] == "http://127.0.0.1:9311"
        assert (tmp_path / "st" / "servers.json").exists() is False  # never written to a file
        assert '"gateway"' not in config.read_text()
    finally:
        top.stopService()
