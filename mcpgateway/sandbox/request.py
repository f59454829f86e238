# -*- test-case-name: tests.sandbox.test_confine -*-
"""The launcher's request: the JSON object a confined child's launcher is
handed (L{mcpgateway.sandbox.launch}), made of a server's spec and what the
gateway knows, without touching a file (the launcher resolves the paths,
in the child's process). Free of Twisted: C{mcpgateway sandbox show}
builds it too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.profile import SandboxProfile

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")
VERSION = 1


class SpawnSpec(Protocol):
    """What of a server's spec the sandbox reads
    (L{mcpgateway.core.spec.ServerSpec} has it)."""

    @property
    def name(self) -> str: ...

    @property
    def command(self) -> str: ...

    @property
    def args(self) -> tuple[str, ...]: ...

    @property
    def cwd(self) -> str | None: ...

    @property
    def mode(self) -> str: ...

    @property
    def env(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def sandbox(self) -> SandboxProfile: ...

    @property
    def confinedTo(self) -> str | None: ...

    @property
    def principal(self) -> str: ...

    @property
    def origin(self) -> ProjectFile | None: ...


class ProjectFile(Protocol):
    """The project's own file an entry comes from (a repository's
    C{.mcp.json}), as L{copyKey} reads it."""

    @property
    def path(self) -> str: ...

    @property
    def workspace(self) -> str: ...


def launcherCommand(python: str = sys.executable) -> list[str]:
    """How a launcher starts: this Python, isolated, without C{site}."""
    return [python, "-I", "-S", LAUNCHER]


def registryEnv(spec: SpawnSpec, environ: Mapping[str, str]) -> Mapping[str, str]:
    """The environment whose registry variables a run-time install may
    reach (L{mcpgateway.sandbox.defaults.registryHosts}): all of it for your
    own entry, and for a project's own entry (a repository's) only what its
    entry does not set itself. A registry is a host the child may reach:
    a repository's entry names one with C{"sandbox": {"network": ...}},
    which you approve, never through its C{env}."""
    if spec.origin is None:
        return environ
    own = {name for name, _ in spec.env}
    return {name: value for name, value in environ.items() if name not in own}


def homeOf(environ: Mapping[str, str], entry: Sequence[tuple[str, str]] = ()) -> str:
    """The home the sandbox keeps from a child: the account's, named by the
    C{HOME} of its environment C{environ} unless its entry set it (C{entry}:
    the C{env} pairs it gives), else the gateway's own. An entry (a
    repository's C{.mcp.json}) gives its child any C{HOME} it likes, but
    never moves the home the path rule and the deny list protect (a
    C{"HOME": "/nonexistent"} would make the real one an ordinary folder)."""
    given = None if any(name == "HOME" for name, _ in entry) else environ.get("HOME")
    return given or os.path.expanduser("~")


def mechanismOf(found: Mapping[str, Any] | None) -> str:
    """C{bwrap}, C{landlock} or C{none} as the probe found; C{auto} before."""
    return "auto" if found is None else str(found.get("mechanism") or "none")


def cacheKey(spec: SpawnSpec, argv: Sequence[str]) -> str:
    """The folder of the package caches kept for the children of C{spec}
    that run C{argv} (L{mcpgateway.sandbox.launchercaches}): the server's
    name made a file name, and a digest of what its child is (its
    command, arguments, C{env}, C{cwd}, mode and profile). A server name
    may have several routes (the user's entry, a project's), each its own
    meaning, profile and trust: each keeps its own caches, so that what
    one child left there never runs in another's. A child that serves one
    principal alone (a C{perUser} server's, a session's own on a team
    gateway) keeps caches of that principal's own: what one person's child
    planted there never runs in another person's."""
    material = [
        spec.name,
        spec.command,
        list(argv[1:]),
        [list(pair) for pair in spec.env],
        spec.cwd,
        spec.mode,
        spec.sandbox.toJson(),
    ]
    if spec.principal:
        material.append(["principal", spec.principal])
    return _named(spec.name, material)


