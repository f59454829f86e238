"""jsonrpc.loads/dumps with orjson (a dependency: every install has it) give
what the standard library gives: differential tests of the two paths, and each
case where orjson alone would read or write something else.

orjson missing is a failure here, not a skip: every install has it. The depth
scan's tests run on both paths (both use it).
"""

from __future__ import annotations

import enum
import json
import re
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MAX_DEPTH
from tests.integration.gateway import REPO
from tests.support.protocol.fragments import PUNCTUATION
from tests.support.runtime.fresh import freshJson

# -- helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orjsonModule() -> ModuleType:
    """orjson (module-scoped for the hypothesis tests, whose fixtures are
    not function-scoped; L{_both} restores the switch after each example)."""
    import orjson as module

    return module


@pytest.fixture
def orjson(orjsonModule: ModuleType) -> Iterator[ModuleType]:
    """orjson, with the fast path on (and the state before restored)."""
    before = jsonrpc._FAST_LOADS is not None
    assert jsonrpc.useFast(True)
    try:
        yield orjsonModule
    finally:
        jsonrpc.useFast(before)


def _both(call: Callable[[], Any]) -> tuple[Any, Any]:
    """C{call}'s outcome with the fast path on, then off (restored after):
    (C{"value"}, what it returned) or (the exception's type, its text and
    position)."""
    before = jsonrpc._FAST_LOADS is not None
    outcomes: list[tuple[Any, ...]] = []
    try:
        for fast in (True, False):
            jsonrpc.useFast(fast)
            try:
                outcomes.append(("value", call()))
            except Exception as e:
                outcomes.append((type(e), str(e), getattr(e, "position", None)))
    finally:
        jsonrpc.useFast(before)
    return outcomes[0], outcomes[1]


def _exact(value: Any) -> Any:
    """C{value} with every type and order made visible: C{1 == 1.0 == True}
    and C{0.0 == -0.0} in Python, and dicts compare regardless of order."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, str)):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, list):
        return ("list", [_exact(item) for item in value])
    if isinstance(value, dict):
        return ("dict", [(_exact(k), _exact(v)) for k, v in value.items()])
    raise AssertionError(f"not a JSON value: {value!r}")


def _sameLoads(data: bytes | str, **options: Any) -> Any:
    """Assert both paths give the same value (types and order too) or the
    same ParseError (message and position); return the fast path's outcome."""
    fast, slow = _both(lambda: jsonrpc.loads(data, **options))
    if fast[0] == "value" and slow[0] == "value":
        assert _exact(fast[1]) == _exact(slow[1]), (data, options)
    else:
        assert fast == slow, (data, options)
        assert fast[0] is jsonrpc.ParseError
    return fast


def _hasFloat(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_hasFloat(k) or _hasFloat(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_hasFloat(item) for item in value)
    return False


def _sameDumps(value: Any) -> bytes:
    """Assert both paths write the same bytes (or, when floats are written,
    bytes that read back as the same value: orjson writes C{1e-7} for the
    stdlib's C{1e-07}), or raise the same exception type."""
    fast, slow = _both(lambda: jsonrpc.dumps(value))
    if fast[0] != "value" or slow[0] != "value":
        assert fast[0] == slow[0], (value, fast, slow)
        return b""
    if _hasFloat(value):
        assert _exact(json.loads(fast[1])) == _exact(json.loads(slow[1])), value
    else:
        assert fast[1] == slow[1], value
    data: bytes = fast[1]
    assert b"\n" not in data
    data.decode("utf-8")
    return data


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(alphabet='[]{}"\\:,0123456789e.-\u00e9\U0001f600 \n'),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=24,
)


def _texts(value: Any) -> st.SearchStrategy[str]:
    """The ways a sender may write C{value}."""
    return st.sampled_from(
        [
            json.dumps(value),
            json.dumps(value, ensure_ascii=False, separators=(",", ":")),
            json.dumps(value, indent=1),
        ]
    )


