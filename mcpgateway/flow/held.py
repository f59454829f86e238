# -*- test-case-name: tests.flow.test_held -*-
"""The calls held for a person's yes: L{HeldCalls}.

A call the flow rule (L{mcpgateway.flow.rule}) or a policy holds is never
forwarded until a person allows it out of band (the management API, the
C{mcpgateway approvals} command). The store keeps each such call
(L{HeldCall}): who made it (the principal and the client's key:
L{mcpgateway.flow.ledger.clientKey}), what it calls (server, tool and the
exact arguments), why it was held (the labels that met and the reason),
under which policy version, when it was held and when the person's yes
runs out. Its L{digest} binds all of that together.

A call's life::

    pending --allow--> allowed --claim--> used
       |                  |
       +--deny--> denied  +--(expiry)--> expired
       +--(expiry)--> expired

The call path waits on L{HeldCalls.whenDecided}, and asks
L{HeldCalls.claim} for the call it is about to forward: a yes is good for
that exact call once (the same principal, client, server, tool, arguments
and policy version, before its expiry); a changed argument, a replayed
yes or an expired one is refused, and the refusal (L{ClaimRefusal}) says
which.

Time is the clock's the store is given: L{HeldCalls.sweep} expires what is
due (for a C{LoopingCall}), and every other method expires what is due
before it answers, so a late sweep never lets an expired yes through.

Memory stays bounded: at most L{PER_CLIENT} calls of one client and
L{PENDING} in all wait at once (another is refused: L{HeldCallsFull}); at
most L{KEEP_DECIDED} decided calls are kept for the person to look back
on (the oldest decided forgotten first); and the arguments of the last
approved call of each (client, server, tool), against which a person sees
what changed (L{argumentsDiff}), for at most L{LAST_APPROVED} of them (the
least recently approved forgotten first).

Each change of a call's state goes to the C{record} callback the store is
given (the audit trail, where the gateway has one) and to the log as a
structured event. The log never carries argument values (they may hold
secrets): it names the call by its id and digest.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.flow.labels import NO_LABELS, Labels, words
from mcpgateway.flow.ledger import ClientKey
from mcpgateway.runtime import logs

__all__ = [
    "HOLD_SECONDS",
    "KEEP_DECIDED",
    "LAST_APPROVED",
    "PENDING",
    "PER_CLIENT",
    "Claim",
    "ClaimRefusal",
    "HeldCall",
    "HeldCallDecided",
    "HeldCalls",
    "HeldCallsFull",
    "HeldState",
    "UnknownHeldCall",
    "argumentsDiff",
    "digest",
]

HOLD_SECONDS = 15 * 60.0
"""How long a held call waits for a person, and how long a yes is good."""
PER_CLIENT = 20
"""How many calls of one client may wait at once."""
PENDING = 200
"""How many calls may wait at once, in all."""
KEEP_DECIDED = 200
"""How many decided calls are kept for a person to look back on."""
LAST_APPROVED = 1000
"""For how many (client, server, tool) the last approved arguments are kept."""
REASON_CHARS = 500
"""A person's reason for a no is cut to this many characters."""

log = Logger(observer=logs.observer, namespace="mcpgateway.flow.held")


class HeldState(StrEnum):
    """Where a held call is in its life (see the module)."""

    PENDING = "pending"
    ALLOWED = "allowed"
    DENIED = "denied"
    EXPIRED = "expired"
    USED = "used"


class ClaimRefusal(StrEnum):
    """Why L{HeldCalls.claim} refused a call."""

    NONE = "none"
    """No call of this principal and client to this tool is held."""
    PENDING = "pending"
    """The call waits for a person still."""
    DENIED = "denied"
    """A person said no."""
    CHANGED = "changed"
    """A person allowed this tool's call, with other arguments or under
    another policy version."""
    REPLAYED = "replayed"
    """The yes was used already: it is good for one call."""
    EXPIRED = "expired"
    """The call, or its yes, ran out of time."""


REFUSALS = {
    ClaimRefusal.NONE: "no person was asked about this call",
    ClaimRefusal.PENDING: "the call waits for a person's yes",
    ClaimRefusal.DENIED: "a person denied the call",
    ClaimRefusal.CHANGED: "a person allowed this tool's call with other arguments"
    " (or under another policy): the yes is for that exact call only",
    ClaimRefusal.REPLAYED: "the person's yes was used already: it is good for one call",
    ClaimRefusal.EXPIRED: "the call (or its yes) ran out of time",
}
"""What each refusal says, for the client and the log."""


