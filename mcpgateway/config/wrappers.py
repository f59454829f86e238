# -*- test-case-name: tests.config.test_resolve -*-
"""What an C{npx} or C{uvx} command runs, and how it is installed: a
L{Wrapper} parsed from a server's command (L{parseWrapper}), the package's
real binary once installed (L{nodeCommand}, L{pickBin}), and the installer
process with its bounded output (L{summarize}). The resolver that caches
the result is L{mcpgateway.config.resolve.Resolver}.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import (
    IDelayedCall,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox import defaults

# An npm registry spec: name (scoped or not), optionally @version, range or tag.
# Git URLs, tarballs, paths and aliases (npm:) are left to npx.
_NPM_SPEC = re.compile(
    r"(?P<name>(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*)"
    r"(?:@(?P<version>[A-Za-z0-9._~^<>=*+|-]+))?"
)
_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
# A uvx command: name[extras]@version (what uvx itself accepts without --from).
_UVX_SPEC = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[[A-Za-z0-9._,-]+\])?"
    r"(?:@(?P<version>[A-Za-z0-9.*+!_-]+))?"
)
COMMAND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
OUTPUT_TAIL = 8192
MARKER = defaults.INSTALLING
"""The file in an install folder while an installer runs there (its gateway's pid)."""
DISCARDED = ".discarded-"
"""The name prefix of install folders moved aside to be deleted."""
_T = TypeVar("_T")


class ResolveError(Exception):
    """A package's binary cannot be resolved; the message says why."""


class InstallStopped(ResolveError):
    """The install was stopped with the gateway (L{Resolver.stop}): not a failure."""


class InstallFailed(ResolveError):
    """The installer ran and exited with an error of its own (a registry
    that has no such package, one that refused it): its words say why."""


@dataclass(frozen=True)
class Wrapper:
    """What a wrapper command line asks for.

    @ivar kind: C{"npx"} or C{"uvx"}.
    @ivar package: the package spec as written (C{@org/pkg@1.2.3}, C{pkg}).
    @ivar args: the arguments for the binary.
    @ivar binName: the binary named explicitly (C{npx -p PKG BIN},
        C{uvx --from PKG BIN}); C{None} to pick the package's own.
    @ivar python: C{uvx --python}'s value, if given.
    @ivar project: the workspace of the project whose own file (a
        repository's) wrote the entry; C{None}: the user's own entry. A
        repository's entry chooses how its package is installed (its
        registry, its C{PATH}, its npm config) and its child may write
        into the install (a package with a C{node_modules} of its own,
        under Landlock): its install and resolution are its project's,
        never what the user's entries or another project's run.
    """

    kind: str
    package: str
    args: tuple[str, ...]
    binName: str | None = None
    python: str | None = None
    project: str | None = None

    @property
    def key(self) -> str:
        """The cache key: C{"npx:<pkgspec>"}, plus what else selects the
        binary, and the project it is installed for."""
        key = f"{self.kind}:{self.package}"
        if self.binName is not None:
            key += f"#{self.binName}"
        if self.python is not None:
            key += f"?python={self.python}"
        if self.project is not None:
            key += f" project={self.project}"
        return key

    @property
    def folder(self) -> str:
        """The name of the folder its package is installed into (under
        C{<state>/npx} or C{<state>/uvx}): the package spec's, with the
        C{uvx} Python and the project it is installed for."""
        variant = self.package
        if self.kind == "uvx" and self.python:
            variant += f" python={self.python}"
        if self.project is not None:
            variant += f" project={self.project}"
        return safeName(variant)

    @property
    def name(self) -> str:
        """The package name without version (npx) or the command (uvx)."""
        pattern = _NPM_SPEC if self.kind == "npx" else _UVX_SPEC
        match = pattern.fullmatch(self.package)
        return match.group("name") if match else self.package


def parseWrapper(spec: ServerSpec) -> Wrapper | None:
    """Parse C{spec}'s command line as C{npx}/C{uvx}, or C{None} when it is
    something else or uses options this module does not understand."""
    program = os.path.basename(spec.command)
    if program == "npx":
        wrapper = _parseNpx(spec.args)
    elif program == "uvx":
        wrapper = _parseUvx(spec.args)
    else:
        return None
    if wrapper is None or spec.origin is None:
        return wrapper
    return replace(wrapper, project=spec.origin.workspace)


def _parseNpx(args: tuple[str, ...]) -> Wrapper | None:
    packages: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-y", "--yes"):
            i += 1
        elif arg in ("-p", "--package"):
            if i + 1 >= len(args):
                return None
            packages.append(args[i + 1])
            i += 2
        elif arg.startswith("--package="):
            packages.append(arg[len("--package=") :])
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None  # an option we do not know: leave the entry alone
        else:
            break
    rest = args[i:]
    if not rest:
        return None
    binName: str | None = None
    if not packages:
        package, rest = rest[0], rest[1:]
    elif len(packages) == 1:
        package, binName, rest = packages[0], rest[0], rest[1:]
        if not COMMAND.fullmatch(binName):
            return None
    else:
        return None
    if not _NPM_SPEC.fullmatch(package):
        return None
    return Wrapper("npx", package, tuple(rest), binName)


def _parseUvx(args: tuple[str, ...]) -> Wrapper | None:
    source: str | None = None
    python: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--from", "--python", "-p"):
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None
            if arg == "--from":
                source = args[i + 1]
            else:
                python = args[i + 1]
            i += 2
        elif arg.startswith("--from="):
            source = arg[len("--from=") :]
            i += 1
        elif arg.startswith("--python="):
            python = arg[len("--python=") :]
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None
        else:
            break
    rest = args[i:]
    if not rest or source == "" or python == "":
        return None
    if source is None:
        if not _UVX_SPEC.fullmatch(rest[0]):
            return None
        return Wrapper("uvx", rest[0], tuple(rest[1:]), python=python)
    if not COMMAND.fullmatch(rest[0]):
        return None
    return Wrapper("uvx", source, tuple(rest[1:]), binName=rest[0], python=python)


def safeName(text: str) -> str:
    """A directory name for C{text}: readable, and unique thanks to a hash."""
    readable = re.sub(r"[^A-Za-z0-9._@+-]", "_", text.replace("/", "+")).lstrip(".")[:80]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def nodeCommand(binFile: Path, searchPath: str | None) -> list[str]:
    """The argv prefix that runs the npm bin file C{binFile} in one process.

    A script with a C{node} shebang (C{#!/usr/bin/env node}, with or without
    C{-S} and node options) or a C{.js}/C{.mjs}/C{.cjs} file without one runs
    as C{[node, *options, binFile]}, with C{node} looked up on C{searchPath}
    now, as C{env} would at each start; anything else (a native binary, a
    shell script) is run as itself.

    @raise ResolveError: no node on C{searchPath}, or a file that cannot run.
    """
    try:
        with binFile.open("rb") as f:
            head = f.read(512).split(b"\n", 1)[0]
    except OSError as e:
        raise ResolveError(f"cannot read {binFile}: {e.strerror}") from None
    interpreter: list[str] | None = None
    if head.startswith(b"#!"):
        words = head[2:].decode("utf-8", "replace").split()
        if words and os.path.basename(words[0]) == "env":
            words = words[1:]
            if words[:1] == ["-S"]:
                words = words[1:]
            if words and os.path.basename(words[0]) in ("node", "nodejs"):
                interpreter = ["node", *words[1:]]
        elif words and os.path.basename(words[0]) in ("node", "nodejs"):
            interpreter = words
    elif binFile.suffix in (".js", ".mjs", ".cjs"):
        interpreter = ["node"]
    if interpreter is None:
        if not os.access(binFile, os.X_OK):
            raise ResolveError(f"{binFile} is neither a node script nor executable")
        return [str(binFile)]
    if not os.path.isabs(interpreter[0]):
        node = shutil.which(interpreter[0], path=searchPath)
        if node is None:
            raise ResolveError(f"'{interpreter[0]}' is not on PATH")
        interpreter[0] = os.path.abspath(node)
    return [*interpreter, str(binFile)]


GLOBAL_CONFIG_VARIABLES = ("npm_config_globalconfig", "NPM_CONFIG_GLOBALCONFIG")
"""The variables that name npm's global config file outright."""


def npmGlobalConfig(npm: str, env: Mapping[str, str]) -> str | None:
    """The global config file C{npm} reads when it runs with C{env} and no
    C{--prefix}; C{None} when C{env} names it (npm reads that one then,
    whatever the command line says) or npm's C{node} is not found.

    npm reads its global config from C{<prefix>/etc/npmrc}, and a
    C{--prefix} on the command line is that prefix: C{npm install --prefix
    FOLDER} reads C{FOLDER/etc/npmrc} and misses the system's, where a
    registry mirror, a proxy or a certificate authority is set
    (C{/usr/etc/npmrc} for Debian's npm, the node folder's C{etc/npmrc} under
    nvm). So the resolver, which installs with C{--prefix}, names this file
    with C{--globalconfig}. Without a prefix npm's own is C{$PREFIX}, else
    the folder above the folder of the C{node} it runs under (its real
    path), C{$DESTDIR} put before it (C{@npmcli/config}'s
    C{loadGlobalPrefix}); the C{node} is the one C{npm}'s first line names,
    looked up on C{env}'s C{PATH} as C{env} would."""
    if any(env.get(name) for name in GLOBAL_CONFIG_VARIABLES):
        return None
    prefix = env.get("PREFIX")
    if not prefix:
        try:
            node = nodeCommand(Path(os.path.realpath(npm)), env.get("PATH"))[0]
        except ResolveError:
            return None
        if os.path.basename(node) not in ("node", "nodejs"):
            return None  # npm is a binary of its own: its prefix is not known here
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(node)))
        destdir = env.get("DESTDIR")
        if destdir:
            prefix = os.path.join(destdir, prefix.lstrip(os.sep))
    return os.path.join(prefix, "etc", "npmrc")


