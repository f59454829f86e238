"""The gateway's side: which servers are confined, the launcher's command
line and its request, the probe started once and its findings told once."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox import failures
from mcpgateway.sandbox.request import LAUNCHER, cacheKey
from tests.fakes import capturedGatewayLogs
from tests.support.sandbox.confine import ARGV, ENV, requestOf, sandbox, sandboxEvents, spec


def test_the_gateway_default_decides_unless_the_entry_says() -> None:
    on, off = sandbox("auto"), sandbox("off")
    assert on.command(spec(), ARGV, ENV) is not None and off.command(spec(), ARGV, ENV) is None
    assert on.command(spec(sandbox=False), ARGV, ENV) is None
    assert off.command(spec(sandbox=True), ARGV, ENV) is not None
    assert off.command(spec(sandboxEnabled=True), ARGV, ENV) is not None


def test_the_launcher_runs_isolated_and_the_command_follows_its_request() -> None:
    argv = sandbox().command(spec(), ARGV, ENV)
    assert argv is not None
    assert argv[:4] == [sys.executable, "-I", "-S", LAUNCHER] and argv[-3:] == ARGV
    assert LAUNCHER.endswith("mcpgateway/sandbox/launch.py")


def test_the_request_holds_what_the_launcher_needs_and_no_file_was_read() -> None:
    request = requestOf(sandbox().command(spec(cwd="/w", mode="workspace"), ARGV, ENV) or [])
    assert request["server"] == "a" and request["mechanism"] == "auto"
    assert (request["home"], request["stateDir"]) == ("/home/u", "/home/u/.mcpgateway")
    assert (request["cwd"], request["gatewayCwd"], request["workspace"]) == ("/w", "/", True)
    assert request["network"] == {"mode": "none", "allowedDomains": []}
    assert request["parent"] == 42 and request["interpreter"] == sys.executable
    assert request["profile"]["setting"] == "unset"


def test_an_npx_server_run_as_configured_reaches_its_registry() -> None:
    request = requestOf(sandbox().command(spec(command="npx"), ARGV, ENV) or [])
    assert request["network"] == {"mode": "allow", "allowedDomains": ["registry.npmjs.org"]}


def test_the_other_servers_paths_but_not_this_ones_own_workspace() -> None:
    others = [("a", ("/ws/one", "/usr/bin/node")), ("b", ("/srv/b", "/srv/b/index.js"))]
    box = sandbox(others=lambda: others)
    request = requestOf(box.command(spec(cwd="/ws/one"), ARGV, ENV) or [])
    assert request["others"] == ["/usr/bin/node", "/srv/b", "/srv/b/index.js"]


def test_the_probe_starts_once_and_its_findings_are_used_and_told_once() -> None:
    probes: list[Deferred[dict[str, Any]]] = []

    def prober() -> Deferred[dict[str, Any]]:
        probes.append(Deferred())
        return probes[-1]

    box = sandbox("off", prober=prober)
    assert box.detect() is box.detect() and len(probes) == 1
    box.command(spec(sandbox=True), ARGV, ENV)
    assert len(probes) == 1
    with capturedGatewayLogs() as events:
        probes[0].callback(
            {
                "mechanism": "bwrap",
                "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0", "disableUserns": True},
                "landlock": {"abi": 7},
            }
        )
    [event] = sandboxEvents(events)
    assert event["version"] == "0.8.0" and event["log_level"] == LogLevel.info
    request = requestOf(box.command(spec(sandbox=True), ARGV, ENV) or [])
    assert (request["mechanism"], request["bwrap"], request["disableUserns"]) == (
        "bwrap",
        "/usr/bin/bwrap",
        True,
    )
    assert request["landlock"] == 7


def detected(report: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """A sandbox whose probe finds C{report}: the sandbox and what it logged
    on hearing it."""
    probing: Deferred[dict[str, Any]] = Deferred()
    box = sandbox(prober=lambda: probing)
    box.detect()
    with capturedGatewayLogs() as events:
        probing.callback(report)
    return box, events


def test_with_nothing_that_works_one_warning_names_what_is_missing() -> None:
    box, events = detected(
        {
            "mechanism": "none",
            "bwrap": {"error": "bwrap: setting up uid map: Permission denied"},
            "landlock": {"abi": 0, "error": "Landlock needs Linux 5.13"},
        }
    )
    [event] = sandboxEvents(events)
    assert event["log_level"] == LogLevel.warn and "UNCONFINED" in event["log_format"]
    assert event["bwrap"] == "bwrap: setting up uid map: Permission denied"
    assert box.mechanism == "none"


def test_landlock_instead_of_bubblewrap_is_a_warning_saying_what_is_lost() -> None:
    _, events = detected(
        {"mechanism": "landlock", "bwrap": {"error": "no"}, "landlock": {"abi": 6}}
    )
    [event] = sandboxEvents(events)
    assert event["log_level"] == LogLevel.warn and event["abi"] == 6


def test_a_probe_that_fails_is_tried_again_and_children_probe_themselves_meanwhile() -> None:
    probes: list[Deferred[dict[str, Any]]] = []

    def prober() -> Deferred[dict[str, Any]]:
        probes.append(Deferred())
        return probes[-1]

    box = sandbox(prober=prober)
    box.detect()
    with capturedGatewayLogs():
        probes[0].errback(Failure(OSError("no python")))
    assert box.mechanism == "auto"
    box.detect()
    assert len(probes) == 2


def test_each_thing_worth_telling_of_a_server_is_told_once() -> None:
    team, personal = sandbox(team=True), sandbox()
    with capturedGatewayLogs() as events:
        for _ in range(3):
            team.command(spec(sandbox=False), ARGV, ENV)
            team.command(spec("l", sandbox="learn"), ARGV, ENV)
            team.command(spec("n", sandbox={"network": {"allowedDomains": ["x.org"]}}), ARGV, ENV)
            team.command(spec("h", sandbox={"network": "host"}), ARGV, ENV)
            personal.command(spec(sandbox=False), ARGV, ENV)
    told = [(e["server"], e["log_level"]) for e in sandboxEvents(events)]
    assert told == [
        ("a", LogLevel.warn),
        ("l", LogLevel.warn),
        ("n", LogLevel.warn),
        ("h", LogLevel.info),
        ("a", LogLevel.info),
    ]


def test_a_refusal_is_explained_with_the_childs_home_and_network() -> None:
    note = sandbox().explain(spec(), "Error: getaddrinfo EAI_AGAIN example.org", ENV)
    assert note is not None and "example.org" in note
    assert (
        sandbox().explain(spec(sandbox={"network": "host"}), "getaddrinfo EAI_AGAIN x", ENV) is None
    )


def test_a_socket_refused_as_a_family_is_explained_under_landlock_only() -> None:
    refused = "socket() failed: Address family not supported by protocol (97)"
    host = spec(sandbox={"network": "host"})
    assert sandbox("landlock").explain(host, refused, ENV) == failures.UNIX_REFUSED
    assert sandbox("landlock").explain(spec(), refused, ENV) == failures.IP_REFUSED
    assert sandbox("bubblewrap").explain(host, refused, ENV) is None


def test_a_failure_of_a_data_file_shown_alone_is_told_with_the_entrys_own_words() -> None:
    """Its variable, its option and its server's name come from its entry:
    the fix is one to paste into it."""
    memory = replace(spec("memory"), env=(("MEMORY_FILE_PATH", "/home/u/mem2.jsonl"),))
    busy = (
        "Error: EBUSY: resource busy or locked, rename '/home/u/mem2.jsonl.1a.tmp'"
        " -> '/home/u/mem2.jsonl'"
    )
    told = sandbox().explain(memory, busy, ENV)
    assert told is not None and "~/mem2.jsonl (MEMORY_FILE_PATH) on its own" in told
    assert told.endswith("MEMORY_FILE_PATH=/home/u/.local/share/memory/mem2.jsonl")
    sqlite = replace(spec("sq"), args=("mcp-server-sqlite", "--db-path", "/home/u/test.db"))
    readonly = "Database error: attempt to write a readonly database"
    told = sandbox("landlock").explain(sqlite, readonly, ENV)
    assert told is not None and told.endswith("--db-path /home/u/.local/share/sq/test.db")
    assert sandbox().explain(spec("sq"), readonly, ENV) is None  # no database of its own there


def test_a_probe_that_cannot_start_is_told_and_leaves_the_gateway_running() -> None:
    def prober() -> Deferred[dict[str, Any]]:
        raise PermissionError(13, "Permission denied", "/venv/bin/python")

    box = sandbox(prober=prober)
    with capturedGatewayLogs() as events:
        assert box.detect() is None
    [event] = sandboxEvents(events)
    assert "PermissionError" in event["why"] and box.mechanism == "auto"


def test_the_request_says_whether_the_child_gets_the_system_call_filter() -> None:
    filtered = requestOf(sandbox().command(spec(), ARGV, ENV) or [])
    assert filtered["syscalls"] == "filtered"
    unfiltered = spec(sandbox={"syscalls": "unfiltered"})
    assert requestOf(sandbox().command(unfiltered, ARGV, ENV) or [])["syscalls"] == "unfiltered"


@pytest.mark.parametrize(
    ("filtering", "warned"),
    [({"works": False, "error": "libseccomp is not installed"}, True), ({"works": True}, False)],
)
def test_children_confined_without_their_system_call_filter_are_a_warning(
    filtering: dict[str, Any], warned: bool
) -> None:
    _, events = detected(
        {
            "mechanism": "bwrap",
            "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0"},
            "landlock": {"abi": 7},
            "seccomp": filtering,
        }
    )
    told = [e for e in sandboxEvents(events) if "system-call filter" in e["log_format"]]
    assert len(told) == warned
    if warned:
        assert told[0]["log_level"] == LogLevel.warn
        assert told[0]["why"] == "libseccomp is not installed"


def test_each_route_of_a_server_keeps_its_own_launcher_caches() -> None:
    """A server name may have several routes (the user's entry, a
    project's with other arguments, another workspace, another profile):
    each keeps the caches of its own, and the same entry the same ones."""

    def key(server: ServerSpec, argv: list[str] = ARGV) -> str:
        return str(requestOf(sandbox().command(server, argv, ENV) or [])["cacheKey"])

    user = key(spec(command="npx"))
    assert user.startswith("a-") and len(user) == len("a-") + 16
    assert key(spec(command="npx")) == user
    others = [
        key(spec(command="npx"), [*ARGV, "--other"]),
        key(spec(command="npx", cwd="/w/one", mode="workspace")),
        key(spec(command="npx", cwd="/w/two", mode="workspace")),
        key(spec(command="npx", sandbox={"network": "none"})),
        key(replace(spec(command="npx"), env=(("TOKEN", "x"),))),
        key(spec("b", command="npx")),
    ]
    assert len({user, *others}) == 1 + len(others)
    assert cacheKey(spec("../x y/é"), ARGV).startswith("___x_y__-")
