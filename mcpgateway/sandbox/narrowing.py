# -*- test-case-name: tests.sandbox.test_narrowing -*-
"""What of a sandbox profile is wider than the default, and the profile
without it: the rule for the entries a project's own files declare.

A repository's C{.mcp.json} (or C{.cursor/mcp.json}, C{.vscode/mcp.json}...)
is written by whoever wrote the repository, not by the person running the
gateway; its entries may narrow their sandbox (deny paths, deny hosts, lower
limits, no network) but not widen it until that person approves the very
entry (L{mcpgateway.config.sandboxapprovals}, applied by
L{mcpgateway.config.scopes}). L{widenings} names what widens;
L{narrowed} is the profile with all of it taken out: the default profile,
narrowed by the entry's narrowing keys.

Wider than the default:

 - C{"sandbox": false} (no sandbox) and C{"sandbox": "learn"} (the home
   read-only, every public host, no system-call filter);
 - C{filesystem.allowRead} and C{filesystem.allowWrite}, whatever they name
   (a path inside the workspace may be a symlink out of it; a deny-list
   entry lifts its mask);
 - C{"network": "host"} and C{network.allowedDomains};
 - a limit above the default (L{mcpgateway.sandbox.defaults});
 - C{"syscalls": "unfiltered"}.

Kept: C{denyRead}, C{denyWrite}, C{deniedDomains}, C{"network": "none"},
limits at or below the default, C{"sandbox": true}. Pure.
"""

from __future__ import annotations

import json
from dataclasses import replace

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.profile import (
    LEARN,
    NETWORK_HOST,
    OFF,
    SANDBOX_RESOURCE_KEYS,
    SYSCALLS_FILTERED,
    UNSET,
    NetworkRules,
    SandboxProfile,
    SandboxResources,
)

DEFAULT_LIMITS = {
    "processes": defaults.PROCESSES,
    "openFiles": defaults.OPEN_FILES,
    "memoryMb": defaults.MEMORY_MB,
}
"""The limit a child gets when its entry says none: a higher one widens."""


def widenings(profile: SandboxProfile) -> list[str]:
    """The keys of C{profile} that are wider than the default profile, as
    an entry writes them (C{sandbox}, C{filesystem.allowRead},
    C{network.allowedDomains}, C{limits.processes}...), in that order;
    empty: it only narrows."""
    out = []
    if profile.setting in (OFF, LEARN):
        out.append("sandbox")
    for key in ("allowRead", "allowWrite"):
        if getattr(profile.filesystem, key):
            out.append(f"filesystem.{key}")
    network = profile.network
    if network.allowedDomains:
        out.append("network.allowedDomains")
    elif network.mode == NETWORK_HOST:
        out.append("network")
    for key in SANDBOX_RESOURCE_KEYS:
        value = getattr(profile.limits, key)
        if value is not None and value > DEFAULT_LIMITS[key]:
            out.append(f"limits.{key}")
    if profile.syscalls != SYSCALLS_FILTERED:
        out.append("syscalls")
    return out


def narrowed(profile: SandboxProfile) -> SandboxProfile:
    """C{profile} with every widening (L{widenings}) taken out: the default
    profile with the narrowing keys C{profile} has. A profile that only
    narrows is returned as it is."""
    if not widenings(profile):
        return profile
    network = profile.network
    if network.allowedDomains or network.mode == NETWORK_HOST:
        network = NetworkRules(None, (), network.deniedDomains)
    limits = SandboxResources(
        **{
            key: None if value is None or value > DEFAULT_LIMITS[key] else value
            for key in SANDBOX_RESOURCE_KEYS
            for value in (getattr(profile.limits, key),)
        }
    )
    return SandboxProfile(
        UNSET if profile.setting in (OFF, LEARN) else profile.setting,
        replace(profile.filesystem, allowRead=(), allowWrite=()),
        network,
        limits,
        SYSCALLS_FILTERED,
    )


def describe(profile: SandboxProfile, key: str) -> str:
    """One widening of C{profile} (a key of L{widenings}) with its value,
    for a person: C{"sandbox": false}, C{filesystem.allowRead ["~/.ssh"]}."""
    if key == "sandbox":
        return '"sandbox": false' if profile.setting == OFF else '"sandbox": "learn"'
    if key == "network":
        return '"network": "host"'
    if key == "syscalls":
        return f'"syscalls": {json.dumps(profile.syscalls)}'
    group, _, name = key.partition(".")
    value = getattr(getattr(profile, group), name)
    shown = list(value) if isinstance(value, tuple) else value
    text = json.dumps(shown)
    return f"{key} {text if len(text) <= 200 else text[:197] + '...'}"