# -- differential: values ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    JSON_VALUES.flatmap(_texts),
    st.sampled_from(["bytes", "str"]),
    st.sampled_from([MAX_DEPTH, 1, 2, 3, 5]),
    st.sampled_from([1000, 1, 4, 10, 20, 60]),
)
def test_loads_of_json_texts_is_the_same(
    orjsonModule: ModuleType, text: str, form: str, maxDepth: int, maxDigits: int
) -> None:
    data = text.encode("utf-8") if form == "bytes" else text
    _sameLoads(data, maxDepth=maxDepth, maxDigits=maxDigits)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_dumps_is_the_same(orjsonModule: ModuleType, value: Any) -> None:
    data = _sameDumps(value)
    assert _exact(jsonrpc.loads(data)) == _exact(value)


_NUMBERS = st.builds(
    lambda sign, whole, fraction, exponent: sign + whole + fraction + exponent,
    st.sampled_from(["", "-"]),
    st.sampled_from(["0"]) | st.from_regex(r"[1-9][0-9]{0,24}", fullmatch=True),
    st.sampled_from([""]) | st.from_regex(r"\.[0-9]{1,24}", fullmatch=True),
    st.sampled_from([""]) | st.from_regex(r"[eE][+-]?[0-9]{1,4}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(_NUMBERS, st.sampled_from([1000, 10, 19, 20, 25]))
def test_loads_of_numbers_is_the_same(
    orjsonModule: ModuleType, number: str, maxDigits: int
) -> None:
    """Every JSON number (up to 25-digit runs, exponents to 4 digits): the
    same int or float, or the same refusal (overflow, over the limit)."""
    _sameLoads(number.encode(), maxDigits=maxDigits)
    _sameLoads(f'{{"id":{number},"x":[{number}]}}'.encode(), maxDigits=maxDigits)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_loads_of_float_texts_is_the_same(orjsonModule: ModuleType, number: float) -> None:
    """Python's shortest repr of any float (orjson rounds as Python does)."""
    _sameLoads(json.dumps(number).encode())
    _sameLoads(f"{number:.17e}".encode())


# -- differential: hostile texts -----------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        *PUNCTUATION,
        '"a"',
        '"k":',
        "\\",
        '\\"',
        "\\\\",
        "\\n",
        "\\u",
        "\\ud800",
        "\\udc00",
        "\\ud83d\\ude00",
        "\\u0000",
        "NaN",
        "Infinity",
        "-",
        "0",
        "-0",
        "1",
        "1.5",
        "e5",
        "1e400",
        "9" * 19,
        "18446744073709551616",
        "9" * 1001,
        "true",
        "null",
        " ",
        "\x00",
        "\x1f",
        "\u00e9",
        "\U0001f600",
        "\ud800",
        "\ufeff",
        "[" * 60,
        "]" * 60,
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_FRAGMENTS, max_size=14).map("".join),
    st.sampled_from(["str", "bytes"]),
    st.booleans(),
    st.sampled_from([MAX_DEPTH, 3, 40]),
)
def test_loads_of_hostile_texts_is_the_same(
    orjsonModule: ModuleType, text: str, form: str, allowLoneSurrogates: bool, maxDepth: int
) -> None:
    data: bytes | str = text
    if form == "bytes":
        data = text.encode("utf-8", "surrogatepass")
    _sameLoads(data, allowLoneSurrogates=allowLoneSurrogates, maxDepth=maxDepth)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_loads_of_arbitrary_bytes_is_the_same(orjsonModule: ModuleType, data: bytes) -> None:
    _sameLoads(data)
    _sameLoads(data, allowLoneSurrogates=True)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES.map(json.dumps), st.data())
def test_loads_of_mutated_texts_is_the_same(orjsonModule: ModuleType, text: str, data: Any) -> None:
    """A valid text with one character inserted, deleted or replaced."""
    where = data.draw(st.integers(min_value=0, max_value=len(text)))
    char = data.draw(st.sampled_from(list('[]{}",:\\0123456789-+.eEtfnu \x00\ud800\u00e9')))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if edit == "insert":
        text = text[:where] + char + text[where:]
    elif edit == "delete":
        text = text[:where] + text[where + 1 :]
    else:
        text = text[:where] + char + text[where + 1 :]
    _sameLoads(text.encode("utf-8", "surrogatepass"))
    _sameLoads(text)


