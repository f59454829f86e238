"""C{tests/support/parsed.py}: the house rules' one read and one parse of
each module, which a checker's own test, writing its own file, never sees
stale."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.house import MODULES
from tests.support.parsed import fromSource, parsed, sourceOf

TESTS = Path(__file__).parent


def test_a_module_of_the_package_is_read_and_parsed_once() -> None:
    path = MODULES["mcpgateway.tap"]
    assert sourceOf(path) is sourceOf(path)
    assert parsed(path) is parsed(path)
    assert parsed(path).source == path.read_text(encoding="utf-8")


def test_a_file_of_the_tests_is_read_once_and_parsed_per_call() -> None:
    path = TESTS / "test_house.py"
    assert sourceOf(path) is sourceOf(path)
    assert parsed(path) is not parsed(path)
    assert parsed(path).source is sourceOf(path)


def test_a_file_elsewhere_is_read_again_on_each_call(tmp_path: Path) -> None:
    """A checker's test may write its sample twice, the same size each
    time: the second read sees the second text."""
    sample = tmp_path / "sample.py"
    sample.write_text("a = 1\n", encoding="utf-8")
    assert [n.id for n in parsed(sample).nodes if isinstance(n, ast.Name)] == ["a"]
    sample.write_text("b = 1\n", encoding="utf-8")
    assert sourceOf(sample) == "b = 1\n"
    assert [n.id for n in parsed(sample).nodes if isinstance(n, ast.Name)] == ["b"]


def test_a_text_is_read_whole() -> None:
    """The nodes are C{ast.walk}'s, in its order; the imports are every
    import statement, those inside functions too; the lines are the
    text's."""
    source = "import os\n\n\ndef f() -> None:\n    from a import b\n    return None\n"
    read = fromSource(source)
    assert [ast.dump(n) for n in read.nodes] == [ast.dump(n) for n in ast.walk(read.tree)]
    assert [type(n) for n in read.imports] == [ast.Import, ast.ImportFrom]
    assert read.lines == tuple(source.splitlines())
