"""The C{mcpgateway} command line: options anywhere, one-line usage errors
and unexpected errors, C{--help} of every command, C{python -m
mcpgateway.cli}."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway import __version__
from mcpgateway.cli import main
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.main import COMMANDS, VERSION_ONLY, commandWord, makeParser, parserCommand
from mcpgateway.ops.gatewayprobe import resolveStateDir
from tests.cli.support import Cli, FakeGateway, api
from tests.support.runtime.loadedmodules import loadedUnder

# -- the command line --------------------------------------------------------------------


def test_state_dir_defaults_to_mcpgateway_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCPGATEWAY_HOME", str(tmp_path / "gw"))
    assert resolveStateDir(None) == tmp_path / "gw"
    monkeypatch.delenv("MCPGATEWAY_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolveStateDir(None) == tmp_path / ".mcpgateway"


def test_unexpected_errors_are_one_line(stateDir: Path, ctx: CliContext, cli: Cli) -> None:
    def boom(stateDir: Path) -> Any:
        raise ValueError("surprise")

    ctx.probe = boom
    code, out, err = cli("status")
    assert code == 1
    assert err == (
        "mcpgateway: unexpected error: ValueError: surprise (MCPGATEWAY_DEBUG=1 shows more)\n"
    )
    code, out, err = cli("status", "--json")
    assert json.loads(out)["ok"] is False


def test_module_runs_as_a_script(stateDir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(stateDir), "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["checks"][0]["name"] == "gateway"


def test_state_dir_and_json_go_anywhere(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(running, "GET", "/servers", 200, {"servers": []})
    for argv in (
        ["--state-dir", str(stateDir), "--json", "servers", "list"],
        ["servers", "--state-dir", str(stateDir), "--json", "list"],
        ["servers", "list", "--json", "--state-dir", str(stateDir)],
    ):
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out) == {"servers": []}


# -- the command line: errors and help ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "first", "command"),
    [
        (
            ["start", "--bogus"],
            "mcpgateway start: unrecognized arguments: --bogus",
            "mcpgateway start",
        ),
        (
            ["--bogus", "status"],
            "mcpgateway status: unrecognized arguments: --bogus",
            "mcpgateway status",
        ),
        ([], "mcpgateway: the following arguments are required: COMMAND", "mcpgateway"),
        (["stop", "now"], "mcpgateway stop: unrecognized arguments: now", "mcpgateway stop"),
        (
            ["servers", "frob"],
            "mcpgateway servers: argument ACTION: invalid choice: 'frob'",
            "mcpgateway servers",
        ),
        (
            ["--state-dir", "/x", "servers", "add"],
            "mcpgateway servers add: the following arguments are required: NAME, COMMAND",
            "mcpgateway servers add",
        ),
        (
            ["servers", "restart", "a", "--mode", "x"],
            "mcpgateway servers restart: unrecognized arguments: --mode x",
            "mcpgateway servers restart",
        ),
    ],
)
def test_a_bad_command_line_is_one_line_and_a_pointer_to_help(
    capsys: pytest.CaptureFixture[str], argv: list[str], first: str, command: str
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(first)
    assert lines[1:] == [f"`{command} --help` lists the options"]
    assert "usage:" not in err


def test_a_bad_command_line_with_json_is_a_json_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json", "--bogus"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {
        "ok": False,
        "error": "mcpgateway status: unrecognized arguments: --bogus",
    }


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


def test_every_command_has_a_description_in_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    found = dict(subcommands(makeParser()))
    assert {
        ("stop",),
        ("status",),
        ("doctor",),
        ("servers", "list"),
        ("servers", "restart"),
    } <= set(found)
    for path, parser in found.items():
        assert parser.description, f"`mcpgateway {' '.join(path)} --help` has no description"
        with pytest.raises(SystemExit) as exit:
            main([*path, "--help"])
        assert exit.value.code == 0
        text = capsys.readouterr().out
        assert parser.description.split()[0] in text.split("\n\n")[1], path


# -- only the command that runs is loaded ------------------------------------------------


def _topLevelWords(parser: argparse.ArgumentParser) -> set[str]:
    return {path[0] for path, _ in subcommands(parser) if len(path) == 1}


def test_each_command_word_names_the_module_that_adds_its_parser() -> None:
    """A command's parser, built alone, is the one the full parser has, and
    holds that command's module's words: C{COMMANDS} names each module by
    the words it adds."""
    assert _topLevelWords(makeParser()) == set(COMMANDS)
    for word, module in COMMANDS.items():
        alone = _topLevelWords(makeParser(word))
        assert alone == {w for w, m in COMMANDS.items() if m == module}, word


@given(
    before=st.lists(st.sampled_from([["--json"], ["--state-dir", "status"], ["--state-dir=x"]])),
    command=st.sampled_from(sorted(COMMANDS)),
    after=st.lists(st.text(min_size=1, max_size=8), max_size=4),
)
def test_the_command_word_is_found_after_any_global_options(
    before: list[list[str]], command: str, after: list[str]
) -> None:
    words = [word for option in before for word in option]
    assert commandWord([*words, command, *after]) == command
    assert commandWord([*words, "--", command]) is None
    assert commandWord(words) is None


def test_a_command_loads_no_other_commands_module(tmp_path: Path) -> None:
    """C{mcpgateway stop} loads the command modules that C{stop}'s module
    imports, not every command's; a line that names no command (a bad
    option here) builds every command's parser."""
    commands = {f"mcpgateway.cli.{module}" for module in COMMANDS.values()}
    code = (
        "import json, sys\n"
        "from mcpgateway.cli.main import main\n"
        "main(sys.argv[1:])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mcpgateway.cli.'))))\n"
    )

    def loaded(*argv: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", code, "--state-dir", str(tmp_path), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        return set(json.loads(done.stdout.splitlines()[-1])) & commands

    imported = set(loadedUnder(["mcpgateway.cli.stop"], ["mcpgateway"])) & commands
    assert loaded("stop") == imported
    assert "mcpgateway.cli.add" not in imported
    assert loaded("--bogus") == commands


def test_the_version_alone_builds_no_commands_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """C{mcpgateway --version} builds no command's parser (a third of a
    second of CPU otherwise); with C{--help}, or after a command, it does."""
    assert parserCommand(["--version"]) == VERSION_ONLY
    assert parserCommand(["--json", "--state-dir", "status", "--version"]) == VERSION_ONLY
    assert parserCommand(["--version", "--help"]) is None
    assert parserCommand(["--", "--version"]) is None
    assert parserCommand(["status", "--version"]) == "status"
    parser = makeParser(VERSION_ONLY)
    assert _topLevelWords(parser) == set()
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"mcpgateway {__version__}\n"
