"""The one shape of a governance decision."""

from __future__ import annotations

from mcpgateway.core.decision import ALLOWED, Decision


def test_only_allowed_goes_on() -> None:
    assert ALLOWED.allowed
    assert not Decision("denied", ("analysts-read",), "denied by policy analysts-read").allowed
    assert not Decision("limited", ("limit:principal",), "over the limit", 3.0).allowed
