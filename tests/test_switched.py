"""C{tests/support/switched.py}: the test files CI runs again on stock
Twisted are those whose answer can depend on C{--twisted}, and only those."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpgateway.tuned.switch import TWISTED_ENV
from tests.support.switched import (
    CHECKOUT,
    FRONT,
    TESTS,
    canDiffer,
    fileReadsTheSwitch,
    switchedFiles,
    switchReaders,
    testFiles,
)


def test_the_modules_that_read_the_switch_are_those_above_it() -> None:
    readers = switchReaders()
    for module in (
        "mcpgateway.tuned.switch",
        "mcpgateway.web.app",
        "mcpgateway.startup.options",
        "mcpgateway.launch",
    ):
        assert module in readers, module
    for module in (
        "mcpgateway.tuned.turnflush",
        "mcpgateway.tuned.reactor",
        "mcpgateway.core.child",
        "mcpgateway.protocol.jsonrpc",
    ):
        assert module not in readers, module


def test_the_integration_tests_of_the_front_and_no_tuned_test_are_switched() -> None:
    files = list(testFiles())
    switched = set(switchedFiles(files))
    integration = {p for p in files if p.relative_to(TESTS).parts[0] == "integration"}
    front = {p for p in integration if p.relative_to(TESTS).parts[1] in FRONT}
    tuned = {p for p in files if p.relative_to(TESTS).parts[0] == "tuned"}
    assert front and front <= switched
    assert integration - front and not (integration - front) & switched
    assert tuned and not tuned & switched


def test_every_front_folder_is_there() -> None:
    assert all((TESTS / "integration" / name).is_dir() for name in FRONT)


@pytest.mark.parametrize(
    ("path", "differs"),
    [
        ("tests/web/plumbing/test_stock.py", True),  # makeSite, as the variable says
        ("tests/test_launch.py", True),  # twistd, as the variable says
        ("tests/test_golden_bodies.py", True),  # through tests/http.py
        ("tests/runtime/test_timers.py", False),
        ("tests/tuned/test_turnflush.py", False),  # pinned to tuned by its conftest
    ],
)
def test_a_file_differs_when_it_can_reach_the_switch(path: str, differs: bool) -> None:
    assert canDiffer(CHECKOUT / path) is differs


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("from tests.http import Harness\n", True),  # a helper that makes sites
        ("from mcpgateway.web import app\n", True),
        ("def f() -> None:\n    from mcpgateway.startup.options import Options\n", True),
        ("from mcpgateway.protocol import jsonrpc\nimport tests.fakes\n", False),
    ],
)
def test_the_switch_is_found_through_imports(tmp_path: Path, source: str, reads: bool) -> None:
    path = tmp_path / "test_sample.py"
    path.write_text(source, encoding="utf-8")
    assert fileReadsTheSwitch(path) is reads


def test_the_default_fixture_unsets_the_switchs_variable(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """C{defaultTwisted} (the root conftest, which names the variable
    without importing the switch) removes the variable the switch reads."""
    monkeypatch.setenv(TWISTED_ENV, "stock")
    request.getfixturevalue("defaultTwisted")
    assert TWISTED_ENV not in os.environ
