# -*- test-case-name: tests.cli.test_sandboxlearn -*-
"""C{mcpgateway sandbox suggest NAME}: the least-privilege profile a
learning server's records suggest (docs/guide/sandbox.md, "Learning a
profile").

It reads the records of C{"sandbox": "learn"} in the state directory
(L{mcpgateway.sandbox.learnrecord}), works out what the default profile
gives the server already (its layout, as C{sandbox show} builds it), and
prints the rest in the shape of the entry's C{"sandbox"} object
(L{mcpgateway.sandbox.learnsuggest}), with what it tried that stays denied.
C{--json} prints the bare object. It only prints: the entry lives in a
file of the person's (their client's config, or C{servers.json}), which
the person changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.sandboxspec import serverSpec
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.sandbox import layout, learnrecord, learnrun, request
from mcpgateway.sandbox.learnsuggest import Baseline, Suggestion, suggest
from mcpgateway.sandbox.profile import LEARN, ON, SandboxProfile


def baseline(spec: ServerSpec, stateDir: Path, gatewayPort: int | None) -> Baseline:
    """What the default profile gives C{spec}'s children (its layout, built
    as the launcher builds it)."""
    default = replace(spec, sandbox=SandboxProfile(ON))
    argv = [spec.executable or spec.command, *spec.args]
    environ = spec.environment(os.environ)
    asked = request.build(
        default,
        environ,
        str(stateDir),
        None,
        argv=argv,
        others=[],
        python=sys.executable,
        parent=os.getpid(),
        gatewayCwd=os.getcwd(),
    )
    here = os.getcwd()  # python -m puts this command's directory on its path, not the gateway's
    asked["interpreterPaths"] = [p for p in asked["interpreterPaths"] if p != here]
    view = layout.build(asked, argv, environ)
    return Baseline.fromLayout(view.toJson(), os.path.realpath(stateDir), gatewayPort=gatewayPort)


def suggestText(
    server: str, records: learnrecord.Records, found: Suggestion, where: str, learning: bool
) -> list[str]:
    """C{sandbox suggest} for a person."""
    how = "paths by strace" if records.straced else "paths NOT recorded: strace is not installed"
    lines = [
        f"server {server}: learned from {records.traces} start(s) ({how}; hosts by the"
        " gateway's proxy)"
    ]
    profile = found.profile()
    if profile:
        lines.append(
            "its least-privilege profile: put this in its entry, in place of"
            + (' "sandbox": "learn":' if learning else ' its "sandbox":')
        )
        lines.append("")
        body = json.dumps(profile, indent=2).splitlines()
        lines.append('  "sandbox": ' + body[0])
        lines += ["  " + line for line in body[1:]]
        lines.append("")
    else:
        lines.append(
            'it used nothing beyond the default profile: "sandbox": true in its entry (or no'
            ' "sandbox" at all, with --sandbox auto)'
        )
    for line in found.keptDenied:
        lines.append(f"denied, kept denied: {line}")
    for note in found.notes:
        lines.append(f"note: {note}")
    lines.append(
        f"records: {where} (a later run adds to them; delete the directory to learn afresh)"
    )
    return lines


def cmdSandboxSuggest(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    probed = ctx.probe(stateDir)
    spec = serverSpec(args.server, stateDir, probed, args.config)
    if spec.remote is not None:
        raise CliError(f"server '{spec.name}' is a remote server: it has no process to confine")
    where = learnrun.learnDir(str(stateDir), spec.name)
    records = learnrecord.read(where)
    if not (records.traces or records.hosts or os.path.isdir(where)):
        raise CliError(
            f'server \'{spec.name}\' has not learned yet: give its entry "sandbox": "learn",'
            " let it run and use its tools, then ask again"
        )
    port = probed.port if probed.running else None
    found = suggest(records, baseline(spec, stateDir, port), os.path.exists, os.path.isdir)
    if out.json:
        out.emit(found.profile())
        return 0
    for line in suggestText(spec.name, records, found, where, spec.sandbox.setting == LEARN):
        out.line(line)
    return 0


def addSuggest(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """The C{suggest} action of C{mcpgateway sandbox}."""
    suggestion = actions.add_parser(
        "suggest",
        parents=common,
        help='the least-privilege profile a server learned ("sandbox": "learn")',
        description='What server NAME used while its entry said "sandbox": "learn" (paths'
        " recorded by strace, hosts by the gateway's proxy), beyond the default profile:"
        ' printed as its entry\'s "sandbox" object, to put in place of "learn". Deny-list'
        " paths are never suggested. --json prints the bare object.",
    )
    suggestion.add_argument("server", metavar="NAME")
    suggestion.add_argument(
        "--config", metavar="FILE", help="the config file (default: the gateway's)"
    )
    suggestion.set_defaults(handler=cmdSandboxSuggest)
