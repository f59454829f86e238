# -*- test-case-name: tests.trust.test_pins -*-
"""The pinned tools of every server definition: what C{<state-dir>/pins.json}
holds (L{PinBook}), the digest a tool is pinned by (L{toolDigest}), and how
a listing compares with the pins (L{ServerPins.note}, L{ServerPins.listed}).

A server I{definition} is a server's name and its launch (L{mcpgateway.core.
catalogdata.launchOf}: a digest of its command and args, or of its URL): a
server whose command or URL changes is a new server, pinned afresh. Each
definition's record (L{ServerPins}) keeps its approved tools (the
definition each was approved with, and its digest) and the differences a
later listing showed that nobody approved yet (L{Change}: a tool
C{changed}, C{added} or C{removed}); L{ServerPins.approve} makes the
latter the pins. A record made while C{--quarantine-new} holds new
servers starts with every tool an approval away (C{quarantined}).

Pure data and plain file work: no Twisted (the C{mcpgateway tools}
command reads and edits the file when no gateway runs). The file is
written whole and atomically (L{mcpgateway.runtime.atomicfile}), mode 0600:
C{{"version": 1, "servers": [record, ...]}}. A file that is not of this
shape, or whose pins do not match their digests, is refused
(L{PinsFileError}): what was trusted is never silently forgotten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.paths import PINS_FILE

VERSION = 1
"""The version of the file's layout."""
PINNED_FIELDS = ("name", "description", "inputSchema", "outputSchema", "annotations")
"""What of a tool is pinned (its C{title}, C{icons} and C{_meta} are not)."""
CHANGED = "changed"
ADDED = "added"
REMOVED = "removed"
KINDS = (CHANGED, ADDED, REMOVED)
"""The kinds of a L{Change}."""
WARN = "warn"
ENFORCE = "enforce"
OFF = "off"
MODES = (WARN, ENFORCE, OFF)
"""The words of C{--pins} (L{mcpgateway.trust.policy})."""
MAX_BYTES = 32 * 1024 * 1024
"""A larger file is refused (and never written)."""
MAX_DEFINITIONS = 4
"""Definitions kept per server name: an older one is forgotten when a newer
one is pinned (a server whose command changed and changed back is pinned
afresh past that)."""


class StaleReview(Exception):
    """An approval names changes that are not the ones reviewed: the server
    changed those tools again since (their names)."""

    def __init__(self, tools: list[str]) -> None:
        super().__init__(", ".join(tools))
        self.tools = tools


class PinsFileError(Exception):
    """The pins file cannot be used; says which file and why."""


def pinnedPart(tool: Mapping[str, Any]) -> dict[str, Any]:
    """What of C{tool} is pinned: its L{PINNED_FIELDS} that it has."""
    return {name: tool[name] for name in PINNED_FIELDS if name in tool}


