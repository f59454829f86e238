# -*- test-case-name: tests.cli.test_add -*-
"""C{mcpgateway add NAME}: install server NAME of an MCP registry as a
server of the gateway.

It reads the server from the registry (L{mcpgateway.cli.registry}), chooses
what to run (L{mcpgateway.registry.choose}: a stdio package, or a remote
with C{--remote} or when there is none), asks for the values it needs
(C{--env NAME=VALUE} and C{--set KEY=VALUE} give them; a terminal is asked
for the rest, a secret without echo), shows the exact command line (or URL)
with its environment and asks to confirm (C{--yes} answers for the person),
and for an image whose container would get a path of this machine (a bind
mount), that exact path: C{--allow-host-path PATH}, or a yes on a terminal
(C{--yes} does not approve one), stores the secret values in the secret store, and adds the entry as
C{mcpgateway servers add} does: through the running gateway's management API
(C{POST /api/v1/servers}), or, when no gateway runs, into
C{<state-dir>/servers.json} itself, checked as the API checks an entry and
written atomically. Either way it is a server of the gateway's own file: for
every workspace, or with C{--scope workspace} for the sessions of the
current directory's workspace only (its routes, as a project's entry in a
client's file).
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.registry import RegistrySeams, fetchServer, registryClient, registryOption
from mcpgateway.cli.servers import parseEnv, serverShare
from mcpgateway.config import servers as config
from mcpgateway.config.serversfile import (
    ServersFile,
    addWorkspaceEntry,
    blockedEnvKeys,
    workspaceEntries,
)
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.ops.statedir import unsafeStateDir
from mcpgateway.registry.choose import KINDS, Choice, InstallError, choose
from mcpgateway.registry.entries import (
    Built,
    HostMount,
    HostPathNeeded,
    Prompt,
    buildEntry,
    defaultName,
    describeEntry,
    promptsOf,
    shown,
)

StoreSecret = Callable[[str, str], None]
"""Keeps a secret value under a name (the secret store's setter)."""


def _ask(prompt: str) -> str:
    """A line from stdin, its prompt on stderr (stdout may be a script's)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise CliError("no answer (end of input)")
    return line.rstrip("\r\n")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def secretStore(stateDir: Path) -> StoreSecret | None:
    """The setter of the secret store of C{stateDir}
    (L{mcpgateway.secrets.store.SecretStore.put}), looked up late: C{None}
    when this installation has none. A value it refuses is a L{CliError}
    (its message never holds the value)."""
    try:
        from mcpgateway.secrets.store import SecretStore, SecretStoreError
    except ImportError:
        return None
    store = SecretStore(stateDir)

    def put(name: str, value: str) -> None:
        try:
            store.put(name, value)
        except SecretStoreError as e:
            raise CliError(f"secret {name}: {e}") from None

    return put


@dataclass
class AddSeams(RegistrySeams):
    """What C{add} reaches the person and the secret store through (and the
    registry, as L{RegistrySeams}); a test gives fakes."""

    interactive: Callable[[], bool] = _interactive
    ask: Callable[[str], str] = _ask
    askSecret: Callable[[str], str] = field(default=lambda prompt: getpass.getpass(prompt))
    storeSecret: Callable[[Path], StoreSecret | None] = secretStore


def cmdAdd(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return runAdd(args, out, ctx, AddSeams())


def runAdd(args: argparse.Namespace, out: Output, ctx: CliContext, seams: AddSeams) -> int:
    client = registryClient(args, seams)
    server = fetchServer(client, args.name, args.version)
    if server.status == "deleted":
        raise CliError(f"{server.name} is deleted from the registry: it is not installed")
    if server.status == "deprecated":
        out.note(f"note: {shown(server.name)} is deprecated: {shown(server.statusMessage or '')}")
    try:
        choice = choose(server, kind=args.type, remote=args.remote)
        prompts = promptsOf(choice)
    except InstallError as e:
        raise CliError(str(e)) from None
    name = args.localName or defaultName(server.name)
    envValues, values = givenValues(args, prompts, seams.environ)
    askFor(prompts, envValues, values, args.yes, seams, out)
    built = buildApproved(args, choice, name, (values, envValues), seams, out)
    stateDir = resolveStateDir(args.state_dir)
    store = seams.storeSecret(stateDir) if built.secrets else None
    if built.secrets and store is None:
        raise CliError(
            f"{', '.join(s for s, _ in built.secrets)}: this installation has no secret store"
            " to keep a secret in; `mcpgateway servers add` adds a server with plain values"
        )
    where = f", for workspace {shown(workspaceOf(args))}" if args.scope == "workspace" else ""
    out.note(f"{shown(server.name)} {shown(server.version)} ({choice.kind}) as {name}{where}:")
    for line in describeEntry(built):
        out.note(f"  {line}")
    if args.dry_run:
        return _report(out, choice, built, None, None, dryRun=True)
    confirm(name, args.yes, seams)
    for secret, value in built.secrets:
        assert store is not None
        store(secret, value)
    return addEntry(args, out, ctx, choice, built, seams.environ)


def buildApproved(
    args: argparse.Namespace,
    choice: Choice,
    name: str,
    given: tuple[dict[str, str], dict[str, str]],
    seams: AddSeams,
    out: Output,
) -> Built:
    """The entry, with the host paths its container gets approved: by
    C{--allow-host-path}, else each asked on a terminal (not with C{--yes});
    a dry run shows them unapproved."""
    values, envValues = given
    approved = list(args.allow_host_path or [])
    for _ in range(2):  # the second build has every path the first asked for
        try:
            return buildEntry(choice, name, values, envValues, hostPaths=approved)
        except HostPathNeeded as e:
            if args.dry_run:
                for mount in e.mounts:
                    out.note(f"  (not approved: --allow-host-path {shlex.quote(mount.path)})")
                approved += [mount.path for mount in e.mounts]
            else:
                approved += approveHostPaths(e.mounts, args.yes, seams)
        except InstallError as e:
            raise CliError(f"{shown(choice.server.name)}: {e}") from None
    raise CliError(f"{shown(choice.server.name)}: its host paths could not be approved")


def approveHostPaths(mounts: tuple[HostMount, ...], yes: bool, seams: AddSeams) -> list[str]:
    """The paths of C{mounts} the person approves, one question each,
    naming the exact path; without a terminal (or with C{--yes}) an error
    naming the C{--allow-host-path} options that approve them."""
    if yes or not seams.interactive():
        options = " ".join(f"--allow-host-path {shlex.quote(m.path)}" for m in mounts)
        listed = "; ".join(m.describe() for m in mounts)
        raise CliError(
            f"nothing added: the container would get paths of this machine ({listed});"
            f" approve each exact path with {options}"
        )
    for mount in mounts:
        question = f"Give the container this path of your machine: {mount.describe()}? [y/N] "
        if seams.ask(question).strip().lower() not in ("y", "yes"):
            raise CliError(f"nothing added: {shown(mount.path)} was not approved")
    return [mount.path for mount in mounts]


def givenValues(
    args: argparse.Namespace, prompts: list[Prompt], environ: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The values of C{--env} and C{--set}, each checked against what the
    server asks for (a key it does not ask for is refused, listing those it
    does)."""
    envValues = parseEnvFrom(args.env, environ)
    values: dict[str, str] = {}
    for pair in args.set or []:
        key, sep, value = pair.partition("=")
        if not key or not sep:
            raise CliError(f"--set {pair!r}: must be KEY=VALUE", code=2)
        values[key] = value
    for given, env, option in ((envValues, True, "--env"), (values, False, "--set")):
        known = [p.key for p in prompts if p.env == env]
        for key in given:
            if key not in known:
                listed = ", ".join(known) if known else "none"
                raise CliError(f"{option} {key}: the server asks for no such value ({listed})")
    return envValues, values


def parseEnvFrom(pairs: Sequence[str] | None, environ: Mapping[str, str]) -> dict[str, str]:
    """C{--env KEY=VALUE}, or C{--env KEY} for KEY's value in this shell
    (a secret need not be on the command line)."""
    plain = [pair for pair in pairs or [] if "=" in pair]
    env = parseEnv(plain)
    for key in pairs or []:
        if "=" in key:
            continue
        if key not in environ:
            raise CliError(f"--env {key}: {key} is not set in this shell; use --env {key}=VALUE")
        env[key] = environ[key]
    return env


def askFor(
    prompts: list[Prompt],
    envValues: dict[str, str],
    values: dict[str, str],
    yes: bool,
    seams: AddSeams,
    out: Output,
) -> None:
    """Ask the person for what was not given: every value on a terminal
    (Enter keeps the default or leaves it out), only the required ones
    without a default with C{--yes}; a required one that cannot be asked for
    is a L{CliError} naming its option."""
    interactive = seams.interactive()
    for prompt in prompts:
        given = envValues if prompt.env else values
        if prompt.key in given:
            continue
        needed = prompt.required and prompt.default is None
        if not needed and (yes or not interactive):
            continue
        if not interactive:
            option = "--env" if prompt.env else "--set"
            raise CliError(
                f"{prompt.key} needs a value: give it with {option} {prompt.key}=VALUE"
                + (f" (or {option} {prompt.key}, from this shell)" if prompt.env else "")
            )
        answer = _askOne(prompt, seams, out)
        if answer:
            given[prompt.key] = answer
        elif needed:
            raise CliError(f"{prompt.key} needs a value")


def _askOne(prompt: Prompt, seams: AddSeams, out: Output) -> str:
    notes = [w for w, on in (("required", prompt.required), ("secret", prompt.secret)) if on]
    if prompt.choices:
        notes.append("one of " + "|".join(prompt.choices))
    head = shown(prompt.key) + (f" ({', '.join(notes)})" if notes else "")
    if prompt.description:
        out.note(f"{head}: {shown(prompt.description)}")
    else:
        out.note(head)
    default = f" [{shown(prompt.default)}]" if prompt.default is not None else ""
    text = f"  {shown(prompt.key)}{default}: "
    return (seams.askSecret if prompt.secret else seams.ask)(text)


def confirm(name: str, yes: bool, seams: AddSeams) -> None:
    """The person's yes to adding it (C{--yes} is one)."""
    if yes:
        return
    if not seams.interactive():
        raise CliError("nothing added: confirm with --yes (there is no terminal to ask)")
    answer = seams.ask(f"Add it as {name}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("nothing added")


def addEntry(
    args: argparse.Namespace,
    out: Output,
    ctx: CliContext,
    choice: Choice,
    built: Built,
    environ: Mapping[str, str],
) -> int:
    """Add C{built} through the running gateway's API, else into its file
    (for the current directory's workspace with C{--scope workspace})."""
    workspace = workspaceOf(args) if args.scope == "workspace" else None
    found = ctx.probe(resolveStateDir(args.state_dir))
    if not found.running:
        path = addToFile(found.stateDir, built, environ, workspace)
        return _report(out, choice, built, None, path)
    body = {"name": built.name, **built.entry}
    if workspace is not None:
        body["workspace"] = workspace
    summary = ctx.http.api(found, "POST", "/servers", body, timeout=ctx.timeouts.change)
    url = f"{found.baseUrl()}/{built.name}/mcp"
    return _report(out, choice, built, (url, summary), None)


def workspaceOf(args: argparse.Namespace) -> str:
    """The workspace C{--scope workspace} means: the current directory."""
    return os.path.abspath(os.getcwd())


def addToFile(
    stateDir: Path, built: Built, environ: Mapping[str, str], workspace: str | None = None
) -> Path:
    """Write C{built} into C{<stateDir>/servers.json} as the management
    API would: the name free there (for every workspace, or in
    C{workspace}'s own entries), no env key the API refuses, the entry one
    the config loader accepts (strictly) with its command on C{PATH}, the
    file replaced atomically."""
    unsafe = unsafeStateDir(stateDir)
    if unsafe is not None:
        raise CliError(unsafe)
    stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    managed = ServersFile(stateDir)
    try:
        data = managed.read()
    except ValueError as e:
        raise CliError(str(e)) from None
    if not isinstance(data.get("mcpServers"), dict):
        raise CliError(f"{managed.path}: 'mcpServers' is not an object")
    taken = (
        built.name in data["mcpServers"]
        if workspace is None
        else workspace in workspaceEntries(data, built.name)
    )
    if taken:
        where = "" if workspace is None else f" for workspace {workspace}"
        raise CliError(
            f"{managed.path} has a server named {built.name}{where}: choose another --as NAME"
        )
    blocked = blockedEnvKeys(built.entry.get("env", {}))
    if blocked:
        raise CliError(f"env: key(s) not allowed: {', '.join(blocked)}")
    try:
        spec = config.parseEntry(built.name, built.entry, dict(environ), strict=True)
    except config.EntryError as e:
        raise CliError(f"{built.name}: {e}") from None
    if not spec.runnable:
        raise CliError(
            f"command: '{spec.command}' was not found on PATH (npx comes with Node.js,"
            " uvx with uv, docker with Docker)"
        )
    if workspace is None:
        data["mcpServers"][built.name] = built.entry
    else:
        addWorkspaceEntry(data, workspace, built.name, built.entry)
    managed.write(data)
    return managed.path


def _report(
    out: Output,
    choice: Choice,
    built: Built,
    added: tuple[str, Any] | None,
    path: Path | None,
    dryRun: bool = False,
) -> int:
    server = choice.server
    if out.json:
        document: dict[str, Any] = {
            "ok": True,
            "name": built.name,
            "registry": {"name": server.name, "version": server.version, "kind": choice.kind},
            "entry": built.entry,
            "secrets": [name for name, _ in built.secrets],
            "hostPaths": [mount.path for mount in built.mounts],
        }
        if dryRun:
            document["dryRun"] = True
        if added is not None:
            document["url"], document["server"] = added
        if path is not None:
            document["file"] = str(path)
        out.emit(document)
    elif dryRun:
        out.line(f"(dry run: {built.name} is not added)")
    elif added is not None:
        url, summary = added
        share = serverShare(summary) if isinstance(summary, dict) else "?"
        out.line(f"added {built.name} (share: {share}): {url}")
    else:
        out.line(
            f"added {built.name} to {path}: the gateway is not running;"
            f" `mcpgateway start` serves it at /{built.name}/mcp"
        )
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    add = commands.add_parser(
        "add",
        parents=common,
        help="install a server of an MCP registry by name: add io.github.owner/server",
        description="Install server NAME of an MCP registry (`mcpgateway registry search`"
        " finds names) as a server of the gateway: a stdio package run with npx -y, uvx or"
        " docker run -i --rm (a remote URL with --remote, or when it has no package). It"
        " asks for the values the server needs (on a terminal; --env and --set give them),"
        " keeps secret ones in the secret store, shows the command line and asks to confirm"
        " (--yes confirms). Added through the running gateway's management API, live at"
        " once, else into <state-dir>/servers.json for its next start."
        f" {TOKEN_HELP}",
    )
    add.add_argument("name", metavar="NAME", help="its registry name: io.github.owner/server")
    add.add_argument("--version", metavar="V", help="that version instead of the latest")
    add.add_argument(
        "--as",
        dest="localName",
        metavar="NAME",
        help="its name in the gateway, /NAME/mcp (default: the part after the '/')",
    )
    add.add_argument(
        "--scope",
        choices=("global", "workspace"),
        default="global",
        help="who gets it: global (every session) or workspace (the sessions of the current"
        " directory's workspace only); kept in the gateway's own servers.json either way",
    )
    add.add_argument(
        "--remote", action="store_true", help="call its remote URL instead of running a package"
    )
    add.add_argument("--type", choices=KINDS, help="install it as that: npm, pypi, oci or remote")
    add.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help="the value of an environment variable it asks for (repeatable); --env NAME"
        " takes NAME's value from this shell (keeps a secret off the command line)",
    )
    add.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="the value of an argument, header or URL variable it asks for (repeatable;"
        " `mcpgateway registry show NAME` lists them)",
    )
    add.add_argument(
        "--allow-host-path",
        action="append",
        metavar="PATH",
        help="approve this exact path of this machine for an image's container (a bind"
        " mount it asks for; repeatable). Without it a terminal asks for each one, and"
        " nothing is added unless each is approved; --yes approves none",
    )
    add.add_argument("-y", "--yes", action="store_true", help="add it without asking to confirm")
    add.add_argument("--dry-run", action="store_true", help="show what would be added; add nothing")
    registryOption(add)
    add.set_defaults(handler=cmdAdd)
