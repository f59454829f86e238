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

A server may list more tools to a client that declared more capabilities
(L{mcpgateway.trust.capabilities}): the pins are the union of what every
client was shown. Each pin keeps the smallest sets of capabilities it was
listed with, and each record the largest sets of its whole listings, so
that a tool a listing lacks is removed only when its client declared at
least what a client that saw it declared, and a tool only a client that
declared more than any before is shown is pinned at that first listing
(trust on first use, as for the server's first listing).

A pin made before L{PINNED_FIELDS} grew (its C{fields}) is compared on the
fields it kept; the first listing that shows it as it was approved records
the others (L{ServerPins.note}), so an upgrade flags no tool.

Pure data and plain file work: no Twisted (the C{mcpgateway tools}
command reads and edits the file when no gateway runs). The file is
written whole and atomically (L{mcpgateway.runtime.atomicfile}), mode 0600:
C{{"version": 2, "servers": [record, ...]}} (a version-1 file, whose pins
kept L{EARLIER_FIELDS}, is read too). A file that is not of this
shape, or whose pins do not match their digests, is refused
(L{PinsFileError}): what was trusted is never silently forgotten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.paths import PINS_FILE
from mcpgateway.trust.capabilities import Declared, Sets, addLeast, addMost, decode, encode

VERSION = 2
"""The version of the file's layout."""
READABLE = (1, 2)
"""The versions read (a version-1 file's pins kept L{EARLIER_FIELDS})."""
PINNED_FIELDS: tuple[str, ...] = (
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
    "icons",
    "execution",
    "_meta",
)
"""What of a tool is pinned: every member a client shows a model or that
changes what a call does."""
EARLIER_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
)
"""What a pin of a version-1 file kept."""
EARLIER_SEEN: Declared = frozenset(
    {"/elicitation", "/elicitation/form", "/elicitation/url", "/roots", "/sampling"}
)
"""What a pin made before capabilities were kept is taken to have been
listed with, until a listing shows it: what the gateway's own listings
declare at least (its probe's capabilities), which made most such pins."""
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


def pinnedPart(tool: Mapping[str, Any], fields: Sequence[str] = PINNED_FIELDS) -> dict[str, Any]:
    """What of C{tool} is pinned: its C{fields} that it has."""
    return {name: tool[name] for name in fields if name in tool}


