# -*- test-case-name: tests.sandbox.test_learnsuggest -*-
"""The least-privilege profile a learning server's records suggest
(C{mcpgateway sandbox suggest}): what it used beyond what the default
profile gives it, in the shape of an entry's C{"sandbox"} object.

 - A path it read goes to C{allowRead}, one it wrote (or failed to write:
   its home is read-only while it learns) to C{allowWrite}; one it could
   not find in its sandbox only when it exists here (the sandbox hid it).
   What the default profile shows already (the system, its own program,
   its caches, its private C{/tmp}) is left out.
 - Paths are collapsed to directories: a file to its directory (a server
   may write by renaming a file beside it), never your home, C{/} or the
   state directory whole (the file alone then); everything under a
   directory of your home whose name starts with a dot (C{~/.npm},
   C{~/.cache/pip}, C{~/.local/share/x}) to that directory, the package
   cache it is; elsewhere, many directories of one place (more than
   L{MAX_SPREAD}) to what they share.
 - A path of the deny list (keys, credentials, histories), the state
   directory, or a write to the system is never suggested: each is said
   once as kept denied.
 - Each host and port the proxy was asked for goes to C{allowedDomains}
   (C{host}, or C{host:port} beyond 80 and 443); a local address is named
   literally (the only way the proxy reaches it) and said; the gateway's
   own port never.

Pure but for the callables it is handed (does a path exist here, is it a
directory).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.learnrecord import Access, Records
from mcpgateway.sandbox.netproxy import addressOf, isPublic
from mcpgateway.sandbox.profile import MAX_ENTRIES

MAX_SPREAD = 8
"""Directories of one place kept apart before they are collapsed to what
they share."""
DENIED_ERRORS = frozenset({"EACCES", "EPERM", "EROFS"})
"""Errors that say the sandbox refused (what the suggestion then allows)."""
PSEUDO = ("/proc", "/sys", "/dev", "/.mcpgateway-proxy")
PRIVATE = ("/tmp", "/var/tmp")
XDG_HOMES = ((".cache",), (".config",), (".local", "share"), (".local", "state"), (".local", "lib"))
"""Directories of the home whose children are each one program's."""
DNS_PORT = 53


@dataclass(frozen=True)
class Baseline:
    """What the default profile gives the server already.

    @ivar readOnly: the paths bound read-only for it (as it sees them).
    @ivar writable: the paths bound writable for it.
    @ivar system: the system directories it sees (as named and resolved).
    """

    home: str
    stateDir: str
    readOnly: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    system: tuple[str, ...] = ()
    gatewayPort: int | None = None

    @classmethod
    def fromLayout(
        cls,
        layout: dict[str, Any],
        stateDir: str,
        realpath: Callable[[str], str] = posixpath.realpath,
        gatewayPort: int | None = None,
    ) -> Baseline:
        """From a layout's JSON (L{mcpgateway.sandbox.layout.Layout.toJson})."""
        system: list[str] = []
        for _, _, path in layout.get("system") or ():
            system += [path, realpath(path)]
        return cls(
            home=str(layout["home"]),
            stateDir=stateDir,
            readOnly=tuple(layout.get("readOnly") or ()),
            writable=tuple(layout.get("writable") or ()),
            system=tuple(dict.fromkeys(system)),
            gatewayPort=gatewayPort,
        )


@dataclass
class Suggestion:
    """The suggested profile, and what was left out and why."""

    allowRead: list[str] = field(default_factory=list)
    allowWrite: list[str] = field(default_factory=list)
    allowedDomains: list[str] = field(default_factory=list)
    keptDenied: list[str] = field(default_factory=list)
    """One line per deny-list entry (or place) it tried, kept denied."""
    notes: list[str] = field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        """The entry's C{"sandbox"} object."""
        out: dict[str, Any] = {}
        files = {"allowRead": self.allowRead, "allowWrite": self.allowWrite}
        files = {key: paths for key, paths in files.items() if paths}
        if files:
            out["filesystem"] = files
        if self.allowedDomains:
            out["network"] = {"allowedDomains": self.allowedDomains}
        return out


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def shown(path: str, home: str) -> str:
    """C{path} as a profile writes it: C{~/...} under the home."""
    if under(path, home) and path != home:
        return "~/" + path[len(home.rstrip("/")) + 1 :]
    return path


