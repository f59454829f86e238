"""The gateway's own modules one laptop C{tools/call} runs through, on both
runtimes (the tuned channel and request, and Twisted as it ships).

What C{benchmarks/callfiles.py} prints, kept: a reader of a call's path
opens at most L{MAX_FILES} files, and a module that has nothing to do on a
laptop's call is not reached to learn so: the lost-child notices, the
sessions' own children and the shared placement (the pool reads what it
needs of them), tracing without a tracer, the protocol revisions, the
site's access log and body file, the SSE keep-alive ticker of an answer
that comes at once, and on the tuned runtime Twisted's persistence check.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

import pytest

from tests.support.benchmarks import loadBenchmark

MAX_FILES = 20
"""The most files of C{mcpgateway/} one call may run code of."""

OFF_THE_PATH = (
    "core/pools/lostchild.py",
    "core/pools/owned.py",
    "core/pools/shared.py",
    "core/tracing.py",
    "protocol/versions.py",
    "web/app.py",
    "web/plumbing/sse.py",
)
"""Modules a laptop's call never runs code of, on either runtime."""

TUNED_OFF_THE_PATH = ("httpbase/bounds.py",)
"""And on the tuned runtime (the stock channel keeps Twisted's check)."""


def filesOfOneCall(twisted: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files of C{mcpgateway/} whose code ran during one call, after a
    few warmed caches, relative to the package's folder: the session and the
    tracer of C{benchmarks/callfiles.py} (L{hotpath.Calls}, L{callfiles.traced})."""
    monkeypatch.setenv("MCPGATEWAY_TWISTED", twisted)  # what makeSite reads
    calls = loadBenchmark("hotpath", "hotpath_callpath").Calls(
        argparse.Namespace(audit_log=None, audit_payloads=False)
    )
    for n in range(3):
        assert calls.one(n)[1]
    traced: list[str] = loadBenchmark("callfiles", "callfiles_callpath").traced(calls, 3)
    return [path.removeprefix("mcpgateway/") for path in traced]


@pytest.fixture(params=["tuned", "stock"])
def files(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[str]]]:
    yield request.param, filesOfOneCall(request.param, monkeypatch)


def test_a_call_runs_through_few_files(files: tuple[str, list[str]]) -> None:
    _, ran = files
    assert len(ran) <= MAX_FILES, ran


def test_what_has_nothing_to_do_on_a_laptop_call_is_not_reached(
    files: tuple[str, list[str]],
) -> None:
    twisted, ran = files
    off = OFF_THE_PATH + (TUNED_OFF_THE_PATH if twisted == "tuned" else ())
    assert [name.replace(os.sep, "/") for name in ran if name.replace(os.sep, "/") in off] == []


def test_the_path_is_the_one_a_call_takes(files: tuple[str, list[str]]) -> None:
    """The tracer sees the call: its channel, its POST, its router, its child."""
    twisted, ran = files
    channel = "tuned/channel.py" if twisted == "tuned" else "web/plumbing/stock.py"
    expected = [channel, "web/endpoints/mcppost.py", "core/router.py", "core/child.py"]
    assert [name for name in expected if name not in ran] == []
