# -*- test-case-name: tests.config.test_servers -*-
"""Read a C{mcpServers} file into immutable L{ServerSpec} values.

Accepts Claude Code's C{~/.claude.json} (user scope at top level, local scope
under C{projects.<path>.mcpServers}), a project C{.mcp.json}, or a file of the
gateway's own with the same shape; only servers shared globally (user or
gateway scope) are served, see L{parseConfig}. Expands C{${VAR}} and C{${VAR:-default}}
in command, args and env. Entries that are not stdio servers, or are invalid,
become one warning each; a file that cannot be read or parsed is an error.
Pure: no logging, no reactor; the caller reports what it returns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpgateway.core.spec import DEFAULT_REQUEST_TIMEOUT, MODES, ServerSpec

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
GLOBAL_SCOPES = ("user", "gateway")
"""Scopes whose servers the gateway serves at its global routes."""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The config file cannot be used at all."""


@dataclass
class LoadedConfig:
    """What a config file yields: the servers, and what was skipped and why."""

    servers: dict[str, ServerSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was done while loading (for an info log line)."""
    errors: list[str] = field(default_factory=list)
    """What the user must act on (for an error log line): the gateway serves on."""
    source: str = ""


def defaultConfigPath(home: str | None = None) -> Path | None:
    """C{~/.claude.json} when it exists, else C{None} (the bundled demo)."""
    path = Path(home or os.path.expanduser("~")) / ".claude.json"
    return path if path.is_file() else None


def demoConfig() -> dict[str, Any]:
    """The bundled demo: one stdio server shipped in this package."""
    return {"mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}}


def readConfigFile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse a config file, or raise L{ConfigError} naming the file
    and the position of the JSON error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"config file {path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def loadConfig(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load the servers of C{path} (the bundled demo when C{None})."""
    if path is None:
        return parseConfig(demoConfig(), "bundled demo", environ)
    name = Path(path).name
    defaultScope = (
        "project" if name == ".mcp.json" else ("user" if name == ".claude.json" else "gateway")
    )
    return parseConfig(readConfigFile(path), str(path), environ, defaultScope)


def parseConfig(
    data: Mapping[str, Any],
    source: str,
    environ: Mapping[str, str] | None = None,
    defaultScope: str = "gateway",
) -> LoadedConfig:
    """Turn a parsed config document into server specs and warnings.

    Every server is served at one route, C{/<name>/mcp}, that every client on
    the machine can reach, so only servers the user shares globally are served:
    the top-level C{mcpServers} of a user or gateway file. A server defined
    only in a project's (local) scope, or in a C{.mcp.json} (C{defaultScope}
    C{project}), is not served (one warning names them all): clients in that
    project keep starting it themselves. A project entry with the name of a
    global server is served only as that global server (the same spec: no
    warning; another one: a warning, the global one is served).
    """
    env = os.environ if environ is None else environ
    loaded = LoadedConfig(source=source)
    scopes: list[tuple[str, str, Any]] = []
    if "mcpServers" in data:
        scopes.append((defaultScope, "", data["mcpServers"]))
    projects = data.get("projects")
    if isinstance(projects, dict):
        for projectPath in sorted(projects):
            project = projects[projectPath]
            if isinstance(project, dict) and "mcpServers" in project:
                scopes.append(("local", projectPath, project["mcpServers"]))
    if not scopes:
        loaded.warnings.append(f"{source} has no mcpServers object; no servers to serve")
    chosen: dict[str, tuple[ServerSpec, str]] = {}
    projectOnly: list[str] = []
    for scope, where, block in scopes:
        label = f"{scope} scope" + (f" of project {where}" if where else "")
        if not isinstance(block, dict):
            loaded.warnings.append(f"mcpServers in {label} is not an object; skipped")
            continue
        for name, entry in block.items():
            try:
                spec = parseEntry(name, entry, env, scope)
            except EntryError as skip:
                loaded.warnings.append(f"server '{name}' ({label}): {skip}; skipped")
                continue
            if scope in GLOBAL_SCOPES:
                chosen[name] = (spec, label)
                continue
            shared = chosen.get(name)
            if shared is None:
                projectOnly.append(f"'{name}' ({label})")
            elif shared[0] != replace(spec, scope=shared[0].scope):
                loaded.warnings.append(
                    f"server '{name}' is defined in {shared[1]} and {label} with another"
                    f" command; serving the one of {shared[1]} (clients in the project"
                    " start their own)"
                )
    if projectOnly:
        loaded.warnings.append(projectOnlyWarning(projectOnly))
    loaded.servers = {name: spec for name, (spec, _) in chosen.items()}
    return loaded


def projectOnlyWarning(labels: list[str]) -> str:
    """The one warning naming the servers defined only in a project scope."""
    return (
        f"not serving {len(labels)} server{'' if len(labels) == 1 else 's'} defined only"
        f" in a project's scope: {', '.join(labels)}. The gateway serves every server"
        " at one route that every client on this machine can reach, so a project's"
        " private server is not shared; clients in that project keep starting it"
        " themselves. To share one through the gateway, add it to your user scope"
        " (claude mcp add --scope user NAME -- COMMAND ARGS...) or to a config file"
        " of your own (--config FILE)"
    )


class EntryError(Exception):
    """An entry that is not served; the message says why."""


def parseEntry(
    name: Any, entry: Any, environ: Mapping[str, str], scope: str = "gateway"
) -> ServerSpec:
    """Validate one C{mcpServers} entry, or raise L{EntryError} saying why not."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise EntryError("the name must be 1-64 letters, digits, '-', '_' or '.' to be URL-safe")
    if not isinstance(entry, dict):
        raise EntryError("the entry is not an object")
    kind = entry.get("type")
    if kind is None and "command" not in entry:
        kind = "http" if ("url" in entry or "serverUrl" in entry) else None
    if kind not in (None, "stdio"):
        raise EntryError(f"type '{kind}' is not a stdio server; clients keep using it directly")
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise EntryError("'command' must be a non-empty string")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise EntryError("'args' must be a list of strings")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise EntryError("'env' must be an object of string values")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise EntryError("'cwd' must be a string")
    mode = entry.get("mode", "stateless")
    if mode not in MODES:
        raise EntryError(f"'mode' must be one of {', '.join(MODES)}")
    timeoutMs = _positive(entry, "requestTimeout", "milliseconds")
    idleMs = _positive(entry, "idleTimeout", "milliseconds")
    maxRssMb = _positive(entry, "maxRssMb", "megabytes")
    pingMs = _positive(entry, "healthPing", "milliseconds")
    prewarm = entry.get("prewarm", False)
    if not isinstance(prewarm, bool):
        raise EntryError("'prewarm' must be true or false")
    command = _expand(command, environ, "command")
    expandedArgs = tuple(_expand(a, environ, "args") for a in args)
    expandedEnv = tuple(sorted((k, _expand(v, environ, f"env.{k}")) for k, v in env.items()))
    if cwd is not None:
        cwd = os.path.expanduser(_expand(cwd, environ, "cwd"))
    searchPath = dict(expandedEnv).get("PATH", environ.get("PATH"))
    return ServerSpec(
        name=name,
        command=command,
        args=expandedArgs,
        env=expandedEnv,
        cwd=cwd,
        mode=mode,
        modeDeclared="mode" in entry,
        requestTimeout=DEFAULT_REQUEST_TIMEOUT if timeoutMs is None else timeoutMs / 1000.0,
        prewarm=prewarm,
        idleTimeout=None if idleMs is None else idleMs / 1000.0,
        maxRssMb=maxRssMb,
        healthPing=None if pingMs is None else pingMs / 1000.0,
        scope=scope,
        executable=shutil.which(command, path=searchPath),
    )


def _positive(entry: dict[str, Any], key: str, unit: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise EntryError(f"'{key}' must be a positive number of {unit}")
    return float(value)


def _expand(text: str, environ: Mapping[str, str], where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        value = environ.get(var)
        if value is not None and (value or default is None):
            return value
        if default is not None:
            return default
        raise EntryError(f"${{{var}}} in {where} is not set and has no default")

    return _VAR.sub(substitute, text)
