"""No test module imports another test module: what tests share lives in
C{tests/support/}, a C{conftest.py}, or a helper module whose name does
not start with C{test_} (C{tests/fakes.py}, C{tests/http.py}, ...).

A test module is a file named C{test_*.py}, the files pytest collects.
Importing one from another runs its tests' module a second time under
another test's name, ties a test's helpers to an unrelated file's fate,
and collects its C{TestCase} classes twice. Every C{.py} file under
C{tests/} is read as an AST, with the imports inside functions and
C{TYPE_CHECKING} blocks; C{from tests.x.test_y import ...},
C{from tests.x import test_y}, C{import tests.x.test_y} and relative
forms all count.

The tests mirror the code: a unit test lives in the folder of the package
of the module it tests (the tests of C{mcpgateway/web/endpoints/} in
C{tests/web/endpoints/}), every package of C{mcpgateway/}, nested ones
included, has its folder, and only cross-cutting checks sit at the top of
C{tests/}. A test that a module's C{test-case-name} line names lives in
the folder of that module's package, or in a folder whose C{__init__.py}
says it tests that package through its endpoint on purpose. Integration
tests live in folders named by what they prove, never flat in
C{tests/integration/}, each folder's C{__init__.py} saying what that is."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.parsed import fromSource, parsed, sourceOf

TESTS = Path(__file__).parent
CHECKOUT = TESTS.parent


def moduleName(path: Path) -> str:
    """The dotted name of C{path}, a file under the checkout."""
    parts = path.relative_to(CHECKOUT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def isTestModule(name: str) -> bool:
    """Whether the dotted C{name} is a module pytest collects."""
    return name.split(".")[-1].startswith("test_")


def packageOf(path: Path) -> str:
    """The package a relative import in C{path} starts from."""
    return moduleName(path) if path.name == "__init__.py" else moduleName(path.parent)


def importedModules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Each module the code C{source} of a module of C{package} imports (or
    may import: C{from a import b} names both C{a} and C{a.b}), with its
    line."""
    for node in fromSource(source).imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def importedTestModules(source: str, package: str) -> list[str]:
    """Where the code C{source} of a module of C{package} imports a test
    module, as C{line: module}."""
    return [
        f"{line}: {name}"
        for line, name in importedModules(source, package)
        if name.startswith("tests.") and isTestModule(name)
    ]


@pytest.mark.parametrize(
    "path",
    sorted(TESTS.rglob("*.py")),
    ids=lambda path: str(path.relative_to(TESTS)),
)
def test_no_file_of_the_tests_imports_a_test_module(path: Path) -> None:
    assert importedTestModules(sourceOf(path), packageOf(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from tests.web.admin.test_api import ApiHarness\n",
        "from tests.web import test_api\n",
        "import tests.web.admin.test_api\n",
        "from .test_api import ApiHarness\n",
        "from . import test_api\n",
        "def f() -> None:\n    from tests.web.admin.test_api import ApiHarness\n",
    ],
)
def test_every_form_of_importing_a_test_module_is_seen(source: str) -> None:
    """The check sees each way of spelling the import, relative ones
    resolved from the importer's package (here C{tests.web})."""
    assert importedTestModules(source, "tests.web") != []


def test_a_helper_module_may_be_imported() -> None:
    source = "from tests.support.web.api import ApiHarness\nfrom tests import fakes\n"
    assert importedTestModules(source, "tests.web") == []


def test_the_package_of_a_module_and_of_a_package() -> None:
    assert packageOf(TESTS / "web" / "test_api.py") == "tests.web"
    assert packageOf(TESTS / "support" / "__init__.py") == "tests.support"


