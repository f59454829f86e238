# -*- test-case-name: tests.core.test_adopted,tests.ops.test_childhandover,tests.integration.continuity.test_restart_children -*-
"""A running child moved from one gateway process's L{Upstream} to
another's: L{releaseChild} on the old side, L{attachAdopted} on the new.

Only a child that can go on exactly where it is moves: a process of the
handshake era whose life is not tied to the gateway process (a confined
child started while no warden guarded the children has the kernel kill
it when the gateway process exits: C{PR_SET_PDEATHSIG}), running and
initialized, with nothing in flight (no request waiting for its answer,
no request of its own waiting for a client's) and nothing written to its
stdin that has not left yet. A child given secrets moves with its values
sealed (L{mcpgateway.core.handedchild.sealSecrets}), never the values: the
new process resolves its server's references as for a child of its own,
keeps it only when the values are the same (a rotated token starts a new
child), and takes them out of its lines from then on. Any other child
stops with its old process, as it always did, and its server starts a new
one when it is next needed.

A confined child keeps the sandbox its launcher built: the new process
keeps it only when it would build the same one (L{compareLayout}:
L{mcpgateway.core.childlayout}), its own sandbox probe's findings
included (L{probeAnswered}: it compares once its probe has answered).
Only the other servers' paths may differ, since servers come and go
while a child runs: it is kept then when its sandbox hides all the new
process would hide of them (L{LayoutCheck}, read off this machine's files,
off the reactor's thread).
And a child is taken by its pid and its start time
(L{mcpgateway.core.adoptedprocess.openChild}): a pid given to another
process since is never attached nor signalled.

Released, a child is no longer read by the old process (the bytes still
in its stdout pipe are the new process's), and its upstream has let go
of it without stopping it: the old process's stop does not reach it. The
start of a stdout line the old process had read goes with it
(L{HandedChild.pending}). Attached, it is served as if the new process had
started and initialized it: its C{initialize} results are the old
process's, and the router's ids start past the old router's.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mcpgateway.core.adoptedprocess import AdoptedProcess, openChild
from mcpgateway.core.child import Child, ChildProtocol
from mcpgateway.core.childlayout import (
    launchLayout,
    layoutOf,
    probeChanges,
    unmaskedOthers,
    withOthers,
)
from mcpgateway.core.envsecrets import GivenSecrets, childRedactor
from mcpgateway.core.handedchild import HandedChild, fingerprint, sealSecrets
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.refusals import RefusalCheck
from mcpgateway.core.spawn import ConfinedChild, Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.runtime import logs
from mcpgateway.sandbox.request import homeOf

log = Logger(observer=logs.observer, namespace="mcpgateway.core.adopted")

HANDED_OVER = "was handed over to the next gateway process"
LAID_OUT_OTHERWISE = (
    "its sandbox is not the one this gateway gives (the gateway's own files to mask, the other"
    " servers, the deny list or the sandbox's code changed)"
)
"""Why a confined child whose layout differs is not kept, when what the
probe found is the same (L{compareLayout})."""


def whyNotMovable(upstream: Upstream) -> str | None:
    """Why C{upstream}'s child cannot move to another process (C{None}: it can)."""
    why = whyNotKept(upstream)
    if why is not None:
        return why
    router = upstream.router
    if router.inFlight or router._serverRequests:
        return "a request is in flight on it"
    if unsentTo(upstream):
        return "what was written to it has not all left"
    return None


def unsentTo(upstream: Upstream) -> int:
    """The bytes written to C{upstream}'s running child (L{whyNotKept}
    says none against it) that have not left this process yet."""
    child = upstream.child
    assert isinstance(child, ChildProtocol)
    writer = child.transport.pipes[0]  # type: ignore[union-attr]
    return len(writer.dataBuffer) - writer.offset + writer._tempDataLen  # type: ignore[no-any-return]


def whyNotKept(upstream: Upstream) -> str | None:
    """Why C{upstream}'s child cannot be kept for another gateway process
    at all, whatever it is doing now (C{None}: it can): see the module
    docstring."""
    child = upstream.child
    if not isinstance(child, ChildProtocol) or child.pid is None or child.exited:
        return "no running process"
    if isinstance(child, ConfinedChild) and child.diesWithGateway:
        # Its launcher set PR_SET_PDEATHSIG: it is killed when this process exits.
        return "it runs in a sandbox that ends with this process"
    if upstream.state is not Lifecycle.RUNNING or upstream.era != "handshake":
        return "it is not a running handshake-era child"
    if upstream.spec.references and upstream.givenSecrets is None:
        return "its secret references were not resolved by this process"
    pipes = getattr(child.transport, "pipes", None)
    if not isinstance(pipes, dict) or set(pipes) != {0, 1, 2}:
        return "its pipes are not all open"
    return None


