# -*- test-case-name: tests.core.test_bigline -*-
"""A child's stdout line over the gateway's limit (C{--max-line}), kept as
its head and its tail only, and the request it answers, found there.

A server answering one session's request with more than the limit (a
17 MB base64 image of a 13 MB file) would otherwise cost every session
of the child: the child killed, their calls failed, its memory gone. When
the line is an answer whose request can be told from its ends, that
request alone fails and the child goes on: an SDK writes the top-level
C{id} first (C{{"jsonrpc":"2.0","id":7,"result":...}}, Python) or last
(C{{"result":...,"jsonrpc":"2.0","id":7}}, TypeScript), and a nested
object's C{id} is never where the top level's is. A line whose head does
not begin an answer (a request of the server's, a notification, or not
JSON at all) cannot be told from another's, and still costs the child,
as does one over L{SKIP_MOST} times the limit (a child writing without
end)."""

from __future__ import annotations

import json
import re
from typing import Any

KEPT = 512
"""Bytes of the line's head and of its tail that are kept."""
SKIP_MOST = 8
"""How many times the limit a line may reach while it is dropped."""
_ID = rb'(-?\d{1,18}|"(?:[^"\\]|\\.){0,400}")'
_ANSWER_HEAD = re.compile(
    rb'\A\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*' + _ID + rb"\s*,\s*)?"
    rb'"(?:result|error)"\s*:'
)
_TAIL_ID = re.compile(rb'"id"\s*:\s*' + _ID + rb"\s*\}\s*\r?\Z")


class OversizedLine:
    """The line being dropped: its head, its tail and its size so far."""

    __slots__ = ("head", "size", "tail")

    def __init__(self, start: bytes) -> None:
        self.head = start[:KEPT]
        self.tail = start[-KEPT:]
        self.size = len(start)

    def add(self, data: bytes) -> None:
        """More of the line (not its end)."""
        self.size += len(data)
        self.tail = (self.tail + data)[-KEPT:]

    def mayAnswer(self) -> bool:
        """Whether its head begins an answer (else nothing of the rest can
        tell whose it is)."""
        return _ANSWER_HEAD.match(self.head) is not None

    def answers(self) -> tuple[bool, Any]:
        """Whether the whole line is an answer whose request it names, and
        that request's id (as the child wrote it)."""
        head = _ANSWER_HEAD.match(self.head)
        if head is None:
            return False, None
        if head.group(1) is not None:
            return True, json.loads(head.group(1))
        tail = _TAIL_ID.search(self.tail)
        if tail is None:
            return False, None
        return True, json.loads(tail.group(1))
