# -*- test-case-name: tests.startup.test_pinoptions -*-
"""The C{--pins} and C{--quarantine-new} options (docs/guide/trust.md), and the
pin policy they make (L{mcpgateway.trust.policy}).

C{--pins} defaults to C{warn} on a gateway without authentication (a
person's own machine: a changed tool is served, logged and shown) and to
C{enforce} on an authenticated one (a team's gateway: a changed tool is
withheld from everyone until approved)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from twisted.python import usage

from mcpgateway.trust.pins import ENFORCE, MODES, OFF, WARN

PINS_HELP = (
    "What the gateway does when a server's tools differ from those it pinned when it first"
    " listed them (a description rewritten, a schema widened, a tool added): warn (serve"
    " them, log and show the change), enforce (withhold them from every client until"
    " `mcpgateway tools approve`) or off. Default: enforce with --auth-tokens or"
    " --oauth-issuer, else warn."
)


def pinParameters() -> list[list[Any]]:
    """The C{optParameters} entries of the pin options."""
    return [["pins", None, None, PINS_HELP]]


def pinFlags() -> list[list[Any]]:
    """The C{optFlags} entries of the pin options."""
    return [
        [
            "quarantine-new",
            None,
            "Hold every tool of a server the gateway lists for the first time (a new server,"
            " or one whose command or URL changed) until `mcpgateway tools approve SERVER`.",
        ]
    ]


def pinsSetting(options: Mapping[str, Any]) -> str:
    """C{--pins} as given, else its default (L{ENFORCE} on an authenticated
    gateway, else L{WARN}); a usage error for a bad word, or for
    C{--quarantine-new} with C{off}."""
    given = options["pins"]
    if given is None:
        authenticated = bool(options["auth-tokens"] or options["oauth-issuer"])
        given = ENFORCE if authenticated else WARN
    if given not in MODES:
        raise usage.UsageError(f"--pins {given!r}: use {', '.join(MODES)}")
    if given == OFF and options["quarantine-new"]:
        raise usage.UsageError("--quarantine-new needs pins: --pins warn or --pins enforce")
    return str(given)


def pinPolicy(
    options: Mapping[str, Any],
    stateDir: Path,
    clock: Any,
    runInThread: Callable[..., Any],
    refuse: Callable[[str], Any],
) -> Any:
    """The pin policy the options ask for, with the pins of C{stateDir}
    (read now, before anything is served; C{None} for C{--pins off}); a
    pins file that cannot be used refuses the start (C{refuse}): what was
    trusted is never forgotten silently."""
    from mcpgateway.trust.pins import PinsFileError
    from mcpgateway.trust.policy import loadPolicy

    try:
        return loadPolicy(
            stateDir, options["pins"], clock, bool(options["quarantine-new"]), runInThread
        )
    except PinsFileError as e:
        return refuse(
            f"{e}: fix it, or move it away to pin every server's tools afresh"
            " (each is trusted again as it is listed next)"
        )


def keepPins(policy: Any, top: Any) -> None:
    """Put the pin policy under C{top} (its writes end with the gateway)."""
    if policy is not None:
        policy.setServiceParent(top)
