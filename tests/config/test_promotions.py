"""promotions.json: servers the gateway made session-scoped, kept across
restarts; a file that cannot be used is one warning, never a crash."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from mcpgateway.config.promotions import (
    MAX_BYTES,
    MAX_WHY,
    PromotedServer,
    Promoter,
    PromotionStore,
)
from mcpgateway.core.pools.pool import PromotionSink
from tests.fakes import capturedGatewayLogs
from tests.reloading import inline

WHY = "server 'x' sent sampling/createMessage while 2 sessions had requests in flight"


def test_promote_writes_a_private_file_once(tmp_path: Path) -> None:
    store = PromotionStore(tmp_path)
    assert store.load() == {} and store.warning is None
    assert store.promote("x", WHY, 1700000000.5) is True
    assert store.promote("x", "another reason", 1700000001.0) is False
    assert store.promote("a", "a's reason", 1700000002.0) is True
    path = tmp_path / "promotions.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "version": 1,
        "servers": {
            "a": {"share": "session", "at": 1700000002.0, "why": "a's reason"},
            "x": {"share": "session", "at": 1700000000.5, "why": WHY},
        },
    }
    assert PromotionStore(tmp_path).load() == {
        "a": PromotedServer("a's reason", 1700000002.0),
        "x": PromotedServer(WHY, 1700000000.5),
    }
    assert [p.name for p in tmp_path.iterdir()] == ["promotions.json"]  # no temp file left


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PromotionStore(tmp_path)
    store.promote("x", WHY, 1.0)
    before = (tmp_path / "promotions.json").read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.promote("y", WHY, 2.0)
    assert (tmp_path / "promotions.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["promotions.json"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not a JSON document"),
        (b"\xff\xfe", "not a JSON document"),
        (b"[1]", "not a promotions file of version 1"),
        (b'{"version": 2, "servers": {}}', "not a promotions file of version 1"),
        (b'{"version": 1, "servers": []}', '"servers" is not an object'),
        (b'{"version": 1, "servers": {"x": {"share": "global", "at": 1, "why": ""}}}', "'x'"),
        (b'{"version": 1, "servers": {"x": {"share": "session", "at": "now", "why": ""}}}', "'x'"),
        (b'{"version": 1, "servers": {"x": {"share": "session", "at": 1e999, "why": ""}}}', "'x'"),
        (b'{"version": 1, "servers": {"x": {"share": "session", "at": 1}}}', "'x'"),
        (b"[" * 100000 + b"]" * 100000, "not a JSON document"),
        (b" " * (MAX_BYTES + 1), f"larger than {MAX_BYTES} bytes"),
    ],
)
def test_a_corrupt_file_is_one_warning_and_empty(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "promotions.json").write_bytes(content)
    store = PromotionStore(tmp_path)
    assert store.load() == {}
    assert store.warning is not None
    assert store.warning.startswith(f"{tmp_path / 'promotions.json'}: ")
    assert why in store.warning
    # The next promotion replaces it.
    assert store.promote("x", WHY, 1.0) is True
    assert PromotionStore(tmp_path).load() == {"x": PromotedServer(WHY, 1.0)}
    assert store.load() and store.warning is None


def test_an_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "promotions.json").mkdir()
    store = PromotionStore(tmp_path)
    assert store.load() == {}
    assert store.warning is not None and "cannot be read" in store.warning


def test_a_long_reason_is_cut(tmp_path: Path) -> None:
    store = PromotionStore(tmp_path)
    store.promote("x", "w" * 10000, 1.0)
    assert len(store.load()["x"].why) == MAX_WHY


# -- the core's sink ---------------------------------------------------------------------


class Reloads:
    def __init__(self, result: Deferred[Any] | None = None) -> None:
        self.calls = 0
        self.result = result

    def __call__(self) -> Deferred[Any]:
        self.calls += 1
        return self.result if self.result is not None else succeed(None)


def test_the_promoter_records_then_reloads_once(tmp_path: Path) -> None:
    clock = Clock()
    clock.advance(1234.0)
    reloads = Reloads()
    promoter = Promoter(PromotionStore(tmp_path), clock, inline, reloads)
    sink: PromotionSink = promoter  # the core's protocol
    with capturedGatewayLogs() as events:
        sink.promote("x", WHY)
        sink.promote("x", WHY)  # a second pool event: already recorded
    assert reloads.calls == 1
    assert PromotionStore(tmp_path).load() == {"x": PromotedServer(WHY, 1234.0)}
    [event] = [e for e in events if "-scoped from now on" in e["log_format"]]
    assert (event["server"], event["share"]) == ("x", "session")


def test_a_promotion_that_cannot_be_recorded_is_logged_not_raised(tmp_path: Path) -> None:
    (tmp_path / "promotions.json").mkdir()  # unwritable: a directory is in the way
    reloads = Reloads()
    promoter = Promoter(PromotionStore(tmp_path), Clock(), inline, reloads)
    with capturedGatewayLogs() as events:
        done = promoter.record("x", WHY)
    results: list[Any] = []
    done.addBoth(results.append)
    assert results == [None]
    assert reloads.calls == 0
    [event] = [e for e in events if "could not record" in e["log_format"]]
    assert event["server"] == "x"


def test_a_failed_reload_does_not_fail_the_promotion(tmp_path: Path) -> None:
    reloads = Reloads(fail(RuntimeError("config unreadable")))
    promoter = Promoter(PromotionStore(tmp_path), Clock(), inline, reloads)
    results: list[Any] = []
    promoter.record("x", WHY).addBoth(results.append)
    assert results == [None] and reloads.calls == 1


def test_a_promotion_expires_after_its_ttl(tmp_path: Path) -> None:
    """A promotion older than the store's ttl counts as none (the server's
    own share again), and a new one replaces it in the file."""
    now = [1000.0]
    store = PromotionStore(tmp_path, ttl=3600.0, now=lambda: now[0])
    assert store.promote("x", WHY, 1000.0)
    now[0] = 1000.0 + 3600.0
    assert store.load() == {"x": PromotedServer(WHY, 1000.0)}
    now[0] += 1
    assert store.load() == {}
    assert store.promote("x", "again", now[0])
    assert store.load() == {"x": PromotedServer("again", now[0])}
    assert PromotionStore(tmp_path).load() == {"x": PromotedServer("again", now[0])}  # no ttl
