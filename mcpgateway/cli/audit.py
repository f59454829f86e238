# -*- test-case-name: tests.cli.test_audit -*-
"""C{mcpgateway audit verify FILE [FILE...]}: check an audit trail's hash
chain (L{mcpgateway.ops.auditverify}) across its rotated files, oldest
first (C{audit.jsonl.3 audit.jsonl.2 audit.jsonl.1 audit.jsonl}; given in
any order, the numbered files of one log are put in that order). Names the
first bad record (file, line, what is wrong); exit 0 only when the trail is
intact, 1 when it is not. Keyed segments are checked with the audit key
(C{--key-file}, default the state directory's C{audit.key}): without it
only their structure can be, which says so and exits 3.

When an audit key is there, an unkeyed segment is not proof either: whoever
can write the log but not read the key could have sealed the whole trail
again without a key. So with a key, a trail with an unkeyed segment exits 3
unless C{--allow-unkeyed} says its unkeyed segments are old ones (written
before the gateway had a key); C{--require-keyed} makes that exit 3 even
without a key.

A trail whose first file begins after a file not given (its first record
a rotation's: the oldest files rotated away, or removed) is checked from
there on, and nothing before it can be: its head is not proven, which
exits 3 unless C{--allow-rotated-away} says those files are gone by the
gateway's rotation. A first file that begins with anything else was cut at
its head (exit 1).

C{mcpgateway audit key NAME [NAME...]}: the principal key of each name,
as the gateway of the state directory (or of the cluster key file) names
that principal in its records (L{mcpgateway.cli.principalkeys}). Never
loads Twisted.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.principalkeys import addKeyOptions, principalKeys, requireKeys
from mcpgateway.ops.auditkey import AuditKeyError, keyPath, readKey
from mcpgateway.ops.auditverify import Result, verify
from mcpgateway.ops.gatewayprobe import resolveStateDir

STRUCTURE_ONLY = 3
"""The exit status of a keyed trail checked without its key: its structure
is intact, its integrity unknown."""

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


def auditKey(args: argparse.Namespace) -> tuple[Path, bytes | None]:
    """The audit key's file and the key (C{None}: the state directory's is
    not there). A file C{--key-file} names must be there and usable."""
    path = keyPath(args.key_file, resolveStateDir(getattr(args, "state_dir", None)))
    try:
        return path, readKey(path)
    except FileNotFoundError:
        if args.key_file:
            raise CliError(f"--key-file {path}: no such file") from None
        return path, None
    except AuditKeyError as e:
        raise CliError(str(e)) from None


def status(result: Result, requireKeyed: bool, rotatedAway: bool = False) -> int:
    """The exit status of C{result}: 0 intact (and checked), 1 not, 3 a
    keyed trail checked without its key (or, C{requireKeyed}, one with an
    unkeyed segment), or one whose head is not proven (unless
    C{rotatedAway} accepts it)."""
    if not result.intact:
        return 1
    if result.unchecked or (requireKeyed and result.unkeyed):
        return STRUCTURE_ONLY
    if not (result.headProven or rotatedAway):
        return STRUCTURE_ONLY
    return 0


def requiresKeyed(args: argparse.Namespace, key: bytes | None) -> bool:
    """Whether an unkeyed segment fails the check: C{--require-keyed}, or
    an audit key is there and C{--allow-unkeyed} was not given."""
    return bool(args.require_keyed) or (key is not None and not args.allow_unkeyed)


def cmdAuditVerify(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    paths = trailOrder(list(args.files)) if not args.as_given else list(args.files)
    keyFile, key = auditKey(args)
    result = verify(paths, key)
    requireKeyed = requiresKeyed(args, key)
    code = status(result, requireKeyed, args.allow_rotated_away)
    if out.json:
        out.emit({"ok": code == 0, "requireKeyed": requireKeyed, **result.json()})
        return code
    if result.problem is not None:
        out.line(f"NOT INTACT: {result.problem.text()}")
        out.note(f"checked {result.records} record(s) of {result.files} file(s) up to it")
        return 1
    if result.unchecked:
        out.line(
            f"structure intact, integrity NOT checked: {result.records} record(s) in"
            f" {result.files} file(s); {result.keyed} keyed segment(s) and no audit key"
            f" ({keyFile} is not there; --key-file FILE): an edited or re-sealed record"
            " would not show"
        )
        _noteHead(result, out)
        return code
    if requireKeyed and result.unkeyed:
        _noteHead(result, out)
        return _unkeyedRefused(result, out, keyFile if key is not None else None)
    if not (result.headProven or args.allow_rotated_away):
        return _headNotProven(result, out)
    line = (
        f"intact: {result.records} record(s) in {result.files} file(s),"
        f" {result.segments} segment(s)"
    )
    if result.keyed:
        line += f", {result.keyed} keyed (MACs checked with {keyFile})"
    if result.unkeyed:
        line += f", {result.unkeyed} unkeyed"
    if result.anchored:
        line += f"; {result.anchored} began in an earlier file not given (taken as they are)"
    out.line(line)
    _noteHead(result, out)
    if result.unkeyed:
        out.note(
            f"{result.unkeyed} unkeyed segment(s) (written without an audit key): their"
            " hashes show an accident, not someone who could write the log and seal it again"
        )
    if result.open:
        out.note(
            f"{len(result.open)} segment(s) without an end record (a process still writing,"
            " killed, or its last records removed): " + ", ".join(result.open[:8])
        )
    return code


def cmdAuditKey(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    keys = requireKeys(
        principalKeys(
            resolveStateDir(getattr(args, "state_dir", None)),
            args.workspace_key_file,
            args.cluster_key_file,
        )
    )
    names = list(dict.fromkeys(args.names))
    if any(not name for name in names):
        raise CliError("a principal's name cannot be empty", code=2)
    found = [(name, keys.keyOf(name) or "") for name in names]
    if out.json:
        out.emit(
            {
                "ok": True,
                "keys": [{"principal": name, "key": key} for name, key in found],
                "keyFile": str(keys.source),
                "cluster": keys.cluster,
            }
        )
        return 0
    width = max(len(name) for name, _ in found)
    for name, key in found:
        out.line(f"{name.ljust(width)}  {key}")
    out.note(
        f"made with {keys.describe()}: a gateway with another state directory (or cluster)"
        " names these principals by other keys"
    )
    return 0


def _after(result: Result) -> str:
    """Where a trail that begins rotated begins: its first file, and the
    file before it that was not given."""
    after = result.after or {}
    last = after.get("last")
    place = f", file {after['seq']} of the trail" if after.get("seq") is not None else ""
    return (
        f"it begins in {after.get('in')}, rotated after {after.get('file')!r}"
        f" (its last record {last[:12] if isinstance(last, str) else 'unknown'}{place}),"
        " which is not given"
    )


def _noteHead(result: Result, out: Output) -> None:
    """Say, when the trail's head is not proven, where it begins."""
    if not result.headProven:
        out.note(f"head NOT proven: {_after(result)}: nothing before it is checked")


