# -*- test-case-name: tests.cli.test_token,tests.cli.test_token_revoke -*-
"""C{mcpgateway token new|list|revoke}: the static bearer tokens of a team
gateway (C{--auth-tokens FILE}).

C{token new NAME}: the token (C{mcpgw_} and 43 base64url characters) is
printed once, alone on stdout (so C{TOKEN=$(mcpgateway token new alice
--file tokens.json)} works); only its SHA-256 is stored, in the tokens file
(C{--file}, else C{$MCPGATEWAY_AUTH_TOKENS}), rewritten atomically with
mode 0600. It says the principal's key (what the audit log names it by:
L{mcpgateway.cli.principalkeys}) and how many other tokens the principal
already has, which stay valid.

C{token list}: each entry's principal, its key, when it was made and
expires, its servers and whether it is an admin's; never its hash.

C{token revoke NAME}: removes every entry of NAME, or those made at
C{--created WHEN}, leaving the rest of the file as it is, the file as it
was kept in C{<file>.bak} (L{mcpgateway.cli.tokensedit}).

A running gateway reads the file again within 2 seconds. Never loads
Twisted.
"""

from __future__ import annotations

import argparse
import calendar
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcpgateway.auth.tokenfile import TokensFileError, tokenEntry
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.cli.principalkeys import PrincipalKeys, addKeyOptions, principalKeys
from mcpgateway.cli.tokensedit import (
    TokensEditError,
    addEntry,
    backupPath,
    readTokensText,
    removeEntries,
)
from mcpgateway.ops.gatewayprobe import resolveStateDir

