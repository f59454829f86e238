# -*- test-case-name: tests.cli.test_clients -*-
"""What an adoption pass reports, per file and in all: the entries adopted,
skipped (and why) or restored, what `mcpgateway clients` and the log show.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileReport:
    """What happened to one client file; entries by their labels."""

    client: str
    path: str
    adopted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Adopted entries the user changed or removed since, or the gateway can
    no longer serve: no longer served."""
    restored: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    """Entries put back from a kept backup: a client had written back a copy
    that pointed at a stopped gateway."""
    kept: list[str] = field(default_factory=list)
    """Entries the user changed since adoption: left as the user has them."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Stdio entries not adopted, and why."""
    said: frozenset[tuple[str, str]] = frozenset()
    """The C{skipped} already told by an earlier operation (not in L{messages})."""
    notes: list[str] = field(default_factory=list)
    versionControlled: bool = False
    refused: str | None = None
    """Why nothing was written: the client's policy would refuse the entries."""
    ignored: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """Adopted entries (by name) still the gateway's with launch keys added
    by the user, which have no effect (L{mcpgateway.clientconfigs.ignoredkeys})."""

    def messages(self) -> list[str]:
        out = []
        where = f"{self.path} ({self.client})"
        for verb, names in (
            ("adopted", self.adopted),
            ("restored", self.restored),
            ("no longer served (the file changed)", self.removed),
            ("left as the user changed them", self.kept),
        ):
            if names:
                out.append(f"{where}: {verb}: {', '.join(names)}")
        if self.adopted and self.versionControlled:
            out.append(
                f"{where} is a project file, usually under version control: it was"
                " rewritten (the client has no private file that overrides it) and is"
                " restored when the gateway stops"
            )
        out.extend(
            f"{where}: {name} not adopted: {why}"
            for name, why in self.skipped
            if (name, why) not in self.said
        )
        out.extend(self.notes)
        return out


@dataclass
class EngineReport:
    """What one engine operation did, per file, and what it could not do."""

    files: list[FileReport] = field(default_factory=list)
    skippedClients: list[tuple[str, str]] = field(default_factory=list)
    """Clients not adopted because of a policy, and why."""
    warnings: list[str] = field(default_factory=list)
    """Files left untouched (unparsable, unreadable, kept changing...)."""
    reloads: dict[str, str] = field(default_factory=dict)
    """For each client whose file changed: how it picks the change up."""

    @property
    def changed(self) -> bool:
        return any(f.adopted or f.removed or f.restored for f in self.files)

    def messages(self) -> list[str]:
        out = [m for f in self.files for m in f.messages()]
        out.extend(f"{client} skipped: {why}" for client, why in self.skippedClients)
        out.extend(f"{client}: {how}" for client, how in sorted(self.reloads.items()))
        return out
