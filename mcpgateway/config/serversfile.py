# -*- test-case-name: tests.runtime.test_paths,tests.web.admin.test_api -*-
"""The gateway's own config file: what the management API changed.

C{<state-dir>/servers.json} holds the servers added through the API (an
C{mcpServers} object; those of one workspace under C{projects.<directory>.mcpServers},
as C{~/.claude.json} keeps a project's, served on that workspace's routes
only) and per-server overrides of any server
(C{{"disabled": true}}, extra C{env}, and the aggregate filter keys
C{includeTools}, C{excludeTools}, C{toolBudget}, C{alias}, C{"aggregate":
false}, key by key over the entry's). It is read on every (re)load and merged
over the main config, so API changes survive a restart; every write is atomic.
Its top-level C{"remote"} (C{"keep"} or C{"adopt"}) is the gateway's setting
for the remote entries of clients' files when C{--remote} is not given
(L{remoteSetting}); its top-level C{"flow"} turns the default flow rule off
(C{"flow": {"default": false}}: L{flowSettings}). An override's C{"labels"}
(L{mcpgateway.flow.labels}) replaces the entry's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcpgateway.config.aggregate import SERVER_KEYS, FilterError, filterValue
from mcpgateway.config.references import BadReference, referencesOf
from mcpgateway.config.servers import REMOTE_SETTINGS, LoadedConfig, parseConfig
from mcpgateway.core.spec import ServerSpec
from mcpgateway.flow.labels import LabelsError, parseEntryLabels
from mcpgateway.flow.rule import FlowSettings, FlowSettingsError, parseFlowSettings
from mcpgateway.runtime import paths
from mcpgateway.runtime.atomicfile import writeFileAtomic

FILE = paths.SERVERS_FILE
ENV_BLOCKLIST = re.compile(
    r"^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_.*|PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|"
    r"NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|PERL5OPT|RUBYOPT|JAVA_TOOL_OPTIONS)$"
)
"""Environment keys that make a child run code it was not asked to run."""


class ServersFile:
    """Reads and writes C{servers.json}."""

    def __init__(self, stateDir: Path) -> None:
        self.path = stateDir / FILE

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"mcpServers": {}, "overrides": {}, "projects": {}}
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.path} is unusable: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} must hold a JSON object")
        data.setdefault("mcpServers", {})
        data.setdefault("overrides", {})
        if not isinstance(data.get("projects"), dict):
            data["projects"] = {}
        return data

    def write(self, data: dict[str, Any]) -> None:
        writeFileAtomic(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    def merge(self, loaded: LoadedConfig, environ: Any = None) -> LoadedConfig:
        """C{loaded} plus the API's servers, with the overrides applied."""
        try:
            data = self.read()
        except ValueError as e:
            loaded.warnings.append(f"{e}; servers added through the API are not served")
            return loaded
        added = parseConfig(
            {"mcpServers": data["mcpServers"]}, str(self.path), environ, defaultScope="gateway"
        )
        loaded.warnings.extend(added.warnings)
        loaded.invalid.extend(added.invalid)
        for name, spec in added.servers.items():
            if name in loaded.servers:
                loaded.warnings.append(
                    f"server '{name}' from {self.path} is also in"
                    f" {loaded.source}; using {loaded.source}"
                )
                continue
            loaded.servers[name] = spec
        if any(isinstance(p, dict) and p.get("mcpServers") for p in data["projects"].values()):
            own = parseConfig({"projects": data["projects"]}, str(self.path), environ)
            loaded.warnings.extend(own.warnings)
            loaded.invalid.extend(own.invalid)
            loaded.projects.extend(own.projects)
        for name, override in data["overrides"].items():
            current = loaded.servers.get(name)
            if current is not None and isinstance(override, dict):
                loaded.servers[name] = applyOverride(
                    current, override, loaded.warnings, f"{self.path}: '{name}'"
                )
        return loaded