# -- each difference orjson alone would make -----------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        b"18446744073709551616",  # 2**64
        b"-9223372036854775809",  # below the int64 range
        b"123456789012345678901234567890",
    ],
)
def test_integers_beyond_64_bits_stay_exact(orjson: ModuleType, number: bytes) -> None:
    assert isinstance(orjson.loads(number), float)  # what orjson alone makes of it
    for data in (number, b'{"id":' + number + b',"a":[' + number + b"]}"):
        assert _exact(_sameLoads(data)[1]) == _exact(json.loads(data))


def test_integers_within_64_bits(orjson: ModuleType) -> None:
    for data in (b"18446744073709551615", b"-9223372036854775808", b"9999999999999999999"):
        assert _exact(_sameLoads(data)[1]) == _exact(int(data))


@pytest.mark.parametrize(
    "data", [b"1e400", b"-1e400", b"1" + b"0" * 400 + b".0", b"1.8e308", b"[1e0000309]"]
)
def test_overflowing_numbers_are_refused_alike(orjson: ModuleType, data: bytes) -> None:
    outcome = _sameLoads(data)
    assert outcome[0] is jsonrpc.ParseError and "finite" in outcome[1]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"1e-400", 0.0),
        (b"-0", 0),
        (b"-0.0", -0.0),
        (b"-0e0", -0.0),
        (b"1E2", 100.0),
        (b"1.7976931348623157e308", 1.7976931348623157e308),
        (b"1.7976931348623158e308", 1.7976931348623157e308),  # rounds down, finite
        (b"4.9e-324", 5e-324),
        (b"2.2250738585072011e-308", 2.2250738585072011e-308),
        (b"0.1", 0.1),
    ],
)
def test_edge_numbers(orjson: ModuleType, data: bytes, expected: float) -> None:
    assert _exact(_sameLoads(data)[1]) == _exact(expected)


def test_numbers_over_the_digit_limit(orjson: ModuleType) -> None:
    """A float of more than maxDigits characters has no run of 1001 digits;
    orjson would take it, the stdlib path refuses it."""
    long = b"0." + b"1" * 999 + b"e1"  # 1003 characters, runs of 1 and 999
    assert isinstance(orjson.loads(long), float)
    outcome = _sameLoads(long)
    assert outcome[0] is jsonrpc.ParseError and "1000-character limit" in outcome[1]
    assert _sameLoads(b"0." + b"1" * 998)[0] == "value"  # 1000 characters
    assert _sameLoads(b"-1.5e-5", maxDigits=7)[0] == "value"
    assert _sameLoads(b"-1.5e-50", maxDigits=7)[0] is jsonrpc.ParseError


def test_duplicate_keys_last_wins_in_first_place(orjson: ModuleType) -> None:
    value = _sameLoads(b'{"a":1,"b":2,"a":3}')[1]
    assert list(value.items()) == [("a", 3), ("b", 2)]


@pytest.mark.parametrize(
    ("data", "allow", "accepted"),
    [
        (b'"\\ud800"', False, False),
        (b'"\\ud800"', True, True),
        (b'{"\\udc00":1}', True, True),
        (b'"\\ud800\\u0041"', True, True),
        (b'"\\ud83d\\ude00"', False, True),  # a pair
        ('"\ud800"', False, False),
        ('"\ud800"', True, True),
        (b'"\xed\xa0\x80"', True, False),  # a surrogate in UTF-8 is not UTF-8
    ],
)
def test_lone_surrogates_alike(
    orjson: ModuleType, data: bytes | str, allow: bool, accepted: bool
) -> None:
    """orjson refuses every lone surrogate; the stdlib path decides."""
    outcome = _sameLoads(data, allowLoneSurrogates=allow)
    assert (outcome[0] == "value") is accepted


@pytest.mark.parametrize(
    "data", [b"NaN", b"[Infinity]", b"-Infinity", b"\xef\xbb\xbf[1]", b"[1,]", b"\xff", b""]
)
def test_refusals_alike(orjson: ModuleType, data: bytes) -> None:
    assert _sameLoads(data)[0] is jsonrpc.ParseError


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):  # noqa: UP042 (the mixin form, as much code still writes it)
    SHARED = "shared"


