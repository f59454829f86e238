# -*- test-case-name: tests.sandbox.test_installkeeping -*-
"""Which of the gateway's own package installs are still wanted, and the
removal of the others.

The resolver installs an C{npx}/C{uvx} server's package once, in a folder
named by its package spec (C{<state>/npx/<package>@<version>-<digest>},
C{<state>/uvx/...}: L{mcpgateway.config.resolve}), about 30 MB each. An
entry pinned to a newer version installs into a new folder, and the old
one would stay for good. So each confined child's launcher I{claims} the
install folders it runs from (L{claimInstalls}), as it claims its caches
(L{mcpgateway.sandbox.cachekeeping}), but per entry: a shared C{flock} on
C{<state>/claims/<npx|uvx>/<install>/<route>/.inuse}, held for as long as
the child lives, its time set to now, and C{route} beside it naming the
entry (the request's C{copyKey}). The claims sit in the state directory,
where neither the child nor a package's install scripts can write.

L{superseded} then finds the installs every entry that ran them has left:
for each of its claims, the same entry has since started a child on
another install (its version changed), no child holds it, and no install
runs in it. Such an install is removed with its claims (L{remove}):
renamed first, under the claims' locks, then deleted; what that costs is
an install at the next start, should an entry name the old version again.
An install no confined child ever claimed (one that runs unconfined, or
that an earlier gateway's children ran) is never removed.

Standard library only: the launcher imports it before every confined
child (L{claimInstalls}).
"""

from __future__ import annotations

import fcntl
import os

from mcpgateway.sandbox import cachekeeping, defaults

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable

CLAIMS = "claims"
"""The state directory's folder of the installs' claims."""


def installsOf(stateDir: str, paths: Iterable[str]) -> list[tuple[str, str]]:
    """The installs (C{(kind, name)}: C{("npx", "pkg@1-abcd")}) of the
    state directory C{stateDir} that C{paths} are in."""
    found: dict[tuple[str, str], None] = {}
    for path in paths:
        for kind in defaults.STATE_INSTALLS:
            base = os.path.join(stateDir, kind) + os.sep
            if path.startswith(base):
                name = path[len(base) :].split(os.sep, 1)[0]
                if name and not name.startswith("."):
                    found[(kind, name)] = None
    return list(found)


def claimInstalls(stateDir: str, installs: Iterable[tuple[str, str]], route: str) -> list[int]:
    """Claim each of C{installs} for the entry C{route} (a plain file
    name) whose child is about to run from them: the fds the child
    inherits, holding the claims for as long as it lives.

    @raise OSError: a claim cannot be made.
    """
    held = []
    for kind, name in installs:
        folder = os.path.join(stateDir, CLAIMS, kind, name, route)
        os.makedirs(folder, 0o700, exist_ok=True)
        held.append(cachekeeping.claim(folder, route))
    return held


class Install:
    """One install every entry that ran it has left (L{superseded}).

    @ivar path: C{<state>/<kind>/<name>}.
    @ivar claims: its claims' folders (C{<state>/claims/<kind>/<name>/<route>}).
    """

    __slots__ = ("claims", "path", "started")

    def __init__(self, path: str, claims: list[cachekeeping.Folder]) -> None:
        self.path = path
        self.claims = claims
        self.started = max(claim.started for claim in claims)

    def __repr__(self) -> str:
        return f"<Install {self.path}>"


def superseded(stateDir: str) -> list[Install]:
    """The installs of C{stateDir} whose every claim is superseded (see the
    module docstring), none where an install runs (L{defaults.INSTALLING});
    oldest first."""
    claimed: dict[str, list[cachekeeping.Folder]] = {}
    latest: dict[str, float] = {}
    for kind in defaults.STATE_INSTALLS:
        base = os.path.join(stateDir, CLAIMS, kind)
        for name in _names(base):
            install = os.path.join(stateDir, kind, name)
            for claim in cachekeeping.folders(os.path.join(base, name)):
                if claim.route is None or not claim.claimed:
                    continue
                claimed.setdefault(install, []).append(claim)
                latest[claim.route] = max(latest.get(claim.route, claim.started), claim.started)
    out = []
    for install, claims in claimed.items():
        installing = os.path.join(install, defaults.INSTALLING)
        if not os.path.isdir(install) or os.path.lexists(installing):
            continue
        if all(claim.route and claim.started < latest[claim.route] for claim in claims):
            out.append(Install(install, claims))
    out.sort(key=lambda install: install.started)
    return out


def remove(install: Install) -> int | None:
    """Remove C{install} and its claims unless a child holds one or was
    started on it since it was found: the bytes it held, or C{None} (kept)."""
    fds: list[int] = []
    try:
        for claim in install.claims:
            lock = os.path.join(claim.path, cachekeeping.IN_USE)
            try:
                fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                return None  # removed meanwhile
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # a child holds it
            if os.fstat(fd).st_mtime > claim.started:
                return None  # claimed since
        away = os.path.join(
            os.path.dirname(install.path),
            f"{cachekeeping.REMOVING}{os.path.basename(install.path)}",
        )
        cachekeeping.delete(away)
        os.rename(install.path, away)
    finally:
        for fd in fds:
            os.close(fd)
    size = cachekeeping.delete(away)
    claims = os.path.dirname(install.claims[0].path)
    cachekeeping.delete(claims)
    return size


def leftovers(stateDir: str) -> list[str]:
    """Installs a removal renamed and did not delete (the gateway stopped meanwhile)."""
    kinds = [os.path.join(stateDir, kind) for kind in defaults.STATE_INSTALLS]
    return [path for folder in kinds for path in cachekeeping.leftovers(folder)]


def _names(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
