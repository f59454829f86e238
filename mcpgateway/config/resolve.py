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

Each installer runs in a process group of its own (through C{setsid}) and is
tracked until it exits: L{Resolver.stop} (called when the reactor shuts
down, and by whoever owns the resolver when the gateway stops) kills every
group still installing, so no C{npm install} outlives the gateway. A gateway
killed during an install (C{SIGKILL}) stops nothing itself: each installer
is the warden's too (L{Resolver.warden}), told to it as it starts and
given the gateway's marker, as the children are, so the warden stops its
group, its session and what it started wherever it went. While an
installer runs, its folder holds C{.mcpgateway-installing} (the gateway's
pid); an installer that exits with a code of its own removes it. A folder
still marked by no live gateway is what an install cut short left (stopped,
killed, or its gateway died): its cached binary is not trusted, and the next
install moves the folder aside (deleted in the background) and starts
afresh, instead of running npm over the half-written tree (npm's
C{ENOTEMPTY}).

An install runs a package's own scripts (npm's C{postinstall}, a Python
source distribution's build), so, given the gateway's sandbox, it runs
confined as that server's children would be
(L{mcpgateway.sandbox.installs}): its own install folder writable, the rest
of the state directory and the home hidden, only the registries reachable.
Unconfined (no sandbox given, C{--sandbox off}, C{"sandbox": false}) it
runs as the gateway's own child, in a process group of its own. Either way
it gets the values of the secrets its entry's C{env} references (a private
registry's token: L{Resolver.secrets}), taken out of what its failure
says. Confined, it does not see the user's C{~/.npmrc} (it holds tokens):
a failed npm install is told, on a line of its own, the registry that file
names for the package and the entry C{env} that names it instead
(L{mcpgateway.config.npmrc}).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import (
    IReactorCore,
    IReactorProcess,
    IReactorThreads,
    IReactorTime,
)
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.config.npmrc import registryHint
from mcpgateway.config.resolvecache import (
    CACHE_VERSION,
    CachedCommand,
    readCache,
    usable,
)
from mcpgateway.config.wrappers import (
    _EXACT_VERSION,
    _NPM_SPEC,
    _T,
    DISCARDED,
    MARKER,
    Installer,
    InstallFailed,
    InstallStopped,
    ResolveError,
    Wrapper,
    nodeCommand,
    npmGlobalConfig,
    parseWrapper,
    pickBin,
    summarize,
)
from mcpgateway.core.envsecrets import GivenSecrets
from mcpgateway.core.spawn import ResolvesSecrets, SecretsUnavailable
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime import logs, paths
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.threads import RunInThread, runInline
from mcpgateway.sandbox.installs import ConfinedInstall, ConfinedInstalls

if TYPE_CHECKING:
    from mcpgateway.sandbox.confine import Sandbox


class InstallWatcher(Protocol):
    """The warden, as the resolver tells it of its installers
    (L{mcpgateway.ops.warden.Warden})."""

    marker: tuple[str, str]

    def helperSpawned(self, server: str, pid: int) -> None: ...

    def helperExited(self, pid: int) -> None: ...


