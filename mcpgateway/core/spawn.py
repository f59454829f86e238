# -*- test-case-name: tests.core.test_spawn -*-
"""How the gateway starts a child process: one frozen L{Spawner}.

Everything a spawn needs that is not the server's own configuration is
decided once, by whoever wires the gateway, and carried here: the reactor
and clock, the environment children inherit (always without the gateway's
own settings and secrets, L{mcpgateway.core.environment}), the longest line
a child may write, the C{setsid} binary that puts each child in a process
group of its own (C{None}: no group), the watcher told of every child
spawned and ended (the state directory's ledger), and the L{Confiner} that
runs a child in its sandbox (L{mcpgateway.sandbox}).

And why a server's command cannot be run (L{notFound}): the words the running
gateway and C{servers add} both use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess, IReactorTime

from mcpgateway.core.child import DEFAULT_MAX_LINE, Child, ChildProtocol
from mcpgateway.core.childlayout import launchLayout
from mcpgateway.core.environment import childEnvironment
from mcpgateway.core.envsecrets import GivenSecrets
from mcpgateway.core.spec import DEFAULT_START_TIMEOUT, ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import procfs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.turnwrites import Flusher, Unflushed
from mcpgateway.sandbox import loaderenv
from mcpgateway.sandbox.failures import KEPT_FROM_IT
from mcpgateway.sandbox.request import homeOf

NOT_ON_PATH = "was not found on PATH"
"""Why a bare command name cannot be run: the gateway's C{PATH} lacks it
(C{mcpgateway status} says whose C{PATH} that is: L{mcpgateway.cli.pathnotes})."""


def notFound(command: str, entryPath: bool = False) -> str:
    """Why C{command}, which did not resolve to an executable, cannot be run
    (the end of a sentence that names it): a bare name is not on C{PATH}
    (the gateway's, or the one its entry's C{env} sets: C{entryPath}); a
    path (it has a C{/}) does not exist, or is not an executable file."""
    if "/" not in command:
        return "was not found on the PATH its entry sets" if entryPath else NOT_ON_PATH
    return "is not an executable file" if os.path.exists(command) else "was not found"


def notFoundFor(spec: ServerSpec) -> str:
    """L{notFound} for the command of C{spec}, whose own C{env} may set
    the C{PATH} it was looked up on."""
    return notFound(spec.command, any(name == "PATH" for name, _ in spec.env))


class SecretsUnavailable(Exception):
    """A child cannot start: a secret reference of its spec cannot be
    resolved. The message names the reference and says why, never a value."""


class ResolvesSecrets(Protocol):
    """Resolves the secret references of a spec as its child starts
    (L{mcpgateway.secrets.resolve}): the spec the pools and the status keep
    holds the references' text, only the spawner sees the values."""

    def resolve(self, spec: ServerSpec) -> Deferred[tuple[ServerSpec, GivenSecrets]]:
        """C{spec} with the values in place of its references, and the
        values as L{GivenSecrets}. Fails with L{SecretsUnavailable}."""
        ...


class ChildWatcher(Protocol):
    """Told of every child spawned and ended (the state directory's ledger)."""

    def spawned(self, server: str, pid: int) -> None: ...

    def exited(self, pid: int) -> None: ...


class Confiner(Protocol):
    """Runs children in their sandbox (L{mcpgateway.sandbox.confine.Sandbox})."""

    def command(
        self, spec: ServerSpec, argv: list[str], environ: Mapping[str, str]
    ) -> list[str] | None:
        """The command line that runs C{argv} confined for C{spec}, in
        C{environ}; C{None}: it runs unconfined. A confined child leads a
        process group of its own (its launcher starts one)."""
        ...

    def explain(self, spec: ServerSpec, line: str, environ: Mapping[str, str]) -> str | None:
        """What the sandbox refused, if a stderr C{line} of a confined child
        says so, and the key of its entry that allows it."""
        ...

    def spawned(self, spec: ServerSpec, ended: Deferred[None], pid: int | None = None) -> None:
        """A confined child of C{spec} started as process C{pid}; C{ended}
        fires when it ends (what it uses outside, its network proxy, stays
        until then; what its launcher made for it, its temporary directory,
        is removed then)."""
        ...


class AdoptionGate(Protocol):
    """Holds the starts of children while a restart's running children are
    on their way from the previous process (L{mcpgateway.core.adopted})."""

    def pending(self, server: str) -> Deferred[None] | None:
        """What fires once those of server C{server} are here (or will not
        come); C{None}: start now."""
        ...


