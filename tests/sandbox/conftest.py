"""What every sandbox unit test shares: no system-call filter is ever
loaded into the test process (the launcher's Landlock path loads it into
itself just before its C{exec}; in pytest it would stay for good)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mcpgateway.sandbox import seccomp


@pytest.fixture(autouse=True)
def filtersLoaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """The libraries L{seccomp.install} was asked to load a filter with,
    recorded instead of loaded."""
    loaded: list[object] = []
    monkeypatch.setattr(seccomp, "install", loaded.append)
    yield loaded
