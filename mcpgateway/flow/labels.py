# -*- test-case-name: tests.flow.test_labels -*-
"""The three data-origin labels, and a server entry's C{"labels"}.

A tool carries any of three labels:

 - C{untrusted}: its result may hold content someone other than the user
   wrote (a web page, an issue, an email), which can steer the model;
 - C{private}: its result may hold the user's private data (their files, a
   private repository, their mail);
 - C{egress}: calling it may send data out where others see it (a comment,
   a pull request, a message, a URL it fetches).

A client gathers the C{untrusted} and C{private} labels of the results it
receives (L{GATHERED}); C{egress} is what a call does, never what a result
gives.

An entry overrides the labels its tools get otherwise
(L{mcpgateway.flow.defaults}) with its C{"labels"}, in one of two shapes::

    "labels": ["private"]

gives every tool of the server exactly these labels, and::

    "labels": {"server": ["private"], "tools": {"send_*": ["egress"], "search": []}}

gives the tools named under C{"tools"} (a name, or a pattern with C{*} and
C{?} as a shell has them) their own, and the others those of C{"server"}
(when it is there; else their labels come as without the entry). An empty
list is a tool or server with no label. L{parseEntryLabels} reads it, and
raises L{LabelsError} naming what is wrong, which the config reports as
the entry's problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, TypeAlias

__all__ = [
    "GATHERED",
    "NO_ENTRY_LABELS",
    "NO_LABELS",
    "EntryLabels",
    "Label",
    "Labels",
    "LabelsError",
    "parseEntryLabels",
    "parseLabels",
    "words",
]


class Label(StrEnum):
    """One data-origin label; its value is the word the config and the
    displays use."""

    UNTRUSTED = "untrusted"
    PRIVATE = "private"
    EGRESS = "egress"


Labels: TypeAlias = frozenset[Label]
"""A set of labels: a tool's, or what a client has gathered."""

NO_LABELS: Labels = frozenset()
GATHERED: Labels = frozenset({Label.UNTRUSTED, Label.PRIVATE})
"""The labels a result gives the client that receives it."""
WORDS = ", ".join(label.value for label in Label)
ENTRY_KEYS = ("server", "tools")
"""The keys of the object shape of an entry's C{"labels"}."""


class LabelsError(ValueError):
    """An entry's C{"labels"} cannot be used; its text says why, naming the
    key (C{'labels.tools'['search']}) and what it must be."""


def words(labels: Iterable[Label]) -> list[str]:
    """C{labels} as their words, in the order of L{Label} (for display and
    JSON)."""
    given = set(labels)
    return [label.value for label in Label if label in given]


@dataclass(frozen=True)
class EntryLabels:
    """What an entry's C{"labels"} says (L{NO_ENTRY_LABELS}: nothing)."""

    server: Labels | None = None
    """The labels of every tool the entry does not name; C{None}: the entry
    sets none (its tools get theirs from the table or their annotations)."""
    tools: tuple[tuple[str, Labels], ...] = ()
    """The tools the entry names (a name or a pattern) with their labels,
    as the entry writes them."""

    @property
    def given(self) -> bool:
        """Whether the entry says anything."""
        return self.server is not None or bool(self.tools)

    def forTool(self, name: str) -> Labels | None:
        """The labels the entry gives tool C{name}: those of its exact name,
        else of the first pattern that matches it, else the server's;
        C{None} when the entry gives it none."""
        for written, labels in self.tools:
            if written == name:
                return labels
        for written, labels in self.tools:
            if fnmatchcase(name, written):
                return labels
        return self.server

    def asJson(self) -> dict[str, Any]:
        """The object shape of what the entry says (for display)."""
        shown: dict[str, Any] = {}
        if self.server is not None:
            shown["server"] = words(self.server)
        if self.tools:
            shown["tools"] = {name: words(labels) for name, labels in self.tools}
        return shown


NO_ENTRY_LABELS = EntryLabels()


def parseLabels(value: Any, where: str = "'labels'") -> Labels:
    """A list of label words, or L{LabelsError} naming C{where}."""
    if not isinstance(value, list):
        raise LabelsError(f"{where} must be a list of labels ({WORDS})")
    found = set()
    for word in value:
        if not isinstance(word, str):
            raise LabelsError(f"{where} must be a list of labels ({WORDS})")
        try:
            found.add(Label(word))
        except ValueError:
            raise LabelsError(
                f"{where} has the unknown label {word[:40]!r}: labels are {WORDS}"
            ) from None
    return frozenset(found)


def parseEntryLabels(value: Any) -> EntryLabels:
    """An entry's C{"labels"} (C{None}: the entry has none), or
    L{LabelsError} saying what is wrong."""
    if value is None:
        return NO_ENTRY_LABELS
    if isinstance(value, list):
        return EntryLabels(server=parseLabels(value))
    if not isinstance(value, dict):
        raise LabelsError(
            "'labels' must be a list of labels, or an object with \"server\" (a list)"
            ' and "tools" (an object of lists by tool name)'
        )
    unknown = sorted(str(key)[:40] for key in value if key not in ENTRY_KEYS)
    if unknown:
        raise LabelsError(
            f"'labels' has the unknown key(s) {', '.join(map(repr, unknown))}:"
            ' it takes "server" and "tools"'
        )
    server = value.get("server")
    tools = value.get("tools", {})
    if not isinstance(tools, dict):
        raise LabelsError("'labels.tools' must be an object of label lists by tool name")
    named = []
    for name, labels in tools.items():
        if not isinstance(name, str) or not name:
            raise LabelsError("'labels.tools' names a tool with an empty name")
        named.append((name, parseLabels(labels, f"'labels.tools'[{name[:64]!r}]")))
    return EntryLabels(
        server=None if server is None else parseLabels(server, "'labels.server'"),
        tools=tuple(named),
    )
