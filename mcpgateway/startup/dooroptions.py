# -*- test-case-name: tests.startup.test_dooroptions -*-
"""The front door of a gateway that authenticates no one
(L{mcpgateway.web.plumbing.door}): whether there is one, and the
C{--owner-accepts-root} option.

A gateway with C{--auth-tokens} or C{--oauth-issuer} authenticates every
request; every other gateway serves its owner's account only, as the
kernel names each connection's (docs/guide/security.md, "Who may
connect")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.python import usage

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.web.plumbing.door import Door

OWNER_ACCEPTS_ROOT = "owner-accepts-root"
OWNER_ROOT_FLAG = [
    OWNER_ACCEPTS_ROOT,
    None,
    "Without --auth-tokens or --oauth-issuer the gateway serves only its own account's"
    " connections (as the kernel names each); this lets root's in too (sudo mcpgateway"
    " status, a root service manager's probe).",
]
"""The C{optFlags} entry of C{--owner-accepts-root}."""


def authenticates(options: Mapping[str, Any]) -> bool:
    """Whether the gateway authenticates its requests (a team gateway)."""
    return bool(options["auth-tokens"] or options["oauth-issuer"])


def checkDoor(options: Mapping[str, Any]) -> None:
    """A usage error for C{--owner-accepts-root} on a gateway that
    authenticates (its tokens say who a caller is, not its account)."""
    if options[OWNER_ACCEPTS_ROOT] and authenticates(options):
        raise usage.UsageError(
            "--owner-accepts-root is for a gateway without authentication: with --auth-tokens"
            " or --oauth-issuer every request's token says who may use it"
        )


def doorFor(options: Mapping[str, Any], reactor: IReactor) -> Door | None:
    """The door of a gateway that authenticates no one (C{None} for one
    that does): the kernel names each connection's account, off the
    reactor thread where it takes a walk of C{/proc}."""
    if authenticates(options):
        return None
    from mcpgateway.startup.process import threadRunner
    from mcpgateway.web.plumbing.door import Door, KernelNamer

    return Door(
        reactor, KernelNamer(threadRunner(reactor)), acceptsRoot=bool(options[OWNER_ACCEPTS_ROOT])
    )
