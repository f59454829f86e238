"""What the store tests' garbage properties share: hypothesis settings for a
property that writes under C{tmp_path}, and a fresh directory per example
(pytest gives every example of one test the same C{tmp_path})."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

GARBAGE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
"""Sixty examples, no deadline (they write files), C{tmp_path} allowed."""


def exampleDirectory(tmp_path: Path) -> Path:
    """A new, empty directory under C{tmp_path} for this example."""
    root = tmp_path / str(len(os.listdir(tmp_path)))
    root.mkdir()
    return root
