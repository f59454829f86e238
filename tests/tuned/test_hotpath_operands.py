"""The request path looks for single bytes as C{int}s, and reads header
values as llhttp leaves them, trailing blanks stripped, whatever they hold.

C{bytes.__contains__} first tries a C{bytes} operand as an C{int}: the
C{TypeError} it makes and drops cost about 1,800 machine instructions, more
than the rest of a header's handling, and a request met it once per header
(C{benchmarks/hotpath.py --instructions}). The modules that read every
request therefore never put a C{bytes} literal or a slice on the left of
C{in}, and the JSON-RPC decoder, which reads every message twice (the
client's and the child's), looks for a run of digits with C{find}.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import jsonrpc
from mcpgateway.tuned import httpreader, request
from mcpgateway.tuned.httpreader import RequestReader
from tests.support.parsed import parsed

PER_REQUEST = [Path(httpreader.__file__), Path(request.__file__)]


def bytesOperandsOfIn(path: Path) -> list[int]:
    """The lines of C{path} where C{in} or C{not in} has a C{bytes} literal
    or a slice on its left."""
    found = []
    for node in parsed(path).nodes:
        if not isinstance(node, ast.Compare):
            continue
        lefts = [node.left, *node.comparators[:-1]]
        for op, left in zip(node.ops, lefts, strict=True):
            if not isinstance(op, (ast.In, ast.NotIn)):
                continue
            literal = isinstance(left, ast.Constant) and isinstance(left.value, bytes)
            sliced = isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Slice)
            if literal or sliced:
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", PER_REQUEST, ids=lambda p: p.name)
def test_single_bytes_are_looked_for_as_ints(path: Path) -> None:
    assert bytesOperandsOfIn(path) == []


def searchesOfMadeBytes(path: Path, function: str) -> list[int]:
    """The lines of C{function} in C{path} where C{in} looks into a value made
    on the spot by a call (C{raw.translate(...)}: bytes, in the decoder)."""
    nodes = parsed(path).nodes
    (found,) = [n for n in nodes if isinstance(n, ast.FunctionDef) and n.name == function]
    return [
        node.lineno
        for node in ast.walk(found)
        if isinstance(node, ast.Compare)
        and any(
            isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, ast.Call)
            for op, right in zip(node.ops, node.comparators, strict=True)
        )
    ]


def test_the_decoder_finds_its_digit_runs_without_in() -> None:
    assert searchesOfMadeBytes(Path(jsonrpc.__file__), "_loadsFast") == []


def test_the_check_finds_a_bytes_operand(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('a = b"?" in path\nb = value[-1:] in b" \\t"\nc = 63 in path\n')
    assert bytesOperandsOfIn(sample) == [1, 2]
    sample.write_text("def f(raw, run):\n    return run in raw.translate(None)\n")
    assert searchesOfMadeBytes(sample, "f") == [2]


_VISIBLE = st.binary(min_size=0, max_size=12).map(
    lambda raw: bytes(33 + b % 94 for b in raw)  # visible ASCII, no blank, no CR/LF
)


@given(
    st.lists(
        st.tuples(
            _VISIBLE,
            st.lists(st.sampled_from([b" ", b"\t"]), max_size=3).map(b"".join),
            st.lists(st.sampled_from([b" ", b"\t"]), max_size=3).map(b"".join),
        ),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=100)
def test_header_values_lose_their_trailing_blanks_only(
    values: list[tuple[bytes, bytes, bytes]],
) -> None:
    """Inner blanks stay, trailing ones go, an empty value stays empty."""
    head = b"GET / HTTP/1.1\r\nHost: h\r\n"
    for i, (text, inner, trailing) in enumerate(values):
        value = text + inner + text if text else text
        head += b"X-V%d: %s%s\r\n" % (i, value, trailing)
    reader = RequestReader(16384, 500)
    reader.feed(head + b"\r\n")
    (message,) = reader.messages
    got = dict(message.headers)
    for i, (text, inner, _) in enumerate(values):
        assert got[b"X-V%d" % i] == (text + inner + text if text else b"")
