# -*- test-case-name: tests.sandbox.test_seatbelt, tests.sandbox.test_workspaceseal -*-
"""macOS: a C{sandbox-exec} (Seatbelt) profile, in its language SBPL, from
the same layout bubblewrap and Landlock get.

Seatbelt has no mount namespace: it cannot give a child an empty home or
a private C{/tmp}, only allow and deny. So the profile denies by default,
allows reading the system (L{SYSTEM}), the child's own paths and running
programs, writing its writable paths and a temporary directory of its
own, and denies every masked path last (in SBPL the last matching rule
decides), then allows again what is bound over a mask. Without network
every network operation is denied; with the host's, allowed.

Untested on a real Mac (the CI runs Linux): C{mcpgateway sandbox show}
prints the profile, and C{sandbox-exec -p PROFILE COMMAND} runs it.
Standard library only.
"""

from __future__ import annotations

from mcpgateway.sandbox.layout import Layout
from mcpgateway.sandbox.places import under

SYSTEM = (
    "/usr",
    "/bin",
    "/sbin",
    "/System",
    "/Library",
    "/opt/homebrew",
    "/opt/local",
    "/private/etc",
    "/private/var/db/timezone",
    "/private/var/db/dyld",
    "/dev",
    "/etc",
    "/var/db/timezone",
)
"""Read-only for every child (C{/etc} and C{/var} are symlinks into
C{/private} on macOS: both names are allowed)."""

DEVICES = ("/dev/null", "/dev/zero", "/dev/tty", "/dev/dtracehelper", "/dev/urandom")
"""Written by many programs (C{/dev/null} above all)."""


def quoted(path: str) -> str:
    """C{path} as an SBPL string literal."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(layout: Layout, tmp: str | None = None) -> str:
    """The SBPL profile of C{layout}; C{tmp}: the child's own temporary
    directory (its C{TMPDIR}), writable."""
    reads = [*SYSTEM, *(path for _, path in layout.readOnly)]
    writes = [path for _, path in layout.writable] + ([tmp] if tmp else [])
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-exec process-fork)",
        "(allow signal (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow mach-lookup)",
        "(allow ipc-posix-shm)",
        '(allow file-read-metadata (literal "/"))',
        "(allow file-read* file-map-executable",
        *(f"  (subpath {quoted(path)})" for path in reads),
        ")",
        "(allow file-write-data",
        *(f"  (literal {quoted(path)})" for path in DEVICES),
        ")",
    ]
    if writes:
        lines += ["(allow file-read* file-write*"]
        lines += [f"  (subpath {quoted(path)})" for path in writes]
        lines += [")"]
    held = [path for _, path in layout.readOnly] + list(layout.sealed)
    held = [path for path in held if any(under(path, w) and path != w for w in writes)]
    if held:  # read-only inside a writable place: a denyWrite, a repository's .git
        lines += ["(deny file-write*"]
        lines += [f"  (subpath {quoted(path)})" for path in held]
        lines += [")"]
    if layout.network == "none":
        lines.append("(deny network*)")
    else:
        lines.append("(allow network*)")
    masked = [path for path, _ in layout.masked] + list(layout.placeholders)
    if masked:
        lines += ["(deny file-read* file-write*"]
        lines += [f"  (subpath {quoted(path)})" for path in masked]
        lines += [")"]
    for path, writable in layout.reopened:
        rights = "file-read* file-write*" if writable else "file-read*"
        lines.append(f"(allow {rights} (subpath {quoted(path)}))")
    return "\n".join(lines) + "\n"


def command(layout: Layout, argv: list[str], tmp: str | None = None) -> list[str]:
    """C{sandbox-exec -p PROFILE argv...}."""
    return ["/usr/bin/sandbox-exec", "-p", profile(layout, tmp), *argv]
