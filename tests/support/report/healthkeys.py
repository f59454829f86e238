"""The members every /health body leads with, in their order: the tests of
what a feature adds to /health check that it comes after these."""

from __future__ import annotations

HEALTH_HEAD = ["status", "version", "pid", "uptime", "rssBytes", "sessions"]
