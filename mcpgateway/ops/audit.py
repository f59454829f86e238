# -*- test-case-name: tests.ops.test_audit,tests.ops.test_audit_secrets,tests.ops.test_auditverify_head -*-
"""The audit log (C{--audit-log FILE}): one sealed JSON line per MCP request.

Each line says who (the principal's key, never its name or token), which
session, server and route, the action (C{method}: the JSON-RPC method) and
what it acted on (C{resource}: the server and the tool, resource URI or
prompt, through an aggregate endpoint the member's with its own name;
C{tool} keeps the name the request gave), the governance decision
(C{decision}: C{allowed}, C{denied} or C{limited}, with the deciding
C{policies}, from L{mcpgateway.core.decision.Decision}; a request no
policy or limit decided is C{allowed} with none), the SHA-256 of the
arguments' canonical JSON (C{argsDigest}), the outcome (C{ok}, C{error},
C{timeout}, C{cancelled}, C{invalid}, C{refused}, C{disconnected}), the
JSON-RPC error code, the HTTP status and how long it took. Arguments and
results only with C{--audit-payloads}, redacted (the values of credential
keys, and what the C{redact} function given replaces), each cut at 64 KiB of
JSON (then a string of its first 64 KiB, and C{"truncated": true}).

Every line is sealed into a hash chain (L{mcpgateway.ops.auditchain}):
each process's records are one segment, anchored to the last hash the file
held when it started (read in a thread before it writes; the segment's
first line is written as soon as it is read, so a successor never takes
the file for empty), so the old and the new process of a restart may both
append; a rotation is named in the new file, whose first line it is
(only the writer's flush rotates, and it writes that line first: a
segment's start or end written to a full file goes on in it), with the
new file's place in the trail. Given the audit key (C{key}), each
segment is keyed: sealed with HMAC-SHA256 under it. C{mcpgateway audit
verify} checks it (L{mcpgateway.ops.auditverify}).

Records are buffered in memory and sealed and written once a second on the
clock (and when the buffer holds L{AuditLog.FLUSH_RECORDS}, and at stop):
the hot path only appends to a list; the digests, the redaction, the JSON
and the hashes are the writer's, batched. The file is opened in
L{AuditLog.startService}, after twistd daemonized (nothing is opened in the
process that exits), created with mode 0600, appended to and rotated by
L{logs.AppendFile}. Stopped by the process's shutdown, the log stays open
and writes each record that comes after at once (the requests the stop
ends), and ends its segment after the shutdown. Refused requests (401, 403,
429) are rate-limited: past C{refusalsPerSecond} a second they are counted,
and the next refusal line says how many were left out, so a flood of bad
tokens cannot fill the disk. Each written line may also go to exporters
(syslog, OpenTelemetry logs: L{mcpgateway.ops.auditexport}).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.decision import ALLOWED, Decision
from mcpgateway.ops.auditchain import Chain, digest, fileSeq, lastHash, strict
from mcpgateway.runtime import logs

OUTCOMES = ("ok", "error", "timeout", "cancelled", "invalid", "refused", "disconnected")
"""What may end a request, as the audit log says it."""

RESOURCE_KEYS = {"tools/call": "tool", "resources/read": "uri", "prompts/get": "prompt"}
"""What the C{tool} of a record names, by method, in its C{resource}."""

NO_ARGUMENTS = object()
"""An L{AuditRecord}'s C{arguments} when the request had none."""


