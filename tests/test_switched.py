"""C{tests/support/switched.py}: the test files CI runs again on stock
Twisted are those whose answer can depend on C{--twisted}, and only those."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpgateway.tuned import switch
from mcpgateway.tuned.switch import TWISTED_ENV
from tests.support import switched, switchwatch
from tests.support.parsed import sourceOf
from tests.support.switched import (
    CHECKOUT,
    TESTS,
    canDiffer,
    fileReadsTheSwitch,
    marksTheFront,
    switchedFiles,
    switchReaders,
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
    files = list(switched.testFiles())
    chosen = set(switchedFiles(files))
    integration = {p for p in files if p.relative_to(TESTS).parts[0] == "integration"}
    front = {p for p in integration if marksTheFront(p)}
    tuned = {p for p in files if p.relative_to(TESTS).parts[0] == "tuned"}
    assert front and front <= chosen
    assert integration - front and not (integration - front) & chosen
    assert tuned and not tuned & chosen
    for kept in ("serving/test_conformance.py", "serving/test_hostile_input.py", "door"):
        assert any(str(p.relative_to(TESTS / "integration")).startswith(kept) for p in front)


@pytest.mark.parametrize(
    ("source", "marked"),
    [
        ("import pytest\npytestmark = [pytest.mark.integration, pytest.mark.front]\n", True),
        ("import pytest\npytestmark = pytest.mark.front\n", True),
        ("import pytest\npytestmark: list[object] = [pytest.mark.front]\n", True),
        ("import pytest\npytestmark = pytest.mark.integration\n", False),
        ('"""Says pytest.mark.front in its docstring only."""\n', False),
        ("import pytest\nfront = pytest.mark.front\n", False),
    ],
)
def test_a_file_is_of_the_front_by_its_mark(tmp_path: Path, source: str, marked: bool) -> None:
    path = tmp_path / "test_sample.py"
    path.write_text(source, encoding="utf-8")
    assert marksTheFront(path) is marked


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


def test_the_switch_is_watched_wherever_it_is_bound() -> None:
    """The root conftest wraps the function that reads the variable before
    any test imports a module that binds its name."""
    from mcpgateway.web import app

    assert switchwatch.watched()
    assert vars(app)["twistedSetting"] is switch.twistedSetting


def test_a_read_without_a_word_is_noted_for_the_test_under_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(switchwatch, "READ_BY", set())
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/x/test_given.py::test_a (call)")
    switch.twistedSetting("stock", {})
    assert not switchwatch.READ_BY
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/x/test_read.py::test_b (setup)")
    assert switch.twistedSetting(None, {TWISTED_ENV: "stock"}) == "stock"
    assert {"tests/x/test_read.py"} == switchwatch.READ_BY


@pytest.mark.parametrize(
    ("path", "complains"),
    [
        ("tests/x/test_read.py", True),  # read, not listed
        ("tests/web/plumbing/test_stock.py", False),  # read, listed
        ("tests/integration/serving/test_read.py", False),  # chosen by folder
        ("tests/tuned/test_read.py", False),  # pinned to tuned
        ("tests/x/test_unread.py", False),
    ],
)
def test_a_file_that_reads_the_variable_must_be_listed(
    monkeypatch: pytest.MonkeyPatch, path: str, complains: bool
) -> None:
    read = {p for p in (path,) if "unread" not in p}
    monkeypatch.setattr(switchwatch, "READ_BY", read)
    problem = switchwatch.unlisted(path)
    assert (problem is not None) is complains
    if problem is not None:
        assert path in problem and "switchreaders.txt" in problem


def test_every_listed_reader_is_a_unit_test_file_that_exists() -> None:
    assert switchwatch.READERS
    for path in switchwatch.READERS:
        assert (CHECKOUT / path).is_file(), path
        assert not path.startswith(switchwatch.EXEMPT), path


@pytest.mark.parametrize(
    ("source", "differs"),
    [
        ("import subprocess\nfrom mcpgateway.web import app\n", True),
        ("import sys\nfrom mcpgateway.web import app\nsys.executable\n", True),
        ("import subprocess\nfrom mcpgateway.protocol import jsonrpc\n", False),
        ("from mcpgateway.web import app\n", False),  # in-process: the watch decides
    ],
)
def test_a_unit_file_that_starts_processes_and_reaches_the_switch_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, differs: bool
) -> None:
    folder = TESTS / "x"
    path = folder / "test_sample.py"
    monkeypatch.setattr(switched, "sourceOf", lambda p: source if p == path else sourceOf(p))
    caches = (switched.startsProcesses, switched.fileReadsTheSwitch, switched._namesImportedBy)
    for cache in caches:
        cache.cache_clear()
    try:
        assert canDiffer(path) is differs
    finally:
        for cache in caches:
            cache.cache_clear()
