"""Reading an HTTP/1.1 message's head the way the tests that see raw bytes
need it: the in-memory client of C{tests/http.py} and the cutting proxy of
C{tests/integration/continuitykit.py}."""

from __future__ import annotations


def parseHead(head: bytes) -> tuple[str, dict[str, str]]:
    """The start line and the header fields (names lower-cased, values
    stripped; a repeated field keeps its last value) of C{head}, the bytes
    before the blank line that ends it."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers
