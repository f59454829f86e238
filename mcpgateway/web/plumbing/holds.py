# -*- test-case-name: tests.web.plumbing.test_holds -*-
"""What a credential let in lives no longer than the credential: the
requests a revoked or expired token left open are ended.

A team gateway's door hands L{CredentialHolds.hold} every request it let in
with a credential (L{mcpgateway.httpbase.principal.Principal.credential})
that is still open once rendered: a session's GET stream, a call answered
later or streamed, a 2026-07-28 listen stream, the console's live log. They
are held weakly, by credential. When a credential ends, what it holds that
is still open is ended:

  - the authenticator's credentials changed (a tokens file reloaded:
    L{CredentialHolds.check}, which the table calls): every credential held
    is asked again (L{Standing.standing}), and those removed or changed end;
  - a credential expires: one timer, at the earliest expiry of the
    credentials held (L{Standing.endsAt}), none while none expires.

A request whose context says how it ends
(L{mcpgateway.web.plumbing.requestcontext.RequestContext.credentialEnded}:
a listen stream, with its graceful result) ends so; any other has its
connection closed at once, what was not sent yet dropped (an HTTP/2
request: its stream alone is reset). A resumable stream whose connection
closed is kept for a replay, as after any lost connection: only a token
that stands now resumes it (the ended one is refused at the door, another
principal's finds no session), and nobody's is kept past its time. One log
line per principal says how many of its requests were ended and why, with
its key; never a token, nor its hash.

The door pays this for a request it answers later: a dictionary lookup and
a weak reference. A gateway without authentication holds nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from weakref import WeakSet

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest

from mcpgateway.httpbase.principal import Principal
from mcpgateway.runtime import logs
from mcpgateway.web.plumbing.requestcontext import contextOf


@runtime_checkable
class Standing(Protocol):
    """An authenticator whose credentials can end while what they let in is
    still open (L{mcpgateway.auth.tokens.TokenTable},
    L{mcpgateway.auth.bearer.JwtVerifier})."""

    def standing(self, principal: Principal) -> str | None:
        """Why the credential C{principal} was let in with no longer lets
        it in as it did, in a few words that follow "the token" (C{"was
        removed from the tokens file"}, C{"expired"}); C{None}: it does."""

    def endsAt(self, principal: Principal) -> float | None:
        """When that credential stops letting it in (the clock's seconds);
        C{None}: not by time."""

    def watch(self, changed: Callable[[], object]) -> None:
        """Call C{changed} whenever credentials may have ended other than
        by time (a tokens file reloaded)."""


class _HeldCredential:
    """The open requests of one credential, and when it ends."""

    __slots__ = ("principal", "requests", "until")

    def __init__(self, principal: Principal, until: float | None) -> None:
        self.principal = principal
        self.requests: WeakSet[IRequest] = WeakSet()
        self.until = until


@dataclass
class _Ended:
    """What one sweep ended of one principal's, for its log line."""

    requests: int = 0
    credentials: int = 0
    why: set[str] = field(default_factory=set)


class CredentialHolds:
    """The requests still open that each credential let in (see the module)."""

    log = Logger(observer=logs.observer)

    def __init__(self, standing: Standing, clock: IReactorTime) -> None:
        self._standing = standing
        self._clock = clock
        self._held: dict[str, _HeldCredential] = {}
        self._due: list[tuple[float, str]] = []
        """(when, credential): a heap, the credentials' expiries; an entry
        whose credential ended or moved its expiry since is skipped."""
        self._timer: IDelayedCall | None = None
        self.ended = 0
        """Requests ended so far because their credential ended."""
        standing.watch(self.check)

    def hold(self, request: IRequest, principal: Principal) -> None:
        """Hold C{request}, let in by C{principal}'s credential, until it
        ends or its credential does."""
        credential = principal.credential
        if not credential:
            return
        held = self._held.get(credential)
        if held is None:
            until = self._standing.endsAt(principal)
            held = self._held[credential] = _HeldCredential(principal, until)
            if until is not None:
                self._schedule(until, credential)
        held.requests.add(request)

    def __len__(self) -> int:
        """How many requests held are still open."""
        return sum(1 for held in self._held.values() for r in held.requests if _isOpen(r))

    def check(self) -> None:
        """The credentials changed: end what each credential held no longer
        standing let in."""
        self._sweep(list(self._held))

    def _sweep(self, credentials: Iterable[str]) -> None:
        """Ask each of C{credentials} whether it still stands; end what
        those that do not let in, and forget those that hold nothing open."""
        ended: dict[str, _Ended] = {}
        now = self._clock.seconds()
        for credential in credentials:
            held = self._held.get(credential)
            if held is None:
                continue
            why = self._standing.standing(held.principal)
            if why is None:
                if not any(_isOpen(r) for r in held.requests):
                    del self._held[credential]
                    continue
                until = self._standing.endsAt(held.principal)
                if until != held.until and (until is None or until > now):
                    held.until = until
                    if until is not None:
                        self._schedule(until, credential)
                continue
            del self._held[credential]
            count = self._end(held)
            if count:
                line = ended.setdefault(held.principal.key, _Ended())
                line.requests += count
                line.credentials += 1
                line.why.add(why)
        for key, line in ended.items():
            self.ended += line.requests
            self.log.info(
                "auth: principal {principal}: {credentials} of its tokens {why}; closed the"
                " {count} request(s) still open with it (streams, calls)",
                principal=key,
                credentials=line.credentials,
                why=" / ".join(sorted(line.why)),
                count=line.requests,
            )
        self._arm()

    def _end(self, held: _HeldCredential) -> int:
        """End the open requests C{held} holds: how many."""
        count = 0
        for request in list(held.requests):
            if not _isOpen(request):
                continue
            count += 1
            try:
                endRequest(request)
            except Exception:
                self.log.failure("auth: ending a request whose token ended failed")
        held.requests.clear()
        return count

    # -- expiry --------------------------------------------------------------------

    def _schedule(self, until: float, credential: str) -> None:
        heapq.heappush(self._due, (until, credential))
        self._arm()

    def _arm(self) -> None:
        """Keep the timer at the earliest expiry that still counts (none
        without one)."""
        due = self._due
        while due:
            until, credential = due[0]
            held = self._held.get(credential)
            if held is not None and held.until == until:
                break
            heapq.heappop(due)
        timer = self._timer
        if not due:
            if timer is not None and timer.active():
                timer.cancel()
            self._timer = None
            return
        until = due[0][0]
        if timer is not None and timer.active():
            if timer.getTime() == until:
                return
            timer.cancel()
        self._timer = self._clock.callLater(max(0.0, until - self._clock.seconds()), self._expired)

    def _expired(self) -> None:
        """The timer: end what the credentials that expired let in."""
        self._timer = None
        now = self._clock.seconds()
        due: list[str] = []
        while self._due and self._due[0][0] <= now:
            until, credential = heapq.heappop(self._due)
            held = self._held.get(credential)
            if held is not None and held.until == until:
                held.until = None  # asked again below: its entry may say later now
                due.append(credential)
        self._sweep(due)


def _isOpen(request: IRequest) -> bool:
    """Whether C{request} is still being answered over its connection."""
    return not (getattr(request, "finished", False) or getattr(request, "_disconnected", False))


def endRequest(request: IRequest) -> None:
    """End C{request} as its credential ended: as its context says, else by
    closing its connection (L{hangUp})."""
    ending = contextOf(request).credentialEnded
    end = ending() if ending is not None else None
    if end is not None:
        end()
        return
    hangUp(request)


def hangUp(request: IRequest) -> None:
    """Close C{request}'s connection at once, what was not sent yet
    dropped; an HTTP/2 request's stream alone is reset (its channel is
    the stream, which aborts itself)."""
    channel = getattr(request, "channel", None)
    if channel is None:
        return  # its connection is gone already
    abort = getattr(channel, "abortConnection", None)
    if abort is None:
        transport = getattr(channel, "transport", None)
        abort = getattr(transport, "abortConnection", None)
    if abort is None:
        abort = channel.loseConnection
    abort()
