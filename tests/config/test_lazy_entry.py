"""An entry's C{"lazy"}: whether a shared server's start-up may be answered
from its saved catalog (true unless the entry says false)."""

from __future__ import annotations

import pytest

from mcpgateway.config.servers import EntryError, parseEntry


def test_lazy_is_true_unless_the_entry_says_false() -> None:
    assert parseEntry("s", {"command": "srv"}, {}).lazy is True
    assert parseEntry("s", {"command": "srv", "lazy": False}, {}).lazy is False


def test_lazy_must_be_true_or_false() -> None:
    with pytest.raises(EntryError, match="'lazy' must be true or false"):
        parseEntry("s", {"command": "srv", "lazy": "no"}, {})
