# -*- test-case-name: tests.selfservice.test_changes -*-
"""What an C{add_server} call adds, how the person is shown it, and the
C{mcpgateway} command that makes the same change.

An addition (L{Addition}) is one entry of the gateway's C{servers.json}:

 - from the MCP registry, by name (L{fromRegistry}): the package or remote
   L{mcpgateway.registry.choose} picks, as L{mcpgateway.registry.entries}
   builds it (C{npx -y}, C{uvx}, C{docker run -i --rm}, a remote URL). A
   server that needs a secret value is not added from a session (its value
   would pass through the model, and elicitation may not ask for secrets):
   the person runs C{mcpgateway add}, which asks for it without echo;
 - a command line with its arguments and environment (L{fromCommand});
 - a remote server's URL (L{fromUrl}).

The person confirms what runs: the exact command line (or the URL), every
environment value that names a place of this machine, with whether the
server may write there (L{placesOf}: a confined server is given the folders
of its data variables writable and the other paths its variables name
read-only), the names only of its other variables (and headers), and for an
image each path of this machine its container would get, ticked one by one
(L{confirmSchema}). Whitespace is
shown, not kept: a run of spaces is C{⟨40 spaces⟩}, so that padding cannot
push the rest of a command line out of a dialog, and a long line is cut
saying how many arguments and characters are left out, after saying how
many there are. Values come from the model; a name that steers what a
program loads or runs (C{NODE_OPTIONS}, C{LD_PRELOAD}, C{PATH}, C{GIT_*}:
L{mcpgateway.config.deniedenv}) is refused, since the person does not see
its value. Every addition carries its CLI form (L{Addition.cli}): what the
person runs when the client cannot ask.
"""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.core.envsecrets import secretLooking
from mcpgateway.registry.choose import KINDS, Choice, InstallError, choose
from mcpgateway.registry.client import RegistryClient, RegistryError
from mcpgateway.registry.display import (
    argumentCount,
    cappedText,
    plural,
    showArgument,
    visible,
)
from mcpgateway.registry.dockerrun import HostMount, HostPathNeeded
from mcpgateway.registry.entries import (
    LOCAL_NAME,
    Built,
    MissingValue,
    argvOf,
    buildEntry,
    commandLine,
    defaultName,
    promptsOf,
    shown,
)
from mcpgateway.sandbox.writes import writesThere

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
TRANSPORTS = {"http": "Streamable HTTP", "sse": "HTTP+SSE"}
"""A remote entry's C{type} and how it is named to the person."""
NO_WORKSPACE = (
    "scope 'workspace' needs this session's workspace, and the client gives none (MCP roots):"
    " add it with scope 'global', or in the project's directory the person runs"
)
MAX_ARGS = 256
MAX_TEXT = 4096
SHOWN_LINE = 600
"""Characters of a command line (or URL) a question shows; past them it
says how many arguments and characters it leaves out."""
SHOWN_NAMES = 40
"""Environment variable or header names a question lists."""
SHOWN_PATH = 400
"""Characters of an environment value naming a path a question shows
whole; a longer one is not taken from a session."""


