# -*- test-case-name: tests.cli.test_main -*-
"""The C{mcpgateway} command line: the parser (each command adds its own),
and L{main}, which runs the chosen command with a L{CliContext} and turns
every failure into one line and an exit code, and a closed output (C{mcpgateway
status | head -3}) into a quiet end (exit status 141, as for C{git} or C{ls}
killed by SIGPIPE).

Note: C{mcpgateway.cli.main} names the function L{main} once the package is
imported (C{mcpgateway/cli/__init__.py} re-exports it for the console
script); import this module's other names with C{from mcpgateway.cli.main
import ...}.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from mcpgateway import __version__
from mcpgateway.cli.context import CliContext, defaultContext
from mcpgateway.cli.output import (
    CliError,
    Output,
    OutputClosed,
    Parser,
    UsageError,
    endQuietly,
    flush,
)
from mcpgateway.ops.gatewayprobe import resolveStateDir


def _globalOptions(suppress: bool) -> Parser:
    """--state-dir and --json, accepted before or after the command."""
    parser = Parser(add_help=False)
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        default=argparse.SUPPRESS if suppress else None,
        help="the gateway's state directory (default: $MCPGATEWAY_HOME or ~/.mcpgateway)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print JSON, for scripts: one document (logs: one object per event, a line each)",
    )
    return parser


def makeParser(command: str | None = None) -> Parser:
    """The command line's parser: with the parser of C{command} only, when
    it names one (L{_commandModules}); with every command's otherwise."""
    parser = Parser(
        prog="mcpgateway",
        parents=[_globalOptions(False)],
        description="Run and inspect the mcpgateway singleton: one shared child per stdio"
        " MCP server, served at http://127.0.0.1:PORT/<server>/mcp.",
    )
    parser.add_argument("--version", action="version", version=f"mcpgateway {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_globalOptions(True)]
    for module in _commandModules(command):
        module.addParser(commands, common)
    return parser


COMMANDS: dict[str, str] = {
    "start": "start",
    "stop": "stop",
    "restart": "restart",
    "status": "status",
    "doctor": "doctor",
    "restore": "restore",
    "clients": "clients",
    "servers": "servers",
    "catalog": "catalog",
    "logs": "logs",
    "service": "service",
    "bridge": "bridge",
    "token": "token",
    "login": "login",
    "logout": "login",
    "secret": "secret",
    "registry": "registry",
    "add": "add",
    "tools": "tools",
    "sandbox": "sandbox",
    "audit": "audit",
    "policy": "policy",
    "approvals": "approvals",
}
"""Each command's word, and the module of this package that adds its
parser and runs it."""


def _commandModules(command: str | None) -> tuple[ModuleType, ...]:
    """The modules whose parsers a command line naming C{command} needs:
    that command's alone when it is one, none for L{VERSION_ONLY}, every
    command's otherwise (the
    top level's help, a misspelt command). A run loads the modules of the
    command it runs, not those of the twenty others (about 40% of a short
    command's CPU)."""
    if command in COMMANDS:
        return (importlib.import_module(f"{__package__}.{COMMANDS[command]}"),)
    if command == VERSION_ONLY:
        return ()
    return _everyCommand()


def _everyCommand() -> tuple[ModuleType, ...]:
    """Every command's module, in the order the top level's help lists
    them."""
    from mcpgateway.cli import (
        add,
        approvals,
        audit,
        bridge,
        catalog,
        clients,
        doctor,
        login,
        logs,
        policy,
        registry,
        restart,
        restore,
        sandbox,
        secret,
        servers,
        service,
        start,
        status,
        stop,
        token,
        tools,
    )

    return (
        start,
        stop,
        restart,
        status,
        doctor,
        restore,
        clients,
        servers,
        catalog,
        logs,
        service,
        bridge,
        token,
        login,
        secret,
        registry,
        add,
        tools,
        sandbox,
        audit,
        policy,
        approvals,
    )


VERSION_ONLY = "--version"
"""L{makeParser}'s command for a line asking only for the version: no
command's parser is built (the version is printed as argparse reads it)."""


def parserCommand(words: Sequence[str]) -> str | None:
    """What L{makeParser} is given for C{words}: the command they name;
    L{VERSION_ONLY} for a line that names none and asks for the version
    (and not for help: C{--help} lists every command)."""
    command = commandWord(words)
    options = words[: list(words).index("--")] if "--" in words else words
    if command is None and "--version" in options and not {"-h", "--help"} & set(options):
        return VERSION_ONLY
    return command


def commandWord(words: Sequence[str]) -> str | None:
    """The command C{words} name: their first word that is neither an
    option nor the value of C{--state-dir} (C{None}: none before C{--})."""
    skip = False
    for word in words:
        if word == "--":
            return None
        if skip or word.startswith("-"):
            skip = word == "--state-dir"
            continue
        return word
    return None


def main(argv: Sequence[str] | None = None, context: CliContext | None = None) -> int:
    """Run the command line C{argv} (default C{sys.argv[1:]}) with the seams
    of C{context} (default: the real ones); the exit code.

    Its output is flushed here, not at the interpreter's exit, so that a
    reader that went away (C{| head -3}) is seen wherever it is: while the
    command writes or at this last flush, its end is quiet
    (L{mcpgateway.cli.output.endQuietly}: no traceback, no message, 141)."""
    try:
        try:
            code = _run(argv, context)
        except SystemExit:  # --help, --version: what argparse printed
            _flushAll()
            raise
        _flushAll()
        return code
    except OutputClosed as closed:
        return endQuietly(closed, (sys.stdout, sys.stderr))


def _flushAll() -> None:
    flush(sys.stdout)
    flush(sys.stderr)


def _run(argv: Sequence[str] | None, context: CliContext | None) -> int:
    """L{main}, up to its output's last flush."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = makeParser(parserCommand(words)).parse_args(words)
    except UsageError as e:
        options = words[: words.index("--")] if "--" in words else words
        return usageError(e, Output("--json" in options), _commandOf(options))
    out = Output(bool(args.json))
    ctx = context or defaultContext()
    ctx.http.stateDir = resolveStateDir(getattr(args, "state_dir", None))
    try:
        code: int = args.handler(args, out, ctx)
        return code
    except CliError as e:
        if out.json:
            out.emit({"ok": False, "error": e.message})
        else:
            out.note(f"mcpgateway: {e.message}")
        return e.code
    except KeyboardInterrupt:
        out.note("mcpgateway: interrupted")
        return 130
    except Exception as e:
        if os.environ.get("MCPGATEWAY_DEBUG"):
            raise
        message = f"unexpected error: {type(e).__name__}: {e} (MCPGATEWAY_DEBUG=1 shows more)"
        if out.json:
            out.emit({"ok": False, "error": message})
        else:
            out.note(f"mcpgateway: {message}")
        return 1


def _commandOf(words: list[str]) -> str:
    """C{mcpgateway}, C{mcpgateway start}, C{mcpgateway servers add}: the
    command the words name (argparse reports unknown options as the top
    level's, wherever they were)."""
    names = ["mcpgateway"]
    parser: argparse.ArgumentParser = makeParser(commandWord(words))
    skip = False
    for word in words:
        if skip or word.startswith("-"):
            skip = word == "--state-dir"
            continue
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            break
        names.append(word)
        parser = sub.choices[word]
    return " ".join(names)


def usageError(error: UsageError, out: Output, command: str = "mcpgateway") -> int:
    """A rejected command line: one line, and where the options are; exit 2."""
    prog = error.prog if len(error.prog) > len(command) else command
    if out.json:
        out.emit({"ok": False, "error": f"{prog}: {error.message}"})
    else:
        out.note(f"{prog}: {error.message}")
        out.note(f"`{prog} --help` lists the options")
    return 2
