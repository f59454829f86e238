# -*- test-case-name: tests.ops.test_sessionstore -*-
"""The session registry in the state directory: C{sessions.json}, mode 0600.

L{SessionStore} is the file behind L{mcpgateway.core.sessions.SessionPersistence}:
L{SessionStore.load} reads and checks what a previous gateway process saved,
L{SessionStore.save} writes the records through
L{mcpgateway.atomicfile.writeFileAtomic}, and only when they changed. When it
saves is the gateway's business (L{mcpgateway.core.gateway.Gateway}: at most
once a second while the sessions change, and once more at stop, before it ends
the sessions of its own process), which is why this is no Service of its own:
the last save must come after the drain and before the sessions are ended,
an order only the gateway knows. Both calls happen from
C{Gateway.start}/C{Gateway.stop}, that is after twistd daemonized: nothing is
opened or scheduled in C{makeService}.

A file that cannot be read or is not what this module writes is moved aside
(C{sessions.json.corrupt}) with one log line, and the gateway starts with no
sessions: never a crash.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from mcpgateway import logs
from mcpgateway.atomicfile import writeFileAtomic

FORMAT = 1
"""The version of the file's layout."""
CORRUPT_SUFFIX = ".corrupt"
MAX_BYTES = 64 * 1024 * 1024
"""A bigger file is not read (it is moved aside)."""


class CorruptSessions(ValueError):
    """The sessions file is not what L{SessionStore.save} writes; says why."""


class SessionStore:
    """The sessions of the gateway, in one file of its state directory."""

    log = Logger(observer=logs.observer)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: bytes | None = None
        """The SHA-256 of what the file holds (not a copy of it: that would be
        some 350 bytes per session kept for a comparison; issue 19)."""
        self.writes = 0
        """How many times the file was written (for tests and curiosity)."""

    def load(self) -> list[dict[str, Any]]:
        """The checked records of the file; none if there is no file, and
        none (the file moved aside, one log line) if it is unreadable or
        corrupt."""
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as e:
            return self._setAside(f"cannot be read ({e.strerror or e})")
        try:
            if len(data) > MAX_BYTES:
                raise CorruptSessions(f"larger than {MAX_BYTES} bytes")
            records = parse(data)
        except CorruptSessions as e:
            return self._setAside(f"is corrupt ({e})")
        self._written = hashlib.sha256(data).digest()
        return records

    def _setAside(self, why: str) -> list[dict[str, Any]]:
        aside = self.path.with_name(self.path.name + CORRUPT_SUFFIX)
        try:
            os.replace(self.path, aside)
            where = f"moved to {aside}"
        except OSError as e:
            where = f"could not be moved aside: {e.strerror or e}"
        self.log.warn(
            "the sessions file {path} {why}; starting with no sessions (it was {where})",
            path=str(self.path),
            why=why,
            where=where,
        )
        return []

    def save(self, records: list[dict[str, Any]]) -> None:
        """Write C{records} (atomically, mode 0600) unless the file already holds them."""
        data = encode(records)
        digest = hashlib.sha256(data).digest()
        if digest == self._written:
            return
        writeFileAtomic(self.path, data, 0o600)
        self._written = digest
        self.writes += 1


def encode(records: list[dict[str, Any]]) -> bytes:
    """The file's bytes for C{records}."""
    body = {"format": FORMAT, "sessions": sorted(records, key=lambda r: str(r["id"]))}
    return json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=True).encode("ascii")


def parse(data: bytes) -> list[dict[str, Any]]:
    """The records in C{data}, each checked.

    @raise CorruptSessions: C{data} is not what L{encode} writes.
    """
    try:
        body = json.loads(data, parse_constant=_refuseConstant)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise CorruptSessions(f"not JSON: {e}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CorruptSessions(f"not a format-{FORMAT} sessions file")
    sessions = body.get("sessions")
    if not isinstance(sessions, list):
        raise CorruptSessions("no list of sessions")
    records = [_checked(record) for record in sessions]
    if len({r["id"] for r in records}) != len(records):
        raise CorruptSessions("a session id appears twice")
    return records


def _refuseConstant(name: str) -> Any:
    raise CorruptSessions(f"{name} is not JSON")


def _checked(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise CorruptSessions("a session is not an object")
    sessionId = record.get("id")
    if not (
        isinstance(sessionId, str)
        and 0 < len(sessionId) <= 256
        and sessionId.isascii()
        and sessionId.isprintable()
        and " " not in sessionId
    ):
        raise CorruptSessions("a session id is not visible ASCII")
    for key in ("server", "protocolVersion"):
        if not isinstance(record.get(key), str):
            raise CorruptSessions(f"session {key} is not a string")
    for key in ("capabilities", "clientInfo"):
        if not isinstance(record.get(key), dict):
            raise CorruptSessions(f"session {key} is not an object")
    if not (record.get("logLevel") is None or isinstance(record.get("logLevel"), str)):
        raise CorruptSessions("session logLevel is not a string")
    subscriptions = record.get("subscriptions")
    if not isinstance(subscriptions, list) or not all(isinstance(u, str) for u in subscriptions):
        raise CorruptSessions("session subscriptions are not a list of strings")
    pid = record.get("clientPid")
    if pid is not None and not (
        isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31
    ):
        raise CorruptSessions("session clientPid is not a pid")
    for key in ("created", "lastActivity"):
        value = record.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CorruptSessions(f"session {key} is not a time")
    keys = {}
    for key in ("scope", "credential", "principal"):
        value = record.get(key, "")
        if not (
            isinstance(value, str)
            and len(value) <= 64
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
        ):
            raise CorruptSessions(f"session {key} is not a key")
        keys[key] = value
    extra: dict[str, Any] = {}
    aggregate = record.get("aggregate")
    if aggregate is not None:
        # An aggregate session's (/mcp): its endpoint's name and its mode.
        if not (
            isinstance(aggregate, dict)
            and isinstance(aggregate.get("endpoint"), str)
            and len(aggregate["endpoint"]) <= 32
            and aggregate.get("mode") in ("full", "search")
        ):
            raise CorruptSessions("session aggregate is not an endpoint and a mode")
        extra["aggregate"] = {"endpoint": aggregate["endpoint"], "mode": aggregate["mode"]}
    return {
        **keys,
        **extra,
        "id": sessionId,
        "server": record["server"],
        "protocolVersion": record["protocolVersion"],
        "capabilities": record["capabilities"],
        "clientInfo": record["clientInfo"],
        "logLevel": record.get("logLevel"),
        "subscriptions": list(subscriptions),
        "clientPid": pid,
        "created": float(record["created"]),
        "lastActivity": float(record["lastActivity"]),
    }
