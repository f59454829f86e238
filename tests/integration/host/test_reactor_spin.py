"""The gateway's reactor, spinning, on real epoll: a chain of quick hops
through a child process is caught by its polls, and timed calls, calls from
threads and a slow child's answers still come on time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.integration.gateway import REPO

pytestmark = pytest.mark.skipif(
    not hasattr(__import__("select"), "epoll"), reason="the gateway's reactor needs epoll"
)

_SCRIPT = textwrap.dedent(
    r"""
    import json, sys, time
    from mcpgateway.tuned import reactor as module
    reactor = module.install()
    from twisted.internet import protocol

    asked = {"spin": 0, "sleep": 0}
    poll = reactor._poller.poll
    def counted(timeout, maxevents):
        asked["spin" if timeout == 0 else "sleep"] += 1
        return poll(timeout, maxevents)
    reactor._poller = type("P", (), {"poll": staticmethod(counted),
                                     "register": reactor._poller.register,
                                     "unregister": reactor._poller.unregister,
                                     "modify": reactor._poller.modify,
                                     "close": reactor._poller.close,
                                     "fileno": reactor._poller.fileno})()
    reactor.spinBeforeWaiting(float(sys.argv[1]) / 1e6, lambda: True)
    CALLS = 2000
    out = {}

    class Echo(protocol.ProcessProtocol):
        sent = 0
        def connectionMade(self):
            self.started = time.monotonic()
            self.ping()
        def ping(self):
            self.sent += 1
            self.transport.write(b"%d\n" % self.sent)
        def outReceived(self, data):
            if self.sent < CALLS:
                self.ping()
            else:
                out["seconds"] = time.monotonic() - self.started
                self.transport.closeStdin()
        def processEnded(self, reason):
            timed = time.monotonic()
            def fired():
                out["timerLate"] = time.monotonic() - timed - 0.05
                reactor.callInThread(lambda: reactor.callFromThread(threaded))
            def threaded():
                out["fromThread"] = True
                reactor.stop()
            reactor.callLater(0.05, fired)

    child = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line); sys.stdout.flush()\n"
    reactor.spawnProcess(Echo(), sys.executable, [sys.executable, "-u", "-c", child], env=None)
    reactor.callLater(60, reactor.stop)
    reactor.run()
    out.update(asked)
    print(json.dumps(out))
    """
)


def run(spin: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(spin)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


LATE = 0.25
"""How late a 50 ms timer may fire: a loaded machine's scheduler delays any
process by tens of milliseconds, while a timer the spin starved waits for
the whole chain of hops or the 60 s stop."""


def test_a_chain_of_quick_hops_is_caught_by_polls_and_timers_keep_time() -> None:
    spinning = run(100)
    assert spinning["seconds"] > 0 and spinning.get("fromThread") is True
    assert 0 <= spinning["timerLate"] < LATE
    still = run(0)
    assert still["spin"] < 20  # only turns with timed calls due ask without waiting
    assert spinning["spin"] > 1000  # the child's answers were polled for
    assert still.get("fromThread") is True
    assert 0 <= still["timerLate"] < LATE
    assert still["sleep"] >= 2000  # asleep before each answer
