"""Fixtures of the tuned runtime's unit tests.

Every test here runs on the tuned runtime whatever C{$MCPGATEWAY_TWISTED}
says (a site made without a word for C{twisted} is a tuned one): these are
the tests of L{mcpgateway.tuned}'s own modules, which stock Twisted does
not have. So they give the same answer on both runtimes, and CI's stock
pass leaves them out (C{tests/support/switched.py})."""

from __future__ import annotations

import pytest

from mcpgateway.tuned.switch import TUNED, TWISTED_ENV


@pytest.fixture(autouse=True)
def onTuned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tuned runtime, whatever the environment of the run says."""
    monkeypatch.setenv(TWISTED_ENV, TUNED)
