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
forms all count."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    tree = ast.parse(source)
    for node in ast.walk(tree):
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
    assert importedTestModules(path.read_text(), packageOf(path)) == []


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
