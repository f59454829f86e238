# -*- test-case-name: tests.trust.test_diff -*-
"""What changed in a tool since it was pinned, for a person to read: its
title and description word by word (L{wordDiff}, difflib's matching on words), its
other pinned fields (schemas, annotations, icons, C{execution}, C{_meta})
as the JSON paths that changed (L{jsonChanges},
RFC 6901 pointers), and a definition's record as C{mcpgateway tools diff},
C{GET /api/v1/pins} and the status page show it (L{recordReport},
L{renderRecords}).

Every text a server wrote is shown with its control characters escaped
(a description may carry terminal escapes). Pure: no Twisted.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from mcpgateway.trust.pins import PINNED_FIELDS, REMOVED, ServerPins, canonical

CONTEXT_WORDS = 4
"""Unchanged words shown on each side of a change in a description."""
MAX_VALUE = 200
"""Characters shown of one JSON value."""
MAX_TEXT = 400
"""Characters shown of a new tool's description."""
MISSING: Any = object()
"""A member one side of a JSON diff lacks."""
TEXTS = ("title", "description")
"""The pinned fields shown word by word."""
STRUCTURED = tuple(name for name in PINNED_FIELDS if name != "name" and name not in TEXTS)
"""The pinned fields shown as the JSON paths that changed."""


def printable(text: str) -> str:
    """C{text} with every character that is not printable escaped as
    C{repr} writes it (ESC as C{\\x1b}, a newline as C{\\n})."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def wordDiff(old: str, new: str, context: int = CONTEXT_WORDS) -> str:
    """C{new} against C{old}, word by word: removed words as C{[-...-]},
    added ones as C{{+...+}}, long unchanged stretches cut to C{context}
    words around each change (C{…} for the rest)."""
    a, b = old.split(), new.split()
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out: list[str] = []
    last = len(opcodes) - 1
    for at, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = a[i1:i2]
            head = words[:context] if at > 0 else []
            tail = words[-context:] if at < last else []
            if len(words) > len(head) + len(tail):
                out += [*head, "\u2026", *tail]
            else:
                out += words
            continue
        if i2 > i1:
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    if not any(tag != "equal" for tag, *_ in opcodes):
        return "(only its spacing changed)"
    return printable(" ".join(out))


def pointer(path: Sequence[str | int]) -> str:
    """The RFC 6901 JSON pointer of C{path}."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def jsonChanges(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str, Any, Any]]:
    """Every path where C{new} differs from C{old}: (pointer, old value,
    new value), L{MISSING} for a member one side lacks. Objects are
    compared member by member, lists of equal length item by item;
    anything else that differs (by canonical JSON: C{1} is not C{1.0})
    is one change."""
    if old is MISSING or new is MISSING:
        if old is new:
            return []
    elif canonical(old) == canonical(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            changes += jsonChanges(old.get(key, MISSING), new.get(key, MISSING), (*path, key))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes += jsonChanges(a, b, (*path, index))
        return changes
    return [(pointer(path), old, new)]


def _shown(value: Any) -> str:
    return printable(_cut(canonical(value), MAX_VALUE))


def jsonLines(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    """L{jsonChanges} as lines: C{~ path: old → new}, C{+ path: new},
    C{- path: old}."""
    lines = []
    for where, a, b in jsonChanges(old, new, path):
        if a is MISSING:
            lines.append(f"+ {where}: {_shown(b)}")
        elif b is MISSING:
            lines.append(f"- {where}: {_shown(a)}")
        else:
            lines.append(f"~ {where}: {_shown(a)} \u2192 {_shown(b)}")
    return lines


def changeLines(pinned: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> list[str]:
    """What changed from the pinned definition C{pinned} (C{None}: none, a
    new tool) to C{now} (C{None}: the tool is gone), as lines."""
    if now is None:
        return ["no longer listed"]
    lines = []
    if pinned is None:
        for name in TEXTS:
            text = now.get(name)
            if isinstance(text, str):
                lines.append(f"{name}: " + printable(_cut(" ".join(text.split()), MAX_TEXT)))
        for name in STRUCTURED:
            if name in now:
                lines.append(f"+ /{name}: {_shown(now[name])}")
        return lines
    for name in TEXTS:
        old, new = pinned.get(name, MISSING), now.get(name, MISSING)
        if isinstance(old, str) and isinstance(new, str):
            if old != new:
                lines.append(f"{name}: " + wordDiff(old, new))
        else:
            lines += jsonLines(old, new, (name,))
    for name in STRUCTURED:
        lines += jsonLines(pinned.get(name, MISSING), now.get(name, MISSING), (name,))
    return lines


def recordReport(record: ServerPins, held: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """One definition's record as JSON: its counts and each pending change
    with the pinned and the current definition and their L{changeLines}
    (C{withheld}: whether the running gateway withholds it, C{None} when
    no gateway said)."""
    changes = []
    for name, change in sorted(record.pending.items()):
        pin = record.tools.get(name)
        pinned = pin.tool if pin is not None else None
        now = None if change.kind == REMOVED else change.tool
        changes.append(
            {
                "tool": name,
                "change": change.kind,
                "digest": change.digest,
                "seenAt": change.at,
                "pinned": pinned,
                "now": now,
                "diff": changeLines(pinned, now),
                "withheld": None if held is None else held(name),
            }
        )
    return {
        "server": record.server,
        "launch": record.launch,
        "pinnedAt": record.pinnedAt,
        "quarantined": record.quarantined,
        "tools": len(record.tools),
        "changes": changes,
    }


def approveCommand(server: str, tools: Sequence[str] = ()) -> str:
    """The command line that approves C{tools} of C{server} (all: none named)."""
    return shlex.join(["mcpgateway", "tools", "approve", server, *tools])


def renderRecords(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """C{mcpgateway tools diff}: each definition with pending changes, its
    changes and their lines, and the command that approves them."""
    lines: list[str] = []
    for record in records:
        changes = record.get("changes") or []
        if not changes:
            continue
        server = str(record.get("server"))
        title = f"{printable(server)} (definition {str(record.get('launch', ''))[:12]})"
        if record.get("quarantined"):
            title += ": new, its tools held until approved"
        if record.get("current") is False:
            title += " (not the one configured now)"
        lines.append(title)
        marks = {"changed": "~", "added": "+", "removed": "-"}
        for change in changes:
            tool = printable(str(change.get("tool")))
            kind = str(change.get("change"))
            withheld = change.get("withheld")
            state = "" if withheld is None else " (withheld)" if withheld else " (served)"
            lines.append(f"  {marks.get(kind, '?')} {tool}: {kind}{state}")
            lines += [f"      {line}" for line in change.get("diff") or []]
        lines.append(f"  approve: {approveCommand(server)}")
    return lines