def canonical(value: Any) -> str:
    """C{value} as canonical JSON: keys sorted at every depth, no spaces, the
    text as it is (a value JSON cannot carry is written as C{repr} makes it)."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def toolDigest(tool: Mapping[str, Any], fields: Sequence[str] = PINNED_FIELDS) -> str:
    """The digest C{tool} is pinned by: C{sha256:} and the hex SHA-256 of
    the canonical JSON of its L{pinnedPart} (of C{fields}). The order of an
    object's keys does not count; any other difference does (a list's
    order too)."""
    text = canonical(pinnedPart(tool, fields))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Pin:
    """An approved tool: its digest, its pinned part, when it was approved.

    @ivar fields: what of the tool it pins (L{EARLIER_FIELDS}: a pin of a
        version-1 file, not listed since).
    @ivar seen: the smallest sets of capabilities of the clients it was
        listed to (C{None}: not known, a pin made before they were kept).
    """

    digest: str
    tool: dict[str, Any]
    at: float
    fields: tuple[str, ...] = PINNED_FIELDS
    seen: Sets | None = None

    def toJson(self) -> dict[str, Any]:
        body: dict[str, Any] = {"digest": self.digest, "approvedAt": self.at, "tool": self.tool}
        if self.fields != PINNED_FIELDS:
            body["fields"] = list(self.fields)
        if self.seen is not None:
            body["seenWith"] = encode(self.seen)
        return body


@dataclass
class Change:
    """A difference a listing showed and nobody approved yet.

    @ivar kind: one of L{KINDS}.
    @ivar digest: the tool's digest now (C{None}: removed).
    @ivar tool: its pinned part now (C{None}: removed).
    @ivar at: when it was seen first as it is.
    @ivar fields: what of the tool C{digest} covers.
    @ivar seen: the smallest sets of capabilities of the clients it was
        listed to as it is (C{None}: not known).
    """

    kind: str
    digest: str | None
    tool: dict[str, Any] | None
    at: float
    fields: tuple[str, ...] = PINNED_FIELDS
    seen: Sets | None = None

    def toJson(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "change": self.kind,
            "digest": self.digest,
            "seenAt": self.at,
            "tool": self.tool,
        }
        if self.fields != PINNED_FIELDS:
            body["fields"] = list(self.fields)
        if self.seen is not None:
            body["seenWith"] = encode(self.seen)
        return body


def _goneFor(seen: Sets | None, caps: Declared | None) -> bool:
    """Whether a listing to a client that declared C{caps} would show a
    tool listed to clients of C{seen}: one of them declared no more
    (C{caps} not known: it would; C{seen} not known: L{EARLIER_SEEN})."""
    if caps is None:
        return True
    return any(known <= caps for known in ((EARLIER_SEEN,) if seen is None else seen))


@dataclass
class ServerPins:
    """The pins of one server definition (see the module docstring).

    @ivar views: the largest sets of capabilities of the clients its whole
        listings were made to (C{None}: not known, a record made before they
        were kept; taken as a client that declared everything).
    @ivar dirty: changed since the file was written (the writer clears it).
    """

    server: str
    launch: str
    pinnedAt: float
    tools: dict[str, Pin] = field(default_factory=dict)
    pending: dict[str, Change] = field(default_factory=dict)
    quarantined: bool = False
    views: Sets | None = None
    dirty: bool = False

    def firstListedTo(self, caps: Declared | None) -> bool:
        """Whether a listing to a client that declared C{caps} is the first
        to such a client: no whole listing was made to a client that
        declared as much (a tool it shows beyond the pins is pinned as it
        is, not an addition)."""
        return (
            caps is not None
            and self.views is not None
            and not self.quarantined
            and not any(caps <= known for known in self.views)
        )

    def note(
        self,
        tool: Mapping[str, Any],
        digest: str,
        now: float,
        caps: Declared | None = None,
        firstUse: bool = True,
    ) -> Change | None:
        """Compare one listed C{tool} (of digest C{digest}), listed to a
        client that declared C{caps} (C{None}: not known), with its pin: a
        tool like its pin ends a change of it that was pending; a tool
        neither pinned nor pending that only this client's capabilities show
        is pinned as it is (with C{firstUse}); any other is a change. The change, when it is
        new or differs from the one pending (C{None}: nothing new to tell).

        A pin of fewer fields than L{PINNED_FIELDS} that C{tool} matches on
        them records the others now (it is not a change)."""
        name = tool["name"]
        pin = self.tools.get(name)
        if (
            pin is not None
            and pin.fields != PINNED_FIELDS
            and toolDigest(tool, pin.fields) == pin.digest
        ):
            pin = self.tools[name] = Pin(digest, pinnedPart(tool), pin.at, seen=pin.seen)
            self.dirty = True
        if pin is not None and pin.digest == digest:
            if self.pending.pop(name, None) is not None:
                self.dirty = True  # changed back
            self._seen(pin, caps)
            return None
        if pin is None and firstUse and name not in self.pending and self.firstListedTo(caps):
            assert caps is not None  # an addition told before stays one
            self.tools[name] = Pin(digest, pinnedPart(tool), now, seen=(caps,))
            self.dirty = True
            return None
        kind = ADDED if pin is None else CHANGED
        known = self.pending.get(name)
        if (
            known is not None
            and known.kind == kind
            and known.fields != PINNED_FIELDS
            and toolDigest(tool, known.fields) == known.digest
        ):
            known.digest, known.tool, known.fields = digest, pinnedPart(tool), PINNED_FIELDS
            self.dirty = True  # the same change, its other fields recorded
        if known is not None and known.kind == kind and known.digest == digest:
            self._seen(known, caps)
            return None
        seen = None if caps is None else (caps,)
        change = self.pending[name] = Change(kind, digest, pinnedPart(tool), now, seen=seen)
        self.dirty = True
        return change

    def _seen(self, item: Pin | Change, caps: Declared | None) -> None:
        """C{item} was listed to a client that declared C{caps}."""
        if caps is None:
            return
        seen = addLeast(item.seen, caps)
        if seen != item.seen:
            item.seen = seen
            self.dirty = True

    def listed(
        self, names: Iterable[str], now: float, caps: Declared | None = None
    ) -> list[tuple[str, Change]]:
        """A whole listing named C{names}, to a client that declared C{caps}
        (C{None}: not known): each pinned tool it lacks is C{removed}, and a
        pending change of a tool it lacks that was never pinned is dropped,
        when a client that declared no more than this one was shown that
        tool (this client declared less: the tool is not for it). The new
        removals."""
        present = set(names)
        for name in [
            n
            for n, c in self.pending.items()
            if n not in present and c.kind != REMOVED and _goneFor(c.seen, caps)
        ]:
            del self.pending[name]
            self.dirty = True
        removals = []
        for name, pin in self.tools.items():
            if name in present or name in self.pending or not _goneFor(pin.seen, caps):
                continue
            change = self.pending[name] = Change(REMOVED, None, None, now)
            removals.append((name, change))
            self.dirty = True
        if caps is not None and self.views is not None:
            views = addMost(self.views, caps)
            if views != self.views:
                self.views = views
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
                self.tools[name] = Pin(change.digest, change.tool, now, change.fields, change.seen)
            approved.append((name, change.kind))
        if not self.pending and self.quarantined:
            self.quarantined = False
            self.dirty = True
        if approved:
            self.dirty = True
        return approved

    def toJson(self) -> dict[str, Any]:
        body = {
            "server": self.server,
            "launch": self.launch,
            "pinnedAt": self.pinnedAt,
            "quarantined": self.quarantined,
            "tools": {name: pin.toJson() for name, pin in sorted(self.tools.items())},
            "pending": {name: c.toJson() for name, c in sorted(self.pending.items())},
        }
        if self.views is not None:
            body["views"] = encode(self.views)
        return body


def firstPins(
    server: str,
    launch: str,
    tools: Iterable[Mapping[str, Any]],
    now: float,
    quarantine: bool = False,
    caps: Declared | None = None,
) -> ServerPins:
    """The record of a definition listed for the first time, to a client
    that declared C{caps} (C{None}: not known): every tool pinned as it is
    (trust on first use), or, with C{quarantine}, every tool an C{added}
    change that waits for its approval."""
    seen = None if caps is None else (caps,)
    record = ServerPins(server, launch, now, quarantined=quarantine, views=seen, dirty=True)
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        digest = toolDigest(tool)
        if quarantine:
            record.pending[name] = Change(ADDED, digest, pinnedPart(tool), now, seen=seen)
        else:
            record.tools[name] = Pin(digest, pinnedPart(tool), now, seen=seen)
    return record


class PinBook:
    """Every definition's record (see the module docstring)."""

    def __init__(self, records: Iterable[ServerPins] = ()) -> None:
        self.records: dict[tuple[str, str], ServerPins] = {}
        for record in records:
            self.records[(record.server, record.launch)] = record
        self._forgot = False
        """A record was forgotten since the file was written."""

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
        return self._forgot or any(record.dirty for record in self.records.values())

    def forget(self, server: str, keep: str | None = None) -> list[ServerPins]:
        """Forget the records of C{server}'s definitions but the one of
        launch C{keep} (C{None}: all): the ones forgotten."""
        gone = [record for record in self.ofServer(server) if record.launch != keep]
        for record in gone:
            del self.records[(record.server, record.launch)]
        self._forgot |= bool(gone)
        return gone

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
        self._forgot = False
        for record in self.records.values():
            record.dirty = False

    @classmethod
    def decode(cls, data: bytes, where: str = "the pins file") -> PinBook:
        """The book C{data} holds. @raise PinsFileError: it is not a pins file."""
        try:
            body = json.loads(data)
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise PinsFileError(f"{where} is not JSON") from None
        version = body.get("version") if isinstance(body, dict) else None
        if version not in READABLE or isinstance(version, bool):
            raise PinsFileError(f"{where} is not a version-{VERSION} pins file")
        assert isinstance(body, dict)
        servers = body.get("servers")
        if not isinstance(servers, list):
            raise PinsFileError(f"{where} has no list of servers")
        fields = PINNED_FIELDS if version == VERSION else EARLIER_FIELDS
        try:
            return cls(_record(item, fields) for item in servers)
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


