# -*- test-case-name: tests.config.test_resolve -*-
"""Run C{npx}/C{uvx} servers without their wrapper process.

A config entry C{npx -y @org/server@1.2.3 stdio} costs two processes per
child: the npm exec wrapper (about 40 MB) and the server it starts. A
L{Resolver} installs the package once into the gateway's own cache
(C{<state-dir>/npx/<package>/}, with C{npm install}, in a child process so the
reactor never waits), finds the package's binary, and hands back a
L{ServerSpec} that runs that binary directly: C{node /abs/path/bin.js stdio}.
C{uvx} entries get the same treatment with C{uv tool install} into
C{<state-dir>/uvx/<package>/}.

A bin with a C{node} shebang runs as C{[node, file]}, C{node} found on the
entry's C{PATH} when resolving, rather than as the file itself: C{env} would
exec the same node (one process either way), but this way no exec bit or
C{env} lookup is needed at each spawn, the process's command line is plain
C{node /path/file}, and a node that disappears (an upgrade under nvm) shows
as a stale cache entry and is resolved again. Other bins (native binaries,
shell scripts) and uvx's scripts (whose shebang names their own environment's
python) run as themselves.

What was resolved is remembered in C{<state-dir>/npx-cache.json}
(C{{"version": 1, "entries": {"npx:<pkgspec>": {"command": [...],
"resolvedAt": <epoch seconds>}}}}, C{uvx:} entries alike) for a week, so
later spawns (and later gateways) start at once; an entry whose files are
gone is resolved again. Exact versions are installed C{--prefer-offline};
C{pkg} alone means C{pkg@latest} once per week. A resolution that fails
leaves the entry as configured (or, when only a refresh failed, on the binary
resolved before), with one warning naming the server and why;
L{Resolver.resolve} never fails.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import logs, paths
from mcpgateway.atomicfile import writeFileAtomic
from mcpgateway.config.resolvecache import (
    CACHE_VERSION,
    CachedCommand,
    readCache,
    usable,
)
from mcpgateway.core.spec import ServerSpec

CACHE_FILE = paths.NPX_CACHE_FILE
DEFAULT_TTL = 7 * 86400.0
DEFAULT_TIMEOUT = 300.0
"""Seconds an install may take before it is killed and the resolution fails."""

# An npm registry spec: name (scoped or not), optionally @version, range or tag.
# Git URLs, tarballs, paths and aliases (npm:) are left to npx.
_NPM_SPEC = re.compile(
    r"(?P<name>(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*)"
    r"(?:@(?P<version>[A-Za-z0-9._~^<>=*+|-]+))?"
)
_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
# A uvx command: name[extras]@version (what uvx itself accepts without --from).
_UVX_SPEC = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[[A-Za-z0-9._,-]+\])?"
    r"(?:@(?P<version>[A-Za-z0-9.*+!_-]+))?"
)
_COMMAND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
_OUTPUT_TAIL = 8192
_T = TypeVar("_T")


class ResolveError(Exception):
    """A package's binary cannot be resolved; the message says why."""


@dataclass(frozen=True)
class Wrapper:
    """What a wrapper command line asks for.

    @ivar kind: C{"npx"} or C{"uvx"}.
    @ivar package: the package spec as written (C{@org/pkg@1.2.3}, C{pkg}).
    @ivar args: the arguments for the binary.
    @ivar binName: the binary named explicitly (C{npx -p PKG BIN},
        C{uvx --from PKG BIN}); C{None} to pick the package's own.
    @ivar python: C{uvx --python}'s value, if given.
    """

    kind: str
    package: str
    args: tuple[str, ...]
    binName: str | None = None
    python: str | None = None

    @property
    def key(self) -> str:
        """The cache key: C{"npx:<pkgspec>"}, plus what else selects the binary."""
        key = f"{self.kind}:{self.package}"
        if self.binName is not None:
            key += f"#{self.binName}"
        if self.python is not None:
            key += f"?python={self.python}"
        return key

    @property
    def name(self) -> str:
        """The package name without version (npx) or the command (uvx)."""
        pattern = _NPM_SPEC if self.kind == "npx" else _UVX_SPEC
        match = pattern.fullmatch(self.package)
        return match.group("name") if match else self.package


