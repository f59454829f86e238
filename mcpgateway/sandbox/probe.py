# -*- test-case-name: tests.sandbox.test_launch, tests.cli.test_sandbox -*-
"""Which confinement works on this machine, found by trying it.

Bubblewrap needs unprivileged user namespaces, which some systems refuse
(a sysctl, or Ubuntu 24.04's AppArmor, which lets the namespace be made
and then refuses what bubblewrap does in it): so it is run, with the very
namespaces a child gets, on C{true}, and its error kept. Landlock is
asked for its ABI version, and libseccomp to compile the system-call
filter (L{mcpgateway.sandbox.seccomp.status}). L{probe} is what
C{launch.py --probe} prints (the gateway runs that after daemonizing,
L{mcpgateway.sandbox.detect}; C{mcpgateway sandbox check} and C{doctor}
too); L{bwrapWorks} is what a launcher runs itself when the gateway has
not found out yet.

Each mechanism's I{gaps} are part of what it finds: what that mechanism
does not confine on this machine (L{mcpgateway.sandbox.gaps}), told by the
gateway's log line of the mechanism it uses, by C{sandbox check} and by
C{doctor}. And
the gateway's C{--sandbox bubblewrap} or C{landlock} names the one
mechanism its children get (L{mcpgateway.sandbox.mechanisms.FORCED}),
whatever works here (L{mcpgateway.sandbox.mechanisms.unworkable} says why
it does not).

Standard library only, imported by the launcher.
"""

from __future__ import annotations

import os
import sys

from mcpgateway.sandbox import bwrap, defaults, gaps, seccomp
from mcpgateway.sandbox.learnrun import findStrace
from mcpgateway.sandbox.mechanisms import BWRAP, LANDLOCK_NEEDED

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from typing import Any

DISABLE_USERNS = (0, 8, 0)
"""The first bubblewrap with C{--disable-userns}."""


def which(name: str, searchPath: str | None = None) -> str | None:
    """C{name} on C{searchPath} (default: C{PATH}), or C{None}."""
    for directory in (searchPath or os.environ.get("PATH") or "/usr/bin:/bin").split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run(argv: list[str]) -> tuple[int, str]:
    """Run C{argv} (its stdin and stdout on C{/dev/null}): its exit status
    (negative: killed by that signal) and what it wrote to stderr."""
    readEnd, writeEnd = os.pipe()
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, writeEnd, 2),
                (os.POSIX_SPAWN_CLOSE, readEnd),
            ],
        )
    except OSError as e:
        os.close(readEnd)
        os.close(writeEnd)
        return 127, f"{argv[0]}: {e.strerror or e}"
    os.close(writeEnd)
    chunks: list[bytes] = []
    with os.fdopen(readEnd, "rb") as errors:
        while len(chunks) < 64:
            chunk = errors.read(4096)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code, b"".join(chunks).decode("utf-8", "replace").strip()


def bwrapVersion(path: str) -> tuple[int, ...]:
    """The version C{path} reports (C{bubblewrap 0.8.0}), C{()} if none."""
    readEnd, writeEnd = os.pipe()
    try:
        pid = os.posix_spawn(
            path,
            [path, "--version"],
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, writeEnd, 1), (os.POSIX_SPAWN_CLOSE, readEnd)],
        )
    except OSError:
        os.close(readEnd)
        os.close(writeEnd)
        return ()
    os.close(writeEnd)
    with os.fdopen(readEnd, "rb") as out:
        text = out.read(256).decode("utf-8", "replace")
    os.waitpid(pid, 0)
    words = text.split()
    try:
        return tuple(int(part) for part in words[-1].split(".")) if words else ()
    except ValueError:
        return ()