def digest(
    principal: str,
    client: ClientKey,
    server: str,
    tool: str,
    arguments: Mapping[str, Any],
    policyVersion: str,
    expiry: float,
) -> str:
    """C{sha256:<hex>} of the canonical JSON (sorted keys, no white space,
    UTF-8, C{ensure_ascii} off) of C{{principal, client, server, tool,
    arguments, policyVersion, expiry}}, the client's key as a list: what a
    person's yes is bound to. Arguments that are not JSON (a non-finite
    number, a key that is not a string) raise C{ValueError} or
    C{TypeError}."""
    document = {
        "principal": principal,
        "client": list(client),
        "server": server,
        "tool": tool,
        "arguments": arguments,
        "policyVersion": policyVersion,
        "expiry": expiry,
    }
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    # A lone surrogate (not valid JSON text, yet a Python str) still digests.
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def argumentsDiff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """What changed from C{before} (the last approved arguments) to
    C{after}, key by key at the top level, sorted by key: each
    C{{"key", "change": "changed", "old", "new"}}, C{{"key", "change":
    "added", "new"}} or C{{"key", "change": "removed", "old"}}. Values are
    compared as their canonical JSON (C{1}, C{1.0} and C{true} differ, as
    they do on the wire). C{None} when nothing was approved before; C{[]}
    when the arguments are the same."""
    if before is None:
        return None
    changes: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append({"key": key, "change": "added", "new": after[key]})
        elif key not in after:
            changes.append({"key": key, "change": "removed", "old": before[key]})
        elif _canonical(before[key]) != _canonical(after[key]):
            changes.append({"key": key, "change": "changed", "old": before[key], "new": after[key]})
    return changes


@dataclass(frozen=True)
class HeldCall:
    """One held call, as it is now (each change of state is a new one)."""

    id: str
    """Unguessable: what a person's yes names."""
    principal: str
    """The caller's principal key (C{""}: none, as on a laptop)."""
    client: ClientKey
    server: str
    tool: str
    arguments: Mapping[str, Any]
    """The call's exact arguments (a JSON object)."""
    labels: Labels
    """The labels that met."""
    reason: str
    """Why the call was held, for the person asked."""
    policyVersion: str
    created: float
    expiry: float
    """When the call stops waiting, and when its yes stops being good."""
    digest: str
    """L{digest} of the call."""
    state: HeldState = HeldState.PENDING
    decidedAt: float | None = None
    """When it was allowed, denied or expired."""
    decidedBy: str | None = None
    """Who allowed or denied it (C{None}: nobody, or the clock)."""
    denyReason: str = ""
    """What the person who said no said."""
    usedAt: float | None = None
    before: Mapping[str, Any] | None = field(default=None, compare=False)
    """A decided call's: the arguments last approved for the same client,
    server and tool when it was decided (C{None}: none)."""

    @property
    def decided(self) -> bool:
        return self.state is not HeldState.PENDING

    def summary(self) -> dict[str, Any]:
        """The call as the list of held calls shows it: no arguments."""
        principal, kind, value = self.client
        return {
            "id": self.id,
            "state": self.state.value,
            "principal": self.principal,
            "client": {"principal": principal, "kind": kind, "id": value},
            "server": self.server,
            "tool": self.tool,
            "labels": words(self.labels),
            "reason": self.reason,
            "policyVersion": self.policyVersion,
            "created": self.created,
            "expiry": self.expiry,
            "digest": self.digest,
            "decidedAt": self.decidedAt,
            "decidedBy": self.decidedBy,
            "denyReason": self.denyReason,
            "usedAt": self.usedAt,
        }


@dataclass(frozen=True)
class Claim:
    """What L{HeldCalls.claim} found."""

    granted: bool
    refusal: ClaimRefusal | None = None
    call: HeldCall | None = None
    """The held call the claim was matched with (C{None}: none)."""

    def __bool__(self) -> bool:
        return self.granted

    @property
    def why(self) -> str:
        """The refusal in words (C{""}: granted)."""
        return "" if self.refusal is None else REFUSALS[self.refusal]


