"""L{mcpgateway.runtime.interpreter}: the gateway's interpreter flags, and the
private bytecode folder given where the standard library lacks C{-OO}
bytecode this account could write."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from mcpgateway.runtime import interpreter

TAG = sys.implementation.cache_tag


def stdlib(tmp_path: Path, compiled: bool) -> Path:
    """A standard library's folder, with its C{__pycache__}: the C{-OO}
    bytecode of L{interpreter.PROBE_MODULE} in it or not."""
    folder = tmp_path / "lib"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / f"{interpreter.PROBE_MODULE}.py").write_text("")
    (folder / "__pycache__" / f"{interpreter.PROBE_MODULE}.{TAG}.pyc").write_bytes(b"")
    if compiled:
        (folder / "__pycache__" / f"{interpreter.PROBE_MODULE}.{TAG}.opt-2.pyc").write_bytes(b"")
    return folder


class Asked:
    """A C{canWrite} that answers C{answer} and records what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.paths: list[str] = []

    def __call__(self, path: str) -> bool:
        self.paths.append(path)
        return self.answer


def test_the_command_keeps_bytecode_in_the_folder_given_and_beside_sources_by_default() -> None:
    assert interpreter.command("-m", "x", python="/p") == ("/p", *interpreter.FLAGS, "-m", "x")
    assert interpreter.command("-m", "x", python="/p", bytecodeFolder="/s/bytecode") == (
        "/p",
        *interpreter.FLAGS,
        "-X",
        "pycache_prefix=/s/bytecode",
        "-m",
        "x",
    )


def test_a_library_with_oo_bytecode_needs_no_folder(tmp_path: Path) -> None:
    lib = stdlib(tmp_path, compiled=True)
    assert not interpreter.stdlibLacksBytecode(str(lib), canWrite=lambda path: False)
    assert interpreter.privateBytecodeFolder(str(tmp_path / "s"), str(lib), lambda p: False) is None
    assert not (tmp_path / "s").exists()


def test_a_library_this_account_can_write_needs_no_folder(tmp_path: Path) -> None:
    """The gateway writes the missing bytecode beside the library's sources
    at its first start, as any Python does."""
    lib = stdlib(tmp_path, compiled=False)
    asked = Asked(True)
    assert not interpreter.stdlibLacksBytecode(str(lib), asked)
    assert asked.paths == [str(lib / "__pycache__")]


def test_a_library_without_oo_bytecode_this_account_cannot_write_gets_a_private_folder(
    tmp_path: Path,
) -> None:
    """A Debian system Python, run by an ordinary user: the folder is made in
    the state directory, which is made private too when it is new."""
    lib = stdlib(tmp_path, compiled=False)
    state = tmp_path / "state"
    folder = interpreter.privateBytecodeFolder(str(state), str(lib), lambda p: False)
    assert folder == str(state / interpreter.BYTECODE_FOLDER)
    for made in (state, state / interpreter.BYTECODE_FOLDER):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    # again: the same folder, as it is
    assert interpreter.privateBytecodeFolder(str(state), str(lib), lambda p: False) == folder


def test_a_library_without_a_cache_folder_asks_of_the_library_itself(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    asked = Asked(False)
    assert interpreter.stdlibLacksBytecode(str(lib), asked)
    assert asked.paths == [str(lib)]


def test_a_folder_that_cannot_be_made_leaves_the_gateway_compiling(tmp_path: Path) -> None:
    lib = stdlib(tmp_path, compiled=False)
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory would be")
    assert interpreter.privateBytecodeFolder(str(blocker), str(lib), lambda p: False) is None


def test_this_account_can_write_its_own_folder(tmp_path: Path) -> None:
    assert interpreter.writable(str(tmp_path))
    assert not interpreter.writable(str(tmp_path / "nosuch"))
