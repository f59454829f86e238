# -*- test-case-name: tests.config.test_configservice -*-
"""Where a config comes from and which files to watch for it: a
L{ConfigSource} reads the servers (a plain file, or a client's adopted
files), says which paths to watch, and what to say when one is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.config import servers as config
from mcpgateway.config.aggregate import (
    AggregateConfigError,
    AggregateSettings,
)
from mcpgateway.config.classification import Overrides
from mcpgateway.config.scopes import Scoped
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.core.spec import ServerSpec

Reload = Callable[[dict[str, ServerSpec]], Any]
OnAggregate = Callable[[AggregateSettings], Any]


class ConfigSource(Protocol):
    """The file the servers come from."""

    @property
    def path(self) -> Path | None:
        """The file (C{None}: the bundled demo)."""

    def load(self) -> LoadedConfig:
        """Read the servers (synchronous: called at start, or in a thread)."""

    def listening(self, port: int) -> list[str]:
        """The gateway listens on C{port}; notes to log."""

    def stopping(self) -> list[str]:
        """The gateway stops; notes to log. May raise: retried, then reported
        through L{restoreFailed}."""

    def restoreFailed(self, reason: str) -> None:
        """L{stopping} failed for good: leave a marker for the CLI."""


def watchedPathsOf(source: ConfigSource) -> list[Path]:
    """Every file a change of which reloads C{source}: its L{ConfigSource.path}
    and, for a source that adopts other clients' files too
    (L{mcpgateway.clientconfigs.clientsource.ClientsSource}), theirs, and
    the files it awaits (not there yet: their creation reloads too)."""
    out = [] if source.path is None else [source.path]
    for method in ("watchedPaths", "awaitedPaths"):
        more = getattr(source, method, None)
        if more is not None:
            out += [Path(p) for p in more()]
    seen: set[str] = set()
    unique = []
    for path in out:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


class PlainFile:
    """A config file served as it is (or the bundled demo when C{path} is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> LoadedConfig:
        return config.loadConfig(self.path)

    def listening(self, port: int) -> list[str]:
        return []

    def stopping(self) -> list[str]:
        return []

    def restoreFailed(self, reason: str) -> None:
        pass


WARNING_NOTE = "warning: "
"""A note a source returns from C{listening} that is a warning (logged as one)."""


@dataclass
class Prepared:
    """A loaded config made ready to serve (L{mcpgateway.config.preparer.Preparer})."""

    source: LoadedConfig
    """As the config source gave it."""
    merged: LoadedConfig
    """With the gateway's own file merged in."""
    scoped: Scoped
    warnings: list[str] = field(default_factory=list)
    """Besides the merged config's own."""
    aggregate: AggregateSettings | AggregateConfigError | None = None
    """C{aggregate.json}, or why it cannot be used."""
    overrides: Overrides = field(default_factory=Overrides)
    """The classification the specs were built with."""


def copyOf(loaded: LoadedConfig) -> LoadedConfig:
    """A copy whose lists and dicts can be changed without touching C{loaded}."""
    return replace(
        loaded,
        servers=dict(loaded.servers),
        warnings=list(loaded.warnings),
        notes=list(loaded.notes),
        errors=list(loaded.errors),
        invalid=list(loaded.invalid),
        projects=list(loaded.projects),
    )


def oneLine(error: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
