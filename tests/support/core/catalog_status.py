"""UNLISTED: what the catalog status says of a server whose catalog is not
taken yet, for the tests of the catalog service and its admin API."""

from __future__ import annotations

from typing import Any

UNLISTED: dict[str, Any] = {
    "source": None,
    "tools": 0,
    "prompts": 0,
    "resources": 0,
    "resourceTemplates": 0,
    "taken": None,
    "stale": False,
    "catalogs": 0,
    "error": None,
}
"""No source, no lists, nothing stale and no error."""