@dataclass(frozen=True)
class AuditRecord:
    """One request, at its end.

    @ivar ts: when it came (epoch seconds).
    @ivar principal: the caller's key (C{""}: anonymous).
    @ivar session: the session's short id (C{None}: none yet).
    @ivar server: the server's name.
    @ivar route: C{"global"} or the route key.
    @ivar method: the JSON-RPC method (C{"batch"}, C{"session/delete"}, a GET
        stream's C{"session/stream"}).
    @ivar tool: the tool's name of a C{tools/call} (the URI of a
        C{resources/read}, the prompt's name of a C{prompts/get}).
    @ivar outcome: one of L{OUTCOMES}.
    @ivar code: the JSON-RPC error code, if any.
    @ivar status: the HTTP status.
    @ivar durationMs: from the request's arrival to its end.
    @ivar via: how the caller was authenticated (C{token}, C{oauth}, C{none}).
    @ivar peer: the client's address.
    @ivar payload: arguments and result (only with C{--audit-payloads}).
    @ivar decision: what the policy and the limits decided (C{None}: nothing
        decided, recorded as allowed with no policies).
    @ivar arguments: the request's arguments, digested when written
        (L{NO_ARGUMENTS}: none).
    @ivar member: what a request of an aggregate endpoint (C{/mcp}) resolved
        to: the member server, the member request's method and the
        member's own name of what it acted on, which its C{resource} names
        (C{None}: the request's own C{server} and C{tool}).
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
    decision: Decision | None = None
    arguments: Any = NO_ARGUMENTS
    member: tuple[str, str, str] | None = None

    def line(self) -> dict[str, Any]:
        """The record as its JSON line's object, before it is sealed (no
        C{payload} key when none, no C{argsDigest} without arguments)."""
        decision = self.decision if self.decision is not None else ALLOWED
        resource: dict[str, Any] = {"server": self.server}
        if self.member is not None:
            server, method, name = self.member
            resource = {"server": server, RESOURCE_KEYS.get(method, "name"): name}
        elif self.tool is not None:
            resource[RESOURCE_KEYS.get(self.method, "name")] = self.tool
        out: dict[str, Any] = {
            "ts": round(self.ts, 3),
            "principal": self.principal,
            "session": self.session,
            "server": self.server,
            "route": self.route,
            "method": self.method,
            "tool": self.tool,
            "resource": resource,
            "decision": decision.outcome,
            "policies": list(decision.policies),
            "outcome": self.outcome,
            "code": self.code,
            "status": self.status,
            "durationMs": round(self.durationMs, 3),
            "via": self.via,
            "peer": self.peer,
        }
        if not decision.allowed:
            out["reason"] = decision.reason[:512]
            if decision.retryAfter is not None:
                out["retryAfter"] = round(decision.retryAfter, 3)
        if self.arguments is not NO_ARGUMENTS:
            out["argsDigest"] = digest(self.arguments)
        if self.payload is not None:
            out["payload"] = self.payload
        return out


class AuditSink(Protocol):
    """Where audit records go."""

    payloads: bool
    """Whether records may carry arguments and results."""

    def record(self, entry: AuditRecord) -> None:
        """Keep C{entry}."""


class AuditExporter(Protocol):
    """Where each sealed line goes too (syslog, OpenTelemetry logs)."""

    def export(self, line: bytes, record: dict[str, Any]) -> None:
        """Send C{line} (sealed, without its line end), whose content is
        C{record}; never blocks, never raises for a lost send."""

    def close(self) -> None:
        """Let go of the connection."""


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

SECRET_KEYS = frozenset(
    (
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "authorization",
        "accesstoken",
        "access_token",
        "refreshtoken",
        "refresh_token",
        "clientsecret",
        "client_secret",
        "privatekey",
        "private_key",
        "cookie",
    )
)
"""Keys (compared in lower case, without C{-}) whose values a payload never
shows: C{"[redacted]"} in their place."""

REDACTED = "[redacted]"


def redactKeys(value: Any) -> Any:
    """C{value} with the value of every L{SECRET_KEYS} key replaced."""
    if isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and k.lower().replace("-", "") in SECRET_KEYS
            else redactKeys(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redactKeys(v) for v in value]
    return value


def redactStrings(value: Any, redact: Callable[[str], str]) -> Any:
    """C{value} with C{redact} applied to every string in it, keys too (a
    secret is found as the child was given it, before any JSON escaping)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            redact(k) if isinstance(k, str) else k: redactStrings(v, redact)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redactStrings(v, redact) for v in value]
    return value


def _bounded(payload: dict[str, Any], redact: Callable[[str], str] | None = None) -> dict[str, Any]:
    """C{payload} redacted, with each part at most L{MAX_PAYLOAD}
    characters of strict JSON; a longer one becomes its JSON text's
    beginning."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        value = redactKeys(value)
        if redact is not None:
            value = redactStrings(value, redact)
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


class ChainFile(logs.AppendFile):
    """The audit log's L{logs.AppendFile}: rotated only when its writer
    asks (L{rotateIfDue}), which then begins the new file with the
    rotation's record; says whether this writer rotated it."""

    autoRotate = False
    rotated = False
    """Set when this writer renamed the file to C{path.1}."""

    def _shift(self) -> bool:
        shifted = super()._shift()
        self.rotated = self.rotated or shifted
        return shifted

    def rotateIfDue(self) -> bool:
        """Rotate the file now if it is full; whether this writer did."""
        with self._lock:
            self.rotated = False
            self._current(rotate=True)
            done, self.rotated = self.rotated, False
        return done