def describeChild(
    configured: ServerSpec,
    upstream: Upstream,
    session: str = "",
    logLevel: str | None = None,
    subscriptions: tuple[str, ...] = (),
    nextId: int | None = None,
    dup: Callable[[int], int] = os.dup,
    getpgid: Callable[[int], int] = os.getpgid,
    childKey: str = "",
) -> HandedChild:
    """What C{upstream}'s running child is (L{whyNotKept} said it can be
    kept), with duplicates of its pipes' descriptors (the caller closes
    them); the child goes on being served here.

    @param nextId: the first id the next router may use (by default the
        one this router would use next).
    @param childKey: a scoped pool's child's key (C{""}: not one).
    @raise OSError: its process group or its pipes cannot be read.
    """
    child = upstream.child
    assert isinstance(child, ChildProtocol) and child.pid is not None
    pipes = child.transport.pipes  # type: ignore[union-attr]
    pgid = getpgid(child.pid)
    fds = tuple(dup(pipes[n].fileno()) for n in (0, 1, 2))
    return HandedChild(
        server=upstream.spec.name,
        session=session,
        fingerprint=fingerprint(configured, upstream.spec.principal),
        pid=child.pid,
        pgid=pgid,
        pending=child.pendingOutput() if nextId is None else b"",
        nextId=next(upstream.router._ids) if nextId is None else nextId,
        childInitializeResult=upstream.childInitializeResult,
        sessionInitializeResult=upstream.sessionInitializeResult,
        sessionCapabilities=upstream.sessionCapabilities,
        subscriptions=subscriptions,
        logLevel=logLevel,
        fds=fds,
        confinement=child.confinement if isinstance(child, ConfinedChild) else "",
        startTime=child.startTime or 0,
        layout=child.layout if isinstance(child, ConfinedChild) else "",
        command=upstream.spec.command,
        probed=dict(child.probed) if isinstance(child, ConfinedChild) else {},
        others=child.others if isinstance(child, ConfinedChild) else None,
        secrets="" if upstream.givenSecrets is None else sealSecrets(upstream.givenSecrets),
        childKey=childKey,
    )


def releaseChild(
    configured: ServerSpec,
    upstream: Upstream,
    session: str = "",
    logLevel: str | None = None,
    subscriptions: tuple[str, ...] = (),
    dup: Callable[[int], int] = os.dup,
    getpgid: Callable[[int], int] = os.getpgid,
    childKey: str = "",
) -> HandedChild | None:
    """Let go of C{upstream}'s child without stopping it, and say what it
    is, with duplicates of its pipes' descriptors (the caller sends and
    closes them); C{None}, and nothing changed, when it cannot move
    (L{whyNotMovable}).

    @param configured: its server's spec as configured (its fingerprint
        goes with it: L{fingerprintMatches}).
    @param session: the id of the session whose own child it is (C{""}: shared).
    @param childKey: a scoped pool's child's key (C{""}: not one).
    """
    why = whyNotMovable(upstream)
    if why is not None:
        log.info(
            "restart: server {server}'s child pid {pid} is not handed over ({why}); it"
            " stops with this process",
            server=upstream.spec.name,
            pid=upstream.pid,
            why=why,
        )
        return None
    child = upstream.child
    assert isinstance(child, ChildProtocol) and child.pid is not None
    pipes = child.transport.pipes  # type: ignore[union-attr]
    try:
        handed = describeChild(
            configured,
            upstream,
            session,
            logLevel,
            subscriptions,
            dup=dup,
            getpgid=getpgid,
            childKey=childKey,
        )
    except OSError as e:
        log.warn(
            "restart: server {server}'s child pid {pid} cannot be handed over: {why}",
            server=upstream.spec.name,
            pid=child.pid,
            why=str(e),
        )
        return None
    for n in (0, 1, 2):
        pipes[n].stopReading()
        pipes[n].stopWriting()
    upstream._forget(child, HANDED_OVER, gone=False)
    return handed