class ChangeError(Exception):
    """A call that cannot be made as asked; the message says why, for the
    model and the person (C{cli}: the command that would do it instead)."""

    def __init__(self, message: str, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli


@dataclass(frozen=True)
class Addition:
    """One server to add: its C{name}, the C{entry} the API gets, where it
    comes from (C{origin}: the registry's name and version; C{None}: the
    caller's own command or URL) and the command that adds it from a shell."""

    name: str
    entry: dict[str, Any]
    cli: str
    origin: str | None = None
    workspace: str | None = None
    """The workspace whose sessions only get it (C{None}: every session)."""
    mounts: tuple[HostMount, ...] = ()
    """The paths of this machine its container gets: each asked for by its
    own box of the question (L{confirmSchema}), and approved only ticked."""

    @property
    def remote(self) -> bool:
        return "url" in self.entry

    @property
    def envNames(self) -> list[str]:
        return sorted(self.entry.get("env") or {})

    @property
    def headerNames(self) -> list[str]:
        return sorted(self.entry.get("headers") or {})


RegistryOpener = Callable[[], RegistryClient]


def fromArguments(args: Mapping[str, Any], registry: RegistryOpener) -> Addition:
    """The addition an C{add_server} call asks for: exactly one of
    C{server} (a registry name), C{command} or C{url}, for every session
    (its C{scope} is read by L{scopeOf}).

    @raise ChangeError: it cannot be added as asked.
    """
    given = [key for key in ("server", "command", "url") if args.get(key) is not None]
    if len(given) != 1:
        raise ChangeError(
            "give exactly one of 'server' (a name from the MCP registry, see find_server),"
            " 'command' (with 'args' and 'env') or 'url' (a remote MCP server)"
        )
    if given == ["server"]:
        return fromRegistry(args, registry)
    if given == ["command"]:
        return fromCommand(args)
    return fromUrl(args)


def fromRegistry(args: Mapping[str, Any], registry: RegistryOpener) -> Addition:
    """The entry that runs registry server C{args["server"]} (its
    C{version}, as C{packageType}, with the C{settings} and C{env} values
    it asks for), named C{args["name"]} or after its registry name."""
    server = text(args, "server")
    version = optionalText(args, "version")
    kind = optionalText(args, "packageType")
    if kind is not None and kind not in KINDS:
        raise ChangeError(f"packageType must be one of {', '.join(KINDS)}, not {kind!r}")
    settings = stringMap(args, "settings")
    env = stringMap(args, "env")
    checkEnvNames(env)
    noReferences([*settings.values(), *env.values()], None)
    try:
        detail = registry().server(server, version)
    except RegistryError as e:
        raise ChangeError(str(e)) from None
    name = optionalText(args, "name") or defaultName(detail.name)
    cli = registryCli(detail.name, name, version, kind, settings, env)
    if detail.status == "deleted":
        raise ChangeError(f"{detail.name} is deleted from the registry: it is not added")
    try:
        choice = choose(detail, kind=kind)
        prompts = promptsOf(choice)
        for given, isEnv, where in ((env, True, "env"), (settings, False, "settings")):
            known = [p.key for p in prompts if p.env == isEnv]
            unknown = sorted(set(given) - set(known))
            if unknown:
                asked = ", ".join(known) if known else "none"
                raise ChangeError(
                    f"{where}: {detail.name} asks for no value named {', '.join(unknown)}"
                    f" (it asks for: {asked})"
                )
        built = _built(choice, name, settings, env)
    except MissingValue as e:
        prompt = e.prompt
        if prompt.secret:
            raise ChangeError(_secretNeeded(detail.name, [prompt.key]), cli) from None
        where = "env" if prompt.env else "settings"
        detailText = f" ({shown(prompt.description)})" if prompt.description else ""
        raise ChangeError(
            f"{detail.name} needs a value for {prompt.key}{detailText}: give it in '{where}'",
            cli,
        ) from None
    except InstallError as e:
        raise ChangeError(f"{shown(detail.name)}: {e}") from None
    if built.secrets:
        names = [key for key, _ in built.secrets]
        raise ChangeError(_secretNeeded(detail.name, names), cli)
    checkPlaces(built.entry.get("env") or {}, cli)
    origin = f"{detail.name} {detail.version} from the MCP registry ({choice.kind})"
    if built.mounts:
        paths = [mount.path for mount in built.mounts]
        cli = registryCli(detail.name, name, version, kind, settings, env, paths)
    return Addition(built.name, built.entry, cli, visible(origin), mounts=built.mounts)


def _built(choice: Choice, name: str, settings: dict[str, str], env: dict[str, str]) -> Built:
    """The entry of C{choice}, with the host paths its container gets left
    for the person to approve (each is a box of the question)."""
    try:
        return buildEntry(choice, name, settings, env)
    except HostPathNeeded as e:
        return buildEntry(choice, name, settings, env, [mount.path for mount in e.mounts])


def _secretNeeded(server: str, names: list[str]) -> str:
    return (
        f"{server} needs secret values ({', '.join(names)}): the gateway keeps them in its"
        " secret store, which a session does not fill (the value would pass through the"
        " model). Nothing was added; the person adds it with the command below, which asks"
        " for the secret without showing it."
    )


def fromCommand(args: Mapping[str, Any]) -> Addition:
    """A stdio server: C{command}, C{args}, C{env}, named C{name}."""
    name = localName(args)
    command = text(args, "command")
    argv = args.get("args") or []
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ChangeError("'args' must be a list of strings")
    if len(argv) > MAX_ARGS or any(len(a) > MAX_TEXT or "\0" in a for a in argv):
        raise ChangeError(f"'args': at most {MAX_ARGS} strings without NUL characters")
    env = stringMap(args, "env")
    checkEnvNames(env)
    noReferences([command, *argv, *env.values()], commandCli(name, command, argv, env))
    checkPlaces(env, commandCli(name, command, argv, env))
    entry: dict[str, Any] = {"command": command, "args": list(argv)}
    if env:
        entry["env"] = dict(env)
    return Addition(name, entry, commandCli(name, command, argv, env))


def fromUrl(args: Mapping[str, Any]) -> Addition:
    """A remote server at C{url} over C{transport} (C{http} or C{sse})."""
    name = localName(args)
    url = text(args, "url")
    transport = optionalText(args, "transport") or "http"
    if transport not in TRANSPORTS:
        raise ChangeError(f"transport must be 'http' or 'sse', not {transport!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChangeError(f"url {shown(url)!r} is not an http(s) URL")
    if not (url.isascii() and url.isprintable()) or " " in url or "${" in url:
        raise ChangeError("url must be printable ASCII, without spaces or '${'")
    options = ["--transport", "sse"] if transport == "sse" else []
    cli = shlex.join(["mcpgateway", "servers", "add", *options, name, url])
    return Addition(name, {"type": transport, "url": url}, cli)


def scopeOf(args: Mapping[str, Any]) -> str:
    """An C{add_server} call's C{scope}: C{global} (every session, the
    default) or C{workspace} (the sessions of the caller's workspace)."""
    scope = args.get("scope", "global")
    if scope not in ("global", "workspace"):
        raise ChangeError(f"scope must be 'global' or 'workspace', not {scope!r}")
    return str(scope)


def workspaceOf(roots: list[str]) -> str:
    """The workspace of a session whose roots are C{roots} (their
    C{file://} URIs): its first one's directory."""
    for uri in roots:
        parts = urllib.parse.urlsplit(uri)
        path = urllib.parse.unquote(parts.path)
        if parts.scheme == "file" and path.startswith("/") and "\0" not in path:
            return path.rstrip("/") or "/"
    raise ChangeError(NO_WORKSPACE)


def forWorkspace(addition: Addition, workspace: str) -> Addition:
    """C{addition} for the sessions of C{workspace} only, with the command
    that adds it so."""
    cli = addition.cli
    if cli.startswith("mcpgateway servers add "):
        rest = cli.removeprefix("mcpgateway servers add ")
        cli = f"mcpgateway servers add --workspace {shlex.quote(workspace)} {rest}"
    else:
        cli = f"cd {shlex.quote(workspace)} && {cli} --scope workspace"
    return replace(addition, workspace=workspace, cli=cli)


# -- what the person sees ------------------------------------------------------------


def confirmationOf(addition: Addition) -> str:
    """The question that adds C{addition}: what runs (or is called), with
    how many arguments, cut at L{SHOWN_LINE} characters saying what it
    leaves out; each path of this machine its container gets; every
    environment value that names a place, where it may write first
    (L{environmentLines}); the names only of its other variables and of its
    headers."""
    who = (
        "for every session and workspace"
        if addition.workspace is None
        else f"for the sessions of workspace {visible(addition.workspace)} only"
    )
    lines = [f"Add the MCP server '{addition.name}' to this gateway, {who}?"]
    entry = addition.entry
    if addition.remote:
        kind = TRANSPORTS.get(str(entry.get("type")), str(entry.get("type")))
        url = cappedText(str(entry["url"]), SHOWN_LINE)
        lines.append(f"The gateway will connect to: {url} ({kind})")
    else:
        count = argumentCount(argvOf(entry))
        line = commandLine(entry, SHOWN_LINE)
        lines.append(f"The gateway will run this command line ({count}): {line}")
    if addition.mounts:
        listed = "; ".join(mount.describe() for mount in addition.mounts)
        lines.append(
            f"Its container gets these paths of this machine, each only if you tick it: {listed}"
        )
    lines += environmentLines(addition.entry.get("env") or {})
    if addition.remote and addition.headerNames:
        lines.append(f"Headers (names only): {namesOf(addition.headerNames)}")
    if addition.origin is not None:
        lines.append(f"Source: {addition.origin}")
    lines.append("Nothing is added unless you confirm.")
    return "\n".join(lines)


def describeServer(server: Mapping[str, Any]) -> str:
    """What a server of the API runs, in one line: its command line (or
    URL), cut as L{confirmationOf} cuts it, and its environment variables'
    names."""
    config = server.get("config")
    config = config if isinstance(config, dict) else {}
    if config.get("url"):
        runs = f"connects to {cappedText(str(config['url']), SHOWN_LINE)}"
    else:
        argv = [str(config.get("command") or "?"), *[str(a) for a in config.get("args") or []]]
        entry = {"command": argv[0], "args": argv[1:]}
        runs = f"runs this command line ({argumentCount(argv)}): {commandLine(entry, SHOWN_LINE)}"
    env = config.get("env")
    names = sorted(env) if isinstance(env, dict) else []
    return f"{runs}; environment variables (names only): {namesOf(names)}"


def namesPlace(name: str, value: str) -> bool:
    """Whether variable C{name}'s C{value} names a place of this machine,
    which the person sees whole: an absolute or C{~} path (what the
    sandbox shows a confined child, whatever the variable's name), any
    value of a data variable (L{writesThere}: where the server keeps its
    data, relative or not), and, but for a secret-looking variable's
    value, a relative path (C{data/x}, C{.}, C{..})."""
    if value.startswith(("/", "~")) or writesThere(name):
        return True
    if secretLooking(name, value):
        return False
    return "/" in value or value in (".", "..")


def placesOf(env: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """C{env}'s variables in three lists, each sorted by name: the places
    the server may write (its data variables' values: a confined child is
    given their folders writable), the other places it may read (the other
    paths named: read-only), as C{NAME=value}; and the names of the rest,
    whose values are not shown."""
    writes: list[str] = []
    reads: list[str] = []
    rest: list[str] = []
    for name in sorted(env):
        value = env[name]
        if not namesPlace(name, value):
            rest.append(name)
            continue
        (writes if writesThere(name) else reads).append(f"{visible(name)}={placeShown(value)}")
    return writes, reads, rest


def placeShown(value: str) -> str:
    """A place as the person reads it, quoted as a shell would need it
    (L{showArgument}: no value passes for two), with the path it comes to
    when it takes a detour (C{/a/../b}, C{/./})."""
    text = showArgument(value)
    if value.startswith(("/", "~")):
        plain = os.path.normpath(value)
        if plain not in (value, value.rstrip("/")):
            return f"{text} (that is {showArgument(plain)})"
    return text


def environmentLines(env: Mapping[str, str]) -> list[str]:
    """The question's lines of an entry's environment: where its variables
    say the server may write, what else they name that it may read, and
    the names only of the others (their values are not shown)."""
    writes, reads, rest = placesOf(env)
    lines = []
    if writes:
        lines.append(
            "It may WRITE where its environment says it keeps its data (a confined server"
            f" is given these writable): {'; '.join(writes)}"
        )
    if reads:
        lines.append(f"It may read these paths its environment names: {'; '.join(reads)}")
    label = "Its other environment variables" if writes or reads else "Environment variables"
    if rest or not (writes or reads):
        lines.append(f"{label} (names only): {namesOf(rest)}")
    return lines


def namesOf(names: list[str]) -> str:
    """C{names} in a list, at most L{SHOWN_NAMES} of them, with how many
    more there are."""
    if not names:
        return "none"
    listed = ", ".join(visible(n) for n in names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return listed if more <= 0 else f"{listed} … and {plural(more, 'more name')}"


def hostPathKey(index: int) -> str:
    """The key of the box that approves the container's C{index}th host path."""
    return f"hostPath{index + 1}"


def hostPathsNotTicked(addition: Addition, content: Mapping[str, Any]) -> list[HostMount]:
    """The host paths of C{addition} whose box the answer C{content} left
    unticked (none: every one is approved)."""
    return [
        mount for i, mount in enumerate(addition.mounts) if content.get(hostPathKey(i)) is not True
    ]


def confirmSchema(title: str, mounts: tuple[HostMount, ...] = ()) -> dict[str, Any]:
    """The form of every question: one boolean C{confirm}, and one more
    for each path of this machine a container would get, named exactly."""
    properties: dict[str, Any] = {
        "confirm": {
            "type": "boolean",
            "title": title,
            "description": "Yes makes the change; no (or closing this) changes nothing.",
            "default": False,
        }
    }
    for i, mount in enumerate(mounts):
        properties[hostPathKey(i)] = {
            "type": "boolean",
            "title": f"Give the container {mount.describe()}",
            "description": "Nothing is added unless every path is ticked.",
            "default": False,
        }
    return {"type": "object", "properties": properties, "required": list(properties)}


# -- the commands that do the same --------------------------------------------------------


def registryCli(
    server: str,
    name: str,
    version: str | None,
    kind: str | None,
    settings: Mapping[str, str],
    env: Mapping[str, str],
    hostPaths: list[str] | None = None,
) -> str:
    """C{mcpgateway add SERVER --as NAME ...}: the settings with their
    values, the environment variables by name (their values from the
    person's shell, or asked for), and an C{--allow-host-path} for each
    path of this machine the container gets (running it approves those)."""
    argv = ["mcpgateway", "add", server, "--as", name]
    if version is not None:
        argv += ["--version", version]
    if kind is not None:
        argv += ["--type", kind]
    for key, value in settings.items():
        argv += ["--set", f"{key}={value}"]
    for key in env:
        argv += ["--env", key]
    for path in hostPaths or []:
        argv += ["--allow-host-path", path]
    return shown(shlex.join(argv))


def commandCli(name: str, command: str, argv: list[str], env: Mapping[str, str]) -> str:
    """C{mcpgateway servers add --env NAME ... NAME -- COMMAND ARGS...}."""
    options = [item for key in env for item in ("--env", key)]
    line = ["mcpgateway", "servers", "add", *options, name, "--", command, *argv]
    return shown(shlex.join(line))


# -- arguments -------------------------------------------------------------------------


def text(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\0" in value:
        raise ChangeError(f"'{key}' must be a non-empty string")
    return value


def optionalText(args: Mapping[str, Any], key: str) -> str | None:
    return None if args.get(key) is None else text(args, key)


def localName(args: Mapping[str, Any]) -> str:
    """The server's name in the gateway (C{/<name>/mcp})."""
    name = text(args, "name")
    if not LOCAL_NAME.fullmatch(name):
        raise ChangeError(f"name {shown(name)!r}: 1-64 letters, digits, '-', '_' or '.'")
    return name


def stringMap(args: Mapping[str, Any], key: str) -> dict[str, str]:
    value = args.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ChangeError(f"'{key}' must be an object of string values")
    if any(len(v) > MAX_TEXT or "\0" in v for v in value.values()):
        raise ChangeError(f"'{key}': values of at most {MAX_TEXT} characters, without NUL")
    return dict(value)


def noReferences(values: list[str], cli: str | None) -> None:
    """Refuse C{$E{lb}}: the gateway expands C{${VAR}} and secret references
    from its own environment and secret store, and an environment
    variable's value is not shown to the person."""
    if any("${" in value for value in values):
        raise ChangeError(
            "'${' is not accepted from a session: the gateway would expand it from its own"
            " environment or secret store"
            + ("; the person adds such an entry with the command below" if cli else ""),
            cli,
        )


def checkPlaces(env: Mapping[str, str], cli: str | None) -> None:
    """Refuse an environment whose places the question cannot show whole:
    more than L{SHOWN_NAMES} of them, or one longer than L{SHOWN_PATH}
    characters (L{namesPlace})."""
    places = [value for name, value in env.items() if namesPlace(name, value)]
    if len(places) > SHOWN_NAMES or any(len(visible(value)) > SHOWN_PATH for value in places):
        raise ChangeError(
            f"env: at most {SHOWN_NAMES} values naming a path, each of at most {SHOWN_PATH}"
            " characters, are taken from a session (the person sees each one whole)"
            + ("; the person adds such an entry with the command below" if cli else ""),
            cli,
        )


def checkEnvNames(env: Mapping[str, str]) -> None:
    """Refuse a name that is no variable name, or one that steers what a
    program loads or runs (its value is not shown to the person)."""
    for key in env:
        if not ENV_NAME.fullmatch(key):
            raise ChangeError(f"env: {shown(key)!r} is not an environment variable name")
        if isDenied(key):
            raise ChangeError(
                f"env: {key} steers what a program loads or runs, and the person confirming"
                " sees only its name: it is not set from a session (the person sets it with"
                " `mcpgateway servers add --env`)"
            )
