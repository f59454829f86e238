"""Which of your own entries would run a module its workspace ships:
C{python -m NAME} in a folder holding C{NAME/__init__.py} or C{NAME.py}."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.workspacecode import interpreterVersion, pythonModule, shadowingModule


@pytest.mark.parametrize(
    ("command", "args", "module"),
    [
        ("python3", ["-m", "mcp_server_time"], "mcp_server_time"),
        (
            "/home/u/.venv/bin/python",
            ["-u", "-m", "mcp_server_git", "--repository", "."],
            "mcp_server_git",
        ),
        ("python3.12", ["-X", "utf8", "-m", "srv.main"], "srv.main"),
        ("python", ["-Xutf8", "-W", "ignore", "-mserver"], "server"),
        ("pypy3", ["-um", "server"], "server"),
        ("python3", ["srv.py"], None),  # a script: its own folder is on the path
        ("python3", ["-c", "import x"], None),
        ("python3", ["-I", "-m", "mcp_server_time"], None),  # isolated: no working directory
        ("python3", ["-Pm", "mcp_server_time"], None),
        ("python3", ["-m"], None),
        ("node", ["-m", "x"], None),
        ("uvx", ["mcp-server-time"], None),
    ],
)
def test_the_module_a_python_command_runs(
    command: str, args: list[str], module: str | None
) -> None:
    assert pythonModule(command, args) == module


@given(st.lists(st.text(max_size=12), max_size=6))
def test_any_arguments_are_read_without_an_error(args: list[str]) -> None:
    module = pythonModule("python3", args)
    assert module is None or module in "".join(args)


@pytest.mark.parametrize(
    ("files", "shadow"),
    [
        (
            ["mcp_server_time/__init__.py", "mcp_server_time/__main__.py"],
            "mcp_server_time/__init__.py",
        ),
        (["mcp_server_time.py"], "mcp_server_time.py"),
        (
            ["mcp_server_time/__main__.py"],
            None,
        ),  # a namespace portion yields to the installed package
        (["README.md", "src/mcp_server_time/__init__.py"], None),
    ],
)
def test_a_module_the_workspace_ships_at_its_top(
    tmp_path: Path, files: list[str], shadow: str | None
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = shadowingModule("python3", ["-m", "mcp_server_time.server"], str(tmp_path))
    assert found == (None if shadow is None else str(tmp_path / shadow))


def test_nothing_is_looked_for_without_a_module(tmp_path: Path) -> None:
    (tmp_path / "srv.py").write_text("")
    assert shadowingModule("python3", ["srv.py"], str(tmp_path)) is None
    assert shadowingModule("python3", ["-m", "../x"], str(tmp_path)) is None


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("python3.12", (3, 12)),
        ("python3.10", (3, 10)),
        ("python3.13t", (3, 13)),
        ("pypy3.11", (3, 11)),
        ("python3", None),  # a name without a version: not known
        ("python", None),
    ],
)
def test_an_interpreters_version_is_read_off_the_file_its_links_end_at(
    tmp_path: Path, name: str, version: tuple[int, int] | None
) -> None:
    real = tmp_path / name
    real.write_text("")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(real)  # a venv's python links to its base interpreter
    assert interpreterVersion(str(venv / "python")) == version
    assert interpreterVersion(None) is None
