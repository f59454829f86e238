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
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from mcpgateway.clientconfigs.documents import Location

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

    def replaceEntry(self, location: Location, name: str, value: dict[str, Any]) -> None:
        container = self._container(location)
        if container is None:
            raise KeyError(name)
        new = _commented(value)
        if location.listKey is None:
            if name not in container:
                raise KeyError(name)
            _keepTrailingComment(container[name], new)
            container[name] = new
        else:
            for index, item in enumerate(container):
                if isinstance(item, dict) and item.get(location.listKey) == name:
                    _keepTrailingComment(item, new)
                    container[index] = new
                    break
            else:
                raise KeyError(name)
        self._changed = True

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


def _keepTrailingComment(old: Any, new: Any) -> None:
    """The comment after the old entry's last key (ruamel attaches the
    comment lines that follow an entry there) moves to the new one's."""
    if not (isinstance(old, CommentedMap) and isinstance(new, CommentedMap)) or not old or not new:
        return
    comment = old.ca.items.get(list(old.keys())[-1])
    if comment is not None:
        new.ca.items[list(new.keys())[-1]] = comment


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
