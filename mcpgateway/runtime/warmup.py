# -*- test-case-name: tests.runtime.test_warmup,tests.integration.cli.test_launch_warm -*-
"""The gateway's C{-OO} bytecode, written before it starts.

C{mcpgateway start} (and C{service install}) run L{warm} in a throw-away
process with the gateway's own interpreter flags
(L{mcpgateway.runtime.interpreter}): without it, the first start after an
install compiles every module of Twisted and of the gateway, and keeps the
compiler's garbage (about 5 MB) for its whole life. Nothing here imports
Twisted or the gateway until L{warm} asks for it: the warm-up of a start
whose bytecode is current takes under a tenth of a second of CPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

WARM_MODULES = (
    "twisted.internet.reactor",
    "twisted.internet.endpoints",
    "twisted.internet.inotify",
    "twisted.internet.stdio",
    "twisted.internet.utils",  # the sandbox's probe (mcpgateway.sandbox.detect)
    "twisted.python.systemd",
    "twisted.scripts.twistd",
    "twisted.application.twist._twist",
    "ctypes.util",
    "shlex",  # the pinned tools' messages name commands (mcpgateway.trust)
    "resource",  # the open-files limit, raised at start (mcpgateway.ops.openfiles)
    "mcpgateway.tap",
    "mcpgateway.web.app",
    "mcpgateway.core.gateway.gateway",
)
"""What L{warm} imports: the runners, the reactor, the gateway's service and
web tree, and the parts of Twisted they load only once the gateway starts
(the gateway's own modules are compiled from their directory as well)."""


def warm(
    importModule: Callable[[str], object] | None = None,
    compileDir: Callable[[str], object] | None = None,
    stampPath: str | None = None,
) -> None:
    """Write this interpreter's bytecode (C{-OO}'s, when run so) of what a
    gateway loads, where it can be written: compile every module of the
    gateway's package (most are imported only once the service starts), and
    import the Twisted modules of L{WARM_MODULES}. C{importModule} and
    C{compileDir} default to C{importlib}'s and C{compileall}'s.

    The imports cost as much CPU as a gateway's own start (about 0.8 s) even
    when every module's bytecode is there, so they run only when the
    interpreter's installation changed since they last did
    (L{installationStamp}, kept at C{stampPath}: by default in the package's
    C{__pycache__}, beside the bytecode it speaks for), and never when this
    interpreter writes no bytecode (C{PYTHONDONTWRITEBYTECODE}). Compiling
    the package only reads each file's times when its bytecode is current.
    Run with a C{pycache_prefix} (L{mcpgateway.runtime.interpreter}), it
    writes there, and keeps its stamp there too."""
    import mcpgateway

    if importModule is None:
        import importlib

        importModule = importlib.import_module
    if compileDir is None:
        import compileall

        def compileDir(path: str) -> object:
            return compileall.compile_dir(path, quiet=2)

    package = os.path.dirname(mcpgateway.__file__)
    compileDir(package)
    if sys.dont_write_bytecode:
        return
    if stampPath is None:
        folder = sys.pycache_prefix or os.path.join(package, "__pycache__")
        stampPath = os.path.join(folder, warmStampName())
    with contextlib.suppress(OSError), open(stampPath, encoding="utf-8") as stamp:
        if stamp.read() == installationStamp():
            return
    for name in WARM_MODULES:
        # A module this system lacks (epoll, inotify: Linux only): the rest still are.
        with contextlib.suppress(ImportError):
            importModule(name)
    with contextlib.suppress(OSError):  # a read-only install: the gateway compiles
        temporary = f"{stampPath}.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as written:
            written.write(installationStamp())
        os.replace(temporary, stampPath)


def warmStampName() -> str:
    """The name of L{warm}'s stamp for this interpreter and its
    optimization level (C{-OO}'s bytecode is not C{-O}'s)."""
    return f"warmed.{sys.implementation.cache_tag}.opt{sys.flags.optimize}.json"


def installationStamp() -> str:
    """What this interpreter's installation is, as far as the bytecode of
    the modules it imports goes: its version, its optimization level, and
    each folder of its path with the time it last changed (installing,
    upgrading or removing any package adds or removes entries of its
    C{site-packages})."""
    import json

    folders: dict[str, int] = {}
    for entry in sys.path:
        with contextlib.suppress(OSError):
            folders[entry] = os.stat(entry or os.curdir).st_mtime_ns
    return json.dumps(
        {"python": sys.version, "optimize": sys.flags.optimize, "path": folders},
        sort_keys=True,
    )