def _headNotProven(result: Result, out: Output) -> int:
    """Say why a trail that begins after a file not given is not proven
    intact: exit 3."""
    out.line(
        f"head NOT proven: {result.records} record(s) in {result.files} file(s) are intact"
        f" from their first on, but {_after(result)}: whether records before it were"
        " removed cannot be checked"
    )
    out.note(
        "give the trail's earlier files too; --allow-rotated-away accepts a trail whose"
        " oldest files the gateway's rotation removed (it keeps 10 rotated files)"
    )
    return STRUCTURE_ONLY


def _unkeyedRefused(result: Result, out: Output, keyFile: Path | None) -> int:
    """Say why a trail with unkeyed segments is not proven intact (an audit
    key is there, C{keyFile}, or C{--require-keyed}): exit 3."""
    why = f"an audit key is there ({keyFile})" if keyFile is not None else "--require-keyed"
    out.line(
        f"unkeyed, integrity NOT proven: {result.unkeyed} of {result.segments} segment(s) in"
        f" {result.files} file(s) are sealed without a key, and {why}: whoever can write the"
        " log could have sealed it again whole without the key"
    )
    if keyFile is not None:
        out.note(
            "a trail written before the gateway had its key is unkeyed: check it with"
            " --allow-unkeyed"
        )
    return STRUCTURE_ONLY


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    audit = commands.add_parser(
        "audit",
        parents=common,
        help="check the audit trail of --audit-log (audit verify FILE...), name a"
        " principal's key (audit key NAME)",
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
        " when the trail is intact, 1 when it is not, 3 when keyed segments could not be"
        " checked (no key: their structure only), when an audit key is there and a"
        " segment is unkeyed (--allow-unkeyed for trails written before the key), or when"
        " the trail begins after a file not given (--allow-rotated-away).",
    )
    check.add_argument("files", metavar="FILE", nargs="+", help="the trail's files")
    check.add_argument(
        "--as-given",
        action="store_true",
        help="check the files in the order given (default: by rotation number)",
    )
    check.add_argument(
        "--key-file",
        "--audit-key-file",
        dest="key_file",
        metavar="FILE",
        default=None,
        help="the audit key the gateway sealed with (default: <state-dir>/audit.key)",
    )
    keyed = check.add_mutually_exclusive_group()
    keyed.add_argument(
        "--require-keyed",
        action="store_true",
        help="exit 3 when a segment is unkeyed, even without an audit key (the default"
        " when there is one: a gateway that keys writes none)",
    )
    keyed.add_argument(
        "--allow-unkeyed",
        action="store_true",
        help="accept unkeyed segments although an audit key is there: for a trail (or"
        " its oldest files) written before the gateway had its key",
    )
    check.add_argument(
        "--allow-rotated-away",
        action="store_true",
        help="accept a trail whose first file begins after files not given (the oldest"
        " rotated away): its records are checked from there on, none before it",
    )
    check.set_defaults(handler=cmdAuditVerify)
    key = actions.add_parser(
        "key",
        parents=common,
        help="the principal key the audit log names each NAME by",
        description="Print the principal key of each NAME: what the audit log, /sessions,"
        " /health and the gateway's log name that principal by (a keyed hash of its name,"
        " never the name). Made with the state directory's workspace.key (--state-dir), a"
        " copy of it (--workspace-key-file) or, for a cluster, its key file"
        " (--cluster-key-file), as the gateway makes it; the file must be there (the"
        " gateway makes it at its first start). Exit 1 when it is not.",
    )
    key.add_argument(
        "names", metavar="NAME", nargs="+", help="a principal's name (tokens file, OAuth claim)"
    )
    addKeyOptions(key)
    key.set_defaults(handler=cmdAuditKey)