def _record(item: Any, fields: tuple[str, ...]) -> ServerPins:
    """One record of the file, whose pins keep C{fields} unless they say.

    @raise ValueError, KeyError, TypeError: not usable."""
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
        views=_sets(item, "views"),
    )
    for name, pin in _objects(item.get("tools", {}), server):
        tool, kept = pin["tool"], _fields(pin, fields)
        if not isinstance(tool, dict) or pin["digest"] != toolDigest(tool, kept):
            raise ValueError(f"server {server!r}: the pin of {name!r} does not match its digest")
        record.tools[name] = Pin(
            pin["digest"], tool, float(pin.get("approvedAt", 0.0)), kept, _sets(pin, "seenWith")
        )
    for name, change in _objects(item.get("pending", {}), server):
        kind, tool, digest = change["change"], change.get("tool"), change.get("digest")
        kept = _fields(change, fields)
        if kind not in KINDS:
            raise ValueError(f"server {server!r}: {name!r} has an unknown change {kind!r}")
        if kind != REMOVED and (not isinstance(tool, dict) or digest != toolDigest(tool, kept)):
            raise ValueError(f"server {server!r}: the change of {name!r} does not match its digest")
        record.pending[name] = Change(
            kind,
            None if kind == REMOVED else digest,
            None if kind == REMOVED else tool,
            float(change.get("seenAt", 0.0)),
            kept,
            _sets(change, "seenWith"),
        )
    return record


def _fields(item: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    """The fields a pin or change of the file keeps (C{default}: it does not say)."""
    named = item.get("fields")
    if named is None:
        return default
    if not isinstance(named, list) or not set(named) <= set(PINNED_FIELDS) or "name" not in named:
        raise ValueError(f"fields {named!r} are not pinned fields")
    return tuple(name for name in PINNED_FIELDS if name in named)


def _sets(item: dict[str, Any], key: str) -> Sets | None:
    """The capability sets C{item} keeps under C{key} (C{None}: none)."""
    value = item.get(key)
    return None if value is None else decode(value)


def _objects(value: Any, server: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise TypeError(f"server {server!r}: its tools are not objects")
    return list(value.items())


def filePath(stateDir: Path) -> Path:
    """The pins file of the state directory C{stateDir}."""
    return Path(os.path.expanduser(stateDir)) / PINS_FILE