def attachAdopted(
    upstream: Upstream,
    handed: HandedChild,
    spawner: Spawner,
    given: GivenSecrets | None = None,
    launch: ServerSpec | None = None,
) -> bool:
    """Serve C{handed}'s process as C{upstream}'s child from now on;
    C{False} (its descriptors left to the caller) when its process is gone,
    or its pid names another process now (L{openChild}: its start time).

    @param given: the values of its references, resolved here (they match
        its record's: L{mcpgateway.core.handedchild.secretsMatch}).
    @param launch: its server's spec with those values in place (C{None}:
        it has no references)."""
    try:
        pidfd = openChild(handed.pid, handed.startTime)
    except ProcessLookupError:
        return False
    spec = upstream.spec
    spawned: list[Child] = []
    adopted: list[AdoptedProcess] = []

    def killGroup(pgid: int, signum: int) -> None:
        if adopted and adopted[0].running():  # never a group its pid leads anew
            spawner.killGroup(pgid, signum)

    child = _protocolFor(upstream, handed, spawner, spawned, killGroup, given)
    child.onStopping = getattr(spawner.watcher, "stopping", None)
    child.startTime = handed.startTime
    spawned.append(child)
    stdin, stdout, stderr = handed.fds
    pipes = (stdin, stdout, stderr)
    adopted.append(
        AdoptedProcess(
            spawner.reactor, child, handed.pid, pipes, pidfd, handed.pending, handed.startTime
        )
    )
    upstream.router._ids = itertools.count(handed.nextId)
    result = handed.childInitializeResult
    upstream.childInitializeResult = result
    upstream.initializeResult = None if result is None else presentedResult(result, spec)
    upstream.sessionInitializeResult = handed.sessionInitializeResult
    upstream.sessionCapabilities = handed.sessionCapabilities
    upstream.adoptChild(child)
    upstream.givenSecrets = given
    upstream.redactor = childRedactor(launch or spec, given)
    if isinstance(child, ConfinedChild):
        child.onKept = upstream._sandboxRefused
        upstream.router.resultCheck = refusalsOf(upstream, child, spawner)
        laidOut = launch or spec
        child.launch = replace(laidOut, command=handed.command) if handed.command else laidOut
    if isinstance(child, ConfinedChild) and spawner.confiner is not None:
        # its network proxy held, its temporary directory removed once it ends
        spawner.confiner.spawned(spec, child.ended, pid=handed.pid)
    return True


def refusalsOf(upstream: Upstream, child: ConfinedChild, spawner: Spawner) -> RefusalCheck:
    """What reads the answers of C{child}, confined and served by
    C{upstream} though another upstream started it, for what its sandbox
    kept from it, as for a child C{upstream} started itself."""
    return RefusalCheck(
        upstream.spec.name,
        child.explain,
        child.home,
        upstream._sandboxRefused,
        spawner.runInThread,
    )


def _protocolFor(
    upstream: Upstream,
    handed: HandedChild,
    spawner: Spawner,
    spawned: list[Child],
    killGroup: Callable[[int, int], None],
    given: GivenSecrets | None,
) -> ChildProtocol:
    """The protocol that serves C{handed}'s process: a L{ConfinedChild}
    for one in its sandbox, as a child started here would have."""
    spec = upstream.spec
    common: dict[str, object] = {
        "killGroup": killGroup if handed.pgid == handed.pid else None,
        "onStderr": lambda line: upstream.events.emit("stderr", line),
        "onOutputLost": upstream._outputLost,
        "flusher": spawner.flusher,
        "redact": given,
    }

    def onMessage(message: Any) -> None:
        upstream._fromChild(spawned, message)

    confiner = spawner.confiner
    if handed.confinement and confiner is not None:
        environ = spec.environment(spawner.environ)
        child = ConfinedChild(
            spec.name,
            onMessage,
            spawner.clock,
            spawner.maxLine,
            explain=lambda line: confiner.explain(spec, line, environ),
            home=homeOf(environ, spec.env),
            **common,  # type: ignore[arg-type]
        )
        child.diesWithGateway = False
        child.confinement = handed.confinement
        child.layout = handed.layout
        child.probed = dict(handed.probed)
        child.others = handed.others
        return child
    return ChildProtocol(
        spec.name,
        onMessage,
        spawner.clock,
        spawner.maxLine,
        **common,  # type: ignore[arg-type]
    )


def confinementNow(spawner: Spawner, spec: ServerSpec) -> str:
    """The C{--sandbox} setting this process would start a child of
    C{spec} confined under (C{""}: it would start it unconfined): a kept
    child runs as a child started here would."""
    confines = getattr(spawner.confiner, "confines", None)
    if confines is None or not confines(spec):
        return ""
    return str(getattr(spawner.confiner, "default", ""))


