# -*- test-case-name: tests.flow.test_defaults -*-
"""Which labels a tool gets, and where they come from.

The first that says wins: the entry's C{"labels"} (the tool's own, else
the server's: L{mcpgateway.flow.labels.EntryLabels}), the shipped table's
row for the server (L{mcpgateway.flow.table}), the tool's annotations.

From the annotations (L{fromAnnotations}), with MCP's defaults for a hint
that is absent (C{openWorldHint} true, C{readOnlyHint} false):

 - C{untrusted} when the tool is open-world: what it brings back comes
   from outside, where someone else may have written it;
 - C{egress} when it is open-world and not read-only: it changes something
   outside, which others see (a post, a message);
 - C{private} never: no hint says whose data a result holds. Only the
   table and the entry give it.

So a tool of a server nobody labelled, with no annotations, is
C{untrusted} and C{egress}, never C{private}: it alone never makes a
client hold both C{untrusted} and C{private}, and a client that uses only
such servers is never held. C{destructiveHint} and C{idempotentHint} say
nothing about where data goes, and are not read. A hint that is there but
not a boolean counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mcpgateway.flow.labels import NO_ENTRY_LABELS, NO_LABELS, EntryLabels, Label, Labels, words
from mcpgateway.flow.table import KnownServer, knownServer

__all__ = ["ServerLabelling", "Source", "ToolLabels", "describe", "fromAnnotations"]


class Source(StrEnum):
    """Where a tool's labels came from."""

    ENTRY = "entry"
    TABLE = "table"
    ANNOTATIONS = "annotations"


@dataclass(frozen=True)
class ToolLabels:
    """A tool's labels and where they came from."""

    labels: Labels
    source: Source
    row: str = ""
    """The table's row (L{Source.TABLE}), e.g. C{github}."""


def _hint(annotations: Mapping[str, Any], key: str, default: bool) -> bool:
    value = annotations.get(key)
    return value if isinstance(value, bool) else default


def fromAnnotations(annotations: Any) -> Labels:
    """The labels a tool's C{annotations} give (see the module); anything
    but an object is no annotations."""
    given: Mapping[str, Any] = annotations if isinstance(annotations, Mapping) else {}
    openWorld = _hint(given, "openWorldHint", True)
    readOnly = _hint(given, "readOnlyHint", False)
    if not openWorld:
        return NO_LABELS
    if readOnly:
        return frozenset({Label.UNTRUSTED})
    return frozenset({Label.UNTRUSTED, Label.EGRESS})


@dataclass(frozen=True)
class ServerLabelling:
    """How the tools of one server get their labels: its entry's
    C{"labels"} and its row of the table."""

    entry: EntryLabels = NO_ENTRY_LABELS
    known: KnownServer | None = None

    @classmethod
    def of(
        cls, command: str, args: Sequence[str] = (), entry: EntryLabels = NO_ENTRY_LABELS
    ) -> ServerLabelling:
        """The labelling of the server an entry runs with C{command} and
        C{args} (a remote server's URL as its command)."""
        return cls(entry, knownServer(command, args))

    def tool(self, name: str, annotations: Any = None) -> ToolLabels:
        """The labels of tool C{name}, listed with C{annotations} (C{None}:
        not listed, or listed without)."""
        given = self.entry.forTool(name)
        if given is not None:
            return ToolLabels(given, Source.ENTRY)
        if self.known is not None:
            labels = self.known.forTool(name)
            if labels is not None:
                return ToolLabels(labels, Source.TABLE, self.known.name)
        return ToolLabels(fromAnnotations(annotations), Source.ANNOTATIONS)

    def tools(self, listed: Sequence[Any]) -> dict[str, ToolLabels]:
        """The labels of every tool of a C{tools/list} result's C{tools}
        (an item without a string C{name} is left out)."""
        found = {}
        for tool in listed:
            if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
                found[tool["name"]] = self.tool(tool["name"], tool.get("annotations"))
        return found


def describe(labelling: ServerLabelling, listed: Sequence[Any] | None) -> dict[str, Any]:
    """What a server's labels are and where each came from, as JSON (the
    management API's C{GET /servers/NAME}, C{mcpgateway servers show}):
    C{labels} (those of all its tools together), C{source} (C{entry} when
    the entry labels the whole server, else C{table} for a server of the
    table, else C{annotations}), C{row} (the table's), C{entry} (what the
    entry says, when it says anything) and C{tools} (each listed tool's
    C{labels}, C{source} and C{row}; C{None} when the server was never
    listed: C{listed} C{None})."""
    if labelling.entry.server is not None:
        source = Source.ENTRY
    elif labelling.known is not None:
        source = Source.TABLE
    else:
        source = Source.ANNOTATIONS
    tools = None if listed is None else labelling.tools(listed)
    together: set[Label] = set()
    for tool in (tools or {}).values():
        together |= tool.labels
    if tools is None and labelling.entry.server is not None:
        together |= labelling.entry.server
    shown: dict[str, Any] = {"labels": words(together), "source": source.value}
    if labelling.known is not None:
        shown["row"] = labelling.known.name
    if labelling.entry.given:
        shown["entry"] = labelling.entry.asJson()
    shown["tools"] = (
        None
        if tools is None
        else {
            name: {"labels": words(tool.labels), "source": tool.source.value, "row": tool.row}
            for name, tool in sorted(tools.items())
        }
    )
    return shown