def probeCommand(path: str, root: bool, disableUserns: bool) -> list[str]:
    """Bubblewrap with a child's namespaces, the host read-only, on C{true}."""
    layoutless = [*bwrap.NAMESPACES, *bwrap.DIE_WITH_PARENT, *bwrap.LIFETIME, "--unshare-net"]
    if root:
        layoutless += ["--unshare-user-try", "--cap-drop", "ALL"]
    else:
        layoutless += ["--unshare-user", *(["--disable-userns"] if disableUserns else [])]
    true = which("true", "/usr/bin:/bin") or "/bin/true"
    view = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    return [path, *layoutless, *view, "--", true]


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where a launcher looks for bubblewrap when the gateway named no folders
to look in: never a child's own C{PATH}, which its entry (a repository's)
may set."""


def bwrapWorks(
    path: str | None = None, root: bool | None = None, searchPath: str | None = None
) -> dict[str, Any]:
    """Whether bubblewrap confines a child here: C{{"path", "version",
    "works", "error", "disableUserns"}}; found on C{searchPath} (default:
    this process's C{PATH}: the gateway's own probe's) unless C{path}
    names it."""
    found = path or which(BWRAP, searchPath)
    if found is None:
        return {
            "path": None,
            "version": None,
            "works": False,
            "error": "bwrap is not installed (the bubblewrap package)",
            "disableUserns": False,
        }
    version = bwrapVersion(found)
    disable = bool(version) and version >= DISABLE_USERNS
    isRoot = os.geteuid() == 0 if root is None else root
    code, errors = run(probeCommand(found, isRoot, disable and not isRoot))
    why = None
    if code != 0:
        why = errors.splitlines()[-1] if errors else f"exited with status {code}"
    return {
        "path": found,
        "version": ".".join(map(str, version)) or None,
        "works": code == 0,
        "error": why,
        "disableUserns": disable and not isRoot,
    }


def landlockAbi() -> tuple[int, str | None]:
    """The Landlock ABI version (0: none), and why none."""
    try:
        from mcpgateway.sandbox import landlock

        version = landlock.abi()
    except (OSError, AttributeError, ImportError) as e:
        return 0, f"{LANDLOCK_NEEDED} ({e})"
    if version > 0:
        return version, None
    return 0, f"{LANDLOCK_NEEDED} ({os.strerror(-version)})"


def probe(path: str | None = None) -> dict[str, Any]:
    """Everything: C{{"bwrap": L{bwrapWorks}, "landlock": {"abi", "error"},
    "root", "mechanism", "strace", "seccomp", "gaps"}}, the mechanism
    C{"bwrap"}, C{"landlock"} or C{"none"}, C{strace} its path or C{None}
    (learn mode records paths with it), C{"seccomp"} whether the system-call
    filter can be made (L{mcpgateway.sandbox.seccomp.status}), C{"gaps"}
    what each mechanism does not confine here, and what neither does
    (C{{"bwrap": [...], "landlock": [...], "neither": [...]}}:
    L{mcpgateway.sandbox.gaps}), C{"privateFiles"} a root gateway's
    root-only files (L{privateFiles})."""
    if sys.platform == "darwin":
        return seatbeltProbe()
    found = bwrapWorks(path)
    version, why = landlockAbi()
    mechanism = "bwrap" if found["works"] else "landlock" if version > 0 else "none"
    filtering = seccomp.status()
    root = os.geteuid() == 0
    works = bool(filtering.get("works"))
    return {
        "bwrap": found,
        "landlock": {"abi": version, "error": why},
        "root": root,
        "mechanism": mechanism,
        "strace": findStrace(),
        "seccomp": filtering,
        "gaps": {
            "bwrap": gaps.bwrapGaps(found, works, root),
            "landlock": gaps.landlockGaps(works, version, root, gaps.procHidesOthers()),
            "neither": gaps.neitherGaps(defaults.MEMORY_MB),
        },
        "privateFiles": privateFiles() if root else [],
    }


def privateFiles() -> list[str]:
    """What root owns and no one else may read under the system's
    directories, looked for deeper than a child's own launcher looks
    (L{mcpgateway.sandbox.defaults.PRIVATE_PROBE_DEPTH}): once per gateway,
    in its probe, for every child's request to name
    (L{mcpgateway.sandbox.masks.privateFilesOf})."""
    from mcpgateway.sandbox import defaults, masks

    found = masks.privateEntries(
        defaults.PRIVATE_SCAN_ROOTS, 0, defaults.PRIVATE_PROBE_DEPTH, defaults.PRIVATE_PROBE_LIMIT
    )
    return [path for path, _ in found][: defaults.PRIVATE_PROBE_MAX]


SANDBOX_EXEC = "/usr/bin/sandbox-exec"


def seatbeltProbe() -> dict[str, Any]:
    """macOS: C{sandbox-exec} (Seatbelt), when it is there (untested on a
    real Mac)."""
    works = os.access(SANDBOX_EXEC, os.X_OK)
    why = None if works else f"{SANDBOX_EXEC} is missing"
    return {
        "bwrap": {"path": None, "works": False, "error": "bubblewrap is Linux's"},
        "landlock": {"abi": 0, "error": "Landlock is Linux's"},
        "seatbelt": {"path": SANDBOX_EXEC, "works": works, "error": why},
        "root": os.geteuid() == 0,
        "mechanism": "seatbelt" if works else "none",
    }
