"""A server entry's C{"sandbox"} as the config reader takes it: onto the
spec, or the entry refused in words."""

from __future__ import annotations

import pytest

from mcpgateway.config.servers import EntryError, parseConfig, parseEntry
from mcpgateway.sandbox.profile import DEFAULT, OFF, ON


def test_the_profile_rides_on_the_spec() -> None:
    assert parseEntry("a", {"command": "x"}, {}).sandbox is DEFAULT
    assert parseEntry("a", {"command": "x", "sandbox": False}, {}).sandbox.setting == OFF
    spec = parseEntry("a", {"command": "x", "sandbox": {"filesystem": {"allowRead": ["~/d"]}}}, {})
    assert spec.sandbox.setting == ON and spec.sandbox.filesystem.allowRead == ("~/d",)


def test_a_profile_that_cannot_be_used_refuses_the_entry() -> None:
    with pytest.raises(EntryError, match=r"'sandbox\.filesystem' has 'denyRaed'"):
        parseEntry("a", {"command": "x", "sandbox": {"filesystem": {"denyRaed": []}}}, {})
    loaded = parseConfig({"mcpServers": {"a": {"command": "x", "sandbox": "yes"}}}, "f.json")
    assert loaded.servers == {}
    assert loaded.warnings == [
        "server 'a' (gateway scope): 'sandbox' must be true, false, \"learn\" or an object with"
        " filesystem, network, limits and syscalls; skipped"
    ]


def test_a_changed_profile_is_a_changed_server() -> None:
    before = parseEntry("a", {"command": "x"}, {})
    after = parseEntry("a", {"command": "x", "sandbox": True}, {})
    assert before != after
