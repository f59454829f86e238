# -*- test-case-name: tests.cli.test_start_environment -*-
"""The C{PATH} a gateway's children get when a client's bridge starts it.

A gateway's children inherit its environment, and a gateway started by
C{mcpgateway start} inherits that command's. A stdio-only client (Claude
Desktop, a GUI app) runs C{mcpgateway bridge} with the minimal C{PATH} of
the desktop session (C{/usr/bin:/bin}: no C{/opt/homebrew/bin}, no
C{~/.nvm/...}, where C{npx} and C{uvx} live); when that bridge starts the
gateway every client shares, every server of every client would get that
C{PATH}.

So a C{start} the user runs (and C{service install}) records its own
C{PATH} in the state directory (L{PATH_RECORD}: the last one wins); a start
a bridge makes runs the gateway with the recorded entries first, then its
own (L{startPath}). A user's start whose own C{PATH} lacks some recorded
entries keeps its own first and adds those after them.
"""

from __future__ import annotations

import os

from mcpgateway.runtime.pathrecord import entries, merged


def startPath(own: str, recorded: str | None, autoStarted: bool) -> str:
    """The C{PATH} a start runs the gateway with: for a bridge's start
    (C{autoStarted}), the recorded entries first, then its own; for the
    user's own, its own first, then any recorded entry it lacks."""
    if recorded is None:
        return own
    path = merged(recorded, own) if autoStarted else merged(own, recorded)
    return own if entries(path) == entries(own) else path


def currentUmask() -> int:
    """This process's umask (set to C{0o077} and back at once: there is no
    other portable way to read it)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
