# -*- test-case-name: tests.runtime.test_threads -*-
"""Work off the reactor thread: the one shape of a thread runner, and jobs
run in order.

A L{RunInThread} is what the wiring hands every part that blocks (a file
written and synced, a process table read, a token file hashed):
C{deferToThreadPool} on the reactor's own thread pool
(L{mcpgateway.startup.process.threadRunner}), never the global reactor's.
The unit tests hand in one they drive by hand, or L{runInline}.

L{SerialJobs} runs jobs through a runner one at a time, in the order they
were given: the writes of one file never overtake each other, however many
threads the pool has. A job given a I{key} stands for the one of that key
still waiting (never the one running): that one is dropped, and whoever
waited for it is told when its successor has run. The sessions file is
written this way (L{mcpgateway.ops.sessionstore}): while one save runs, the
next ones become one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

T = TypeVar("T")

RunInThread = Callable[..., "Deferred[Any]"]
"""Runs C{f(*args)} in a worker thread (C{deferToThreadPool} on the
reactor's own pool); the Deferred fires, on the reactor thread, with its
value or its exception."""


def runInline(f: Callable[..., T], *args: Any) -> Deferred[T]:
    """A L{RunInThread} that runs C{f} at once, on the calling thread: for a
    program or a test with no reactor to hand the result back."""
    try:
        return succeed(f(*args))
    except Exception:
        return fail()


class _Job:
    __slots__ = ("key", "waiters", "work")

    def __init__(self, work: Callable[[], Any], key: Hashable | None) -> None:
        self.work = work
        self.key = key
        self.waiters: list[Deferred[Any]] = []


class SerialJobs:
    """Jobs run through a L{RunInThread} one at a time, in order (see the
    module docstring)."""

    def __init__(self, runInThread: RunInThread) -> None:
        self._runInThread = runInThread
        self._waiting: deque[_Job] = deque()
        self._running: _Job | None = None
        self._idle: list[Deferred[None]] = []

    @property
    def busy(self) -> bool:
        """Whether a job runs or waits."""
        return self._running is not None or bool(self._waiting)

    def run(self, work: Callable[[], T], key: Hashable | None = None) -> Deferred[T]:
        """Run C{work()} once every job given before has run; a Deferred of
        its value (or its exception).

        @param key: C{work} replaces the job of this key still waiting, if
            any, and goes last: the Deferred of the job replaced fires with
            C{work}'s outcome. C{None}: it replaces nothing, and nothing
            replaces it."""
        done: Deferred[T] = Deferred()
        job = _Job(work, key)
        if key is not None:
            for older in self._waiting:
                if older.key == key:
                    self._waiting.remove(older)
                    job.waiters = older.waiters
                    break
        job.waiters.append(done)
        self._waiting.append(job)
        self._next()
        return done

    def idle(self) -> Deferred[None]:
        """A Deferred that fires once no job runs or waits (at once if none
        does): every job given so far has run."""
        if not self.busy:
            return succeed(None)
        waiting: Deferred[None] = Deferred()
        self._idle.append(waiting)
        return waiting

    def _next(self) -> None:
        if self._running is not None:
            return
        if not self._waiting:
            idle, self._idle = self._idle, []
            for each in idle:
                each.callback(None)
            return
        job = self._running = self._waiting.popleft()
        try:
            running = self._runInThread(job.work)
        except Exception:
            running = fail()
        running.addBoth(self._ran, job)

    def _ran(self, outcome: object, job: _Job) -> None:
        self._running = None
        for each in job.waiters:
            if isinstance(outcome, Failure):
                each.errback(outcome)
            else:
                each.callback(outcome)
        self._next()
