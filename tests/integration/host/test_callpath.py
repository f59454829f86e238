"""The gateway's own files a warm C{tools/call} runs through on the
README's command, on both runtimes (the tuned channel and request, and
Twisted as it ships).

What C{benchmarks/callfiles.py} prints, kept: C{twistd -n mcpgateway} with
its defaults on a fresh HOME (the bundled C{demo} stdio server, sandboxed,
with pins and tasks), traced over windows of warm calls by
C{benchmarks/calltrace.py}. A reader of a call's path opens at most
L{MAX_FILES} files, and a laptop's call reaches nothing of what only a
configured feature needs: a team's authentication, a cluster, the rate
limits and quotas, a policy, the start-up wiring; nor does the process
load a module of the team's packages or of the remote servers'
(L{TEAM_AND_REMOTE}), at start or after its calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.benchmarks import loadBenchmark

MAX_FILES = 30
"""The most files of C{mcpgateway/} a warm call runs code of, on either
runtime."""

OFF_A_LAPTOP_CALL = (
    "mcpgateway/auth/",
    "mcpgateway/cluster/",
    "mcpgateway/config/",
    "mcpgateway/governance/",
    "mcpgateway/startup/",
)
"""What a laptop's call has nothing to do in: who the caller is, the
cluster, the config's limits (and whether there are any), a request
policy, the wiring that decided what runs."""

TEAM_AND_REMOTE = (
    "mcpgateway.auth",
    "mcpgateway.cluster",
    "mcpgateway.governance",
    "mcpgateway.remote",
)
"""The packages a team gateway (its door, its policy and limits, its
cluster) and a remote entry load, and a laptop's gateway does not."""


@pytest.fixture(scope="module", params=["tuned", "stock"])
def traced(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """What C{callfiles.py} reports of the README's command on one runtime."""
    callfiles = loadBenchmark("callfiles", "callfiles_integration")
    yield callfiles.filesPerCall(request.param, warmup=20, calls=3, windows=3)


def test_a_call_runs_through_few_files(traced: dict[str, Any]) -> None:
    assert traced["filesPerCall"] <= MAX_FILES, traced["files"]


def test_a_laptop_call_runs_nothing_of_a_configured_feature(traced: dict[str, Any]) -> None:
    reached = [path for path in traced["files"] if path.startswith(OFF_A_LAPTOP_CALL)]
    assert reached == []


def test_a_warm_call_asks_no_pins(traced: dict[str, Any]) -> None:
    """The pins' verdict on the tool is the tool gate's, kept since the
    pins last changed: a warm call runs nothing of C{trust/}."""
    reached = [path for path in traced["files"] if path.startswith("mcpgateway/trust/")]
    assert reached == []
    assert "mcpgateway/core/toolgate.py" in traced["files"]


def test_a_laptop_process_loads_nothing_of_a_team_or_a_remote_server(
    traced: dict[str, Any],
) -> None:
    loaded = [
        name
        for name in traced["loaded"]
        if any(name == package or name.startswith(package + ".") for package in TEAM_AND_REMOTE)
    ]
    assert loaded == []


def test_the_path_is_the_one_a_call_takes(traced: dict[str, Any]) -> None:
    """The tracer sees the call: its channel, its POST, its router, its child."""
    channel = "tuned/channel.py" if traced["twisted"] == "tuned" else "web/plumbing/stock.py"
    expected = [channel, "web/endpoints/mcppost.py", "core/router.py", "core/child.py"]
    assert [name for name in expected if "mcpgateway/" + name not in traced["files"]] == []


def test_a_reader_opens_the_classes_the_call_touches(traced: dict[str, Any]) -> None:
    """The files defining the objects a call touches are counted too: the
    session's, the spec's, the pool's children's."""
    assert traced["readerFiles"] >= traced["filesPerCall"]
    assert "mcpgateway/core/spec.py" in traced["readOnly"] + traced["files"]


def test_stock_runs_nothing_of_tuned(traced: dict[str, Any]) -> None:
    """Twisted as it ships runs none of the gateway's replacements of it."""
    reached = [path for path in traced["files"] if path.startswith("mcpgateway/tuned/")]
    assert traced["twisted"] == "tuned" or reached == []
