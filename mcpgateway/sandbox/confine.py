# -*- test-case-name: tests.sandbox.test_confine, tests.sandbox.test_mechanism -*-
"""The gateway's side of the sandbox: which children are confined, with
what, and the command line that does it.

A L{Sandbox} is what the spawner asks (L{mcpgateway.core.spawn.Confiner}):
for a server's spec and command, the launcher's command line
(C{python -I -S .../launch.py REQUEST -- COMMAND...}), or C{None} when
that server runs unconfined (C{--sandbox off} and an entry that does not
ask for one, or C{"sandbox": false}). The I{request} holds only what the
gateway knows without touching a file (the profile, the paths the entry
names as text, the state directory, the other servers' paths): the
launcher, in the child's process, resolves them
(L{mcpgateway.sandbox.layout}), so the reactor never waits on the file
system.

Which mechanism works is found once, after the gateway daemonized
(L{detect}): until then a request says C{auto} and the launcher tries
bubblewrap itself. The findings are logged once: the mechanism and what it
does not confine here (its gaps), or what is missing when nothing confines.
C{--sandbox bubblewrap} or C{landlock} names the mechanism every request
says from the first child on, before the probe answered: a child gets it
or its launcher refuses to start it (status 126), never runs unconfined,
and a probe that finds it does not work here is an error in the log.

A child with an allow list started before the probe answered (C{auto})
gets both ways to the proxy, its socket and its loopback port: its
launcher uses the socket under bubblewrap, the port under Landlock.

A Landlock child gets a temporary directory of its own,
C{<state-dir>/sandbox/<server>/tmp/<pid>}, which its launcher makes: the
gateway removes it, off the reactor's thread, once the child ended, and
at its start those of children that no longer run
(L{mcpgateway.sandbox.childtmp}).

A learning server's request (C{"sandbox": "learn"}, under bubblewrap) says
so (C{"learn"}): the launcher shows it the home read-only and runs it under
C{strace} (L{mcpgateway.sandbox.learnrun}), and its network goes through the
proxy's recording socket.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread, runInline
from mcpgateway.sandbox import childtmp, datafiles, defaults, failures, learnrun
from mcpgateway.sandbox.mechanisms import FORCED, unworkable
from mcpgateway.sandbox.profile import LEARN, OFF
from mcpgateway.sandbox.request import SpawnSpec, build, homeOf, launcherCommand, mechanismOf

MODES = ("auto", "off", "bubblewrap", "landlock")
"""The words of the gateway's C{--sandbox}: C{auto} and the two that name a
mechanism (L{FORCED}) confine every server whose entry does not say
C{false}; C{off} only those whose entry asks."""
NAMES = {"bwrap": "bubblewrap", "landlock": "Landlock"}


class Proxy(Protocol):
    """The allow-list proxy (L{mcpgateway.startup.netproxy.NetworkProxy})."""

    def socketFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...]) -> str:
        """The socket of a server's children with this allow list
        (listening once it is returned)."""
        ...

    def portFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...]) -> int:
        """The loopback port of a server's children with this allow list,
        for Landlock (listening once it is returned)."""
        ...

    def recorderFor(self, server: str, record: str) -> str:
        """The socket of a learning server's children: every public host
        allowed, each host asked for appended to C{record}."""
        ...

    def status(self, server: str) -> dict[str, Any] | None:
        """A server's connections and refusals, or C{None}: it has no socket."""
        ...

    def hold(self, ended: Deferred[None]) -> None:
        """Keep the sockets open until C{ended} fires (a confined child's end)."""
        ...


class ProbeWarden(Protocol):
    """The gateway's warden, as it is told of the probe
    (L{mcpgateway.ops.warden.Warden}): the probe gets its marker, and is
    stopped by it if the gateway dies first."""

    marker: tuple[str, str]

    def helperSpawned(self, server: str, pid: int, ledger: bool = True) -> None: ...

    def helperExited(self, pid: int) -> None: ...


def landlockAbi(found: Mapping[str, Any] | None) -> int:
    """The Landlock ABI the probe found (0: none, or not yet)."""
    abi = ((found or {}).get("landlock") or {}).get("abi")
    return abi if isinstance(abi, int) else 0


