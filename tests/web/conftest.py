"""Fixtures of the HTTP face's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def tunedChannel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gateway's own HTTP channel whatever C{$MCPGATEWAY_TWISTED} says:
    for tests that read its state (its open request, its body deadline, its
    reader), which Twisted's own channel does not have. The stock channel's
    behaviour is tests/web/plumbing/test_stock.py's."""
    monkeypatch.setenv("MCPGATEWAY_TWISTED", "tuned")
    yield
