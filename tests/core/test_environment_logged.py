"""A child given a proxy or a Kerberos/SASL variable by its entry (or a
C{.env} the entry lists it from) is named in the log when it starts: the
names, never the values."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.servers import parseEntry
from mcpgateway.core.environment import REDIRECTING_NAMES, isRedirecting, redirecting
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.upstream import Upstream
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner

PROXY = "http://user:proxy-password@proxy.example:3128"
TICKETS = "FILE:/tmp/krb5cc_attacker"


def started(env: dict[str, str]) -> list[dict[str, Any]]:
    """The log events of starting a child of an entry with C{env}."""
    reactor = FakeProcessReactor()
    spec = replace(
        parseEntry("srv", {"command": "server", "env": env}, {"PATH": "/bin"}),
        executable="/bin/server",
    )
    upstream = Upstream(
        spec, fakeSpawner(reactor, environ={"HTTP_PROXY": "inherited"}), SharedFanout()
    )
    with capturedGatewayLogs() as events:
        upstream.ensure()
    assert reactor.spawned, "no child started"
    return list(events)


def test_each_redirecting_variable_given_is_named_and_no_value_is_logged() -> None:
    events = started(
        {
            "HTTPS_PROXY": PROXY,
            "https_proxy": PROXY,
            "No_Proxy": "localhost",
            "KRB5CCNAME": TICKETS,
            "KRB5_CONFIG": "/tmp/krb5.conf",
            "SASL_PATH": "/tmp/sasl",
            "ALL_PROXY": PROXY,
            "OTHER": "plain",
        }
    )
    [given] = [e for e in events if e.get("variables") is not None]
    assert given["server"] == "srv" and given["pid"] is not None
    assert given["variables"] == [
        "ALL_PROXY",
        "HTTPS_PROXY",
        "KRB5CCNAME",
        "KRB5_CONFIG",
        "No_Proxy",
        "SASL_PATH",
        "https_proxy",
    ]
    assert "HTTPS_PROXY" in given["names"] and "OTHER" not in given["names"]
    for event in events:
        text = repr(event)
        assert PROXY not in text and TICKETS not in text and "proxy-password" not in text


def test_a_child_without_them_logs_nothing_more() -> None:
    """The gateway's own environment (HTTP_PROXY here) is the operator's:
    only what the entry gives is named."""
    events = started({"OTHER": "plain"})
    assert not [e for e in events if e.get("variables") is not None]


@given(
    st.sampled_from(sorted(REDIRECTING_NAMES)), st.lists(st.booleans(), min_size=20, max_size=20)
)
def test_any_case_is_redirecting(name: str, upper: list[bool]) -> None:
    mixed = "".join(c.upper() if up else c.lower() for c, up in zip(name, upper, strict=False))
    assert isRedirecting(mixed)
    assert redirecting([(mixed, "v"), ("PATH", "/bin")]) == [mixed]


@given(st.text(min_size=1, max_size=20))
def test_only_those_names_redirect(name: str) -> None:
    assert isRedirecting(name) == (name.upper() in REDIRECTING_NAMES)
