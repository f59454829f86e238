# -*- test-case-name: tests.ops.test_catalogstore -*-
"""The servers' catalogs in the state directory: C{catalogs/<server>[@<key>].json}.

L{CatalogStore} is the file side of
C{CatalogPersistence} (L{mcpgateway.core.aggregate.types}): what a server listed
(tools, prompts, resources, templates, serverInfo, ...), kept so that the
aggregate endpoint can list a server that has no child running, from the
first request after a start. The core calls it in a thread
(C{deferToThread}): L{CatalogStore.loadAll} once at start,
L{CatalogStore.save} when a catalog changed. Both are plain blocking file
work, and nothing here touches the reactor or logs: problems come back as
values (L{Loaded.warnings}) or exceptions, for the caller to log in the
reactor thread.

The directory is mode 0700, each file 0600 (written through
L{mcpgateway.runtime.atomicfile.writeFileAtomic}), C{{"version": 1, "server": ...,
"catalogKey": ..., <the record's keys>}}. A save that would write what the
file already holds (apart from its C{taken} time) writes nothing. A file
that cannot be read, is not JSON, is of another version or names another
server than its file name is skipped, left in place, and named in a
warning; the next save for that catalog replaces it.

A record's C{programs} (the files whose code its server runs,
L{mcpgateway.core.catalogdata.programFiles}) are saved with their
modification time and size. A catalog read back after one of them changed
is read without its C{entry}: it is not current for any entry
(L{mcpgateway.core.gateway.catalogserve}), so the next client's start-up
starts the child, whose listing replaces it (L{Loaded.changed} names the
file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.runtime.atomicfile import TEMP_SUFFIX, writeFileAtomic

VERSION = 1
"""The version of the files' layout."""
DIRECTORY = "catalogs"
"""The directory, under the state directory."""
SUFFIX = ".json"
MAX_BYTES = 8 * 1024 * 1024
"""A bigger catalog is neither written nor read."""
OWN_KEYS = ("version", "server", "catalogKey")
"""The keys of a file that the store sets (a record's own are replaced)."""
_SERVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CatalogTooLarge(ValueError):
    """A catalog's file would be over L{MAX_BYTES}; nothing was written."""


@dataclass(frozen=True)
class CatalogFileWarning:
    """A file of the directory that L{CatalogStore.loadAll} skipped.

    @ivar path: the file.
    @ivar why: what is wrong with it.
    """

    path: Path
    why: str

    def __str__(self) -> str:
        return (
            f"the catalog file {self.path} {self.why}; it is ignored "
            "(its server is listed again when it runs)"
        )


class Loaded(dict[tuple[str, str], dict[str, Any]]):
    """The catalogs L{CatalogStore.loadAll} read: (server, catalogKey) ->
    record, with the files it skipped in L{warnings}, and in L{changed}
    the program file that changed since each catalog so read was listed."""

    warnings: tuple[CatalogFileWarning, ...] = ()
    changed: dict[tuple[str, str], str]


def stamp(path: str) -> list[int] | None:
    """The modification time (ns) and size of the file at C{path}
    (C{None}: there is none)."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return [found.st_mtime_ns, found.st_size]


def stamped(programs: Any) -> dict[str, list[int] | None]:
    """A record's C{programs} (a list of paths) with their L{stamp}s."""
    paths = programs if isinstance(programs, list) else []
    return {path: stamp(path) for path in paths if isinstance(path, str)}


def changedProgram(programs: Any) -> str | None:
    """The first file of a saved C{programs} whose L{stamp} is not the
    one saved (C{None}: none changed, or none was saved)."""
    for path, saved in programs.items() if isinstance(programs, dict) else ():
        if isinstance(path, str) and stamp(path) != saved:
            return path
    return None


def fileName(server: str, catalogKey: str = "") -> str:
    """The name of the file of C{server}'s catalog under C{catalogKey}.

    A server name of the config's shape (C{[A-Za-z0-9][A-Za-z0-9_.-]*}, at
    most 64) and a key of C{[A-Za-z0-9_-]} (at most 64) appear as they are;
    anything else (no config makes it) by its hash, C{~<32 hex>}, so that no
    name can reach outside the directory or be a hidden file.
    """
    stem = server if _SERVER.fullmatch(server) else "~" + _hash(server)
    if catalogKey:
        stem += "@" + (catalogKey if _KEY.fullmatch(catalogKey) else "~" + _hash(catalogKey))
    return stem + SUFFIX


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def encode(server: str, catalogKey: str, record: dict[str, Any]) -> bytes:
    """The file's bytes for C{record}: compact ASCII JSON (L{dumpBody}).

    @raise ValueError: C{record} is not strict JSON (a number that is not
        finite, a value JSON has no word for).
    """
    return dumpBody(_body(server, catalogKey, record))


def _body(server: str, catalogKey: str, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "version": VERSION, "server": server, "catalogKey": catalogKey}


def dumpBody(body: dict[str, Any]) -> bytes:
    """A file's bytes for C{body} (naming its C{server}): compact ASCII
    JSON, in the order of C{body}: an item keeps the order of its keys as
    the server listed it (a tool's parameters are shown in that order by a
    model's prompt and a form alike), whether it is served from its child
    or from this file.

    @raise ValueError: C{body} is not strict JSON.
    """
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, RecursionError) as e:
        raise ValueError(f"the catalog of {body['server']!r} is not JSON: {e}") from None
    return text.encode("ascii")


