# -*- test-case-name: tests.trust.test_policy -*-
"""What the running gateway does with the pins: L{PinPolicy}, the
L{mcpgateway.core.toolgate.PinnedTools} every child's router consults.

The first whole listing of a server definition pins its tools (or, with
C{--quarantine-new}, holds them all until approved). Every later page a
child lists is compared with the pins, tool by tool, and every whole
listing tells the removed ones; a difference is a pending change (kept in
the pins file, logged once as a structured event with its diff). Then
C{--pins}:

 - C{warn}: the tool is served as the child lists it;
 - C{enforce}: a changed or added tool is withheld: left out of every
   listing, and a call to it is answered with an error naming the command
   that approves it (as is a call to a tool the gateway never saw listed);
 - (C{off}: there is no policy.)

A record held by C{--quarantine-new} withholds every tool not approved yet,
whatever C{--pins} says.

Each listing is compared as made to the client it was made for, with
the capabilities that client declared (what the child was initialized
with, as the router's gate tells: L{mcpgateway.trust.capabilities}): a
tool it lacks that only clients that declared more were shown is not
removed, and a tool it shows that no client that declared as much was
shown is pinned as first listed (held, with C{--quarantine-new}).

L{PinPolicy.approve} (the management API, the status page's button)
makes pending changes the pins, and tells the server's routers, whose
sessions and catalogs list the tools again.

A gate keeps each verdict it asked for (L{PinPolicy.refusal}) until the
pins change: every method that can change a verdict (a listing screened,
an approval, pins forgotten, the book, C{mode} or C{quarantineNew} set)
tells the gates watching the server (L{PinPolicy.watch}) to forget theirs
before it returns, so no call is decided by a verdict older than the pins.

The book is changed in the reactor thread only; it is written to
C{<state-dir>/pins.json} after each change, in a thread (the way the
catalogs are saved: one write at a time, the newest replacing a queued
one), and, once the service stops, at once in the reactor thread. It is
read when the policy is made (L{loadPolicy}), before the gateway serves.
"""

from __future__ import annotations

import shlex
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.catalogdata import launchOf
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.toolgate import Announcer, VerdictKeeper
from mcpgateway.runtime import logs
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.trust.capabilities import Declared, declared
from mcpgateway.trust.diff import approveCommand, changeLines, recordReport
from mcpgateway.trust.pins import (
    EARLIER_FIELDS,
    ENFORCE,
    OFF,
    PINNED_FIELDS,
    REMOVED,
    WARN,
    Change,
    PinBook,
    ServerPins,
    filePath,
    firstPins,
    toolDigest,
)

MAX_SPECS = 256
"""Specs whose launch digest is kept (a few per server while it reloads)."""
NAMED = 20
"""Tools a log line names at most."""
MAX_PARTLY = 10_000
"""Tool names kept of a definition listed only in part."""

if TYPE_CHECKING:
    from mcpgateway.core.gateway.gateway import Gateway


