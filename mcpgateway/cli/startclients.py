# -*- test-case-name: tests.cli.test_start_clients -*-
"""The clients a C{start} adopts: its C{--clients} checked (L{checkClients}),
those of them found on this machine (L{detectedClients}), and what C{start}
says before it runs the gateway when there is no C{~/.claude.json} yet
(L{demoNote}).

Without C{~/.claude.json} the gateway serves its bundled demo and awaits
the file, whatever C{--clients} says: C{--clients none} leaves out the
other clients, never Claude Code, whose file is adopted once it is
written (L{mcpgateway.clientconfigs.clientsource})."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcpgateway.cli.output import CliError


def checkClients(spec: str) -> str:
    """C{--clients} as given, once every id in it is known; an empty list
    (C{--clients ''}) is refused (exit 2): say C{none}."""
    from mcpgateway.clientconfigs.clients import ADAPTERS, select

    if not spec.strip(" ,"):
        # The gateway once read '' as "all" while this command read it as
        # "none": refused, so that nothing depends on how it is read.
        raise CliError(
            f"--clients {spec!r}: an empty list; use all, none, or a comma list of"
            f" {', '.join(a.id for a in ADAPTERS)}",
            code=2,
        )
    try:
        select(spec)
    except KeyError as e:
        raise CliError(
            f"--clients: no client named {e}; use all, none, or a comma list of"
            f" {', '.join(a.id for a in ADAPTERS)}"
        ) from None
    return spec


def detectedClients(spec: str) -> list[str]:
    """The titles of the clients of C{spec} that have a file on this machine."""
    from mcpgateway.clientconfigs.clients import detect, select
    from mcpgateway.clientconfigs.clients.base import Host

    host = Host(Path.home(), sys.platform, os.environ)
    return [found.adapter.title for found in detect(host, adapters=select(spec))]


def demoNote(claudeConfig: Path, spec: str) -> str:
    """What C{start} says when C{claudeConfig} (C{~/.claude.json}) is not
    there: the gateway serves the bundled demo, adopts what it finds of the
    clients of C{spec}, and adopts the Claude config once it is written
    (of the other clients only with C{spec} naming some)."""
    from mcpgateway.clientconfigs.clients import select

    head = f"mcpgateway: no {claudeConfig}: serving the bundled demo server"
    if not select(spec):  # none: Claude Code's file alone is awaited
        return f"{head}; {claudeConfig}, once Claude Code writes it, is adopted within seconds"
    detected = detectedClients(spec)
    if not detected:
        return f"{head}; a client's config written later is adopted within seconds"
    return f"{head}, and what it adopts of {', '.join(detected)}"
