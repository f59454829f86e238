# -*- test-case-name: tests.config.test_configservice,tests.clientconfigs.test_adoption_safety,tests.config.test_underway -*-
"""Where the served servers come from, and keeping them current.

A L{ConfigSource} turns the config file into L{ServerSpec}s: read as it is
(L{PlainFile}), or, with C{--rewrite-config}, adopted from a Claude config
(L{AdoptedClaudeConfig}: stdio entries backed up and pointed at the gateway,
served from the backup, restored on stop). L{ConfigService} holds the
collaborators that keep them current, one job each, and applies what they
find:

 - a L{Preparer} makes a loaded config ready to serve (classification,
   promotions, the gateway's own file, every server's routes);
 - a L{FileWatch} notices that a watched file changed (inotify on Linux,
   polling elsewhere); a change of the config file (or of another client's
   adopted file) reloads the servers, off the reactor thread, once things
   settle (a L{Debouncer});
 - an L{AggregateWatch} keeps C{<state-dir>/aggregate.json} (the aggregate
   endpoints' settings, L{mcpgateway.config.aggregate}) current and hands
   a changed result to the C{onAggregate} callback;
 - a L{ClassificationWatch} serves the config last loaded again when
   C{<state-dir>/classification.json} changes (and C{promotions.json} as
   it is then), logging what it changed; a file that cannot be used keeps
   the classification it gave last;
 - an L{EnvWatch} looks at the C{.env} files the children use (a poll
   every L{ENV_POLL} seconds) and serves the config again when one changed;
 - a change of C{<state-dir>/sandbox-approvals.json} (C{mcpgateway sandbox
   approve}: L{mcpgateway.config.sandboxapprovals}) reloads the servers, as a
   change of the config file does;
 - a L{Restorer} gives an adopted config back at stop;
 - a L{ReloadsUnderWay} tells the HTTP side a reload is under way
   (L{ConfigService.settling}): a request for a route it does not serve
   waits for it, as the reload may have just written that route into a
   client's file.

Once the gateway listens, the source adopts (other clients' files too) and
the config is handed to the gateway at once, before a connection is
accepted (or, with nothing adopted, the servers served since start again):
that first pass tells the gateway its configuration is complete
(L{mcpgateway.core.gateway.continuity.SessionContinuity.configured}).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.config.aggregate import AggregateSettings
from mcpgateway.config.aggregatewatch import AggregateWatch
from mcpgateway.config.classificationwatch import ClassificationWatch
from mcpgateway.config.configsettings import ENV_POLL, MAX_WAIT, RESTORE_RETRIES, ConfigSettings
from mcpgateway.config.debounce import Debouncer
from mcpgateway.config.envwatch import EnvWatch
from mcpgateway.config.filewatch import FileWatch
from mcpgateway.config.preparer import Preparer
from mcpgateway.config.problems import ConfigProblems, IgnoredKeys, InvalidEntry, RefusedFile
from mcpgateway.config.promotions import PromotionStore
from mcpgateway.config.restorer import Restorer
from mcpgateway.config.sandboxapprovals import APPROVALS_FILE as SANDBOX_APPROVALS
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.config.underway import ReloadsUnderWay
from mcpgateway.config.watched import (
    WARNING_NOTE,
    ConfigSource,
    Prepared,
    Reload,
    copyOf,
    oneLine,
    watchedPathsOf,
)
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime import logs, paths
from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorFDSet

__all__ = ["ENV_POLL", "MAX_WAIT", "RESTORE_RETRIES", "ConfigService", "ConfigSettings"]


class ConfigService(Service):
    """Loads the servers, watches their files, and reloads the gateway on
    change (see the module docstring).

    @ivar files: notices the watched files' changes.
    @ivar serversChanges: settles a burst of changes of the config files
        into one reload of the servers.
    @ivar aggregateWatch: C{aggregate.json}.
    @ivar classificationWatch: C{classification.json}.
    @ivar envWatch: the C{.env} files in use.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        source: ConfigSource,
        stateDir: Path,
        clock: IReactorTime,
        reactor: IReactorFDSet | None,
        runInThread: RunInThread,
        reload: Reload,
        settings: ConfigSettings | None = None,
    ) -> None:
        """
        @param stateDir: the gateway's state directory (its own files:
            C{aggregate.json}, C{classification.json}, C{promotions.json},
            the workspace keys, the backups).
        @param reactor: what inotify reads on.
        @param runInThread: runs the blocking reads off the reactor thread.
        @param reload: hands the servers to the gateway; fires once it
            serves them.
        @param settings: the tunables and optional collaborators; the
            defaults when C{None}.
        """
        settings = ConfigSettings() if settings is None else settings
        self.source = source
        self._onConfigPath = settings.onConfigPath
        self._servedPath = source.path
        self._runInThread = runInThread
        self._reload = reload
        self._lock = DeferredLock()
        self._underWay = ReloadsUnderWay()
        self._warned: set[str] = set()
        self._noted: set[str] = set()
        self._handedOver = False
        self._last: LoadedConfig | None = None
        self._served: dict[str, ServerSpec] | None = None
        """The servers handed to the gateway last (at start: those it was made with)."""
        self._invalid: tuple[InvalidEntry, ...] = ()
        """The entries of the last load it does not serve for what they hold."""
        debounce, maxWait = settings.debounce, settings.maxWait
        self.aggregateWatch = AggregateWatch(
            stateDir / paths.AGGREGATE_FILE,
            clock,
            debounce,
            maxWait,
            self._lock,
            runInThread,
            lambda: bool(self.running),
            settings.onAggregate,
        )
        self.classificationWatch = ClassificationWatch(
            stateDir, clock, debounce, maxWait, self.rebuild
        )
        self.envWatch = EnvWatch(clock, settings.envPoll, runInThread, self.rebuild, self._warnOnce)
        self.serversChanges = Debouncer(clock, debounce, maxWait, self._reloadNow)
        self.files = FileWatch(
            reactor, clock, settings.pollInterval, self._pathChanged, self.changed
        )
        self._preparer = Preparer(
            stateDir,
            os.environ if settings.environ is None else settings.environ,
            settings.keys
            if settings.keys is not None
            else lambda: WorkspaceKeys.forStateDir(stateDir),
            settings.promotions if settings.promotions is not None else PromotionStore(stateDir),
            settings.readWorkspace,
            self.classificationWatch.load,
            self.aggregateWatch.read,
        )
        self._restorer = Restorer(source, clock, settings.restoreRetries, stateDir)
        self._sandboxApprovals = stateDir / SANDBOX_APPROVALS

    @property
    def aggregate(self) -> AggregateSettings:
        """The aggregate endpoints' settings in use (the defaults until the
        file is read, and while it is invalid from the start)."""
        return self.aggregateWatch.settings

    @property
    def aggregatePath(self) -> Path:
        """C{<state-dir>/aggregate.json}."""
        return self.aggregateWatch.path

    @property
    def classificationPath(self) -> Path:
        """C{<state-dir>/classification.json}."""
        return self.classificationWatch.path

    @property
    def envWarnings(self) -> list[str]:
        """The paths of the C{.env} files in use that have a warning (a
        skipped line, a refused name, unreadable); never their contents."""
        return self.envWatch.warnings

    def problems(self) -> ConfigProblems:
        """What the config holds that the gateway cannot use: the entries
        of its last load it skipped, and the client files the source did
        not adopt on its last pass (C{/health} shows them)."""
        refused: tuple[RefusedFile, ...] = getattr(self.source, "refusedFiles", ())
        ignored: tuple[IgnoredKeys, ...] = getattr(self.source, "ignoredKeys", ())
        return ConfigProblems(self._invalid, refused, ignored)

    def gatewayQuotas(self) -> str:
        """The config's top-level C{"limits"} in use, as compact JSON
        (L{mcpgateway.config.quotas}); empty: none."""
        return "" if self._last is None else self._last.limits

    def specs(self, loaded: LoadedConfig) -> dict[str, ServerSpec]:
        """Add the servers of the gateway's own file (the management API's),
        apply classification (built-in list, the overrides file, promotions)
        and build every server's routes; log what there is to say. Blocking
        (files): at start, or see L{reload} (the files are read in a thread)."""
        return self._report(self._preparer.prepare(loaded))

    def _loadAndPrepare(self, loaded: LoadedConfig | None = None) -> Prepared:
        """Load the source unless given C{loaded}, and prepare it (blocking)."""
        return self._preparer.prepare(self.source.load() if loaded is None else loaded)

    def _report(self, prepared: Prepared) -> dict[str, ServerSpec]:
        """Log what the preparer found, remember the C{.env} files to watch."""
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
        for note in prepared.scoped.notes:
            if note not in self._noted:  # once, as the warnings
                self.log.info("config: {note}", note=note)
        self._noted = set(prepared.scoped.notes)
        self._invalid = tuple(loaded.invalid)
        self.envWatch.files = dict(prepared.scoped.envFiles)
        self.classificationWatch.use(prepared.overrides)
        if prepared.aggregate is not None:
            self.aggregateWatch.use(prepared.aggregate)
        # An .env change rebuilds from this (not logged again, not adopted again).
        self._last = replace(copyOf(prepared.source), notes=[], errors=[])
        self._served = prepared.scoped.specs
        return prepared.scoped.specs

    def _warnOnce(self, warning: str) -> None:
        if warning not in self._warned:
            self._warned.add(warning)
            self.log.warn("config: {warning}", warning=warning)

    def reloadAggregate(self) -> Deferred[None]:
        """Read C{aggregate.json} again (in a thread) and use it; fires once
        done, never fails (a failure is logged)."""
        return self.aggregateWatch.reload()

    def startService(self) -> None:
        super().startService()
        self.aggregateWatch.deliver()
        self.envWatch.start()
        # sandbox-approvals.json: an approval of a project entry's sandbox
        # (mcpgateway sandbox approve) serves the config again, as a change of it.
        self.files.start(
            [
                *watchedPathsOf(self.source),
                self.aggregatePath,
                self.classificationPath,
                self._sandboxApprovals,
            ]
        )

    def _pathChanged(self, key: str) -> None:
        if key == os.path.abspath(self.aggregatePath):
            self.aggregateWatch.changed()
        elif key == os.path.abspath(self.classificationPath):
            self.classificationWatch.changed()
        else:
            self.changed()

    def changed(self) -> None:
        """The file changed: reload once things settle (events come in bursts),
        but no later than C{maxWait} after the first change: a writer that never
        pauses (Claude Code rewriting the file many times a second) must not
        starve the reload."""
        self.serversChanges.trigger()

    def reload(self) -> Deferred[Any]:
        """Reload now (after the management API changed the gateway's file);
        fires once the gateway serves the result."""
        self.serversChanges.cancel()
        return self._reloadNow(raiseErrors=True)

    def settling(self) -> Deferred[None] | None:
        """While a reload is under way (it may have rewritten a client's
        file to name a route the gateway does not serve yet): a Deferred
        that fires once its servers are served; C{None} otherwise."""
        return self._underWay.settling()

    def _reloadNow(self, raiseErrors: bool = False) -> Deferred[Any]:
        return Deferred.fromCoroutine(self._reloading(raiseErrors))

    async def _reloading(self, raiseErrors: bool) -> Any:
        """Load and prepare the config in a thread (after any reload in
        progress), then hand it to the gateway; a failure keeps the servers
        as they are (and is raised again when C{raiseErrors})."""
        with self._underWay.covering():
            try:
                prepared = await self._lock.run(self._runInThread, self._loadAndPrepare)
            except Exception:
                self.log.warn(
                    "config: reload of {path} failed, keeping the servers as they are: {why}",
                    path=str(self.source.path),
                    why=Failure().getErrorMessage(),
                )
                if raiseErrors:
                    raise
                return None
            result = self._reload(self._report(prepared))
        path = self.source.path
        if path != self._servedPath:
            self._servedPath = path
            if self._onConfigPath is not None:
                self._onConfigPath(path)
        if self.running and not self._handedOver:
            self.files.watchMore(watchedPathsOf(self.source))  # files found since
        return await _settled(result)

    def rebuild(self) -> Deferred[Any]:
        """Serve the config last loaded again, with the C{.env} files and
        C{promotions.json} as they are now (the config file is not read, nor
        adopted, again); fires once the gateway serves it, never fails (a
        failure is logged)."""
        return Deferred.fromCoroutine(self._rebuilding())

    async def _rebuilding(self) -> Any:
        def prepare() -> Deferred[Any]:
            last = self._last
            return self._runInThread(lambda: self._loadAndPrepare(last))

        try:
            prepared = await self._lock.run(prepare)
        except Exception:
            self.log.warn(
                "config: rebuilding the servers failed, keeping them as they are: {why}",
                why=Failure().getErrorMessage(),
            )
            return None
        return await _settled(self._reload(self._report(prepared)))

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
        self.serversChanges.cancel()  # covered by this load
        try:
            prepared = self._loadAndPrepare()
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
            self.files.watchMore(watchedPathsOf(self.source))  # files found since

    def _serveAgain(self) -> Deferred[Any]:
        """Hand the servers served since start to the gateway again: nothing
        was adopted once it listens, so they are the whole configuration,
        and the gateway is told so by this pass as it is by the reload that
        follows an adoption (it holds the saved sessions of servers it does
        not know yet until the first pass:
        L{mcpgateway.core.gateway.continuity.SessionContinuity.configured}). After any reload in
        progress; fires once done, never fails (a failure is logged)."""
        return Deferred.fromCoroutine(self._servingAgain())

    async def _servingAgain(self) -> Any:
        def serve() -> Any:
            served = self._served
            return None if served is None else self._reload(dict(served))

        try:
            return await self._lock.run(serve)
        except Exception:
            self.log.warn(
                "config: serving the servers again failed: {why}",
                why=Failure().getErrorMessage(),
            )
            return None

    def _stopWatching(self) -> None:
        self.serversChanges.cancel()
        self.aggregateWatch.stop()
        self.classificationWatch.stop()
        self.envWatch.stop()
        self.files.stop()

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
        return Deferred.fromCoroutine(self._restoreAfterReloads())

    async def _restoreAfterReloads(self) -> None:
        """Restore after any reload in progress (L{Restorer})."""
        await self._lock.run(succeed, None)
        await self._restorer.restore()


async def _settled(result: Any) -> Any:
    """C{result}, or what it fires with when it is a Deferred."""
    if isinstance(result, Deferred):
        return await result
    return result
