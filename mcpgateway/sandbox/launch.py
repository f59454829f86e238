# -*- test-case-name: tests.sandbox.test_launch -*-
"""The program every confined child starts as: it confines itself, then
becomes the server (C{exec}).

C{python -I -S .../mcpgateway/sandbox/launch.py REQUEST -- COMMAND ARGS...}:
C{REQUEST} is the JSON object of L{mcpgateway.sandbox.confine} (the
server's profile and the facts the layout needs). Before its C{exec} it

 1. sets C{PR_SET_NO_NEW_PRIVS} (no set-uid program gains anything in
    it) and, when the request says C{"dieWithParent": true} (a gateway
    without a warden), C{PR_SET_PDEATHSIG} (it is killed when the
    gateway process dies), and starts a session and process group of its
    own (what the C{setsid} program does for an unconfined child:
    stopping it signals the whole group). With a warden
    (L{mcpgateway.ops.warden}) the request says C{false}: the child's
    life is not tied to the gateway process, so a restart can hand it to
    the next process; when the gateway dies without handing it over, its
    warden stops the child's process group and session (bubblewrap's
    namespace init among them, which ends the whole sandbox), and when
    the warden died too, the next gateway's start stops what its ledger
    names;
 2. lowers its limits: no core files, its open files, its data segment,
    and (not as root, whom the kernel never limits) the processes it may
    add to its user's (L{lowerResources});
 3. builds its layout (L{mcpgateway.sandbox.layout}), sets its
    launcher's cache variables to the child's own folders
    (L{mcpgateway.sandbox.launchercaches}), gives the child the user's git
    identity alone (L{mcpgateway.sandbox.gitidentity}), and runs the
    command through bubblewrap (behind the gateway's allow-list proxy
    when the request names its socket: L{mcpgateway.sandbox.proxyplan}),
    or drops every capability (L{mcpgateway.sandbox.privileges}: a root
    child would keep root's), restricts itself with Landlock and runs
    it, or (macOS, untested) runs it through C{sandbox-exec}, or, when
    nothing works, runs it as it is;
 4. under bubblewrap and Landlock, filters the child's system calls
    (L{mcpgateway.sandbox.seccomp}, unless the request says
    C{"syscalls": "unfiltered"}): bubblewrap loads the compiled filter
    from an inherited memory file (C{--seccomp FD}), the Landlock path
    loads it into this process just before its C{exec}. The filter
    depends on the mechanism: under Landlock, which has no namespace, it
    also refuses UNIX sockets (without network, their C{connect}), the
    IP sockets the child's network does not allow, and behind the
    proxy's port C{listen} and TCP Fast Open. Without libseccomp the
    child runs without it (the gateway's probe finds that out and says
    so; under Landlock the launcher says so too, on stderr, since
    sockets stay open then).

When the gateway has not found out yet which mechanism works (a child
started in its first moments), the request says C{auto} and the launcher
tries bubblewrap itself; one that names a mechanism before the probe
answered (bubblewrap without its path, Landlock without its ABI) has the
launcher find it. A launcher that cannot confine as asked exits with
status 126 and one line on stderr; it never runs the command unconfined
unless told that nothing works.

C{launch.py --probe [BWRAP]} prints what works here
(L{mcpgateway.sandbox.probe.probe}) as JSON.

It runs before every confined child: Python in isolated mode without
C{site}, and nothing but the standard library (C{ctypes} only for
C{prctl}, C{capset}, Landlock and libseccomp).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from mcpgateway.sandbox import seccomp

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SIGKILL = 9
EXIT_CANNOT_CONFINE = 126
PREFIX = "mcpgateway sandbox: "
"""How the launcher's own lines on stderr start (L{mcpgateway.sandbox.failures})."""
MIB = 1024 * 1024