def parseWrapper(spec: ServerSpec) -> Wrapper | None:
    """Parse C{spec}'s command line as C{npx}/C{uvx}, or C{None} when it is
    something else or uses options this module does not understand."""
    program = os.path.basename(spec.command)
    if program == "npx":
        return _parseNpx(spec.args)
    if program == "uvx":
        return _parseUvx(spec.args)
    return None


def _parseNpx(args: tuple[str, ...]) -> Wrapper | None:
    packages: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-y", "--yes"):
            i += 1
        elif arg in ("-p", "--package"):
            if i + 1 >= len(args):
                return None
            packages.append(args[i + 1])
            i += 2
        elif arg.startswith("--package="):
            packages.append(arg[len("--package=") :])
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None  # an option we do not know: leave the entry alone
        else:
            break
    rest = args[i:]
    if not rest:
        return None
    binName: str | None = None
    if not packages:
        package, rest = rest[0], rest[1:]
    elif len(packages) == 1:
        package, binName, rest = packages[0], rest[0], rest[1:]
        if not _COMMAND.fullmatch(binName):
            return None
    else:
        return None
    if not _NPM_SPEC.fullmatch(package):
        return None
    return Wrapper("npx", package, tuple(rest), binName)


def _parseUvx(args: tuple[str, ...]) -> Wrapper | None:
    source: str | None = None
    python: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--from", "--python", "-p"):
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None
            if arg == "--from":
                source = args[i + 1]
            else:
                python = args[i + 1]
            i += 2
        elif arg.startswith("--from="):
            source = arg[len("--from=") :]
            i += 1
        elif arg.startswith("--python="):
            python = arg[len("--python=") :]
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None
        else:
            break
    rest = args[i:]
    if not rest or source == "" or python == "":
        return None
    if source is None:
        if not _UVX_SPEC.fullmatch(rest[0]):
            return None
        return Wrapper("uvx", rest[0], tuple(rest[1:]), python=python)
    if not _COMMAND.fullmatch(rest[0]):
        return None
    return Wrapper("uvx", source, tuple(rest[1:]), binName=rest[0], python=python)


def safeName(text: str) -> str:
    """A directory name for C{text}: readable, and unique thanks to a hash."""
    readable = re.sub(r"[^A-Za-z0-9._@+-]", "_", text.replace("/", "+")).lstrip(".")[:80]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def nodeCommand(binFile: Path, searchPath: str | None) -> list[str]:
    """The argv prefix that runs the npm bin file C{binFile} in one process.

    A script with a C{node} shebang (C{#!/usr/bin/env node}, with or without
    C{-S} and node options) or a C{.js}/C{.mjs}/C{.cjs} file without one runs
    as C{[node, *options, binFile]}, with C{node} looked up on C{searchPath}
    now, as C{env} would at each start; anything else (a native binary, a
    shell script) is run as itself.

    @raise ResolveError: no node on C{searchPath}, or a file that cannot run.
    """
    try:
        with binFile.open("rb") as f:
            head = f.read(512).split(b"\n", 1)[0]
    except OSError as e:
        raise ResolveError(f"cannot read {binFile}: {e.strerror}") from None
    interpreter: list[str] | None = None
    if head.startswith(b"#!"):
        words = head[2:].decode("utf-8", "replace").split()
        if words and os.path.basename(words[0]) == "env":
            words = words[1:]
            if words[:1] == ["-S"]:
                words = words[1:]
            if words and os.path.basename(words[0]) in ("node", "nodejs"):
                interpreter = ["node", *words[1:]]
        elif words and os.path.basename(words[0]) in ("node", "nodejs"):
            interpreter = words
    elif binFile.suffix in (".js", ".mjs", ".cjs"):
        interpreter = ["node"]
    if interpreter is None:
        if not os.access(binFile, os.X_OK):
            raise ResolveError(f"{binFile} is neither a node script nor executable")
        return [str(binFile)]
    if not os.path.isabs(interpreter[0]):
        node = shutil.which(interpreter[0], path=searchPath)
        if node is None:
            raise ResolveError(f"'{interpreter[0]}' is not on PATH")
        interpreter[0] = os.path.abspath(node)
    return [*interpreter, str(binFile)]


