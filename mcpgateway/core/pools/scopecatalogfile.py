# -*- test-case-name: tests.core.pools.test_scopecatalogfile -*-
"""The catalogs of every server's scope keys, kept across restarts: the
L{SavedScopeCatalogs} every pool's L{ScopeStartup
<mcpgateway.core.pools.scopecatalog.ScopeStartup>} reads before it probes
and tells what a probe (or a started child) listed.

A per-session, promoted, workspace, credential or per-user server answers
a session's start-up from the catalog of its scope key
(L{mcpgateway.core.pools.scopecatalog}); a key no catalog is known for
costs a probe child. Kept in memory only, every key would be probed again
after each restart; kept here, a key is probed once, ever, until its
server's entry changes.

The catalogs are held per server, for the server's entry as it is now
(L{entryOf<mcpgateway.core.catalogdata.entryOf>}: a scope key hashes it
too). A catalog of another entry (the entry changed: a reload, a restart
with another config) drops the server's catalogs; so does the server's
removal (L{forget}), and a server that is no longer configured, or is
configured otherwise, when the saved ones are read (L{start}). At most
L{MAX_KEYS} keys per server are kept (the oldest listed go first).

Saving is off the hot path: a change marks its server, and L{SAVE_DELAY}
seconds after the first change the marked servers are written, one file
after the other, in a thread (a change meanwhile is written after); the
stop writes what is left (L{stop}). Requests never write: only a probe
that listed a key, or a session's child that listed differently from its
catalog. What is written (L{recordOf}) is what the server listed (the
lists, serverInfo, capabilities, instructions, cache hints), the protocol
version a session's own child answered and hashes: never the session's
credentials or its principal's name. A file that cannot be used is logged
and ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.catalogdata import (
    catalogOfRecord,
)
from mcpgateway.core.pools.scopecatalog import ScopeCatalog
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

__all__ = [
    "MAX_KEYS",
    "SAVE_DELAY",
    "SavedScopeCatalogs",
    "ScopePersistence",
    "fromRecord",
    "recordOf",
]

SAVE_DELAY = 2.0
"""Seconds from a server's first change to the write of its file."""
MAX_KEYS = 256
"""Most scope keys kept per server (the oldest listed are dropped first)."""


class ScopePersistence(Protocol):
    """Where the scope catalogs outlive the process
    (L{mcpgateway.ops.scopecatalogstore.ScopeCatalogStore}); both are
    called in a thread."""

    def loadAll(self) -> Mapping[str, dict[str, Any]]:
        """Every server's saved file: C{{"entry": ..., "catalogs": {key:
        record}}}; the mapping may carry C{warnings} (the files skipped,
        each with a C{str})."""

    def save(self, server: str, entry: str, catalogs: Mapping[str, dict[str, Any]]) -> None:
        """Keep C{catalogs} as all of C{server}'s (none: remove its file).
        @raise ValueError: too large, not JSON. @raise OSError: refused."""


def recordOf(known: ScopeCatalog) -> dict[str, Any]:
    """What is saved of a scope's catalog (JSON values)."""
    record = known.catalog.record("")
    del record["launch"]
    if known.protocolVersion is not None:
        record["protocolVersion"] = known.protocolVersion
    return record


def fromRecord(server: str, key: str, record: Mapping[str, Any]) -> ScopeCatalog | None:
    """The scope catalog a saved C{record} holds (C{None}: not one)."""
    taken = record.get("taken")
    if not isinstance(taken, (int, float)) or isinstance(taken, bool):
        return None
    try:
        when = float(taken)
    except OverflowError:
        return None
    catalog = catalogOfRecord(server, key, record, when)
    if catalog is None:
        return None
    version = record.get("protocolVersion")
    return ScopeCatalog(catalog, version if isinstance(version, str) else None)


def _mark(known: ScopeCatalog) -> tuple[str, str | None]:
    """What a file must hold of C{known} to be current (not when it was listed)."""
    return known.catalog.saveMark(), known.protocolVersion


class _Server:
    """The catalogs of one server's entry, by scope key."""

    __slots__ = ("catalogs", "entry")

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.catalogs: dict[str, ScopeCatalog] = {}


