# -*- test-case-name: tests.config.test_classification -*-
"""Stateless or stateful: which servers may share one child.

Stateless (one child shared by every session) is the default. Servers known
to keep per-client state (a browser, a thinking chain, a code index of one
project) are stateful: one child per session. Precedence, highest first:
C{<state-dir>/classification.json}, the entry's own C{"mode"} key, the
built-in list (matched on the server name and on the package name in the
command and args), stateless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mcpgateway import paths
from mcpgateway.core.spec import MODES, ServerSpec

BUILTIN_STATEFUL = ("sequential-thinking", "serena", "playwright", "chrome-devtools", "puppeteer")
OVERRIDES_FILE = paths.OVERRIDES_FILE


@dataclass(frozen=True)
class Override:
    """One server's line in C{classification.json}."""

    mode: str | None = None
    requestTimeout: float | None = None
    """Seconds (the file says milliseconds)."""


@dataclass
class Overrides:
    """The parsed overrides file and what was wrong with it."""

    servers: dict[str, Override] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def loadOverrides(stateDir: Path) -> Overrides:
    """Read C{<stateDir>/classification.json}; an invalid key is a warning
    naming it, and the defaults stay for that server."""
    path = stateDir / OVERRIDES_FILE
    out = Overrides()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        out.warnings.append(f"{path}: cannot use it ({e}); built-in classification kept")
        return out
    if not isinstance(data, dict):
        out.warnings.append(f"{path}: must hold a JSON object; built-in classification kept")
        return out
    for name, entry in data.items():
        if not isinstance(entry, dict):
            out.warnings.append(f"{path}: '{name}' must be an object; ignored")
            continue
        mode = entry.get("mode")
        if mode is not None and mode not in MODES:
            out.warnings.append(f"{path}: '{name}'.mode must be one of {', '.join(MODES)}; ignored")
            mode = None
        timeout = entry.get("requestTimeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            out.warnings.append(
                f"{path}: '{name}'.requestTimeout must be a positive number of"
                " milliseconds; ignored"
            )
            timeout = None
        unknown = sorted(set(entry) - {"mode", "requestTimeout"})
        if unknown:
            out.warnings.append(
                f"{path}: '{name}' has unknown key(s) {', '.join(unknown)}; ignored"
            )
        out.servers[name] = Override(mode, None if timeout is None else float(timeout) / 1000)
    return out


def isBuiltinStateful(spec: ServerSpec) -> bool:
    """Whether the server's name or the package it runs is on the built-in list."""
    words = [spec.name, spec.command, *spec.args]
    for known in BUILTIN_STATEFUL:
        pattern = re.compile(rf"(^|[/@_.:-]){re.escape(known)}($|[/@_.:-])")
        if any(pattern.search(word) for word in words):
            return True
    return False


def classify(specs: Mapping[str, ServerSpec], overrides: Overrides) -> dict[str, ServerSpec]:
    """Apply the precedence to every spec."""
    out = {}
    for name, spec in specs.items():
        override = overrides.servers.get(name, Override())
        mode = (
            override.mode
            or (spec.mode if spec.modeDeclared else None)
            or ("stateful" if isBuiltinStateful(spec) else "stateless")
        )
        timeout = override.requestTimeout or spec.requestTimeout
        out[name] = replace(spec, mode=mode, requestTimeout=timeout)
    return out