class _Judge:
    """Sorts a record's uses of paths into what to allow and what not."""

    def __init__(
        self,
        base: Baseline,
        exists: Callable[[str], bool],
        isdir: Callable[[str], bool],
    ) -> None:
        self.base = base
        self.exists = exists
        self.isdir = isdir
        self.home = base.home
        self.deny = [(posixpath.normpath(self.home + e[1:]), e) for e in defaults.DENY_HOME]
        self.deny += [(e, e) for e in defaults.DENY_SYSTEM]
        self.kept: dict[str, str] = {}
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.made: set[str] = set()
        """Directories it made where nothing wider may be allowed."""

    def visible(self, path: str) -> bool:
        """Whether the system binds show C{path}."""
        if any(under(path, hidden) for hidden in defaults.VAR_HIDDEN):
            return False
        return any(under(path, root) for root in self.base.system)

    def needed(self, path: str) -> bool:
        """Whether C{path} is in the sandbox anyway: a parent of what is
        bound (a mount point), the home itself, the root."""
        bound = (*self.base.readOnly, *self.base.writable, *self.base.system, self.home)
        return any(under(b, path) for b in bound)

    def judge(self, access: Access) -> None:
        path = access.path
        if not path.startswith("/") or any(under(path, p) for p in PSEUDO):
            return
        for full, entry in self.deny:
            if under(path, full):
                self.kept.setdefault(
                    entry, f"{shown(full, self.home)} (its deny list: never suggested)"
                )
                return
        if under(path, self.base.stateDir):
            caches = posixpath.join(self.base.stateDir, defaults.STATE_CACHES)
            if not any(under(path, own) for own in (*self.base.readOnly, caches)):
                self.kept.setdefault(
                    "state", f"{self.base.stateDir} (the gateway's state directory: never shown)"
                )
            return
        if not self._used(access):
            return
        if access.write:
            if any(under(path, w) for w in self.base.writable):
                return
            if self.visible(path):
                self.kept.setdefault(
                    "system:" + path, f"writing {path} (a system path: kept read-only)"
                )
                return
            self.writes.add(self._writeUnit(access))
            return
        if self.visible(path) or self.needed(path):
            return
        if any(under(path, b) for b in (*self.base.readOnly, *self.base.writable)):
            return
        unit = path if self.isdir(path) else posixpath.dirname(path)
        self.reads.add(path if self.wide(unit) else unit)

    def _used(self, access: Access) -> bool:
        """Whether the record says the server needs C{access}'s path: it
        worked (and is no private place of its own), the sandbox refused
        it, or hid a path that exists here."""
        if access.error is None:  # its private /tmp is its own, your home shown is not
            private = any(under(access.path, p) for p in PRIVATE)
            return not private or under(access.path, self.home)
        if access.error in DENIED_ERRORS:
            return True
        return access.error == "ENOENT" and self.exists(access.path)

    def _writeUnit(self, access: Access) -> str:
        """What a write makes writable: the path's directory (a server may
        write by renaming a file beside it), or where that is wide the path
        alone (a directory it made: made, L{made})."""
        path = access.path
        if self.isdir(path) and not access.mkdir:
            return path
        unit = posixpath.dirname(path)
        if not self.wide(unit):
            return unit
        if access.mkdir:
            self.made.add(path)
        return path

    def wide(self, path: str) -> bool:
        """Never suggested whole: the root, the home and what holds it, the
        shared temporary directories, the state directory."""
        if path in ("/", self.home, self.base.stateDir, "/home", "/Users", "/root", *PRIVATE):
            return True
        if any(path == posixpath.join(self.home, *xdg) for xdg in XDG_HOMES):
            return True  # ~/.cache, ~/.config...: every program's
        if path == posixpath.join(self.home, ".local"):
            return True
        return under(self.home, path) or under(self.base.stateDir, path)


def anchorOf(path: str, home: str) -> tuple[str, bool]:
    """The place C{path} belongs to, and whether that is one program's own
    (a dot directory of the home, or one under C{~/.cache},
    C{~/.local/share}...): collapsed to it whole."""
    if under(path, home) and path != home:
        parts = path[len(home.rstrip("/")) + 1 :].split("/")
        for prefix in XDG_HOMES:
            if tuple(parts[: len(prefix)]) == prefix and len(parts) > len(prefix):
                return posixpath.join(home, *parts[: len(prefix) + 1]), True
        return posixpath.join(home, parts[0]), parts[0].startswith(".")
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:2]), False


