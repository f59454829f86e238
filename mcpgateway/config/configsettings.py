# -*- test-case-name: tests.config.test_configservice -*-
"""What a L{mcpgateway.config.configservice.ConfigService} is made with besides its
source, state directory, clock and reactor: L{ConfigSettings}, one frozen
value the wiring fills in (L{mcpgateway.startup.wiring}).

Every field has a default that suits tests and embedders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mcpgateway.config.envfiles import EnvFile, readWorkspaceEnv
from mcpgateway.config.promotions import PromotionStore
from mcpgateway.config.watched import OnAggregate
from mcpgateway.config.workspaces import WorkspaceKeys

MAX_WAIT = 2.0
"""Seconds after a change by which the reload starts, however busy the file."""
RESTORE_RETRIES = (0.2, 0.5, 1.0)
"""Delays before retrying a restore that failed at stop (at most ~2 s in all)."""
ENV_POLL = 5.0
"""Seconds between two looks at the C{.env} files the children use (one
C{stat} each; a file is read again only when it changed)."""


@dataclass(frozen=True)
class ConfigSettings:
    """The config service's tunables and the collaborators it is wired with."""

    pollInterval: float = 2.0
    """Seconds between two looks at the watched files where inotify cannot
    be used."""
    debounce: float = 0.3
    """Seconds of quiet after a change before reloading."""
    maxWait: float = MAX_WAIT
    """A reload happens at most this many seconds after the first change it
    covers, however busy the file stays."""
    restoreRetries: tuple[float, ...] = RESTORE_RETRIES
    """The delays (seconds) before each retry of a restore that failed at
    stop; between attempts the reactor runs."""
    envPoll: float = ENV_POLL
    """Seconds between two looks at the C{.env} files."""
    environ: Mapping[str, str] | None = None
    """The gateway's environment, which a project entry's C{${VAR}} expand
    from (under the C{.env} files); C{None}: C{os.environ}."""
    keys: Callable[[], WorkspaceKeys] | None = None
    """Makes the workspace keys for one load (called only when the config
    has project entries; may raise
    L{mcpgateway.config.workspaces.WorkspaceKeyError}); C{None}: from the
    state directory's key file."""
    promotions: PromotionStore | None = None
    """C{promotions.json}; C{None}: the state directory's."""
    readWorkspace: Callable[[str], EnvFile] = readWorkspaceEnv
    """Reads a workspace directory's C{.env}."""
    onAggregate: OnAggregate | None = None
    """Called with the settings of C{aggregate.json}
    (L{mcpgateway.config.aggregate}) when the service starts, then each time
    they change (an invalid file keeps the settings as they were: it is not
    called, one warning is logged)."""
    onConfigPath: Callable[[Path | None], object] | None = None
    """Called with the source's path when a reload serves another file than
    before (C{~/.claude.json} appeared while the bundled demo was served,
    and was adopted): what C{state.json} says the gateway serves."""