def fingerprintMatches(configured: ServerSpec, upstream: Upstream, handed: HandedChild) -> bool:
    """Whether C{handed} runs what C{upstream}'s server is configured to
    run now (C{configured}: as written, before an C{npx}/C{uvx} command
    was resolved to its binary, so a kept child need not wait for that),
    for the same principal."""
    return fingerprint(configured, upstream.spec.principal) == handed.fingerprint


def probeAnswered(spawner: Spawner) -> Deferred[None] | None:
    """What fires once this process's sandbox probe has answered (or
    failed), starting it if it has not started (C{--sandbox off}); C{None}:
    it has answered, or there is no probe. A kept confined child is
    compared with what that probe found (L{compareLayout})."""
    confiner = spawner.confiner
    detect = getattr(confiner, "detect", None)
    if detect is None or getattr(confiner, "found", None) is not None:
        return None
    probing = detect()
    if not isinstance(probing, Deferred):
        return None
    answered: Deferred[None] = Deferred()

    def told(result: object) -> object:
        answered.callback(None)
        return result  # the sandbox's own callbacks go on with it

    probing.addBoth(told)
    return answered


@dataclass(frozen=True)
class LayoutCheck:
    """A kept child laid out as this process would lay out a child of its
    own but for the other servers' paths, some of them new since it
    started: whether it sees what this process would hide is read off this
    machine's files by the launcher's own layout (L{unmasked})."""

    now: Mapping[str, Any]
    """The launch request this process would hand its launcher."""
    before: tuple[str, ...]
    """The other servers' paths the kept child's launcher was given."""
    argv: list[str]
    environ: Mapping[str, str]

    def unmasked(self) -> tuple[str, ...]:
        """What the kept child sees that a child started here would not
        (empty: it may be kept). Blocking: run off the reactor's thread,
        the launcher's layout imported before (L{buildOfLayout})."""
        return unmaskedOthers(buildOfLayout(), self.now, self.before, self.argv, self.environ)


def buildOfLayout() -> Callable[..., Any]:
    """The launcher's layout builder, imported on first use (a gateway
    that never compares a kept child's sandbox never loads it): call it on
    the reactor's thread before a worker thread reads it."""
    from mcpgateway.sandbox.layout import build

    return build


class LayoutComparison(NamedTuple):
    """How a kept confined child's sandbox compares with what this process
    would give a child of its own (L{compareLayout})."""

    why: str | None = None
    """Why it is not kept (C{None}: as far as the requests tell, it may be)."""
    check: LayoutCheck | None = None
    """What is left to read off the files before it is kept (C{None}: nothing)."""


def compareLayout(
    spawner: Spawner, upstream: Upstream, handed: HandedChild, launch: ServerSpec | None = None
) -> LayoutComparison:
    """Whether C{handed}'s sandbox gives it what this process would give a
    child of C{upstream}'s server running the same command
    (L{mcpgateway.core.childlayout}): its own files masked, the other
    servers' folders, the deny list, the sandbox's code, and what the
    sandbox probe found (named first: L{probeChanges}) as here. When only
    the other servers' paths differ and none was added since it started,
    it is kept (its sandbox hides more, not less); when some were added,
    the comparison ends with a L{LayoutCheck}. An unconfined child has no
    layout to compare. C{launch}: the spec with its secrets' values in
    place, which a child given secrets was laid out from (default:
    C{upstream}'s)."""
    if not handed.confinement:
        return LayoutComparison()
    spec = upstream.spec if launch is None else launch
    if handed.command:
        spec = replace(spec, command=handed.command)
    environ = spec.environment(spawner.environ)
    if spawner.marker is not None:
        environ = {**environ, spawner.marker[0]: spawner.marker[1]}
    argv = [spec.executable or spec.command, *spec.args]
    laidOut = launchLayout(spawner.confiner, spec, argv, environ)
    if laidOut.layout == handed.layout:
        return LayoutComparison()
    changed = probeChanges(handed.probed, laidOut.probed)
    if changed is not None:
        return LayoutComparison(changed)
    now, before = laidOut.request, handed.others
    if now is None or before is None or layoutOf(withOthers(now, before)) != handed.layout:
        return LayoutComparison(LAID_OUT_OTHERWISE)
    if set(laidOut.others) <= set(before):
        return LayoutComparison()  # servers gone since: it hides more, not less
    return LayoutComparison(check=LayoutCheck(now, before, argv, environ))


def unmaskedWhy(paths: tuple[str, ...]) -> str:
    """Why a kept child that sees C{paths} (L{LayoutCheck.unmasked}) is not kept."""
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    return (
        "its sandbox does not hide what servers added since it started name, which a child"
        f" started here would not see ({shown})"
    )