def _fingerprint(body: dict[str, Any]) -> str:
    """What decides whether a file must be written again: its body without
    its C{taken} time."""
    return hashlib.sha256(dumpBody({k: v for k, v in body.items() if k != "taken"})).hexdigest()


class CatalogStore:
    """The catalogs of one gateway, one file each under
    C{<stateDir>/catalogs} (see the module docstring).

    Safe to call from several threads at once.

    @ivar writes: how many files were written (for tests and curiosity).
    """

    def __init__(self, stateDir: Path) -> None:
        self.directory = stateDir / DIRECTORY
        self.writes = 0
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str], str] = {}

    def pathOf(self, server: str, catalogKey: str = "") -> Path:
        """The file of C{server}'s catalog under C{catalogKey}."""
        return self.directory / fileName(server, catalogKey)

    def loadAll(self) -> Loaded:
        """Every catalog in the directory, by (server, catalogKey): each
        record as it was saved (C{server} and C{catalogKey} included,
        C{version} left out). Never raises: a file it cannot use is named
        in the result's C{warnings}; no directory means no catalogs."""
        loaded = Loaded()
        loaded.changed = {}
        warnings: list[CatalogFileWarning] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            names = []
        except OSError as e:
            warnings.append(CatalogFileWarning(self.directory, f"cannot be listed ({_why(e)})"))
            names = []
        fingerprints: dict[tuple[str, str], str] = {}
        for name in names:
            if name.startswith(".") or not name.endswith(SUFFIX) or name.endswith(TEMP_SUFFIX):
                continue  # a temp file of a write, or not ours
            path = self.directory / name
            try:
                body = self._read(path)
                fingerprint = _fingerprint(body)
            except (UnusableFile, ValueError) as e:
                warnings.append(CatalogFileWarning(path, str(e)))
                continue
            key = (body["server"], body["catalogKey"])
            fingerprints[key] = fingerprint
            del body["version"]
            changed = changedProgram(body.get("programs"))
            if changed is not None:
                loaded.changed[key] = changed
                body.pop("entry", None)
            loaded[key] = body
        with self._lock:
            self._written.update(fingerprints)
        loaded.warnings = tuple(warnings)
        return loaded

    def _read(self, path: Path) -> dict[str, Any]:
        """The checked body of the file at C{path}.

        @raise UnusableFile: it cannot be used; says why.
        """
        body = readObject(path)
        version = body.get("version")
        if type(version) is not int or version != VERSION:
            raise UnusableFile(f"is not of version {VERSION} (another gateway's version?)")
        server, catalogKey = body.get("server"), body.get("catalogKey", "")
        if not isinstance(server, str) or not isinstance(catalogKey, str):
            raise UnusableFile("names no server")
        if fileName(server, catalogKey) != path.name:
            raise UnusableFile("names another server than its file name")
        body["catalogKey"] = catalogKey
        return body

    def save(self, server: str, catalogKey: str, record: dict[str, Any]) -> None:
        """Write C{record} as the catalog of C{server} under C{catalogKey}
        (atomically, mode 0600, the directory made 0700), unless the file
        already holds it apart from its C{taken} time.

        @raise CatalogTooLarge: it would be over L{MAX_BYTES}.
        @raise ValueError: C{record} is not strict JSON.
        @raise OSError: the file system refused.
        """
        body = _body(server, catalogKey, record)
        if "programs" in body:
            body["programs"] = stamped(body["programs"])
        data = dumpBody(body)
        if len(data) > MAX_BYTES:
            raise CatalogTooLarge(
                f"the catalog of {server!r} would be {len(data)} bytes, over {MAX_BYTES}; "
                "it is not saved"
            )
        fingerprint = _fingerprint(body)
        key = (server, catalogKey)
        with self._lock:
            if self._written.get(key) == fingerprint:
                return
            self._makeDirectory()
            writeFileAtomic(self.pathOf(server, catalogKey), data, 0o600)
            self._written[key] = fingerprint
            self.writes += 1

    def _makeDirectory(self) -> None:
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            mode = os.stat(self.directory).st_mode
            if mode & 0o077:
                with contextlib.suppress(OSError):
                    os.chmod(self.directory, stat.S_IMODE(mode) & 0o700)


class UnusableFile(Exception):
    """A file L{CatalogStore.loadAll} cannot use; says why."""


def readObject(path: Path) -> dict[str, Any]:
    """The JSON object in the file at C{path}: a regular file (a symbolic
    link is not followed), at most L{MAX_BYTES}, strict JSON.

    @raise UnusableFile: it cannot be used; says why.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UnusableFile(f"cannot be opened ({_why(e)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnusableFile("is not a regular file")
        chunks = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise UnusableFile(f"cannot be read ({_why(e)})") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise UnusableFile(f"is larger than {MAX_BYTES} bytes")
    try:
        body = json.loads(b"".join(chunks), parse_constant=_refuseConstant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise UnusableFile("is not JSON") from None
    if not isinstance(body, dict):
        raise UnusableFile("is not a JSON object")
    return body


def _refuseConstant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _why(e: OSError) -> str:
    return e.strerror or str(e)
