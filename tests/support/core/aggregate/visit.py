"""What tests/core/aggregate/test_visit.py shares with the other tests: facts."""

from __future__ import annotations

import dataclasses
from typing import Any

from mcpgateway.core.sessions import SessionFacts


def facts(server: str = "fs", **changes: Any) -> SessionFacts:
    made = SessionFacts(
        server=server,
        scope="",
        principal="",
        credential="",
        protocolVersion="2025-06-18",
        capabilities=frozenset({"sampling", "roots"}),
        owned=False,
        created=100.0,
    )
    return dataclasses.replace(made, **changes)
