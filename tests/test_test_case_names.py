"""Each module's C{# -*- test-case-name: ... -*-} line names test modules
(or test packages) that exist: C{trial}, editors and the contributors who
run "the tests of this module" follow it, and a name left behind by a
moved or renamed test runs nothing. The names are found by the import
system (C{importlib.util.find_spec}), not imported: importing every test
module would run its module-level code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import mcpgateway
from tests.support.parsed import sourceOf

ROOT = Path(mcpgateway.__file__).parent
CHECKOUT = ROOT.parent
TESTS = Path(__file__).parent
HEADER = re.compile(r"#\s*-\*-\s*test-case-name:\s*(?P<names>[^\n]*?)\s*-\*-")
MODULES = sorted(
    [*ROOT.rglob("*.py"), *(CHECKOUT / "twisted" / "plugins").glob("*.py")],
)


def namedTests(source: str) -> list[str] | None:
    """The dotted names of the C{test-case-name} line among the first
    lines of C{source} (C{None}: it has none)."""
    for line in source.splitlines()[:3]:
        found = HEADER.search(line)
        if found:
            return [name.strip() for name in found.group("names").split(",") if name.strip()]
    return None


def exists(name: str) -> bool:
    """Whether C{name} is an importable test module or test package of
    this checkout's C{tests}."""
    parts = name.split(".")
    if parts[0] != "tests" or not all(part.isidentifier() for part in parts):
        return False
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # a parent package is missing
        return False
    return spec is not None and spec.origin is not None and Path(spec.origin).is_relative_to(TESTS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CHECKOUT)))
def test_a_test_case_name_names_tests_that_exist(path: Path) -> None:
    names = namedTests(sourceOf(path))
    if names is None:
        return
    assert names, "an empty test-case-name"
    missing = [name for name in names if not exists(name)]
    assert missing == [], f"{path.relative_to(CHECKOUT)} names tests that do not exist"


def test_the_header_is_read_with_one_name_or_several() -> None:
    one = "# -*- test-case-name: tests.core.test_router -*-\n"
    several = "# -*- test-case-name: tests.ops.test_a, tests.ops -*-\n"
    assert namedTests(one) == ["tests.core.test_router"]
    assert namedTests(several) == ["tests.ops.test_a", "tests.ops"]
    assert namedTests('"""A module without one."""\n') is None


def test_a_name_exists_as_a_module_or_a_package_of_the_tests() -> None:
    assert exists("tests.test_house")
    assert exists("tests.core")
    assert not exists("tests.core.test_nothing_here")
    assert not exists("mcpgateway.core.gateway")  # not a test
    assert not exists("tests/../mcpgateway")