def pickBin(manifest: Mapping[str, Any], packageName: str, wanted: str | None) -> str:
    """The relative path of the bin to run from a C{package.json}.

    C{wanted} (C{npx -p PKG BIN}) must be one of the package's bins;
    otherwise the bin named like the unscoped package, else the only one.

    @raise ResolveError: no such bin, or no way to choose.
    """
    bins = manifest.get("bin")
    unscoped = packageName.rsplit("/", 1)[-1]
    if isinstance(bins, str):
        bins = {unscoped: bins}
    if not isinstance(bins, dict) or not bins:
        raise ResolveError(f"package {packageName} declares no bin")
    if wanted is not None:
        path = bins.get(wanted)
        if not isinstance(path, str):
            raise ResolveError(
                f"package {packageName} has no bin named '{wanted}'"
                f" (it has: {', '.join(sorted(bins))})"
            )
        return path
    if isinstance(bins.get(unscoped), str):
        return str(bins[unscoped])
    if len(bins) == 1:
        (path,) = bins.values()
        if isinstance(path, str):
            return path
    raise ResolveError(
        f"package {packageName} has several bins ({', '.join(sorted(bins))})"
        f" and none is named '{unscoped}'"
    )


class _Installer(ProcessProtocol):
    """One install process: keeps the tail of its output, reports its exit."""

    def __init__(self) -> None:
        self.done: Deferred[tuple[int | None, str]] = Deferred()
        self._output: deque[bytes] = deque()
        self._outputBytes = 0
        self.timer: IDelayedCall | None = None
        self.timedOut = False

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self._output.append(data)
        self._outputBytes += len(data)
        while self._outputBytes > _OUTPUT_TAIL and len(self._output) > 1:
            self._outputBytes -= len(self._output.popleft())

    def kill(self) -> None:
        self.timer = None
        self.timedOut = True
        try:
            assert self.transport is not None
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    def processEnded(self, reason: Failure) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        code = getattr(reason.value, "exitCode", None)
        text = b"".join(self._output)[-_OUTPUT_TAIL:].decode("utf-8", "replace")
        self.done.callback((code, text))


_NOISE = re.compile(
    r"(?:npm (?:warn|notice)|warning:|(?:code|syscall|errno|path|dest)\b|at |"
    r"\d*$|[{}]|\w+: (?:'|\d)|A complete log)",
    re.IGNORECASE,
)
_ERROR_PREFIX = re.compile(r"^(?:npm (?:error|ERR!)|error:)\s*", re.IGNORECASE)


def summarize(output: str, count: int = 2) -> str:
    """The first C{count} telling lines of an installer's output: npm's
    error codes, stack frames, warnings and log-file notes left out."""
    telling: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        bare = _ERROR_PREFIX.sub("", line)
        if not bare or _NOISE.match(line) or _NOISE.match(bare):
            continue
        telling.append(" ".join(bare.split()))
        if len(telling) == count:
            break
    if not telling:  # nothing but noise: the last line says most
        telling = [line.strip() for line in output.splitlines() if line.strip()][-1:]
    return "; ".join(telling)[:500]


