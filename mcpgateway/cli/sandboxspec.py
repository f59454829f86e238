# -*- test-case-name: tests.cli.test_sandbox -*-
"""A server's entry as the gateway reads it, for C{mcpgateway sandbox show}
and C{suggest}: its config (C{--config}, the running gateway's, else
C{~/.claude.json}), C{servers.json}, a project's entry, or the entry an
adopted client file's backup holds."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mcpgateway.cli.output import CliError
from mcpgateway.config.servers import ConfigError, EntryError, defaultConfigPath, loadConfig
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.gatewayprobe import GatewayProbe


def serverSpec(name: str, stateDir: Path, found: GatewayProbe, config: str | None) -> ServerSpec:
    """Server C{name} as the gateway reads it: its config (C{--config}, the
    running gateway's, else C{~/.claude.json}) and C{servers.json}."""
    from mcpgateway.config.servers import parseEntry
    from mcpgateway.config.serversfile import ServersFile

    if config is not None:
        path: str | Path | None = config
    elif found.running and (found.state or {}).get("config"):
        path = str((found.state or {})["config"])
    else:
        path = defaultConfigPath()
    try:
        loaded = ServersFile(stateDir).merge(loadConfig(path))
    except ConfigError as e:
        raise CliError(str(e)) from None
    if name in loaded.servers:
        return loaded.servers[name]
    for project in loaded.projects:
        if project.name == name:
            try:
                spec = parseEntry(name, project.entry, os.environ, "project")
            except EntryError as e:
                raise CliError(f"server '{name}' ({project.label}): {e}") from None
            cwd = os.path.join(project.workspace, spec.cwd or "").rstrip("/")
            return replace(spec, cwd=cwd, mode="workspace")
    adopted = _adopted(name, stateDir, path)
    if adopted is not None:
        return adopted
    raise CliError(f"no server '{name}' in {path or 'the bundled demo'}")


def projectSpec(
    name: str, stateDir: Path, workspace: str, found: GatewayProbe, config: str | None = None
) -> ServerSpec:
    """Server C{name} of the project C{workspace}'s own files (a
    repository's C{.mcp.json} shadow, a C{.vscode/mcp.json}...) as the
    gateway serves it: found in its backups of the adopted files, run in
    the workspace, its sandbox narrowed to the default and its child shown
    nothing its entry names outside the workspace, unless the user approved
    this very entry (L{mcpgateway.config.sandboxapprovals})."""
    from mcpgateway.config.origins import entryDigest
    from mcpgateway.config.sandboxapprovals import readApprovals
    from mcpgateway.config.servers import parseEntry
    from mcpgateway.config.workspaces import canonicalPath
    from mcpgateway.sandbox.narrowing import narrowed
    from mcpgateway.secrets.approvals import projectEntries

    try:
        where = canonicalPath(os.path.abspath(workspace))
    except ValueError as e:
        raise CliError(f"--workspace {workspace}: {e}") from None
    for _, served in projectEntries(stateDir, name, where):
        try:
            spec = parseEntry(name, served, os.environ, "project")
        except EntryError as e:
            raise CliError(f"server '{name}' of {where}: {e}") from None
        cwd = os.path.join(where, spec.cwd or "").rstrip("/")
        spec = replace(spec, cwd=cwd, mode="workspace")
        digest = entryDigest(served)
        if any(a.covers(name, where, digest) for a in readApprovals(stateDir)):
            return spec
        return replace(spec, confinedTo=where, sandbox=narrowed(spec.sandbox))
    try:
        serverSpec(name, stateDir, found, config)
    except CliError:
        pass
    else:
        raise CliError(
            f"server '{name}' is not of the project {where}'s own files: it is served to every"
            f" session as its config says (mcpgateway sandbox show {name})"
        )
    why = (
        "the gateway serves a project's own entries once it adopted that project's files: a"
        " client session opened in it, or an edit of its file"
        if found.running
        else "the gateway serves a project's own entries once it runs and adopted its files:"
        " `mcpgateway start`"
    )
    raise CliError(f"no server '{name}' of the project {where} is served ({why})")


def _adopted(name: str, stateDir: Path, path: str | Path | None) -> ServerSpec | None:
    """Server C{name} as the gateway serves it where it adopted the entry
    (C{mcpgateway start}: the client's file now points at the gateway, and
    the entry it serves is in its backup), or C{None}."""
    from mcpgateway.clientconfigs.claude import readClaudeBackup
    from mcpgateway.config.servers import parseEntry

    if path is None:
        return None
    try:
        backup = readClaudeBackup(stateDir, Path(path))
    except ConfigError:
        return None
    record = None if backup is None else backup.record(name)
    if record is None or not isinstance(record.served, dict):
        return None
    try:
        return parseEntry(name, record.served, os.environ)
    except EntryError as e:
        raise CliError(f"server '{name}': {e}") from None
