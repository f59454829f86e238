"""C{mcpgateway servers edit}: through the running gateway's API, or into
C{servers.json} when none runs; its refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.cli.support import Cli, FakeGateway, api, lastCall

SERVERS = {"servers": [{"name": "memory", "origin": "config"}, {"name": "own", "origin": "api"}]}


def test_a_running_gateway_is_asked_to_edit_and_the_changes_are_printed(
    running: FakeGateway, cli: Cli, stateDir: Path
) -> None:
    api(running, "GET", "/servers", 200, SERVERS)
    api(
        running,
        "PATCH",
        "/servers/memory",
        200,
        {"name": "memory", "edited": "override", "changes": ["env.DEBUG: (unset) -> ***"]},
    )
    code, out, err = cli("servers", "edit", "memory", "--set", 'env.DEBUG="1"', "--unset", "x")
    assert (code, err) == (0, "")
    method, _, _, body = lastCall(running)
    assert (method, body) == ("PATCH", {"set": {"env.DEBUG": "1"}, "unset": ["x"]})
    assert out.splitlines() == [
        f"edited memory (its override in {stateDir / 'servers.json'}):",
        "  env.DEBUG: (unset) -> ***",
        "applied: the gateway reloaded it",
    ]


def test_an_unknown_server_is_refused_listing_the_names(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers", 200, SERVERS)
    code, out, err = cli("servers", "edit", "nope", "--set", "disabled=true")
    assert code == 1 and out == ""
    assert "no server named 'nope' (servers: memory, own)" in err
    assert lastCall(running)[0] == "GET"


def test_bad_json_and_no_change_are_usage_errors(cli: Cli) -> None:
    code, _, err = cli("servers", "edit", "memory", "--set", "env.A=plain")
    assert code == 2 and "the value is not JSON" in err and "--set env.A='\"text\"'" in err
    code, _, err = cli("servers", "edit", "memory")
    assert code == 2 and "nothing to change" in err


def test_without_a_gateway_the_file_is_edited(cli: Cli, stateDir: Path) -> None:
    path = stateDir / "servers.json"
    path.write_text(
        json.dumps({"mcpServers": {"own": {"command": sys.executable}}, "overrides": {}})
    )
    code, out, err = cli("servers", "edit", "own", "--set", 'args=["-m", "x"]', "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["changes"] == ['args: (unset) -> ["-m", "x"]']
    assert json.loads(path.read_text())["mcpServers"]["own"]["args"] == ["-m", "x"]
    code, _, err = cli("servers", "edit", "memory", "--set", "disabled=true")
    assert code == 1
    assert "no server named 'memory' (servers: own)" in err and "start it" in err
    code, _, err = cli("servers", "edit", "own", "--set", 'env={"LD_PRELOAD": "/x"}')
    assert code == 1 and "LD_PRELOAD" in err