def importable() -> None:
    """Make C{mcpgateway} importable when this file runs as a script
    (isolated mode puts neither its directory nor C{site} on the path)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if root not in sys.path:
        sys.path.insert(0, root)


def main(argv: list[str]) -> int:
    """Confine and C{exec}; the exit status when that cannot be done."""
    importable()
    if argv[:1] == ["--probe"]:
        import json

        from mcpgateway.sandbox.probe import probe

        sys.stdout.write(json.dumps(probe(argv[1] if len(argv) > 1 else None)) + "\n")
        return 0
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write(f"{PREFIX}usage: launch.py REQUEST -- COMMAND [ARGS...]\n")
        return 2
    try:
        request = decode(argv[0])
        if not isinstance(request, dict):
            raise ValueError("the request is not a JSON object")
        processGuards(request.get("parent"), request.get("dieWithParent") is not False)
        lowerResources(request, os.geteuid())
        executable, command, environ = plan(request, argv[2:], os.environ)
        command = handOverStdout(command)
    except Exception as e:
        sys.stderr.write(f"{PREFIX}cannot confine the server: {_why(e)}\n")
        return EXIT_CANNOT_CONFINE
    sys.stderr.flush()
    try:
        os.execve(executable, command, environ)
    except OSError as e:
        sys.stderr.write(f"{PREFIX}cannot run {executable}: {e.strerror or e}\n")
        return 127
    return 127  # not reached: execve returns only by raising


class _Decoding:
    """What the C scanner of C{json} reads its settings from (C{json}'s own
    decoder imports C{re}, a fifth of the launcher's start)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


def decode(text: str) -> Any:
    """C{text}, a JSON document, as C{json.loads} reads it."""
    try:
        import _json
    except ImportError:  # not CPython: the module itself
        import json

        return json.loads(text)
    try:
        value, end = _json.make_scanner(_Decoding())(text, 0)  # type: ignore[arg-type]
    except StopIteration:
        raise ValueError("the request is not JSON") from None
    if text[end:].strip():
        raise ValueError("the request is not JSON (extra data)")
    return value


def handOverStdout(command: list[str]) -> list[str]:
    """Before bubblewrap runs: the child's stdout moved to fd
    L{mcpgateway.sandbox.bwrap.STDOUT_FD}, where the command's
    L{mcpgateway.sandbox.bwrap.STDOUT_HANDOVER} takes
    it back, and this process's own on C{/dev/null}, so no process of
    bubblewrap's keeps the pipe open after the child closes it. The
    command as it is without that handover in it; without the handover
    when that fd is taken already (bubblewrap then keeps the pipe open)."""
    from mcpgateway.sandbox.bwrap import STDOUT_FD, STDOUT_HANDOVER

    n = len(STDOUT_HANDOVER)
    at = next((i for i in range(len(command)) if tuple(command[i : i + n]) == STDOUT_HANDOVER), -1)
    if at < 0:
        return command
    try:
        os.fstat(STDOUT_FD)
    except OSError:
        pass
    else:
        return command[:at] + command[at + n :]
    os.dup2(1, STDOUT_FD)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    return command


def _why(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


guarded = 0
"""The pid of the process that took the launcher's guards (L{processGuards}):
the launcher's own, the only one that drops its capabilities before
Landlock (a test that plans in its own process never took them)."""


def processGuards(parent: Any, dieWithParent: bool = True) -> None:
    """No new privileges, death with the gateway (C{dieWithParent}: no
    warden guards the children), a session of its own; this process
    marked the launcher's own (L{guarded})."""
    global guarded
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS refused")
        if dieWithParent:
            libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    if isinstance(parent, int) and os.getppid() != parent:
        raise OSError(0, "the gateway is gone")  # it died before the signal was set
    if os.getpgid(0) != os.getpid():  # a group leader already is signalled as one
        os.setsid()
    guarded = os.getpid()


def lowerResources(request: Mapping[str, Any], euid: int) -> dict[str, int]:
    """Lower this process's limits for the child (never raise one): the
    limits set, by name."""
    import resource

    from mcpgateway.sandbox import defaults

    asked = ((request.get("profile") or {}).get("limits")) or {}
    files = int(asked.get("openFiles") or defaults.OPEN_FILES)
    memory = int(asked.get("memoryMb") or defaults.MEMORY_MB) * MIB
    chosen = {"RLIMIT_CORE": 0, "RLIMIT_NOFILE": files, "RLIMIT_DATA": memory}
    if euid != 0 and os.path.isdir("/proc"):
        chosen["RLIMIT_NPROC"] = tasksOf(os.getuid()) + int(
            asked.get("processes") or defaults.PROCESSES
        )
    for name, value in chosen.items():
        which = getattr(resource, name)
        _, hard = resource.getrlimit(which)
        top = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (top, top))
    return chosen


def tasksOf(uid: int) -> int:
    """The processes and threads user C{uid} runs (what C{RLIMIT_NPROC}
    counts)."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            count += int(fields[17])
        except (OSError, ValueError, IndexError):
            continue
    return count


def plan(
    request: Mapping[str, Any], command: list[str], environ: Mapping[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """What to C{exec}: the program, its argv and its environment, for the
    mechanism the request names (confining this process with Landlock on
    the way, every capability dropped first in the launcher's own process:
    L{guarded})."""
    from mcpgateway.sandbox import datafiles, defaults, gitidentity, layout, loaderenv

    env = {k: v for k, v in environ.items() if k not in defaults.UNSET_VARIABLES}
    notes: list[str] = []
    loader = loaderenv.restored(env, notes)  # for the child alone, never this process's
    for line in notes:
        sys.stderr.write(f"{PREFIX}{line}\n")
    mechanism, path, disableUserns, version = chosenMechanism(request)
    if "learn" in request:
        from mcpgateway.sandbox import learnrun

        request = learnrun.learning(request, mechanism)
    if mechanism == "none":
        return command[0], command, {**env, **loader}
    view = layout.build(request, command, env, mechanism)
    for line in view.refused:  # what the one path rule kept from it, each with its fix
        sys.stderr.write(f"{PREFIX}{NOT_SHOWN}{line}\n")
    for line in datafiles.startLines(view, command, env, request):  # a data file alone
        sys.stderr.write(f"{PREFIX}{line}\n")
    env = ownCaches(view.caches, request, env)
    claimInstalls(view, request)
    command = ownPackageCopy(view, request, command, runFromIt=mechanism == "landlock")
    if mechanism != "landlock":  # bubblewrap, Seatbelt: set by a shell in the sandbox
        command = [*loaderenv.wrapper(loader, env), *command]
    if mechanism == "bwrap":
        if not isinstance(path, str):
            raise OSError(0, "bwrap was not found")
        return path, bubblewrapped(path, disableUserns, request, view, command, env), env
    if mechanism == "seatbelt":
        from mcpgateway.sandbox import seatbelt

        tmp = privateTmp(request)
        env["TMPDIR"] = tmp
        gitidentity.forOwnFolder(env, gitIdentity(request, env), tmp)
        argv = seatbelt.command(view, command, tmp)
        return argv[0], argv, env
    if mechanism == "landlock":
        from mcpgateway.sandbox import landlock

        tmp = privateTmp(request)
        env["TMPDIR"] = tmp
        gitidentity.forOwnFolder(env, gitIdentity(request, env), tmp)
        net, port = landlockNetwork(request, view.network, version)
        extra: dict[str, int] = {}
        if port is not None:
            from mcpgateway.sandbox import proxyplan

            for name in proxyplan.UNSET:
                env.pop(name, None)
            env.update(proxyplan.variables(port))
            extra["proxyPort"] = port  # TCP connect to the proxy's port only
        paths = landlock.rules(view, tmp)
        os.chdir(view.cwd)  # the layout's: never inside a masked path (as bubblewrap's --chdir)
        filtered = syscallFilter(request, LANDLOCK, net)
        if guarded == os.getpid():
            from mcpgateway.sandbox import privileges

            privileges.dropAll()
        landlock.restrict(paths, version, "none" if net == NONE else view.network, **extra)
        if filtered is not None:
            from mcpgateway.sandbox import seccomp

            seccomp.install(filtered)
        return command[0], command, {**env, **loader}
    raise ValueError(f"unknown mechanism {mechanism!r}")


def bubblewrapped(
    path: str,
    disableUserns: bool,
    request: Mapping[str, Any],
    view: Any,
    command: list[str],
    env: dict[str, str],
) -> list[str]:
    """The bubblewrap command line running C{command} confined to C{view}
    (the child's layout), with C{env} made the child's: its own C{/tmp},
    its proxy's variables, its git identity."""
    from mcpgateway.sandbox import bwrap, gitidentity, loaderenv, maskparents
    from mcpgateway.sandbox.bwrap import STDOUT_HANDOVER

    env["TMPDIR"] = "/tmp"
    root = os.geteuid() == 0
    network = None
    if "learn" in request:  # under strace, recorded
        from mcpgateway.sandbox import learnrun

        command = learnrun.wrap(request, command, sys.stderr)
    proxy = (request.get("network") or {}).get("proxy")
    if isinstance(proxy, str) and view.network == "allow":
        from mcpgateway.sandbox import proxyplan

        for name in proxyplan.UNSET:
            env.pop(name, None)
        network, command = proxyplan.plan(proxy, command)
    # The handover's shell drops a variable that is no shell name (npm's
    # npm_config_@acme:registry): a child given one runs without the
    # handover (bubblewrap then holds its stdout open until it exits).
    if os.path.exists(STDOUT_HANDOVER[0]) and all(map(loaderenv.shellName, env)):
        command = [*STDOUT_HANDOVER, *command]
    fd = filterProgram(request)
    dies = request.get("dieWithParent") is not False
    kept, emptied = bwrap.mounted(view, network), bwrap.emptied(view)
    copies = maskparents.copies(view.presented, bwrap.STDOUT_FD + 1, kept, emptied)
    ownHome = view.home in view.private and view.home not in view.sealedPrivate
    identity = gitidentity.forBubblewrap(
        env, gitIdentity(request, env), view.home if ownHome else None
    )
    return bwrap.command(
        path, view, command, root, disableUserns, network, fd, dies, copies, identity
    )


def gitIdentity(request: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The user's git identity (L{mcpgateway.sandbox.gitidentity}), read
    from the account's home (and the gateway's C{XDG_CONFIG_HOME}) with the
    gateway's git, never what the child's environment C{env} names; none
    when its entry names a global git configuration of its own."""
    from mcpgateway.sandbox import gitidentity, probe

    if not gitidentity.wanted(env):
        return {}
    given = str(request.get("searchPath") or probe.SYSTEM_PATH).split(os.pathsep)
    searchPath = os.pathsep.join(p for p in given if os.path.isabs(p))  # never the cwd
    home, configHome = str(request.get("home") or ""), str(request.get("configHome") or "")
    return gitidentity.userIdentity(home, searchPath, configHome=configHome)


def chosenMechanism(request: Mapping[str, Any]) -> tuple[str, Any, bool, int]:
    """The mechanism that confines the child (C{bwrap}, C{landlock},
    C{seatbelt}, C{none}), bubblewrap's path and whether it forbids the
    child user namespaces, and Landlock's ABI: as the request names them,
    or as this machine has them when it says C{auto} or the probe had not
    answered (a mechanism asked for and not working here raises
    C{OSError}: the child never runs unconfined)."""
    from mcpgateway.sandbox import probe

    mechanism = str(request.get("mechanism") or "none")
    path = request.get("bwrap")
    disableUserns = bool(request.get("disableUserns"))
    version = int(request.get("landlock") or 0)
    # The gateway's PATH, never this process's: the child's, which its entry may set.
    searchPath = str(request.get("searchPath") or probe.SYSTEM_PATH)
    if mechanism == "auto":
        found = probe.bwrapWorks(path if isinstance(path, str) else None, searchPath=searchPath)
        path, disableUserns = found["path"], found["disableUserns"]
        version, _ = probe.landlockAbi()
        mechanism = "bwrap" if found["works"] else "landlock" if version > 0 else "none"
        if mechanism == "none":
            sys.stderr.write(
                f"{PREFIX}no confinement works here ({found['error']}; no Landlock): running"
                " the server unconfined\n"
            )
    elif mechanism == "bwrap" and not isinstance(path, str):
        path, disableUserns = forcedBwrap(searchPath)
    elif mechanism == "landlock" and version < 1:
        version = forcedLandlock()
    return mechanism, path, disableUserns, version


def ownCaches(caches: Any, request: Mapping[str, Any], env: dict[str, str]) -> dict[str, str]:
    """The child's environment C{env} with its launcher's own C{caches}
    (L{mcpgateway.sandbox.launchercaches.Caches}) named, whatever its
    entry's C{env} says; their folder claimed for as long as the child
    lives, so that it is never removed under it
    (L{mcpgateway.sandbox.cachekeeping}). A claim that cannot be made is
    said, and the child runs."""
    from mcpgateway.sandbox import cachekeeping, launchercaches

    if caches.own:
        folder = os.path.dirname(caches.own[0])
        try:
            cachekeeping.claim(folder, launchercaches.keyOf(request, "copyKey"))
        except OSError as e:
            sys.stderr.write(f"{PREFIX}its caches {folder} cannot be claimed: {_why(e)}\n")
    return launchercaches.environment(env, caches.variables)


def claimInstalls(view: Any, request: Mapping[str, Any]) -> None:
    """Claim the gateway's installs the child runs from (its layout shows
    them again over the state directory's mask) for as long as it lives,
    so that none is removed under it (L{mcpgateway.sandbox.installkeeping}).
    A claim that cannot be made is said, and the child runs."""
    from mcpgateway.sandbox import installkeeping, launchercaches

    stateDir = os.path.realpath(str(request.get("stateDir") or "/"))
    install = request.get("install")  # an install's own folder: not a child's yet
    own = [os.path.realpath(install)] if isinstance(install, str) else []
    skip = installkeeping.installsOf(stateDir, own)
    shown = [path for path, _ in view.reopened]
    found = [i for i in installkeeping.installsOf(stateDir, shown) if i not in skip]
    if not found:
        return
    try:
        installkeeping.claimInstalls(stateDir, found, launchercaches.keyOf(request, "copyKey"))
    except OSError as e:
        sys.stderr.write(f"{PREFIX}its installs cannot be claimed: {_why(e)}\n")


def ownPackageCopy(
    view: Any, request: Mapping[str, Any], command: list[str], runFromIt: bool = False
) -> list[str]:
    """Bring the child's own copy of the C{npx} package it runs up to the
    install (L{mcpgateway.sandbox.packagecopy}), carrying over the copy an
    earlier gateway kept beside launch C{request}'s caches; the command
    that runs it: C{command}, where bubblewrap shows the copy at the
    package's path, or (C{runFromIt}) the same with the script's path in
    the copy."""
    if view.packageCopy is None:
        return command
    from mcpgateway.sandbox import launchercaches, packagecopy

    copy, package = view.packageCopy
    stateDir = str(request.get("stateDir") or "")
    earlier = packagecopy.earlierCopyPath(stateDir, launchercaches.keyOf(request))
    fresh = not os.path.lexists(copy) and not (stateDir and os.path.lexists(earlier))
    packagecopy.refresh(package, copy, earlier if stateDir else None)
    if fresh and not request.get("project") and not request.get("servesOne"):
        carryUsersData(copy, package, str(request.get("home") or ""))
    return packagecopy.runFromCopy(command, copy, package) if runFromIt else command


def carryUsersData(copy: str, package: str, home: str) -> None:
    """Carry into the copy just made the data its server kept in the user's
    own C{npx} install of the package (L{mcpgateway.sandbox.npxdata}), and
    say so; a copy that fails is said, and the child runs without it."""
    from mcpgateway.sandbox import npxdata

    try:
        carried = npxdata.carry(copy, home, npxdata.packageName(package))
    except OSError as e:
        sys.stderr.write(f"{PREFIX}its data in your own npx install was not carried: {_why(e)}\n")
        return
    if carried is not None:
        source, paths = carried
        sys.stderr.write(
            f"{PREFIX}{NOTE}carried what it kept in your own npx install ({source}) into its copy"
            f" ({copy}): {', '.join(paths)}\n"
        )


NOT_SHOWN = "not shown: "
"""Begins a line saying what of its entry the one path rule kept from a
child (L{mcpgateway.sandbox.pathrule}): it runs without it."""
NOTE = "note: "
"""Begins a line that only tells what the launcher did (it carried a
server's data): no warning, no failure."""
LANDLOCK = "landlock"
NONE, PROXY, HOST = "none", "proxy", "host"
"""A Landlock child's network (L{landlockNetwork}), as
L{mcpgateway.sandbox.seccomp} names it."""
SOCKET_ONLY = (
    "its allow list's proxy is a socket only a bubblewrap sandbox reaches: under Landlock"
    " the server runs without network"
)
NO_LIBSECCOMP = (
    "libseccomp is not installed (the libseccomp2 package): under Landlock the server's"
    " files are confined, but not its UNIX sockets (an ssh-agent, D-Bus, the Docker socket),"
    " UDP and IP protocols other than TCP, nor the system calls the filter refuses"
)


def forcedBwrap(searchPath: str | None = None) -> tuple[str, bool]:
    """Bubblewrap asked for before the gateway's probe answered (its path
    unknown): its path on C{PATH} and whether it forbids the child user
    namespaces, when it confines here.

    @raise OSError: it does not (the child never runs unconfined).
    """
    from mcpgateway.sandbox import probe

    found = probe.bwrapWorks(None, searchPath=searchPath or probe.SYSTEM_PATH)
    if not found["works"] or not isinstance(found["path"], str):
        raise OSError(0, f"bubblewrap was asked for and cannot confine here: {found['error']}")
    return found["path"], bool(found["disableUserns"])


def forcedLandlock() -> int:
    """Landlock asked for before the gateway's probe answered (its ABI
    unknown): this kernel's ABI.

    @raise OSError: it has none (the child never runs unconfined).
    """
    from mcpgateway.sandbox import probe

    version, why = probe.landlockAbi()
    if version < 1:
        raise OSError(0, f"Landlock was asked for and cannot confine here: {why}")
    return version


def landlockNetwork(request: Mapping[str, Any], mode: str, version: int) -> tuple[str, int | None]:
    """A Landlock child's network (L{NONE}, L{PROXY} or L{HOST}) and the
    proxy's loopback port it may connect to.

    An allow list goes through the proxy's port (ABI 4 and later). A
    request that names only the proxy's socket (made for bubblewrap,
    before the gateway knew the mechanism) gets no network, never the
    host's, and the launcher says so. Before ABI 4 (no TCP rules to keep
    it to the port), or where the gateway has no proxy, an allow list
    shares the host's network, as the gateway warns."""
    if mode == NONE:
        return NONE, None
    if mode != "allow":
        return HOST, None
    network = request.get("network") or {}
    port = network.get("proxyPort")
    if isinstance(port, int) and not isinstance(port, bool):
        return (PROXY, port) if version >= 4 else (HOST, None)
    if isinstance(network.get("proxy"), str):
        sys.stderr.write(f"{PREFIX}{SOCKET_ONLY}\n")
        return NONE, None
    return HOST, None


def syscallFilter(
    request: Mapping[str, Any], mechanism: str, network: str = HOST
) -> seccomp.Filter | None:
    """The system-call filter for C{mechanism} and C{network}, when the
    request asks for it (all do but C{"syscalls": "unfiltered"} and learn
    mode) and libseccomp is installed. Under Landlock a missing libseccomp
    leaves sockets open that no namespace closes: the launcher says so."""
    from mcpgateway.sandbox import seccomp

    if "learn" in request or request.get("syscalls", seccomp.FILTERED) != seccomp.FILTERED:
        return None  # learning traces the server: the filter refuses ptrace
    lib = seccomp.library()
    if lib is None:
        if mechanism == LANDLOCK:
            sys.stderr.write(f"{PREFIX}{NO_LIBSECCOMP}\n")
        return None
    return seccomp.Filter(lib, mechanism, network)


def filterProgram(request: Mapping[str, Any]) -> int | None:
    """The fd of bubblewrap's compiled filter for its C{--seccomp}, or
    C{None}: no filter (L{syscallFilter})."""
    from mcpgateway.sandbox import seccomp

    filtered = syscallFilter(request, seccomp.BWRAP)
    return None if filtered is None else seccomp.program(filtered)


def privateTmp(request: Mapping[str, Any]) -> str:
    """A temporary directory of this child's own (Landlock cannot give it a
    private C{/tmp}, and a server's children may serve different people):
    L{mcpgateway.sandbox.childtmp.childTmp} of this process, mode 0700,
    made empty (a directory left by an earlier process of this pid is
    removed first), its missing parents 0700 too."""
    from mcpgateway.sandbox.childtmp import childTmp

    path = childTmp(str(request["stateDir"]), str(request.get("server")), os.getpid())
    parent = os.path.dirname(path)
    missing: list[str] = []
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # another child's launcher made it
        os.chmod(directory, 0o700)
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        import shutil

        shutil.rmtree(path)
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
