"""The README's commands serve on the fast path the benchmark measures: the
gateway's reactor, and orjson for the JSON of every message.

orjson is loaded by the first message (an idle gateway does not hold it), so
after one call its extension module is mapped into the gateway's process,
unless the gateway reads and writes JSON with the standard library only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcpgateway.tuned import reactor
from tests.integration.gateway import RunningGateway, callEcho, twistCommand, twistdCommand

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("defaultTwisted")]

GATEWAYS = "mcpgateway.tuned.reactor.GatewayReactor"


def orjsonLoaded(pid: int) -> bool:
    """Whether orjson's extension module is mapped into process C{pid}."""
    with open(f"/proc/{pid}/maps") as maps:
        return any("/orjson/" in line for line in maps)


def command(runner: str) -> list[str]:
    return twistdCommand() if runner == "twistd" else twistCommand()


@pytest.mark.skipif(not reactor.AVAILABLE, reason="the gateway's reactor needs epoll")
@pytest.mark.parametrize("runner", ["twistd", "twist"])
def test_the_readmes_commands_serve_on_the_fast_path(start: Any, home: Path, runner: str) -> None:
    gateway: RunningGateway = start(command=command(runner))
    assert not orjsonLoaded(gateway.process.pid)  # nothing read or written yet
    assert callEcho(gateway.url("demo"), "fast") == "fast"
    assert orjsonLoaded(gateway.process.pid)
    assert f"reactor: {GATEWAYS}" in gateway.text()


def test_the_standard_library_serves_when_asked_to(start: Any, home: Path) -> None:
    """C{MCPGATEWAY_JSON=stdlib} (for comparing the two): the same answers,
    and orjson is never loaded; what the test above tells apart."""
    gateway: RunningGateway = start(command=twistdCommand(), env={"MCPGATEWAY_JSON": "stdlib"})
    assert callEcho(gateway.url("demo"), "slow") == "slow"
    assert not orjsonLoaded(gateway.process.pid)
