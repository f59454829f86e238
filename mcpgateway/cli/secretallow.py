# -*- test-case-name: tests.cli.test_secretallow -*-
"""C{mcpgateway secret allow|disallow|allowed}: a project's own entries' secret references.

An entry of a project's own file (a repository's C{.mcp.json},
C{.cursor/mcp.json}, C{.vscode/mcp.json}...) is refused its secret
references until the user approves that very entry
(L{mcpgateway.secrets.approvals}). C{allow SERVER --workspace DIR} finds the
entries of C{SERVER} the gateway serves from the project C{DIR}'s files (in
its backups of the adopted files: the gateway runs), shows what each runs
and which references it names, asks (C{--yes}: unasked) and records the
approval of each; C{disallow} forgets them, C{allowed} lists them. No
gateway restart: the server's next start reads them. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.secrets.approvals import (
    ApprovalsError,
    SecretsCandidate,
    allow,
    candidates,
    disallow,
    readApprovals,
)


def _workspace(args: argparse.Namespace) -> str:
    """The project directory C{--workspace} names (the current one by
    default), as the gateway keys it: its real path."""
    from mcpgateway.config.workspaces import canonicalPath

    try:
        return canonicalPath(os.path.abspath(args.workspace or os.getcwd()))
    except ValueError as e:
        raise CliError(str(e), code=2) from None


def cmdSecretAllow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    workspace = _workspace(args)
    found = candidates(stateDir, args.server, workspace)
    if not found:
        raise CliError(
            f"the gateway serves no entry of server '{args.server}' with secret references"
            f" from a file of the project {workspace} (entries of a project's files are"
            " served while the gateway runs and has adopted them: see mcpgateway status)"
        )
    allowed = []
    for candidate in found:
        for line in describe(candidate):
            out.note(line)
        if not (args.yes or _ask("let it use these secrets?")):
            out.note(f"{candidate.file}: not allowed")
            continue
        try:
            allow(stateDir, candidate.approval())
        except (ApprovalsError, OSError) as e:
            raise CliError(f"nothing recorded: {e}") from None
        allowed.append(candidate)
    if out.json:
        out.emit(
            {
                "ok": True,
                "allowed": [
                    {
                        "server": c.server,
                        "workspace": c.workspace,
                        "file": c.file,
                        "references": list(c.references),
                    }
                    for c in allowed
                ],
            }
        )
    if allowed:
        out.note(
            f"allowed {plural(len(allowed), 'entry', 'entries')}; server '{args.server}'"
            " resolves them at its next start (mcpgateway servers reset-circuit"
            f" {shlex.quote(args.server)} if its circuit is open); a change of the entry"
            " needs allowing again"
        )
    return 0


def describe(candidate: SecretsCandidate) -> list[str]:
    """What an approval of C{candidate} lets run, for the person deciding."""
    entry = candidate.entry
    command = entry.get("command", entry.get("url", ""))
    args = entry.get("args", [])
    words = [str(command), *(str(a) for a in args)] if isinstance(args, list) else [str(command)]
    env = entry.get("env", {})
    lines = [
        f"server '{candidate.server}' of {candidate.file}:",
        f"  runs: {shlex.join(words)}",
    ]
    if isinstance(env, dict) and env:
        lines.append(f"  env: {', '.join(sorted(str(k) for k in env))}")
    for key in ("cwd", "envFrom"):
        if key in entry:
            lines.append(f"  {key}: {entry[key]}")
    lines.append(f"  secret references: {', '.join(candidate.references)}")
    lines.append("  (what it runs sees their values: allow only code you trust)")
    return lines


def cmdSecretDisallow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    workspace = _workspace(args)
    try:
        count = disallow(stateDir, args.server, workspace)
    except (ApprovalsError, OSError) as e:
        raise CliError(str(e)) from None
    if not count:
        raise CliError(f"server '{args.server}' has no approval in the project {workspace}")
    if out.json:
        out.emit({"ok": True, "server": args.server, "workspace": workspace, "removed": count})
    else:
        out.note(
            f"forgot {plural(count, 'approval')} of server '{args.server}' in {workspace};"
            " its next child starts without its secrets (a running one keeps them until it"
            " stops)"
        )
    return 0


def cmdSecretAllowed(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    try:
        approvals = readApprovals(resolveStateDir(args.state_dir))
    except ApprovalsError as e:
        raise CliError(str(e)) from None
    if out.json:
        out.emit({"ok": True, "approvals": [a.toJson() for a in approvals]})
        return 0
    for a in approvals:
        out.line(f"{a.server}  {a.file}  {', '.join(a.references)}")
    out.note(f"{plural(len(approvals), 'approval')}")
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


def addParsers(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """Add C{allow}, C{disallow} and C{allowed} to C{mcpgateway secret}."""
    where = "the project directory (default: the current one)"
    grant = actions.add_parser(
        "allow",
        parents=common,
        help="let a project's own entry of SERVER use its secret references",
        description="Secret references resolve in your own config only. Let the entry of"
        " SERVER that a file of the project DIR holds (its .mcp.json, .cursor/mcp.json...)"
        " use the secrets it names: exactly this entry; a change of it needs allowing"
        " again. Shows what it runs and asks first (--yes: unasked).",
    )
    grant.add_argument("server", metavar="SERVER")
    grant.add_argument("--workspace", metavar="DIR", help=where)
    grant.add_argument("--yes", "-y", action="store_true", help="allow unasked")
    grant.set_defaults(handler=cmdSecretAllow)
    revoke = actions.add_parser(
        "disallow",
        parents=common,
        help="forget what secret allow allowed SERVER in a project",
        description="Forget the approvals of SERVER's entries in the project DIR.",
    )
    revoke.add_argument("server", metavar="SERVER")
    revoke.add_argument("--workspace", metavar="DIR", help=where)
    revoke.set_defaults(handler=cmdSecretDisallow)
    listing = actions.add_parser(
        "allowed",
        parents=common,
        help="the project entries allowed to use secret references",
        description="List the approvals of secret allow: server, file, references.",
    )
    listing.set_defaults(handler=cmdSecretAllowed)
