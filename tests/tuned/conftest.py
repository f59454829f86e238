"""Fixtures of the tuned runtime's unit tests."""

from __future__ import annotations

from tests.support.web.tuned import tunedChannel as tunedChannel