TOKENS_ENV = "MCPGATEWAY_AUTH_TOKENS"
_DURATION = re.compile(r"(\d{1,9})([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parseExpires(text: str, now: float) -> float:
    """Epoch seconds from C{30d}, C{12h} (from C{now}), C{2027-01-01},
    C{2027-01-01T12:00:00Z} (UTC unless an offset is given) or epoch seconds."""
    text = text.strip()
    match = _DURATION.match(text)
    if match is not None:
        return now + int(match.group(1)) * _UNITS[match.group(2)]
    if text.isdigit() and len(text) >= 9:
        return float(int(text))
    return float(
        _utcSeconds(
            text,
            f"--expires {text!r}: give a duration (30d, 12h, 90m), a date"
            " (2027-01-01, 2027-01-01T12:00:00Z) or epoch seconds",
        )
    )


def parseCreated(text: str) -> int:
    """The second C{--created} names: epoch seconds, or a UTC time as
    C{token list} shows it (C{2027-01-01T12:00:00Z}; a date alone is
    midnight)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    return _utcSeconds(
        text,
        f"--created {text!r}: give the time `token list` shows (2027-01-01T12:00:00Z)"
        " or epoch seconds",
    )


def _utcSeconds(text: str, wrong: str) -> int:
    """The epoch second of the ISO time C{text} (UTC unless it says; a date
    alone is midnight); a usage error saying C{wrong} when it is none."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(wrong, code=2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return calendar.timegm(moment.utctimetuple())


def shownTime(epoch: Any) -> str:
    """Epoch seconds as C{token list} shows them (UTC); C{-} for none."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def tokensPath(args: argparse.Namespace) -> Path:
    """The tokens file: C{--file}, else C{$MCPGATEWAY_AUTH_TOKENS}."""
    where = args.file or os.environ.get(TOKENS_ENV)
    if not where:
        raise CliError(f"say which tokens file: --file FILE (or set {TOKENS_ENV})", code=2)
    return Path(where).expanduser()


def keysOf(args: argparse.Namespace) -> PrincipalKeys:
    """Where the principal keys are made from (L{principalKeys})."""
    return principalKeys(
        resolveStateDir(getattr(args, "state_dir", None)),
        args.workspace_key_file,
        args.cluster_key_file,
    )


def _entriesOf(path: Path) -> list[dict[str, Any]]:
    """The entries of the file C{path} (none: no such file)."""
    try:
        return readTokensText(path).entries
    except FileNotFoundError:
        return []
    except TokensEditError as e:
        raise CliError(str(e)) from None


def _expired(entry: dict[str, Any], now: float) -> bool:
    expires = entry.get("expires")
    return isinstance(expires, (int, float)) and expires <= now


def cmdTokenNew(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    path = tokensPath(args)
    servers = None
    if args.servers is not None:
        servers = [s.strip() for s in args.servers.split(",") if s.strip()]
        if not servers:
            raise CliError("--servers: name at least one server", code=2)
    now = time.time()
    expires = None if args.expires is None else parseExpires(args.expires, now)
    if expires is not None and expires <= now:
        raise CliError(f"--expires {args.expires!r} is in the past", code=2)
    keys = keysOf(args)
    others = [e for e in _entriesOf(path) if e.get("principal") == args.name]
    try:
        token, entry = tokenEntry(args.name, servers, args.admin, expires)
        addEntry(path, entry)
    except (TokensFileError, TokensEditError) as e:
        raise CliError(str(e)) from None
    key = keys.keyOf(args.name)
    if out.json:
        out.emit(
            {
                "ok": True,
                "principal": args.name,
                "token": token,
                "file": str(path),
                "servers": sorted(set(servers)) if servers is not None else None,
                "admin": bool(args.admin),
                "expires": expires,
                "key": key,
                "keyFile": str(keys.source),
                "otherTokens": len(others),
            }
        )
        return 0
    out.line(token)
    what = "every server" if servers is None else ", ".join(sorted(set(servers)))
    extra = " (admin)" if args.admin else ""
    until = ""
    if expires is not None:
        until = ", until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
    out.note(
        f"a token for {args.name}{extra}: {what}{until}; its hash is in {path}."
        " This is the only time it is shown: give it to its owner"
        " (Authorization: Bearer <token>, or MCPGATEWAY_TOKEN for this command)."
    )
    if key is not None:
        out.note(
            f"{args.name}'s principal key (the audit log, /sessions and the log name"
            f" {args.name} by it): {key}, made with {keys.describe()}"
        )
    else:
        out.note(
            f"{args.name}'s principal key cannot be made here: {keys.missing};"
            f" `mcpgateway audit key {args.name}` says it then"
        )
    if others:
        _noteOthers(out, args.name, others, path, now)
    return 0


def _noteOthers(
    out: Output, name: str, others: list[dict[str, Any]], path: Path, now: float
) -> None:
    """Say that C{name} already had C{others} in C{path}, and how to end them."""
    expired = sum(1 for e in others if _expired(e, now))
    also = f" ({expired} of them expired)" if expired else ""
    made = ", ".join(shownTime(e.get("created")) for e in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    stay = "it stays valid" if len(others) == 1 else "they stay valid"
    out.note(
        f"{name} already had {plural(len(others), 'other token')}{also} in {path}, made"
        f" {made}{more}: {stay}. To end them and keep the new one: mcpgateway token revoke"
        f" {name} --keep-newest --file {path} (token list shows them, token revoke"
        " --created WHEN ends one)"
    )


def cmdTokenList(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    path = tokensPath(args)
    try:
        entries = readTokensText(path).entries
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except TokensEditError as e:
        raise CliError(str(e)) from None
    keys = keysOf(args)
    now = time.time()
    rows = [_listed(entry, keys, now) for entry in entries]
    if out.json:
        out.emit({"ok": True, "file": str(path), "keyFile": str(keys.source), "tokens": rows})
        return 0
    table = [("PRINCIPAL", "KEY", "CREATED", "EXPIRES", "SERVERS", "ADMIN")]
    for row in rows:
        expires = shownTime(row["expires"]) + (" (expired)" if row["expired"] else "")
        servers = "all" if row["servers"] is None else ",".join(row["servers"]) or "none"
        table.append(
            (
                row["principal"],
                row["key"] or "?",
                shownTime(row["created"]),
                expires,
                servers,
                "admin" if row["admin"] else "",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for cells in table:
        out.line("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if keys.secret is None:
        out.note(f"no principal keys (?): {keys.missing}")
    else:
        out.note(f"{plural(len(rows), 'token')} in {path}; keys made with {keys.describe()}")
    return 0


def _listed(entry: dict[str, Any], keys: PrincipalKeys, now: float) -> dict[str, Any]:
    """What C{token list} shows of C{entry}: never its hash."""
    principal = str(entry.get("principal"))
    servers = entry.get("servers")
    return {
        "principal": principal,
        "key": keys.keyOf(principal),
        "created": entry.get("created"),
        "expires": entry.get("expires"),
        "expired": _expired(entry, now),
        "servers": sorted(servers) if isinstance(servers, list) else None,
        "admin": entry.get("admin") is True,
        "comment": entry.get("comment"),
    }


def cmdTokenRevoke(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    path = tokensPath(args)
    created = None if args.created is None else parseCreated(args.created)

    def chosen(entries: list[dict[str, Any]]) -> set[int]:
        own = [i for i, e in enumerate(entries) if e.get("principal") == args.name]
        if args.keep_newest:
            return set(own[:-1])  # the newest is the last: token new adds at the end
        return {i for i in own if created is None or _madeAt(entries[i].get("created"), created)}

    try:
        read, removed = removeEntries(path, chosen)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except TokensEditError as e:
        raise CliError(str(e)) from None
    if not removed:
        raise CliError(_noneChosen(args.name, created, read.entries, path))
    gone = [read.entries[i] for i in sorted(removed)]
    left = sum(1 for e in read.entries if e.get("principal") == args.name) - len(gone)
    if out.json:
        now = time.time()
        out.emit(
            {
                "ok": True,
                "principal": args.name,
                "revoked": [
                    {k: v for k, v in _listed(e, keysOf(args), now).items() if k != "key"}
                    for e in gone
                ],
                "remaining": left,
                "file": str(path),
                "backup": str(backupPath(path)),
            }
        )
        return 0
    made = ", ".join(shownTime(e.get("created")) for e in gone)
    out.line(f"revoked {plural(len(gone), 'token')} of {args.name} (made {made})")
    out.note(
        f"{args.name} has {plural(left, 'token')} left in {path}. A running gateway refuses"
        f" the revoked ones within 2 seconds; the file as it was is in {backupPath(path)}"
    )
    return 0


def _madeAt(value: Any, second: int) -> bool:
    """Whether an entry's C{created} is in the second C{second}."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return int(value // 1) == second


def _noneChosen(name: str, created: int | None, entries: list[dict[str, Any]], path: Path) -> str:
    """Why C{token revoke} found nothing to remove."""
    own = [e for e in entries if e.get("principal") == name]
    if not own:
        return f"{path} holds no token of {name!r}: nothing was changed"
    if created is None:  # --keep-newest, and one token
        return f"{name} has only one token in {path}, the newest: nothing was changed"
    made = ", ".join(shownTime(e.get("created")) for e in own)
    return (
        f"no token of {name} in {path} was made at {shownTime(created)} (its tokens were"
        f" made {made}): nothing was changed"
    )


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    token = commands.add_parser(
        "token",
        parents=common,
        help="the bearer tokens of a gateway run with --auth-tokens: new, list, revoke",
        description="Static bearer tokens for a team gateway (--auth-tokens FILE).",
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser(
        "new",
        parents=common,
        help="make a token for a principal: token new NAME [--servers a,b] [--admin]",
        description="Make a token for principal NAME, print it once (alone on stdout) and"
        " store its SHA-256 in the tokens file (created, or rewritten atomically, mode"
        " 0600). A running gateway picks it up within 2 seconds. Says NAME's principal key"
        " (what the audit log names it by) and how many other tokens NAME already has:"
        " they stay valid (token revoke ends them).",
    )
    new.add_argument("name", metavar="NAME", help="the principal (e.g. alice, ci@team)")
    new.add_argument(
        "--servers",
        metavar="A,B",
        help="the servers it may use (default: all of them)",
    )
    new.add_argument(
        "--admin",
        action="store_true",
        help="it may use the management routes (/sessions, /api/v1)",
    )
    new.add_argument(
        "--expires",
        metavar="WHEN",
        help="when it stops working: 30d, 12h, 2027-01-01, 2027-01-01T12:00:00Z (UTC)",
    )
    _fileOption(new)
    addKeyOptions(new)
    new.set_defaults(handler=cmdTokenNew)
    listing = actions.add_parser(
        "list",
        parents=common,
        help="the tokens of the file: principal, its key, created, expires, servers, admin",
        description="List the tokens file's entries: each principal with its principal key"
        " (what the audit log, /sessions and the log name it by), when its token was made"
        " and expires, the servers it may use and whether it is an admin's. Never a hash.",
    )
    _fileOption(listing)
    addKeyOptions(listing)
    listing.set_defaults(handler=cmdTokenList)
    revoke = actions.add_parser(
        "revoke",
        parents=common,
        help="remove a principal's tokens: token revoke NAME [--created WHEN | --keep-newest]",
        description="Remove every token of NAME from the tokens file, the one made at"
        " --created WHEN (as token list shows it), or all but the newest (--keep-newest:"
        " after token new, to rotate). The rest of the file is left as it is;"
        " the file as it was is kept in FILE.bak. A running gateway refuses the revoked"
        " tokens within 2 seconds. Exit 1 when no token matches (nothing is changed).",
    )
    revoke.add_argument("name", metavar="NAME", help="the principal whose tokens end")
    which = revoke.add_mutually_exclusive_group()
    which.add_argument(
        "--created",
        metavar="WHEN",
        help="only the token made at WHEN: 2027-01-01T12:00:00Z (as token list shows it)"
        " or epoch seconds",
    )
    which.add_argument(
        "--keep-newest",
        action="store_true",
        help="every token of NAME but the newest (the last token new made)",
    )
    _fileOption(revoke)
    revoke.set_defaults(handler=cmdTokenRevoke, workspace_key_file=None, cluster_key_file=None)


def _fileOption(parser: Parser) -> None:
    parser.add_argument(
        "--file",
        metavar="FILE",
        help=f"the tokens file (default: ${TOKENS_ENV})",
    )
