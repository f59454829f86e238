"""C{sandbox check}, C{sandbox show} and C{doctor} describe the running
gateway's sandbox, as it answers C{GET /api/v1/sandbox} (a fake answer),
not what this shell's C{PATH} would give: here the gateway runs bubblewrap
while the probe from this process finds only Landlock. With no gateway, or
one that does not say, they probe here, and say so."""

from __future__ import annotations

import json
import os
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.sandboxfacts import HERE, SandboxFacts, sandboxFacts
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.ownertoken import loadOwnerToken
from mcpgateway.sandbox import probe
from tests.cli.support import Cli, check, writeState
from tests.support.cli.http import FakeOpener

GATEWAYS: dict[str, Any] = {
    "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0", "works": True, "error": None},
    "landlock": {"abi": 7, "error": None},
    "root": False,
    "mechanism": "bwrap",
}
"""What the gateway's probe found, with its PATH."""
HERES: dict[str, Any] = {
    "bwrap": {"path": None, "works": False, "error": "bwrap is not installed"},
    "landlock": {"abi": 7, "error": None},
    "root": False,
    "mechanism": "landlock",
}
"""What the probe finds from this shell, whose PATH has no bwrap."""
PID = os.getpid()
ANSWER = {"pid": PID, "mode": "auto", "mechanism": "bwrap", "probe": GATEWAYS}


@pytest.fixture(autouse=True)
def here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "probe", lambda path=None: dict(HERES))


def answering(ctx: CliContext, stateDir: Path, answer: Any, **state: Any) -> FakeOpener:
    """This process as the running gateway (state.json), which answers
    C{GET /api/v1/sandbox} with C{answer} (an exception: it fails so)."""
    writeState(stateDir, PID, 9100, **{"sandbox": "auto", **state})
    opener = FakeOpener({"/api/v1/sandbox": answer, "/health": {"servers": {}}})
    ctx.http = GatewayClient(opener, environ={})
    return opener


def config(home: Path) -> Path:
    path = home / "servers.json"
    path.write_text(json.dumps({"mcpServers": {"srv": {"command": "/usr/bin/node"}}}))
    return path


def test_check_says_the_running_gateways_mechanism(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    opener = answering(ctx, stateDir, ANSWER)
    token = loadOwnerToken(stateDir)
    code, out, _ = cli("sandbox", "check")
    assert code == 0
    assert out.splitlines() == [
        f"the running gateway (pid {PID}) uses bubblewrap (--sandbox auto)",
        "bubblewrap: works (0.8.0, /usr/bin/bwrap)",
        "Landlock: ABI 7",
        "confined children run in bubblewrap",
    ]
    [(method, url, headers, _, timeout)] = opener.requests
    assert (method, url) == ("GET", "http://127.0.0.1:9100/api/v1/sandbox")
    assert timeout >= 10  # a gateway that never probed probes first
    assert headers["mcp-gateway-owner"] == token  # the state directory's owner
    _, out, _ = cli("sandbox", "check", "--json")
    document = json.loads(out)
    assert document["mechanism"] == "bwrap" and document["bwrap"] == GATEWAYS["bwrap"]
    assert document["source"]["gateway"] == PID and document["source"]["mode"] == "auto"


def test_check_says_a_gateway_off_confines_only_the_servers_that_ask(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    answering(ctx, stateDir, {**ANSWER, "mode": "off"}, sandbox="off")
    _, out, _ = cli("sandbox", "check")
    assert out.splitlines()[0] == (
        f"the running gateway (pid {PID}) uses bubblewrap for the servers whose entry asks"
        " (--sandbox off)"
    )


def test_check_without_a_gateway_says_it_probed_from_this_shell(cli: Cli) -> None:
    code, out, _ = cli("sandbox", "check")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"no gateway running: {HERE}"
    assert lines[-1].startswith("confined children are confined with Landlock")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (
            urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
            "no answer from http://127.0.0.1:9100/api/v1/sandbox: connection refused",
        ),
        ({**ANSWER, "mechanism": "auto", "probe": None}, "its probe has not answered yet"),
        ({**ANSWER, "mode": None, "mechanism": None, "probe": None}, "it has no sandbox"),
        ({**ANSWER, "mechanism": "chroot"}, "it answered something else"),
        ([1, 2], "it answered something else"),
    ],
)
def test_a_gateway_that_does_not_say_is_named_and_the_probe_runs_here(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli, answer: Any, why: str
) -> None:
    answering(ctx, stateDir, answer)
    _, out, _ = cli("sandbox", "check")
    lines = out.splitlines()
    assert lines[0] == (
        f"the running gateway (pid {PID}) did not say which sandbox it uses ({why}): {HERE}"
    )
    assert lines[-1].startswith("confined children are confined with Landlock")


def test_show_uses_the_running_gateways_mechanism_and_its_bwrap(
    stateDir: Path, home: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    answering(ctx, stateDir, ANSWER, config=str(config(home)))
    code, out, _ = cli("sandbox", "show", "srv")
    assert code == 0
    assert out.splitlines()[1] == f"mechanism: bubblewrap (the running gateway's, pid {PID})"
    _, out, _ = cli("sandbox", "show", "srv", "--json")
    document = json.loads(out)
    assert document["mechanism"] == "bwrap" and document["command"][0] == "/usr/bin/bwrap"
    assert document["source"]["gateway"] == PID


def test_show_without_a_gateway_says_it_probed_from_this_shell(home: Path, cli: Cli) -> None:
    _, out, _ = cli("sandbox", "show", "srv", "--config", str(config(home)))
    assert out.splitlines()[1] == f"mechanism: Landlock (no gateway running: {HERE})"


def test_doctor_says_the_running_gateways_mechanism(
    stateDir: Path, locked: None, ctx: CliContext
) -> None:
    answering(ctx, stateDir, ANSWER)
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "pass"
    assert result.message == (
        f"Sandbox: the running gateway (pid {PID}) confines its children with bubblewrap"
    )


def test_doctor_says_when_it_probed_from_this_shell(
    stateDir: Path, locked: None, ctx: CliContext
) -> None:
    answering(ctx, stateDir, urllib.error.URLError(TimeoutError()))
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "info"
    assert result.message.startswith("Sandbox: children are confined with Landlock")
    assert result.message.endswith(
        "(found from this shell: the running gateway did not say: no answer from"
        " http://127.0.0.1:9100/api/v1/sandbox: timed out)"
    )


def test_facts_follow_a_named_mechanism_only_when_probed_here() -> None:
    found = GatewayProbe(Path("/nowhere"), None)
    facts = sandboxFacts(CliContext(), found, "bubblewrap")
    assert facts == SandboxFacts(HERES, "bwrap")
    assert sandboxFacts(CliContext(), found).mechanism == "landlock"
