"""C{GET /api/v1/sandbox}: the running gateway says which sandbox its
children get, from its own probe (its C{PATH}, not a caller's)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.web.admin.sandboxapi import PROBE_WAIT
from tests.fakes import capturedGatewayLogs
from tests.support.web.api import ApiHarness

FOUND: dict[str, Any] = {
    "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0", "works": True, "error": None},
    "landlock": {"abi": 7, "error": None},
    "root": False,
    "mechanism": "bwrap",
}


class Prober:
    """The gateway's probe, answered when the test says."""

    def __init__(self) -> None:
        self.started: list[Deferred[dict[str, Any]]] = []

    def __call__(self) -> Deferred[dict[str, Any]]:
        probing: Deferred[dict[str, Any]] = Deferred()
        self.started.append(probing)
        return probing


def body(mode: str | None, mechanism: str | None, found: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "mode": mode, "mechanism": mechanism, "probe": found}


def harness(tmp_path: Path, mode: str) -> tuple[ApiHarness, Sandbox, Prober]:
    prober = Prober()
    sandbox = Sandbox(mode, str(tmp_path / "state"), prober=prober)
    return ApiHarness(tmp_path / "state", sandbox=sandbox), sandbox, prober


def test_a_gateway_that_probed_says_its_mechanism_and_what_it_found(tmp_path: Path) -> None:
    h, sandbox, prober = harness(tmp_path, "auto")
    with capturedGatewayLogs():
        sandbox.detect()
        prober.started[0].callback(dict(FOUND))
    response = h.api("GET", "/sandbox")
    assert response.status == 200
    assert response.json() == body("auto", "bwrap", FOUND)
    assert len(prober.started) == 1  # nothing probed again


def test_the_mechanism_the_gateway_was_told_to_use_is_the_one_said(tmp_path: Path) -> None:
    h, sandbox, prober = harness(tmp_path, "landlock")
    with capturedGatewayLogs():
        sandbox.detect()
        prober.started[0].callback(dict(FOUND))
    assert h.api("GET", "/sandbox").json()["mechanism"] == "landlock"


def test_a_gateway_that_never_probed_probes_and_answers_then(tmp_path: Path) -> None:
    """C{--sandbox off} probes at its first confined child: asked first, it
    probes now; its probe's own result goes on to its sandbox."""
    h, sandbox, prober = harness(tmp_path, "off")
    response = h.api("GET", "/sandbox")
    [probing] = prober.started
    assert not response.complete
    with capturedGatewayLogs():
        probing.callback(dict(FOUND))
    assert response.json() == body("off", "bwrap", FOUND)
    assert sandbox.found == FOUND
    assert [c for c in h.reactor.getDelayedCalls() if "ConnectionGuard" not in repr(c)] == []


def test_a_probe_that_does_not_answer_is_waited_for_a_while(tmp_path: Path) -> None:
    h, sandbox, prober = harness(tmp_path, "off")
    response = h.api("GET", "/sandbox")
    h.reactor.advance(PROBE_WAIT - 0.1)
    assert not response.complete
    h.reactor.advance(0.1)
    assert response.json() == body("off", "auto", None)
    with capturedGatewayLogs():
        prober.started[0].callback(dict(FOUND))  # late: the answer is given already
    assert sandbox.found == FOUND


def test_a_gateway_without_a_sandbox_says_so(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state")
    assert h.api("GET", "/sandbox").json() == body(None, None, None)
