# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""What an adapter tells the adoption engine about one MCP client.

One job: the vocabulary shared by the engine
(L{mcpgateway.clientconfigs.engine}) and the adapters
(L{mcpgateway.clientconfigs.clients}): a L{Host} (home, OS, environment,
where system-wide files are), the L{ClientFile}s of a client, the
L{ClientAdapter} base class (its files, how to read a stdio entry of it as
the gateway serves it, the HTTP entry it writes, the policy that would block
that entry, how the client reloads), and the translation of each client's
variable syntax to the gateway's C{${VAR}}.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.documents import Document, isWithin
from mcpgateway.clientconfigs.location import Location


class Unservable(Exception):
    """A stdio entry the gateway does not take over; the message says why."""


@dataclass(frozen=True)
class ToolTimeout:
    """Where a client keeps its own timeout for a server's calls, and its unit.

    The client keeps the key on the entry adoption writes and waits that
    long for the gateway; the gateway serves it as the served entry's
    C{requestTimeout} (L{mcpgateway.clientconfigs.timeouts}), so it does
    not cut the call sooner.

    @ivar key: the key of a server entry (C{tool_timeout_sec}, C{timeout}).
    @ivar seconds: the seconds one unit of its value is (C{0.001}: milliseconds).
    """

    key: str
    seconds: float

    def milliseconds(self, entry: Any) -> float | None:
        """The timeout C{entry} sets, in milliseconds; C{None} when it sets
        none, or something that is not a finite positive number (the client
        refuses it or uses its default: the gateway keeps its own)."""
        value = entry.get(self.key) if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        try:
            ms = float(value) * self.seconds * 1000.0
        except OverflowError:
            return None
        return ms if math.isfinite(ms) and ms > 0 else None


@dataclass(frozen=True)
class Host:
    """The machine the clients run on.

    @ivar home: the user's home.
    @ivar system: C{linux}, C{darwin} or C{win32} (C{sys.platform}'s names).
    @ivar environ: the user's environment (C{XDG_CONFIG_HOME}, C{CODEX_HOME}...).
    @ivar root: where absolute system paths (C{/etc/...}) are looked up
        (tests give a temporary directory).
    """

    home: Path
    system: str = "linux"
    environ: Mapping[str, str] = field(default_factory=dict)
    root: Path = Path("/")

    def env(self, name: str) -> Path | None:
        value = self.environ.get(name)
        return Path(value) if value else None

    def xdgConfig(self) -> Path:
        return self.env("XDG_CONFIG_HOME") or self.home / ".config"

    def appData(self) -> Path:
        """Where desktop apps keep their settings: C{~/.config} (Linux),
        C{~/Library/Application Support} (macOS), C{%APPDATA%} (Windows)."""
        if self.system == "darwin":
            return self.home / "Library" / "Application Support"
        if self.system == "win32":
            return self.env("APPDATA") or self.home / "AppData" / "Roaming"
        return self.xdgConfig()

    def systemPath(self, path: str) -> Path:
        return self.root / path.lstrip("/")


@dataclass(frozen=True)
class Block:
    """One container of entries in a client file: most files have one (the
    adapter's location); Claude Code's C{~/.claude.json} has the user
    scope's and one per project.

    @ivar workspace: the project whose route its entries get (C{None}: global).
    @ivar scope: how reports name its entries, C{name (scope)}; C{""}: the name.
    @ivar unroutable: why its servable entries are left alone (C{""}: they
        get a route).
    """

    location: Location
    workspace: str | None = None
    scope: str = ""
    unroutable: str = ""

    def label(self, name: str, shadow: str = "") -> str:
        if not self.scope:
            return name
        return f"{name} ({self.scope}{', ' + shadow if shadow else ''})"


@dataclass(frozen=True)
class ClientFile:
    """One config file of a client.

    @ivar workspace: the project directory of a project file (its servers
        get that workspace's routes), C{None} for a user file.
    @ivar versionControlled: a project file that is usually committed: the
        engine reports that it rewrote it (restored on stop).
    """

    client: str
    path: Path
    format: str
    location: Location
    scope: str = "user"
    workspace: str | None = None
    versionControlled: bool = False


