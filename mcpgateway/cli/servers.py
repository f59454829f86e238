# -*- test-case-name: tests.cli.test_servers -*-
"""C{mcpgateway servers list|show|add|edit|remove|enable|disable|restart|reset-circuit}:
change the servers of the running gateway through its management API
(C{/api/v1}, with C{$MCPGATEWAY_API_TOKEN} when that is set). Changes are
live at once and kept in C{<state-dir>/servers.json}."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP, serverPath
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, runningGateway
from mcpgateway.cli.serversedit import addEditParser
from mcpgateway.cli.serversshow import addShowParser
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.runtime.paths import API_PREFIX

SHARES = ("global", "workspace", "credential", "session")
"""The choices of C{servers add --share}: who shares a server's children (its
scope, C{"share"} in a config entry; docs/guide/scopes.md), widest first, as
C{mcpgateway.core.spec.SHARES} has them (not imported: it is not the CLI's)."""
URL_SCHEMES = ("http", "https")
"""The schemes of a remote server's URL (C{servers add NAME URL})."""
LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/|(?i:https?|wss?)(:|//)")
"""A word that a person meant as a URL, whatever its scheme or slashes
(C{htps://}, C{http:/x}, C{ws://}, C{https//x}, C{http:x}); a one-letter
scheme is a drive (C{C:/}), not a URL."""
MODES = {"stateless": "global", "stateful": "session"}
"""C{servers add --mode}, the older words, and the C{--share} each means (as
a config entry's older C{"mode"} is read)."""


def cmdServersList(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    answer = ctx.http.api(found, "GET", "/servers", timeout=ctx.timeouts.http)
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not isinstance(servers, list):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}/servers did not answer a list")
    servers = [s for s in servers if isinstance(s, dict)]
    if out.json:
        out.emit({"servers": servers})
        return 0
    for line in renderServers(servers):
        out.line(line)
    return 0


SERVER_COLUMNS = [
    ("NAME", "name"),
    ("STATE", "state"),
    ("SHARE", "share"),
    ("CHILDREN", "children"),
    ("SESSIONS", "sessions"),
    ("REQUESTS", "requests"),
    ("RESTARTS", "restarts"),
    ("FROM", "origin"),
]


def renderServers(servers: list[dict[str, Any]]) -> list[str]:
    """C{servers list} as a table, one row per server, problems below it."""
    if not servers:
        return ["(no servers: `mcpgateway servers add NAME -- COMMAND` adds one)"]
    rows = [[title for title, _ in SERVER_COLUMNS]]
    for server in servers:
        rows.append([_cell(server, key) for _, key in SERVER_COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(SERVER_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for server in servers:
        for key in ("error", "warning"):
            if server.get(key):
                lines.append(f"  ! {server.get('name')}: {server[key]}")
    return lines


def _cell(server: dict[str, Any], key: str) -> str:
    if key == "share" and "share" not in server:
        return serverShare(server)
    return str(server.get(key, "?"))


def serverShare(server: dict[str, Any]) -> str:
    """A server's C{share} word; from a gateway that sends only the older
    C{mode}, the C{share} it means."""
    share = server.get("share")
    if isinstance(share, str):
        return share
    mode = server.get("mode")
    return MODES.get(mode, str(mode)) if isinstance(mode, str) else "?"


def parseEnv(pairs: Sequence[str] | None) -> dict[str, str]:
    """C{--env KEY=VALUE} (or C{--env KEY}: the value of KEY here) as a dict."""
    env: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not key:
            raise CliError(
                f"--env {pair!r}: must be KEY=VALUE (or KEY, to pass on its value from this shell)"
            )
        if not sep:
            if key not in os.environ:
                raise CliError(
                    f"--env {key}: {key} is not set in this shell; use --env {key}=VALUE"
                )
            value = os.environ[key]
        env[key] = value
    return env


def parseHeaders(lines: Sequence[str] | None) -> dict[str, str]:
    """C{--header 'Name: value'} (repeatable) as a dict."""
    headers: dict[str, str] = {}
    for line in lines or []:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise CliError(f"--header {line!r}: must be 'Name: value'", code=2)
        headers[name.strip()] = value.strip()
    return headers


def remoteBody(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The API body of a remote server at C{url} (C{servers add NAME URL})."""
    for given, option in (
        (args.env, "--env"),
        (args.cwd, "--cwd"),
        (args.credential_env, "--credential-env"),
    ):
        if given:
            raise CliError(
                f"{option} is for a stdio server; a remote server at {url} has none", code=2
            )
    if args.share not in (None, "global", "session") or args.mode is not None:
        raise CliError("a remote server is shared --share global or --share session", code=2)
    body: dict[str, Any] = {"name": args.name, "type": args.transport or "http", "url": url}
    headers = parseHeaders(args.header)
    if headers:
        body["headers"] = headers
    if args.share is not None:
        body["share"] = args.share
    return body


def remoteUrl(command: list[str]) -> str | None:
    """The URL of C{servers add NAME URL} (C{None}: C{command} is a
    command line).

    @raise CliError: it looks like a URL but is not an http(s) one with a
        host (a mistyped scheme is not run as a command), or has arguments.
    """
    first = command[0]
    if not LOOKS_LIKE_URL.match(first):
        return None
    accepted = " or ".join(f"{scheme}://" for scheme in URL_SCHEMES)
    scheme = first.partition(":")[0].lower()
    if scheme not in URL_SCHEMES or not first[len(scheme) :].startswith("://"):
        raise CliError(
            f"{first!r} is not a URL the gateway reaches: a remote server's URL starts with"
            f" {accepted} (a command goes after --)",
            code=2,
        )
    try:
        host = urllib.parse.urlsplit(first).hostname
    except ValueError:
        host = None
    if not host:
        raise CliError(f"{first!r} is not a URL: it names no host", code=2)
    if len(command) > 1:
        raise CliError(
            f"a remote server's URL takes no arguments ({shlex.join(command)});"
            " headers go in --header",
            code=2,
        )
    return first


def cmdServersAdd(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    command = list(args.argv)
    if command and command[0] == "--":
        command.pop(0)
    if not command:
        raise CliError("no command: `mcpgateway servers add NAME -- COMMAND [ARGS...]`")
    url = remoteUrl(command)
    if url is not None:
        return _addRemote(args, out, ctx, remoteBody(args, url))
    if args.transport is not None or args.header:
        raise CliError("--transport and --header are for a remote server: give its URL", code=2)
    if os.sep in command[0] and not os.path.isabs(command[0]):
        command[0] = os.path.abspath(command[0])  # the gateway runs in another directory
    credentialEnv = list(dict.fromkeys(args.credential_env or []))
    for name in credentialEnv:
        if not ENV_NAME.fullmatch(name):
            raise CliError(
                f"--credential-env {name!r}: not an environment variable name"
                " (letters, digits and _, not starting with a digit)",
                code=2,
            )
    asked = MODES.get(args.mode, args.mode) if args.mode is not None else args.share
    if asked == "credential" and not credentialEnv:
        raise CliError(
            "--share credential needs --credential-env NAME (repeatable): the variables"
            " a client sends as X-Mcp-Env-NAME headers, one child per set of their values"
            " (docs/guide/scopes.md)",
            code=2,
        )
    if credentialEnv and asked in ("global", "workspace"):
        shown = f"--mode {args.mode}" if args.mode is not None else f"--share {asked}"
        raise CliError(
            f"{shown} with --credential-env: a server with credential variables gets a"
            " child per set of their values, which is --share credential (the default"
            " with --credential-env); drop one of the two (docs/guide/scopes.md)",
            code=2,
        )
    body: dict[str, Any] = {"name": args.name, "command": command[0], "args": command[1:]}
    if credentialEnv:
        body["credentialEnv"] = credentialEnv
    env = parseEnv(args.env)
    if env:
        body["env"] = env
    if args.mode is not None:
        body["mode"] = args.mode  # the older word: a gateway not yet restarted takes it too
    elif args.share is not None:
        body["share"] = args.share
    if args.cwd is not None:
        body["cwd"] = os.path.abspath(os.path.expanduser(args.cwd))
    if args.workspace is not None:
        body["workspace"] = os.path.abspath(os.path.expanduser(args.workspace))
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    summary = ctx.http.api(found, "POST", "/servers", body, timeout=ctx.timeouts.change)
    url = f"{found.baseUrl()}/{args.name}/mcp"
    if out.json:
        out.emit({"ok": True, "server": summary, "url": url})
    else:
        share = serverShare(summary) if isinstance(summary, dict) else "?"
        out.line(f"added {args.name} (share: {share}): {url}")
    return 0


def _addRemote(args: argparse.Namespace, out: Output, ctx: CliContext, body: dict[str, Any]) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    summary = ctx.http.api(found, "POST", "/servers", body, timeout=ctx.timeouts.change)
    url = f"{found.baseUrl()}/{args.name}/mcp"
    if out.json:
        out.emit({"ok": True, "server": summary, "url": url})
    else:
        share = serverShare(summary) if isinstance(summary, dict) else "?"
        out.line(f"added {args.name} (remote, share: {share}): {url} -> {body['url']}")
    return 0


def _change(
    args: argparse.Namespace,
    out: Output,
    ctx: CliContext,
    method: str,
    path: str,
    body: Any,
    done: Callable[[Any], str],
) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    answer = ctx.http.api(found, method, path, body, timeout=ctx.timeouts.change)
    if out.json:
        out.emit({"ok": True, **(answer if isinstance(answer, dict) else {"answer": answer})})
    else:
        out.line(done(answer if isinstance(answer, dict) else {}))
    return 0


def cmdServersRemove(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    path = serverPath(args.name)
    workspace = getattr(args, "workspace", None)
    if workspace is not None:
        workspace = os.path.abspath(os.path.expanduser(workspace))
        path += "?" + urllib.parse.urlencode({"workspace": workspace})
    return _change(
        args,
        out,
        ctx,
        "DELETE",
        path,
        None,
        lambda answer: (
            f"removed {args.name}"
            + (f" for workspace {answer['workspace']}" if "workspace" in answer else "")
        ),
    )


def cmdServersEnable(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return _change(
        args,
        out,
        ctx,
        "PATCH",
        serverPath(args.name),
        {"enabled": True},
        lambda answer: f"enabled {args.name} (state: {answer.get('state', '?')})",
    )


def cmdServersDisable(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return _change(
        args,
        out,
        ctx,
        "PATCH",
        serverPath(args.name),
        {"enabled": False},
        lambda _: (
            f"disabled {args.name}: its children are stopped and its"
            " requests refused until `mcpgateway servers enable`"
        ),
    )


def cmdServersRestart(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    def done(answer: Any) -> str:
        stopped = [str(pid) for pid in answer.get("stopped") or []]
        if not stopped:
            return f"restarted {args.name} (no child was running)"
        return (
            f"restarted {args.name}: stopped pid {', '.join(stopped)}; the next request"
            " (a client's start-up included) starts a fresh child"
        )

    return _change(args, out, ctx, "POST", serverPath(args.name, "/restart"), None, done)


def cmdServersResetCircuit(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return _change(
        args,
        out,
        ctx,
        "POST",
        serverPath(args.name, "/reset-circuit"),
        None,
        lambda answer: f"reset the circuit of {args.name} (state: {answer.get('state', '?')})",
    )


def cmdServersShare(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    def said(answer: dict[str, Any]) -> str:
        promoted = answer.get("promoted")
        if not isinstance(promoted, dict):
            return f"{args.name} was not promoted: it keeps the share of its entry"
        return (
            f"{args.name} shares its children again (it was promoted to"
            f" {promoted.get('share')}: {promoted.get('why')})"
        )

    return _change(args, out, ctx, "POST", serverPath(args.name, "/share"), None, said)


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    servers = commands.add_parser(
        "servers",
        parents=common,
        help="list, show, add, edit, remove, enable, disable, restart servers",
        description="Change the servers of the running gateway through its management API"
        f" ({API_PREFIX}). Changes are live at once and kept in"
        f" <state-dir>/servers.json, so they survive a restart. {TOKEN_HELP}",
    )
    actions = servers.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "list",
        parents=common,
        help="every server: state, share, children, sessions, requests",
        description="A table of every server of the running gateway: state,"
        " share (who shares its children: global, workspace, credential or"
        " session), children, sessions, requests, restarts and where"
        " it comes from (config or api), with its problems"
        f" below. {TOKEN_HELP}",
    ).set_defaults(handler=cmdServersList)
    addShowParser(actions, common)
    _addAddParser(actions, common)
    addEditParser(actions, common)
    for action, handler, text, more in [
        (
            "remove",
            cmdServersRemove,
            "remove a server added with `servers add`",
            "Its children stop and its route goes away. A server of the config file is"
            " removed there instead (or disabled here).",
        ),
        (
            "enable",
            cmdServersEnable,
            "serve a disabled server again",
            "Its next request starts a child.",
        ),
        (
            "disable",
            cmdServersDisable,
            "stop a server's children and refuse its requests (kept across restarts)",
            "Its requests are refused until `mcpgateway servers enable`.",
        ),
        (
            "restart",
            cmdServersRestart,
            "stop a server's children; the next request starts a fresh one",
            "Sessions of a shared child stay; a session with a child of its own"
            " (share: session) ends.",
        ),
        (
            "share",
            cmdServersShare,
            "undo a server's promotion: it shares its children as its entry says again",
            "A shared server the gateway promoted to a child per session (a request of its"
            " child no session could be proven to own) gets its own share back; sessions open"
            " now keep their own children until they end.",
        ),
        (
            "reset-circuit",
            cmdServersResetCircuit,
            "forget a server's failures: the next request starts a child at once",
            "For a server in `error` after repeated failures, once its cause is fixed.",
        ),
    ]:
        command = actions.add_parser(
            action,
            parents=common,
            help=text,
            description=f"{text[0].upper()}{text[1:]}. {more} {TOKEN_HELP}",
        )
        command.add_argument("name", metavar="NAME")
        if action == "remove":
            command.add_argument(
                "--workspace",
                metavar="DIR",
                help="the workspace it was added for (needed when it was added for several)",
            )
        command.set_defaults(handler=handler)


def _addAddParser(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """C{servers add NAME -- COMMAND [ARGS...]} and its options."""
    add = actions.add_parser(
        "add",
        parents=common,
        help="add a server: servers add NAME -- COMMAND [ARGS...], or servers add NAME URL",
        usage="mcpgateway servers add [--env KEY=VALUE]... [--share SHARE]"
        " [--credential-env NAME]... [--cwd DIR] NAME -- COMMAND [ARGS...]\n"
        "       mcpgateway servers add [--transport http|sse] [--header 'NAME: VALUE']..."
        " [--share global|session] NAME URL",
        description="Add a stdio MCP server, or a remote one at an http(s) URL, served at"
        " once at /NAME/mcp. Put a command after --, so its own options are not read as"
        " ours. The gateway refuses a command it cannot find on its PATH, and env keys"
        " that change what a child runs (LD_PRELOAD, DYLD_*, PYTHONPATH, NODE_OPTIONS,"
        " ...). A remote server gets an upstream session per client session unless"
        " --share global (docs/guide/remote.md).",
    )
    add.add_argument("name", metavar="NAME", help="the server's name (letters, digits, - _ .)")
    add.add_argument("argv", nargs="+", metavar="COMMAND", help="the command and its arguments")
    add.add_argument(
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="an environment variable for its children (repeatable); --env KEY"
        " passes on KEY's value from this shell",
    )
    scope = add.add_mutually_exclusive_group()
    scope.add_argument(
        "--share",
        choices=SHARES,
        help="who shares its children (docs/guide/scopes.md): global (one child for"
        " every session), workspace (one per project; a server added here"
        " belongs to none, so it has one), credential (one per set of"
        " credential values, per user) or session (one per session); default:"
        " the gateway's classification",
    )
    scope.add_argument(
        "--mode",
        choices=tuple(MODES),
        help="the older words: stateless is --share global, stateful is --share session",
    )
    add.add_argument("--cwd", metavar="DIR", help="the working directory of its children")
    add.add_argument(
        "--workspace",
        metavar="DIR",
        help="serve it to the sessions of that workspace only (its routes, /NAME~KEY/mcp),"
        " as a project's entry in a client's config is (docs/guide/scopes.md)",
    )
    add.add_argument(
        "--credential-env",
        action="append",
        metavar="NAME",
        help="a variable a client may send as an X-Mcp-Env-NAME header (repeatable;"
        " a child per set of values: --share credential, its share unless --share"
        " session is given; docs/guide/scopes.md)",
    )
    add.add_argument(
        "--transport",
        choices=("http", "sse"),
        help="how a remote server is reached: http (Streamable HTTP, the default) or sse"
        " (the 2024-11-05 HTTP+SSE transport)",
    )
    add.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="a header sent with every request to a remote server (repeatable; an API"
        " key, a bearer token); shown masked afterwards",
    )
    add.set_defaults(handler=cmdServersAdd)
