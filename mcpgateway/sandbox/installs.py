# -*- test-case-name: tests.sandbox.test_installs -*-
"""The gateway's own package installs, confined as the server they are for.

Before an C{npx}/C{uvx} server's first child starts, the resolver
(L{mcpgateway.config.resolve}) installs its package itself: C{npm install
--prefix <state-dir>/npx/<package>}, C{uv tool install} into
C{<state-dir>/uvx/<package>}. A package's install scripts (npm's
C{postinstall}, a Python source distribution's build) run then, so that
install runs in the sandbox the server's children get (the same
mechanism, the entry's C{"sandbox"} and the gateway's C{--sandbox}), with
the few differences an install needs:

 - its own install folder is writable (the request's C{"install"}:
   L{mcpgateway.sandbox.layout}), the rest of the state directory (its
   tokens, its keys, the other servers' installs) stays hidden;
 - its launcher's caches are its own, as an C{npx} child's are
   (L{mcpgateway.sandbox.launchercaches}: npm's cache, uv's, in the state
   directory, kept for this install), never the user's C{~/.npm} or
   C{~/.cache/uv}, where a package's C{postinstall} would leave what the
   user's next C{npx} runs; its home is the sandbox's own, empty one;
 - its network is its launcher's registries only (and those the
   environment names, C{npm_config_registry}, C{UV_INDEX_URL}), through the
   gateway's allow-list proxy, whatever the entry allows its server;
 - it never learns: a C{"learn"} entry's install gets the entry's profile
   confined, its records are the server's own.

An entry whose children run unconfined (C{--sandbox off} and an entry that
does not ask, or C{"sandbox": false}) has its install run unconfined too,
which is said once per server. Where no mechanism works the launcher runs
the install as it is, as it runs the children, after the one warning the
probe's answer gives (L{mcpgateway.sandbox.confine.Sandbox}).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mcpgateway.runtime import logs
from mcpgateway.sandbox import defaults, loaderenv
from mcpgateway.sandbox.profile import LEARN, OFF, ON, NetworkRules, SandboxProfile
from mcpgateway.sandbox.request import ProjectFile, SpawnSpec, launcherCommand

if TYPE_CHECKING:
    from mcpgateway.sandbox.confine import Sandbox

MODE = "install"
"""The C{mode} of an install's spec: no workspace, its folder its own."""


@dataclass(frozen=True)
class InstallSpec:
    """What the sandbox reads of one install (a L{SpawnSpec}): the
    server's name and entry's C{env}, the installer as its command, the
    install folder as its working directory."""

    name: str
    command: str
    cwd: str | None
    mode: str
    env: tuple[tuple[str, str], ...]
    sandbox: SandboxProfile
    confinedTo: str | None = None
    """As the server's: an install of a repository's entry is shown no more."""
    principal: str = ""
    """An install is its server's, whoever's child asked for it: every
    child of the server runs what it installed, read-only."""
    origin: ProjectFile | None = None
    """An install writes in its own folder, never in a copy of a package
    (L{mcpgateway.sandbox.request.copyKey}): whose entry it is, is its
    C{confinedTo}'s to say."""
    args: tuple[str, ...] = ()
    """An installer's own: none names the server's data."""


def installProfile(profile: SandboxProfile) -> SandboxProfile:
    """The profile an install of a server with C{profile} runs with: the
    entry's file-system rules, limits and system-call filter; never
    learning; the network left to the installer's launcher (its
    registries), the entry's denied domains still denied."""
    setting = ON if profile.setting == LEARN else profile.setting
    network = NetworkRules(None, (), profile.network.deniedDomains)
    return replace(profile, setting=setting, network=network)


def installSpec(spec: SpawnSpec, installer: str, prefix: str) -> InstallSpec:
    """The spec of C{spec}'s package install: C{installer} (npm, uv) run in
    C{prefix}."""
    return InstallSpec(
        name=spec.name,
        command=installer,
        cwd=prefix,
        mode=MODE,
        env=tuple(spec.env),
        sandbox=installProfile(spec.sandbox),
        confinedTo=spec.confinedTo,
    )


@dataclass(frozen=True)
class ConfinedInstall:
    """One install, confined: the command line that runs it, and what
    tells its failures and holds its way out.

    @ivar argv: the launcher's command line (its installer after C{--}).
    @ivar environ: the environment it runs in.
    """

    argv: list[str]
    environ: dict[str, str]
    spec: InstallSpec
    sandbox: Sandbox

    def launcherEnviron(self) -> dict[str, str]:
        """The environment its launcher starts in: L{environ} with the
        loader's variables held for the installer alone
        (L{mcpgateway.sandbox.loaderenv})."""
        return loaderenv.held(self.environ)

    def started(self, ended: Deferred[None], pid: int | None = None) -> None:
        """It started, as process C{pid}; C{ended} fires when it ends (its
        proxy socket stays open until then; its temporary directory under
        Landlock is removed then)."""
        self.sandbox.spawned(self.spec, ended, pid)

    def explain(self, output: str) -> str | None:
        """What its sandbox refused, if a line of its C{output} says so, in
        one line naming the key that allows it (as a child's,
        L{mcpgateway.sandbox.failures}); C{None}: nothing of the sort. A line
        about its own install folder is the installer's business."""
        prefix = self.spec.cwd or "\0"
        for line in output.splitlines():
            line = line.strip()
            if not line or prefix in line:
                continue
            note = self.sandbox.explain(self.spec, line, self.environ)
            if note is not None:
                return note
        return None


class ConfinedInstalls:
    """Confines the package installs of one gateway's resolver, with the
    gateway's L{Sandbox}."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.sandbox")

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._told: set[str] = set()

    def confine(
        self,
        spec: SpawnSpec,
        argv: list[str],
        environ: Mapping[str, str],
        prefix: str,
        label: str,
    ) -> ConfinedInstall | None:
        """The install C{argv} (its installer first) of C{spec}'s package
        into C{prefix}, confined; C{None}: it runs unconfined, as the
        server's children do (said once per server)."""
        sandbox = self.sandbox
        if not sandbox.confines(spec):
            self._unconfined(spec, label)
            return None
        if sandbox.found is None:
            sandbox.detect()
        install = installSpec(spec, argv[0], prefix)
        env = dict(environ)
        if defaults.launcherOf(argv[0]) is defaults.LAUNCHERS["uv"]:
            # A Python uv must download lands in the package's own folder.
            env["UV_PYTHON_INSTALL_DIR"] = os.path.join(prefix, "python")
        request = sandbox.request(install, argv, env)
        request["install"] = prefix
        sandbox.proxied(install, request["network"])
        encoded = json.dumps(request, separators=(",", ":"))
        command = [*launcherCommand(sandbox.python), encoded, "--", *argv]
        return ConfinedInstall(command, env, install, sandbox)

    def _unconfined(self, spec: SpawnSpec, label: str) -> None:
        if spec.name in self._told:
            return
        self._told.add(spec.name)
        why = (
            '"sandbox": false in its entry'
            if spec.sandbox.setting == OFF
            else "--sandbox off, and its entry does not ask for one"
        )
        emit = self.log.warn if self.sandbox.team else self.log.info
        emit(
            "sandbox: server {server}: its package install ({label}) runs unconfined ({why}),"
            " its install scripts with the gateway's powers",
            server=spec.name,
            label=label,
            why=why,
        )