class RemoteConnector(Protocol):
    """Opens upstream sessions with remote servers (L{mcpgateway.remote}):
    the child of a server whose spec has a C{remote} endpoint."""

    def connect(
        self,
        spec: ServerSpec,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None],
    ) -> Child: ...


@dataclass(frozen=True, kw_only=True)
class Spawner:
    """Starts the children of every server of one gateway."""

    reactor: IReactorProcess
    clock: IReactorTime
    environ: Mapping[str, str]
    """The environment children inherit; the gateway's own variables are
    removed when the spawner is made, whatever the caller passed."""
    setsid: str | None
    """The C{setsid} binary (resolved once, by the caller): each child gets a
    process group of its own, and stopping it signals the group (C{npx} and
    C{sh -c} wrappers otherwise leave the real server running). C{None}:
    children share the gateway's group and are signalled alone."""
    maxLine: int = DEFAULT_MAX_LINE
    """The longest line a child may write, in bytes."""
    watcher: ChildWatcher | None = None
    killGroup: Callable[[int, int], None] = os.killpg
    """Signals a process group (used only with L{setsid})."""
    flusher: Flusher = field(default_factory=Unflushed)
    """Sends what a reactor turn wrote to the children's stdin
    (L{mcpgateway.runtime.turnwrites}): start-up hands it the turn flusher of
    C{--twisted=tuned}, which the site shares; by default, none (their
    writes leave as Twisted sends them)."""

    remotes: RemoteConnector | None = None
    """Connects the children of remote servers (C{None}: none are served)."""
    secrets: ResolvesSecrets | None = None
    """Resolves the secret references of a spec before its child starts
    (C{None}: a reference reaches the child as it is written)."""
    confiner: Confiner | None = None
    """Confines the children whose servers are sandboxed (C{None}: none is)."""
    marker: tuple[str, str] | None = None
    """A variable every child's environment gets, C{(name, value)}
    (L{mcpgateway.ops.warden.Warden.marker}): what finds the processes a
    child started in a session of their own once the gateway is gone.
    C{None}: none."""
    startTimeout: float = DEFAULT_START_TIMEOUT
    """Seconds a child's handshake may take (C{--start-timeout}; a server's
    longer request timeout wins): L{mcpgateway.core.router.Router}."""
    adoptions: AdoptionGate | None = None
    """Holds child starts until a restart's children have been handed over
    (C{None}: not started by a restart)."""
    runInThread: RunInThread | None = None
    """Looks for a file a confined child's tool did not find on this
    machine, off the reactor (L{mcpgateway.core.refusals}); C{None}: such a
    file is not told as the sandbox's doing."""
    startTimeOf: Callable[[int], int | None] = procfs.startTime
    """When a process started (field 22 of its C{stat}), read as each
    child is spawned: with its pid, what names it to another gateway
    process (L{mcpgateway.core.handedchild.HandedChild.startTime})."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "environ", childEnvironment(self.environ))

    def spawn(
        self,
        spec: ServerSpec,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None],
        onOutputLost: Callable[[ChildProtocol], None],
        redact: Callable[[str], str] | None = None,
    ) -> Child:
        """Start a child of C{spec}: a process (whose C{executable} must be
        known), or an upstream session with its remote server.

        @param redact: applied to each stderr line of the process before it
            is kept or logged (the secrets it was given are taken out).

        @raise OSError: the reactor could not start the process, or remote
            servers are not served.
        """
        if spec.remote is not None:
            if self.remotes is None:
                raise OSError("remote servers are not served by this gateway")
            return self.remotes.connect(spec, onMessage, onStderr)
        assert spec.executable is not None
        argv = [spec.executable, *spec.args]
        env = spec.environment(self.environ)
        if self.marker is not None:
            env = {**env, self.marker[0]: self.marker[1]}
        confined = None if self.confiner is None else self.confiner.command(spec, argv, env)
        launcherEnv = env
        if confined is not None:
            confiner = self.confiner
            assert confiner is not None
            inSandbox = ConfinedChild(
                spec.name,
                onMessage,
                self.clock,
                self.maxLine,
                killGroup=self.killGroup,
                onStderr=onStderr,
                onOutputLost=onOutputLost,
                flusher=self.flusher,
                redact=redact,
                explain=lambda line: confiner.explain(spec, line, env),
                home=homeOf(env, spec.env),
            )
            ties = getattr(confiner, "tiesToGateway", None)
            inSandbox.diesWithGateway = True if ties is None else bool(ties())
            inSandbox.confinement = str(getattr(confiner, "default", ""))
            laidOut = launchLayout(confiner, spec, argv, env)
            inSandbox.layout, inSandbox.proxied, inSandbox.probed = laidOut[:3]
            inSandbox.others, inSandbox.launch = laidOut.others, spec
            child: ChildProtocol = inSandbox
            argv = confined
            launcherEnv = loaderenv.held(env)  # the loader's variables: the confined child's alone
        else:
            child = ChildProtocol(
                spec.name,
                onMessage,
                self.clock,
                self.maxLine,
                killGroup=self.killGroup if self.setsid is not None else None,
                onStderr=onStderr,
                onOutputLost=onOutputLost,
                flusher=self.flusher,
                redact=redact,
            )
            if self.setsid is not None:
                argv = [self.setsid, *argv]
        child.onStopping = getattr(self.watcher, "stopping", None)
        self.reactor.spawnProcess(child, argv[0], argv, env=launcherEnv, path=spec.cwd)
        if child.pid is not None:
            child.startTime = self.startTimeOf(child.pid)  # with the pid, names this process
        if confined is not None and self.confiner is not None:
            self.confiner.spawned(spec, child.ended, pid=child.pid)
        return child


class ConfinedChild(ChildProtocol):
    """A child in its sandbox: a stderr line that tells of something the
    sandbox refused is logged once, in a line naming the key that allows
    it, and the first such line is part of how the child ended (its
    server's status, its callers' error)."""

    def __init__(
        self,
        name: str,
        onMessage: Callable[[jsonrpc.Message], None],
        clock: IReactorTime,
        maxLine: int,
        *,
        explain: Callable[[str], str | None],
        home: str = "",
        onStderr: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """
        @param explain: what the sandbox refused, if a line it wrote says
            so (L{Confiner.explain} for this child): its stderr's, and its
            tools' error results' (L{mcpgateway.core.refusals}).
        @param home: its home directory.
        @param onStderr: as L{ChildProtocol}'s, told of every line.
        """
        self.explain = explain
        self.home = home
        self._heardOnStderr = onStderr
        self.sandboxNotes: list[str] = []
        """What the sandbox refused, each once, first first."""
        self.diesWithGateway = True
        """Whether the kernel ends it with the gateway process (its
        launcher's C{PR_SET_PDEATHSIG}: no warden guarded the children when
        it started); such a child cannot move to a restart's next process."""
        self.confinement = ""
        """The C{--sandbox} setting it started under (a restart's next
        process keeps it only under the same)."""
        self.layout = ""
        """What its sandbox gives it (L{mcpgateway.core.childlayout.layoutOf}):
        another gateway process keeps it only if it would give a child of
        its own the same."""
        self.others: tuple[str, ...] | None = None
        """The other servers' paths its launcher was given to mask
        (L{mcpgateway.core.childlayout.othersOf}; C{None}: not known):
        another gateway process whose servers name more keeps it when its
        sandbox hides what a child of its own would be hidden."""
        self.launch: ServerSpec | None = None
        """The spec it was laid out from, its secrets' values in place
        (C{None}: kept from another process, which it was not handed)."""
        self.probed: dict[str, Any] = {}
        """What of its gateway's probe findings lays it out
        (L{mcpgateway.core.childlayout.probedOf}): another gateway process
        names what changed when its own probe found otherwise."""
        self.proxied = False
        """Whether it reaches the network through the gateway's allow-list
        proxy, which dies with the gateway process: a crash cannot keep it."""
        self.onKept: Callable[[str, str], None] | None = None
        """Told of each path the sandbox's one path rule kept from it, as
        its launcher says at its start (C{(key, note)}): its server's
        record, which C{/health}, C{status}, C{doctor} and the console
        show. It runs without that path: no cause of its end."""
        super().__init__(name, onMessage, clock, maxLine, onStderr=self._heard, **kwargs)

    def _heard(self, line: str) -> None:
        try:
            note = self.explain(line)
        finally:
            if self._heardOnStderr is not None:
                self._heardOnStderr(line)
        if note is not None and note.startswith(KEPT_FROM_IT) and self.onKept is not None:
            self.onKept(note[len(KEPT_FROM_IT) :].partition(" not shown ")[0], note)
            return
        if note is not None and note not in self.sandboxNotes and len(self.sandboxNotes) < 8:
            self.sandboxNotes.append(note)
            self.log.warn("server {server}: {note}", server=self.name, note=note)

    def howItEnded(self) -> str:
        how = super().howItEnded()
        return f"{how} ({self.sandboxNotes[0]})" if self.sandboxNotes else how
