"""C{mcpgateway status} on a team gateway without an
admin's token showed one line ("/sessions answered HTTP 401") and exited 1,
though C{/health} is open; C{--json} said C{"health": null}. Now it shows
what C{/health} tells, says what is not shown and which token shows it, and
exits 0 in both forms."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient
from tests.cli.support import HEALTH, FakeGateway, run

REFUSED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": -32600, "message": "this gateway needs a bearer token"},
}
HIDDEN = {**HEALTH, "detail": "hidden"}


def withToken(environ: dict[str, str]) -> CliContext:
    """The real seams, but the CLI's tokens are C{environ}'s only."""
    return CliContext(http=GatewayClient(environ=environ))


def tokenlessStatus(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, health: Any
) -> str:
    """C{mcpgateway status} without a token, the gateway's /health answering
    C{health} and its /sessions refusing: it succeeds quietly; its output."""
    running.answers["/health"] = (200, health)
    running.answers["/sessions"] = (401, REFUSED)
    code, out, err = run(capsys, stateDir, "status", ctx=withToken({}))
    assert (code, err) == (0, "")
    return out


def test_status_without_a_token_shows_what_health_tells_and_says_what_is_not(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    out = tokenlessStatus(capsys, stateDir, running, HIDDEN)
    lines = out.splitlines()
    assert lines[0] == (
        f"mcpgateway {__version__} running: pid {os.getpid()}, port {running.port}, up 1h 02m"
    )
    assert lines[1] == "  3 servers, 3 children, 231 requests, 3 sessions, 56 MB"
    assert any(line.startswith("  ● context7") and "142 reqs" in line for line in lines)
    assert (
        "  ○ the sessions and what the servers' children wrote not shown: they need an"
        " admin's token (neither MCPGATEWAY_TOKEN nor MCPGATEWAY_API_TOKEN is set); set"
        " MCPGATEWAY_TOKEN to an admin's token (`mcpgateway token new NAME --admin`), or"
        " MCPGATEWAY_API_TOKEN to the gateway's --api-token"
    ) in lines
    assert "  sessions by client not shown (GET /sessions needs an admin's token)" in lines
    assert "answered HTTP 401" not in out


def test_status_json_without_a_token_has_the_health_and_names_what_is_missing(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/health"] = (200, HIDDEN)
    running.answers["/sessions"] = (401, REFUSED)
    code, out, _ = run(capsys, stateDir, "status", "--json", ctx=withToken({}))
    assert code == 0
    document: dict[str, Any] = json.loads(out)
    assert document["health"] == HIDDEN and document["sessions"] is None
    assert "error" not in document
    assert document["notShown"]["parts"] == ["sessions", "detail"]
    assert document["notShown"]["status"] == 401


def test_status_with_a_token_that_is_not_an_admins_says_so(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/health"] = (200, HIDDEN)
    running.answers["/sessions"] = (403, REFUSED)
    code, out, _ = run(capsys, stateDir, "status", ctx=withToken({"MCPGATEWAY_TOKEN": "bob"}))
    assert code == 0
    assert "they need an admin's token (the token sent is not an admin's)" in out
    [(_, _, headers, _), *_] = running.calls
    assert headers["authorization"] == "Bearer bob"


def test_status_with_an_admins_token_shows_everything_and_no_note(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    code, out, _ = run(capsys, stateDir, "status", ctx=withToken({"MCPGATEWAY_TOKEN": "ops"}))
    assert code == 0
    assert "not shown" not in out and "  ○ " not in out
    code, out, _ = run(
        capsys, stateDir, "status", "--json", ctx=withToken({"MCPGATEWAY_TOKEN": "ops"})
    )
    assert json.loads(out)["notShown"] is None


def test_status_still_fails_when_sessions_fail_for_another_reason(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    running.answers["/sessions"] = (500, {"error": "boom"})
    for form in ((), ("--json",)):
        code, out, _ = run(capsys, stateDir, "status", *form, ctx=withToken({}))
        assert code == 1, form
        assert "/sessions answered HTTP 500" in out, form


LIVENESS = {"status": "ok", "detail": "liveness", "hint": "liveness only: ..."}
"""A team gateway's /health to a caller without an admin's token."""


def test_status_on_a_liveness_only_health_says_the_servers_are_not_shown(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    out = tokenlessStatus(capsys, stateDir, running, LIVENESS)
    lines = out.splitlines()
    assert lines[0].startswith(f"mcpgateway {__version__} running: pid {os.getpid()}, port")
    assert lines[1] == (
        "  servers, children, requests and sessions not shown (/health tells only that the"
        " gateway lives)"
    )
    assert "(no servers configured)" not in out and "0 servers" not in out
    assert any(
        line.startswith("  ○ the sessions and the servers not shown: they need an admin's token")
        for line in lines
    )
    code, out, _ = run(capsys, stateDir, "status", "--json", ctx=withToken({}))
    assert code == 0
    assert json.loads(out)["notShown"]["parts"] == ["sessions", "servers"]


def test_doctor_on_a_liveness_only_health_passes_and_says_why_the_servers_are_unchecked(
    stateDir: Path, running: FakeGateway
) -> None:
    from mcpgateway.cli.doctor import runChecks

    running.answers["/health"] = (200, LIVENESS)
    results = dict(runChecks(stateDir, withToken({})))
    assert results["health"].status == "pass"
    assert results["health"].message == (
        "Health endpoint OK (liveness only: the servers are not shown without an admin's"
        " token; set MCPGATEWAY_TOKEN to one to check them)"
    )
    for name in ("resolution", "serverRequests", "promotions", "poolLimits"):
        assert results[name].status == "info", name
        assert results[name].message.endswith(
            "not checked (/health shows liveness only: set MCPGATEWAY_TOKEN to an admin's token)"
        ), (name, results[name].message)
