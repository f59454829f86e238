# -*- test-case-name: tests.config.test_promotions -*-
"""Servers the gateway narrowed the share of: C{<state-dir>/promotions.json}.

A shared child that sends a request back to its client (sampling,
elicitation, roots) while several sessions use it cannot always tell whose
it is. The pool refuses that request and I{promotes} the server
(L{mcpgateway.core.pools.pool.PromotionSink}) to the widest scope that
proves it: C{workspace} (a C{roots/list} whose sessions all came through
workspace routes: each workspace's child is answered with its workspace),
else C{session} (new sessions get a child of their own from then on).
L{Promoter} records it here, so the server keeps that scope after a
restart, and asks the config service to reload (the served spec then says
that scope, with the reason for C{/health}). A later promotion to
C{session} replaces one to C{workspace}; nothing replaces C{session}.

A promotion expires L{TTL} seconds after it was recorded: the file is
read at start and at every reload of the config, and an older record
counts as none (it is dropped from the file at the next promotion).

The file: C{{"version": 1, "servers": {"NAME": {"share": "session", "at":
<unix time>, "why": "..."}}}} (C{"share"}: C{"session"} or
C{"workspace"}), written atomically, mode 0600. It is the gateway's; the
user undoes a promotion through C{classification.json} (C{{"NAME":
{"share": "global"}}}, which wins over it). A file that cannot be used is
one warning and counts as empty (the next promotion replaces it); it never
stops the gateway.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs, paths
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.threads import RunInThread

FILE = paths.PROMOTIONS_FILE
VERSION = 1
MAX_BYTES = 1024 * 1024
"""A bigger file is not read (a warning; it counts as empty)."""
MAX_WHY = 500
"""Characters of a reason kept."""
SHARES = ("workspace", "session")
"""The scopes a server is promoted to, widest first."""
TTL = 3600.0
"""Seconds a promotion is kept: one older counts as none when the file is
read (at start and at each reload of the config), so no single request
narrows a server's share for good."""


@dataclass(frozen=True)
class PromotedServer:
    """One promoted server."""

    why: str
    at: float
    """When (seconds since the epoch)."""
    share: str = "session"
    """C{"session"} or C{"workspace"} (L{SHARES})."""