class Resolver:
    """Turns C{npx}/C{uvx} server specs into specs that run the real binary.

    @ivar cachePath: C{<state-dir>/npx-cache.json}.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        stateDir: Path,
        reactor: IReactorProcess,
        clock: IReactorTime,
        environ: Mapping[str, str],
        ttl: float = DEFAULT_TTL,
        npm: str | None = shutil.which("npm"),
        uv: str | None = shutil.which("uv"),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """
        @param stateDir: the gateway's state directory (cache file, installs).
        @param reactor: spawns the install processes.
        @param clock: TTL checks and the install timeout.
        @param environ: the gateway's environment; a server's C{env} is
            added to it for its install, so registries and proxies set there
            apply.
        @param ttl: seconds a resolution is reused.
        @param npm: the npm executable; C{None} looks next to the entry's npx.
        @param uv: the uv executable; C{None} looks next to the entry's uvx.
        @param timeout: seconds an install may take.
        """
        self.stateDir = Path(stateDir)
        self.cachePath = self.stateDir / CACHE_FILE
        self._reactor = reactor
        self._clock = clock
        self._environ = environ
        self._ttl = ttl
        self._npm = npm
        self._uv = uv
        self._timeout = timeout
        self._resolving: dict[str, list[Deferred[Any]]] = {}
        self._installing: dict[str, list[Deferred[Any]]] = {}
        self._failures: dict[str, str] = {}

    # -- public -----------------------------------------------------------------

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None:
        """C{(kind, package spec, remaining args)} when C{spec} runs a
        package through C{npx} or C{uvx}, else C{None}.

        The remaining args are what follows the package on the command line:
        the binary's arguments, preceded by the binary's name in the
        C{npx -p PKG BIN ...} and C{uvx --from PKG BIN ...} forms.
        Unknown wrapper options give C{None}: such entries run as configured.
        """
        wrapper = parseWrapper(spec)
        if wrapper is None:
            return None
        rest = list(wrapper.args)
        if wrapper.binName is not None:
            rest.insert(0, wrapper.binName)
        return wrapper.kind, wrapper.package, rest

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]:
        """A spec that runs C{spec}'s package binary directly.

        Fires at once from a fresh cache entry whose files still exist;
        otherwise after an install in the background (one per package,
        however many callers ask). Fires with C{spec} itself when it is not
        a wrapper command or the resolution fails (logged as a warning);
        never errbacks.
        """
        wrapper = parseWrapper(spec)
        if wrapper is None:
            return succeed(spec)
        entry = self._entry(wrapper.key)
        if entry is not None:
            command, resolvedAt = entry
            if 0 <= self._clock.seconds() - resolvedAt < self._ttl and usable(command):
                self.log.debug(
                    "server {server}: {kind} {package} is {command} (cached)",
                    server=spec.name,
                    kind=wrapper.kind,
                    package=wrapper.package,
                    command=command,
                )
                return succeed(self._apply(spec, wrapper, command))
        started = self._clock.seconds()
        return self._shared(wrapper, spec).addCallbacks(
            self._resolved,
            self._failed,
            callbackArgs=(spec, wrapper, started),
            errbackArgs=(spec, wrapper),
        )

    def failureOf(self, spec: ServerSpec) -> str | None:
        """Why the last resolution of C{spec}'s package failed (it then runs
        as configured, or on the binary resolved before); C{None} if it did not."""
        wrapper = parseWrapper(spec)
        return None if wrapper is None else self._failures.get(wrapper.key)

    # -- the cache file ------------------------------------------------------------

    def _entries(self) -> dict[str, CachedCommand]:
        try:
            return readCache(self.cachePath)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            self.log.debug(
                "ignoring unreadable resolution cache {path}: {error}",
                path=str(self.cachePath),
                error=str(e),
            )
            return {}

    def _entry(self, key: str) -> CachedCommand | None:
        return self._entries().get(key)

    # -- resolving -----------------------------------------------------------------

    def _shared(self, wrapper: Wrapper, spec: ServerSpec) -> Deferred[list[str]]:
        """The resolution of C{wrapper}, started unless one is under way."""

        def start() -> Deferred[list[str]]:
            work = maybeDeferred(
                self._npxInstall if wrapper.kind == "npx" else self._uvxInstall, wrapper, spec
            )
            return work.addCallback(self._store, wrapper.key)

        return _share(self._resolving, wrapper.key, start)

    def _store(self, command: list[str], key: str) -> list[str]:
        entries = {
            k: {"command": e.command, "resolvedAt": e.resolvedAt}
            for k, e in self._entries().items()
        }
        entries[key] = {"command": command, "resolvedAt": self._clock.seconds()}
        document = {"version": CACHE_VERSION, "entries": entries}
        try:
            self.stateDir.mkdir(parents=True, exist_ok=True)
            writeFileAtomic(self.cachePath, json.dumps(document, indent=1).encode("utf-8"))
        except OSError as e:
            self.log.warn(
                "cannot write the resolution cache {path}: {error}",
                path=str(self.cachePath),
                error=str(e),
            )
        return command

    def _install(
        self, label: str, argv: list[str], env: Mapping[str, str], target: Path
    ) -> Deferred[None]:
        """Run an installer in C{target}, unless one runs there already (two
        entries asking for one package differently): then wait for that one."""

        def start() -> Deferred[None]:
            return maybeDeferred(self._run, label, argv, env, target).addCallback(lambda _: None)

        return _share(self._installing, str(target), start)

    def _run(
        self, label: str, argv: list[str], env: Mapping[str, str], path: Path
    ) -> Deferred[tuple[int | None, str]]:
        """Run an installer in C{path}; fire with its exit code and output
        tail, or fail with L{ResolveError} unless it exits with code 0."""
        installer = _Installer()
        try:
            self._reactor.spawnProcess(installer, argv[0], argv, env=dict(env), path=str(path))
        except OSError as e:
            raise ResolveError(f"cannot run {argv[0]}: {e}") from None
        if not installer.done.called:
            installer.timer = self._clock.callLater(self._timeout, installer.kill)

        def checked(result: tuple[int | None, str]) -> tuple[int | None, str]:
            code, output = result
            if installer.timedOut:
                raise ResolveError(f"{label} took longer than {self._timeout:g}s and was killed")
            if code != 0:
                why = summarize(output) or "no output"
                raise ResolveError(f"{label} failed (exit code {code}): {why}")
            return result

        return installer.done.addCallback(checked)

    def _npxInstall(self, wrapper: Wrapper, spec: ServerSpec) -> Deferred[list[str]]:
        npm = self._npm or _sibling(spec, "npm")
        if npm is None:
            raise ResolveError("npm was not found")
        target = self.stateDir / paths.NPX_DIR / safeName(wrapper.package)
        target.mkdir(parents=True, exist_ok=True)
        match = _NPM_SPEC.fullmatch(wrapper.package)
        assert match is not None
        name, version = match.group("name"), match.group("version")
        argv = [
            npm,
            "install",
            "--prefix",
            str(target),
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--loglevel=error",
        ]
        if version is not None and _EXACT_VERSION.fullmatch(version):
            argv.append("--prefer-offline")  # immutable: any cached copy will do
        # Without a version, say @latest: a bare name would keep the version an
        # earlier install recorded in <target>/package.json.
        argv.append(wrapper.package if version is not None else f"{name}@latest")
        env = spec.environment(self._environ)
        installing = self._install("npm install", argv, env, target)

        def found(_: object) -> list[str]:
            packageDir = target / "node_modules" / name
            try:
                manifest = json.loads((packageDir / "package.json").read_bytes())
            except (OSError, ValueError) as e:
                raise ResolveError(f"npm installed no readable {name}/package.json: {e}") from None
            if not isinstance(manifest, dict):
                raise ResolveError(f"{name}/package.json is not an object")
            try:
                binFile = packageDir / pickBin(manifest, name, wrapper.binName)
            except ResolveError:
                # npx -p PKG BIN also runs the bins of PKG's dependencies.
                if wrapper.binName is None:
                    raise
                binFile = target / "node_modules" / ".bin" / wrapper.binName
                if not binFile.exists():
                    raise
            binFile = Path(os.path.realpath(binFile))
            if not binFile.is_file():
                raise ResolveError(f"the bin of {name} is missing: {binFile}")
            return nodeCommand(binFile, env.get("PATH"))

        return installing.addCallback(found)

    def _uvxInstall(self, wrapper: Wrapper, spec: ServerSpec) -> Deferred[list[str]]:
        uv = self._uv or _sibling(spec, "uv")
        if uv is None:
            raise ResolveError("uv was not found")
        variant = wrapper.package + (f" python={wrapper.python}" if wrapper.python else "")
        target = self.stateDir / paths.UVX_DIR / safeName(variant)
        target.mkdir(parents=True, exist_ok=True)
        binDir = target / "bin"
        argv = [uv, "tool", "install"]
        if wrapper.python is not None:
            argv += ["--python", wrapper.python]
        if wrapper.binName is None and "@" not in wrapper.package:
            argv.append("--upgrade")  # no version: the newest, as of this resolution
        argv.append(wrapper.package)
        env = spec.environment(self._environ)
        env.update(UV_TOOL_DIR=str(target / "tools"), UV_TOOL_BIN_DIR=str(binDir), NO_COLOR="1")
        installing = self._install("uv tool install", argv, env, target)

        def found(_: object) -> list[str]:
            command = wrapper.binName or wrapper.name
            script = binDir / command
            if not script.exists():
                raise ResolveError(f"{wrapper.package} provides no command '{command}'")
            real = os.path.realpath(script)
            if not os.access(real, os.X_OK):
                raise ResolveError(f"{real} is not executable")
            return [real]

        return installing.addCallback(found)

    # -- results -------------------------------------------------------------------

    def _apply(self, spec: ServerSpec, wrapper: Wrapper, command: list[str]) -> ServerSpec:
        return replace(
            spec, command=command[0], args=(*command[1:], *wrapper.args), executable=command[0]
        )

    def _resolved(
        self, command: list[str], spec: ServerSpec, wrapper: Wrapper, started: float
    ) -> ServerSpec:
        self.log.info(
            "server {server}: {kind} {package} resolved to {command} in {seconds:.1f}s;"
            " it runs without the {kind} wrapper",
            server=spec.name,
            kind=wrapper.kind,
            package=wrapper.package,
            command=" ".join(command),
            seconds=self._clock.seconds() - started,
        )
        self._failures.pop(wrapper.key, None)
        return self._apply(spec, wrapper, command)

    def _failed(self, failure: Failure, spec: ServerSpec, wrapper: Wrapper) -> ServerSpec:
        if failure.check(ResolveError):
            why = str(failure.value)
        else:
            self.log.failure(
                "server {server}: resolving {kind} {package} failed",
                failure,
                server=spec.name,
                kind=wrapper.kind,
                package=wrapper.package,
            )
            why = f"unexpected error: {failure.value!r}"
        self._failures[wrapper.key] = why
        entry = self._entry(wrapper.key)
        if entry is not None and usable(entry[0]):
            command, resolvedAt = entry
            self.log.warn(
                "server {server}: cannot refresh {kind} {package} ({why}); keeping the"
                " binary resolved {days:.1f} days ago: {command}",
                server=spec.name,
                kind=wrapper.kind,
                package=wrapper.package,
                why=why,
                days=(self._clock.seconds() - resolvedAt) / 86400,
                command=" ".join(command),
            )
            return self._apply(spec, wrapper, command)
        self.log.warn(
            "server {server}: cannot resolve {kind} {package} ({why}); running it as"
            " configured: {command}",
            server=spec.name,
            kind=wrapper.kind,
            package=wrapper.package,
            why=why,
            command=" ".join([spec.command, *spec.args]),
        )
        return spec


def _share(
    table: dict[str, list[Deferred[Any]]], key: str, start: Callable[[], Deferred[_T]]
) -> Deferred[_T]:
    """A Deferred for the result of C{start()}, called only if no work for
    C{key} is under way in C{table}; every caller gets the same result."""
    waiter: Deferred[_T] = Deferred()
    waiters = table.get(key)
    if waiters is not None:
        waiters.append(waiter)
        return waiter
    table[key] = [waiter]

    def settle(result: _T | Failure) -> None:
        for each in table.pop(key, []):
            if isinstance(result, Failure):
                each.errback(result)
            else:
                each.callback(copy.copy(result))

    start().addBoth(settle)
    return waiter


def _sibling(spec: ServerSpec, program: str) -> str | None:
    """C{program} next to the entry's wrapper (npm beside npx, uv beside uvx)."""
    if spec.executable is None:
        return None
    # Beside the link first: npx is often a symlink into npm's own package
    # (.../npm/bin/npx-cli.js), where no plain "npm" lives.
    for folder in (
        os.path.dirname(spec.executable),
        os.path.dirname(os.path.realpath(spec.executable)),
    ):
        candidate = os.path.join(folder, program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None
