"""The collector tuning service (mcpgateway.runtime.gctuning): what it sets, and that it
undoes it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from twisted.internet.task import Clock

from mcpgateway.runtime.gctuning import GEN0_THRESHOLD, GcTuning


@pytest.fixture
def restoredCollector() -> Iterator[None]:
    """A collector with nothing frozen for the test, as the worker had it
    after: what the worker froze before (the house rules' parsed trees,
    L{tests.support.parsed}) is frozen again."""
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        if frozen:
            gc.freeze()


def test_startFreezesAndRaisesTheThreshold(restoredCollector: None) -> None:
    before = gc.get_threshold()
    clock = Clock()
    service = GcTuning(clock)
    service.startService()
    # Nothing before the reactor's first turn (its signal handlers come first).
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    clock.advance(0)
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GEN0_THRESHOLD, *before[1:])
    finally:
        service.stopService()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_theFirstTurnTurnsTheCollectorOn(restoredCollector: None) -> None:
    """The runners make the service with the collector off
    (L{mcpgateway.launch.GatewayMaker}): it is on again from the first turn."""
    clock = Clock()
    service = GcTuning(clock)
    gc.disable()
    try:
        service.startService()
        assert not gc.isenabled()
        clock.advance(0)
        assert gc.isenabled()
    finally:
        gc.enable()
        service.stopService()


def test_aFullCollectionSkipsWhatStartUpLeft(restoredCollector: None) -> None:
    """After start, a full collection walks only what was created since."""
    clock = Clock()
    service = GcTuning(clock)
    before = len(gc.get_objects())
    service.startService()
    clock.advance(0)
    try:
        assert len(gc.get_objects()) < before // 2
    finally:
        service.stopService()
    assert len(gc.get_objects()) >= before // 2


def test_stoppedBeforeTheFirstTurnChangesNothing(restoredCollector: None) -> None:
    before = gc.get_threshold()
    clock = Clock()
    service = GcTuning(clock)
    service.startService()
    service.stopService()
    clock.advance(1)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