PACKAGE = CHECKOUT / "mcpgateway"
NOT_MIRRORS = frozenset({"support", "fixtures", "golden", "integration"})
"""The folders of C{tests/} that mirror no package: shared helpers, fixture
servers, golden bodies, and the integration tests (grouped by what they
prove)."""
CROSS_CUTTING = frozenset(
    {
        "test_bench_fanout.py",
        "test_bench_flowsuite.py",
        "test_bench_peers.py",
        "test_bench_restart.py",
        "test_design_docs.py",
        "test_docs_links.py",
        "test_golden_bodies.py",
        "test_house.py",
        "test_mcpclient.py",
        "test_parsed.py",
        "test_switched.py",
        "test_test_case_names.py",
        "test_test_layout.py",
    }
)
"""The tests at the top of C{tests/} that test no one package: the house
rules, the docs, the golden bodies, the modules one call runs through, the
benchmarks' own checks and the
tests of the tests' own helpers (C{tests/support}: the MCP client, the
stock pass's list, the house rules' parse). A test
of a top-level module (C{tests/test_launch.py} for C{mcpgateway/launch.py})
sits there too, as that module's mirror."""


def misplacedUnitTests(tests: Path, package: Path) -> list[str]:
    """The unit test modules under C{tests} whose folder mirrors no package
    of C{package} (or is not a package itself), and those at the top that
    are neither cross-cutting nor the tests of a top-level module."""
    misplaced = []
    for path in sorted(tests.rglob("test_*.py")):
        folder = path.relative_to(tests).parts[:-1]
        if not folder:
            if path.name not in CROSS_CUTTING and not (package / path.name[5:]).is_file():
                misplaced.append(path.name)
        elif folder[0] not in NOT_MIRRORS and not (
            (package.joinpath(*folder) / "__init__.py").is_file()
            and (tests.joinpath(*folder) / "__init__.py").is_file()
        ):
            misplaced.append(str(path.relative_to(tests)))
    return misplaced


def packagesWithoutTests(tests: Path, package: Path) -> list[str]:
    """The packages under C{package}, nested ones included, that have no
    test package of the same path under C{tests}."""
    return [
        str(init.parent.relative_to(package))
        for init in sorted(package.rglob("__init__.py"))
        if init.parent != package
        and not (tests / init.parent.relative_to(package) / "__init__.py").is_file()
    ]


def unplacedIntegrationTests(integration: Path) -> list[str]:
    """The integration test modules flat in C{integration}, and those whose
    folder has no C{__init__.py} docstring saying what its tests prove."""
    unplaced = []
    for path in sorted(integration.rglob("test_*.py")):
        init = path.parent / "__init__.py"
        if path.parent == integration or not (
            init.is_file() and ast.get_docstring(parsed(init).tree)
        ):
            unplaced.append(str(path.relative_to(integration)))
    return unplaced


def test_every_unit_test_lives_in_the_mirror_of_its_package() -> None:
    assert misplacedUnitTests(TESTS, PACKAGE) == []


def test_every_package_has_its_folder_of_tests() -> None:
    assert packagesWithoutTests(TESTS, PACKAGE) == []


def test_every_integration_test_lives_in_a_folder_that_says_what_it_proves() -> None:
    assert unplacedIntegrationTests(TESTS / "integration") == []


def _tree(root: Path, *files: str) -> None:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        text = '"""A folder of tests."""\n' if name.endswith("__init__.py") else ""
        (root / name).write_text(text)


def test_the_mirror_check_sees_a_test_outside_its_package(tmp_path: Path) -> None:
    """A test in a folder with no package of its name, in a folder that is
    no test package, and one at the top that tests no top-level module, are
    each seen; a test in its mirror, of a top-level module, cross-cutting,
    or in a folder that mirrors nothing, is not."""
    package, tests = tmp_path / "mcpgateway", tmp_path / "tests"
    _tree(package, "__init__.py", "launch.py", "web/__init__.py", "web/pages/__init__.py")
    _tree(
        tests,
        "web/__init__.py",
        "web/pages/__init__.py",
        "web/pages/test_page.py",
        "web/rooms/__init__.py",
        "web/rooms/test_room.py",
        "web/loose/test_loose.py",
        "test_launch.py",
        "test_house.py",
        "test_lonely.py",
        "support/web/test_helper.py",
    )
    (package / "web" / "loose").mkdir()
    assert misplacedUnitTests(tests, package) == [
        "test_lonely.py",
        "web/loose/test_loose.py",
        "web/rooms/test_room.py",
    ]