class ClientAdapter:
    """One MCP client. Subclasses set the class attributes and override what
    differs; the defaults fit the C{mcpServers} JSON family."""

    id: str = ""
    title: str = ""
    reload: str = ""
    """How the client picks up a changed file."""
    format: str = "json"
    location: Location = Location(("mcpServers",))
    variables: str = "none"
    """The client's variable syntax (see L{translate})."""
    stdioTypes: tuple[Any, ...] = (None, "stdio")
    """The C{type} values of a stdio entry."""
    carry: tuple[str, ...] = ()
    """Keys of a stdio entry kept in the entry that replaces it."""
    toolTimeout: ToolTimeout | None = None
    """The client's own timeout for the server's calls, kept on the entry
    that replaces a stdio one (C{None}: the client has none per server)."""
    bridge: bool = False
    """A stdio-only client: its entries are rewritten to run C{mcpgateway bridge}."""
    stampKey: str | None = None
    """A top-level key set to the time (ms) whenever adoption changes
    entries, so the client reloads; restored to what it was."""
    shadowNote: str = ""
    """How reports describe an entry added in front of another file's
    server (see L{shadowed})."""
    remoteShapes: bool = True
    """Whether the client writes remote entries in the common shapes
    (C{type}, C{url}, C{headers}; a C{url} or C{serverUrl} alone), which
    L{servedRemote} reads (C{--remote adopt}); a client of another shape
    keeps its remote entries."""
    untypedUrl: str = "http"
    """The transport of a remote entry without a C{type}: C{http}
    (Streamable HTTP), or C{sse} where the client falls back to the older
    transport first (Cline, Roo Code)."""

    # -- files ---------------------------------------------------------------

    def userFiles(self, host: Host) -> list[Path]:
        """Where the client's user-scope files can be (existing or not)."""
        return []

    def projectFiles(self, project: Path) -> list[Path]:
        """Where the client's files for the project C{project} can be."""
        return []

    def files(self, host: Host, projects: Sequence[Path] = ()) -> list[ClientFile]:
        """The client's files that exist: user ones, then each project's that
        is the project's own (L{projectFileRefusal}: no symlink, nothing
        outside the project)."""
        out = [
            ClientFile(self.id, path, self.formatOf(path), self.location)
            for path in _unique(self.userFiles(host))
            if path.is_file()
        ]
        for project in projects:
            for path in _unique(self.projectFiles(Path(project))):
                if path.is_file() and projectFileRefusal(path, Path(project)) is None:
                    out.append(
                        ClientFile(
                            self.id,
                            path,
                            self.formatOf(path),
                            self.location,
                            scope="project",
                            workspace=os.path.abspath(project),
                            versionControlled=True,
                        )
                    )
        return out

    def refusedProjectFiles(self, projects: Sequence[Path]) -> list[tuple[Path, str]]:
        """The project files L{files} leaves out for not being their
        project's own, each with why (L{projectFileRefusal})."""
        out = []
        for project in projects:
            for path in _unique(self.projectFiles(Path(project))):
                if not os.path.lexists(path):
                    continue
                why = projectFileRefusal(path, Path(project))
                if why is not None:
                    out.append((path, why))
        return out

    def formatOf(self, path: Path) -> str:
        return self.format

    def backupPath(self, stateDir: Path, path: Path) -> Path | None:
        """Where the backup of C{path} lives (C{None}: the engine's place)."""
        return None

    def blocks(self, file: ClientFile, doc: Document) -> list[Block]:
        """The containers of entries of C{doc}, the parsed C{file}, in
        adoption order (global ones first)."""
        return [Block(file.location, file.workspace)]

    def topBlock(self, path: str | Path) -> Block:
        """The block of the top-level entries of the file C{path}, as reports
        name it (a backup records only its blocks' locations)."""
        return Block(self.location)

    def workspaceBlock(self, workspace: str) -> Block | None:
        """The block in which the client's user file keeps the entries of the
        project C{workspace} (C{None}: it keeps none there)."""
        return None

    def shadowed(
        self, file: ClientFile, doc: Document, notes: list[str]
    ) -> dict[tuple[Location, str], Any]:
        """Servers of other files to stand in front of: an entry C{name} added
        at the location (if the user has none of that name there) points at
        the route where the gateway serves the given entry. None by default."""
        return {}

    # -- entries -------------------------------------------------------------

    def isStdio(self, entry: Any) -> bool:
        return (
            isinstance(entry, dict) and "command" in entry and entry.get("type") in self.stdioTypes
        )

    def disabled(self, entry: dict[str, Any]) -> bool:
        return entry.get("disabled") is True or entry.get("enabled") is False

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        """The stdio entry the gateway serves for C{entry}, in the gateway's
        own shape (C{command}, C{args}, C{env}, C{cwd}, C{${VAR}}s); C{None}
        when C{entry} is not a stdio entry (left alone without a word).

        @raise Unservable: a stdio entry the gateway does not take over.
        """
        if not self.isStdio(entry):
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        return self.stdioParts(
            entry.get("command"),
            entry.get("args", []),
            entry.get("env", {}),
            entry.get("cwd"),
            file,
            host,
        )

    def servedRemote(
        self, name: str, entry: Any, file: ClientFile, host: Host
    ) -> dict[str, Any] | None:
        """The remote entry the gateway serves for C{entry}, in the gateway's
        own shape (C{type} C{http} or C{sse}, C{url}, C{headers}, its
        variables translated; the C{oauth} object kept); C{None} when
        C{entry} is not a remote entry of the client's (left alone without a
        word). Asked with C{--remote adopt} only.

        @raise Unservable: a remote entry the gateway does not take over.
        """
        if not self.remoteShapes or not isinstance(entry, dict) or "command" in entry:
            return None
        kind = entry.get("type", self.untypedUrl)
        url = entry.get("url", entry.get("serverUrl"))
        transport = REMOTE_TRANSPORTS.get(kind) if isinstance(kind, str) else None
        if transport is None or url is None:
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        if not isinstance(url, str):
            raise Unservable("'url' is not a string")
        out: dict[str, Any] = {"type": transport, "url": self.translate(url, file, host)}
        headers = entry.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise Unservable("'headers' is not an object of strings")
        if headers:
            out["headers"] = {k: self.translate(v, file, host) for k, v in headers.items()}
        if isinstance(entry.get("oauth"), dict):
            out["oauth"] = dict(entry["oauth"])
        return out

    def stdioParts(
        self, command: Any, args: Any, env: Any, cwd: Any, file: ClientFile, host: Host
    ) -> dict[str, Any]:
        """The gateway's entry from the parts of a stdio entry, variables translated."""
        if not isinstance(command, str):
            raise Unservable("'command' is not a string")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise Unservable("'args' is not a list of strings")
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise Unservable("'env' is not an object of strings")
        out: dict[str, Any] = {"command": self.translate(command, file, host)}
        if args:
            out["args"] = [self.translate(a, file, host) for a in args]
        if env:
            out["env"] = {k: self.translate(v, file, host) for k, v in env.items()}
        if cwd is not None:
            if not isinstance(cwd, str):
                raise Unservable("'cwd' is not a string")
            cwd = self.translate(cwd, file, host)
            if not os.path.isabs(os.path.expanduser(cwd)) and "${" not in cwd:
                if file.workspace is None:
                    raise Unservable(
                        f"its cwd {cwd!r} is relative to a directory only the client knows"
                    )
                cwd = os.path.join(file.workspace, cwd)
            out["cwd"] = cwd
        return out

    def translate(self, text: str, file: ClientFile, host: Host) -> str:
        return translate(text, self.variables, file.workspace, host.home)

    def written(
        self, name: str, url: str, original: dict[str, Any], bridgeArgv: Sequence[str]
    ) -> dict[str, Any]:
        """The entry that replaces C{original}: the client's own Streamable
        HTTP shape for C{url} (or, for a stdio-only client, the bridge)."""
        out = self.httpEntry(name, url) if not self.bridge else bridgeEntry(url, bridgeArgv)
        for key in self.carry:
            if key in original and key not in out:
                out[key] = original[key]
        return out

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"type": "http", "url": url}

    def withHeaders(self, entry: dict[str, Any], headers: Mapping[str, str]) -> None:
        """Make the HTTP entry C{entry} (one L{written} gave) send
        C{headers} with every request: the client's key for literal headers,
        C{headers} by default. Never asked of a bridge entry (the bridge
        sends them itself)."""
        entry["headers"] = dict(headers)

    # -- policy --------------------------------------------------------------

    def policy(self, host: Host, files: Sequence[ClientFile]) -> str | None:
        """Why the client would refuse a rewritten entry (a policy found on
        this machine), or C{None}."""
        return None

    def refuse(self, host: Host, wanted: Sequence[tuple[str, str]]) -> str | None:
        """Why the client would refuse the entries a file would point at the
        gateway (C{(name, url)}), or C{None}: asked before each write."""
        return None


