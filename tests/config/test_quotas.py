"""Reading the C{"limits"} objects of a config (L{mcpgateway.config.quotas})."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.quotas import QuotasError, canonical, parseQuotas, parseRate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/min", (60.0, 60.0)),
        ("5/s", (5.0, 1.0)),
        ("1000 / h", (1000.0, 3600.0)),
        ("0.5/s", (0.5, 1.0)),
    ],
)
def test_rates(text: str, expected: tuple[float, float]) -> None:
    assert parseRate(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("60/fortnight", "unit 'fortnight'"),
        ("60", "not N/s, N/min or N/h"),
        ("0/s", "more than 0"),
        (60, 'a rate is a string like "60/min", not 60'),
        ("-1/s", "not N/s"),
    ],
)
def test_bad_rates_say_why(value: Any, message: str) -> None:
    with pytest.raises(QuotasError, match=message):
        parseRate(value)


def test_a_whole_object() -> None:
    limits = parseQuotas(
        {
            "principal": {"calls": "60/min", "burst": 10, "daily": 5000},
            "principalTool": {"calls": "2/s"},
        }
    )
    assert limits.principal is not None
    assert limits.principal.perSecond == 1.0
    assert limits.principal.burst == 10.0
    assert limits.principal.daily == 5000
    assert limits.principalTool is not None and limits.principalTool.burst == 2.0
    assert limits.server is None and limits


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be an object"),
        ({"everyone": {}}, 'has "everyone": its keys are principal'),
        (
            {"principal": {"calls": "1/s", "burst": 0}},
            r"limits.principal.burst must be a whole number",
        ),
        ({"principal": {"calls": "1/s", "burst": True}}, "burst must be a whole number"),
        ({"principal": {"daily": 1.5}}, "daily must be a whole number"),
        ({"principal": {}}, 'needs "calls" or "daily"'),
        ({"principal": {"daily": 3, "burst": 2}}, 'burst needs a "calls" rate'),
        ({"tool": {"calls": "1/s", "rate": 3}}, 'has "rate": its keys are calls'),
        ({"server": {"calls": "x/min"}}, r"limits.server.calls: the rate \"x/min\""),
    ],
)
def test_bad_objects_say_where_and_why(value: Any, message: str) -> None:
    with pytest.raises(QuotasError, match=message):
        parseQuotas(value)


def test_canonical_is_stable() -> None:
    assert canonical(None) == ""
    a = canonical({"tool": {"burst": 2, "calls": "1/s"}})
    assert a == canonical({"tool": {"calls": "1/s", "burst": 2}})


json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(["principal", "server", "tool", "principalTool", "other"])
rates = st.dictionaries(
    st.sampled_from(["calls", "burst", "daily", "x"]),
    json | st.from_regex(r"\A[0-9]{1,4}(\.[0-9])?\s?/\s?(s|min|h|d|)\Z"),
    max_size=3,
)


@given(st.dictionaries(keys, rates | json, max_size=4) | json)
def test_never_a_crash(value: Any) -> None:
    try:
        parsed = parseQuotas(value)
    except QuotasError as e:
        assert str(e)
    else:
        for key in ("principal", "server", "tool", "principalTool"):
            rate = getattr(parsed, key)
            if rate is not None:
                assert rate.burst >= 1
                assert rate.perSecond is None or rate.perSecond > 0


def test_config_file_limits() -> None:
    from mcpgateway.config.servers import parseConfig

    loaded = parseConfig(
        {
            "limits": {"principal": {"calls": "10/s"}},
            "mcpServers": {
                "good": {"command": "true", "limits": {"tool": {"calls": "1/s", "burst": 3}}},
                "bad": {"command": "true", "limits": {"tool": {"calls": "1/week"}}},
            },
        },
        "gateway.json",
        environ={},
    )
    assert loaded.limits == '{"principal":{"calls":"10/s"}}'
    assert loaded.servers["good"].limits == '{"tool":{"burst":3,"calls":"1/s"}}'
    assert "bad" not in loaded.servers
    assert loaded.warnings == [
        "server 'bad' (gateway scope): 'limits'.tool.calls: the rate \"1/week\" has the"
        " unit 'week': use s, min or h; skipped"
    ]
    wrong = parseConfig({"limits": 5, "mcpServers": {}}, "g.json", environ={})
    assert wrong.limits == ""
    assert wrong.errors == [
        "g.json: limits must be an object with principal, server, tool, principalTool;"
        " no gateway-wide limits apply"
    ]
