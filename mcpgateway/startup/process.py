# -*- test-case-name: tests.startup.test_tap -*-
"""What the wiring needs to know of the process it runs in: which runner
started it (twistd, twist, the C{.tac}), how a refusal at start ends it
(one line, exit 1, before anything listens), and how work is run in
Twisted's thread pool.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorThreads


def runnerName() -> str:
    """The runner this process was started as, to name in a pointer to the
    help: C{twist} (also as C{python -m twisted}) or C{twistd}."""
    program = sys.argv[0] if sys.argv else ""
    if os.path.basename(program) == "twist" or program.endswith(
        os.path.join("twisted", "__main__.py")
    ):
        return "twist"
    return "twistd"


def refuse(message: str) -> NoReturn:
    """Stop before starting, with one line and exit status 1."""
    sys.stderr.write(f"mcpgateway: {message}\n")
    raise SystemExit(1)


def threadRunner(reactor: IReactorThreads) -> RunInThread:
    """C{deferToThread} on C{reactor}'s own thread pool (never the global
    reactor's), looked up when first used: after daemonizing."""
    from twisted.internet.threads import deferToThreadPool

    def runInThread(f: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)

    return runInThread