def projectFileRefusal(path: Path, project: Path) -> str | None:
    """Why the client file C{path} of the project C{project} is not adopted
    (C{None}: it is the project's own): a symlink, or a file whose real path
    lies outside the project (a folder of the path links out of it). A
    repository holds such a link as easily as a file, and adopting it
    would rewrite whatever file of the user's it points at."""
    if os.path.islink(path):
        return (
            f"it is a symlink (to {os.readlink(path)}): a project's file is adopted only when"
            " it is a file of the project itself, never rewritten through a link"
        )
    real = os.path.realpath(path)
    root = os.path.realpath(project)
    if not isWithin(real, root):
        return (
            f"it is really {real}, outside its project {root}: a project's file is adopted only"
            " when it is a file of the project itself"
        )
    return None


REMOTE_TRANSPORTS = {
    "http": "http",
    "streamable-http": "http",
    "streamableHttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
"""The C{type} words of clients' remote entries, and the transport each
means (L{mcpgateway.config.servers.REMOTE_TYPES} without C{openapi}, which
no client writes)."""


def bridgeEntry(url: str, bridgeArgv: Sequence[str]) -> dict[str, Any]:
    """A stdio entry that runs C{mcpgateway bridge}: the server's name for a
    global route C{/<name>/mcp} (the bridge finds the running gateway's
    port), the whole URL for a workspace route.

    @param bridgeArgv: the command line before the target: the executable
        and its global options (C{--state-dir}), then C{bridge} and the
        bridge's options (C{--port}); C{bridge} is added when not there."""
    match = re.fullmatch(r"https?://[^/]+/([A-Za-z0-9._-]{1,64})/mcp", url)
    target = match.group(1) if match else url
    if not bridgeArgv:
        raise ValueError("no mcpgateway executable to run the bridge with")
    words = list(bridgeArgv[1:])
    if "bridge" not in words:
        words.append("bridge")
    return {"command": bridgeArgv[0], "args": [*words, target]}


def isBridgeEntry(entry: Any) -> bool:
    """Whether a stdio entry runs C{mcpgateway bridge} (never adopted: the
    gateway would serve itself)."""
    if not isinstance(entry, dict):
        return False
    command = entry.get("command")
    args = entry.get("args")
    return (
        isinstance(command, str)
        and os.path.basename(command).startswith("mcpgateway")
        and isinstance(args, list)
        and "bridge" in args
    )


def readSettings(path: Path) -> dict[str, Any]:
    """The object in a JSON/JSONC settings file (for policies); empty when
    the file is missing, unreadable or unparsable."""
    try:
        data = jsonc.parse(path.read_bytes().decode("utf-8")).value
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


# -- variables -----------------------------------------------------------------

_VSCODE_VAR = re.compile(r"\$\{([^}]*)\}")
_POSIX_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
_OPENCODE_VAR = re.compile(r"\{(env|file):([^}]*)\}")


def translate(text: str, style: str, workspace: str | None, home: Path) -> str:
    """C{text} with the client's variables in the gateway's C{${VAR}} syntax.

    Styles: C{vscode} (C{${env:X}}, C{${userHome}}, C{${workspaceFolder}},
    C{${workspaceFolderBasename}}, C{${pathSeparator}}, C{${/}}: VS Code,
    Cursor, Windsurf, Roo Code, Amazon Q), C{posix} (C{$X}, C{${X}},
    C{${X:-default}}: Gemini CLI, Copilot CLI), C{gateway} (C{${X}} as the
    gateway has it: Kiro), C{opencode} (C{{env:X}}), C{none} (no variables:
    a C{$} stays literal, so a text the gateway would expand is refused).

    @raise Unservable: a variable only the client can resolve (C{${input:...}},
        C{{file:...}}, C{${workspaceFolder}} outside a project...).
    """
    if style == "gateway":
        return text
    if style == "vscode":

        def vscode(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("env:"):
                return "${" + name[4:] + "}"
            if name == "userHome":
                return str(home)
            if name in ("pathSeparator", "/"):
                return "/"
            if name in ("workspaceFolder", "workspaceRoot") and workspace is not None:
                return workspace
            if name == "workspaceFolderBasename" and workspace is not None:
                return os.path.basename(workspace)
            raise Unservable(f"uses ${{{name}}}, which only the client can resolve")

        return _VSCODE_VAR.sub(vscode, text)
    if style == "posix":

        def posix(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(3)
            return "${" + name + (match.group(2) or "") + "}"

        return _POSIX_VAR.sub(posix, text)
    if style == "opencode":
        if "${" in text:
            raise Unservable("contains '${', which the gateway would expand and opencode does not")

        def opencode(match: re.Match[str]) -> str:
            if match.group(1) == "file":
                raise Unservable(f"uses {{file:{match.group(2)}}}, which only opencode resolves")
            return "${" + match.group(2) + "}"

        return _OPENCODE_VAR.sub(opencode, text)
    if "${" in text:
        raise Unservable("contains '${', which the gateway would expand and the client does not")
    return text


def _unique(paths: Sequence[Path]) -> list[Path]:
    seen: set[str] = set()
    out = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out
