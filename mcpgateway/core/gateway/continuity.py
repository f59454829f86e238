# -*- test-case-name: tests.core.gateway.test_continuity, tests.core.gateway.test_continuity_writes, tests.core.test_predecessor -*-
"""Sessions that outlive the gateway process: L{SessionContinuity}.

With a L{SessionPersistence}, the gateway restores at start the sessions a
previous process saved and from then on saves the registry at most once a
second while it changes (on the injected clock, no write per request); a
new session is journaled before its id is answered, and an ended one
forgotten at once, so a crash loses neither. At stop the registry is saved
a last time before the sessions of this process end, so a graceful restart
keeps every one of them. The saved sessions of a server not configured at
start (one that only another client's file defines: those files are
adopted once the gateway listens) are held, and saved, until the
configuration is complete (L{SessionContinuity.configured}): then restored,
or dropped if their server is really gone; a request for one waits
meanwhile.

A gateway started by a restart (L{mcpgateway.ops.handover}) has a
I{predecessor} that still serves for a moment: until that process has
exited, this one does not write the sessions file (the predecessor saves it
a last time when it stops), and a request for a session it does not know
waits (L{SessionContinuity.waitFor}): once the predecessor is gone, its
last sessions are merged in, and the request is looked at again.

Visiting sessions (another cluster replica's) are never saved: their
sealed ids carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, cast, runtime_checkable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.types import isAggregateRecord
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.serverset import ServerSet
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session, SessionPersistence, SessionRegistry
from mcpgateway.runtime import timers

SAVE_INTERVAL = 1.0
"""Seconds between two saves of the session registry while it changes."""
SAVE_SPACING = 10.0
"""A save while the sessions change waits, after the last one, at least
this many times as long as the persistence's last write took (its
C{lastWriteSeconds}): the file of 100,000 sessions is tens of megabytes,
rewritten whole, and its writes take at most a tenth of a worker thread
however fast the sessions change. New sessions do not wait for it (their
journal lines are on the disk before they are answered), ended ones
neither (their ended lines are written at once)."""
CONFIG_WAIT = 30.0
"""Seconds after start that the saved sessions of servers not configured
yet are kept for the configuration pass that brings the rest of the
servers (L{SessionContinuity.configured}: the other clients' files, adopted
once the gateway listens); if none comes by then, they are dropped."""


@runtime_checkable
class ChangesPersistence(Protocol):
    """A L{SessionPersistence} that keeps each record as it was given, and
    so can be given only what changed since the last save
    (L{mcpgateway.ops.sessionstore.SessionStore.saveChanges}): a save then
    costs what changed, not what the registry holds."""

    def saveChanges(
        self, changed: Iterable[dict[str, Any]], ended: Collection[str]
    ) -> Deferred[None] | None:
        """Keep the records C{changed} in place of their sessions' previous
        ones, and no longer those of the ids C{ended} (an id in both is
        kept); the rest as the last save left them. As
        L{SessionPersistence.save} otherwise."""


class ContinuityHost(Protocol):
    """What L{SessionContinuity} needs of its gateway
    (L{mcpgateway.core.gateway.gateway.Gateway})."""

    @property
    def sessions(self) -> SessionRegistry: ...

    @property
    def pools(self) -> Mapping[str, PoolLike]: ...

    @property
    def running(self) -> bool: ...

    @property
    def aggregateSide(self) -> AggregateSide: ...

    @property
    def servers(self) -> ServerSet: ...

    def endSession(self, session: Session, reason: str = ...) -> Deferred[None]: ...


class SessionContinuity:
    """The gateway's saved sessions: restored at start, saved while they
    change, journaled as they open and end, handed over from a predecessor."""

    def __init__(
        self,
        host: ContinuityHost,
        clock: IReactorTime,
        log: Logger,
        persistence: SessionPersistence | None,
        predecessor: Deferred[None] | None,
        clientAlive: Callable[[int], bool] | None,
    ) -> None:
        """
        @param host: the gateway whose sessions these are.
        @param log: the gateway's logger (these lines are the gateway's).
        @param persistence: where the sessions outlive the process; C{None}:
            they end with it.
        @param predecessor: fires when the gateway process this one took
            over from has exited (C{None}: there is none).
        @param clientAlive: whether a client process still runs (C{None}:
            every saved session is restored).
        """
        self._host = host
        self._clock = clock
        self.log = log
        self._persistence = persistence
        self._saving = timers.Every(clock, SAVE_INTERVAL, self._tick)
        self._savingOn = False
        """Saving runs (from L{begin}, or once the predecessor is gone, to
        L{lastSave}); its timer only while the sessions change (L{_tick})."""
        self._predecessor = predecessor
        self._clientAlive = clientAlive
        self._waiting: list[Deferred[None]] = []
        self._endedMeanwhile: set[str] = set()
        self._inherited: set[str] = set()
        """Sessions restored at start while the predecessor still ran."""
        self._held: dict[str, dict[str, Any]] = {}
        """Saved sessions of servers not configured at start (or not yet
        when the predecessor's last save is merged in), by id, kept (and
        saved) until the configuration is complete (L{configured})."""
        self._heldChanges = 0
        """Counts the changes of L{_held} (as the registry's C{changes})."""
        self._savedMark: tuple[int, int] | None = None
        """The registry's and the held sessions' change counts at the last
        save that went through: a save that finds them the same has nothing
        new to write, and builds nothing (an idle gateway of 10,000
        sessions would otherwise encode them all every second)."""
        self._changes = isinstance(persistence, ChangesPersistence)
        """The persistence is given only what changed (L{_saveChanges})."""
        self._whole = True
        """The next save hands every record over (the first one, and the
        one after a save that failed before its records were handed over)."""
        self._recent: set[str] = set()
        """The ids of the sessions that changed before the last save: built
        again at the next one too, for a change made a moment after the
        request that counted it (a child's answer)."""
        self._heldSaved: set[str] = set()
        """The ids of the held sessions as the last save handed them over."""
        self._heldMark = -1
        """L{_heldChanges} at that save."""
        self._handedAt: float | None = None
        """When the last save handed records over (L{SAVE_SPACING})."""
        self._heldCounts = (0, 0, 0)
        """What the start's restore did (restored, dropped, ended), told
        with what L{configured} does of the held sessions, in one line."""
        self._configured = False
        self._configWait: IDelayedCall | None = None
        self._heldWaiting: list[Deferred[None]] = []

    def begin(self) -> None:
        """After the start's L{restore}: wait for the configuration while
        sessions are held, and save from now on (once the predecessor is
        gone, if there is one)."""
        if self._held and not self._configured:
            self._configWait = self._clock.callLater(CONFIG_WAIT, self.configured)
        if self._predecessor is not None and not self._predecessor.called:
            self._predecessor.addCallback(self._predecessorGone)
        elif self._persistence is not None:
            self._savingOn = True
            self._saving.start()

    def waitFor(self, sessionId: str | None = None) -> Deferred[None] | None:
        """A Deferred that fires once the sessions this process may still
        get are in: the predecessor's last sessions merged in, and the saved
        sessions of servers not configured at start restored or dropped
        (L{configured}); C{None} when there is nothing to wait for (any
        more). A request for a session this process does not know waits for
        it, then is looked at again (L{mcpgateway.web.endpoints.mcp}).

        @param sessionId: the id the request names. Once the predecessor is
            gone, only the ids of the held sessions are waited for (any
            other id is not found at once, whatever is held); C{None}: any
            held session."""
        if self._predecessor is not None and not self._predecessor.called:
            waiting: Deferred[None] = Deferred()
            self._waiting.append(waiting)
            return waiting
        if self._held and not self._configured and (sessionId is None or sessionId in self._held):
            held: Deferred[None] = Deferred()
            self._heldWaiting.append(held)
            return held
        return None

    def _predecessorGone(self, _: object) -> None:
        self._predecessor = None
        if self._host.running:
            merged = self.restore(merging=True)
            self._host.servers.prewarmRestored(merged)
            if self._persistence is not None:
                self._savingOn = True
                self._saving.start(now=True)  # saves now, then while the sessions change
        self._endedMeanwhile.clear()
        self._inherited.clear()
        waiting, self._waiting = self._waiting, []
        for each in waiting:
            each.callback(None)

    def configured(self) -> None:
        """The configuration is complete: every server this process will
        serve at start is known (the first pass of the config service once
        the gateway listens, every client's file adopted: the first
        L{mcpgateway.core.gateway.reconfiguring.Reconfigurer.reconfigure}; or L{CONFIG_WAIT}
        seconds after start, whichever comes first). The saved sessions of
        servers that were not configured at start are restored now if their
        server is known, else dropped;
        the requests that waited for them (L{waitFor}) are looked
        at again. Only the first call does something."""
        if self._configured:
            return
        self._configured = True
        timer, self._configWait = self._configWait, None
        if timer is not None and timer.active():
            timer.cancel()
        held, self._held = list(self._held.values()), {}
        self._heldChanges += 1
        self._wake()
        if held:
            servers: set[str] = set()
            added, dropped, gone = self._heldCounts
            for record in held:
                outcome = self._restoreRecord(record, merging=False)
                if outcome == "dropped":
                    dropped += 1
                elif outcome == "gone":
                    gone += 1
                else:
                    added += 1
                    servers.add(outcome)
            self._logRestored(added, dropped, gone)
            if self._host.running:
                self._host.servers.prewarmRestored(servers)
        aggregator = self._host.aggregateSide.made
        if aggregator is not None:  # members of servers configured only now
            members = aggregator.restoreSaved()
            if members and self._host.running:
                self._host.servers.prewarmRestored(members)
        waiting, self._heldWaiting = self._heldWaiting, []
        for each in waiting:
            each.callback(None)

    def restore(self, merging: bool = False) -> set[str]:
        """Rebuild the sessions a previous process saved; the names of the
        servers that got some. C{merging}: after a restart's predecessor
        exited, add the sessions this process does not have (and did not
        end meanwhile). At start, and in that merge, the sessions of a
        server not configured yet are held until the configuration is
        complete (L{configured}): the other clients' servers come only once
        the gateway listens (a record merged in replaces the held one of
        its id: the predecessor's last save is the newest)."""
        if self._persistence is None:
            return set()
        servers: set[str] = set()
        dropped = known = added = gone = 0
        records = self._persistence.load()
        if merging:
            # Restored at start but absent from the predecessor's last save:
            # it ended them meanwhile (a DELETE, its reaper); so must we.
            final = {record["id"] for record in records}
            for sessionId in sorted(self._inherited - final):
                session = self._host.sessions.get(sessionId)
                if session is not None:
                    self._host.endSession(session, "ended by the predecessor")
            for sessionId in [i for i in self._held if i not in final]:
                del self._held[sessionId]  # held here, ended there meanwhile
                self._heldChanges += 1
                self._wake()
        held: dict[str, dict[str, Any]] = {}
        for record in records:
            if isAggregateRecord(record):
                restored, members = self._restoreAggregate(record, merging)
                servers |= members
                if restored:
                    added += 1
                else:
                    known += 1
                continue
            if not self._configured and record["server"] not in self._host.pools:
                if merging and record["id"] in self._endedMeanwhile:
                    known += 1
                else:
                    held[record["id"]] = record  # its server may come with the other clients' files
                continue
            outcome = self._restoreRecord(record, merging)
            if outcome == "known":
                known += 1
            elif outcome == "dropped":
                dropped += 1
            elif outcome == "gone":
                gone += 1
            else:
                servers.add(outcome)
                added += 1
        if merging:
            self.log.info(
                "merged {count} session(s) the predecessor opened last ({known} known already,"
                " {gone} of clients that exited ended)",
                count=added,
                known=known,
                gone=gone,
            )
        if held:
            self._held.update(held)
            self._heldChanges += 1
            self._wake()
            if not merging:
                self._heldCounts = (added, dropped, gone)
            elif self._configWait is None:
                self._configWait = self._clock.callLater(CONFIG_WAIT, self.configured)
            self.log.info(
                "keeping {count} saved session(s) of server(s) not configured yet ({names})"
                " until the configuration is complete (at most {seconds:g} s)",
                count=len(held),
                names=", ".join(sorted({str(record["server"]) for record in held.values()})),
                seconds=CONFIG_WAIT,
            )
        elif not merging and (servers or dropped or gone):
            self._logRestored(added, dropped, gone)
        return servers

    def _restoreAggregate(self, record: dict[str, Any], merging: bool) -> tuple[bool, set[str]]:
        """Rebuild the aggregate session of C{record} with its members:
        whether it was (not if this process has it already, or ended it
        meanwhile), and the names of the servers of the members restored.
        Merging, a session restored at start from an earlier save gets the
        members of C{record}, the predecessor's last."""
        from mcpgateway.core.aggregate.session import AggregateSession

        aggregator = self._host.aggregateSide.aggregator  # made first: it knows its sessions
        sessionId = record["id"]
        existing = self._host.sessions.get(sessionId)
        if existing is not None or sessionId in self._endedMeanwhile:
            if merging:
                self._sendOn(record)
            if merging and sessionId in self._inherited and isinstance(existing, AggregateSession):
                return False, aggregator.merge(existing, AggregateSession.fromRecord(record))
            return False, set()
        aggregate = AggregateSession.fromRecord(record)
        self._host.sessions.add(aggregate)
        servers = aggregator.restore(aggregate)
        if not merging and self._predecessor is not None:
            self._inherited.add(aggregate.id)
        return True, servers

    def _restoreRecord(self, record: dict[str, Any], merging: bool) -> str:
        """Rebuild the session of C{record} (not an aggregate one): the name
        of its server once it is restored, else C{"known"} (merging: this
        process has it, or ended it), C{"dropped"} (its server or route is
        not configured, or a session of its id exists) or C{"gone"} (its
        client exited: while no gateway ran, or, merging, while the
        predecessor served it)."""
        pool = self._host.pools.get(record["server"])
        if merging and (
            self._host.sessions.get(record["id"]) is not None
            or record["id"] in self._endedMeanwhile
        ):
            self._sendOn(record)
            return "known"
        if pool is None or self._host.sessions.get(record["id"]) is not None:
            return "dropped"
        session = Session.fromRecord(record)
        if not self._clientRuns(session.clientPid):
            # Its client exited while no gateway ran, or (merging) while the
            # predecessor, whose reaper had not looked yet, still served it.
            return "gone"
        variant = pool.variantFor(session.scope, principal=session.principal)
        if variant is None:
            return "dropped"  # its workspace route is gone
        if session.credential and pool.spec.credentialEnv:
            session.variant = None  # bound by rebind(), when its client sends them again
        else:
            session.credential = ""
            session.variant = variant
        self._host.sessions.add(session)
        if session.variant is not None:
            pool.restore(session)
        if not merging and self._predecessor is not None:
            self._inherited.add(session.id)
        return session.server

    def _sendOn(self, record: dict[str, Any]) -> None:
        """Merging: what waited in the predecessor for the next stream of a
        session this process has (L{mcpgateway.core.backlog}) goes to it
        now, on its stream if it has opened one here, else when it does."""
        session = self._host.sessions.get(record["id"])
        if session is not None and record.get("backlog"):
            session.listenAsSaved(record)
            self.log.info(
                "session {sid}: {count} notification(s) its client missed while the"
                " predecessor handed over sent on",
                sid=session.shortId,
                count=len(record["backlog"]),
            )

    def _logRestored(self, added: int, dropped: int, gone: int) -> None:
        self.log.info(
            "restored {count} session(s) of the previous gateway process"
            " ({dropped} of servers or routes no longer configured dropped,"
            " {gone} of clients that exited meanwhile ended)",
            count=added,
            dropped=dropped,
            gone=gone,
        )

    def _clientRuns(self, pid: int | None) -> bool:
        """Whether the client process C{pid} runs (C{True} when unknown, or
        when it cannot be told)."""
        probe = self._clientAlive
        if pid is None or probe is None:
            return True
        try:
            return probe(pid)
        except Exception:
            self.log.failure("probing client pid {pid} failed", pid=pid)
            return True

    def remember(self, session: Session) -> Deferred[None] | None:
        """Make the new C{session} durable before its id is answered (a
        crash in the second before the next save would lose it): its
        answer waits for what this returns (C{None}: nothing to wait for)."""
        if self._persistence is None or session.visiting:
            return None
        try:
            return self._persistence.remember(session.record())
        except Exception:
            self.log.failure("keeping session {sid} failed", sid=session.shortId)
            return None

    def forget(self, session: Session) -> None:
        """C{session} ended for its client: not to come back after a crash
        before the next save (none at stop: the persistence is let go
        before the sessions end with the process, L{lastSave})."""
        if self._persistence is None or session.visiting:
            return
        try:
            self._persistence.forget(session.id)
        except Exception:
            self.log.failure("forgetting session {sid} failed", sid=session.shortId)

    def save(self, always: bool = False, whole: bool = False) -> Deferred[None] | None:
        """Hand the registry to the persistence (it writes only what changed):
        every session but the visiting ones (another replica's), and the
        saved ones still held for their server (L{configured}). Nothing is
        built when no session changed since the last save (C{always}: a
        save that hands over whatever it finds). A persistence that keeps
        the records (L{ChangesPersistence}) is given only those of the
        sessions that changed since, so that a save costs what changed, not
        what the registry holds; C{whole}: every record, built again (the
        last save). What it returns fires once the records are kept (a
        failure is logged, and the next save writes again); C{None}:
        nothing to wait for."""
        persistence = self._persistence
        if persistence is None:
            return None
        sessions = self._host.sessions
        mark = (sessions.changes, self._heldChanges)
        if mark == self._savedMark and not (always or whole or self._recent):
            return None
        now = self._clock.seconds()
        if not (always or whole) and self._handedAt is not None:
            took = getattr(persistence, "lastWriteSeconds", 0.0)
            if now - self._handedAt < SAVE_SPACING * took:
                return None  # the next tick saves what changed meanwhile
        self._handedAt = now
        try:
            if self._changes and not (self._whole or whole):
                saved = self._saveChanges(cast(ChangesPersistence, persistence))
            else:
                if self._changes:
                    sessions.trackChanges(True)  # what changes from now on
                self._recent = set()
                saved = persistence.save(
                    [session.record() for session in sessions if not session.visiting]
                    + list(self._held.values())
                )
                self._heldSaved, self._heldMark = set(self._held), self._heldChanges
                self._whole = False
        except Exception:
            self.log.failure("saving the sessions failed; they may not survive a restart")
            self._whole = True  # what changed was taken: the next save hands every record
            return None
        self._savedMark = mark
        return None if saved is None else saved.addErrback(self._saveFailed, mark)

    def _saveChanges(self, persistence: ChangesPersistence) -> Deferred[None] | None:
        """Hand the persistence the records of the sessions that changed
        since the last save (and before it: L{_recent}), and the ids of
        those no longer saved."""
        sessions = self._host.sessions
        taken = sessions.takeChanged()
        looked, self._recent = taken | self._recent, taken
        changed: list[dict[str, Any]] = []
        ended: list[str] = []
        for sessionId in looked:
            session = sessions.get(sessionId)
            if session is None or session.visiting:
                ended.append(sessionId)
            else:
                changed.append(session.record())
        if self._heldMark != self._heldChanges:
            held = self._held
            ended.extend(i for i in self._heldSaved if i not in held)  # a live one is in changed
            changed.extend(held.values())
            self._heldSaved, self._heldMark = set(held), self._heldChanges
        return persistence.saveChanges(changed, ended)

    def _saveFailed(self, reason: Failure, mark: tuple[int, int]) -> None:
        self.log.failure("saving the sessions failed; they may not survive a restart", reason)
        if self._savedMark == mark:
            self._savedMark = None  # the next save writes them again
            self._wake()

    def _tick(self) -> None:
        """Save what changed; once nothing is left to save, stop the timer
        until the sessions change again (L{_wake}): an idle gateway does not
        wake every second to find nothing new."""
        self.save()
        sessions = self._host.sessions
        if (sessions.changes, self._heldChanges) == self._savedMark and not self._recent:
            self._saving.stop()
            sessions.onChange = self._wake

    def _wake(self) -> None:
        """The sessions changed: save again at the next tick."""
        self._host.sessions.onChange = None
        if self._savingOn and not self._saving.running:
            self._saving.start()

    def ended(self, session: Session) -> None:
        """C{session} ended for its client: forgotten, and not merged back
        from the predecessor's last save."""
        self.forget(session)
        if self._predecessor is not None:
            self._endedMeanwhile.add(session.id)

    def stopping(self) -> None:
        """The gateway stops: the held sessions are saved as they are, for
        the next process, and the requests that waited for them are looked
        at again (the gateway is stopping)."""
        timer, self._configWait = self._configWait, None
        if timer is not None and timer.active():
            timer.cancel()
        waiting, self._heldWaiting = self._heldWaiting, []
        for each in waiting:
            each.callback(None)

    def lastSave(self) -> Deferred[None] | None:
        """The sessions end with this process, not for their clients: saved
        before they are ended, and never saved (nor forgotten) again. The
        stop waits for what this returns: the last save on the disk, and
        every write before it (C{None}: nothing to wait for)."""
        saved = None
        if self._savingOn:
            self._savingOn = False
            self._saving.stop()
            self._host.sessions.onChange = None
            saved = self.save(always=True, whole=True)
        self._persistence = None
        self._host.sessions.trackChanges(False)
        return saved
