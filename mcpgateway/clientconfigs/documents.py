# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""A client config file as a document of entries, whatever its format, and
the one way such a file is rewritten.

 - L{Document}: the entries at a L{Location} (an object of entries keyed by
   name, or a list of entries with a C{name} key, as Continue has), as plain
   values, and L{Document.replaceEntry}, which changes only that entry and
   keeps the rest of the text (comments, order, layout) as the format's layer
   can: L{JsonDocument} (strict JSON or JSONC, spliced in place),
   L{mcpgateway.clientconfigs.tomldoc.TomlDocument} (tomlkit),
   L{mcpgateway.clientconfigs.yamldoc.YamlDocument} (ruamel.yaml round trip).
 - L{parseDocument}: the text of a file as a document of its format, or
   L{UnparsableError} naming the file and why.
 - L{updateFile}: a short read-modify-write of the latest bytes of a file:
   the caller's function turns the bytes into new bytes, which go to a temp
   file in the same directory (fsynced, the file's mode and owner); just
   before the rename the file's fingerprint is checked again and, if another
   program wrote in between, the cycle starts over on its content
   (L{mcpgateway.clientconfigs.jsonfile.replaceIfUnchanged}). A project's
   file is read and written only while it is its project's own: no symlink,
   its real path in the project (L{confinedTarget}).
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.jsonfile import (
    ConcurrentWriteError,
    Fingerprint,
    JsonFormat,
    parseJsonObject,
    replaceIfUnchanged,
)
from mcpgateway.clientconfigs.location import Location
from mcpgateway.config.servers import ConfigError

FORMATS = ("json", "jsonc", "toml", "yaml", "jsondata")
"""C{jsondata}: a machine-written JSON object (Claude Code's C{~/.claude.json}),
parsed whole and written back in its own layout (L{JsonDataDocument})."""


class UnparsableError(ConfigError):
    """A file the gateway cannot parse as its format: it is left untouched."""


class Document(Protocol):
    """A parsed client config file."""

    def entries(self, location: Location) -> list[tuple[str, Any]] | None:
        """The entries at C{location} in file order, as C{(name, plain
        value)} (dicts, lists, strings, numbers, booleans, C{None}); C{None}
        when there is no such container (or it has another shape)."""

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        """Replace the existing entry C{name} at C{location} by C{value}.

        @raise KeyError: there is no such entry.
        @raise ValueError: C{value} cannot be written in this format.
        """

    def text(self) -> str:
        """The document as text."""


class JsonDocument:
    """A JSON or JSONC text, edited by splicing (L{mcpgateway.clientconfigs.jsonc})."""

    def __init__(self, text: str, isJsonc: bool) -> None:
        self._text = text
        self._jsonc = isJsonc
        self._root = jsonc.parse(text, isJsonc)

    def entries(self, location: Location) -> list[tuple[str, Any]] | None:
        node = jsonc.lookup(self._root, location.path)
        if node is None:
            return None
        if location.listKey is None:
            if not isinstance(node.value, dict):
                return None
            return list(node.value.items())
        if not isinstance(node.value, list):
            return None
        return _listEntries(node.value, location.listKey)

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        container = jsonc.lookup(self._root, location.path)
        target: jsonc.Node | None = None
        if container is not None and location.listKey is None:
            target = container.member(name)
        elif container is not None:
            for item in container.items:
                if isinstance(item.value, dict) and item.value.get(location.listKey) == name:
                    target = item
        if target is None:
            raise KeyError(name)
        self._text = jsonc.splice(self._text, target, jsonc.render(value, self._text, target))
        self._root = jsonc.parse(self._text, self._jsonc)

    def text(self) -> str:
        return self._text


class JsonDataDocument:
    """A strict JSON object (no C{NaN}), changed as data and written back
    the way it was written (L{JsonFormat.detect}: indent, separators, ASCII
    escaping, trailing newline, CRLF): a key the gateway did not touch comes
    back byte for byte when the text was machine-written."""

    def __init__(self, path: Path, raw: bytes) -> None:
        try:
            self._data = parseJsonObject(path, raw)
        except ConfigError as e:
            raise UnparsableError(str(e)) from None
        self._text = raw.decode("utf-8")
        self._format = JsonFormat.detect(self._text, self._data)
        self._original = copy.deepcopy(self._data)

    def _container(self, location: Location, create: bool = False) -> Any:
        node: Any = self._data
        for index, key in enumerate(location.path):
            if not isinstance(node, dict):
                return None
            if key not in node and create and index == len(location.path) - 1:
                node[key] = {}
            node = node.get(key)
        return node if isinstance(node, dict) else None

    def entries(self, location: Location) -> list[tuple[str, Any]] | None:
        container = self._container(location)
        return None if container is None else copy.deepcopy(list(container.items()))

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        container = self._container(location)
        if container is None or name not in container:
            raise KeyError(name)
        container[name] = copy.deepcopy(value)

    def addEntry(self, location: Location, name: str, value: dict[str, Any]) -> bool:
        created = self._container(location) is None
        container = self._container(location, create=True)
        if container is None:
            raise KeyError(name)
        container[name] = copy.deepcopy(value)
        return created

    def removeEntry(self, location: Location, name: str, dropEmpty: bool = False) -> None:
        container = self._container(location)
        if container is None:
            return
        container.pop(name, None)
        if dropEmpty and not container:
            parent = self._container(Location(location.path[:-1]))
            if parent is not None:
                del parent[location.path[-1]]

    def topLevel(self) -> dict[str, Any]:
        return self._data

    def text(self) -> str:
        """The text: as read when nothing changed (L{jsonc.same}: a C{1}
        that became C{true} is a change); else in the detected format when it
        reproduces the text read (a machine-written file), else the text read
        with only the changed values spliced in (L{jsonc.update}: a
        hand-edited layout, a one-line entry, stays), or, when the splice
        cannot give exactly the data, in the detected format."""
        if jsonc.same(self._data, self._original):
            return self._text
        if self._format.dumps(self._original) != self._text:
            spliced = jsonc.update(self._text, self._data)
            if spliced is not None:
                return spliced
        return self._format.dumps(self._data)


def _listEntries(items: list[Any], listKey: str) -> list[tuple[str, Any]]:
    return [
        (item[listKey], item)
        for item in items
        if isinstance(item, dict) and isinstance(item.get(listKey), str)
    ]


def parseDocument(path: Path, fmt: str, raw: bytes) -> Document:
    """C{raw}, the content of C{path}, as a document of format C{fmt}.

    @raise UnparsableError: not UTF-8, or not valid in that format (the
        message names the file and, where the parser says, the position).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnparsableError(f"{path} is not UTF-8 text (byte {e.start})") from None
    try:
        if fmt == "jsondata":
            return JsonDataDocument(path, raw)
        if fmt in ("json", "jsonc"):
            return JsonDocument(text, fmt == "jsonc")
        if fmt == "toml":
            from mcpgateway.clientconfigs.tomldoc import TomlDocument

            return TomlDocument(text)
        if fmt == "yaml":
            from mcpgateway.clientconfigs.yamldoc import YamlDocument

            return YamlDocument(text)
    except UnparsableError:
        raise
    except (ValueError, RecursionError) as e:
        raise UnparsableError(f"{path} is not valid {fmt.upper()}: {e}") from None
    raise ValueError(f"unknown format {fmt!r}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Read:
    raw: bytes
    fingerprint: Fingerprint
    mode: int
    owner: tuple[int, int]


def readFile(path: Path) -> bytes:
    """The bytes of C{path}.

    @raise ConfigError: it cannot be read (the message names it).
    """
    return _read(Path(path)).raw


def updateFile(
    path: Path,
    change: Callable[[bytes], bytes | None],
    retries: int = 5,
    within: str | None = None,
) -> bool:
    """Read-modify-write C{path} atomically: C{change(latest bytes)} gives the
    new bytes (C{None}: nothing to write). See the module docstring; C{change}
    may be called up to C{retries + 1} times, each time on the latest content.
    A symlinked file is written through to its target, unless C{within} is
    given: then the file is read and written only while it is no symlink and
    its real path lies in the real folder C{within} (a project's file, never
    written through a link out of its project: L{confinedTarget}), checked
    again at every cycle.

    @return: whether the file was written.
    @raise ConfigError: the file cannot be read, or lies outside C{within}
        (nothing is written).
    @raise ConcurrentWriteError: it changed during every cycle.
    """
    for _ in range(retries + 1):
        target = Path(os.path.realpath(path)) if within is None else confinedTarget(path, within)
        current = _read(target, follow=within is None)
        out = change(current.raw)
        if out is None or out == current.raw:
            return False
        if replaceIfUnchanged(target, out, current.mode, current.owner, current.fingerprint):
            return True
    raise ConcurrentWriteError(
        f"{path} kept changing while it was being rewritten ({retries + 1} attempts);"
        " left as the other writer left it"
    )


def confinedTarget(path: Path, within: str) -> Path:
    """The real path of C{path}, a file that must be its folder's own: no
    symlink, and really in the real folder C{within}.

    @raise ConfigError: it is a symlink, or lies elsewhere (the message
        says where).
    """
    if os.path.islink(path):
        raise ConfigError(
            f"{path} is a symlink (to {os.readlink(path)}): a project's file is never"
            " read or written through one"
        )
    target = os.path.realpath(path)
    if not isWithin(target, within):
        raise ConfigError(
            f"{path} is really {target}, outside {within}: a project's file is never read or"
            " written outside its project"
        )
    return Path(target)


def isWithin(path: str, folder: str) -> bool:
    """Whether the path C{path} is C{folder} or lies under it (both as given)."""
    folder = folder.rstrip(os.sep) or os.sep
    return path == folder or path.startswith(folder if folder == os.sep else folder + os.sep)


def _read(path: Path, follow: bool = True) -> _Read:
    flags = os.O_RDONLY | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
        with open(fd, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    return _Read(
        raw,
        Fingerprint(st.st_mtime_ns, len(raw), sha256(raw)),
        stat.S_IMODE(st.st_mode),
        (st.st_uid, st.st_gid),
    )
