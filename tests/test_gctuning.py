"""The collector tuning service (mcpgateway.gctuning): what it sets, and that it
undoes it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mcpgateway.gctuning import GEN0_THRESHOLD, CollectorTuning


@pytest.fixture
def restoredCollector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_startFreezesAndRaisesTheThreshold(restoredCollector: None) -> None:
    before = gc.get_threshold()
    service = CollectorTuning()
    service.startService()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GEN0_THRESHOLD, *before[1:])
    finally:
        service.stopService()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_aFullCollectionSkipsWhatStartUpLeft(restoredCollector: None) -> None:
    """After start, a full collection walks only what was created since."""
    service = CollectorTuning()
    before = len(gc.get_objects())
    service.startService()
    try:
        assert len(gc.get_objects()) < before // 2
    finally:
        service.stopService()
    assert len(gc.get_objects()) >= before // 2