def collapse(units: Iterable[str], home: str, wide: Callable[[str], bool]) -> list[str]:
    """Directories collapsed as the module says, outermost only."""
    byAnchor: dict[str, list[str]] = {}
    owned: set[str] = set()
    for unit in units:
        anchor, own = anchorOf(unit, home)
        if own and not wide(anchor):
            owned.add(anchor)
        else:
            byAnchor.setdefault(anchor, []).append(unit)
    out = set(owned)
    for anchor, group in byAnchor.items():
        if len(group) > MAX_SPREAD:
            common = posixpath.commonpath(group)
            out.add(common if under(common, anchor) and not wide(common) else anchor)
        else:
            out.update(group)
    return outermost(out)


def outermost(paths: Iterable[str]) -> list[str]:
    """C{paths} without those inside another of them, sorted."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(under(path, k) for k in kept):
            kept.append(path)
    return sorted(kept)


def _written(judge: _Judge, units: Iterable[str]) -> list[str]:
    """Units as a profile writes them (a directory to be made ends with C{/})."""
    out = []
    for path in collapse(units, judge.home, judge.wide):
        text = shown(path, judge.home)
        out.append(text + "/" if path in judge.made and not judge.exists(path) else text)
    return out


def suggest(
    records: Records,
    base: Baseline,
    exists: Callable[[str], bool],
    isdir: Callable[[str], bool],
) -> Suggestion:
    """The profile C{records} suggest on top of C{base}."""
    judge = _Judge(base, exists, isdir)
    for access in sorted(records.accesses, key=lambda a: (a.path, a.write)):
        judge.judge(access)
    out = Suggestion()
    writable = collapse(judge.writes, judge.home, judge.wide)
    reads = {r for r in judge.reads if not any(under(r, w) for w in writable)}
    out.allowWrite = _written(judge, writable)[:MAX_ENTRIES]
    out.allowRead = _written(judge, reads)[:MAX_ENTRIES]
    out.keptDenied = sorted(judge.kept.values())
    out.allowedDomains, notes = domains(records.hosts, base.gatewayPort)
    out.notes += notes
    out.notes += _connections(records)
    if not records.straced:
        out.notes.append(
            "paths were not recorded: strace is not installed (apt-get install strace, then let"
            " the server learn again); the network part stands"
        )
    if records.truncated:
        out.notes.append("a record reached its cap: what came after it is not in the suggestion")
    return out


def entryFor(host: str, port: int) -> str:
    """The C{allowedDomains} entry of C{host} on C{port}."""
    name = f"[{host}]" if ":" in host else host
    return name if port in defaults.DEFAULT_PORTS else f"{name}:{port}"


def domains(
    hosts: Iterable[tuple[str, int, str]], gatewayPort: int | None
) -> tuple[list[str], list[str]]:
    """The C{allowedDomains} of the hosts the proxy recorded, and notes."""
    entries: dict[str, None] = {}
    notes: list[str] = []
    for host, port, outcome in sorted(hosts):
        address = addressOf(host)
        if address is not None and not isPublic(address) and port == gatewayPort:
            notes.append(f"{host}:{port} is the gateway's own port: never suggested")
            continue
        if outcome == "local" and address is None:
            notes.append(
                f"{host}:{port} resolves to a local address, which the proxy reaches only when"
                ' the profile names the address itself ("127.0.0.1:PORT"): not suggested'
            )
            continue
        entry = entryFor(host, port)
        if address is not None and not isPublic(address):
            notes.append(f"{entry} is a local address: allow it only if the server must reach it")
        entries[entry] = None
    return list(entries)[:MAX_ENTRIES], list(dict.fromkeys(notes))


def _connections(records: Records) -> list[str]:
    """Notes on the direct connections it tried (no route in the sandbox)."""
    out = []
    for conn in sorted(records.connections, key=lambda c: (c.host, c.port)):
        if (conn.host, conn.port) == ("127.0.0.1", 3128) or conn.port == DNS_PORT:
            continue
        out.append(
            f"it connected directly to {entryFor(conn.host, conn.port)}, which only goes out"
            ' through the proxy (HTTP) or with "network": "host"'
        )
    return out[:16]
