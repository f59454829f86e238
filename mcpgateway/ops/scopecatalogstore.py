# -*- test-case-name: tests.ops.test_scopecatalogstore -*-
"""The catalogs of the servers' scopes in the state directory:
C{catalogs/scopes/<server>.json}.

L{ScopeCatalogStore} is the file side of C{ScopePersistence}
(L{mcpgateway.core.pools.scopecatalogfile}): what a per-session, promoted,
workspace, credential or per-user server listed for each of its I{scope
keys} (L{mcpgateway.core.pools.scopecatalog.scopeKey}), kept so that the
first session of a known key after a restart is answered without a probe
child. The core calls it in a thread: L{ScopeCatalogStore.loadAll} once at
start, L{ScopeCatalogStore.save} a few seconds after a server's catalogs
changed. Plain blocking file work: nothing here touches the reactor or
logs; problems come back as values (L{LoadedScopes.warnings}) or
exceptions.

One file per server, of the server's entry as it is now: C{{"version": 1,
"server": ..., "entry": <32 hex digits>, "catalogs": {<scope key>:
<record>}}}, mode 0600 in directories of mode 0700, written through
L{mcpgateway.runtime.atomicfile.writeFileAtomic}. The entry and the scope
keys are hashes (L{mcpgateway.core.catalogdata.entryOf}, the keyed child
and principal keys inside a scope key): no credential, token, env value or
principal's name is in a file, only what the server listed. A save with no
catalogs removes the server's file. A file that cannot be read, is not
JSON, is of another version or names another server than its file name is
skipped, left in place, and named in a warning; the server's next save
replaces it. A scope key or an entry that is not 32 hex digits is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpgateway.ops.catalogstore import (
    DIRECTORY,
    MAX_BYTES,
    SUFFIX,
    CatalogFileWarning,
    CatalogTooLarge,
    UnusableFile,
    dumpBody,
    fileName,
    readObject,
)
from mcpgateway.runtime.atomicfile import TEMP_SUFFIX, writeFileAtomic

VERSION = 1
"""The version of the files' layout."""
SCOPES = "scopes"
"""The directory, under the shared catalogs' (C{catalogs/scopes})."""
_HASH = re.compile(r"[0-9a-f]{32}")


class LoadedScopes(dict[str, dict[str, Any]]):
    """The files L{ScopeCatalogStore.loadAll} read: server -> C{{"entry":
    ..., "catalogs": {key: record}}}, with the files it skipped in
    L{warnings}."""

    warnings: tuple[CatalogFileWarning, ...] = ()


class ScopeCatalogStore:
    """The scope catalogs of one gateway, one file per server under
    C{<stateDir>/catalogs/scopes} (see the module docstring).

    Safe to call from several threads at once.

    @ivar writes: how many files were written or removed (for tests).
    """

    def __init__(self, stateDir: Path) -> None:
        self.directory = Path(stateDir) / DIRECTORY / SCOPES
        self.writes = 0
        self._lock = threading.Lock()

    def pathOf(self, server: str) -> Path:
        """The file of C{server}'s scope catalogs."""
        return self.directory / fileName(server)

    def loadAll(self) -> LoadedScopes:
        """Every server's scope catalogs in the directory. Never raises: a
        file it cannot use is named in the result's C{warnings}; no
        directory means no catalogs."""
        loaded = LoadedScopes()
        warnings: list[CatalogFileWarning] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            names = []
        except OSError as e:
            warnings.append(CatalogFileWarning(self.directory, f"cannot be listed ({e.strerror})"))
            names = []
        for name in names:
            if name.startswith(".") or not name.endswith(SUFFIX) or name.endswith(TEMP_SUFFIX):
                continue  # a temp file of a write, or not ours
            path = self.directory / name
            try:
                server, body = self._read(path)
            except UnusableFile as e:
                warnings.append(CatalogFileWarning(path, str(e)))
                continue
            loaded[server] = body
        loaded.warnings = tuple(warnings)
        return loaded

    def _read(self, path: Path) -> tuple[str, dict[str, Any]]:
        """The server and the checked body of the file at C{path}.

        @raise UnusableFile: it cannot be used; says why.
        """
        body = readObject(path)
        version = body.get("version")
        if type(version) is not int or version != VERSION:
            raise UnusableFile(f"is not of version {VERSION} (another gateway's version?)")
        server, entry, catalogs = body.get("server"), body.get("entry"), body.get("catalogs")
        if not isinstance(server, str) or fileName(server) != path.name:
            raise UnusableFile("names another server than its file name")
        if not isinstance(entry, str) or not _HASH.fullmatch(entry):
            raise UnusableFile("names no entry")
        if not isinstance(catalogs, dict):
            raise UnusableFile("holds no catalogs")
        kept = {
            key: record
            for key, record in catalogs.items()
            if _HASH.fullmatch(key) and isinstance(record, dict)
        }
        return server, {"entry": entry, "catalogs": kept}

    def save(self, server: str, entry: str, catalogs: Mapping[str, dict[str, Any]]) -> None:
        """Write C{catalogs} (by scope key) as the scope catalogs of
        C{server}'s entry C{entry} (atomically, mode 0600); none: remove
        its file.

        @raise CatalogTooLarge: the file would be over L{MAX_BYTES}.
        @raise ValueError: a record is not strict JSON, or a key or the
            entry is not a hash.
        @raise OSError: the file system refused.
        """
        path = self.pathOf(server)
        if not catalogs:
            with self._lock, contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                self.writes += 1
            return
        if not _HASH.fullmatch(entry) or not all(_HASH.fullmatch(key) for key in catalogs):
            raise ValueError(f"the scope catalogs of {server!r} are not keyed by hashes")
        with self._lock:
            body = {"version": VERSION, "server": server, "entry": entry, "catalogs": catalogs}
            data = dumpBody(body)
            if len(data) > MAX_BYTES:
                raise CatalogTooLarge(
                    f"the scope catalogs of {server!r} would be {len(data)} bytes, over"
                    f" {MAX_BYTES}; they are not saved"
                )
            self._makeDirectories()
            writeFileAtomic(path, data, 0o600)
            self.writes += 1

    def _makeDirectories(self) -> None:
        for directory in (self.directory.parent, self.directory):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                mode = os.stat(directory).st_mode
                if mode & 0o077:
                    with contextlib.suppress(OSError):
                        os.chmod(directory, stat.S_IMODE(mode) & 0o700)
