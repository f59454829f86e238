# -*- test-case-name: tests.config.test_classification -*-
"""Who shares a server's children: its scope (a C{"share"} word).

C{global} (one child for every session) is the default of the user's (and
the gateway file's) servers; C{workspace} is the default of a project's
entries. Servers known to keep per-client state or to talk back to their
client (a browser, a thinking chain, a code index of one project,
server-everything's sampling tools) are C{session}: one child per session.
Precedence, highest first:

 1. C{<state-dir>/classification.json} (C{{"name": {"share": ...}}}; the
    older C{"mode"} is read too): the server is then I{pinned}, never
    promoted;
 2. C{<state-dir>/promotions.json}: the gateway saw the server's shared
    child talk back while several sessions used it
    (L{mcpgateway.config.promotions}; a promotion to C{workspace} applies
    only where it narrows what the rest gives);
 3. the entry's own C{"share"} (or C{"mode"});
 4. the built-in list (matched on the server name and on the package name
    in the command and args): C{session};
 5. the default: C{global} for the user's scope, C{workspace} for a project's.

A server whose entry lists C{credentialEnv} has a child per set of
credential values: where the above gives it C{global} or C{workspace}, its
scope is C{credential} (what it gets, and what C{/health} then says).

C{classification.json} may also set C{requestTimeout} (milliseconds),
C{maxChildren} and C{perUser} (C{true}: a child per authenticated principal;
C{false}: not, unless the scope is C{credential}), and what the aggregate
endpoint C{/mcp} lists of the server (C{includeTools}, C{excludeTools},
C{toolBudget}, C{alias}, C{"aggregate": false}: the place for an adopted
server's, whose client file never gets the gateway's keys), which win over
the entry's, key by key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.config.aggregate import SERVER_KEYS, FilterError, filterValue
from mcpgateway.config.servers import MAX_REQUEST_TIMEOUT_MS, WIDER_THAN_CREDENTIAL
from mcpgateway.core.spec import MODES, SHARES, ServerSpec, shareOf
from mcpgateway.runtime import paths

BUILTIN_SESSION = (
    "sequential-thinking",
    "serena",
    "playwright",
    "chrome-devtools",
    "puppeteer",
    "server-everything",
    "browsermcp",
    "browserbase",
    "browser-use",
    "selenium",
)
"""Servers (names or package names) that get a child per session unless
configured otherwise."""
BUILTIN_STATEFUL = BUILTIN_SESSION
"""Its former name."""
OVERRIDES_FILE = paths.OVERRIDES_FILE
KEYS = ("share", "mode", "requestTimeout", "maxChildren", "perUser", *SERVER_KEYS)
"""What a server's line in C{classification.json} may say."""


@dataclass(frozen=True)
class Override:
    """One server's line in C{classification.json}."""

    share: str | None = None
    """A C{"share"} word (the file's older C{"mode"} is read as one)."""
    requestTimeout: float | None = None
    """Seconds (the file says milliseconds)."""
    maxChildren: int | None = None
    perUser: bool | None = None
    """A child per authenticated principal (C{None}: as the entry says)."""
    aggregate: tuple[tuple[str, Any], ...] = ()
    """The L{ToolFilter} fields it sets (name, value), over the entry's."""

    @property
    def mode(self) -> str | None:
        """The older C{"mode"} word of L{share} (C{stateful}/C{stateless})."""
        return None if self.share is None else shareOf(self.share).modeWord


@dataclass
class Overrides:
    """The parsed overrides file and what was wrong with it."""

    servers: dict[str, Override] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    invalid: str | None = None
    """Why the whole file could not be used (not JSON, not an object,
    unreadable); C{None}: it could (or there is none)."""


class Promoted(Protocol):
    """A server the gateway narrowed the share of (see L{mcpgateway.config.promotions})."""

    @property
    def why(self) -> str: ...

    @property
    def share(self) -> str:
        """The scope it was promoted to: C{"session"} or C{"workspace"}."""


def loadOverrides(stateDir: Path) -> Overrides:
    """Read C{<stateDir>/classification.json}; an invalid key is a warning
    naming it, and the defaults stay for that server."""
    path = stateDir / OVERRIDES_FILE
    out = Overrides()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        out.invalid = f"cannot use it ({e})"
        out.warnings.append(f"{path}: {out.invalid}; built-in classification kept")
        return out
    if not isinstance(data, dict):
        out.invalid = "it must hold a JSON object"
        out.warnings.append(f"{path}: must hold a JSON object; built-in classification kept")
        return out
    for name, entry in data.items():
        if not isinstance(entry, dict):
            out.warnings.append(f"{path}: '{name}' must be an object; ignored")
            continue
        share: str | None = None
        for key in ("share", "mode"):
            word = entry.get(key)
            if word is None:
                continue
            if not isinstance(word, str) or word not in MODES:
                out.warnings.append(
                    f"{path}: '{name}'.{key} must be one of {', '.join(MODES)}; ignored"
                )
            elif share is None:  # "share" wins over the older "mode"
                share = shareOf(word).value
        timeout = _milliseconds(entry.get("requestTimeout"))
        if timeout is None and entry.get("requestTimeout") is not None:
            out.warnings.append(
                f"{path}: '{name}'.requestTimeout must be a positive number of"
                " milliseconds, at most 86400000 (one day); ignored"
            )
        maxChildren = entry.get("maxChildren")
        if maxChildren is not None and (
            isinstance(maxChildren, bool) or not isinstance(maxChildren, int) or maxChildren < 1
        ):
            out.warnings.append(
                f"{path}: '{name}'.maxChildren must be a whole number of at least 1; ignored"
            )
            maxChildren = None
        perUser = entry.get("perUser")
        if perUser is not None and not isinstance(perUser, bool):
            out.warnings.append(f"{path}: '{name}'.perUser must be true or false; ignored")
            perUser = None
        aggregate = []
        for key, fieldName in SERVER_KEYS.items():
            if entry.get(key) is None:
                continue
            try:
                aggregate.append((fieldName, filterValue(key, entry[key])))
            except FilterError as e:
                out.warnings.append(f"{path}: '{name}'.{key} {e.problem}; ignored")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            out.warnings.append(
                f"{path}: '{name}' has unknown key(s) {', '.join(unknown)}; ignored"
            )
        out.servers[name] = Override(
            share,
            None if timeout is None else timeout / 1000,
            maxChildren,
            perUser,
            tuple(aggregate),
        )
    return out


