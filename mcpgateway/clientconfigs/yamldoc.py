# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""A YAML client config (Continue's C{config.yaml}, Goose's) edited with
ruamel.yaml's round-trip mode: comments, key order, quoting and the
document's indentation are kept.

One job: the L{mcpgateway.clientconfigs.documents.Document} of a YAML text.
The indentation (mapping, sequence, dash offset) is found by trying the usual
ones and keeping the one that writes the unchanged document back exactly.
Known limit of ruamel.yaml: a flow mapping written C{{ a: 1 }} comes back as
C{{a: 1}} when the document is written; the gateway's restore puts the
original bytes back whenever the file did not change meanwhile.

ruamel keeps the comment lines that follow an entry (before the next list
item or key, or at the end of the file) in the comment slot of the entry's
last key or item, or of the last key or item of the block collection it ends
with (C{args:} written as a block list: its last item's). They belong to
what follows: a replaced entry (L{YamlDocument.replaceEntry}) hands them to
the new one's last slot, and an entry put back from the text before adoption
(L{YamlDocument.restoreEntry}, the node itself: its styles and the comments
inside it) gets them back where they were.
"""

from __future__ import annotations

import copy
import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from mcpgateway.clientconfigs.location import Location

_INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (2, 3, 1))


def _yaml(indent: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return yaml


class YamlDocument:
    """A parsed YAML text (see the module docstring)."""

    def __init__(self, text: str) -> None:
        best: tuple[int, YAML, Any] | None = None
        for indent in [*_detect(text), *_INDENTS]:
            yaml = _yaml(indent)
            try:
                data = yaml.load(text)
            except (YAMLError, ValueError) as e:
                raise ValueError(str(e).replace("\n", " ")) from None
            out = _dump(yaml, data)
            if out == text:
                best = (0, yaml, data)
                break
            miss = len(set(out.splitlines()) ^ set(text.splitlines()))
            if best is None or miss < best[0]:
                best = (miss, yaml, data)
        assert best is not None
        _, self._yaml, self._data = best
        self._source = text
        self._changed = False

    def _container(self, location: Location) -> Any:
        node: Any = self._data
        for key in location.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        if location.listKey is None:
            return node if isinstance(node, dict) else None
        return node if isinstance(node, list) else None

    def entries(self, location: Location) -> list[tuple[str, Any]] | None:
        container = self._container(location)
        if container is None:
            return None
        if location.listKey is None:
            return [(str(name), plain(value)) for name, value in container.items()]
        return [
            (str(item[location.listKey]), plain(item))
            for item in container
            if isinstance(item, dict) and isinstance(item.get(location.listKey), str)
        ]

    def _find(self, location: Location, name: str) -> tuple[Any, Any] | None:
        """The container of the entry C{name} at C{location} and its key
        (mapping) or index (list), or C{None}."""
        container = self._container(location)
        if container is None:
            return None
        if location.listKey is None:
            return (container, name) if name in container else None
        for index, item in enumerate(container):
            if isinstance(item, dict) and item.get(location.listKey) == name:
                return container, index
        return None

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        found = self._find(location, name)
        if found is None:
            raise KeyError(name)
        container, key = found
        new = _commented(value)
        _setTrailing(new, _trailing(container[key]))
        container[key] = new
        self._changed = True

    def restoreEntry(
        self, location: Location, name: str, written: Any, source: YamlDocument
    ) -> bool:
        """Put back C{source}'s entry C{name} (a copy of its node: quoting,
        flow or block style, the comments inside it) in place of this
        document's, if this one's is exactly C{written}; the comment lines
        after this document's entry stay after it (C{source}'s are dropped).

        @return: whether it was put back (else nothing changed).
        """
        found, origin = self._find(location, name), source._find(location, name)
        if found is None or origin is None:
            return False
        container, key = found
        if plain(container[key]) != written:
            return False
        if source._yaml is not self._yaml and _dump(source._yaml, self._data) == _dump(
            self._yaml, self._data
        ):
            # This text does not tell its indentation (an adopted entry has
            # no nested block): write it as the original did.
            self._yaml = source._yaml
        new = copy.deepcopy(origin[0][origin[1]])
        _setTrailing(new, _trailing(container[key]))
        container[key] = new
        self._changed = True
        return True

    def text(self) -> str:
        return _dump(self._yaml, self._data) if self._changed else self._source


_SEQUENCE_ITEM = re.compile(r"^( *)-( +)\S")
_KEY_LINE = re.compile(r"^( +)[^\s#-][^:]*:")


def _detect(text: str) -> list[tuple[int, int, int]]:
    """The indentation the text seems to use, from its first indented key
    and its first block sequence item (tried before the usual ones)."""
    mapping = 2
    sequence: tuple[int, int] | None = None
    previous = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = _KEY_LINE.match(line)
        if key is not None and mapping == 2 and not previous.lstrip().startswith("-"):
            mapping = len(key.group(1))
        item = _SEQUENCE_ITEM.match(line)
        if item is not None and sequence is None and previous.rstrip().endswith(":"):
            parent = len(previous) - len(previous.lstrip())
            offset = len(item.group(1)) - parent
            sequence = (offset + 1 + len(item.group(2)), offset)
        previous = line
    if sequence is None:
        return [(mapping, mapping, 0)]
    return [(mapping, sequence[0], sequence[1])]


def _dump(yaml: YAML, data: Any) -> str:
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _commented(value: Any) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _commented(v)
        return out
    if isinstance(value, list):
        return CommentedSeq([_commented(v) for v in value])
    return value


def _tailSlots(node: Any) -> list[tuple[Any, Any, int]]:
    """The comment slots C{(node, key or index, position)} at the end of
    C{node}'s text, outermost first: its last key's (or item's), then, when
    that value is a block collection, the slots at the end of that one."""
    if isinstance(node, CommentedMap) and node:
        key: Any = list(node.keys())[-1]
        slot: tuple[Any, Any, int] = (node, key, 2)
    elif isinstance(node, CommentedSeq) and node:
        key = len(node) - 1
        slot = (node, key, 0)
    else:
        return []
    value = node[key]
    if isinstance(value, (CommentedMap, CommentedSeq)) and value.fa.flow_style() is not True:
        return [slot, *_tailSlots(value)]
    return [slot]


def _token(slot: tuple[Any, Any, int]) -> CommentToken | None:
    node, key, position = slot
    entry = node.ca.items.get(key)
    token = entry[position] if entry is not None and len(entry) > position else None
    return token if isinstance(token, CommentToken) else None


def _lastLine(node: Any) -> tuple[Any, CommentToken | None]:
    """What ends C{node}'s text: the path of keys (or indexes) and the
    plain value of its last key or item, and the comment token that holds
    its end-of-line comment and the comment lines after it (or C{None})."""
    slots = _tailSlots(node)
    path = tuple(slot[1] for slot in slots)
    where = (path, plain(slots[-1][0][slots[-1][1]])) if slots else None
    for slot in reversed(slots):
        token = _token(slot)
        if token is not None:
            return where, token
    return where, None


def _trailing(node: Any) -> tuple[Any, CommentToken | None, str]:
    """C{node}'s L{_lastLine} and the comment lines after its text (with the
    blank lines among them and their indentation), not the comment at the
    end of its last line: what follows the first line break of that token."""
    where, token = _lastLine(node)
    return where, token, "" if token is None else str(token.value).partition("\n")[2]


def _setTrailing(node: Any, trailing: tuple[Any, CommentToken | None, str]) -> None:
    """Make the comment lines of C{trailing} (L{_trailing} of the entry
    C{node} replaces) the ones after C{node}'s text. The comment at the end
    of C{node}'s last line stays; when it has none and its last line is the
    replaced entry's (the same key, the same value), that one's comes along."""
    slots = _tailSlots(node)
    if not slots:
        return
    where, carried, lines = trailing
    found = [slot for slot in slots if _token(slot) is not None]
    slot = found[-1] if found else slots[-1]
    old = _token(slot)
    if old is None and carried is not None and _lastLine(node)[0] == where:
        old = carried
    line = str(old.value).partition("\n")[0] + "\n" if old is not None else "\n"
    holder, key, position = slot
    entry = holder.ca.items.setdefault(key, [None, None, None, None])
    new = None
    if line.strip() or lines:
        mark = old.start_mark if old is not None else CommentMark(0)
        new = CommentToken(line + lines, mark)
    entry[position] = new
    value = holder[key]
    if old is not None and isinstance(value, (CommentedMap, CommentedSeq)):
        comment = value.ca.comment
        if comment and comment[0] is old:  # a flow collection holds it too
            comment[0] = new
    for other in found[:-1]:  # one place only: the deepest wins
        other[0].ca.items[other[1]][other[2]] = None


def plain(value: Any) -> Any:
    """ruamel's value as plain Python (dicts, lists, str, int, float, bool, None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
