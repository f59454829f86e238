# -*- test-case-name: tests.clientconfigs.test_adoption_safety,tests.web.test_api -*-
"""Where the served servers come from, and keeping them current.

A L{ConfigSource} turns the config file into L{ServerSpec}s: read as it is
(L{PlainFile}), or, with C{--rewrite-config}, adopted from a Claude config
(L{AdoptedClaudeConfig}: stdio entries backed up and pointed at the gateway,
served from the backup, restored on stop). L{ConfigService} applies
classification and promotions, builds the routes of every server
(L{mcpgateway.config.scopes}), watches the file (inotify on Linux, polling
elsewhere) and the C{.env} files the children use (a poll every
L{ENV_POLL} seconds), reloads off the reactor thread when one changes, and
tells the gateway. It also reads C{<state-dir>/aggregate.json} (the aggregate
endpoints' settings, L{mcpgateway.config.aggregate}) at start, at every
reload and whenever that file changes, and hands a changed result to its
C{onAggregate} callback. A change of C{<state-dir>/classification.json}
(L{mcpgateway.config.classification}) serves the config last loaded again
with it (and C{promotions.json} as it is then), logging what it changed; a
file that cannot be used keeps the classification it gave last.

Once the gateway listens, the source adopts (other clients' files too) and
the config is handed to the gateway at once, before a connection is
accepted (or, with nothing adopted, the servers served since start again):
that first pass tells the gateway its configuration is complete
(L{mcpgateway.core.gateway.Gateway.configured}).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from mcpgateway.config import classification, envfiles
from mcpgateway.config.aggregate import (
    AggregateConfigError,
    AggregateSettings,
    readAggregateFile,
)
from mcpgateway.config.awaiting import leadsTo, nearestExisting
from mcpgateway.config.classification import Override, Overrides
from mcpgateway.config.envfiles import EnvFile, readWorkspaceEnv
from mcpgateway.config.gatewayfile import ServersFile
from mcpgateway.config.promotions import PromotionStore
from mcpgateway.config.scopes import buildScopes
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.config.watched import (
    WARNING_NOTE,
    ConfigSource,
    OnAggregate,
    Prepared,
    Reload,
    copyOf,
    fingerprint,
    oneLine,
    watchedPathsOf,
)
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime import logs, paths
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.timers import Every

MAX_WAIT = 2.0
"""Seconds after a change by which the reload starts, however busy the file."""
RESTORE_RETRIES = (0.2, 0.5, 1.0)
"""Delays before retrying a restore that failed at stop (at most ~2 s in all)."""
ENV_POLL = 5.0
"""Seconds between two looks at the C{.env} files the children use (one
C{stat} each; a file is read again only when it changed)."""


class ConfigService(Service):
    """Loads the servers, watches the file, and reloads the gateway on change."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        source: ConfigSource,
        stateDir: Path,
        clock: IReactorTime,
        reactor: Any,
        runInThread: RunInThread,
        reload: Reload,
        pollInterval: float = 2.0,
        debounce: float = 0.3,
        maxWait: float = MAX_WAIT,
        restoreRetries: Sequence[float] = RESTORE_RETRIES,
        *,
        environ: Mapping[str, str] | None = None,
        keys: Callable[[], WorkspaceKeys] | None = None,
        promotions: PromotionStore | None = None,
        envPoll: float = ENV_POLL,
        readWorkspace: Callable[[str], EnvFile] = readWorkspaceEnv,
        onAggregate: OnAggregate | None = None,
        onConfigPath: Callable[[Path | None], object] | None = None,
    ) -> None:
        """
        @param debounce: seconds of quiet after a change before reloading.
        @param maxWait: a reload happens at most this many seconds after the
            first change it covers, however busy the file stays.
        @param restoreRetries: the delays (seconds) before each retry of a
            restore that failed at stop; between attempts the reactor runs.
        @param environ: the gateway's environment, which a project entry's
            C{${VAR}} expand from (under the C{.env} files); C{os.environ}.
        @param keys: makes the workspace keys for one load (called only when
            the config has project entries; may raise L{WorkspaceKeyError});
            by default from C{stateDir}'s key file.
        @param promotions: C{promotions.json} (by default C{stateDir}'s).
        @param envPoll: seconds between two looks at the C{.env} files.
        @param readWorkspace: reads a workspace directory's C{.env}.
        @param onAggregate: called with the settings of C{aggregate.json}
            (L{aggregate}) when the service starts, then each time they
            change (an invalid file keeps the settings as they were: it is
            not called, one warning is logged).
        @param onConfigPath: called with the source's path when a reload
            serves another file than before (C{~/.claude.json} appeared
            while the bundled demo was served, and was adopted): what
            C{state.json} says the gateway serves.
        """
        self.source = source
        self._onConfigPath = onConfigPath
        self._servedPath = source.path
        self._stateDir = stateDir
        self._clock = clock
        self._reactor = reactor
        self._runInThread = runInThread
        self._reload = reload
        self._pollInterval = pollInterval
        self._debounce = debounce
        self._maxWait = maxWait
        self._restoreRetries = tuple(restoreRetries)
        self._lock = DeferredLock()
        self._pending: IDelayedCall | None = None
        self._firstChange: float | None = None
        self._poll: Every | None = None
        self._notifier: Any = None
        self._fingerprints: dict[str, tuple[int, int] | None] = {}
        self._watchedDirs: set[str] = set()
        self._warned: set[str] = set()
        self._handedOver = False
        self._environ = os.environ if environ is None else environ
        self._keys = keys if keys is not None else lambda: WorkspaceKeys.forStateDir(stateDir)
        self._promotions = promotions if promotions is not None else PromotionStore(stateDir)
        self._envInterval = envPoll
        self._readWorkspace = readWorkspace
        self._envPoll: Every | None = None
        self._envFiles: dict[str, EnvFile] = {}
        self._envChecking = False
        self._last: LoadedConfig | None = None
        self._served: dict[str, ServerSpec] | None = None
        """The servers handed to the gateway last (at start: those it was made with)."""
        self._onAggregate = onAggregate
        self.aggregatePath = stateDir / paths.AGGREGATE_FILE
        self.aggregate = AggregateSettings()
        """The aggregate endpoints' settings in use (the defaults until the
        file is read, and while it is invalid from the start)."""
        self._aggregateProblem: str | None = None
        self._aggregateWarned: set[str] = set()
        self._aggregatePending: IDelayedCall | None = None
        self._aggregateFirst: float | None = None
        self.classificationPath = stateDir / classification.OVERRIDES_FILE
        self._classification: dict[str, Override] = {}
        """The servers' lines of the last C{classification.json} that could
        be used (empty: none yet, the built-in classification)."""
        self._classificationRead = False
        self._classificationPending: IDelayedCall | None = None
        self._classificationFirst: float | None = None

    def gatewayLimits(self) -> str:
        """The config's top-level C{"limits"} in use, as compact JSON
        (L{mcpgateway.config.ratelimits}); empty: none."""
        return "" if self._last is None else self._last.limits

    def specs(self, loaded: LoadedConfig) -> dict[str, ServerSpec]:
        """Add the servers of the gateway's own file (the management API's),
        apply classification (built-in list, the overrides file, promotions)
        and build every server's routes; log what there is to say. Blocking
        (files): at start, or see L{_reloadNow} (the files are read in a thread)."""
        return self._report(self._prepare(loaded))

    def _prepare(self, loaded: LoadedConfig) -> Prepared:
        """Everything L{specs} reads (blocking; no logging: runs in a thread)."""
        source = loaded
        merged = ServersFile(self._stateDir).merge(copyOf(loaded))
        overrides = self._loadOverrides()
        promoted = self._promotions.load()
        warnings = list(overrides.warnings)
        if self._promotions.warning is not None:
            warnings.append(self._promotions.warning)
        keys = None
        if merged.projects:
            try:
                keys = self._keys()
            except (WorkspaceKeyError, OSError) as e:
                warnings.append(f"cannot serve the projects' servers: {e}")
        scoped = buildScopes(
            merged,
            overrides,
            keys,
            envfiles.readGatewayEnv(self._stateDir),
            self._environ,
            self._readWorkspace,
            promotions=promoted,
        )
        return Prepared(
            source,
            merged,
            scoped,
            warnings + scoped.warnings,
            self._readAggregate(),
            overrides,
        )

    def _loadOverrides(self) -> Overrides:
        """C{classification.json} (blocking); when it cannot be used at
        all, the last one that could (one warning saying so)."""
        overrides = classification.loadOverrides(self._stateDir)
        if overrides.invalid is None or not self._classificationRead:
            return overrides  # at start: the built-in classification
        return Overrides(
            dict(self._classification),
            [
                f"{self.classificationPath} is invalid: {overrides.invalid};"
                " keeping the classification it gave before"
            ],
            overrides.invalid,
        )

    def _readAggregate(self) -> AggregateSettings | AggregateConfigError:
        """C{aggregate.json}, or why not (blocking: at start or in a thread)."""
        try:
            return readAggregateFile(self.aggregatePath)
        except AggregateConfigError as e:
            return e

    def _report(self, prepared: Prepared) -> dict[str, ServerSpec]:
        """Log what L{_prepare} found, remember the C{.env} files to watch."""
        loaded = prepared.merged
        for note in loaded.notes:
            self.log.info("config: {note}", note=note)
        for error in loaded.errors:
            self.log.error("config: {error}", error=error)
        warnings = loaded.warnings + prepared.warnings
        for warning in warnings:
            if warning not in self._warned:  # say each once, not on every reload
                self.log.warn("config: {warning}", warning=warning)
        self._warned = set(warnings)
        self._envFiles = dict(prepared.scoped.envFiles)
        self._useClassification(prepared.overrides)
        if prepared.aggregate is not None:
            self._useAggregate(prepared.aggregate)
        # An .env change rebuilds from this (not logged again, not adopted again).
        self._last = replace(copyOf(prepared.source), notes=[], errors=[])
        self._served = prepared.scoped.specs
        return prepared.scoped.specs

    def _useClassification(self, overrides: Overrides) -> None:
        """Remember the classification in use; log what changed in it
        since the last reading."""
        servers = overrides.servers
        if self._classificationRead and servers != self._classification:
            self.log.info(
                "config: {path} changed: {changes}",
                path=str(self.classificationPath),
                changes="; ".join(classification.changes(self._classification, servers)),
            )
        self._classification = dict(servers)
        self._classificationRead = True

    @property
    def envWarnings(self) -> list[str]:
        """The paths of the C{.env} files in use that have a warning (a
        skipped line, a refused name, unreadable); never their contents."""
        return sorted(path for path, f in self._envFiles.items() if f.warning is not None)

    def _useAggregate(self, read: AggregateSettings | AggregateConfigError) -> None:
        """Use what L{_readAggregate} found: log its warnings once each; an
        error keeps the settings in use (the defaults at start) and is
        logged once (until it changes); changed settings go to
        C{onAggregate} once the service runs."""
        path = str(self.aggregatePath)
        if isinstance(read, AggregateConfigError):
            problem = str(read)
            if problem != self._aggregateProblem:
                self._aggregateProblem = problem
                self.log.warn(
                    "config: {path} is invalid ({why}); {kept}",
                    path=path,
                    why=problem,
                    kept="keeping the aggregate settings as they were"
                    if self.running
                    else "the aggregate endpoints use the defaults",
                )
            return
        self._aggregateProblem = None
        for warning in read.warnings:
            if warning not in self._aggregateWarned:
                self.log.warn("config: {path}: {warning}", path=path, warning=warning)
        self._aggregateWarned = set(read.warnings)
        if read == self.aggregate:
            return
        self.aggregate = read
        if self.running:
            self.log.info(
                "config: aggregate settings from {path}: endpoints {endpoints}",
                path=path,
                endpoints=", ".join(sorted(read.endpoints)) or "(defaults)",
            )
            self._deliverAggregate()

    def _deliverAggregate(self) -> None:
        if self._onAggregate is None:
            return
        try:
            self._onAggregate(self.aggregate)
        except Exception:
            self.log.failure("config: applying the aggregate settings failed")

    def _aggregateChanged(self) -> None:
        """C{aggregate.json} changed: read it again once things settle (at
        most C{maxWait} after the first change), without reloading the
        servers."""
        now = self._clock.seconds()
        pending = self._aggregatePending
        if pending is not None and pending.active():
            first = now if self._aggregateFirst is None else self._aggregateFirst
            pending.reset(max(0.0, min(self._debounce, first + self._maxWait - now)))
            return
        self._aggregateFirst = now
        self._aggregatePending = self._clock.callLater(self._debounce, self.reloadAggregate)

    def reloadAggregate(self) -> Deferred[None]:
        """Read C{aggregate.json} again (in a thread) and use it; fires once
        done, never fails (a failure is logged)."""
        if self._aggregatePending is not None and self._aggregatePending.active():
            self._aggregatePending.cancel()
        self._aggregatePending = None
        self._aggregateFirst = None

        def failed(reason: Any) -> None:
            self.log.warn(
                "config: reading {path} failed, keeping the aggregate settings: {why}",
                path=str(self.aggregatePath),
                why=reason.getErrorMessage(),
            )

        read = self._lock.run(lambda: self._runInThread(self._readAggregate))
        return read.addCallbacks(self._useAggregate, failed)

    def startService(self) -> None:
        super().startService()
        self._deliverAggregate()
        self._envPoll = Every(self._clock, self._envInterval, self._checkEnv)
        self._envPoll.start()
        watched = [*watchedPathsOf(self.source), self.aggregatePath, self.classificationPath]
        for path in watched:
            self._fingerprints[os.path.abspath(path)] = fingerprint(path)
        if not self._watchWithInotify(watched):
            self._poll = Every(self._clock, self._pollInterval, self._checkPoll)
            self._poll.start()

    def _watchWithInotify(self, paths: Sequence[Path]) -> bool:
        try:
            from twisted.internet import inotify
        except ImportError:
            self._watchMore(paths)
            return False
        try:
            notifier = inotify.INotify(self._reactor)
            notifier.startReading()
        except Exception:
            self.log.info(
                "config: inotify unavailable; polling {path} every {seconds}s",
                path=", ".join(str(p) for p in paths),
                seconds=self._pollInterval,
            )
            self._watchMore(paths)
            return False
        self._notifier = notifier
        self._watchMore(paths)
        return True

    def _watchMore(self, paths: Sequence[Path]) -> None:
        """Watch C{paths} too (those not watched yet): their directory by
        inotify (editors and Claude Code replace a file by rename), or the
        nearest one above it while it does not exist, else by the poll's
        fingerprints."""
        for path in paths:
            key = os.path.abspath(path)
            self._fingerprints.setdefault(key, fingerprint(path))
            if self._notifier is None:
                continue
            folder = os.path.dirname(key)
            own = os.path.isdir(folder)  # else created later: awaiting.py
            folder = folder if own else nearestExisting(folder) or folder
            if folder in self._watchedDirs:
                continue
            from twisted.internet import inotify

            mask = (
                inotify.IN_CLOSE_WRITE
                | inotify.IN_MOVED_TO
                | inotify.IN_CREATE
                | inotify.IN_DELETE
                | inotify.IN_MOVED_FROM
            )
            try:
                self._notifier.watch(FilePath(folder), mask=mask, callbacks=[self._inotifyEvent])
            except Exception as e:
                self.log.warn(
                    "config: cannot watch {path} ({why}); its changes are seen at the next reload",
                    path=str(path),
                    why=oneLine(e),
                )
                continue
            self._watchedDirs.add(folder)
            message = "config: watching {path}" if own else "config: watching {folder} for {path}"
            self.log.info(message, path=str(path), folder=folder)
            if own and fingerprint(path) != self._fingerprints[key]:
                self._fingerprints[key] = fingerprint(path)  # written before its folder was
                self.changed()  # watched (looked at once it is: no write falls in between)

    def _inotifyEvent(self, _: Any, filepath: FilePath[Any], mask: int) -> None:
        path = filepath.path  # inotify reports bytes paths
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        key = os.path.abspath(path)
        if key in self._fingerprints:
            self._pathChanged(key)
        elif leadsTo(key, self._fingerprints):
            self.changed()  # a folder on the way to an awaited file: watch it once reloaded

    def _checkPoll(self) -> None:
        for key, before in list(self._fingerprints.items()):
            now = fingerprint(Path(key))
            if now != before:
                self._fingerprints[key] = now
                self._pathChanged(key)

    def _pathChanged(self, key: str) -> None:
        if key == os.path.abspath(self.aggregatePath):
            self._aggregateChanged()
        elif key == os.path.abspath(self.classificationPath):
            self._classificationChanged()
        else:
            self.changed()

    def _classificationChanged(self) -> None:
        """C{classification.json} changed: serve the servers with it once
        things settle (at most C{maxWait} after the first change), from the
        config last loaded (the config file is not read again)."""
        now = self._clock.seconds()
        pending = self._classificationPending
        if pending is not None and pending.active():
            first = now if self._classificationFirst is None else self._classificationFirst
            pending.reset(max(0.0, min(self._debounce, first + self._maxWait - now)))
            return
        self._classificationFirst = now
        self._classificationPending = self._clock.callLater(self._debounce, self._reclassify)

    def _reclassify(self) -> Deferred[Any]:
        self._classificationPending = None
        self._classificationFirst = None
        return self.rebuild()

    def changed(self) -> None:
        """The file changed: reload once things settle (events come in bursts),
        but no later than C{maxWait} after the first change: a writer that never
        pauses (Claude Code rewriting the file many times a second) must not
        starve the reload."""
        now = self._clock.seconds()
        if self._pending is not None and self._pending.active():
            first = now if self._firstChange is None else self._firstChange
            self._pending.reset(max(0.0, min(self._debounce, first + self._maxWait - now)))
            return
        self._firstChange = now
        self._pending = self._clock.callLater(self._debounce, self._reloadNow)

    def reload(self) -> Deferred[Any]:
        """Reload now (after the management API changed the gateway's file);
        fires once the gateway serves the result."""
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        return self._reloadNow(raiseErrors=True)

    def _reloadNow(self, raiseErrors: bool = False) -> Deferred[Any]:
        self._pending = None
        self._firstChange = None

        def load() -> Deferred[Any]:
            return self._runInThread(lambda: self._prepare(self.source.load()))

        def apply(prepared: Prepared) -> Any:
            result = self._reload(self._report(prepared))
            path = self.source.path
            if path != self._servedPath:
                self._servedPath = path
                if self._onConfigPath is not None:
                    self._onConfigPath(path)
            if self.running and not self._handedOver:
                self._watchMore(watchedPathsOf(self.source))  # files found since
            return result

        def failed(reason: Any) -> Any:
            self.log.warn(
                "config: reload of {path} failed, keeping the servers as they are: {why}",
                path=str(self.source.path),
                why=reason.getErrorMessage(),
            )
            return reason if raiseErrors else None

        return self._lock.run(load).addCallbacks(apply, failed)

    def _checkEnv(self) -> None:
        """Look at the C{.env} files (in a thread); rebuild the specs when
        one yields other values than before."""
        if self._envChecking or not self._envFiles:
            return
        before = dict(self._envFiles)
        self._envChecking = True

        def look() -> dict[str, EnvFile]:
            return {path: envfiles.refresh(old) for path, old in before.items()}

        def done(result: Any) -> Any:
            self._envChecking = False
            return result

        looked = self._runInThread(look)
        looked.addCallback(self._envLooked, before).addBoth(done)
        looked.addErrback(
            lambda reason: self.log.warn(
                "config: could not look at the .env files: {why}", why=reason.getErrorMessage()
            )
        )

    def _envLooked(
        self, now: dict[str, EnvFile], before: dict[str, EnvFile]
    ) -> Deferred[Any] | None:
        changed = []
        for path, current in now.items():
            if self._envFiles.get(path) is not before[path]:
                continue  # a reload since: it read the file itself
            self._envFiles[path] = current  # the new stamp: not read again
            if envfiles.changed(before[path], current):
                changed.append(current)
            elif current.warning is not None and current.warning not in self._warned:
                self._warned.add(current.warning)
                self.log.warn("config: {warning}", warning=current.warning)
        if not changed:
            return None
        for envFile in changed:
            self.log.info(
                "config: {path} changed (it sets {names}); the shared children that use"
                " it restart when idle (a session's own child keeps its environment)",
                path=envFile.path,
                names=", ".join(envFile.names) or "nothing",
            )
        return self.rebuild()

    def rebuild(self) -> Deferred[Any]:
        """Serve the config last loaded again, with the C{.env} files and
        C{promotions.json} as they are now (the config file is not read, nor
        adopted, again); fires once the gateway serves it, never fails (a
        failure is logged)."""

        def prepare() -> Deferred[Any]:
            last = self._last
            if last is None:
                return self._runInThread(lambda: self._prepare(self.source.load()))
            return self._runInThread(lambda: self._prepare(last))

        def failed(reason: Any) -> None:
            self.log.warn(
                "config: rebuilding the servers failed, keeping them as they are: {why}",
                why=reason.getErrorMessage(),
            )

        return self._lock.run(prepare).addCallbacks(
            lambda prepared: self._reload(self._report(prepared)), failed
        )

    def listening(self, port: int) -> None:
        try:
            notes = self.source.listening(port)
        except Exception as e:
            # The file was caught half-written, or kept changing: try again
            # through the watcher's path (a reload adopts too).
            self.log.error(
                "config: could not adopt {path}: {why}; trying again shortly",
                path=str(self.source.path),
                why=oneLine(e),
            )
            self.changed()
            return
        for note in notes:
            if note.startswith(WARNING_NOTE):
                self.log.warn("config: {warning}", warning=note[len(WARNING_NOTE) :])
            else:
                self.log.info("config: {note}", note=note)
        if getattr(self.source, "reloadNeeded", False):
            # Entries adopted now are served from their backups: load them.
            self._serveNow()
        else:
            self._serveAgain()

    def _serveNow(self) -> None:
        """Load the config and hand it to the gateway at once, in the
        reactor's thread: once the gateway listens, before it accepts a
        connection, so no request finds a server of the files adopted just
        now missing (a 404), nor a saved session of one not restored yet.
        Blocking file work, as the start's first load and the adoption that
        comes just before are. With a reload in progress, or when the load
        fails, the reload runs in a thread as any other."""
        if self._lock.locked:
            self._reloadNow()
            return
        if self._pending is not None and self._pending.active():
            self._pending.cancel()  # covered by this load
        self._pending = None
        self._firstChange = None
        try:
            prepared = self._prepare(self.source.load())
        except Exception as e:
            self.log.warn(
                "config: loading the adopted entries failed ({why}); trying again in a thread",
                why=oneLine(e),
            )
            self._reloadNow()
            return
        served = maybeDeferred(self._reload, self._report(prepared))
        served.addErrback(
            lambda reason: self.log.failure("config: serving the adopted entries failed", reason)
        )
        if self.running and not self._handedOver:
            self._watchMore(watchedPathsOf(self.source))  # files found since

    def _serveAgain(self) -> Deferred[Any]:
        """Hand the servers served since start to the gateway again: nothing
        was adopted once it listens, so they are the whole configuration,
        and the gateway is told so by this pass as it is by the reload that
        follows an adoption (it holds the saved sessions of servers it does
        not know yet until the first pass:
        L{mcpgateway.core.gateway.Gateway.configured}). After any reload in
        progress; fires once done, never fails (a failure is logged)."""

        def serve() -> Any:
            served = self._served
            return None if served is None else self._reload(dict(served))

        def failed(reason: Any) -> None:
            self.log.warn(
                "config: serving the servers again failed: {why}", why=reason.getErrorMessage()
            )

        return self._lock.run(serve).addErrback(failed)

    def _stopWatching(self) -> None:
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        if self._aggregatePending is not None and self._aggregatePending.active():
            self._aggregatePending.cancel()
        if self._classificationPending is not None and self._classificationPending.active():
            self._classificationPending.cancel()
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._envPoll is not None and self._envPoll.running:
            self._envPoll.stop()
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None

    def handOver(self) -> None:
        """A successor serves the config now (see L{mcpgateway.ops.handover}):
        stop watching the file, and leave it adopted when this process stops."""
        self._stopWatching()
        self._handedOver = True
        if self.source.path is not None:
            self.log.info(
                "config: the successor watches {path} now; it is left as it is",
                path=str(self.source.path),
            )

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._stopWatching()
        if self._handedOver:
            return succeed(None)

        # Restore after any reload in progress; each attempt is synchronous and
        # small (as before), the retries are timers: the reactor runs between them.
        return self._lock.run(lambda: succeed(None)).addCallback(lambda _: self._restore(0))

    def _restore(self, attempt: int) -> Deferred[None] | None:
        """Give the config back; on failure (the file caught half-written by
        another writer, or changing all the time) log it and try again after
        each of C{restoreRetries}; the last failure is logged at error level
        and left as a marker (L{ConfigSource.restoreFailed})."""
        try:
            notes = self.source.stopping()
        except Exception as e:
            why = oneLine(e)
            path = str(self.source.path)
            if attempt < len(self._restoreRetries):
                delay = self._restoreRetries[attempt]
                self.log.warn(
                    "config: restoring {path} failed ({why}); trying again in {delay}s",
                    path=path,
                    why=why,
                    delay=delay,
                )
                later: Deferred[None] = deferLater(self._clock, delay, lambda: None)
                return later.addCallback(lambda _: self._restore(attempt + 1))
            self.log.error(
                "config: could not restore {path} ({why}; {attempts} attempts): its entries"
                " still point at this gateway, which is stopping. The originals are kept in"
                " the backup in {stateDir}: run `mcpgateway restore` once the file is quiet",
                path=path,
                why=why,
                attempts=attempt + 1,
                stateDir=str(self._stateDir),
            )
            try:
                self.source.restoreFailed(why)
            except Exception as e2:
                self.log.error(
                    "config: could not leave the restore-failure marker in {stateDir}: {why}",
                    stateDir=str(self._stateDir),
                    why=oneLine(e2),
                )
            return None
        for note in notes:
            self.log.info("config: {note}", note=note)
        return None