class Name(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
        {"t": (1, (2, "3"))},
        {Name("k"): Name("v"), "n": Count(7), "r": Ratio(1.5)},
        {"level": Level.HIGH, "mode": Mode.SHARED, Mode.SHARED: 1},
        [2**64, -(2**63) - 1, 2**200],
        {"nan": float("nan"), "inf": [float("inf"), -float("inf")], 1: float("nan")},
        {"lone": "\ud800", "pair": "\ud83d\ude00", "key\udc00": 1},
        {"floats": [1e-07, 1e16, 1e22, -0.0, 5e-324, 1.7976931348623157e308, 0.1]},
        '\x00\x1f\x7f\u2028\u2029\b\f\r\t"\\/',
        [[[[[[[[[[1]]]]]]]]]] * 3,
        Point(1),
        datetime(2025, 1, 1, tzinfo=UTC),
        {"set": {1}},
        object(),
    ],
    ids=lambda value: type(value).__name__,
)
def test_dumps_differences_fall_back(orjson: ModuleType, value: Any) -> None:
    """Non-str keys, tuples, subclasses, big ints, non-finite floats, lone
    surrogates, float formatting, types neither writes: as the stdlib does."""
    _sameDumps(value)


def test_dumps_deeper_than_orjson_writes(orjson: ModuleType) -> None:
    value: Any = 1
    for _ in range(300):  # orjson stops at 254 levels
        value = [value]
    assert _sameDumps(value).startswith(b"[[[")


def test_dumps_float_formatting(orjson: ModuleType) -> None:
    """orjson writes its own shortest form (C{1e-7}; C{1e16} or C{1e+16}
    by version), the stdlib Python's repr: the same numbers."""
    fast = jsonrpc.dumps([1e-07, 1e16])
    assert fast.startswith(b"[1e-7,") and json.loads(fast) == [1e-07, 1e16]
    jsonrpc.useFast(False)
    assert jsonrpc.dumps([1e-07, 1e16]) == b"[1e-07,1e+16]"


def test_dumps_enum_and_uuid_are_written_by_orjson(orjson: ModuleType) -> None:
    """The one difference left: the stdlib cannot write a plain Enum member
    or a UUID (TypeError), orjson writes its value. The gateway writes
    neither (only parsed JSON and the dicts it builds)."""
    assert jsonrpc.dumps({"c": Colour.RED}) == b'{"c":1}'
    one = uuid.UUID(int=1)
    assert jsonrpc.dumps(one) == b'"00000000-0000-0000-0000-000000000001"'
    jsonrpc.useFast(False)
    for value in (Colour.RED, one):
        with pytest.raises(TypeError):
            jsonrpc.dumps(value)


def test_dumps_circular_fails_alike(orjson: ModuleType) -> None:
    loop: list[Any] = []
    loop.append(loop)
    fast, slow = _both(lambda: jsonrpc.dumps(loop))
    assert fast[0] is slow[0] is ValueError


# -- the switch ------------------------------------------------------------------------------


def test_use_fast_switches(orjson: ModuleType) -> None:
    jsonrpc.dumps({})  # the first use imports orjson and puts it in place
    assert jsonrpc._FAST_LOADS is orjson.loads
    assert jsonrpc.useFast(False) is False
    assert jsonrpc._FAST_LOADS is None and jsonrpc._FAST_DUMPS is None
    assert jsonrpc.dumps({"a": 1e-07}) == b'{"a":1e-07}'
    assert jsonrpc.useFast(True) is True
    assert jsonrpc.dumps({"a": 1e-07}) == b'{"a":1e-7}'


