"""What a server's row says, cell by cell, where a number misled: no
errors is a plain C{0} (red only when some request failed), and a remote
server saves no process (its sessions would run none), in its cell and in
the gateway's line."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.core.status import Circuit, ServerState
from mcpgateway.ops.savings import SavingsSampler, estimateServer
from mcpgateway.web.pages.statuspage import pageData, renderLive
from tests.http import Harness
from tests.support.web.gateway_status import gatewayStatus
from tests.support.web.health import CHILD, SERVER
from tests.support.web.statuspage import Page


def _row(data: dict[str, Any], **line: Any) -> str:
    """The live part with the one server's line changed by C{line}."""
    (server,) = data["servers"]
    server.update(line)
    return renderLive(data)


def liveData() -> dict[str, Any]:
    """The page's data for a gateway with one session open."""
    h = Harness()
    h.initialize()
    return pageData(h.gateway.readModel.status())


def test_no_errors_is_a_plain_zero_even_with_failed_initialize_requests() -> None:
    data = liveData()
    text = _row(data, errors=0, failedInitializes=2)
    assert '<td>0<span class="sub">2 initialize failed</span></td>' in text
    assert Page(text).text("bad") == ""
    text = _row(data, errors=0, failedInitializes=0)
    assert "<td>0</td>" in text and Page(text).text("bad") == ""


def test_errors_are_red_when_there_are_some() -> None:
    data = liveData()
    text = _row(data, errors=3, failedInitializes=1)
    assert '<td><span class="bad">3</span><span class="sub">1 initialize failed</span></td>' in text
    assert Page(text).text("bad") == "3"


REMOTE = replace(
    SERVER,
    name="linear",
    spec=ServerSpec(
        name="linear", command="", remote=RemoteEndpoint("https://mcp.example.com/mcp")
    ),
    children=(replace(CHILD, pid=None, inFlight=0),),  # a session with it: no process
    sessions=1,
    state=ServerState.RUNNING,
    circuit=Circuit.CLOSED,
    error=None,
    resolution=None,
)


def _runNothing(f: Any, *args: Any) -> Any:
    raise AssertionError("nothing to sample: a remote server has no process")


def test_a_remote_server_saves_no_process() -> None:
    status = gatewayStatus({"linear": REMOTE}, pid=7, started=1.0, now=30.0, rssBytes=1000)
    sampler = SavingsSampler(lambda: status, clock=None, runInThread=_runNothing)  # type: ignore[arg-type]
    sampler.sampledAt = 20.0  # measured: the figures are said, not "not measured yet"
    savings = sampler.estimate(status)
    linear = savings.servers["linear"]
    assert (linear.sessions, linear.processesAvoided, linear.memoryAvoidedBytes) == (1, 0, 0)
    assert (savings.processesAvoided, savings.memoryAvoidedBytes) == (0, 0)
    data = pageData(replace(status, savings=savings))
    html = Page(renderLive(data))
    assert "process" not in html.text("server")  # its row's saved cell is empty
    assert html.text("saved") == "savednothing yet (no server has more sessions than children)"


def test_a_remote_server_saves_nothing_with_many_sessions() -> None:
    many = replace(REMOTE, sessions=5)
    figures = estimateServer(many, 5, {}, None, {})
    assert (figures.children, figures.processes, figures.processesAvoided) == (0, 0, 0)
    assert (figures.memoryAvoidedBytes, figures.wrappersAvoided) == (0, 0)