class PromotionStore:
    """Reads and writes C{promotions.json} (blocking: call it in a thread or at start)."""

    def __init__(
        self, stateDir: Path, ttl: float | None = None, now: Callable[[], float] = time.time
    ) -> None:
        """
        @param ttl: seconds a promotion is kept (the gateway's: L{TTL});
            C{None}: for good.
        @param now: the time, in seconds since the epoch.
        """
        self.path = Path(stateDir) / FILE
        self.ttl = ttl
        self._now = now
        self.warning: str | None = None
        """What was wrong with the file at the last L{load} (C{None}: nothing)."""

    def load(self) -> dict[str, PromotedServer]:
        """The promoted servers by name, but those recorded more than
        L{ttl} seconds ago (expired: the server's own share again); a
        missing file is none, an unusable one is none and sets L{warning}."""
        self.warning = None
        try:
            kept = self._read()
        except FileNotFoundError:
            return {}
        except _UnusablePromotions as e:
            self.warning = (
                f"{self.path}: {e}; no server counts as promoted (the next promotion"
                " replaces the file)"
            )
            return {}
        if self.ttl is None:
            return kept
        oldest = self._now() - self.ttl
        return {name: p for name, p in kept.items() if p.at >= oldest}

    def _read(self) -> dict[str, PromotedServer]:
        try:
            with open(self.path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise _UnusablePromotions(
                f"cannot be read ({e.strerror or type(e).__name__})"
            ) from None
        if len(data) > MAX_BYTES:
            raise _UnusablePromotions(f"larger than {MAX_BYTES} bytes")
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _UnusablePromotions("not a JSON document") from None
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise _UnusablePromotions(
                f'not a promotions file of version {VERSION} ({{"version": 1, ...}})'
            )
        servers = document.get("servers")
        if not isinstance(servers, dict):
            raise _UnusablePromotions('"servers" is not an object')
        out = {}
        for name, record in servers.items():
            if not (
                isinstance(record, dict)
                and record.get("share") in SHARES
                and isinstance(record.get("why"), str)
                and _isTime(record.get("at"))
            ):
                raise _UnusablePromotions(f"the record of {str(name)[:64]!r} is not usable")
            out[name] = PromotedServer(record["why"], float(record["at"]), record["share"])
        return out

    def promote(self, server: str, why: str, now: float, share: str = "session") -> bool:
        """Record that C{server} is C{share}-scoped because of C{why}.
        C{False} when it already was, or narrower (the file is left alone).

        @raise OSError: the file could not be written.
        @raise ValueError: C{share} is not one of L{SHARES}.
        """
        if share not in SHARES:
            raise ValueError(f"a server is promoted to one of {SHARES}, not {share!r}")
        current = self.load()
        known = current.get(server)
        if known is not None and SHARES.index(known.share) >= SHARES.index(share):
            return False
        current[server] = PromotedServer(why[:MAX_WHY], now, share)
        document = {
            "version": VERSION,
            "servers": {
                name: {"share": p.share, "at": p.at, "why": p.why}
                for name, p in sorted(current.items())
            },
        }
        data = json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writeFileAtomic(self.path, data, 0o600)
        return True

    def forget(self, server: str) -> PromotedServer | None:
        """Take C{server}'s promotion out of the file (C{mcpgateway servers
        share NAME}): what it was, or C{None} when it had none in force
        (the file is left alone then).

        @raise OSError: the file could not be written.
        """
        current = self.load()
        known = current.pop(server, None)
        if known is None:
            return None
        document = {
            "version": VERSION,
            "servers": {
                name: {"share": p.share, "at": p.at, "why": p.why}
                for name, p in sorted(current.items())
            },
        }
        data = json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        writeFileAtomic(self.path, data, 0o600)
        return known


class _UnusablePromotions(Exception):
    pass


def _isTime(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value)) and value >= 0
    except OverflowError:
        return False


class Promoter:
    """The core's L{mcpgateway.core.pools.pool.PromotionSink}: records a promotion
    (in a thread) and then has the config reloaded, so that the served spec
    says C{session} (the pool already gives new sessions their own child)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        store: PromotionStore,
        clock: IReactorTime,
        runInThread: RunInThread,
        reload: Callable[[], Deferred[Any]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._runInThread = runInThread
        self._reload = reload

    def promote(self, server: str, why: str, share: str = "session") -> None:
        """The pool promoted C{server} to C{share} (L{record} in the background)."""
        self.record(server, why, share)

    def record(self, server: str, why: str, share: str = "session") -> Deferred[None]:
        """Record C{server}'s promotion to C{share}, then reload; fires when
        done (never fails)."""
        return Deferred.fromCoroutine(self._record(server, why, share))

    async def _record(self, server: str, why: str, share: str) -> None:
        now = self._clock.seconds()
        store = self._store
        try:
            new = await self._runInThread(lambda: store.promote(server, why, now, share))
        except Exception:
            self.log.error(
                "config: could not record in {path} that server {server} is {share}-scoped"
                " ({why}); it is until the gateway stops",
                path=str(store.path),
                server=server,
                share=share,
                why=Failure().getErrorMessage(),
            )
            return
        if not new:
            return
        self.log.info(
            "config: server {server} is {share}-scoped from now on (recorded in {path});"
            ' undo: {{"{server}": {{"share": "global"}}}} in {overrides}',
            server=server,
            share=share,
            path=str(store.path),
            overrides=str(store.path.parent / paths.OVERRIDES_FILE),
        )
        reloading = self._reload()
        with contextlib.suppress(Exception):  # the reload logs its failure
            await reloading