class SavedScopeCatalogs:
    """The scope catalogs of every server (see the module docstring).

    @ivar loaded: whether the saved ones were read (L{start} has finished).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        persistence: ScopePersistence | None = None,
        runInThread: RunInThread | None = None,
        delay: float = SAVE_DELAY,
    ) -> None:
        """
        @param persistence: where they are saved and read (C{None}: nowhere).
        @param runInThread: runs a blocking call off the reactor thread
            (C{None}: in it, for tests and embedders).
        @param delay: seconds from a change to its write.
        """
        self._clock = clock
        self._persistence = persistence
        self._runInThread = runInThread
        self.delay = delay
        self.loaded = persistence is None
        self._servers: dict[str, _Server] = {}
        self._dirty: set[str] = set()
        self._timer: IDelayedCall | None = None
        self._writing: Deferred[None] | None = None
        self._loading: list[Deferred[None]] = []
        self._idle: list[Deferred[None]] = []
        self._stopped = False

    # -- reading -----------------------------------------------------------------

    def start(self, entries: Callable[[], Mapping[str, str]]) -> Deferred[None]:
        """Read the saved catalogs (in a thread); keep those of the entries
        C{entries()} names then (server -> its L{entryOf}), and remove the
        files of the others. Fires once they are known (never fails)."""
        self._stopped = False
        persistence = self._persistence
        if persistence is None or self.loaded:
            self._read()
            return succeed(None)
        reading = maybeDeferred(self._thread, persistence.loadAll)
        reading.addCallback(lambda loaded: self._keepLoaded(loaded, entries()))
        reading.addErrback(
            lambda reason: self.log.failure(
                "scope catalogs: reading the saved catalogs failed", failure=reason
            )
        )
        return reading.addBoth(lambda _: self._read())

    def _read(self) -> None:
        self.loaded = True
        waiters, self._loading = self._loading, []
        for waiter in waiters:
            waiter.callback(None)

    def whenLoaded(self) -> Deferred[None]:
        """Fires once the saved catalogs are known."""
        if self.loaded:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._loading.append(waiter)
        return waiter

    def _keepLoaded(self, loaded: Mapping[str, dict[str, Any]], entries: Mapping[str, str]) -> None:
        for warning in getattr(loaded, "warnings", ()):
            self.log.warn("scope catalogs: {warning}", warning=str(warning))
        count = 0
        for server, body in sorted(loaded.items()):
            entry = body.get("entry")
            if entries.get(server) != entry or not isinstance(entry, str):
                self._changed(server)  # removed, or configured otherwise: its file goes
                continue
            if server in self._servers:
                continue  # known since: newer
            held = _Server(entry)
            catalogs = body.get("catalogs")
            for key, record in (catalogs if isinstance(catalogs, dict) else {}).items():
                known = fromRecord(server, key, record)
                if known is None or known.catalog.entry != entry:
                    self.log.warn(
                        "scope catalogs: a saved catalog of server {server} is not usable; ignored",
                        server=server,
                    )
                    continue
                held.catalogs[key] = known
            self._servers[server] = held
            count += len(held.catalogs)
        self.log.info("scope catalogs: {count} saved catalog(s) read", count=count)

    # -- what is known -----------------------------------------------------------

    def get(self, server: str, entry: str, key: str) -> ScopeCatalog | None:
        """The catalog of scope key C{key} of C{server}'s entry C{entry}
        (C{None}: none is known). A server held under another entry has
        its catalogs dropped."""
        self.entryIs(server, entry)
        held = self._servers.get(server)
        return None if held is None else held.catalogs.get(key)

    def put(self, server: str, entry: str, key: str, known: ScopeCatalog) -> None:
        """Keep C{known} as the catalog of C{key} of C{server}'s entry
        C{entry} (the server's catalogs of another entry are dropped);
        saved a little later, unless the file holds it already."""
        self.entryIs(server, entry)
        held = self._servers.setdefault(server, _Server(entry))
        before = held.catalogs.get(key)
        held.catalogs[key] = known
        if before is not None and _mark(before) == _mark(known):
            return  # listed the same again: the file holds it
        while len(held.catalogs) > MAX_KEYS:
            oldest = min(held.catalogs, key=lambda k: held.catalogs[k].catalog.taken)
            del held.catalogs[oldest]
        self._changed(server)

    def entryIs(self, server: str, entry: str) -> None:
        """C{server}'s entry is C{entry} now: its catalogs of another are dropped."""
        held = self._servers.get(server)
        if held is not None and held.entry != entry:
            del self._servers[server]
            self._changed(server)

    def forget(self, server: str) -> None:
        """C{server} was removed: its catalogs go (its file too)."""
        if self._servers.pop(server, None) is not None:
            self._changed(server)

    # -- saving ------------------------------------------------------------------

    def _changed(self, server: str) -> None:
        self._dirty.add(server)
        if self._persistence is None or self._stopped:
            return
        if self._timer is None or not self._timer.active():
            self._timer = self._clock.callLater(self.delay, self._flush)

    def _flush(self) -> None:
        """Write the servers marked (unless a write runs: it goes on with them)."""
        if self._writing is not None or not self._dirty or self._persistence is None:
            return
        writing = self._writing = Deferred.fromCoroutine(self._writeAll(self._persistence))
        writing.addBoth(self._wrote)

    async def _writeAll(self, persistence: ScopePersistence) -> None:
        while self._dirty:
            server = min(self._dirty)
            self._dirty.discard(server)
            held = self._servers.get(server)
            entry = "" if held is None else held.entry
            records = {} if held is None else {k: recordOf(c) for k, c in held.catalogs.items()}
            try:
                await maybeDeferred(self._thread, persistence.save, server, entry, records)
            except Exception:
                self._saveFailed(Failure(), server)

    def _wrote(self, _: object) -> None:
        self._writing = None
        idle, self._idle = self._idle, []
        for waiter in idle:
            waiter.callback(None)

    def _saveFailed(self, reason: Failure, server: str) -> None:
        if isinstance(reason.value, (ValueError, OSError)):
            self.log.warn(
                "scope catalogs: the catalogs of server {server} were not saved: {why}",
                server=server,
                why=str(reason.value),
            )
            return
        self.log.failure(
            "scope catalogs: saving the catalogs of server {server} failed",
            failure=reason,
            server=server,
        )

    def _thread(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        run = self._runInThread
        if run is None:
            return maybeDeferred(f, *args)
        return run(f, *args)

    def stop(self) -> Deferred[None]:
        """Write what changed now; fires once it is written (nothing is
        saved after)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._flush()
        self._stopped = True
        if self._writing is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._idle.append(waiter)
        return waiter
