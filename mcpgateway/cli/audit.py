# -*- test-case-name: tests.cli.test_audit -*-
"""C{mcpgateway audit verify FILE [FILE...]}: check an audit trail's hash
chain (L{mcpgateway.ops.auditverify}) across its rotated files, oldest
first (C{audit.jsonl.3 audit.jsonl.2 audit.jsonl.1 audit.jsonl}; given in
any order, the numbered files of one log are put in that order). Names the
first bad record (file, line, what is wrong); exit 0 only when the trail is
intact, 1 when it is not. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import re

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output, Parser, Subcommands
from mcpgateway.ops.auditverify import verify

_ROTATED = re.compile(r"(.*)\.(\d+)\Z")


def trailOrder(paths: list[str]) -> list[str]:
    """C{paths} oldest first: the files of one log by falling rotation
    number (the live file, without one, last); other files keep their place
    relative to each other's logs."""

    def key(indexed: tuple[int, str]) -> tuple[str, int, int]:
        index, path = indexed
        match = _ROTATED.match(path)
        if match is not None:
            return (match.group(1), -int(match.group(2)), index)
        return (path, 0, index)

    bases = {key(item)[0] for item in enumerate(paths)}
    if len(bases) != 1:
        return paths  # not one log's files: the order given
    return [path for _, path in sorted(enumerate(paths), key=key)]


def cmdAuditVerify(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    paths = trailOrder(list(args.files)) if not args.as_given else list(args.files)
    result = verify(paths)
    if out.json:
        out.emit({"ok": result.intact, **result.json()})
        return 0 if result.intact else 1
    if result.problem is not None:
        out.line(f"NOT INTACT: {result.problem.text()}")
        out.note(f"checked {result.records} record(s) of {result.files} file(s) up to it")
        return 1
    line = (
        f"intact: {result.records} record(s) in {result.files} file(s),"
        f" {result.segments} segment(s)"
    )
    if result.anchored:
        line += f"; {result.anchored} began in an earlier file not given (taken as they are)"
    out.line(line)
    if result.open:
        out.note(
            f"{len(result.open)} segment(s) without an end record (a process still writing,"
            " killed, or its last records removed): " + ", ".join(result.open[:8])
        )
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    audit = commands.add_parser(
        "audit",
        parents=common,
        help="check the audit trail of --audit-log: audit verify FILE [FILE...]",
        description="The audit trail (--audit-log FILE) a gateway writes.",
    )
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "verify",
        parents=common,
        help="check the hash chain across rotated files; name the first bad record",
        description="Check the hash chain of the audit trail in FILE... (rotated files"
        " oldest first: audit.jsonl.2 audit.jsonl.1 audit.jsonl). Prints the first bad"
        " record (file:line: edited, removed, reordered or truncated: why); exit 0 only"
        " when the trail is intact.",
    )
    check.add_argument("files", metavar="FILE", nargs="+", help="the trail's files")
    check.add_argument(
        "--as-given",
        action="store_true",
        help="check the files in the order given (default: by rotation number)",
    )
    check.set_defaults(handler=cmdAuditVerify)
