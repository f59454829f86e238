# -*- test-case-name: tests.integration.remote.test_remote_oauth -*-
"""C{mcpgateway login SERVER} and C{mcpgateway logout SERVER}: give the
gateway a remote server's OAuth tokens, or take them back.

The server's URL comes from the running gateway (its management API) or
C{--url}. The browser flow is L{mcpgateway.remote.oauth.login}: the URL to
open is printed (and opened, unless C{--no-browser}); the redirect comes
back to this command on 127.0.0.1. The tokens go to the state directory's
encrypted store, which the running gateway reads again as soon as it changes:
no restart. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, runningGateway
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.remote.oauth.login import LOGIN_TIMEOUT, LoginError, login, logout
from mcpgateway.remote.oauth.tokens import TokenStoreError


def serverUrl(args: argparse.Namespace, ctx: CliContext, stateDir: Path) -> tuple[str, str | None]:
    """The remote server's URL (C{--url}, else the running gateway's entry)
    and the OAuth client id its entry names, if any (Claude Code's
    C{oauth.clientId}, kept when the entry was adopted)."""
    if args.url:
        url: str = args.url
        return url, None
    found = runningGateway(ctx.probe(stateDir))
    answer = ctx.http.api(found, "GET", f"/servers/{args.name}", timeout=ctx.timeouts.http)
    config = answer.get("config") if isinstance(answer, dict) else None
    given = config.get("url") if isinstance(config, dict) else None
    if not isinstance(given, str):
        raise CliError(f"server '{args.name}' is not a remote server (it has no URL)", code=2)
    assert isinstance(config, dict)
    clientId = config.get("oauthClientId")
    return given, clientId if isinstance(clientId, str) and clientId else None


def cmdLogin(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    url, entryClientId = serverUrl(args, ctx, stateDir)

    def openBrowser(where: str) -> Any:
        return webbrowser.open(where)

    try:
        grant = login(
            args.name,
            url,
            stateDir,
            say=out.note,
            openBrowser=None if args.no_browser else openBrowser,
            scope=args.scope,
            clientId=args.client_id or entryClientId,
            clientSecret=args.client_secret,
            timeout=args.timeout,
        )
    except (LoginError, TokenStoreError) as e:
        raise CliError(f"login to {args.name}: {e}") from None
    if out.json:
        out.emit({"ok": True, "server": args.name, "issuer": grant.issuer, "scope": grant.scope})
    else:
        out.line(
            f"logged in to {args.name} ({grant.issuer}); the gateway uses the token from now on"
        )
    return 0


def cmdLogout(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    try:
        count = logout(args.name, stateDir)
    except TokenStoreError as e:
        raise CliError(f"logout from {args.name}: {e}") from None
    if out.json:
        out.emit({"ok": True, "server": args.name, "forgotten": count})
    elif count:
        out.line(f"logged out of {args.name}: the gateway holds no token for it any more")
    else:
        out.line(f"no token for {args.name} was held")
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    login = commands.add_parser(
        "login",
        parents=common,
        help="give the gateway a remote server's OAuth tokens: login SERVER",
        description="Run the OAuth flow of a remote server (docs/guide/remote.md): discovery,"
        " dynamic client registration, PKCE, the browser (its URL is printed too), and"
        " keep the tokens, encrypted, in the state directory. The running gateway uses"
        " them at once and refreshes them before they expire.",
    )
    login.add_argument("name", metavar="SERVER", help="the remote server's name")
    login.add_argument("--url", help="its URL (default: the running gateway's entry)")
    login.add_argument(
        "--no-browser", action="store_true", help="print the URL to open; do not open it"
    )
    login.add_argument("--scope", help="the scopes to ask for (default: what the server asks)")
    login.add_argument(
        "--client-id",
        help="a client registered by hand (for an authorization server without"
        " dynamic registration)",
    )
    login.add_argument("--client-secret", help="that client's secret, if it has one")
    login.add_argument(
        "--timeout",
        type=float,
        default=LOGIN_TIMEOUT,
        help=f"seconds to wait for the browser (default {LOGIN_TIMEOUT:g})",
    )
    login.set_defaults(handler=cmdLogin)
    logout = commands.add_parser(
        "logout",
        parents=common,
        help="forget (and revoke) a remote server's OAuth tokens: logout SERVER",
        description="Revoke a remote server's tokens where its authorization server"
        " offers revocation, and forget them.",
    )
    logout.add_argument("name", metavar="SERVER", help="the remote server's name")
    logout.set_defaults(handler=cmdLogout)
