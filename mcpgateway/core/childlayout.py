# -*- test-case-name: tests.core.test_childlayout -*-
"""What a confined child's sandbox gives it, as one digest: the
L{layoutOf} a kept child is compared by.

A child moved to another gateway process (a restart's successor, or the
next gateway after a crash: L{mcpgateway.core.adopted}) keeps the sandbox
its launcher built when it started: the masks over the gateway's own files
(its C{--config}, its tokens, its keys), the deny list, the other servers'
folders, what it may write and reach. The next process must never serve a
child with more than it would give a child of its own, so a confined child
is kept only when the launch request the next process would hand its
launcher (L{mcpgateway.sandbox.request.build}, for the same command line)
has the same digest as the one its launcher was handed, and the sandbox's
code is the same (L{SANDBOX_CODE}: the launcher builds the layout from the
request with that code).

What the gateway's sandbox probe found is in the digest where it lays
the child out (L{probedOf}): the mechanism, the Landlock ABI under
Landlock, whether bubblewrap forbids the child user namespaces, and the
files only root may read that a root gateway's probe lists (each one
masked). A child started before its gateway's probe answered says
C{auto} (its launcher chose by itself, and masked only what its own
shallow look found): it is laid out as no gateway whose probe answered
would lay it out. The next process compares once its own probe has
answered (L{mcpgateway.ops.childhandover.ChildAdoption} waits for it), and
says what changed (L{probeChanges}).

Left out of the digest is what says which process the request is for,
not what the child may touch: the gateway's pid (a launcher's parent),
whether the child dies with the gateway, the proxy's socket or port (the
proxy's socket is kept with the child, or the child is not kept at all),
and bubblewrap's path and where a launcher looks for it (the program,
not what it builds; a child is kept across a restart whose caller's
C{PATH} finds another copy of it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import mcpgateway.sandbox
from mcpgateway.core.handedchild import MAX_OTHER_PATH, MAX_OTHERS
from mcpgateway.sandbox.profile import LEARN

PER_PROCESS = frozenset(
    {
        "parent",
        "dieWithParent",
        "mechanism",
        "bwrap",
        "disableUserns",
        "landlock",
        "privateFiles",
        "searchPath",
    }
)
"""The request's fields left out of L{layoutOf} as they are (see the
module docstring): what of them lays the child out is in as L{probedOf}."""
PER_PROCESS_NETWORK = frozenset({"proxy", "proxyPort"})
MECHANISM_NAMES = {"bwrap": "bubblewrap", "landlock": "Landlock", "none": "none"}


def probedOf(request: Mapping[str, Any]) -> dict[str, Any]:
    """What of the probe's findings lays out the child launch C{request}
    starts: C{{"mechanism", "landlock", "disableUserns", "privateFiles"}},
    the Landlock ABI only under Landlock, bubblewrap's C{--disable-userns}
    only under bubblewrap (0 and C{False} otherwise), the root-only files
    as a digest of their sorted paths (C{""}: none)."""
    mechanism = str(request.get("mechanism") or "none")
    abi = request.get("landlock")
    private = sorted(
        {os.path.normpath(p) for p in request.get("privateFiles") or () if isinstance(p, str)}
    )
    text = "\0".join(private)
    return {
        "mechanism": mechanism,
        "landlock": abi if mechanism == "landlock" and type(abi) is int else 0,
        "disableUserns": mechanism == "bwrap" and request.get("disableUserns") is True,
        "privateFiles": hashlib.sha256(text.encode()).hexdigest()[:32] if private else "",
    }


def _mechanismName(mechanism: object) -> str:
    if mechanism == "auto":
        return "not known: its gateway's probe had not answered"
    if not isinstance(mechanism, str):
        return "not recorded"
    return MECHANISM_NAMES.get(mechanism, mechanism)


def probeChanges(before: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """What differs between the probe's findings a child was launched with
    (C{before}, its gateway's L{probedOf}) and those this process's launch
    request holds (C{now}), in words; C{None}: nothing."""
    changes = []
    if before.get("mechanism") != now.get("mechanism"):
        changes.append(
            f"the mechanism (when it started: {_mechanismName(before.get('mechanism'))};"
            f" here: {_mechanismName(now.get('mechanism'))})"
        )
    else:
        if before.get("landlock") != now.get("landlock"):
            changes.append(
                f"the Landlock ABI (when it started: {before.get('landlock')};"
                f" here: {now.get('landlock')})"
            )
        if before.get("disableUserns") != now.get("disableUserns"):
            changes.append("whether bubblewrap forbids the child user namespaces")
    if before.get("privateFiles") != now.get("privateFiles"):
        changes.append("the files only root may read, which its sandbox masks")
    if not changes:
        return None
    return "what the sandbox probe finds here differs: " + "; ".join(changes)


def sandboxCode(folder: Path | None = None) -> str:
    """The SHA-256 of the sandbox's sources (every C{.py} file of
    L{mcpgateway.sandbox}, by name and content): another version of that
    code may lay a child out otherwise from the same request."""
    if folder is None:
        folder = Path(mcpgateway.sandbox.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


SANDBOX_CODE = sandboxCode()
"""L{sandboxCode} of the sandbox this process imported: read once, at
import (before the reactor runs), never again."""


def layoutOf(request: Mapping[str, Any], code: str = SANDBOX_CODE) -> str:
    """The digest of what launch C{request} gives its child, with the
    sandbox's C{code}: equal for two requests that lay a child out alike."""
    kept = {key: value for key, value in request.items() if key not in PER_PROCESS}
    network = kept.get("network")
    if isinstance(network, Mapping):
        kept["network"] = {k: v for k, v in network.items() if k not in PER_PROCESS_NETWORK}
    kept["probed"] = probedOf(request)
    text = json.dumps([code, kept], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class LaunchLayout(NamedTuple):
    """What a confined child's launch request gives it (L{launchLayout})."""

    layout: str
    """Its L{layoutOf} (C{""}: no request to show)."""
    proxied: bool
    """Whether it L{usesProxy}."""
    probed: dict[str, Any]
    """Its L{probedOf} (C{{}}: no request to show)."""
    others: tuple[str, ...] = ()
    """Its L{othersOf}."""
    request: Mapping[str, Any] | None = None
    """The request itself (C{None}: no request to show)."""


def othersOf(request: Mapping[str, Any]) -> tuple[str, ...]:
    """The other servers' paths C{request} has its launcher mask where the
    child would see them, as a child's record holds them (L{MAX_OTHERS}
    at most, as many as the launcher reads)."""
    others = request.get("others") or ()
    kept = (p for p in others if isinstance(p, str) and p.startswith("/"))
    return tuple(p for p in kept if len(p) <= MAX_OTHER_PATH)[:MAX_OTHERS]


def withOthers(request: Mapping[str, Any], others: tuple[str, ...]) -> dict[str, Any]:
    """C{request} with C{others} as the other servers' paths."""
    return {**request, "others": list(others)}


def maskedBy(
    build: Callable[[Mapping[str, Any], list[str], Mapping[str, str]], Any],
    request: Mapping[str, Any],
    argv: list[str],
    environ: Mapping[str, str],
) -> frozenset[str]:
    """The paths a child launched with C{request} running C{argv} in
    C{environ} has masked: what C{build} (the launcher's
    L{mcpgateway.sandbox.layout.build}) lays out for it now, read from this
    machine's files (blocking: off the reactor's thread)."""
    return frozenset(path for path, _ in build(request, argv, environ).masked)


def unmaskedOthers(
    build: Callable[[Mapping[str, Any], list[str], Mapping[str, str]], Any],
    now: Mapping[str, Any],
    before: tuple[str, ...],
    argv: list[str],
    environ: Mapping[str, str],
) -> tuple[str, ...]:
    """What a child launched with C{now} but the other servers' paths
    C{before} (a child kept from another process, the rest of whose
    request is C{now}'s) lacks of the masks a child launched with C{now}
    gets: the folders of servers added since it started that it can see.
    Empty: its sandbox hides at least what a new child's would."""
    given = maskedBy(build, withOthers(now, before), argv, environ)
    return tuple(sorted(maskedBy(build, now, argv, environ) - given))


def launchLayout(
    confiner: object, spec: Any, argv: list[str], environ: Mapping[str, str]
) -> LaunchLayout:
    """The L{LaunchLayout} a child of C{spec} running C{argv} gets from
    C{confiner} (L{mcpgateway.sandbox.confine.Sandbox}) now; C{("", False,
    {})} from a confiner that shows no request."""
    request = getattr(confiner, "request", None)
    if request is None:
        return LaunchLayout("", False, {})
    made = request(spec, argv, environ)
    learns = spec.sandbox.setting == LEARN
    proxied = getattr(confiner, "proxy", None) is not None and usesProxy(made, learns)
    return LaunchLayout(layoutOf(made), proxied, probedOf(made), othersOf(made), made)


def usesProxy(request: Mapping[str, Any], learns: bool = False) -> bool:
    """Whether a child launched with C{request} reaches the network through
    the gateway's allow-list proxy (an allow list, or a learning child's
    recording proxy): that proxy lives in the gateway process, so such a
    child cannot be kept through a crash."""
    network = request.get("network")
    mode = network.get("mode") if isinstance(network, Mapping) else None
    return learns or mode == "allow"
