# -*- test-case-name: tests.cli.test_sandboxapprove -*-
"""C{mcpgateway sandbox approve NAME}: let a project's own entry have the
sandbox it asks for.

An entry of a project's own file (a repository's C{.mcp.json},
C{.cursor/mcp.json}, C{.vscode/mcp.json}...) may only narrow its sandbox:
what it asks beyond the default profile (C{"sandbox": false},
C{allowWrite}, C{"network": "host"}...) is ignored until the user approves
that very entry (L{mcpgateway.config.sandboxapprovals}). C{approve NAME
--workspace DIR} finds the entries of C{NAME} the gateway serves from the
project C{DIR}'s files that ask for more (in its backups of the adopted
files: the gateway runs), shows what each runs and what it asks, asks
(C{--yes}: unasked) and records the approval of each
(L{mcpgateway.config.sandboxapprovals}); C{--forget} forgets them. The
running gateway watches the approvals: the server's children restart with
the approved profile within seconds. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.config.origins import entryDigest
from mcpgateway.config.pathwidening import entryOutside
from mcpgateway.config.sandboxapprovals import ApprovalsError, SandboxApproval, approve, forget
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.sandbox.narrowing import describe, widenings
from mcpgateway.sandbox.profile import SandboxError, parseSandbox
from mcpgateway.secrets.approvals import projectEntries


@dataclass(frozen=True)
class SandboxCandidate:
    """An entry of a project's own file that the gateway serves and whose
    sandbox is wider than the default."""

    server: str
    workspace: str
    file: str
    entry: Mapping[str, Any]
    """As the gateway serves it."""
    widenings: tuple[str, ...]

    def approval(self) -> SandboxApproval:
        return SandboxApproval(
            self.server, self.workspace, self.file, entryDigest(self.entry), self.widenings
        )


def candidates(stateDir: Path, server: str, workspace: str) -> list[SandboxCandidate]:
    """The entries of C{server} in the project C{workspace} (a real path)
    that come from the project's own files and ask for a sandbox wider
    than the default (a C{"sandbox"} key, or a path outside the workspace
    named by an argument, a variable or C{cwd}:
    L{mcpgateway.config.pathwidening}), as the gateway serves them
    (L{mcpgateway.secrets.approvals.projectEntries}: its backups of the
    adopted files). An entry whose C{"sandbox"} cannot be read is not
    served at all, and is not one."""
    found: dict[tuple[str, str], SandboxCandidate] = {}
    for file, served in projectEntries(stateDir, server, workspace):
        try:
            wider = widenings(parseSandbox(served))
        except SandboxError:
            continue
        wider += [w.describe() for w in entryOutside(served, os.environ, workspace)]
        if wider:
            found.setdefault(
                (file, entryDigest(served)),
                SandboxCandidate(server, workspace, file, served, tuple(wider)),
            )
    return list(found.values())


def _workspace(args: argparse.Namespace) -> str:
    """The project directory C{--workspace} names (the current one by
    default), as the gateway keys it: its real path."""
    from mcpgateway.config.workspaces import canonicalPath

    try:
        return canonicalPath(os.path.abspath(args.workspace or os.getcwd()))
    except ValueError as e:
        raise CliError(str(e), code=2) from None


def cmdSandboxApprove(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    workspace = _workspace(args)
    if args.forget:
        return _forget(stateDir, args.server, workspace, out)
    found = candidates(stateDir, args.server, workspace)
    if not found:
        raise CliError(
            f"the gateway serves no entry of server '{args.server}' from a file of the project"
            f" {workspace} that asks for more than the default sandbox (entries of a project's"
            " files are served while the gateway runs and has adopted them: see mcpgateway"
            " status)"
        )
    approved = []
    for candidate in found:
        for line in describeCandidate(candidate):
            out.note(line)
        if not (args.yes or _ask("let it have this sandbox?")):
            out.note(f"{candidate.file}: not approved")
            continue
        try:
            approve(stateDir, candidate.approval())
        except (ApprovalsError, OSError) as e:
            raise CliError(f"nothing recorded: {e}") from None
        approved.append(candidate)
    if out.json:
        out.emit(
            {
                "ok": True,
                "approved": [
                    {
                        "server": c.server,
                        "workspace": c.workspace,
                        "file": c.file,
                        "widenings": list(c.widenings),
                    }
                    for c in approved
                ],
            }
        )
    if approved:
        out.note(
            f"approved {plural(len(approved), 'entry', 'entries')}; the running gateway"
            f" restarts the children of server '{args.server}' with the sandbox its entry asks"
            " for within seconds; a change of the entry needs approving again"
        )
    return 0


def describeCandidate(candidate: SandboxCandidate) -> list[str]:
    """What an approval of C{candidate} lets run, and with what, for the
    person deciding."""
    entry = candidate.entry
    command = entry.get("command", "")
    args = entry.get("args", [])
    words = [str(command), *(str(a) for a in args)] if isinstance(args, list) else [str(command)]
    profile = parseSandbox(entry)
    keys = set(widenings(profile))
    lines = [
        f"server '{candidate.server}' of {candidate.file}:",
        f"  runs: {shlex.join(words)}",
        "  asks for more than the default sandbox:",
        *(
            f"    {describe(profile, key) if key in keys else key + ' (outside its workspace)'}"
            for key in candidate.widenings
        ),
        "  (a repository chose this: approve only what you would give it yourself)",
    ]
    return lines


def _forget(stateDir: Path, server: str, workspace: str, out: Output) -> int:
    try:
        count = forget(stateDir, server, workspace)
    except (ApprovalsError, OSError) as e:
        raise CliError(str(e)) from None
    if not count:
        raise CliError(f"server '{server}' has no sandbox approval in the project {workspace}")
    if out.json:
        out.emit({"ok": True, "server": server, "workspace": workspace, "removed": count})
    else:
        out.note(
            f"forgot {plural(count, 'approval')} of server '{server}' in {workspace}; the"
            " running gateway restarts its children with the default profile within seconds"
        )
    return 0


def _ask(question: str) -> bool:
    """A y/N answer from stdin; anything but yes, or no input, is no."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin is None:
        return False
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def addApprove(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """The C{approve} action of C{mcpgateway sandbox}."""
    approval = actions.add_parser(
        "approve",
        parents=common,
        help="let a project's own entry of NAME have the wider sandbox it asks for",
        description="A project's own file (its .mcp.json, .cursor/mcp.json...) may only narrow"
        " the sandbox of its entries: what it asks beyond the default profile is ignored, with"
        " a warning in the gateway's log. Approve the entry of server NAME that a file of the"
        " project DIR holds: exactly this entry; a change of it needs approving again. Shows"
        " what it runs and asks for, and asks first (--yes: unasked).",
    )
    approval.add_argument("server", metavar="NAME")
    approval.add_argument(
        "--workspace", metavar="DIR", help="the project directory (default: the current one)"
    )
    approval.add_argument("--yes", "-y", action="store_true", help="approve unasked")
    approval.add_argument(
        "--forget", action="store_true", help="forget the approvals of NAME in the project"
    )
    approval.set_defaults(handler=cmdSandboxApprove)