class UnknownHeldCall(LookupError):
    """No held call has this id (it never did, or it was forgotten)."""

    def __init__(self, callId: str) -> None:
        super().__init__(callId)
        self.callId = callId

    def __str__(self) -> str:
        return f"no held call {self.callId[:64]!r}"


class HeldCallDecided(Exception):
    """The call was decided already (or expired): it cannot be decided again."""

    def __init__(self, call: HeldCall) -> None:
        super().__init__(call.id)
        self.call = call

    def __str__(self) -> str:
        return f"the held call {self.call.id!r} was {self.call.state.value} already"


class HeldCallsFull(Exception):
    """Too many calls wait for a person: the call is refused, not held."""


class HeldCalls:
    """Every held call of the gateway (see the module)."""

    def __init__(
        self,
        clock: IReactorTime,
        record: Callable[[HeldCall], object] | None = None,
        holdSeconds: float = HOLD_SECONDS,
        perClient: int = PER_CLIENT,
        pendingCap: int = PENDING,
        keepDecided: int = KEEP_DECIDED,
        lastApproved: int = LAST_APPROVED,
        newId: Callable[[], str] | None = None,
    ) -> None:
        """
        @param clock: what creation, expiry and decisions are timed by.
        @param record: told each call as it is held, allowed, denied,
            expired and used (the audit trail); its failure is logged.
        @param holdSeconds: how long a call waits, and its yes is good.
        @param perClient: how many calls of one client may wait at once.
        @param pendingCap: how many calls may wait at once, in all.
        @param keepDecided: how many decided calls are kept.
        @param lastApproved: for how many (client, server, tool) the last
            approved arguments are kept.
        @param newId: makes a call's id (default: 128 random bits in hex,
            so that it never begins with C{-} and a person can type it
            to C{mcpgateway approvals allow} as it is shown).
        """
        self._clock = clock
        self._record = record
        self.holdSeconds = holdSeconds
        self.perClient = perClient
        self.pendingCap = pendingCap
        self.keepDecided = keepDecided
        self.lastApprovedCap = lastApproved
        self._newId = newId or (lambda: secrets.token_hex(16))
        self._calls: dict[str, HeldCall] = {}
        self._waiters: dict[str, list[Deferred[HeldCall]]] = {}
        self._last: dict[tuple[ClientKey, str, str], Mapping[str, Any]] = {}

    # -- holding ---------------------------------------------------------------

    def hold(
        self,
        principal: str,
        client: ClientKey,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        policyVersion: str,
        labels: Labels = NO_LABELS,
        reason: str = "",
    ) -> HeldCall:
        """Hold a call until a person decides it, or it expires. Its
        arguments are copied (as JSON): a later change of the caller's
        object changes nothing here.

        @raise HeldCallsFull: the client, or the gateway, has too many
            calls waiting already.
        @raise ValueError: the arguments are not a JSON object.
        """
        self.sweep()
        if not isinstance(arguments, Mapping):
            raise ValueError("a held call's arguments must be a JSON object")
        waiting = self.pending()
        if len(waiting) >= self.pendingCap:
            raise HeldCallsFull(f"{len(waiting)} calls wait for a person's yes already")
        mine = sum(1 for call in waiting if call.client == client)
        if mine >= self.perClient:
            raise HeldCallsFull(f"this client has {mine} calls waiting for a person's yes already")
        kept: dict[str, Any] = json.loads(json.dumps(arguments, allow_nan=False))
        now = self._clock.seconds()
        expiry = now + self.holdSeconds
        callId = self._newId()
        while callId in self._calls:
            callId = self._newId()
        call = HeldCall(
            id=callId,
            principal=principal,
            client=client,
            server=server,
            tool=tool,
            arguments=kept,
            labels=labels,
            reason=reason,
            policyVersion=policyVersion,
            created=now,
            expiry=expiry,
            digest=digest(principal, client, server, tool, kept, policyVersion, expiry),
        )
        self._calls[callId] = call
        log.info(
            "flow: call {id} of tool {tool} of server {server} held for a person's yes:"
            " {reason} ({digest})",
            id=callId,
            tool=logs.clientText(tool),
            server=server,
            reason=reason,
            digest=call.digest,
            principal=principal,
            client=list(client),
        )
        self._told(call)
        return call

    # -- reading ---------------------------------------------------------------

    def get(self, callId: str) -> HeldCall:
        """The call of id C{callId}, as it is now.

        @raise UnknownHeldCall: there is none."""
        self.sweep()
        call = self._calls.get(callId)
        if call is None:
            raise UnknownHeldCall(callId)
        return call

    def pending(self) -> list[HeldCall]:
        """The calls waiting for a person, oldest first."""
        self.sweep()
        return [call for call in self._calls.values() if call.state is HeldState.PENDING]

    def decided(self) -> list[HeldCall]:
        """The decided calls kept, the most recently decided first."""
        self.sweep()
        done = [call for call in self._calls.values() if call.decided]
        return sorted(done, key=lambda call: call.decidedAt or 0.0, reverse=True)

    def lastApproved(self, call: HeldCall) -> Mapping[str, Any] | None:
        """What C{call} is compared with: the arguments last approved for
        its client, server and tool (before it was decided, for a decided
        call); C{None}: none."""
        return call.before if call.decided else self._lastOf(call)

    def diff(self, call: HeldCall) -> list[dict[str, Any]] | None:
        """L{argumentsDiff} of C{call} against L{lastApproved}."""
        return argumentsDiff(self.lastApproved(call), call.arguments)

    # -- deciding --------------------------------------------------------------

    def allow(self, callId: str, by: str) -> HeldCall:
        """A person (C{by}) allows the call: its yes is good for that
        exact call, once, until its expiry.

        @raise UnknownHeldCall: there is no such call.
        @raise HeldCallDecided: it was decided already, or expired."""
        call = self._undecided(callId)
        key = (call.client, call.server, call.tool)
        before = self._last.pop(key, None)
        self._last[key] = call.arguments
        while len(self._last) > self.lastApprovedCap:
            del self._last[next(iter(self._last))]
        return self._decide(call, HeldState.ALLOWED, by, before=before)

    def deny(self, callId: str, by: str, reason: str = "") -> HeldCall:
        """A person (C{by}) denies the call, saying C{reason} (cut to
        L{REASON_CHARS} characters).

        @raise UnknownHeldCall: there is no such call.
        @raise HeldCallDecided: it was decided already, or expired."""
        call = self._undecided(callId)
        return self._decide(
            call, HeldState.DENIED, by, self._lastOf(call), denyReason=reason[:REASON_CHARS]
        )

    def whenDecided(self, callId: str) -> Deferred[HeldCall]:
        """Fires with the call once it is allowed, denied or expired (at
        once when it is already); fails with L{UnknownHeldCall} when there
        is no such call. Cancelling it stops the wait, nothing else."""
        try:
            call = self.get(callId)
        except UnknownHeldCall as e:
            return fail(e)
        if call.decided:
            return succeed(call)
        waiters = self._waiters.setdefault(callId, [])

        def cancelled(waiter: Deferred[HeldCall]) -> None:
            if waiter in waiters:
                waiters.remove(waiter)

        waiter: Deferred[HeldCall] = Deferred(cancelled)
        waiters.append(waiter)
        return waiter

    # -- claiming --------------------------------------------------------------

    def claim(
        self,
        principal: str,
        client: ClientKey,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        policyVersion: str,
    ) -> Claim:
        """Whether a person allowed exactly this call, and the yes is
        unused and in time: then the yes is used up (the call is
        L{HeldState.USED}) and the claim granted. Else the claim says why
        not (L{ClaimRefusal}), and nothing changes."""
        self.sweep()
        same = [
            call
            for call in self._calls.values()
            if (call.principal, call.client, call.server, call.tool)
            == (principal, client, server, tool)
        ]
        exact = [call for call in same if _matches(call, arguments, policyVersion)]
        for call in exact:
            if call.state is HeldState.ALLOWED:
                return Claim(True, None, self._use(call))
        allowed = [call for call in same if call.state is HeldState.ALLOWED]
        if exact:  # the latest such call says why (they are kept oldest first)
            refused = Claim(False, _REFUSED_AS[exact[-1].state], exact[-1])
        elif allowed:
            refused = Claim(False, ClaimRefusal.CHANGED, allowed[-1])
        else:
            refused = Claim(False, ClaimRefusal.NONE, None)
        log.info(
            "flow: no yes for this call of tool {tool} of server {server}: {why}",
            tool=logs.clientText(tool),
            server=server,
            why=refused.why,
            refusal=str(refused.refusal),
            id=None if refused.call is None else refused.call.id,
            digest=None if refused.call is None else refused.call.digest,
        )
        return refused

    # -- time ------------------------------------------------------------------

    def sweep(self) -> int:
        """Expire every waiting call and unused yes whose time is up; how
        many. For a C{LoopingCall}: what waits on L{whenDecided} hears of
        an expiry within its interval."""
        now = self._clock.seconds()
        due = [
            call.id
            for call in self._calls.values()
            if call.state in (HeldState.PENDING, HeldState.ALLOWED) and now >= call.expiry
        ]
        expired = 0
        for callId in due:
            # As it is now: a waiter told of an earlier expiry may have
            # asked the store again, and a trim may have forgotten it.
            call = self._calls.get(callId)
            if call is None:
                continue
            if call.state is HeldState.PENDING:
                self._decide(call, HeldState.EXPIRED, None, self._lastOf(call))
            elif call.state is HeldState.ALLOWED:
                self._changed(replace(call, state=HeldState.EXPIRED))
            else:
                continue
            expired += 1
        return expired

    # -- the parts -------------------------------------------------------------

    def _undecided(self, callId: str) -> HeldCall:
        call = self.get(callId)
        if call.decided:
            raise HeldCallDecided(call)
        return call

    def _lastOf(self, call: HeldCall) -> Mapping[str, Any] | None:
        return self._last.get((call.client, call.server, call.tool))

    def _decide(
        self,
        call: HeldCall,
        state: HeldState,
        by: str | None,
        before: Mapping[str, Any] | None,
        denyReason: str = "",
    ) -> HeldCall:
        """C{call}, waiting, becomes C{state} (compared with C{before}):
        the oldest decided calls past L{keepDecided} are forgotten, and its
        waiters are told, last (they may ask the store again)."""
        decided = replace(
            call,
            state=state,
            decidedAt=self._clock.seconds(),
            decidedBy=by,
            denyReason=denyReason,
            before=before,
        )
        self._changed(decided)
        self._trim()
        for waiter in self._waiters.pop(call.id, []):
            waiter.callback(decided)
        return decided

    def _use(self, call: HeldCall) -> HeldCall:
        return self._changed(replace(call, state=HeldState.USED, usedAt=self._clock.seconds()))

    def _changed(self, call: HeldCall) -> HeldCall:
        """Keep C{call} as it is now; log it and tell C{record}."""
        self._calls[call.id] = call
        by = call.decidedBy if call.state in (HeldState.ALLOWED, HeldState.DENIED) else None
        log.info(
            "flow: held call {id} of tool {tool} of server {server} {state}{by} ({digest})",
            id=call.id,
            tool=logs.clientText(call.tool),
            server=call.server,
            state=call.state.value,
            by="" if by is None else f" by {logs.clientText(by)}",
            digest=call.digest,
            denyReason=call.denyReason,
        )
        self._told(call)
        return call

    def _told(self, call: HeldCall) -> None:
        if self._record is None:
            return
        try:
            self._record(call)
        except Exception:
            log.failure("flow: recording held call {id} failed", id=call.id)

    def _trim(self) -> None:
        """Forget the oldest decided calls past L{keepDecided}."""
        done = [call for call in self._calls.values() if call.decided]
        excess = len(done) - self.keepDecided
        if excess <= 0:
            return
        done.sort(key=lambda call: call.decidedAt or 0.0)
        for call in done[:excess]:
            del self._calls[call.id]


_REFUSED_AS = {
    HeldState.USED: ClaimRefusal.REPLAYED,
    HeldState.EXPIRED: ClaimRefusal.EXPIRED,
    HeldState.DENIED: ClaimRefusal.DENIED,
    HeldState.PENDING: ClaimRefusal.PENDING,
}
"""The refusal of a claim whose latest exact match is in each state."""


def _matches(call: HeldCall, arguments: Mapping[str, Any], policyVersion: str) -> bool:
    """Whether a call with C{arguments} under C{policyVersion} is exactly
    C{call} (its digest, with C{call}'s own expiry)."""
    try:
        found = digest(
            call.principal,
            call.client,
            call.server,
            call.tool,
            arguments,
            policyVersion,
            call.expiry,
        )
    except (TypeError, ValueError):
        return False
    return found == call.digest