def test_the_mirror_check_sees_a_nested_package_without_tests(tmp_path: Path) -> None:
    package, tests = tmp_path / "mcpgateway", tmp_path / "tests"
    _tree(package, "__init__.py", "web/__init__.py", "web/pages/__init__.py")
    _tree(package, "web/pages/assets/a.js")
    _tree(tests, "web/__init__.py")
    assert packagesWithoutTests(tests, package) == ["web/pages"]
    _tree(tests, "web/pages/__init__.py")
    assert packagesWithoutTests(tests, package) == []


def test_the_integration_check_sees_a_flat_test_and_a_folder_that_says_nothing(
    tmp_path: Path,
) -> None:
    _tree(tmp_path, "__init__.py", "test_flat.py", "routing/__init__.py", "routing/test_a.py")
    (tmp_path / "mute").mkdir()
    (tmp_path / "mute" / "__init__.py").write_text("")
    (tmp_path / "mute" / "test_b.py").write_text("")
    assert unplacedIntegrationTests(tmp_path) == ["mute/test_b.py", "test_flat.py"]


HEADER = re.compile(r"#\s*-\*-\s*test-case-name:\s*(?P<names>[^\n]*?)\s*-\*-")


def namingPackages(package: Path) -> dict[str, set[str]]:
    """Each test module a C{test-case-name} line of a module under
    C{package} names, with the dotted packages of the modules naming it."""
    naming: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        found = HEADER.search("\n".join(sourceOf(path).splitlines()[:3]))
        if found is None:
            continue
        parts = path.relative_to(package.parent).parts[:-1]
        for name in found.group("names").split(","):
            naming.setdefault(name.strip(), set()).add(".".join(parts))
    return naming


def namedAwayFromTheirModules(tests: Path, package: Path) -> list[str]:
    """The unit test modules that modules name but that live in the folder
    of none of their packages, unless the folder's C{__init__.py} names
    those packages (it tests them through its endpoint on purpose)."""
    elsewhere = []
    for name, packages in sorted(namingPackages(package).items()):
        parts = name.split(".")
        path = tests.parent.joinpath(*parts[:-1], parts[-1] + ".py")
        if parts[0] != tests.name or not path.is_file() or parts[1] in NOT_MIRRORS:
            continue
        folder = ".".join([package.name, *parts[1:-1]])
        if folder in packages:
            continue
        said = ast.get_docstring(parsed(path.parent / "__init__.py").tree) or ""
        if not all(re.search(rf"\b{re.escape(named)}\b", said) for named in packages):
            elsewhere.append(f"{name}: named by {sorted(packages)}")
    return elsewhere


def test_every_named_test_lives_with_a_module_that_names_it() -> None:
    assert namedAwayFromTheirModules(TESTS, PACKAGE) == []


def test_the_named_test_check_sees_a_test_away_from_its_module(tmp_path: Path) -> None:
    """A test named by a module of C{web.pages} but kept in C{tests/web/}
    is seen; once in C{tests/web/pages/}, or in a folder whose
    C{__init__.py} says it tests C{mcpgateway.web.pages} through its
    endpoint, it is not."""
    package, tests = tmp_path / "mcpgateway", tmp_path / "tests"
    _tree(package, "__init__.py", "web/__init__.py", "web/pages/__init__.py")
    (package / "web" / "pages" / "page.py").write_text(
        "# -*- test-case-name: tests.web.test_page -*-\n"
    )
    _tree(tests, "__init__.py", "web/__init__.py", "web/test_page.py")
    assert namedAwayFromTheirModules(tests, package) == [
        "tests.web.test_page: named by ['mcpgateway.web.pages']"
    ]
    (tests / "web" / "__init__.py").write_text(
        '"""Tests mcpgateway.web.pages through its endpoint."""\n'
    )
    assert namedAwayFromTheirModules(tests, package) == []
