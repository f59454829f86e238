"""What tests/ops/test_childhandover.py shares with the other tests: the
record a gateway hands a child over with (RECORD)."""

from __future__ import annotations

from typing import Any

RECORD: dict[str, Any] = {
    "server": "gone",
    "session": "",
    "fingerprint": "f",
    "pid": 77,
    "pgid": 77,
    "pending": "",
    "nextId": 3,
    "childInitializeResult": None,
    "sessionInitializeResult": None,
    "sessionCapabilities": None,
    "subscriptions": [],
    "logLevel": None,
    "fds": 3,
}
"""A shared child's record, server C{gone}, pid 77, three descriptors."""
