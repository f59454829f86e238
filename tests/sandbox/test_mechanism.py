"""The gateway's choice of mechanism (C{--sandbox bubblewrap|landlock}),
what each mechanism does not confine here (its gaps, in the probe's
answer and the gateway's log line), the gateway's own files in every
request, both ways to the proxy before the probe answered, and the
temporary directory of a Landlock child removed once it ended."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import LogLevel

from mcpgateway.sandbox import childtmp, gaps, mechanisms, probe, seccomp
from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.detect import SandboxService
from tests.fakes import HandThreads, capturedGatewayLogs
from tests.support.sandbox.childtmp_removals import recordedRemovals
from tests.support.sandbox.confine import ARGV, ENV, requestOf, sandbox, sandboxEvents, spec
from tests.support.sandbox.proxyplan import FakeProxy, allowing

BWRAP_FAILS: dict[str, Any] = {
    "mechanism": "landlock",
    "bwrap": {"path": "/usr/bin/bwrap", "works": False, "error": "setting up uid map: denied"},
    "landlock": {"abi": 6, "error": None},
    "gaps": {"bwrap": [], "landlock": ["no pid namespace", "UDP goes out"]},
}
NOTHING: dict[str, Any] = {
    "mechanism": "none",
    "bwrap": {"path": None, "works": False, "error": "bwrap is not installed"},
    "landlock": {"abi": 0, "error": "Landlock needs Linux 5.13"},
}
BWRAP_WORKS: dict[str, Any] = {
    "mechanism": "bwrap",
    "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0", "works": True},
    "landlock": {"abi": 7, "error": None},
    "gaps": {"bwrap": ["a root gateway's children keep uid 0"], "landlock": []},
}


def probed(box: Sandbox, found: dict[str, Any]) -> list[Any]:
    """C{box}'s probe answers C{found}: the sandbox's log events."""
    box.prober = lambda: succeed(found)
    with capturedGatewayLogs() as events:
        box.detect()
    return sandboxEvents(events)


# -- --sandbox bubblewrap|landlock --------------------------------------------------------


@pytest.mark.parametrize(("mode", "mechanism"), [("bubblewrap", "bwrap"), ("landlock", "landlock")])
def test_a_named_mechanism_is_every_requests_from_the_first_child_on(
    mode: str, mechanism: str
) -> None:
    box = sandbox(mode)
    assert box.mechanism == mechanism  # before the probe answered
    request = requestOf(box.command(spec(), ARGV, ENV) or [])
    assert request["mechanism"] == mechanism
    assert request["bwrap"] is None and request["landlock"] == 0  # the launcher finds them
    assert box.command(spec(sandbox=False), ARGV, ENV) is None  # as auto: the entry decides
    for found in (BWRAP_FAILS, NOTHING, BWRAP_WORKS):
        box.found = found
        assert requestOf(box.command(spec(), ARGV, ENV) or [])["mechanism"] == mechanism


def test_a_named_mechanism_that_works_gives_its_path_and_abi() -> None:
    box = sandbox("bubblewrap")
    probed(box, BWRAP_WORKS)
    request = requestOf(box.command(spec(), ARGV, ENV) or [])
    assert (request["mechanism"], request["bwrap"]) == ("bwrap", "/usr/bin/bwrap")
    box = sandbox("landlock")
    probed(box, BWRAP_WORKS)  # bubblewrap works too: Landlock all the same
    request = requestOf(box.command(spec(), ARGV, ENV) or [])
    assert (request["mechanism"], request["landlock"]) == ("landlock", 7)


@pytest.mark.parametrize(
    ("mode", "found", "why"),
    [
        ("bubblewrap", BWRAP_FAILS, "setting up uid map: denied"),
        ("bubblewrap", NOTHING, "bwrap is not installed"),
        ("landlock", NOTHING, "Landlock needs Linux 5.13"),
    ],
)
def test_a_named_mechanism_that_does_not_work_here_is_an_error_saying_why(
    mode: str, found: dict[str, Any], why: str
) -> None:
    box = sandbox(mode)
    [event] = probed(box, found)
    assert event["log_level"] == LogLevel.error and event["why"] == why
    assert "fail to start" in event["log_format"] and "never run unconfined" in event["log_format"]
    assert box.mechanism == mechanisms.FORCED[mode]  # never none: the launcher refuses (126)


def test_a_named_mechanism_that_works_is_told_with_its_gaps() -> None:
    [event] = probed(sandbox("landlock"), BWRAP_FAILS)
    assert event["log_level"] == LogLevel.info and event["abi"] == 6
    assert event["gaps"] == ["no pid namespace", "UDP goes out"]
    assert "not confined here: no pid namespace; UDP goes out" in event["unconfined"]


def test_the_mechanism_auto_chose_is_told_with_its_gaps() -> None:
    [event] = probed(sandbox("auto"), BWRAP_WORKS)
    assert event["log_level"] == LogLevel.info and event["gaps"] == [
        "a root gateway's children keep uid 0"
    ]
    assert event["unconfined"] == "; not confined here: a root gateway's children keep uid 0"
    [event] = probed(sandbox("auto"), BWRAP_FAILS)
    assert event["log_level"] == LogLevel.warn and event["gaps"] == BWRAP_FAILS["gaps"]["landlock"]
    [event] = probed(sandbox("auto"), {**BWRAP_WORKS, "gaps": {"bwrap": []}})
    assert event["unconfined"] == ""  # nothing left out: nothing said


@pytest.mark.parametrize("mode", ["auto", "bubblewrap", "landlock"])
def test_the_service_probes_whenever_every_server_is_confined(mode: str) -> None:
    started: list[int] = []

    def prober() -> Deferred[dict[str, Any]]:
        started.append(1)
        return Deferred()

    SandboxService(Sandbox(mode, "/s", prober=prober)).startService()
    assert started == [1]


def test_the_probe_says_each_mechanisms_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(
        probe,
        "bwrapWorks",
        lambda path=None, searchPath=None: {"works": True, "disableUserns": False},
    )
    monkeypatch.setattr(probe, "landlockAbi", lambda: (3, None))
    monkeypatch.setattr(seccomp, "status", lambda: {"works": False, "error": "missing"})
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(gaps, "procHidesOthers", lambda: True)
    found = probe.probe()
    assert found["gaps"] == {
        "bwrap": gaps.bwrapGaps({"works": True, "disableUserns": False}, False, True),
        "landlock": gaps.landlockGaps(False, 3, True, True),
        "neither": gaps.neitherGaps(8192),
    }
    assert gaps.ROOT in found["gaps"]["bwrap"] and gaps.ROOT in found["gaps"]["landlock"]
    assert "hidepid" in found["gaps"]["landlock"][-1]


def test_whether_a_named_mechanism_works_here() -> None:
    assert mechanisms.unworkable(BWRAP_WORKS, "bwrap") is None
    assert mechanisms.unworkable(BWRAP_WORKS, "landlock") is None
    assert mechanisms.unworkable(BWRAP_FAILS, "bwrap") == "setting up uid map: denied"
    assert mechanisms.unworkable(NOTHING, "landlock") == "Landlock needs Linux 5.13"
    assert mechanisms.unworkable({}, "bwrap") == "bubblewrap does not work"


# -- the gateway's own files ---------------------------------------------------------------


def test_the_gateways_own_files_are_in_every_request() -> None:
    box = sandbox(gatewayFiles=["/etc/gw/tokens.json", "/srv/gw/key.pem", "/etc/gw/tokens.json"])
    for entry in (spec(), spec("b", sandbox=True), spec("c", sandbox="learn")):
        request = requestOf(box.command(entry, ARGV, ENV) or [])
        assert request["gatewayFiles"] == ["/etc/gw/tokens.json", "/srv/gw/key.pem"]
    assert requestOf(sandbox().command(spec(), ARGV, ENV) or [])["gatewayFiles"] == []


# -- the proxy before the probe answered ---------------------------------------------------


def test_before_the_probe_answered_a_child_gets_both_the_socket_and_the_port() -> None:
    """Its launcher may fall back to Landlock: it then needs the port, or
    it would share the host's network."""
    proxy = FakeProxy()
    box = sandbox(proxy=proxy)
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert (network["proxy"], network["proxyPort"]) == ("/run/gw/n.sock", 40000)
    assert proxy.asked == [("n", ("x.org",), ()), ("n", ("x.org",), ())]
    box.found = BWRAP_WORKS
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert network["proxy"] == "/run/gw/n.sock" and "proxyPort" not in network