class PinPolicy(Service):
    """The pins of a running gateway (see the module docstring).

    @ivar writes: how many times the file was written.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.trust")

    def __init__(
        self,
        book: PinBook,
        mode: str,
        clock: IReactorTime,
        quarantineNew: bool = False,
        path: Path | None = None,
        runInThread: RunInThread | None = None,
    ) -> None:
        """
        @param path: where the book is written (C{None}: nowhere).
        @param runInThread: runs a blocking call off the reactor thread
            (default C{deferToThread}); a test passes a synchronous one.
        """
        self._gates: dict[str, weakref.WeakSet[VerdictKeeper]] = {}
        """The gates that keep verdicts of each server (told of every change)."""
        self.book = book
        self.mode = mode
        self.quarantineNew = quarantineNew
        self._clock = clock
        self._path = path
        self._runInThread = runInThread
        self._specs: dict[str, tuple[ServerSpec, str]] = {}
        """The spec last seen of each server, and its launch."""
        self._launches: dict[int, tuple[ServerSpec, str]] = {}
        """The launch of each spec seen lately, by the spec's id."""
        self._routers: dict[str, weakref.WeakSet[Any]] = {}
        """The routers that screened each server's tools (told of approvals)."""
        self._announcing: set[str] = set()
        self._partly: dict[tuple[str, str], set[str]] = {}
        """The tools seen so far of each definition listed only in part
        (no whole listing yet, so no pins): under enforce, the only ones
        it may be called for."""
        self._migrated: set[tuple[str, str]] = set()
        """The definitions whose pins of fewer fields were said to be completed."""
        self._writing = False
        self._queued = False
        self._idle: list[Deferred[None]] = []
        self.writes = 0

    @property
    def book(self) -> PinBook:
        """The pins, changed through this policy's methods only (the gates
        hear of no change made to the book itself); a new book: every
        verdict may change."""
        return self._book

    @book.setter
    def book(self, book: PinBook) -> None:
        self._book = book
        self._changed(None)

    @property
    def mode(self) -> str:
        """L{WARN} or L{ENFORCE} (set: every verdict may change)."""
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in (WARN, ENFORCE):
            raise ValueError(f"a pin policy is {WARN} or {ENFORCE}, not {mode!r}")
        self._mode = mode
        self._changed(None)

    @property
    def quarantineNew(self) -> bool:
        """Whether a definition listed for the first time has its tools held
        until approved (set: every verdict may change)."""
        return self._quarantineNew

    @quarantineNew.setter
    def quarantineNew(self, quarantineNew: bool) -> None:
        self._quarantineNew = quarantineNew
        self._changed(None)

    # -- what the routers ask ----------------------------------------------------

    def watch(self, server: str, keeper: VerdictKeeper) -> None:
        """C{keeper} keeps verdicts of C{server}: tell it of every change
        (held weakly, as the routers are)."""
        gates = self._gates.get(server)
        if gates is None:
            gates = self._gates[server] = weakref.WeakSet()
        gates.add(keeper)

    def _changed(self, server: str | None) -> None:
        """The verdicts of C{server} (C{None}: of every server) may have
        changed: the gates that keep them forget them, now."""
        gates = self._gates
        watching = gates.values() if server is None else [gates.get(server, ())]
        for keepers in list(watching):
            for keeper in list(keepers):
                keeper.forgetVerdicts()

    def keyOf(self, spec: ServerSpec) -> tuple[str, str]:
        """(server, launch) of C{spec}: the definition its pins are kept by
        (its launch digest computed once per spec object: during a reload
        the old and the new spec of a name may alternate)."""
        known = self._launches.get(id(spec))
        if known is None or known[0] is not spec:
            known = self._launches[id(spec)] = (spec, launchOf(spec))
            while len(self._launches) > MAX_SPECS:
                del self._launches[next(iter(self._launches))]
        if self._specs.get(spec.name) is not known:
            self._specs[spec.name] = known
        return spec.name, known[1]

    def screen(
        self,
        spec: ServerSpec,
        page: list[dict[str, Any]],
        whole: list[dict[str, Any]] | None,
        router: Announcer,
        capabilities: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        server, launch = self.keyOf(spec)
        try:
            return self._screened(server, launch, page, whole, router, capabilities)
        finally:
            self._changed(server)  # pinned, noted, removed, seen in part

    def _screened(
        self,
        server: str,
        launch: str,
        page: list[dict[str, Any]],
        whole: list[dict[str, Any]] | None,
        router: Announcer,
        capabilities: Mapping[str, Any] | None,
    ) -> list[dict[str, Any]]:
        routers = self._routers.get(server)
        if routers is None:
            routers = self._routers[server] = weakref.WeakSet()
        routers.add(router)
        now = self._clock.seconds()
        listing = _Listing(declared(capabilities), now)
        record = self.book.get(server, launch)
        if whole is not None:
            if record is None:
                record = self._first(server, launch, whole, listing)
            else:
                self._whole(record, whole, listing)
        if record is None:  # a first listing not finished yet
            seen = self._partly.setdefault((server, launch), set())
            if len(seen) < MAX_PARTLY:
                seen.update(t["name"] for t in page if isinstance(t.get("name"), str))
            return [] if self.quarantineNew else page
        self._partly.pop((server, launch), None)
        shown = []
        for tool in page:
            name = tool.get("name")
            if not isinstance(name, str):
                continue
            self._note(record, tool, listing)
            if self.reason(record, server, name) is None:
                shown.append(tool)
        self._said(record, listing)
        self._saveIfDirty()
        if listing.newlyHeld:
            self._announceSoon(server)  # those that listed it before list again
        return shown

    def _first(
        self, server: str, launch: str, tools: list[dict[str, Any]], listing: _Listing
    ) -> ServerPins:
        record = firstPins(server, launch, tools, listing.now, self.quarantineNew, listing.caps)
        self.book.add(record)
        if self.quarantineNew:
            self.log.warn(
                "pins: server {server} is new: its {count} tool(s) are held until approved"
                " ({command})",
                server=server,
                count=len(record.pending),
                command=approveCommand(server),
                pinsServer=server,
                pinsEvent="quarantined",
            )
        else:
            self.log.info(
                "pins: server {server}: {count} tool(s) pinned (definition {launch})",
                server=server,
                count=len(record.tools),
                launch=launch,
                pinsServer=server,
                pinsEvent="pinned",
            )
        return record

    def _whole(self, record: ServerPins, whole: list[dict[str, Any]], listing: _Listing) -> None:
        """A whole listing of C{record}'s definition: every tool noted,
        the removed ones too."""
        names = []
        for tool in whole:
            name = tool.get("name")
            if isinstance(name, str):
                names.append(name)
                self._note(record, tool, listing)
        for name, change in record.listed(names, listing.now, listing.caps):
            self._told(record, name, change, None)

    def _note(self, record: ServerPins, tool: dict[str, Any], listing: _Listing) -> None:
        """Compare one listed C{tool} with its pin (once per listing): a
        change is told, a tool pinned as first listed to this listing's
        client or a pin that records its other fields is gathered for
        L{_said}."""
        name = tool["name"]
        digest = listing.digests.get(id(tool))
        if digest is not None:
            return  # noted: its whole listing went first
        digest = listing.digests[id(tool)] = toolDigest(tool)
        pin = record.tools.get(name)
        partial = pin is not None and pin.fields != PINNED_FIELDS
        change = record.note(tool, digest, listing.now, listing.caps, not self.quarantineNew)
        if change is not None:
            held = self.reason(record, record.server, name)
            self._told(record, name, change, held)
            listing.newlyHeld |= held is not None
        elif pin is None and name in record.tools:
            listing.firstListed.append(name)
        elif partial and record.tools[name].fields == PINNED_FIELDS:
            listing.completed += 1

    def _said(self, record: ServerPins, listing: _Listing) -> None:
        """Log what a listing pinned without a change: the tools first
        listed to its client, and (once per definition) the pins that
        recorded their other fields."""
        if listing.firstListed:
            self.log.info(
                "pins: server {server}: {count} tool(s) pinned as first listed to a client"
                " that declared {capabilities}: {tools}",
                server=record.server,
                count=len(listing.firstListed),
                capabilities=logs.clientText(
                    ", ".join(sorted(listing.caps or ())) or "no capabilities", 400
                ),
                tools=", ".join(logs.clientText(name) for name in listing.firstListed[:NAMED])
                + (
                    f" and {len(listing.firstListed) - NAMED} more"
                    if len(listing.firstListed) > NAMED
                    else ""
                ),
                pinsServer=record.server,
                pinsEvent="pinnedForCapabilities",
            )
        key = (record.server, record.launch)
        if listing.completed and key not in self._migrated:
            self._migrated.add(key)
            self.log.info(
                "pins: server {server}: its pins now also keep each tool's {fields}, recorded"
                " as listed now, as the rest is as approved ({count} tool(s) so far; the pins"
                " of an earlier version did not keep them)",
                server=record.server,
                fields=", ".join(f for f in PINNED_FIELDS if f not in EARLIER_FIELDS),
                count=listing.completed,
                pinsServer=record.server,
                pinsEvent="completed",
            )

    def _told(self, record: ServerPins, name: str, change: Change, held: str | None) -> None:
        """Log a new change, once: a structured event with its diff."""
        pin = record.tools.get(name)
        diff = changeLines(pin.tool if pin is not None else None, change.tool)
        if change.kind == REMOVED:
            action = "nothing to withhold"
        elif held is not None:
            action = f"withheld until approved ({approveCommand(record.server, [name])})"
        else:
            action = f"served (--pins {self.mode}); review it with mcpgateway tools diff"
        self.log.warn(
            "pins: server {server}: tool {tool} {change} since it was approved; {action}",
            server=record.server,
            tool=logs.clientText(name),
            change=change.kind,
            action=action,
            pinsServer=record.server,
            pinsTool=name,
            pinsChange=change.kind,
            pinsWithheld=held is not None,
            pinsPolicy=self.mode,
            diff=diff,
        )

    def reason(self, record: ServerPins | None, server: str, name: str) -> str | None:
        """Why tool C{name} of C{record}'s definition (C{None}: a definition
        never listed) is withheld now (C{None}: it is not)."""
        if record is None:
            if not self.quarantineNew:
                return None
            return (
                f"server '{server}' is new and its tools are held until approved"
                f" (--quarantine-new): approve them with `{approveCommand(server)}`"
            )
        change = record.pending.get(name)
        pinned = name in record.tools
        if change is None and pinned:
            return None  # as approved
        if record.quarantined and not pinned:
            return (
                f"tool '{name}' of server '{server}' is held until approved (the server is new"
                " and this gateway runs with --quarantine-new): approve it with"
                f" `{approveCommand(server, [name])}`"
            )
        if change is not None and change.kind != REMOVED:
            if not (record.quarantined or self.mode == ENFORCE):
                return None
            what = "changed since it was approved" if change.kind != "added" else "new"
            return (
                f"tool '{name}' of server '{server}' is {what} and withheld until approved"
                f" (--pins {self.mode}): review it with `mcpgateway tools diff"
                f" {shlex.quote(server)}`, approve it with `{approveCommand(server, [name])}`"
            )
        if not pinned and self.mode == ENFORCE:
            return (
                f"tool '{name}' of server '{server}' was never listed by this gateway, so it"
                " is not approved (--pins enforce): list the server's tools, then"
                f" `{approveCommand(server, [name])}`"
            )
        return None

    def refusal(self, spec: ServerSpec, tool: str) -> str | None:
        server, launch = self.keyOf(spec)
        record = self.book.get(server, launch)
        if record is None and self.mode == ENFORCE:
            seen = self._partly.get((server, launch))
            if seen is not None and tool not in seen:
                return (
                    f"tool '{tool}' of server '{server}' was never listed by this gateway"
                    f" (--pins {self.mode}): list the server's tools first"
                )
        return self.reason(record, server, tool)

    def withheld(self, spec: ServerSpec) -> Sequence[str]:
        server, launch = self.keyOf(spec)
        record = self.book.get(server, launch)
        if record is None:
            return ()
        return [
            name
            for name, change in sorted(record.pending.items())
            if change.kind != REMOVED and self.reason(record, server, name) is not None
        ]

    # -- approvals and reports -----------------------------------------------------

    def report(self, server: str | None = None) -> dict[str, Any]:
        """The pins as JSON: the policy, and each definition's record
        (of C{server} only, when named) with its pending changes and whether
        each is withheld now.

        @raise KeyError: C{server} has no record."""
        records = self.book.ofServer(server) if server is not None else None
        if server is not None and not records:
            raise KeyError(server)
        if records is None:
            records = [self.book.records[key] for key in sorted(self.book.records)]
        shown = []
        for record in records:
            current = self._specs.get(record.server)

            def held(name: str, record: ServerPins = record) -> bool:
                return self.reason(record, record.server, name) is not None

            line = recordReport(record, held)
            line["current"] = None if current is None else current[1] == record.launch
            shown.append(line)
        return {"policy": self.mode, "quarantineNew": self.quarantineNew, "servers": shown}

    def approve(
        self,
        server: str,
        tools: Sequence[str] | None = None,
        reviewed: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Approve the pending changes of C{tools} (C{None} or empty: all)
        of every definition of C{server}, keep them, and tell its routers
        (C{routers}: how many there are; none: no child lists it now).
        With C{reviewed}, only as the person saw them (L{PinBook.approve}).

        @raise KeyError: C{server} has no record.
        @raise StaleReview: a change is not the one reviewed."""
        named = list(tools) if tools else None
        try:
            approved = self.book.approve(server, named, self._clock.seconds(), reviewed)
        finally:
            self._changed(server)
        names = sorted({name for _, name, _ in approved})
        unchanged = sorted(set(named or ()) - set(names))
        for launch, name, kind in approved:
            self.log.info(
                "pins: server {server}: the {change} tool {tool} is approved",
                server=server,
                tool=logs.clientText(name),
                change=kind,
                pinsServer=server,
                pinsTool=name,
                pinsEvent="approved",
                launch=launch,
            )
        self._saveIfDirty()
        if approved:
            self._announceSoon(server)
        told = len(self._routers.get(server, ()))
        return {"server": server, "approved": names, "unchanged": unchanged, "routers": told}

    def forget(self, server: str, keep: str | None = None) -> list[str]:
        """Forget the pins of C{server}'s definitions but the one of launch
        C{keep} (C{None}: all), and keep that: the launches forgotten."""
        gone = self.book.forget(server, keep)
        for record in gone:
            self._partly.pop((record.server, record.launch), None)
            self._migrated.discard((record.server, record.launch))
            self.log.info(
                "pins: server {server}: the pins of definition {launch} are forgotten"
                " ({count} tool(s), {pending} pending change(s))",
                server=server,
                launch=record.launch,
                count=len(record.tools),
                pending=len(record.pending),
                pinsServer=server,
                pinsEvent="forgotten",
            )
        self._changed(server)
        self._saveIfDirty()
        return [record.launch for record in gone]

    def _announceSoon(self, server: str) -> None:
        """Tell C{server}'s routers that what they show changed, once this
        turn is over (a listing being answered goes first)."""
        if server in self._announcing:
            return
        self._announcing.add(server)
        self._clock.callLater(0, self._announce, server)

    def _announce(self, server: str) -> None:
        self._announcing.discard(server)
        for router in list(self._routers.get(server, ())):
            try:
                router.toolsChanged()
            except Exception:
                self.log.failure("pins: telling a router of server {server} failed", server=server)

    # -- the file ------------------------------------------------------------------

    def _saveIfDirty(self) -> None:
        if self._path is None or not self.book.dirty:
            return
        if not self.running:
            self._writeNow()
        elif self._writing:
            self._queued = True
        else:
            self._write()

    def _writeNow(self) -> None:
        assert self._path is not None
        try:
            self.book.save(self._path)
            self.writes += 1
        except (OSError, ValueError) as e:
            self.log.error("pins: {path} was not written: {why}", path=str(self._path), why=e)

    def _write(self) -> None:
        path = self._path
        assert path is not None
        data = self.book.encode()
        self.book.clean()
        self._writing = True
        run = self._runInThread
        if run is None:
            from twisted.internet.threads import deferToThread

            run = deferToThread
        writing = maybeDeferred(run, writeFileAtomic, path, data, 0o600)
        writing.addCallbacks(self._written, self._writeFailed)

    def _written(self, _: object) -> None:
        self.writes += 1
        self._writeDone()

    def _writeFailed(self, reason: Failure) -> None:
        if reason.check(OSError):
            self.log.error(
                "pins: {path} was not written: {why}", path=str(self._path), why=reason.value
            )
        else:
            self.log.failure("pins: {path} was not written", failure=reason, path=str(self._path))
        for record in self.book.records.values():
            record.dirty = True  # written again with the next change
        self._writeDone()

    def _writeDone(self) -> None:
        self._writing = False
        if self._queued:
            self._queued = False
            if self.running:
                self._write()
                return
            self._writeNow()
        idle, self._idle = self._idle, []
        for waiter in idle:
            waiter.callback(None)

    def stopService(self) -> Deferred[None]:
        """From now on each change is written at once; fires once the
        write in flight (and the one queued) is done."""
        super().stopService()
        if not self._writing:
            self._saveIfDirty()
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._idle.append(waiter)
        return waiter


@dataclass
class _Listing:
    """One listing as the policy goes through it.

    @ivar caps: what its client declared (C{None}: not known).
    @ivar digests: each tool's digest, by the id of its object (noted once).
    @ivar newlyHeld: a tool was newly withheld.
    @ivar firstListed: the tools pinned as first listed to its client.
    @ivar completed: pins that recorded the fields they did not keep.
    """

    caps: Declared | None
    now: float
    digests: dict[int, str] = field(default_factory=dict)
    newlyHeld: bool = False
    firstListed: list[str] = field(default_factory=list)
    completed: int = 0


def policyOf(gateway: Gateway) -> PinPolicy | None:
    """The pin policy C{gateway} was made with (C{None}: C{--pins off})."""
    pins = gateway.settings.toolPins
    return pins if isinstance(pins, PinPolicy) else None


def loadPolicy(
    stateDir: Path,
    mode: str,
    clock: IReactorTime,
    quarantineNew: bool = False,
    runInThread: RunInThread | None = None,
) -> PinPolicy | None:
    """The policy C{--pins MODE} asks for, with the pins of C{stateDir}
    (C{None} for C{off}).

    @raise mcpgateway.trust.pins.PinsFileError: the pins file cannot be used."""
    if mode == OFF:
        return None
    path = filePath(stateDir)
    return PinPolicy(PinBook.load(path), mode, clock, quarantineNew, path, runInThread)
