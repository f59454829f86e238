# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""JSON and JSONC documents edited in place: comments, trailing commas and
layout kept.

One job: find a value in a JSON text (strict JSON, or JSONC: C{//} and
C{/* */} comments and trailing commas, what VS Code, Zed, Gemini CLI and
opencode accept) and splice a new value over exactly its characters. Nothing
else in the text moves: a comment, a key the gateway does not own, the
indentation of a hand-written file all come back byte for byte.

Why our own small editor rather than a library: the one maintained library
that round-trips comments (C{json-five}) models JSON5 (unquoted keys, single
quotes), which these clients do not accept, and rebuilding its node tree for
an edit is no smaller than the splice below; C{json5}, C{commentjson},
C{jsonc-parser} drop the comments. The parser is strict apart from the two
JSONC allowances, bounded in depth, and rejects C{NaN}/C{Infinity} and
numbers Python cannot hold, like L{mcpgateway.clientconfigs.jsonfile}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 200
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
_WHITESPACE = " \t\r\n"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_FIRST_INDENT = re.compile(r"\n([ \t]+)[^ \t\r\n]")


class JsonSyntaxError(ValueError):
    """The text is not valid JSON (or JSONC); the message says where."""


@dataclass
class Node:
    """A value of the text and the characters it spans (C{text[start:end]})."""

    start: int
    end: int
    value: Any
    members: list[tuple[str, Node]] | None = None
    """An object's members in text order (a duplicate key: both are here)."""
    items: list[Node] = field(default_factory=list)

    def member(self, key: str) -> Node | None:
        """The value of C{key} in this object (the last one, as JSON.parse
        keeps it), or C{None}."""
        if self.members is None:
            return None
        found = None
        for name, node in self.members:
            if name == key:
                found = node
        return found


class _JsoncParser:
    def __init__(self, text: str, jsonc: bool) -> None:
        self.text = text
        self.jsonc = jsonc
        self.pos = 1 if text.startswith("\ufeff") else 0

    def fail(self, why: str, pos: int | None = None) -> JsonSyntaxError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - self.text.rfind("\n", 0, at)
        return JsonSyntaxError(f"{why} at line {line} column {column}")

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in _WHITESPACE:
                self.pos += 1
            elif self.jsonc and text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif self.jsonc and text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def document(self) -> Node:
        self.skip()
        node = self.value(0)
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("extra data after the document")
        return node

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of text")
        c = self.text[self.pos]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.array(depth)
        if c == '"':
            start = self.pos
            decoded = self.string()
            return Node(start, self.pos, decoded)
        match = _NUMBER.match(self.text, self.pos)
        if match and match.group():
            start, self.pos = self.pos, match.end()
            try:
                number = json.loads(match.group())
            except ValueError:
                raise self.fail("a number Python cannot hold", start) from None
            if isinstance(number, float) and number in (float("inf"), float("-inf")):
                raise self.fail("a number out of range", start)
            return Node(start, self.pos, number)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                start = self.pos
                self.pos += len(word)
                return Node(start, self.pos, literal)
        raise self.fail("expected a value")

    def string(self) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail("invalid string")
        self.pos = match.end()
        decoded: str = json.loads(match.group())
        return decoded

    def obj(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        members: list[tuple[str, Node]] = []
        value: dict[str, Any] = {}
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return Node(start, self.pos, value, members=members)
        while True:
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a key in double quotes")
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail("expected ':'")
            self.pos += 1
            self.skip()
            node = self.value(depth + 1)
            members.append((key, node))
            value[key] = node.value
            self.skip()
            if self.text.startswith(",", self.pos):
                comma = self.pos
                self.pos += 1
                self.skip()
                if not self.text.startswith("}", self.pos):
                    continue
                if not self.jsonc:
                    raise self.fail("trailing comma", comma)
            elif not self.text.startswith("}", self.pos):
                raise self.fail("expected ',' or '}'")
            self.pos += 1
            return Node(start, self.pos, value, members=members)

    def array(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Node] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return Node(start, self.pos, [], items=items)
        while True:
            items.append(self.value(depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                comma = self.pos
                self.pos += 1
                self.skip()
                if not self.text.startswith("]", self.pos):
                    continue
                if not self.jsonc:
                    raise self.fail("trailing comma", comma)
            elif not self.text.startswith("]", self.pos):
                raise self.fail("expected ',' or ']'")
            self.pos += 1
            return Node(start, self.pos, [i.value for i in items], items=items)


def parse(text: str, jsonc: bool = True) -> Node:
    """The value tree of C{text}, with spans.

    @param jsonc: accept comments and trailing commas.
    @raise JsonSyntaxError: saying what and where (line, column).
    """
    return _JsoncParser(text, jsonc).document()


def lookup(root: Node, path: tuple[str, ...]) -> Node | None:
    """The node at C{path} (object keys from the root), or C{None}."""
    node: Node | None = root
    for key in path:
        node = node.member(key) if node is not None else None
    return node


def indentUnit(text: str) -> str | None:
    """The text's indentation step (the first indented line's), or C{None}
    for a text on one line."""
    match = _FIRST_INDENT.search(text)
    if match is None:
        return None if "\n" not in text.strip() else ""
    return match.group(1)


def render(value: Any, text: str, node: Node) -> str:
    """C{value} as JSON text to put where C{node} is in C{text}: on several
    lines, indented like the text around it, when the value it replaces
    spans several lines; else on one line.

    @raise ValueError: the value holds NaN or an infinity.
    """
    old = text[node.start : node.end]
    crlf = "\r\n" in text
    if "\n" in old:
        unit = indentUnit(text) or "  "
        lineStart = text.rfind("\n", 0, node.start) + 1
        base = re.match(r"[ \t]*", text[lineStart:]).group()  # type: ignore[union-attr]
        out = json.dumps(value, indent=unit, ensure_ascii=False, allow_nan=False)
        out = out.replace("\n", "\n" + base)
    else:
        compact = re.search(r'":\S', old) is not None and '": ' not in old
        separators = (",", ":") if compact else (", ", ": ")
        out = json.dumps(value, separators=separators, ensure_ascii=False, allow_nan=False)
    out = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out.replace("\n", "\r\n") if crlf else out


def splice(text: str, node: Node, replacement: str) -> str:
    """C{text} with C{node}'s characters replaced by C{replacement}."""
    return text[: node.start] + replacement + text[node.end :]


def entry(root: Node, path: tuple[str, ...], listKey: str | None, name: str) -> Node | None:
    """The entry C{name} of the container at C{path}: its member C{name}
    (C{listKey} is C{None}), else the last object of its list whose
    C{listKey} is C{name}; or C{None}."""
    container = lookup(root, path)
    if container is None:
        return None
    if listKey is None:
        return container.member(name)
    found = None
    for item in container.items:
        if isinstance(item.value, dict) and item.value.get(listKey) == name:
            found = item
    return found


def restoreEntry(
    text: str,
    isJsonc: bool,
    where: tuple[tuple[str, ...], str | None, str],
    written: Any,
    source: str,
    original: Any,
) -> str | None:
    """C{text} with the characters of its entry C{where} (C{(path, listKey,
    name)}, see L{entry}) replaced by those of the same entry in C{source}
    (its comments and layout, in the line endings of C{text}), provided the
    entry in C{text} is exactly the text L{render} writes for C{written}
    there (nobody touched it since the gateway wrote it) and the one in
    C{source} is C{original}; else C{None}.
    """
    try:
        root, origin = parse(text, isJsonc), parse(source, isJsonc)
    except JsonSyntaxError:
        return None
    node, old = entry(root, *where), entry(origin, *where)
    if node is None or old is None or node.value != written or old.value != original:
        return None
    try:
        if text[node.start : node.end] != render(written, text, node):
            return None
    except ValueError:
        return None
    piece = source[old.start : old.end].replace("\r\n", "\n")
    return splice(text, node, piece.replace("\n", "\r\n") if "\r\n" in text else piece)


def update(text: str, value: Any) -> str | None:
    """The strict JSON C{text} changed to hold C{value} with the fewest
    characters moved: an object's members whose values did not change keep
    their characters (a hand-written layout, a one-line entry), a changed
    member is rewritten in place (L{render}), a member added goes after the
    last one, on a line of its own indented like that member's line; C{None}
    when C{text} is not strict JSON or holds a duplicate key, or when the
    spliced text does not parse back (strictly: no duplicate key, no C{NaN})
    to exactly C{value} (L{same}): write the whole value instead."""
    try:
        root = parse(text, False)
        edits: list[tuple[int, int, str]] = []
        if not _update(text, root, value, edits):
            return None
        for start, end, piece in sorted(edits, reverse=True):
            text = text[:start] + piece + text[end:]
        written = json.loads(
            text.removeprefix("\ufeff"),
            object_pairs_hook=_refuseDuplicates,
            parse_constant=_refuseConstant,
        )
    except (JsonSyntaxError, ValueError, RecursionError):
        return None
    return text if same(written, value) else None


def _refuseDuplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a duplicate key")
    return result


def _refuseConstant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def same(a: Any, b: Any) -> bool:
    """Whether the plain JSON values C{a} and C{b} are the same JSON, types
    included at every depth (C{1}, C{1.0} and C{true} differ, as do C{0.0}
    and C{-0.0}); the order of an object's members does not count."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def _update(text: str, node: Node, value: Any, edits: list[tuple[int, int, str]]) -> bool:
    """Add to C{edits} the C{(start, end, replacement)} that make C{node} hold
    C{value} (see L{update}); C{False}: a duplicate key."""
    if same(node.value, value):
        return True
    members = node.members
    if (
        not isinstance(value, dict)
        or members is None
        or not any(key in value and same(value[key], old) for key, old in node.value.items())
    ):
        edits.append((node.start, node.end, render(value, text, node)))
        return True
    if len({key for key, _ in members}) != len(members):
        return False
    removed = [i for i, (key, _) in enumerate(members) if key not in value]
    added = [key for key in value if key not in node.value]
    if len(removed) > 1 or (removed and added) or len(removed) == len(members):
        edits.append((node.start, node.end, render(value, text, node)))
        return True
    for key, child in members:
        if key in value and not _update(text, child, value[key], edits):
            return False
    if removed:
        [i] = removed
        if i > 0:
            edits.append((members[i - 1][1].end, members[i][1].end, ""))
        else:
            edits.append((_keyStart(text, node, 0), _keyStart(text, node, 1), ""))
    if added:
        last = members[-1][1]
        crlf = "\r\n" in text
        if "\n" in text[node.start : node.end]:
            keyStart = _keyStart(text, node, len(members) - 1)
            lineStart = text.rfind("\n", 0, keyStart) + 1
            base = re.match(r"[ \t]*", text[lineStart:keyStart]).group()  # type: ignore[union-attr]
            unit = indentUnit(text) or "  "
            pieces = [
                "\n"
                + base
                + json.dumps(key, ensure_ascii=False)
                + ": "
                + json.dumps(value[key], indent=unit, ensure_ascii=False, allow_nan=False).replace(
                    "\n", "\n" + base
                )
                for key in added
            ]
        else:
            pieces = [
                " "
                + json.dumps(key, ensure_ascii=False)
                + ": "
                + json.dumps(value[key], ensure_ascii=False, allow_nan=False)
                for key in added
            ]
        piece = "".join("," + p for p in pieces)
        piece = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", piece)
        edits.append((last.end, last.end, piece.replace("\n", "\r\n") if crlf else piece))
    return True


def _keyStart(text: str, node: Node, index: int) -> int:
    """Where the key of the object C{node}'s member C{index} starts (strict
    JSON: after the opening brace or the comma that ends the member before, and
    whitespace)."""
    members = node.members or []
    previous = members[index - 1][1].end if index else None
    position = node.start + 1 if previous is None else text.index(",", previous) + 1
    while text[position] in _WHITESPACE:
        position += 1
    return position
