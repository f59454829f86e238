#!/usr/bin/env python3
"""Run the gateway's ``twist`` with a profiler.

Usage: twist_wrapper.py [--profile OUTFILE] [twist arguments...]

--profile: cProfile with its default (wall-clock) timer, the one with the
least overhead; time spent waiting shows up as ``select.epoll.poll`` and the
benchmark leaves it out of its per-file shares. The profiler is off at start:
PROFILE_ON (SIGRTMIN) turns it on, PROFILE_OFF (SIGRTMIN+1) off, so the
benchmark profiles exactly the measured window (set MCPGATEWAY_PROFILE_ALL=1
to profile from the start). Not SIGUSR1/2: the gateway restarts on SIGUSR2
(mcpgateway/ops/handover.py), which would start a successor in the middle of
the benchmark and leave the profiler on.
Why not ``python -m cProfile -m twisted ...``: on SIGTERM, twist stops the
reactor and then re-raises the signal on itself (so the exit status says how
it ended), which kills the process before cProfile writes anything. This
wrapper writes the profile first.
"""

from __future__ import annotations

import os
import signal
import sys

PROFILE_ON = signal.SIGRTMIN
PROFILE_OFF = signal.SIGRTMIN + 1


def main() -> None:
    argv = sys.argv[1:]
    profileOut = None
    if argv[:1] == ["--profile"]:
        profileOut, argv = argv[1], argv[2:]

    from twisted.application.twist import _twist

    if profileOut is None:
        _twist.Twist.main(["twist", *argv])
        return

    import cProfile
    import signal

    profiler = cProfile.Profile()
    written = []

    def dump() -> None:
        if not written:
            written.append(True)
            profiler.disable()
            profiler.dump_stats(profileOut)

    exitWithSignal = _twist._exitWithSignal

    def dumpThenExit(sig: int) -> None:
        dump()
        exitWithSignal(sig)

    _twist._exitWithSignal = dumpThenExit
    signal.signal(PROFILE_ON, lambda *_: profiler.enable())
    signal.signal(PROFILE_OFF, lambda *_: profiler.disable())
    if os.environ.get("MCPGATEWAY_PROFILE_ALL") == "1":
        profiler.enable()
    try:
        _twist.Twist.main(["twist", *argv])
    finally:
        dump()


if __name__ == "__main__":
    main()
