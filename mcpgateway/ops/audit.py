# -*- test-case-name: tests.ops.test_audit -*-
"""The audit log (C{--audit-log FILE}): one JSON line per MCP request.

Each line says who (the principal's key, never its name or token), which
session, server and route, the JSON-RPC method and tool name, the outcome
(C{ok}, C{error}, C{timeout}, C{cancelled}, C{invalid}, C{refused},
C{disconnected}), the JSON-RPC error code, the HTTP status and how long it
took. Arguments and results only with C{--audit-payloads}, each cut at
64 KiB of JSON (then a string of its first 64 KiB, and C{"truncated": true}).

Lines are buffered in memory and written once a second on the clock (and
when the buffer grows past 64 KiB, and at stop), so the hot path never
waits for the disk. The file is opened in L{AuditLog.startService}, after
twistd daemonized (nothing is opened in the process that exits), created
with mode 0600, appended to and rotated by L{logs.AppendFile}: during a
restart the old process and its successor both write it, and neither loses
or cuts the other's lines. Stopped by the process's shutdown, the log stays
open and writes each record that comes after at once (the requests the stop
ends), so the trail has every request to the process's last. Refused
requests (401, 403, 429) are rate-limited: past C{refusalsPerSecond} a
second they are counted, and the next refusal line says how many were left
out, so a flood of bad tokens cannot fill the disk.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from mcpgateway.runtime import logs

OUTCOMES = ("ok", "error", "timeout", "cancelled", "invalid", "refused", "disconnected")
"""What may end a request, as the audit log says it."""


@dataclass(frozen=True)
class AuditRecord:
    """One request, at its end.

    @ivar ts: when it came (epoch seconds).
    @ivar principal: the caller's key (C{""}: anonymous).
    @ivar session: the session's short id (C{None}: none yet).
    @ivar server: the server's name.
    @ivar route: C{"global"} or the route key.
    @ivar method: the JSON-RPC method (C{"batch"}, C{"session/delete"}).
    @ivar tool: the tool's name of a C{tools/call}.
    @ivar outcome: one of L{OUTCOMES}.
    @ivar code: the JSON-RPC error code, if any.
    @ivar status: the HTTP status.
    @ivar durationMs: from the request's arrival to its end.
    @ivar via: how the caller was authenticated (C{token}, C{oauth}, C{none}).
    @ivar peer: the client's address.
    @ivar payload: arguments and result (only with C{--audit-payloads}).
    """

    ts: float
    principal: str
    session: str | None
    server: str
    route: str
    method: str
    tool: str | None
    outcome: str
    code: int | None
    status: int
    durationMs: float
    via: str | None
    peer: str | None
    payload: dict[str, Any] | None = None

    def line(self) -> dict[str, Any]:
        """The record as its JSON line's object (no C{payload} key when none)."""
        out: dict[str, Any] = {
            "ts": round(self.ts, 3),
            "principal": self.principal,
            "session": self.session,
            "server": self.server,
            "route": self.route,
            "method": self.method,
            "tool": self.tool,
            "outcome": self.outcome,
            "code": self.code,
            "status": self.status,
            "durationMs": round(self.durationMs, 3),
            "via": self.via,
            "peer": self.peer,
        }
        if self.payload is not None:
            out["payload"] = self.payload
        return out


class AuditSink(Protocol):
    """Where audit records go."""

    payloads: bool
    """Whether records may carry arguments and results."""

    def record(self, entry: AuditRecord) -> None:
        """Keep C{entry}."""


def _strict(value: Any) -> Any:
    """C{value} with non-finite floats as C{None} (strict JSON only)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


MAX_PAYLOAD = 65536
"""The most JSON text one payload part (arguments, result, error) keeps."""


def _bounded(payload: dict[str, Any]) -> dict[str, Any]:
    """C{payload} with each part at most L{MAX_PAYLOAD} characters of
    strict JSON; a longer one becomes its JSON text's beginning."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            value = _strict(value)
            text = json.dumps(value, separators=(",", ":"), default=str)
        if len(text) > MAX_PAYLOAD:
            out[key] = text[:MAX_PAYLOAD]
            out["truncated"] = True
        else:
            out[key] = value
    return out


class AuditLog(Service):
    """The audit log file (see the module docstring)."""

    log = Logger(observer=logs.observer)
    FLUSH_BYTES = 65536

    def __init__(
        self,
        path: Path,
        clock: IReactorTime,
        payloads: bool = False,
        rotateLength: int = 50_000_000,
        maxFiles: int = 10,
        refusalsPerSecond: int = 10,
    ) -> None:
        self.path = Path(path)
        self.payloads = payloads
        self._clock = clock
        self._rotateLength = rotateLength
        self._maxFiles = maxFiles
        self._refusalsPerSecond = refusalsPerSecond
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._file: logs.AppendFile | None = None
        self._shutdown = logs.ShutdownWatch()
        self._flusher: LoopingCall | None = None
        self._windowStart = -math.inf
        self._inWindow = 0
        self.suppressed = 0
        """Refusal records left out since the last one written."""
        self.records = 0
        """Records kept in total."""
        self.failed = False

    def startService(self) -> None:
        super().startService()
        try:
            self._file = logs.AppendFile(
                str(self.path), self._rotateLength, self._maxFiles, mode=0o600
            )
        except OSError as e:
            self.failed = True
            self.log.error(
                "audit log {path}: cannot open it ({why}); requests are not audited",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return
        self._shutdown.watch(self._clock)
        self._flusher = LoopingCall(self.flush)
        self._flusher.clock = self._clock
        self._flusher.start(1.0, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self._flusher = None
        self.flush()
        if self._shutdown.begun:
            return  # the rest of the stop ends requests: their records are written at once
        self.close()

    def close(self) -> None:
        """Write what is buffered and close the file."""
        self._shutdown.forget()
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, entry: AuditRecord) -> None:
        """Buffer C{entry} (refusals within their rate); written within a second."""
        if self.failed:
            return
        line = entry.line()
        if not self.payloads:
            line.pop("payload", None)
        elif entry.payload is not None:
            line["payload"] = _bounded(entry.payload)
        if entry.outcome == "refused":
            now = self._clock.seconds()
            if now - self._windowStart >= 1.0:
                self._windowStart, self._inWindow = now, 0
            if self._inWindow >= self._refusalsPerSecond:
                self.suppressed += 1
                return
            self._inWindow += 1
            if self.suppressed:
                line["suppressed"] = self.suppressed
                self.suppressed = 0
        try:
            data = json.dumps(line, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError):
            line["payload"] = _strict(line.get("payload"))
            data = json.dumps(line, separators=(",", ":"), default=str).encode()
        self.records += 1
        self._buffer.append(data + b"\n")
        self._buffered += len(data) + 1
        if self._buffered >= self.FLUSH_BYTES or not self.running:
            self.flush()  # full, or stopped (no flusher): now

    def flush(self) -> None:
        """Write what is buffered (kept in memory until the file is open)."""
        if self._file is None or not self._buffer:
            return
        data, self._buffer, self._buffered = b"".join(self._buffer), [], 0
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as e:
            self.log.error(
                "audit log {path}: write failed ({why}); {count} byte(s) lost",
                path=str(self.path),
                why=e.strerror or str(e),
                count=len(data),
            )