def test_use_fast_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not installed: the standard library, and no error."""
    before = jsonrpc._FAST_LOADS is not None
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)
    try:
        assert jsonrpc.useFast(True) is False
        assert jsonrpc._FAST_LOADS is None
        assert jsonrpc.loads(b"[1]") == [1]
    finally:
        monkeypatch.undo()
        jsonrpc.useFast(before)


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, True),
        ({"MCPGATEWAY_JSON": "stdlib"}, False),
        ({"MCPGATEWAY_JSON": " STDLIB "}, False),
        ({"MCPGATEWAY_JSON": "orjson"}, True),
        ({"MCPGATEWAY_JSON": ""}, True),
    ],
)
def test_environment_switch(environ: dict[str, str], wanted: bool) -> None:
    assert jsonrpc._wanted(environ) is wanted


# -- the depth scan (both paths) ------------------------------------------------------------


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_NESTED = st.recursive(
    st.integers(0, 9) | st.text(alphabet='[]{}"\\\u00e9x', max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[{"\\k', max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_NESTED, st.integers(min_value=1, max_value=12), st.booleans())
def test_depth_scan_is_exact(value: Any, maxDepth: int, ascii: bool) -> None:
    """On valid JSON, with brackets, quotes and backslashes in its strings:
    refused exactly when deeper than maxDepth (a thorough scan), or not
    checked at all (a quick one, when escapes are in the way)."""
    data = json.dumps(value, ensure_ascii=ascii).encode("utf-8")
    deeper = _depth(value) > maxDepth
    for thorough in (True, False):
        try:
            checked = jsonrpc._checkDepth(data, maxDepth, thorough)
        except jsonrpc.ParseError:
            assert deeper
        else:
            assert not (checked and deeper)
            assert checked or not thorough
    assert jsonrpc._nestsDeeper(value, maxDepth) is deeper


def test_depth_limits_below_four_levels() -> None:
    """The scan stopped after four rounds of innermost pairs and took an
    emptied text as shallow enough, whatever the limit: C{[[[1]]]} passed
    a limit of 2."""
    before = jsonrpc._FAST_LOADS is not None
    for fast in (True, False):
        jsonrpc.useFast(fast)
        try:
            with pytest.raises(jsonrpc.ParseError, match="deeper than 2"):
                jsonrpc.loads(b"[[[1]]]", maxDepth=2)
            with pytest.raises(jsonrpc.ParseError, match="deeper than 1"):
                jsonrpc.loads(b'{"a":{"b":1}}  ', maxDepth=1)
            assert jsonrpc.loads(b"[[[1]]]", maxDepth=3) == [[[1]]]
        finally:
            jsonrpc.useFast(before)


def test_depth_of_a_big_escaped_text(orjson: ModuleType) -> None:
    """A big text whose strings hold brackets and escapes (a log a tool
    read): the fast path parses first and walks the value."""
    line = '2025-06-18 [INFO] {worker} said "hi"\\n\n'
    text = line * 200
    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        value: Any = [text, {"x": text}]
        for _ in range(depth - 2):
            value = [value]
        data = json.dumps(value).encode()
        assert jsonrpc._checkDepth(data, MAX_DEPTH, thorough=False) is False
        outcome = _sameLoads(data)
        assert (outcome[0] is jsonrpc.ParseError) is refused


def test_orjson_is_imported_by_the_first_use() -> None:
    """An idle gateway does not hold orjson (idle RSS): the first
    C{loads} or C{dumps} imports it, and both then use it."""
    code = (
        "import json, sys\n"
        "from mcpgateway.protocol import jsonrpc\n"
        "before = 'orjson' in sys.modules\n"
        "value = jsonrpc.loads(b'{\"a\": [1, 2.5]}')\n"
        "import orjson\n"
        "print(json.dumps([before, value, jsonrpc._FAST_LOADS is orjson.loads,"
        " jsonrpc._FAST_DUMPS is orjson.dumps, jsonrpc.dumps({'a': 1e-07}).decode()]))\n"
    )
    assert freshJson(code) == [False, {"a": [1, 2.5]}, True, True, '{"a":1e-7}']


def test_orjson_is_a_dependency_of_every_install() -> None:
    """Not an extra: C{pip install mcpgateway} gives the fast path, so every
    way of starting the gateway runs it (the C{speed} extra stays, empty,
    for install commands that name it)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0] for spec in project["dependencies"]]
    assert "orjson" in names, project["dependencies"]
    assert project["optional-dependencies"]["speed"] == []


def test_the_fast_path_is_on_unless_turned_off() -> None:
    """A fresh interpreter uses orjson without being asked;
    C{MCPGATEWAY_JSON=stdlib} turns it off."""
    import os
    import subprocess
    import sys

    code = "from mcpgateway.protocol import jsonrpc; print(jsonrpc._FAST_LOADS is not None)"
    env = {k: v for k, v in os.environ.items() if k != "MCPGATEWAY_JSON"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    ran = [
        subprocess.run(
            [sys.executable, "-c", code],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        for extra in ({}, {"MCPGATEWAY_JSON": "stdlib"})
    ]
    assert ran == ["True", "False"]