def test_landlock_named_before_the_probe_answered_gets_the_port() -> None:
    box = sandbox("landlock", proxy=FakeProxy())
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert network["proxyPort"] == 40000 and "proxy" not in network
    box.found = {**BWRAP_FAILS, "landlock": {"abi": 3}}  # no network rules here
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert "proxyPort" not in network and "proxy" not in network
    box = sandbox("bubblewrap", proxy=FakeProxy())
    network = requestOf(box.command(allowing("x.org"), ARGV, ENV) or [])["network"]
    assert network["proxy"] == "/run/gw/n.sock" and "proxyPort" not in network


# -- a Landlock child's temporary directory ------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "found"), [("auto", None), ("landlock", None), ("auto", BWRAP_FAILS)]
)
def test_a_landlock_childs_directory_is_removed_off_the_reactor_once_it_ended(
    mode: str, found: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    removed = recordedRemovals(monkeypatch)
    threads = HandThreads()
    box = sandbox(mode, runInThread=threads)
    box.found = found
    ended: Deferred[None] = Deferred()
    box.spawned(spec("srv"), ended, pid=4321)
    assert threads.jobs == []  # nothing while it runs
    seen: list[object] = []
    ended.callback(None)
    ended.addBoth(seen.append)
    assert seen == [None]  # the end goes on to whoever else waits for it
    assert removed == []  # not on the reactor's thread
    threads.runAll()
    assert removed == [("/home/u/.mcpgateway", "srv", 4321)]


def test_no_directory_to_remove_under_bubblewrap_or_without_a_pid() -> None:
    threads = HandThreads()
    box = sandbox("bubblewrap", runInThread=threads)
    ended: Deferred[None] = Deferred()
    box.spawned(spec(), ended, pid=1)
    auto = sandbox(runInThread=threads)
    auto.spawned(spec(), ended)
    ended.callback(None)
    assert threads.jobs == []


def test_a_directory_that_cannot_be_removed_is_logged_and_the_end_goes_on() -> None:
    def failing(f: Any, *args: Any) -> Deferred[Any]:
        return fail(PermissionError(13, "Permission denied"))

    box = sandbox(runInThread=failing)
    ended: Deferred[None] = Deferred()
    box.spawned(spec("srv"), ended, pid=9)
    with capturedGatewayLogs() as events:
        ended.callback(None)
    [event] = [e for e in events if "log_failure" in e]
    assert event["pid"] == 9 and event["server"] == "srv"
    assert event["log_failure"].check(PermissionError)


def test_the_service_sweeps_the_leftovers_in_a_thread_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swept: list[str] = []

    def sweep(stateDir: str) -> list[str]:
        swept.append(stateDir)
        return []

    monkeypatch.setattr(childtmp, "sweep", sweep)
    threads = HandThreads()
    service = SandboxService(sandbox("off", runInThread=threads))
    service.startService()
    assert swept == []
    threads.runAll()
    assert swept == ["/home/u/.mcpgateway"]


def test_a_sweep_that_fails_is_logged_never_raised() -> None:
    box = sandbox(runInThread=lambda f, *args: fail(OSError("EIO")))
    with capturedGatewayLogs() as events:
        done = box.sweep()
    results: list[object] = []
    done.addBoth(results.append)
    assert results == [[]]
    assert any(e.get("log_failure") is not None for e in events)
