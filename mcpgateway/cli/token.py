# -*- test-case-name: tests.cli.test_token -*-
"""C{mcpgateway token new NAME}: make a static bearer token for a team gateway.

The token (C{mcpgw_} and 43 base64url characters) is printed once, alone on
stdout (so C{TOKEN=$(mcpgateway token new alice --file tokens.json)} works);
only its SHA-256 is stored, in the tokens file (C{--file}, else
C{$MCPGATEWAY_AUTH_TOKENS}), rewritten atomically with mode 0600. A running
gateway reads the file again within 2 seconds. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import calendar
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from mcpgateway.auth.tokenfile import TokensFileError, addToken
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands

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
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--expires {text!r}: give a duration (30d, 12h, 90m), a date"
            " (2027-01-01, 2027-01-01T12:00:00Z) or epoch seconds",
            code=2,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return float(calendar.timegm(moment.utctimetuple()))


def cmdTokenNew(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    where = args.file or os.environ.get(TOKENS_ENV)
    if not where:
        raise CliError(f"say which tokens file: --file FILE (or set {TOKENS_ENV})", code=2)
    path = Path(where).expanduser()
    servers = None
    if args.servers is not None:
        servers = [s.strip() for s in args.servers.split(",") if s.strip()]
        if not servers:
            raise CliError("--servers: name at least one server", code=2)
    now = time.time()
    expires = None if args.expires is None else parseExpires(args.expires, now)
    if expires is not None and expires <= now:
        raise CliError(f"--expires {args.expires!r} is in the past", code=2)
    try:
        token = addToken(path, args.name, servers, args.admin, expires)
    except TokensFileError as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None
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
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    token = commands.add_parser(
        "token",
        parents=common,
        help="make bearer tokens for a gateway run with --auth-tokens",
        description="Static bearer tokens for a team gateway (--auth-tokens FILE).",
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser(
        "new",
        parents=common,
        help="make a token for a principal: token new NAME [--servers a,b] [--admin]",
        description="Make a token for principal NAME, print it once (alone on stdout) and"
        " store its SHA-256 in the tokens file (created, or rewritten atomically, mode"
        " 0600). A running gateway picks it up within 2 seconds.",
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
    new.add_argument(
        "--file",
        metavar="FILE",
        help=f"the tokens file (default: ${TOKENS_ENV})",
    )
    new.set_defaults(handler=cmdTokenNew)
