# -*- test-case-name: tests.auth.test_tokens -*-
"""Static bearer tokens: the table that answers for them, and the file it
is loaded from, polled for changes.

L{TokenTable} looks a token up by its SHA-256 (a dict), then compares the
hashes with C{hmac.compare_digest}; an expired entry is refused as such.
L{TokensFile} reads the file (L{mcpgateway.auth.tokenfile} describes it)
once at start, then every C{interval} seconds looks at its (mtime, size,
inode) in a thread and reads it again when that changed: a new table
replaces the old at once (a removed token is refused within C{interval});
an invalid file keeps the old table and logs one error line per change.
Tokens are never logged; neither are their hashes.

The table also answers for a token it let in earlier, by the hash its
principal carries (L{Principal.credential}): whether it still stands
(L{TokenTable.standing}) and when it expires (L{TokenTable.endsAt}), and it
tells who watches it (L{TokenTable.watch}) of every new table, so that what
a removed, changed or expired token let in is ended
(L{mcpgateway.web.plumbing.holds}).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.auth.tokenfile import (
    MAX_FILE,
    TOKEN_PREFIX,
    TokenEntry,
    TokensFileError,
    newToken,
    parseTokens,
    readTokens,
    tokenHash,
)
from mcpgateway.httpbase.principal import VIA_TOKEN, KeyOf, Principal, Refusal, Verdict
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.timers import Every

__all__ = [
    "TOKEN_PREFIX",
    "TokenEntry",
    "TokenTable",
    "TokensFile",
    "TokensFileError",
    "newToken",
    "parseTokens",
    "readTokens",
    "tokenHash",
]

Fingerprint = tuple[int, int, int]

INVALID = Refusal(401, "invalid_token", "the bearer token was refused: it is not valid")
EXPIRED = Refusal(401, "invalid_token", "the bearer token has expired")


class TokenTable:
    """The principals of the static tokens, by the hash of their token."""

    def __init__(self, entries: Iterable[TokenEntry], keyOf: KeyOf, clock: IReactorTime) -> None:
        self._keyOf = keyOf
        self._clock = clock
        self._byHash: dict[str, tuple[str, Principal]] = {}
        self._watchers: list[Callable[[], object]] = []
        self.replace(entries)

    def replace(self, entries: Iterable[TokenEntry]) -> None:
        """Answer for C{entries} from now on (and for no other token); then
        tell the watchers (L{watch})."""
        self._byHash = {
            entry.sha256: (
                entry.sha256,
                Principal(
                    entry.principal,
                    self._keyOf(entry.principal),
                    VIA_TOKEN,
                    servers=entry.servers,
                    admin=entry.admin,
                    expires=entry.expires,
                    credential=entry.sha256,
                ),
            )
            for entry in entries
        }
        for watcher in self._watchers:
            watcher()

    def watch(self, changed: Callable[[], object]) -> None:
        """Call C{changed} after each new table (a reload of the file)."""
        self._watchers.append(changed)

    def standing(self, principal: Principal) -> str | None:
        """Why the token C{principal} was let in with no longer lets it in
        as it did: its entry is gone, names another principal, other
        servers or another admin flag, or it expired (a few words that
        follow "the token"); C{None}: it still does."""
        found = self._byHash.get(principal.credential)
        if found is None:
            return "was removed from the tokens file"
        current = found[1]
        if (current.name, current.servers, current.admin) != (
            principal.name,
            principal.servers,
            principal.admin,
        ):
            return "was changed in the tokens file"
        if current.expires is not None and self._clock.seconds() >= current.expires:
            return "expired"
        return None

    def endsAt(self, principal: Principal) -> float | None:
        """When the token C{principal} was let in with expires, as its entry
        says now (C{None}: never, or no entry any more)."""
        found = self._byHash.get(principal.credential)
        return None if found is None else found[1].expires

    def __len__(self) -> int:
        return len(self._byHash)

    def principals(self) -> int:
        """How many distinct principals the tokens name."""
        return len({principal.name for _, principal in self._byHash.values()})

    def authenticate(self, token: str, endpoint: str = "") -> Verdict:
        digest = tokenHash(token)
        found = self._byHash.get(digest)
        if found is None or not hmac.compare_digest(found[0], digest):
            return INVALID
        principal = found[1]
        if principal.expires is not None and self._clock.seconds() >= principal.expires:
            return EXPIRED
        return principal


class TokensFile:
    """Keeps a L{TokenTable} in step with its file."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        path: Path,
        table: TokenTable,
        clock: IReactorTime,
        runInThread: RunInThread,
        interval: float = 2.0,
    ) -> None:
        self.path = path
        self.table = table
        self._clock = clock
        self._runInThread = runInThread
        self._poll = Every(clock, interval, self.check)
        self._fingerprint: Fingerprint | None = None
        self._checking: Deferred[Any] | None = None
        self.reloads = 0
        self.lastError: str | None = None

    def load(self) -> None:
        """Read the file now (at start, before serving): L{TokensFileError}
        or C{OSError} when it cannot be used."""
        fingerprint, entries = _read(self.path, None, strict=True)
        assert entries is not None
        self.table.replace(entries)
        self._fingerprint = fingerprint
        self.lastError = None

    def start(self) -> None:
        if not self._poll.running:
            self._poll.start()

    def stop(self) -> None:
        self._poll.stop()
        checking, self._checking = self._checking, None
        if checking is not None:
            checking.cancel()

    def check(self) -> Deferred[Any] | None:
        """Look at the file (in a thread) and reload it if it changed; at
        most one look at a time."""
        if self._checking is not None:
            return None
        before = self._fingerprint
        checking = self._runInThread(_read, self.path, before)
        self._checking = checking
        checking.addCallbacks(self._looked, self._failed, errbackArgs=(before,))
        checking.addBoth(self._done)
        return checking

    def _done(self, result: object) -> None:
        self._checking = None

    def _looked(self, result: tuple[Fingerprint, tuple[TokenEntry, ...] | None]) -> None:
        fingerprint, entries = result
        if entries is None or fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        self.table.replace(entries)
        self.reloads += 1
        self.lastError = None
        self.log.info(
            "auth: {path} reloaded: {count} tokens", path=str(self.path), count=len(entries)
        )

    def _failed(self, reason: Failure, before: Fingerprint | None) -> None:
        if reason.check(_UnusableToken) is None:
            self.log.failure("auth: looking at {path} failed", reason, path=str(self.path))
            return
        error = reason.value
        assert isinstance(error, _UnusableToken)
        if error.fingerprint == self._fingerprint:
            return
        self._fingerprint = error.fingerprint
        self.lastError = error.why
        self.log.error(
            "auth: {why}; keeping the {count} tokens loaded before",
            why=error.why,
            count=len(self.table),
        )


class _UnusableToken(Exception):
    def __init__(self, why: str, fingerprint: Fingerprint) -> None:
        super().__init__(why)
        self.why = why
        self.fingerprint = fingerprint


UNREADABLE: Fingerprint = (-1, -1, -1)


def _read(
    path: Path, before: Fingerprint | None, strict: bool = False
) -> tuple[Fingerprint, tuple[TokenEntry, ...] | None]:
    """(Runs in a thread.) The file's fingerprint and, when it differs from
    C{before}, its entries (C{None}: unchanged); L{_UnusableToken} when it cannot
    be read or parsed (C{strict}: L{TokensFileError} or C{OSError})."""
    try:
        with path.open("rb") as f:
            stat = os.fstat(f.fileno())
            fingerprint = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if fingerprint == before:
                return fingerprint, None
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        if strict:
            raise
        raise _UnusableToken(f"cannot read {path}: {e.strerror or e}", UNREADABLE) from None
    try:
        return fingerprint, parseTokens(data, str(path))
    except TokensFileError as e:
        if strict:
            raise
        raise _UnusableToken(str(e), fingerprint) from None