def describe(override: Override) -> str:
    """What a server's line sets, as the file says it (C{share=global,
    maxChildren=4}); C{nothing} for an empty line."""
    parts = []
    if override.share is not None:
        parts.append(f"share={override.share}")
    if override.requestTimeout is not None:
        parts.append(f"requestTimeout={override.requestTimeout * 1000:g}")
    if override.maxChildren is not None:
        parts.append(f"maxChildren={override.maxChildren}")
    if override.perUser is not None:
        parts.append(f"perUser={'true' if override.perUser else 'false'}")
    keys = {fieldName: key for key, fieldName in SERVER_KEYS.items()}
    parts += [keys.get(fieldName, fieldName) for fieldName, _ in override.aggregate]
    return ", ".join(parts) or "nothing"


def changes(before: Mapping[str, Override], after: Mapping[str, Override]) -> list[str]:
    """What differs between two readings of the file, one phrase per server
    (sorted by name): C{evg: share=global (was nothing)}, C{fs: removed
    (was share=workspace)}."""
    out = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        was = "not listed" if old is None else describe(old)
        now = "removed" if new is None else describe(new)
        out.append(f"{name}: {now} (was {was})")
    return out


def _milliseconds(value: object) -> float | None:
    """A positive number of milliseconds, at most a day, else C{None}."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if 0 < number <= MAX_REQUEST_TIMEOUT_MS else None


def isBuiltinSession(spec: ServerSpec) -> bool:
    """Whether the server's name or the package it runs is on the built-in list."""
    words = [spec.name, spec.command, *spec.args]
    for known in BUILTIN_SESSION:
        pattern = re.compile(rf"(^|[/@_.:-]){re.escape(known)}($|[/@_.:-])")
        if any(pattern.search(word) for word in words):
            return True
    return False


def isBuiltinStateful(spec: ServerSpec) -> bool:
    """L{isBuiltinSession} (its former name)."""
    return isBuiltinSession(spec)


def resolve(
    spec: ServerSpec,
    override: Override | None = None,
    promotion: Promoted | None = None,
    default: str = "global",
) -> ServerSpec:
    """C{spec} with its scope decided by the precedence (module docstring),
    C{pinned} and C{promoted} set, and the override's timeout, limit,
    C{perUser} and aggregate filter keys.

    @param default: the scope when nothing else says one (C{global} for the
        user's scope, C{workspace} for a project's entry).
    """
    override = override or Override()
    promoted = None
    if override.share is not None:
        share = override.share
    else:
        if spec.modeDeclared:
            share = spec.mode
        elif isBuiltinSession(spec):
            share = "session"
        else:
            share = default
        if promotion is not None and _narrows(promotion.share, share):
            share, promoted = promotion.share, promotion.why
    if spec.credentialEnv and share in WIDER_THAN_CREDENTIAL:
        share = "credential"  # a child per credential set is what it gets
    return replace(
        spec,
        mode=share,
        pinned=override.share is not None,
        promoted=promoted,
        requestTimeout=override.requestTimeout or spec.requestTimeout,
        requestTimeoutDeclared=spec.requestTimeoutDeclared or override.requestTimeout is not None,
        maxChildren=override.maxChildren or spec.maxChildren,
        perUser=spec.perUser if override.perUser is None else override.perUser,
        aggregate=replace(spec.aggregate, **dict(override.aggregate)),
    )


def _narrows(promoted: str, share: str) -> bool:
    """Whether a promotion to C{promoted} applies to an entry of scope
    C{share}: one to C{session} always does; one to C{workspace} only
    where it narrows (never widening a C{credential} or C{session} entry)."""
    return promoted == "session" or (
        SHARES.index(shareOf(promoted).value) >= SHARES.index(shareOf(share).value)
    )


def classify(
    specs: Mapping[str, ServerSpec],
    overrides: Overrides,
    promotions: Mapping[str, Promoted] | None = None,
) -> dict[str, ServerSpec]:
    """Apply the precedence to every spec of the user's scope (default C{global})."""
    promotions = promotions or {}
    return {
        name: resolve(spec, overrides.servers.get(name), promotions.get(name))
        for name, spec in specs.items()
    }
