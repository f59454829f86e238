"""A gateway without authentication has a door (only its owner's account
connects), a gateway with tokens has none; C{--owner-accepts-root} lets
root's connections in, and is refused where tokens decide instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactorClock

from mcpgateway.startup.dooroptions import doorFor
from mcpgateway.web.plumbing.door import Door, KernelNamer
from tests.support.startup.options import parseIn, refusal


def test_a_gateway_without_authentication_has_a_door(tmp_path: Path) -> None:
    reactor = MemoryReactorClock()
    door = doorFor(parseIn(tmp_path), reactor)  # type: ignore[arg-type]
    assert isinstance(door, Door) and isinstance(door.namer, KernelNamer)
    assert door.clock is reactor and not door.acceptsRoot
    withRoot = doorFor(parseIn(tmp_path, "--owner-accepts-root"), reactor)  # type: ignore[arg-type]
    assert withRoot is not None and withRoot.acceptsRoot


def test_a_gateway_with_tokens_has_none(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    options = parseIn(tmp_path, "--auth-tokens", str(tokens))
    assert doorFor(options, MemoryReactorClock()) is None  # type: ignore[arg-type]


def test_owner_accepts_root_is_refused_with_authentication(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    said = refusal(tmp_path, capsys, "--auth-tokens", str(tokens), "--owner-accepts-root")
    assert "--owner-accepts-root is for a gateway without authentication" in said