def canonical(value: Any) -> str:
    """C{value} as canonical JSON: keys sorted at every depth, no spaces, the
    text as it is (a value JSON cannot carry is written as C{repr} makes it)."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def toolDigest(tool: Mapping[str, Any]) -> str:
    """The digest C{tool} is pinned by: C{sha256:} and the hex SHA-256 of
    the canonical JSON of its L{pinnedPart}. The order of an object's keys
    does not count; any other difference does (a list's order too)."""
    text = canonical(pinnedPart(tool))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Pin:
    """An approved tool: its digest, its pinned part, when it was approved."""

    digest: str
    tool: dict[str, Any]
    at: float


@dataclass
class Change:
    """A difference a listing showed and nobody approved yet.

    @ivar kind: one of L{KINDS}.
    @ivar digest: the tool's digest now (C{None}: removed).
    @ivar tool: its pinned part now (C{None}: removed).
    @ivar at: when it was seen first as it is.
    """

    kind: str
    digest: str | None
    tool: dict[str, Any] | None
    at: float


@dataclass
class ServerPins:
    """The pins of one server definition (see the module docstring).

    @ivar dirty: changed since the file was written (the writer clears it).
    """

    server: str
    launch: str
    pinnedAt: float
    tools: dict[str, Pin] = field(default_factory=dict)
    pending: dict[str, Change] = field(default_factory=dict)
    quarantined: bool = False
    dirty: bool = False

    def note(self, tool: Mapping[str, Any], digest: str, now: float) -> Change | None:
        """Compare one listed C{tool} (of digest C{digest}) with its pin: a
        tool like its pin ends a change of it that was pending; any other is
        a change. The change, when it is new or differs from the one
        pending (C{None}: nothing new to tell)."""
        name = tool["name"]
        pin = self.tools.get(name)
        if pin is not None and pin.digest == digest:
            if self.pending.pop(name, None) is not None:
                self.dirty = True  # changed back
            return None
        kind = ADDED if pin is None else CHANGED
        known = self.pending.get(name)
        if known is not None and known.kind == kind and known.digest == digest:
            return None
        change = self.pending[name] = Change(kind, digest, pinnedPart(tool), now)
        self.dirty = True
        return change

    def listed(self, names: Iterable[str], now: float) -> list[tuple[str, Change]]:
        """A whole listing named C{names}: each pinned tool it lacks is
        C{removed}; a pending change of a tool it lacks that was never
        pinned is dropped. The new removals."""
        present = set(names)
        for name in [n for n, c in self.pending.items() if n not in present and c.kind != REMOVED]:
            del self.pending[name]
            self.dirty = True
        removals = []
        for name in self.tools:
            if name in present or name in self.pending:
                continue
            change = self.pending[name] = Change(REMOVED, None, None, now)
            removals.append((name, change))
            self.dirty = True
        return removals

    def approve(self, names: Iterable[str] | None, now: float) -> list[tuple[str, str]]:
        """Make the pending changes of C{names} (C{None}: all) the pins: a
        changed or added tool is pinned as it is now, a removed one
        forgotten. (name, kind) of each approved; a record with nothing
        pending any more is no longer quarantined."""
        chosen = list(self.pending) if names is None else [n for n in names if n in self.pending]
        approved = []
        for name in chosen:
            change = self.pending.pop(name)
            if change.kind == REMOVED or change.digest is None or change.tool is None:
                self.tools.pop(name, None)
            else:
                self.tools[name] = Pin(change.digest, change.tool, now)
            approved.append((name, change.kind))
        if not self.pending and self.quarantined:
            self.quarantined = False
            self.dirty = True
        if approved:
            self.dirty = True
        return approved

    def toJson(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "launch": self.launch,
            "pinnedAt": self.pinnedAt,
            "quarantined": self.quarantined,
            "tools": {
                name: {"digest": pin.digest, "approvedAt": pin.at, "tool": pin.tool}
                for name, pin in sorted(self.tools.items())
            },
            "pending": {
                name: {"change": c.kind, "digest": c.digest, "seenAt": c.at, "tool": c.tool}
                for name, c in sorted(self.pending.items())
            },
        }


def firstPins(
    server: str,
    launch: str,
    tools: Iterable[Mapping[str, Any]],
    now: float,
    quarantine: bool = False,
) -> ServerPins:
    """The record of a definition listed for the first time: every tool
    pinned as it is (trust on first use), or, with C{quarantine}, every
    tool an C{added} change that waits for its approval."""
    record = ServerPins(server, launch, now, quarantined=quarantine, dirty=True)
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        digest = toolDigest(tool)
        if quarantine:
            record.pending[name] = Change(ADDED, digest, pinnedPart(tool), now)
        else:
            record.tools[name] = Pin(digest, pinnedPart(tool), now)
    return record


class PinBook:
    """Every definition's record (see the module docstring)."""

    def __init__(self, records: Iterable[ServerPins] = ()) -> None:
        self.records: dict[tuple[str, str], ServerPins] = {}
        for record in records:
            self.records[(record.server, record.launch)] = record

    def get(self, server: str, launch: str) -> ServerPins | None:
        return self.records.get((server, launch))

    def add(self, record: ServerPins) -> None:
        """Keep C{record}; the oldest definitions of its server past
        L{MAX_DEFINITIONS} are forgotten."""
        self.records[(record.server, record.launch)] = record
        same = self.ofServer(record.server)
        for old in same[: max(0, len(same) - MAX_DEFINITIONS)]:
            del self.records[(old.server, old.launch)]

    def ofServer(self, server: str) -> list[ServerPins]:
        """The records of C{server}'s definitions, oldest first."""
        return sorted(
            (r for r in self.records.values() if r.server == server), key=lambda r: r.pinnedAt
        )

    def servers(self) -> list[str]:
        """The names of the servers with a record, sorted."""
        return sorted({server for server, _ in self.records})

    @property
    def dirty(self) -> bool:
        return any(record.dirty for record in self.records.values())

    def approve(
        self,
        server: str,
        names: Iterable[str] | None,
        now: float,
        reviewed: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, str, str]]:
        """Approve the pending changes of C{names} (C{None}: all) in every
        record of C{server}: (launch, name, kind) of each approved. With
        C{reviewed} (tool -> the digest of the change the person saw,
        C{None} for a removal), nothing is approved when a pending change
        of one of them is not the one seen (the server changed it since).

        @raise KeyError: no record of C{server}.
        @raise StaleReview: a change is not the one reviewed."""
        records = self.ofServer(server)
        if not records:
            raise KeyError(server)
        wanted = None if names is None else list(names)
        if reviewed is not None:
            stale = sorted(
                {
                    name
                    for record in records
                    for name, change in record.pending.items()
                    if name in reviewed and reviewed[name] != change.digest
                }
            )
            if stale:
                raise StaleReview(stale)
        approved = []
        for record in records:
            for name, kind in record.approve(wanted, now):
                approved.append((record.launch, name, kind))
        return approved

    # -- the file ----------------------------------------------------------------

    def encode(self) -> bytes:
        """The file's bytes: sorted, indented JSON (a person may read it)."""
        body = {
            "version": VERSION,
            "servers": [
                record.toJson()
                for _, record in sorted(self.records.items(), key=lambda item: item[0])
            ],
        }
        return (json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode(
            "utf-8", "surrogatepass"
        )

    def clean(self) -> None:
        """The file holds every record as it is now."""
        for record in self.records.values():
            record.dirty = False

    @classmethod
    def decode(cls, data: bytes, where: str = "the pins file") -> PinBook:
        """The book C{data} holds. @raise PinsFileError: it is not a pins file."""
        try:
            body = json.loads(data)
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise PinsFileError(f"{where} is not JSON") from None
        if not isinstance(body, dict) or body.get("version") != VERSION:
            raise PinsFileError(f"{where} is not a version-{VERSION} pins file")
        servers = body.get("servers")
        if not isinstance(servers, list):
            raise PinsFileError(f"{where} has no list of servers")
        try:
            return cls(_record(item) for item in servers)
        except (KeyError, TypeError, ValueError) as e:
            raise PinsFileError(f"{where} holds a record that is not usable: {e}") from None

    @classmethod
    def load(cls, path: Path) -> PinBook:
        """The book in the file at C{path} (none there: an empty book).

        @raise PinsFileError: it cannot be read or used."""
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise PinsFileError(f"{path} cannot be read ({e.strerror or e})") from None
        if len(data) > MAX_BYTES:
            raise PinsFileError(f"{path} is larger than {MAX_BYTES} bytes")
        return cls.decode(data, str(path))

    def save(self, path: Path) -> None:
        """Write the book to C{path} now (atomically, mode 0600).

        @raise OSError: the file system refused."""
        writeFileAtomic(path, self.encode(), 0o600)
        self.clean()


def _record(item: Any) -> ServerPins:
    """One record of the file. @raise ValueError, KeyError, TypeError: not usable."""
    if not isinstance(item, dict):
        raise TypeError("a record is not an object")
    server, launch = item["server"], item["launch"]
    if not isinstance(server, str) or not isinstance(launch, str):
        raise TypeError("a record names no server")
    record = ServerPins(
        server,
        launch,
        float(item.get("pinnedAt", 0.0)),
        quarantined=item.get("quarantined") is True,
    )
    for name, pin in _objects(item.get("tools", {}), server):
        tool = pin["tool"]
        if not isinstance(tool, dict) or pin["digest"] != toolDigest(tool):
            raise ValueError(f"server {server!r}: the pin of {name!r} does not match its digest")
        record.tools[name] = Pin(pin["digest"], tool, float(pin.get("approvedAt", 0.0)))
    for name, change in _objects(item.get("pending", {}), server):
        kind, tool, digest = change["change"], change.get("tool"), change.get("digest")
        if kind not in KINDS:
            raise ValueError(f"server {server!r}: {name!r} has an unknown change {kind!r}")
        if kind != REMOVED and (not isinstance(tool, dict) or digest != toolDigest(tool)):
            raise ValueError(f"server {server!r}: the change of {name!r} does not match its digest")
        record.pending[name] = Change(
            kind,
            None if kind == REMOVED else digest,
            None if kind == REMOVED else tool,
            float(change.get("seenAt", 0.0)),
        )
    return record


def _objects(value: Any, server: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise TypeError(f"server {server!r}: its tools are not objects")
    return list(value.items())


def filePath(stateDir: Path) -> Path:
    """The pins file of the state directory C{stateDir}."""
    return Path(os.path.expanduser(stateDir)) / PINS_FILE
