# -*- test-case-name: tests.config.test_configservice -*-
"""Making a loaded config ready to serve: the L{Preparer}.

The servers of the gateway's own file (the management API's,
L{mcpgateway.config.serversfile}) are merged in, the classification
(built-in list, C{classification.json}, C{promotions.json}) applied, and
every server's routes built (L{mcpgateway.config.scopes}), with the
C{.env} files, the workspace keys and the approvals of the project entries'
sandboxes (C{sandbox-approvals.json}) they need; C{aggregate.json} is read
on the way. All of it blocks (files): at start, or in a thread; nothing is
logged here (the host reports what it found).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mcpgateway.config import envfiles
from mcpgateway.config.aggregate import AggregateConfigError, AggregateSettings
from mcpgateway.config.classification import Overrides
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.config.promotions import PromotionStore
from mcpgateway.config.sandboxapprovals import ApprovalsError, SandboxApproval, readApprovals
from mcpgateway.config.scopes import buildScopes
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.config.serversfile import ServersFile
from mcpgateway.config.watched import Prepared, copyOf
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys


class Preparer:
    """Turns a L{LoadedConfig} into a L{Prepared} (see the module docstring)."""

    def __init__(
        self,
        stateDir: Path,
        environ: Mapping[str, str],
        keys: Callable[[], WorkspaceKeys],
        promotions: PromotionStore,
        readWorkspace: Callable[[str], EnvFile],
        overrides: Callable[[], Overrides],
        readAggregate: Callable[[], AggregateSettings | AggregateConfigError],
    ) -> None:
        """
        @param environ: what a project entry's C{${VAR}} expand from.
        @param keys: makes the workspace keys for one load (called only when
            the config has project entries).
        @param overrides: reads C{classification.json} (blocking).
        @param readAggregate: reads C{aggregate.json} (blocking).
        """
        self._stateDir = stateDir
        self._environ = environ
        self._keys = keys
        self._promotions = promotions
        self._readWorkspace = readWorkspace
        self._overrides = overrides
        self._readAggregate = readAggregate

    def prepare(self, loaded: LoadedConfig) -> Prepared:
        """Everything a load of C{loaded} reads (blocking; no logging: it
        runs in a thread)."""
        merged = ServersFile(self._stateDir).merge(copyOf(loaded))
        overrides = self._overrides()
        promoted = self._promotions.load()
        warnings = list(overrides.warnings)
        if self._promotions.warning is not None:
            warnings.append(self._promotions.warning)
        keys = None
        if merged.projects:
            try:
                keys = self._keys()
            except (WorkspaceKeyError, OSError) as e:
                warnings.append(f"cannot serve the projects' servers: {e}")
        approvals: list[SandboxApproval] = []
        if keys is not None:
            try:
                approvals = readApprovals(self._stateDir)
            except ApprovalsError as e:
                warnings.append(f"no project entry's wider sandbox is approved: {e}")
        scoped = buildScopes(
            merged,
            overrides,
            keys,
            envfiles.readGatewayEnv(self._stateDir),
            self._environ,
            self._readWorkspace,
            promotions=promoted,
            sandboxApprovals=approvals,
        )
        return Prepared(
            loaded,
            merged,
            scoped,
            warnings + scoped.warnings,
            self._readAggregate(),
            overrides,
        )
