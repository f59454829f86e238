"""A config service over one plain config file that watches its files by
polling on a test's clock: no inotify descriptor and no reactor, so a test
advances the clock past the poll and the debounce to see a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock

from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.watched import PlainFile, Reload
from mcpgateway.runtime.threads import RunInThread
from tests.reloading import inline


def pollingService(
    config: Path,
    stateDir: Path,
    clock: Clock,
    reload: Reload,
    settings: ConfigSettings,
    monkeypatch: pytest.MonkeyPatch,
    runInThread: RunInThread = inline,
) -> ConfigService:
    """A config service reading C{config}, keeping its own files in
    C{stateDir}, running its file jobs through C{runInThread} (at once by
    default) and reloading through C{reload}; it polls on C{clock}."""
    service = ConfigService(PlainFile(config), stateDir, clock, None, runInThread, reload, settings)
    monkeypatch.setattr(service.files, "watchWithInotify", lambda paths: False)
    return service
