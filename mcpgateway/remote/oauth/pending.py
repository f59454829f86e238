# -*- test-case-name: tests.remote.oauth.test_weblogin_confirm -*-
"""Principals' sign-ins that finished in a browser and wait for the
principal to confirm them, and the ones that were refused.

On a team gateway, whoever opens a principal's sign-in link signs in at the
authorization server with their own account. So the tokens a sign-in
brings back are not the principal's yet: they are held here, with the
digest of the browser that finished the sign-in, until the principal's own
authenticated client sends it a confirmation link
(L{mcpgateway.remote.oauth.weblogin}) and that same browser confirms. A
confirmation from another browser means the sign-in was finished by
someone else (the link was forwarded): the tokens are dropped, and the
principal's next calls say so (L{PendingLogins.refused}) until it signs in
again.

They live in the token store's encrypted file (its C{"pending"} and
C{"refused"} parts), so a replica that shares the state directory, or the
gateway after a restart, confirms what another one held. Blocking file
I/O: called from the reactor's thread pool.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant

PENDING_TTL = 900.0
"""Seconds a finished sign-in waits for its principal to confirm it."""
REFUSED_TTL = 3600.0
"""Seconds a principal's calls say that its last sign-in was refused."""
PENDING = "pending"
REFUSED = "refused"


@dataclass(frozen=True)
class PendingGrant:
    """A sign-in's grant, held until its principal confirms it."""

    grant: UpstreamGrant
    browser: str
    """The digest of the browser that finished the sign-in."""
    at: float
    """When it finished (seconds since the epoch)."""


def _key(server: str, principal: str) -> str:
    return json.dumps([server, principal])


def _live(records: Any, ttl: float, now: float) -> dict[str, Any]:
    """The records of one part of the file that have not expired."""
    if not isinstance(records, dict):
        return {}
    return {
        key: value
        for key, value in records.items()
        if isinstance(value, dict)
        and isinstance(value.get("at"), (int, float))
        and now - float(value["at"]) < ttl
    }


def _owners(records: dict[str, Any]) -> dict[tuple[str, str], float]:
    found = {}
    for key, value in records.items():
        try:
            server, principal = json.loads(key)
        except (TypeError, ValueError):
            continue
        if isinstance(server, str) and isinstance(principal, str):
            found[(server, principal)] = float(value["at"])
    return found


def waiting(document: dict[str, Any], now: float) -> tuple[dict[tuple[str, str], float], ...]:
    """Of the store's whole C{document} (L{TokenStore.document}): when each
    (server, principal) pair's held sign-in finished, and when the last
    sign-in of each whose sign-in was refused was (the ones not expired at
    C{now}; the caller compares them with L{PENDING_TTL} and L{REFUSED_TTL}
    later)."""
    return (
        _owners(_live(document.get(PENDING), PENDING_TTL, now)),
        _owners(_live(document.get(REFUSED), REFUSED_TTL, now)),
    )


class PendingLogins:
    """The held sign-ins and the refusals, in C{store}'s file."""

    def __init__(self, store: TokenStore, now: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = now

    def _live(self, name: str, ttl: float) -> dict[str, Any]:
        """A part of the file without what expired."""
        return _live(self._store.section(name), ttl, self._now())

    def _change(self, name: str, ttl: float, change: Callable[[dict[str, Any]], bool]) -> None:
        """Change one part of the file (what expired left out); C{change}
        says whether it changed anything."""
        now = self._now()

        def changed(records: dict[str, Any]) -> dict[str, Any] | None:
            live = _live(records, ttl, now)
            return live if change(live) or len(live) != len(records) else None

        self._store.update(name, changed)

    def hold(self, grant: UpstreamGrant, browser: str) -> PendingGrant:
        """Hold C{grant} for its principal to confirm (replacing a sign-in
        it held already); a refusal noted for it is over."""
        held = PendingGrant(grant, browser, self._now())
        record = {"grant": asdict(grant), "browser": browser, "at": held.at}

        def keep(records: dict[str, Any]) -> bool:
            records[_key(grant.server, grant.principal)] = record
            return True

        self._change(PENDING, PENDING_TTL, keep)
        self._forget(REFUSED, REFUSED_TTL, grant.server, grant.principal)
        return held

    def held(self, server: str, principal: str) -> PendingGrant | None:
        """The sign-in C{principal} has to confirm for C{server}, if any."""
        record = self._live(PENDING, PENDING_TTL).get(_key(server, principal))
        if record is None:
            return None
        grant = UpstreamGrant.fromJson(record.get("grant"))
        browser = record.get("browser")
        if grant is None or not isinstance(browser, str):
            return None
        return PendingGrant(grant, browser, float(record["at"]))

    def take(self, server: str, principal: str, browser: str, at: float) -> PendingGrant | None:
        """The held sign-in, let go of: the one finished at C{at} in the
        browser C{browser} (C{None}: there is no such sign-in any more)."""
        taken: list[PendingGrant] = []
        key = _key(server, principal)

        def let(records: dict[str, Any]) -> bool:
            record = records.get(key)
            grant = UpstreamGrant.fromJson(record.get("grant")) if record else None
            if record is None or grant is None:
                return False
            if record.get("browser") != browser or record.get("at") != at:
                return False
            del records[key]
            taken.append(PendingGrant(grant, browser, at))
            return True

        self._change(PENDING, PENDING_TTL, let)
        if taken:
            self._forget(REFUSED, REFUSED_TTL, server, principal)
        return taken[0] if taken else None

    def drop(self, server: str, principal: str) -> None:
        """Forget the sign-in held for C{principal} (a grant was bound)."""
        self._forget(PENDING, PENDING_TTL, server, principal)
        self._forget(REFUSED, REFUSED_TTL, server, principal)

    def refuse(self, server: str, principal: str) -> None:
        """The held sign-in was finished in another browser than the
        principal's: drop it, and note it for the principal's next calls."""
        self._forget(PENDING, PENDING_TTL, server, principal)
        now = self._now()

        def note(records: dict[str, Any]) -> bool:
            records[_key(server, principal)] = {"at": now}
            return True

        self._change(REFUSED, REFUSED_TTL, note)

    def refused(self, server: str, principal: str) -> bool:
        """Whether C{principal}'s last sign-in to C{server} was refused
        (finished in another browser) and none has been held since."""
        return _key(server, principal) in self._live(REFUSED, REFUSED_TTL)

    def _forget(self, name: str, ttl: float, server: str, principal: str) -> None:
        key = _key(server, principal)
        self._change(name, ttl, lambda records: records.pop(key, None) is not None)
