# -*- test-case-name: tests.core.aggregate.test_naming -*-
"""The names the aggregate endpoint gives its members' tools and prompts.

One job: turn a (server, original name) pair into one namespaced name,
C{<prefix><separator><tool>}, that every client accepts (at most
L{NameSettings.limit} characters of C{[A-Za-z0-9_-]}) and that stays the
same whatever other servers exist, so that a name in a client's permission
list keeps meaning the same tool.

The rules (docs/guide/aggregate.md):

  - C{prefix} is the server's alias, else its name, with every character
    outside C{[A-Za-z0-9_-]} replaced by C{_}; a prefix over 20 characters
    becomes its first 13, C{-} and 6 characters of a hash of it.
  - a clean name (nothing replaced, short enough, not one of the gateway's
    own names) is kept verbatim: C{fs__read_file}.
  - any other name is cut and gets C{-} and 6 characters of a hash of
    C{server NUL original}: a lossy name always carries its hash, so two
    names can never merge because some third server exists.
  - L{Namer.build} settles what is left (two clean names that coincide,
    such as C{a_b} + C{_} + C{c} and C{a} + C{_} + C{b_c}): sorted by
    (server, original), the first keeps the name, each later one gets a
    10-character hash instead, and the collision is reported.

Lookups go through the map L{Namer.build} returns, never by parsing a name.
Pure: no Twisted, no I/O.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mcpgateway.core.aggregate.types import NameSettings

SEPARATORS = frozenset({"__", "_", "-", "--"})
"""The separators a L{NameSettings} may use."""
MIN_LIMIT = 16
"""The smallest L{NameSettings.limit}."""
UNLIMITED = 2**31
"""A limit for names no client bounds (prompts):
C{Namer(replace(settings, limit=UNLIMITED))}."""
PREFIX_LIMIT = 20
"""A longer prefix is shortened to 13 characters, C{-} and a 6-character hash."""
_PREFIX_KEEP = 13
_SHORT = 6
_LONG = 10
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
SAFE = re.compile(r"[A-Za-z0-9_-]+")
"""What every name this module makes matches (in full)."""


def digest(text: str, length: int) -> str:
    """C{length} lowercase base32 characters of the SHA-256 of C{text}
    (UTF-8; a lone surrogate is kept, not refused)."""
    raw = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(raw).decode("ascii")[:length].lower()


def sanitize(text: str) -> str:
    """C{text} with every character outside C{[A-Za-z0-9_-]} replaced by C{_}."""
    return _UNSAFE.sub("_", text)


@functools.lru_cache(maxsize=1024)
def _prefix(source: str) -> tuple[str, bool]:
    clean = sanitize(source)
    lossy = clean != source or not clean
    if not clean:
        clean = "_"
    if len(clean) > PREFIX_LIMIT:
        clean = clean[:_PREFIX_KEEP] + "-" + digest(source, _SHORT)
    return clean, lossy


@dataclass(frozen=True)
class Collision:
    """Two pairs whose names coincided in one L{Namer.build}.

    @ivar name: the name both would have had; C{kept} has it (C{None}: the
        name is reserved, and no pair has it).
    @ivar renamed: the pair (server, original) that got C{replacement}.
    """

    name: str
    kept: tuple[str, str] | None
    renamed: tuple[str, str]
    replacement: str

    def __str__(self) -> str:
        like = (
            "a gateway tool"
            if self.kept is None
            else f"{self.kept[1]!r} of server {self.kept[0]!r}"
        )
        return (
            f"{self.renamed[1]!r} of server {self.renamed[0]!r} would be named "
            f"{self.name!r} like {like}; it is named {self.replacement!r}"
        )


@dataclass(frozen=True)
class Naming:
    """What L{Namer.resolve} found.

    @ivar names: namespaced name -> (server, original), sorted by name.
    @ivar collisions: the residual collisions it settled, in order.
    """

    names: dict[str, tuple[str, str]]
    collisions: tuple[Collision, ...]


class Namer:
    """Makes namespaced names under one L{NameSettings} (see the module
    docstring).

    @ivar reserved: names never produced (the gateway's own tools).
    """

    def __init__(self, settings: NameSettings, reserved: frozenset[str] = frozenset()) -> None:
        """
        @raise ValueError: the separator is not one of L{SEPARATORS}, or the
            limit is under L{MIN_LIMIT}.
        """
        if settings.separator not in SEPARATORS:
            raise ValueError(
                f"the separator must be one of {sorted(SEPARATORS)}, not {settings.separator!r}"
            )
        if settings.limit < MIN_LIMIT:
            raise ValueError(f"the name limit must be at least {MIN_LIMIT}, not {settings.limit}")
        self.settings = settings
        self.reserved = reserved

    def prefix(self, server: str, alias: str | None = None) -> tuple[str, bool]:
        """The prefix of C{server}'s names, and whether it lost characters
        to sanitizing (its names then carry a hash)."""
        return _prefix(alias or server)

    def name(self, server: str, original: str, alias: str | None = None) -> str:
        """The namespaced name of C{server}'s C{original}: a function of
        these and the settings alone (the same in every process, whatever
        else is listed)."""
        prefix, lossy = self.prefix(server, alias)
        tool = sanitize(original)
        lossy = lossy or tool != original or not tool
        plain = prefix + self.settings.separator + tool
        if not lossy and len(plain) <= self.settings.limit and plain not in self.reserved:
            return plain
        return self._hashed(prefix, tool, digest(server + "\0" + original, _SHORT))

    def _hashed(self, prefix: str, tool: str, suffix: str) -> str:
        head = prefix + self.settings.separator
        room = self.settings.limit - len(suffix) - 1
        if len(head) <= room:
            return head + tool[: room - len(head)] + "-" + suffix
        return head[:room] + "-" + suffix

    def resolve(
        self, pairs: Iterable[tuple[str, str]], aliases: Mapping[str, str] | None = None
    ) -> Naming:
        """The names of C{pairs} (repeats count once), every one distinct
        and none reserved, with the collisions that were settled.

        @param aliases: server -> alias, for the servers that have one.
        """
        aliases = aliases or {}
        groups: dict[str, list[tuple[str, str]]] = {}
        for server, original in set(pairs):
            name = self.name(server, original, aliases.get(server))
            groups.setdefault(name, []).append((server, original))
        names: dict[str, tuple[str, str]] = {}
        losers: list[tuple[tuple[str, str], str, tuple[str, str] | None]] = []
        for name, members in groups.items():
            members.sort()
            if name in self.reserved:  # only a hashed name can be, by a fluke
                losers.extend((pair, name, None) for pair in members)
                continue
            names[name] = members[0]
            losers.extend((pair, name, members[0]) for pair in members[1:])
        taken = set(names) | self.reserved
        collisions = []
        for (server, original), name, kept in sorted(losers, key=lambda loser: loser[0]):
            prefix, _ = self.prefix(server, aliases.get(server))
            tool = sanitize(original)
            salt = 0
            while True:
                key = server + "\0" + original + ("\0" + str(salt) if salt else "")
                replacement = self._hashed(prefix, tool, digest(key, _LONG))
                if replacement not in taken:
                    break
                salt += 1
            taken.add(replacement)
            names[replacement] = (server, original)
            collisions.append(Collision(name, kept, (server, original), replacement))
        return Naming(dict(sorted(names.items())), tuple(collisions))

    def build(
        self, pairs: Iterable[tuple[str, str]], aliases: Mapping[str, str] | None = None
    ) -> dict[str, tuple[str, str]]:
        """Namespaced name -> (server, original) for C{pairs}: see
        L{Namer.resolve}, whose collisions this drops."""
        return self.resolve(pairs, aliases).names
