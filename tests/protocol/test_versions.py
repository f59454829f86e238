"""Protocol revisions (mcpgateway.protocol.versions) and the era of a POSTed
body (mcpgateway.protocol.envelope.eraOf)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import envelope, versions
from mcpgateway.protocol.envelope import Era, eraOf

CLAIM = {versions.ERA2026_META_KEY: "2026-07-28"}


def request(method: str, meta: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


@pytest.mark.parametrize(
    ("message", "header", "era"),
    [
        # The body claim decides, whatever the header says.
        (request("tools/list", CLAIM), None, Era.ERA2026),
        (request("tools/list", CLAIM), "2025-11-25", Era.ERA2026),
        (request("tools/list", CLAIM), "2026-07-28", Era.ERA2026),
        # A malformed claim is still a claim (refused as 2026, never served as handshake).
        (request("tools/list", {versions.ERA2026_META_KEY: 7}), None, Era.ERA2026),
        (request("initialize", CLAIM), None, Era.ERA2026),
        # server/discover is 2026 by its name.
        (request("server/discover"), None, Era.ERA2026),
        (request("server/discover"), "2025-11-25", Era.ERA2026),
        # The header alone: a revision outside the handshake ones.
        (request("tools/list"), "2026-07-28", Era.ERA2026),
        (request("tools/list"), "1900-01-01", Era.ERA2026),
        ({"jsonrpc": "2.0", "method": "notifications/cancelled"}, "2026-07-28", Era.ERA2026),
        ([request("tools/list")], "2026-07-28", Era.ERA2026),
        # Handshake: no claim and a handshake header (or none).
        (request("tools/list"), None, Era.HANDSHAKE),
        (request("tools/list"), "2025-11-25", Era.HANDSHAKE),
        (request("tools/list", {"progressToken": 3}), "2025-06-18", Era.HANDSHAKE),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, None, Era.HANDSHAKE),
        ([request("tools/list")], None, Era.HANDSHAKE),
        # initialize without the claim is the handshake, whatever the header.
        (request("initialize", protocolVersion="2025-11-25"), None, Era.HANDSHAKE),
        (request("initialize", protocolVersion="2025-11-25"), "2026-07-28", Era.HANDSHAKE),
        # _meta that is not an object carries no claim.
        (request("tools/list", None, _meta="x"), None, Era.HANDSHAKE),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": []}, None, Era.HANDSHAKE),
        ("not a message", None, Era.HANDSHAKE),
    ],
)
def test_eraOf(message: Any, header: str | None, era: Era) -> None:
    assert eraOf(message, header) is era


def test_isEra2026Request_is_eraOf_without_a_header() -> None:
    assert envelope.isEra2026Request(request("server/discover"))
    assert envelope.isEra2026Request(request("ping", CLAIM))
    assert not envelope.isEra2026Request(request("tools/list"))
    assert not envelope.isEra2026Request(request("initialize", protocolVersion="2025-11-25"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=80)
@given(
    message=JSON,
    header=st.none()
    | st.sampled_from(versions.ERA2026_VERSIONS + versions.HANDSHAKE_VERSIONS)
    | st.text(max_size=10),
)
def test_eraOf_is_total(message: Any, header: str | None) -> None:
    """Any JSON and any header: an era, never an exception; a handshake header
    and no claim never make a body 2026 unless it is server/discover."""
    era = eraOf(message, header)
    assert era in (Era.HANDSHAKE, Era.ERA2026)
    if header is None or header in versions.HANDSHAKE_VERSIONS:
        bodyEra2026 = isinstance(message, dict) and envelope.isEra2026Request(message)
        assert (era is Era.ERA2026) == bodyEra2026
