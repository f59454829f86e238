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

Left out of the digest is what says which process the request is for,
not what the child may touch: the gateway's pid (a launcher's parent),
whether the child dies with the gateway, the proxy's socket or port (the
proxy's socket is kept with the child, or the child is not kept at all),
and what the probe found (the mechanism, bubblewrap's path, the Landlock
ABI, a root gateway's private files): the probe of the next gateway may
not have answered yet when the children come, and the mechanism is
compared on its own (the C{--sandbox} setting).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mcpgateway.sandbox
from mcpgateway.sandbox.profile import LEARN

PER_PROCESS = frozenset(
    {"parent", "dieWithParent", "mechanism", "bwrap", "disableUserns", "landlock", "privateFiles"}
)
"""The request's fields left out of L{layoutOf} (see the module docstring)."""
PER_PROCESS_NETWORK = frozenset({"proxy", "proxyPort"})


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
    text = json.dumps([code, kept], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def launchLayout(
    confiner: object, spec: Any, argv: list[str], environ: Mapping[str, str]
) -> tuple[str, bool]:
    """The L{layoutOf} a child of C{spec} running C{argv} gets from
    C{confiner} (L{mcpgateway.sandbox.confine.Sandbox}) now, and whether it
    L{usesProxy}; C{("", False)} from a confiner that shows no request."""
    request = getattr(confiner, "request", None)
    if request is None:
        return "", False
    made = request(spec, argv, environ)
    learns = spec.sandbox.setting == LEARN
    proxied = getattr(confiner, "proxy", None) is not None and usesProxy(made, learns)
    return layoutOf(made), proxied


def usesProxy(request: Mapping[str, Any], learns: bool = False) -> bool:
    """Whether a child launched with C{request} reaches the network through
    the gateway's allow-list proxy (an allow list, or a learning child's
    recording proxy): that proxy lives in the gateway process, so such a
    child cannot be kept through a crash."""
    network = request.get("network")
    mode = network.get("mode") if isinstance(network, Mapping) else None
    return learns or mode == "allow"