def remoteSetting(stateDir: Path) -> str | None:
    """The top-level C{"remote"} of C{<stateDir>/servers.json}: C{"keep"} or
    C{"adopt"}; C{None} when it is absent, or the file is missing or
    unusable (its servers' load says why).

    @raise ValueError: any other value, in a line naming the file.
    """
    servers = ServersFile(stateDir)
    try:
        value = servers.read().get("remote")
    except ValueError:
        return None
    if value is None:
        return None
    if not isinstance(value, str) or value not in REMOTE_SETTINGS:
        raise ValueError(
            f'{servers.path}: "remote" must be "keep" or "adopt", not {json.dumps(value)[:64]}'
        )
    return value


def flowSettings(stateDir: Path) -> FlowSettings:
    """The top-level C{"flow"} of C{<stateDir>/servers.json}: the default
    flow rule on unless it says C{{"default": false}}; every default when
    it is absent, or the file is missing or unusable (its servers' load
    says why).

    @raise ValueError: a C{"flow"} that cannot be used, in a line naming the
        file.
    """
    servers = ServersFile(stateDir)
    try:
        value = servers.read().get("flow")
    except ValueError:
        return FlowSettings()
    try:
        return parseFlowSettings(value)
    except FlowSettingsError as e:
        raise ValueError(f"{servers.path}: {e}") from None


def applyOverride(
    spec: ServerSpec,
    override: dict[str, Any],
    warnings: list[str] | None = None,
    where: str = "",
) -> ServerSpec:
    """C{spec} with C{override} applied; a bad aggregate filter key or
    C{"labels"} is left out, with a warning (naming C{where}) in
    C{warnings}."""
    from dataclasses import replace

    env = dict(spec.env)
    references = spec.references
    extra = override.get("env")
    if isinstance(extra, dict):
        env.update({str(k): str(v) for k, v in extra.items()})
        try:
            references |= referencesOf((f"env.{k}", str(v)) for k, v in extra.items())
        except BadReference as e:
            if warnings is not None:
                warnings.append(f"{where}.{e}; passed as it is")
    aggregate = {}
    for key, fieldName in SERVER_KEYS.items():
        if override.get(key) is None:
            continue
        try:
            aggregate[fieldName] = filterValue(key, override[key])
        except FilterError as e:
            if warnings is not None:
                warnings.append(f"{where}.{key} {e.problem}; ignored")
    labels = spec.labels
    if override.get("labels") is not None:
        try:
            labels = parseEntryLabels(override["labels"])
        except LabelsError as e:
            if warnings is not None:
                warnings.append(f"{where}: {e}; ignored")
    return replace(
        spec,
        labels=labels,
        env=tuple(sorted(env.items())),
        disabled=bool(override.get("disabled", False)),
        aggregate=replace(spec.aggregate, **aggregate),
        references=references,
    )


def blockedEnvKeys(env: dict[str, Any]) -> list[str]:
    """The keys of C{env} the API refuses."""
    return sorted(key for key in env if ENV_BLOCKLIST.match(str(key)))


def workspaceEntries(data: dict[str, Any], name: str) -> list[str]:
    """The workspaces whose own entry named C{name} C{data} (a read
    C{servers.json}) holds, sorted."""
    return sorted(
        workspace
        for workspace, project in data["projects"].items()
        if isinstance(project, dict)
        and isinstance(project.get("mcpServers"), dict)
        and name in project["mcpServers"]
    )


def addWorkspaceEntry(
    data: dict[str, Any], workspace: str, name: str, entry: dict[str, Any]
) -> None:
    """Put C{entry}, named C{name}, among C{workspace}'s own entries of C{data}."""
    project = data["projects"].setdefault(workspace, {})
    project.setdefault("mcpServers", {})[name] = entry


def removeWorkspaceEntry(data: dict[str, Any], workspace: str, name: str) -> None:
    """Take C{name} out of C{workspace}'s own entries of C{data} (a
    workspace left with none is dropped)."""
    project = data["projects"][workspace]
    del project["mcpServers"][name]
    if not project["mcpServers"]:
        del data["projects"][workspace]
