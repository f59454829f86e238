"""The restart on C{SIGUSR2}: its signal is the gateway's from the start,
its predecessor made at the first signal, on the reactor thread."""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.testing import MemoryReactorClock

from mcpgateway.ops import handover
from mcpgateway.startup.handoverwiring import RESTART_SIGNAL, RestartOnSignal


class Restarts:
    """A predecessor that counts its restarts."""

    def __init__(self) -> None:
        self.restarts = 0

    def restart(self) -> bool:
        self.restarts += 1
        return True


class ThreadCalls(MemoryReactorClock):
    """A reactor that runs what is called from a thread at once."""

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)


def test_the_predecessor_is_made_at_the_first_signal_and_kept() -> None:
    handlers: dict[int, Any] = {}

    def install(signum: int, handler: Any) -> Any:
        previous, handlers[signum] = handlers.get(signum, "before"), handler
        return previous

    made: list[Restarts] = []

    def make() -> Any:
        made.append(Restarts())
        return made[-1]

    restarter = RestartOnSignal(cast(Any, ThreadCalls()), make, installSignal=install)
    restarter.startService()
    assert made == [] and restarter.predecessor is None  # nothing loaded before a restart
    handlers[RESTART_SIGNAL](RESTART_SIGNAL, None)
    handlers[RESTART_SIGNAL](RESTART_SIGNAL, None)
    assert [predecessor.restarts for predecessor in made] == [2]
    assert restarter.predecessor is made[0]
    restarter.stopService()
    assert handlers[RESTART_SIGNAL] == "before"


def test_the_signal_is_the_one_the_restart_sends() -> None:
    assert RESTART_SIGNAL == handover.RESTART_SIGNAL