def copyKey(spec: SpawnSpec) -> str:
    """The folder of the copy of its package an C{npx} child runs and
    writes in (L{mcpgateway.sandbox.packagecopy}): the server's name made a
    file name, and a digest of whose the copy is. What a server writes
    beside its code (server-memory's C{memory.jsonl}) is its data, so the
    copy is kept for what that data belongs to, not for every word of the
    entry as its caches are (L{cacheKey}): an entry given a variable, a
    rotated key, other arguments (a newer version of its package), another
    mode or sandbox keeps its copy. Who wrote the entry (the user, or a
    project's own file, named by its path), its workspace route (the
    working directory of a workspace-scoped server's child) and the person
    a child kept for one person serves each keep their own: what one
    route's or one person's child wrote there is never another's, nor code
    another runs."""
    origin = spec.origin
    material: list[Any] = ["copy", spec.name]
    material.append(None if origin is None else [origin.path, origin.workspace])
    if spec.mode == "workspace":
        material.append(["route", spec.cwd])
    if spec.principal:
        material.append(["principal", spec.principal])
    return _named(spec.name, material)


def _named(server: str, material: list[Any]) -> str:
    """C{server}'s name made a file name, then a digest of C{material}."""
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in server)
    return f"{name[:40] or '_'}-{digest}"


def build(
    spec: SpawnSpec,
    environ: Mapping[str, str],
    stateDir: str,
    found: Mapping[str, Any] | None,
    *,
    argv: Sequence[str] = (),
    others: list[str],
    python: str,
    parent: int,
    gatewayCwd: str,
    gatewayFiles: Sequence[str] = (),
    dieWithParent: bool = True,
) -> dict[str, Any]:
    """The request for a child of C{spec} in C{environ}.

    @param argv: what the child runs (its executable, its arguments): its
        launcher's caches are kept for that (L{cacheKey}).
    @param found: what the probe found (C{None}: not yet: the launcher tries).
    @param others: the paths of the other servers (masked where this child
        would see them).
    @param python: the gateway's Python (a child it runs sees the gateway's
        module path).
    @param parent: the gateway's pid (a launcher whose parent is gone exits).
    @param gatewayCwd: the working directory of a child whose entry gives none.
    @param gatewayFiles: the gateway's own files (its C{--config}, its
        tokens, its keys and certificates, its audit and log files),
        absolute: masked for every child wherever it would see them, as
        the state directory is.
    @param dieWithParent: the child is killed when the gateway process
        dies (no warden guards it: L{mcpgateway.sandbox.launch.processGuards}).
    """
    profile = spec.sandbox
    mode, domains = defaults.network(
        profile.network.mode, profile.network.allowedDomains, spec.command
    )
    if profile.network.mode is None and mode == "allow":  # a launcher's own registries
        domains = tuple(
            dict.fromkeys((*domains, *defaults.registryHosts(registryEnv(spec, environ))))
        )
    bw = (found or {}).get("bwrap") or {}
    return {
        "v": VERSION,
        "server": spec.name,
        "cacheKey": cacheKey(spec, argv),
        "copyKey": copyKey(spec),
        "mechanism": mechanismOf(found),
        "bwrap": bw.get("path"),
        "disableUserns": bool(bw.get("disableUserns")),
        "landlock": ((found or {}).get("landlock") or {}).get("abi") or 0,
        "command": spec.command,
        "cwd": spec.cwd,
        "gatewayCwd": gatewayCwd,
        "gatewayFiles": [
            os.path.normpath(p) for p in dict.fromkeys(gatewayFiles) if p.startswith("/")
        ],
        "privateFiles": [p for p in (found or {}).get("privateFiles") or () if isinstance(p, str)][
            : defaults.PRIVATE_PROBE_MAX
        ],
        "home": homeOf(environ, spec.env),
        "stateDir": stateDir,
        "workspace": spec.mode == "workspace" and spec.cwd is not None,
        "confinedTo": spec.confinedTo,
        "entryEnv": [name for name, _ in spec.env],
        "profile": profile.toJson(),
        "syscalls": "filtered" if profile.filtersSyscalls else "unfiltered",
        "network": {"mode": mode, "allowedDomains": list(domains)},
        "others": others,
        "interpreter": python,
        "interpreterPaths": [p for p in sys.path if p.startswith("/")],
        "parent": parent,
        "dieWithParent": dieWithParent,
        **({"servesOne": True} if spec.principal else {}),
        **({"project": True} if spec.origin is not None else {}),
    }