CACHE_FILE = paths.NPX_CACHE_FILE
DEFAULT_TTL = 7 * 86400.0
DEFAULT_TIMEOUT = 300.0
"""Seconds an install may take before it is killed and the resolution fails."""


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
        setsid: str | None = shutil.which("setsid"),
        killGroup: Callable[[int, int], None] = os.killpg,
        discard: Callable[[Path], object] | None = None,
        sandbox: Sandbox | None = None,
        runInThread: RunInThread | None = None,
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
        @param setsid: the C{setsid} binary: each installer leads a process
            group of its own, which a timeout or L{stop} kills whole (npm's
            children too). C{None}: only the installer itself is killed.
        @param killGroup: signals a process group (used only with C{setsid}).
        @param discard: deletes an install folder an install cut short left
            (already moved aside); C{None}: C{shutil.rmtree} in the reactor's
            thread pool (in this thread if the reactor has none).
        @param sandbox: the gateway's sandbox: each install runs confined as
            the children of the server it is for (C{None}: unconfined).
        @param runInThread: reads a file off the reactor's thread (the
            user's npm config, for a failed install); C{None}: the
            reactor's thread pool (this thread if the reactor has none).
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
        self._setsid = setsid
        self._killGroup = killGroup
        self._discard = discard if discard is not None else self._removeTree
        self._installers: dict[Installer, None] = {}  # in start order
        self._confined = None if sandbox is None else ConfinedInstalls(sandbox)
        self._runInThread = runInThread or self._inThread
        self.warden: InstallWatcher | None = None
        """The gateway's warden (L{mcpgateway.ops.warden.Warden}; set once
        it is made): each installer gets its marker and is told to it, so
        that none outlives a gateway killed during an install."""
        self.secrets: ResolvesSecrets | None = None
        """The gateway's secret references' resolver (its spawner's): an
        install gets the values its entry's C{env} references (a private
        registry's token), as the server's children do; C{None}: the
        references reach it as their text."""
        self.stopped = False
        if IReactorCore.providedBy(reactor):
            # However the resolver's owner stops: no installer outlives the process.
            reactor.addSystemEventTrigger("before", "shutdown", self.stop)

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
        never errbacks. After L{stop}, and for a resolution L{stop} cut
        short, it never fires.
        """
        wrapper = parseWrapper(spec)
        if wrapper is None:
            return succeed(spec)
        if self.stopped:
            return Deferred()  # the gateway is stopping: nothing to start
        entry = self._entry(wrapper.key)
        if entry is not None:
            command, resolvedAt = entry
            if (
                0 <= self._clock.seconds() - resolvedAt < self._ttl
                and usable(command)
                and not self._cutShort(self._target(wrapper))
            ):
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

    def stop(self) -> None:
        """Kill every install under way (its whole process group) and start
        no other: the gateway is stopping. The resolutions they were for
        never fire (their servers are not started); the folders they leave
        are installed afresh by the next gateway. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        installers = [i for i in self._installers if not i.done.called]
        if installers:
            self.log.info(
                "stopping {count} package install(s): the gateway is stopping",
                count=len(installers),
            )
        for installer in installers:
            installer.stop()

    def installing(self) -> int:
        """How many installers run now."""
        return sum(1 for i in self._installers if not i.done.called)

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
            install = self._npxInstall if wrapper.kind == "npx" else self._uvxInstall
            work = self._withSecrets(spec).addCallback(
                lambda filled: maybeDeferred(install, wrapper, filled[0]).addErrback(
                    _redacted, filled[1]
                )
            )
            return work.addCallback(self._store, wrapper.key)

        return _share(self._resolving, wrapper.key, start)

    def _withSecrets(self, spec: ServerSpec) -> Deferred[tuple[ServerSpec, Callable[[str], str]]]:
        """C{spec} with the values of its secret references in place, for
        its install (never kept: the resolution's spec is C{spec}), and
        what takes those values out of a line; a reference that cannot be
        read fails the install, saying which."""
        secrets = self.secrets
        if secrets is None or not spec.references:
            return succeed((spec, _unchanged))

        def unread(failure: Failure) -> Failure:
            failure.trap(SecretsUnavailable)
            return Failure(ResolveError(f"its secrets were not read: {failure.value}"))

        def redaction(
            resolved: tuple[ServerSpec, GivenSecrets],
        ) -> tuple[ServerSpec, Callable[[str], str]]:
            return resolved  # an install needs only to take the values out of its lines

        return secrets.resolve(spec).addCallback(redaction).addErrback(unread)

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
        self,
        label: str,
        argv: list[str],
        env: Mapping[str, str],
        target: Path,
        spec: ServerSpec,
    ) -> Deferred[None]:
        """Run an installer for C{spec} in C{target}, unless one runs there
        already (two entries asking for one package differently): then wait
        for that one."""

        def start() -> Deferred[None]:
            work = maybeDeferred(self._run, label, argv, env, target, spec)
            return work.addCallback(lambda _: None)

        return _share(self._installing, str(target), start)

    def _run(
        self, label: str, argv: list[str], env: Mapping[str, str], path: Path, spec: ServerSpec
    ) -> Deferred[tuple[int | None, str]]:
        """Run an installer for C{spec} in C{path}, confined as its children
        are; fire with its exit code and output tail, or fail with
        L{ResolveError} unless it exits with code 0 (L{InstallStopped} when
        L{stop} killed it; what its sandbox refused, when that is why)."""
        if self.stopped:
            raise InstallStopped(f"{label} was not started: the gateway is stopping")
        if self._cutShort(path):
            path = self._afresh(label, path)
        marker = path / MARKER
        try:
            marker.write_text(f"{os.getpid()}\n")
        except OSError as e:
            raise ResolveError(f"cannot write in {path}: {e.strerror}") from None
        warden = self.warden
        if warden is not None:  # what the installer starts is found by it too
            env = {**env, warden.marker[0]: warden.marker[1]}
        confined = self._confine(spec, argv, env, path, label)
        if confined is not None:  # its launcher leads a process group of its own
            installer = Installer(self._killGroup)
            command, env = confined.argv, confined.launcherEnviron()
        else:
            grouped = self._setsid is not None
            installer = Installer(self._killGroup if grouped else None)
            command = [self._setsid, *argv] if self._setsid is not None else argv
        try:
            process = self._reactor.spawnProcess(
                installer, command[0], command, env=dict(env), path=str(path)
            )
        except OSError as e:
            marker.unlink(missing_ok=True)
            raise ResolveError(f"cannot run {command[0]}: {e}") from None
        if confined is not None:
            confined.started(_endOf(installer), process.pid)
        pid = process.pid
        if warden is not None and pid is not None and not installer.done.called:
            warden.helperSpawned(spec.name, pid)  # the warden stops it if the gateway dies
        if not installer.done.called:
            self._installers[installer] = None
            installer.timer = self._clock.callLater(self._timeout, installer.timeUp)

        def checked(result: tuple[int | None, str]) -> tuple[int | None, str]:
            self._installers.pop(installer, None)
            if warden is not None and pid is not None:
                warden.helperExited(pid)
            code, output = result
            if not installer.cutShort:
                # It ended on its own terms (npm tidies up a failed install):
                # what it left may be trusted, and installed over next time.
                marker.unlink(missing_ok=True)
            if installer.stopped:
                raise InstallStopped(f"{label} was stopped: the gateway is stopping")
            if installer.timedOut:
                raise ResolveError(f"{label} took longer than {self._timeout:g}s and was killed")
            if installer.signal is not None:
                raise ResolveError(f"{label} was killed by signal {installer.signal}")
            if code != 0:
                refused = None if confined is None else confined.explain(output)
                why = refused or summarize(output) or "no output"
                raise InstallFailed(f"{label} failed (exit code {code}): {why}")
            return result

        return installer.done.addCallback(checked)

    def _confine(
        self, spec: ServerSpec, argv: list[str], env: Mapping[str, str], path: Path, label: str
    ) -> ConfinedInstall | None:
        """The install C{argv} for C{spec} in C{path}, confined as
        C{spec}'s children are; C{None}: it runs unconfined."""
        if self._confined is None:
            return None
        return self._confined.confine(spec, argv, env, str(path), label)

    def _target(self, wrapper: Wrapper) -> Path:
        """The folder C{wrapper}'s package is installed into."""
        kind = paths.NPX_DIR if wrapper.kind == "npx" else paths.UVX_DIR
        return self.stateDir / kind / wrapper.folder

    def _cutShort(self, target: Path) -> bool:
        """Whether C{target} holds what an install cut short left: its
        marker is there, and names no live gateway but (perhaps) this one
        (this one's own install under way there counts: its files are being
        written)."""
        try:
            text = (target / MARKER).read_text()
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True
        try:
            pid = int(text.strip())
        except ValueError:
            return True
        if pid == os.getpid() or pid <= 0:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # EPERM: alive, another user's
        return False  # another live gateway installs there: its business

    def _afresh(self, label: str, path: Path) -> Path:
        """Move C{path} (what an install cut short left) aside for deletion
        in the background, and give back C{path} again, empty."""
        aside = path.with_name(f"{DISCARDED}{path.name}-{os.urandom(4).hex()}")
        try:
            path.rename(aside)
            path.mkdir(parents=True)
        except OSError as e:
            self.log.warn(
                "{label} into {path} was cut short before, and the folder cannot be"
                " moved aside ({error}); installing over it",
                label=label,
                path=str(path),
                error=str(e),
            )
            return path
        self.log.info(
            "{label} into {path} was cut short before (stopped or killed): installing afresh",
            label=label,
            path=str(path),
        )
        self._discard(aside)
        return path

    def _removeTree(self, path: Path) -> None:
        if IReactorThreads.providedBy(self._reactor):
            self._reactor.callInThread(shutil.rmtree, path, True)
        else:
            shutil.rmtree(path, ignore_errors=True)

    def _npxInstall(self, wrapper: Wrapper, spec: ServerSpec) -> Deferred[list[str]]:
        npm = self._npm or _sibling(spec, "npm")
        if npm is None:
            raise ResolveError("npm was not found")
        target = self._target(wrapper)
        target.mkdir(parents=True, exist_ok=True)
        match = _NPM_SPEC.fullmatch(wrapper.package)
        assert match is not None
        name, version = match.group("name"), match.group("version")
        env = spec.environment(self._environ)
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
        globalConfig = npmGlobalConfig(npm, env)
        if globalConfig is not None:  # the system's, which --prefix alone would move
            argv += ["--globalconfig", globalConfig]
        if version is not None and _EXACT_VERSION.fullmatch(version):
            argv.append("--prefer-offline")  # immutable: any cached copy will do
        # Without a version, say @latest: a bare name would keep the version an
        # earlier install recorded in <target>/package.json.
        argv.append(wrapper.package if version is not None else f"{name}@latest")
        installing = self._install("npm install", argv, env, target, spec)
        if self._confined is not None and self._confined.sandbox.confines(spec):
            installing.addErrback(self._npmrcTold, name, env)

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

    def _npmrcTold(self, failure: Failure, name: str, env: Mapping[str, str]) -> Deferred[None]:
        """A confined npm install of package C{name} that failed, told on a
        line of its own what the user's npm config file (which its sandbox
        hides) names for that package's registry, and the entry C{env} that
        names it instead (L{registryHint}), when it names one: read in a
        worker thread. Any other failure, or none to tell, goes on as it is."""
        failure.trap(InstallFailed)

        def told(hint: str | None) -> None:
            if hint is None:
                failure.raiseException()
            raise InstallFailed(f"{failure.value}\n{hint}")

        def unread(reason: Failure) -> Failure:
            self.log.failure("reading the npm config for {package}", reason, package=name)
            return failure

        return self._runInThread(registryHint, name, env).addCallbacks(told, unread)

    def _inThread(self, f: Callable[..., Any], *args: object) -> Deferred[Any]:
        """C{f(*args)} in the reactor's thread pool (in this thread if the
        reactor has none)."""
        reactor = self._reactor
        if IReactorThreads.providedBy(reactor):
            return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args)
        return runInline(f, *args)

    def _uvxInstall(self, wrapper: Wrapper, spec: ServerSpec) -> Deferred[list[str]]:
        uv = self._uv or _sibling(spec, "uv")
        if uv is None:
            raise ResolveError("uv was not found")
        target = self._target(wrapper)
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
        installing = self._install("uv tool install", argv, env, target, spec)

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

    def _failed(
        self, failure: Failure, spec: ServerSpec, wrapper: Wrapper
    ) -> ServerSpec | Deferred[ServerSpec]:
        if failure.check(InstallStopped):
            self.log.info(
                "server {server}: {kind} {package} was not resolved: {why}",
                server=spec.name,
                kind=wrapper.kind,
                package=wrapper.package,
                why=str(failure.value),
            )
            return Deferred()  # the gateway is stopping: nothing is started
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


def _unchanged(text: str) -> str:
    return text


def _redacted(failure: Failure, redact: Callable[[str], str]) -> Failure:
    """C{failure} with the values of an install's secrets taken out of its
    message (an installer may show a URL with its token in it)."""
    error = failure.value
    if isinstance(error, ResolveError) and not isinstance(error, InstallStopped):
        return Failure(type(error)(redact(str(error))))
    return failure


def _endOf(installer: Installer) -> Deferred[None]:
    """A Deferred that fires (with C{None}) when C{installer} ends."""
    ended: Deferred[None] = Deferred()

    def fire(result: _T) -> _T:
        ended.callback(None)
        return result

    installer.done.addBoth(fire)
    return ended


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