Threads = Callable[..., "Deferred[Any]"]
"""Runs a blocking function in a thread (L{mcpgateway.startup.process.threadRunner})."""

RedactorOf = Callable[[str], "Callable[[str], str] | None"]
"""Given a server's name, what takes the values of the secrets its running
children were given out of a text (C{None}: no secrets)."""


def childSecrets(pools: Mapping[str, Any]) -> RedactorOf:
    """L{AuditLog}'s C{redact} for a gateway whose pools, by server name,
    are C{pools}: the redaction of the secrets each running child of the
    server was given (L{mcpgateway.core.upstream.Upstream.redactor}), so a
    value resolved from a reference never reaches the audit trail."""

    def redactorOf(server: str) -> Callable[[str], str] | None:
        pool = pools.get(server)
        upstreams = getattr(pool, "upstreams", None)
        if upstreams is None:
            return None
        found: list[Callable[[str], str]] = []
        for upstream in upstreams():
            redactor = getattr(upstream, "redactor", None)
            if redactor is not None and redactor not in found:
                found.append(redactor)
        if len(found) <= 1:
            return found[0] if found else None

        def every(text: str) -> str:
            for redactor in found:
                text = redactor(text)
            return text

        return every

    return redactorOf


class AuditLog(Service):
    """The audit log file (see the module docstring)."""

    log = Logger(observer=logs.observer)
    FLUSH_RECORDS = 256

    def __init__(
        self,
        path: Path,
        clock: IReactorTime,
        payloads: bool = False,
        rotateLength: int = 50_000_000,
        maxFiles: int = 10,
        refusalsPerSecond: int = 10,
        threads: Threads | None = None,
        exporters: tuple[AuditExporter, ...] = (),
        redact: RedactorOf | None = None,
        pid: int | None = None,
        key: bytes | None = None,
    ) -> None:
        """
        @param threads: runs the read of the file's last hash at start
            (C{None}: at once, as the tests do).
        @param exporters: where each sealed line goes too.
        @param redact: the redaction of a server's secrets, asked for as a
            record with a payload is kept (a child that ends before the
            write has its secrets taken out all the same) and applied to
            every string of the payload when it is written.
        @param pid: the process id the segment names (C{None}: the one
            that starts the log).
        @param key: the audit key its segments are sealed with
            (L{mcpgateway.ops.auditkey}, read at start; C{None}: unkeyed).
        """
        self.path = Path(path)
        self.payloads = payloads
        self._clock = clock
        self._rotateLength = rotateLength
        self._maxFiles = maxFiles
        self._refusalsPerSecond = refusalsPerSecond
        self._threads = threads
        self._exporters = exporters
        self._redact = redact
        self._pid = pid
        self._key = key
        self.chain = Chain(pid, key)
        """The segment this process writes (made again at start: twistd
        forks between the log's making and its start, and the segment names
        the process that writes it)."""
        self._buffer: list[dict[str, Any]] = []
        self._file: ChainFile | None = None
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
            self._file = ChainFile(str(self.path), self._rotateLength, self._maxFiles, mode=0o600)
        except OSError as e:
            self.failed = True
            self.log.error(
                "audit log {path}: cannot open it ({why}); requests are not audited",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return
        self.chain = Chain(self._pid, self._key)
        self._shutdown.watch(self._clock)
        self._flusher = LoopingCall(self.flush)
        self._flusher.clock = self._clock
        self._flusher.start(1.0, now=False)
        path = str(self.path)
        found = (
            maybeDeferred(lastHash, path)
            if self._threads is None
            else maybeDeferred(self._threads, lastHash, path)
        )
        found.addCallbacks(self._anchored, self._unanchored)

    def _anchored(self, after: str | None) -> None:
        """Start the segment after C{after}: its first line is written at
        once, so that a process starting after this one (a restart's
        successor) finds it as the file's last hash even before this one
        recorded a request, and does not take the file for empty."""
        if self._file is None or self.chain.started:
            return
        self._write([self.chain.start(self._clock.seconds(), after)], [{"kind": "segment"}])

    def _unanchored(self, reason: Failure) -> None:
        """The read in a thread failed (no thread to run it in): read the
        last hash now, once, rather than start a segment that claims an
        empty file."""
        self.log.failure(
            "audit log {path}: reading its last hash in a thread failed; reading it now",
            reason,
            path=str(self.path),
        )
        try:
            after = lastHash(str(self.path))
        except Exception:
            self.log.failure("audit log {path}: reading its last hash failed", path=str(self.path))
            after = None
        self._anchored(after)

    def stopService(self) -> None:
        super().stopService()
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self._flusher = None
        self.flush()
        if self._shutdown.begun:
            if IReactorCore.providedBy(self._clock):
                self._clock.addSystemEventTrigger("after", "shutdown", self.close)
            return  # the rest of the stop ends requests: their records are written at once
        self.close()

    def close(self) -> None:
        """Write what is buffered, end the segment and close the file."""
        self._shutdown.forget()
        if self._file is not None and not self.chain.started:
            self._anchored(lastHash(str(self.path)))  # the read never came back: now
        self.flush()
        if self._file is not None:
            self._write([self.chain.end(self._clock.seconds())], [{"kind": "end"}])
            self._file.close()
            self._file = None
        for exporter in self._exporters:
            exporter.close()

    def record(self, entry: AuditRecord) -> None:
        """Buffer C{entry} (refusals within their rate); written within a second."""
        if self.failed:
            return
        held: dict[str, Any] = {"entry": entry}
        if entry.outcome == "refused":
            now = self._clock.seconds()
            if now - self._windowStart >= 1.0:
                self._windowStart, self._inWindow = now, 0
            if self._inWindow >= self._refusalsPerSecond:
                self.suppressed += 1
                return
            self._inWindow += 1
            if self.suppressed:
                held["suppressed"] = self.suppressed
                self.suppressed = 0
        if self._redact is not None and self.payloads and entry.payload is not None:
            try:
                held["redact"] = self._redact(entry.server)
            except Exception:
                self.log.failure(
                    "audit log: finding the secrets of server {server} failed;"
                    " its payload is left out",
                    server=entry.server,
                )
                held["withheld"] = True
        self.records += 1
        self._buffer.append(held)
        if len(self._buffer) >= self.FLUSH_RECORDS or not self.running:
            self.flush()  # full, or stopped (no flusher): now

    def _compose(self, held: dict[str, Any]) -> dict[str, Any]:
        """The record of a buffered entry: digested, redacted, bounded."""
        entry: AuditRecord = held["entry"]
        line = entry.line()
        if "suppressed" in held:
            line["suppressed"] = held["suppressed"]
        if not self.payloads or entry.payload is None or "withheld" in held:
            line.pop("payload", None)
        else:
            line["payload"] = _bounded(entry.payload, held.get("redact"))
        return line

    def flush(self) -> None:
        """Seal and write what is buffered (kept in memory until the file
        is open and its segment started)."""
        if self._file is None or not self.chain.started or not self._buffer:
            return
        held, self._buffer = self._buffer, []
        lines: list[bytes] = []
        records: list[dict[str, Any]] = []
        try:
            if self._file.rotateIfDue():
                name = os.path.basename(str(self.path)) + ".1"
                last = lastHash(str(self.path) + ".1")
                before = fileSeq(str(self.path) + ".1")
                seq = None if before is None else before + 1
                lines.append(self.chain.rotated(self._clock.seconds(), name, last, seq))
                records.append({"kind": "rotated"})
        except OSError as e:
            self.log.error(
                "audit log {path}: rotating failed ({why})",
                path=str(self.path),
                why=e.strerror or str(e),
            )
        for item in held:
            try:
                record = self._compose(item)
            except Exception:
                self.log.failure("audit log: composing a record failed")
                record = strict({"note": "a record that could not be composed"})
            lines.append(self.chain.next(record))
            records.append(record)
        self._write(lines, records)

    def _write(self, lines: list[bytes], records: list[dict[str, Any]] | None = None) -> None:
        """Append sealed C{lines} in one write, then hand them to the exporters."""
        assert self._file is not None
        data = b"\n".join(lines) + b"\n"
        try:
            self._file.write(data)
        except (OSError, ValueError) as e:
            self.log.error(
                "audit log {path}: write failed ({why}); {count} byte(s) lost",
                path=str(self.path),
                why=getattr(e, "strerror", None) or str(e),
                count=len(data),
            )
        for exporter in self._exporters:
            for index, line in enumerate(lines):
                record = records[index] if records is not None else {}
                try:
                    exporter.export(line, record)
                except Exception:
                    self.log.failure("audit log: an exporter failed")