class Sandbox:
    """Confines the children of one gateway.

    @ivar found: what the probe found (L{mcpgateway.sandbox.probe.probe}'s
        object), C{None} until it answered.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.sandbox")

    def __init__(
        self,
        default: str,
        stateDir: str,
        prober: Callable[[], Deferred[dict[str, Any]]] | None = None,
        team: bool = False,
        others: Callable[[], Iterable[tuple[str, tuple[str, ...]]]] = lambda: (),
        python: str = sys.executable,
        pid: Callable[[], int] = os.getpid,
        cwd: Callable[[], str] = os.getcwd,
        proxy: Proxy | None = None,
        gatewayFiles: Iterable[str] = (),
        runInThread: RunInThread = runInline,
        guard: Callable[[], bool] = lambda: False,
    ) -> None:
        """
        @param default: C{--sandbox}: C{auto} confines every server whose
            entry does not say C{false} with the best mechanism that works,
            C{bubblewrap} or C{landlock} with that one (L{FORCED}), C{off}
            only those whose entry asks.
        @param prober: runs the probe (after daemonizing).
        @param team: a team gateway: a server run unconfined is a warning.
        @param others: every server's name and the paths its entry names
            (its C{cwd}, its executable, its absolute arguments): what a
            child of another server must not see.
        @param proxy: the allow-list proxy; C{None}: a child with an allow
            list shares the host's network.
        @param gatewayFiles: the gateway's own files (its config, tokens,
            keys, logs: L{mcpgateway.startup.sandboxing.gatewayFiles}),
            absolute: masked in every child.
        @param runInThread: removes the children's temporary directories
            off the reactor's thread.
        @param guard: whether a warden guards the children (starting it
            if it is not running: L{mcpgateway.ops.warden.Warden.guard}):
            then a confined child's life is not tied to the gateway
            process (L{tiesToGateway}).
        """
        self.default = default
        self.stateDir = stateDir
        self.prober = prober
        self.team = team
        self.others = others
        self.python = python
        self._pid = pid
        self._cwd = cwd
        self.found: dict[str, Any] | None = None
        self._probing: Deferred[dict[str, Any]] | None = None
        self._told: set[tuple[str, str]] = set()
        self.proxy = proxy
        self.gatewayFiles = tuple(dict.fromkeys(gatewayFiles))
        self._runInThread = runInThread
        self.guard = guard
        self.warden: ProbeWarden | None = None
        """The gateway's warden (set once it is made): the probe's prober
        gives it the probe (L{mcpgateway.sandbox.detect.probe})."""

    def tiesToGateway(self) -> bool:
        """Whether a confined child dies with the gateway process (its
        launcher's C{PR_SET_PDEATHSIG}, bubblewrap's C{--die-with-parent}):
        only when no warden guards the children. With one, the warden stops
        a confined child when the gateway dies without handing it to a
        restart's next process."""
        return not self.guard()

    @property
    def forced(self) -> str | None:
        """The mechanism C{--sandbox} names (C{bwrap}, C{landlock}), or
        C{None}: the probe chooses."""
        return FORCED.get(self.default)

    @property
    def mechanism(self) -> str:
        """C{bwrap}, C{landlock} or C{none}; C{auto} until the probe
        answered; the one C{--sandbox} names, whatever the probe says."""
        return self.forced or mechanismOf(self.found)

    def detect(self) -> Deferred[dict[str, Any]] | None:
        """Find out which mechanism works (once; the first call starts the
        probe): its Deferred, or C{None} without a prober."""
        if self._probing is None and self.prober is not None:
            try:
                probing = self.prober()
            except Exception as e:  # the probe could not even start
                self.log.warn(
                    "sandbox: the probe cannot start ({why}); each confined child tries"
                    " bubblewrap itself",
                    why=f"{type(e).__name__}: {e}",
                )
                return None
            self._probing = probing
            probing.addCallback(self._found)
            probing.addErrback(self._probeFailed)
        return self._probing

    def _found(self, found: dict[str, Any]) -> dict[str, Any]:
        self.found = found
        bw = found.get("bwrap") or {}
        landlock = found.get("landlock") or {}
        mechanism = self.mechanism
        gaps = list((found.get("gaps") or {}).get(mechanism) or ())
        unconfined = f"; not confined here: {'; '.join(gaps)}" if gaps else ""
        why = None if self.forced is None else unworkable(found, self.forced)
        if why is not None:
            self.log.error(
                "sandbox: --sandbox {mode} asks for {name}, which does not work here ({why}):"
                " confined children fail to start (they never run unconfined); `mcpgateway"
                " sandbox check` says more, --sandbox auto confines with what works",
                mode=self.default,
                name=NAMES.get(mechanism, mechanism),
                why=why,
            )
        elif mechanism == "bwrap":
            self.log.info(
                "sandbox: confined children run in bubblewrap {version} ({path}){unconfined}",
                version=bw.get("version") or "?",
                path=bw.get("path"),
                gaps=gaps,
                unconfined=unconfined,
            )
        elif mechanism == "seatbelt":
            self.log.info("sandbox: confined children run in sandbox-exec (macOS; untested)")
        elif mechanism == "landlock" and self.forced is not None:
            self.log.info(
                "sandbox: confined children run under Landlock (ABI {abi}), as --sandbox"
                " landlock asks{unconfined} (docs/guide/sandbox.md)",
                abi=landlock.get("abi"),
                gaps=gaps,
                unconfined=unconfined,
            )
        elif mechanism == "landlock":
            self.log.warn(
                "sandbox: bubblewrap cannot confine children here ({why}); confining them with"
                " Landlock (ABI {abi}) instead{unconfined} (docs/guide/sandbox.md)",
                why=bw.get("error"),
                abi=landlock.get("abi"),
                gaps=gaps,
                unconfined=unconfined,
            )
        else:
            self.log.warn(
                "sandbox: confined children run UNCONFINED: no mechanism works here (bubblewrap:"
                " {bwrap}; Landlock: {landlock}); install bubblewrap and allow unprivileged user"
                " namespaces (`mcpgateway sandbox check` says more)",
                bwrap=bw.get("error"),
                landlock=landlock.get("error"),
            )
        self._filterFound(found.get("seccomp"), mechanism)
        return found

    def _filterFound(self, filtering: Any, mechanism: str) -> None:
        """Say it when confined children run without their system-call
        filter (L{mcpgateway.sandbox.seccomp}): libseccomp is missing."""
        if mechanism not in ("bwrap", "landlock") or not isinstance(filtering, dict):
            return
        if not filtering.get("works"):
            self.log.warn(
                "sandbox: confined children run WITHOUT their system-call filter ({why});"
                " install libseccomp (the libseccomp2 package;"
                " docs/guide/sandbox.md, System calls)",
                why=filtering.get("error"),
            )

    def _probeFailed(self, failure: Any) -> None:
        self.log.warn(
            "sandbox: the probe failed ({why}); each confined child tries bubblewrap itself",
            why=failure.getErrorMessage(),
        )
        self._probing = None

    def confines(self, spec: SpawnSpec) -> bool:
        """Whether children of C{spec} are confined (a mechanism named by
        C{--sandbox} confines as C{auto} does)."""
        return spec.sandbox.confined("off" if self.default == "off" else "auto")

    def command(
        self, spec: SpawnSpec, argv: list[str], environ: Mapping[str, str]
    ) -> list[str] | None:
        """The command line that runs C{argv} (the resolved executable and
        its arguments) confined for C{spec}, in C{environ}; C{None}:
        unconfined."""
        if not self.confines(spec):
            if spec.sandbox.setting == OFF:
                self._tellOnce(spec.name, "off")
            return None
        if self.found is None:
            self.detect()
        request = self.request(spec, argv, environ)
        if spec.sandbox.setting == LEARN:
            self._learning(spec, request)
        network = request["network"]
        if network["mode"] == "allow" and self.proxy is not None and not network.get("learn"):
            self.proxied(spec, network)
        self._tell(spec, request)
        encoded = json.dumps(request, separators=(",", ":"))
        return [*launcherCommand(self.python), encoded, "--", *argv]

    def proxied(self, spec: SpawnSpec, network: dict[str, Any]) -> None:
        """Name the proxy in the C{network} of a request with an allow list
        (a child's, an install's; nothing without a proxy): its socket
        under bubblewrap (the child's own network namespace has no other
        way out), its loopback port under Landlock from ABI 4 (TCP connect
        to that port only; a launcher that finds an older ABI leaves it
        unused), both before the probe answered (C{auto}: the launcher
        uses the one of the mechanism it finds)."""
        if self.proxy is None or network["mode"] != "allow":
            return
        key = (
            spec.name,
            tuple(network["allowedDomains"]),
            tuple(spec.sandbox.network.deniedDomains),
        )
        mechanism = self.mechanism
        if mechanism in ("auto", "bwrap"):
            network["proxy"] = self.proxy.socketFor(*key)
        if mechanism == "auto" or (
            mechanism == "landlock" and (self.found is None or landlockAbi(self.found) >= 4)
        ):
            network["proxyPort"] = self.proxy.portFor(*key)

    def _learning(self, spec: SpawnSpec, request: dict[str, Any]) -> None:
        """Make C{request} a learning one (C{"sandbox": "learn"}), under
        bubblewrap only: its home shown read-only, the child under
        C{strace} (L{learnrun}), and its network through the proxy's
        recording socket (every public host allowed, every host asked for
        recorded). Under another mechanism it runs with the default
        profile."""
        if self.mechanism not in ("auto", "bwrap"):
            return
        directory = learnrun.learnDir(self.stateDir, spec.name)
        request["learn"] = {"dir": directory}
        if self.proxy is not None:
            hosts = os.path.join(directory, learnrun.HOSTS_FILE)
            request["network"] = {
                "mode": "allow",
                "allowedDomains": [],
                "learn": True,
                "proxy": self.proxy.recorderFor(spec.name, hosts),
            }

    def request(
        self, spec: SpawnSpec, argv: list[str], environ: Mapping[str, str]
    ) -> dict[str, Any]:
        """What the launcher needs (L{mcpgateway.sandbox.request.build}):
        pure, no file touched. Its mechanism is the one C{--sandbox} names,
        if it names one (the launcher finds bubblewrap's path or the
        Landlock ABI itself when the probe has not told them yet)."""
        request = build(
            spec,
            environ,
            self.stateDir,
            self.found,
            argv=argv,
            others=self.otherPaths(spec),
            python=self.python,
            parent=self._pid(),
            gatewayCwd=self._cwd(),
            gatewayFiles=self.gatewayFiles,
            dieWithParent=self.tiesToGateway(),
        )
        if self.forced is not None:
            request["mechanism"] = self.forced
        # Where the launcher looks for bubblewrap (before the probe answered) and
        # for the git it reads the user's identity with: the gateway's folders;
        # and where that git finds the user's XDG configuration: the gateway's.
        request["searchPath"] = os.environ.get("PATH") or ""
        request["configHome"] = os.environ.get("XDG_CONFIG_HOME") or ""
        return request

    def otherPaths(self, spec: SpawnSpec) -> list[str]:
        """The paths the other servers' entries name, and this server's
        other working directories (other workspaces)."""
        out: dict[str, None] = {}
        for name, paths in self.others():
            for path in paths:
                if not (name == spec.name and path == spec.cwd):
                    out[path] = None
        return list(out)[:256]

    def spawned(self, spec: SpawnSpec, ended: Deferred[None], pid: int | None = None) -> None:
        """A confined child of C{spec} started, as process C{pid}
        (C{ended} fires when it ends): the proxy stays open until then, so
        a stopping gateway's children keep their way out while their calls
        drain; then the temporary directory its launcher made under
        Landlock (C{auto}: it may have) is removed, off the reactor's
        thread."""
        if self.proxy is not None:
            self.proxy.hold(ended)
        if pid is not None and self.mechanism in childtmp.MECHANISMS:
            ended.addBoth(self._childEnded, spec.name, pid)

    def _childEnded(self, result: object, server: str, pid: int) -> object:
        removing = self._runInThread(childtmp.remove, self.stateDir, server, pid)
        removing.addErrback(
            lambda failure: self.log.failure(
                "sandbox: server {server}: cannot remove the temporary directory of child pid"
                " {pid}",
                failure,
                server=server,
                pid=pid,
            )
        )
        return result

    def sweep(self) -> Deferred[list[str]]:
        """Remove, off the reactor's thread, the temporary directories of
        children that no longer run (a gateway that ended without removing
        them): fires with those removed, never fails (a failure is
        logged)."""
        sweeping: Deferred[list[str]] = self._runInThread(childtmp.sweep, self.stateDir)

        def failed(failure: Any) -> list[str]:
            self.log.failure("sandbox: cannot sweep the children's temporary directories", failure)
            return []

        return sweeping.addErrback(failed)

    def networkStatus(self, server: str) -> dict[str, Any] | None:
        """What the allow-list proxy did for C{server}'s children (its
        line of C{/health}), or C{None}: none of them uses it."""
        return None if self.proxy is None else self.proxy.status(server)

    def explain(self, spec: SpawnSpec, line: str, environ: Mapping[str, str]) -> str | None:
        """One line saying what the sandbox refused in C{line} and the key
        that allows it (L{failures.explain}), or C{None}. The data files
        its entry names where the sandbox shows them on their own
        (L{datafiles.entryFiles}) are read off the entry's words: no file
        is read on the reactor's thread."""
        mode, _ = defaults.network(
            spec.sandbox.network.mode, spec.sandbox.network.allowedDomains, spec.command
        )
        if mode == "allow" and self.proxy is not None and self.mechanism in ("auto", "bwrap"):
            mode = "proxy"
        home = homeOf(environ, spec.env)
        alone = datafiles.entryFiles(spec.args, spec.env, home, spec.cwd or "", self.stateDir)
        return failures.explain(line, mode, home, self.stateDir, self.mechanism, alone, spec.name)

    def _tell(self, spec: SpawnSpec, request: dict[str, Any]) -> None:
        """The once-per-server warnings of a confined child."""
        if spec.sandbox.setting == LEARN:
            self._tellOnce(spec.name, LEARN if "learn" in request else "cannotLearn")
            if (self.found or {}).get("strace", True) is None:
                self._tellOnce(spec.name, "noStrace")
        network = request["network"]
        if network["mode"] == "allow" and not network.get("learn"):
            what = "allow"
            if network.get("proxy"):
                what = "proxied"
            elif network.get("proxyPort"):
                what = "proxiedByPort"
            self._tellOnce(spec.name, what, ", ".join(network["allowedDomains"]))
        elif request["network"]["mode"] == "host":
            self._tellOnce(spec.name, "host")

    def _tellOnce(self, server: str, what: str, detail: str = "") -> None:
        if (server, what) in self._told:
            return
        self._told.add((server, what))
        if what == "off":
            emit = self.log.warn if self.team else self.log.info
            emit(
                'sandbox: server {server} runs unconfined ("sandbox": false in its entry)',
                server=server,
            )
        elif what == LEARN:
            self.log.warn(
                'sandbox: server {server} is learning ("sandbox": "learn"): it sees your home'
                " read-only (its deny list still hidden) and reaches every public host through"
                " the gateway's proxy; what it uses is recorded in {where}, and `mcpgateway"
                " sandbox suggest {server}` proposes its profile",
                server=server,
                where=learnrun.learnDir(self.stateDir, server),
            )
        elif what == "cannotLearn":
            self.log.warn(
                'sandbox: server {server}: "sandbox": "learn" needs bubblewrap, which does not'
                " confine children here; it runs with the default profile, nothing recorded",
                server=server,
            )
        elif what == "noStrace":
            self.log.warn(
                "sandbox: server {server}: strace is not installed: learning records the hosts"
                " it reaches, not the paths it uses (install strace: apt-get install strace)",
                server=server,
            )
        elif what == "proxied":
            self.log.info(
                "sandbox: server {server} may reach only {domains}, through the gateway's"
                " network proxy",
                server=server,
                domains=detail,
            )
        elif what == "proxiedByPort":
            filtered = ((self.found or {}).get("seccomp") or {}).get("works")
            self.log.warn(
                "sandbox: server {server} may reach {domains} through the gateway's network"
                " proxy, on a loopback port; under Landlock its children may still make TCP"
                " connections to that port number on any host{more}",
                server=server,
                domains=detail,
                more=""
                if filtered
                else ", and without their system-call filter UDP and TCP Fast Open still go out",
            )
        elif what == "allow":
            self.log.warn(
                "sandbox: server {server} may reach only {domains}, which the gateway cannot"
                " enforce {how}: its children share the host's network (loopback included)",
                server=server,
                domains=detail,
                how="under Landlock before ABI 4 (no network rules)"
                if self.mechanism == "landlock"
                else "without bubblewrap",
            )
        else:
            self.log.info(
                "sandbox: server {server} shares the host's network (loopback included)",
                server=server,
            )