def pickBin(manifest: Mapping[str, Any], packageName: str, wanted: str | None) -> str:
    """The relative path of the bin to run from a C{package.json}.

    C{wanted} (C{npx -p PKG BIN}) must be one of the package's bins;
    otherwise the bin named like the unscoped package, else the only one.

    @raise ResolveError: no such bin, or no way to choose.
    """
    bins = manifest.get("bin")
    unscoped = packageName.rsplit("/", 1)[-1]
    if isinstance(bins, str):
        bins = {unscoped: bins}
    if not isinstance(bins, dict) or not bins:
        raise ResolveError(f"package {packageName} declares no bin")
    if wanted is not None:
        path = bins.get(wanted)
        if not isinstance(path, str):
            raise ResolveError(
                f"package {packageName} has no bin named '{wanted}'"
                f" (it has: {', '.join(sorted(bins))})"
            )
        return path
    if isinstance(bins.get(unscoped), str):
        return str(bins[unscoped])
    if len(bins) == 1:
        (path,) = bins.values()
        if isinstance(path, str):
            return path
    raise ResolveError(
        f"package {packageName} has several bins ({', '.join(sorted(bins))})"
        f" and none is named '{unscoped}'"
    )


class Installer(ProcessProtocol):
    """One install process: keeps the tail of its output, reports its exit.

    @ivar signal: the signal that ended it (C{None}: it exited with a code).
    """

    def __init__(self, killGroup: Callable[[int, int], None] | None = None) -> None:
        """
        @param killGroup: C{os.killpg}, when the installer leads its own
            process group; C{None} signals only the installer.
        """
        self.done: Deferred[tuple[int | None, str]] = Deferred()
        self._output: deque[bytes] = deque()
        self._outputBytes = 0
        self._killGroup = killGroup
        self.timer: IDelayedCall | None = None
        self.pid: int | None = None
        self.timedOut = False
        self.stopped = False
        self.signal: int | None = None

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.pid = self.transport.pid
        self.transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self._output.append(data)
        self._outputBytes += len(data)
        while self._outputBytes > OUTPUT_TAIL and len(self._output) > 1:
            self._outputBytes -= len(self._output.popleft())

    @property
    def cutShort(self) -> bool:
        """Whether it was killed (timed out, stopped, or by a signal from elsewhere)."""
        return self.timedOut or self.stopped or self.signal is not None

    def timeUp(self) -> None:
        """The install took too long: kill it."""
        self.timer = None
        self.timedOut = True
        self.kill()

    def stop(self) -> None:
        """The gateway is stopping: kill the install."""
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.kill()

    def kill(self) -> None:
        """SIGKILL the installer's process group (npm's own children too)."""
        if self.done.called:
            return
        if self._killGroup is not None and self.pid is not None:
            try:
                self._killGroup(self.pid, signal.SIGKILL)
                return
            except ProcessLookupError:
                pass  # the group is gone; signal the process itself
            except OSError:
                pass
        try:
            assert self.transport is not None
            self.transport.signalProcess("KILL")
        except (ProcessExitedAlready, OSError):
            pass

    def processExited(self, reason: Failure) -> None:
        """The installer's own process exited: what it left in its process
        group (a sandbox's init and helpers, a daemon npm started) would hold
        its pipes open and its end would never be seen, so that is killed.
        Only its group: an installer that does not lead one leaves it be."""
        if self._killGroup is not None and self.pid is not None:
            with contextlib.suppress(OSError):  # nothing was left in its group
                self._killGroup(self.pid, signal.SIGKILL)

    def processEnded(self, reason: Failure) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        code = getattr(reason.value, "exitCode", None)
        self.signal = getattr(reason.value, "signal", None)
        text = b"".join(self._output)[-OUTPUT_TAIL:].decode("utf-8", "replace")
        self.done.callback((code, text))


_NOISE = re.compile(
    r"(?:npm (?:warn|notice)|warning:|(?:code|syscall|errno|path|dest)\b|at |"
    r"\d*$|[{}]|\w+: (?:'|\d)|A complete log)",
    re.IGNORECASE,
)
_ERROR_PREFIX = re.compile(r"^(?:npm (?:error|ERR!)|error:)\s*", re.IGNORECASE)


def summarize(output: str, count: int = 2) -> str:
    """The first C{count} telling lines of an installer's output: npm's
    error codes, stack frames, warnings and log-file notes left out."""
    telling: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        bare = _ERROR_PREFIX.sub("", line)
        if not bare or _NOISE.match(line) or _NOISE.match(bare):
            continue
        telling.append(" ".join(bare.split()))
        if len(telling) == count:
            break
    if not telling:  # nothing but noise: the last line says most
        telling = [line.strip() for line in output.splitlines() if line.strip()][-1:]
    return "; ".join(telling)[:500]
