# -*- test-case-name: tests.startup.test_dooroptions -*-
"""The front door of a gateway that authenticates no one
(L{mcpgateway.httpbase.door}): whether there is one, and the
C{--owner-accepts-root} option.

A gateway with C{--auth-tokens} or C{--oauth-issuer} authenticates every
request; every other gateway serves its owner's account only, as the
kernel names each connection's (docs/guide/security.md, "Who may
connect"), and, where the kernel cannot name it, each request that carries
the owner token of the state directory (L{mcpgateway.runtime.ownertoken}):
the door is given the token (L{doorFor}), and the adopted clients' entries
carry it where this process cannot name a peer (L{ownerHeaders})."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.python import usage

if TYPE_CHECKING:
    from mcpgateway.httpbase.door import Door
    from mcpgateway.runtime.reactortype import IReactor

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


def doorFor(
    options: Mapping[str, Any], reactor: IReactor, stateDir: Path | None = None
) -> Door | None:
    """The door of a gateway that authenticates no one (C{None} for one
    that does): the kernel names each connection's account, off the
    reactor thread where it takes a walk of C{/proc}; a connection whose
    account it cannot name is let in for each request that carries the
    owner token of C{stateDir} (made at the first start; C{None}: such a
    connection is refused). A token file that cannot be used refuses the
    start, in one line."""
    if authenticates(options):
        return None
    from mcpgateway.httpbase.door import Door, KernelNamer
    from mcpgateway.ops.peerpid import inodeHolders
    from mcpgateway.startup.process import refuse, threadRunner

    token = None
    if stateDir is not None:
        try:
            token = ownerToken(stateDir)
        except ValueError as e:
            refuse(str(e))
    return Door(
        reactor,
        KernelNamer(threadRunner(reactor), inodeHolders),
        acceptsRoot=bool(options[OWNER_ACCEPTS_ROOT]),
        token=token,
    )


def ownerToken(stateDir: Path) -> str:
    """The owner token of C{stateDir}, made on first use.

    @raise ValueError: the file cannot be used or made; the message says
        which file and what to do.
    """
    from mcpgateway.runtime.ownertoken import OwnerTokenError, loadOwnerToken, tokenPath

    try:
        return loadOwnerToken(stateDir)
    except OwnerTokenError as e:
        raise ValueError(str(e)) from None
    except OSError as e:
        raise ValueError(
            f"cannot make the owner token file {tokenPath(stateDir)}: {e.strerror or e}"
        ) from None


def ownerHeaders(
    options: Mapping[str, Any], stateDir: Path, namesPeers: Callable[[], bool] | None = None
) -> dict[str, str]:
    """The headers the HTTP entries of adopted clients carry: the owner
    token where this process cannot name the account of a connection (one
    lookup of a connection to itself, L{mcpgateway.runtime.peeruid.namesPeers}),
    so that the door lets their requests in; none where it can (the
    account decides there, and no secret goes into the clients' files), nor
    on a gateway that authenticates (each caller's own token decides).

    @raise ValueError: see L{ownerToken}.
    """
    if authenticates(options):
        return {}
    if namesPeers is None:
        from mcpgateway.runtime.peeruid import namesPeers as kernelNames

        namesPeers = kernelNames
    if namesPeers():
        return {}
    from mcpgateway.runtime.ownertoken import HEADER

    return {HEADER: ownerToken(stateDir)}
