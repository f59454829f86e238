# -*- test-case-name: tests.clientconfigs.test_engine,tests.clientconfigs.test_claude -*-
"""One adoption pass over one client file: what the engine does to the
latest content of a file, as a function of that content (it may run again
on newer bytes when a client writes in between).

An L{AdoptionPass} goes over each block of entries of the file (and the
blocks its backup still names): the entries adopted before are kept,
pointed at a new URL, or given back (the gateway can no longer serve them,
another server now holds their route, the user changed or removed them);
new stdio entries are adopted (a stale copy of an earlier run's adopted
entry gets its original back first); an adapter's shadow entries are made.
Then the backup's blocks, stamp and kept texts are settled and the new
content produced. The engine it works for is a L{PassHost}
(L{mcpgateway.clientconfigs.engine.AdoptionEngine}).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mcpgateway.clientconfigs.backups import (
    MISSING,
    VERBATIM_FORMATS,
    Backup,
    BlockInfo,
    PriorStamp,
    Record,
)
from mcpgateway.clientconfigs.clients.base import (
    Block,
    ClientAdapter,
    ClientFile,
    Host,
    Unservable,
    isBridgeEntry,
)
from mcpgateway.clientconfigs.documents import Document, parseDocument, sha256
from mcpgateway.clientconfigs.ignoredkeys import addedLaunchKeys
from mcpgateway.clientconfigs.location import Location
from mcpgateway.clientconfigs.reports import FileReport
from mcpgateway.clientconfigs.restoring import (
    editable,
    ours,
    preStartCopy,
    putBack,
    restoreEntry,
    revivable,
)
from mcpgateway.clientconfigs.timeouts import followEdit

UrlFor = Callable[[str, "str | None"], str]
"""C{urlFor(name, None)}: a user-scope server's URL; C{urlFor(name, path)}:
the URL of the route of the workspace C{path} (a project file's server)."""
Claims = dict[tuple[str, "str | None"], tuple[str, dict[str, Any]]]
"""The routes adopted so far, C{(name, workspace)}: who adopted it, and what
is served there."""


@dataclass
class FilePass:
    """One adoption pass over the latest content of a file: the backup and
    the document as they would be after it, and what it did."""

    backup: Backup
    doc: Document
    blocks: list[Block]
    report: FileReport
    out: bytes | None
    """The new content (C{None}: nothing to write)."""
    declined: set[tuple[Location, str]] = field(default_factory=set)
    onceNotes: list[str] = field(default_factory=list)
    claims: Claims = field(default_factory=dict)


class PassHost(Protocol):
    """What a pass needs of the engine it works for."""

    host: Host
    _declined: set[tuple[str, Location, str]]

    def _servedHere(
        self, adapter: ClientAdapter, name: str, entry: Any, file: ClientFile, block: Block
    ) -> dict[str, Any]: ...

    def _served(
        self, adapter: ClientAdapter, name: str, entry: Any, file: ClientFile
    ) -> dict[str, Any] | None: ...

    def _clash(
        self, name: str, served: dict[str, Any], workspace: str | None, claims: Claims | None
    ) -> str | None: ...

    def _url(
        self,
        urlFor: UrlFor,
        name: str,
        served: dict[str, Any],
        workspace: str | None,
        claims: Claims,
    ) -> str: ...

    def _written(
        self, adapter: ClientAdapter, name: str, url: str, original: Any
    ) -> dict[str, Any]: ...

    def _servable(self, name: str, served: dict[str, Any]) -> bool: ...

    def _check(
        self,
        name: str,
        served: dict[str, Any],
        entry: Any,
        block: Block,
        claims: Claims | None,
    ) -> None: ...

    def _now(self) -> float: ...


class AdoptionPass:
    """The adoption of one file's content C{raw}, given its backup C{base}."""

    def __init__(
        self,
        engine: PassHost,
        adapter: ClientAdapter,
        file: ClientFile,
        raw: bytes,
        base: Backup,
        kept: list[Backup],
        urlFor: UrlFor,
        claims: Claims,
        shadows: bool,
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.file = file
        self.raw = raw
        self.base = base
        self.kept = kept
        self.urlFor = urlFor
        self.doc = parseDocument(file.path, file.format, raw)
        self.report = FileReport(
            adapter.id, str(file.path), versionControlled=file.versionControlled
        )
        self.result = FilePass(
            Backup(base.client, base.configPath, base.format), self.doc, [], self.report, None
        )
        self.new = new = self.result.backup
        new.versionControlled, new.undo, new.stamp = (
            base.versionControlled,
            list(base.undo),
            base.stamp,
        )
        self.result.blocks = adapter.blocks(file, self.doc)
        self.candidates = adapter.shadowed(file, self.doc, self.result.onceNotes) if shadows else {}
        self.result.claims = self.local = dict(claims)
        self.who = f"{adapter.id} ({file.path})"
        self.created = {location for location, info in base.blocks.items() if info.created}
        self.revivedFrom: Backup | None = None
        self.changed = False
        self.pristine = True
        """C{raw} holds no entry the gateway wrote (see L{Backup.pushUndo})."""
        self.preStart = preStartCopy(self.doc, base)
        """C{raw} is a copy a client read before the gateway's first write."""
        self.parsed: dict[str, Document | None] = {}
        self.texts = dict(base.origins)
        """The texts the records' C{origin}s name (see L{Backup.origins})."""
        self.rawOrigin: str | None = None
        if file.format in VERBATIM_FORMATS:
            self.rawOrigin = sha256(raw)
            self.texts.setdefault(self.rawOrigin, raw.decode("utf-8"))

    def run(self, dry: bool = False) -> FilePass:
        """Go over every block, then settle the backup and the content."""
        known = {block.location for block in self.result.blocks}
        self.orphans = [
            Block(loc, i.workspace, i.scope)
            for loc, i in self.base.blocks.items()
            if loc not in known
        ]
        for block in [*self.result.blocks, *self.orphans]:
            blockFile = replace(self.file, location=block.location, workspace=block.workspace)
            entries = dict(self.doc.entries(block.location) or [])
            unadopted: dict[str, Record] = {}
            self._keepAdopted(block, blockFile, entries, unadopted)
            self._adoptNew(block, blockFile, entries, unadopted)
            self._addShadows(block, blockFile, entries, unadopted)
        return self._finish(dry)

    def _handBack(self, loc: Location, name: str, record: Record, entry: Any) -> None:
        """An adopted entry given back mid-run: as at a restore, its own
        text when it can be had (L{restoreEntry}), else its value."""
        if record.original is None:
            putBack(self.doc, loc, name, record, loc in self.created, entry)
            return
        self.doc = restoreEntry(
            self.doc, self.base, loc, name, record, entry, self.file.path, self.parsed
        )

    def _adopted(self, block: Block, name: str, record: Record) -> None:
        self.new.records[(block.location, name)] = record
        self.local.setdefault((name, block.workspace), (self.who, record.served))

    def _keepAdopted(
        self,
        block: Block,
        blockFile: ClientFile,
        entries: Mapping[str, Any],
        unadopted: dict[str, Record],
    ) -> None:
        """The entries the backup says were adopted: kept (at a new URL if
        it moved), given back, or dropped from the backup (the file wins).
        An edit of the client's own timeout alone keeps the entry adopted,
        its new value served (L{followEdit})."""
        loc, adapter, report = block.location, self.adapter, self.report
        for (recordLoc, name), record in self.base.records.items():
            if recordLoc != loc:
                continue
            entry = entries.get(name, MISSING)
            record = followEdit(adapter.toolTimeout, record, entry)
            shadow = record.original is None
            label = block.label(name, adapter.shadowNote if shadow else "")
            if ours(entry, record.written):
                self.pristine = False
                added = addedLaunchKeys(entry, record.written)
                if added and not shadow:
                    report.ignored.append((name, added))
                self._keepOne(block, blockFile, name, record, entry, label, unadopted)
            elif entry is not MISSING and entry == record.original:
                continue  # an ordinary stdio entry again: adopted below like any other
            elif not shadow and revivable(self.kept, loc, name, entry) is not None:
                report.removed.append(label)  # a stale copy of an earlier run: below
            elif shadow and entry is MISSING and self.preStart:
                # Written back from a copy read before the shadow was made
                # (its stdio entries are adopted again below): not the
                # user's removal, so the shadow is made again below.
                report.notes.append(
                    f"{label}: {self.file.path} was written back from a copy read before"
                    " the gateway adopted it; shadowed again"
                )
            else:
                if shadow:
                    self.result.declined.add((loc, name))
                report.removed.append(label)
                report.notes.append(
                    f"{label} was {'removed from' if entry is MISSING else 'changed in'}"
                    f" {self.file.path} while the gateway served it; the file wins:"
                    " dropped from the backup"
                )

    def _keepOne(
        self,
        block: Block,
        blockFile: ClientFile,
        name: str,
        record: Record,
        entry: Any,
        label: str,
        unadopted: dict[str, Record],
    ) -> None:
        """One entry still as the gateway wrote it: still served here, or
        given back (unservable now, or its route taken by another server)."""
        loc, adapter, report, engine = block.location, self.adapter, self.report, self.engine
        shadow = record.original is None
        source = self.candidates.get((loc, name)) if shadow else record.original
        try:
            if source is None:
                raise Unservable(f"no longer an approved server of {block.workspace}/.mcp.json")
            served = engine._servedHere(adapter, name, source, blockFile, block)
        except Unservable as e:
            self._handBack(loc, name, record, entry)
            unadopted[name] = record
            self.changed = True
            report.removed.append(label)
            report.notes.append(
                f"{label}: not shadowed any more ({e}); removed"
                if shadow
                else f"{label}: the gateway cannot serve it any more ({e});"
                " put its original entry back"
            )
            return
        clash = engine._clash(name, served, block.workspace, self.local)
        if clash is not None:
            # Another client's server now holds the route (one adopted
            # earlier in this pass changed): as at a fresh start, this entry
            # is not served there; it gets its original back.
            self._handBack(loc, name, record, entry)
            unadopted[name] = record
            self.changed = True
            report.restored.append(label)
            report.skipped.append((label, clash))
            return
        url = engine._url(self.urlFor, name, served, block.workspace, self.local)
        written = record.written
        if url != record.url:
            written = engine._written(adapter, name, url, source)
            self.doc.replaceEntry(loc, name, written)
            where = label if block.scope else f"{self.file.path}: {name}"
            report.notes.append(f"{where}: now at {url} (was {record.url})")
            self.changed = True
        self._adopted(block, name, replace(record, written=written, url=url, served=served))

    def _adoptNew(
        self,
        block: Block,
        blockFile: ClientFile,
        entries: Mapping[str, Any],
        unadopted: dict[str, Record],
    ) -> None:
        """The block's stdio entries not adopted yet (a stale copy of an
        earlier run's entry gets its original back first)."""
        loc, adapter, report, engine = block.location, self.adapter, self.report, self.engine
        for name, entry in entries.items():
            if (loc, name) in self.new.records or name in unadopted:
                continue
            label = block.label(name)
            revived = revivable(self.kept, loc, name, entry)
            stale = ""
            if revived is not None:
                self.pristine = False
                self.revivedFrom = self.revivedFrom or revived[1]
                stale = f"{label} pointed at a stopped gateway ({revived[0].url})"
                if revived[0].original is None:
                    putBack(self.doc, loc, name, revived[0], revived[1].blocks[loc].created)
                    unadopted[name] = revived[0]
                    self.changed = True
                    report.notes.append(
                        f"{stale}: a client wrote back a copy it had read while that"
                        " gateway served it; removed that shadow entry"
                    )
                    continue
                entry = revived[0].original
            try:
                found = engine._served(adapter, name, entry, blockFile)
                if found is None or isBridgeEntry(entry):
                    continue
                served = found
                if block.unroutable:
                    if block.workspace is not None and engine._servable(name, served):
                        self.result.onceNotes.append(f"{label}: {block.unroutable}; left as it is")
                    continue
                engine._check(name, served, entry, block, self.local)
            except Unservable as e:
                if revived is not None:
                    self.doc.replaceEntry(loc, name, copy.deepcopy(entry))
                    self.changed = True
                    report.notes.append(
                        f"{stale}; put its original back from the kept backup (not served: {e})"
                    )
                else:
                    report.skipped.append((label, str(e)))
                continue
            url = engine._url(self.urlFor, name, served, block.workspace, self.local)
            written = engine._written(adapter, name, url, entry)
            self.doc.replaceEntry(loc, name, written)
            origin = self.rawOrigin
            if revived is not None:
                origin = revived[0].origin
                self.texts.update(revived[1].origins)
            self._adopted(block, name, Record(copy.deepcopy(entry), written, url, served, origin))
            report.adopted.append(label)
            self.changed = True
            if revived is not None:
                report.notes.append(
                    f"{stale}: a client wrote back a copy it had read while that gateway"
                    " served it; adopted again with its original from the kept backup"
                )

    def _addShadows(
        self,
        block: Block,
        blockFile: ClientFile,
        entries: Mapping[str, Any],
        unadopted: dict[str, Record],
    ) -> None:
        """The adapter's shadow entries in front of another file's servers,
        unless a local entry of that name is the user's."""
        loc, adapter, engine = block.location, self.adapter, self.engine
        for (shadowLoc, name), source in self.candidates.items():
            if (
                shadowLoc != loc
                or (loc, name) in self.new.records
                or (loc, name) in self.result.declined
                or (self.base.configPath, loc, name) in engine._declined
            ):
                continue
            gone = unadopted.get(name)
            if (gone is not None and gone.original is not None) or (
                name in entries and gone is None
            ):
                continue  # a local entry of that name is the user's, and wins
            label = block.label(name, adapter.shadowNote)
            try:
                found = engine._served(adapter, name, source, blockFile)
                if found is None:
                    continue
                served = found
                if block.unroutable:
                    raise Unservable(block.unroutable)
                engine._check(name, served, source, block, self.local)
            except Unservable as e:
                if isinstance(source, dict) and "command" in source:
                    self.result.onceNotes.append(f"{label}: {e}; left to {adapter.title}")
                continue
            url = engine._url(self.urlFor, name, served, block.workspace, self.local)
            written = engine._written(adapter, name, url, source)
            if editable(self.doc).addEntry(loc, name, written):
                self.created.add(loc)
            self._adopted(block, name, Record(None, written, url, served))
            self.report.adopted.append(label)
            self.changed = True

    def _finish(self, dry: bool) -> FilePass:
        """Settle the backup (its blocks, records, stamp, kept texts and
        undo chain) and the new content; a client's policy may refuse it."""
        new, result, doc, adapter = self.new, self.result, self.doc, self.adapter
        if self.revivedFrom is not None:
            self.created |= {loc for loc, info in self.revivedFrom.blocks.items() if info.created}
        for block in [*result.blocks, *self.orphans]:
            records = [r for (loc, _), r in new.records.items() if loc == block.location]
            if records:
                new.blocks[block.location] = BlockInfo(
                    block.workspace,
                    block.scope,
                    block.location in self.created
                    and any(r.original is None for r in records)
                    and doc.entries(block.location) is not None,
                )
        new.records = {  # grouped by block, as the backup keeps them
            key: record
            for location in new.blocks
            for key, record in new.records.items()
            if key[0] == location
        }
        self._settleStamp()
        new.origins = {
            r.origin: self.texts[r.origin]
            for r in new.records.values()
            if r.origin is not None and r.origin in self.texts
        }
        result.doc = doc
        result.out = doc.text().encode("utf-8") if self.changed else None
        if result.out is not None and result.out != self.raw:
            new.pushUndo(self.raw, result.out, self.pristine)
        wanted = [(name, record.url) for (_, name), record in new.records.items()]
        if not dry and wanted:
            why = adapter.refuse(self.engine.host, wanted)
            if why is not None:
                result.report = FileReport(adapter.id, str(self.file.path), refused=why)
        return result

    def _settleStamp(self) -> None:
        """The adapter's stamp key: what it was kept (once), and set to now
        when the pass changed the file."""
        key, new = self.adapter.stampKey, self.new
        if key is not None and new.stamp is None:
            if self.revivedFrom is not None and self.revivedFrom.stamp is not None:
                new.stamp = replace(self.revivedFrom.stamp)
            else:
                top = editable(self.doc).topLevel()
                before = copy.deepcopy(top[key]) if key in top else MISSING
                new.stamp = PriorStamp(key, key not in top, before)
        if self.changed and key is not None:
            editable(self.doc).topLevel()[key] = int(self.engine._now() * 1000)
