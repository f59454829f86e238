# -*- test-case-name: tests.core.tasks.test_store -*-
"""The tasks' service: reads the journal when the gateway starts (after
daemonizing), forgets the tasks whose time to live is over, once a minute
(L{Every}, on the clock it is given), and, when the gateway stops, tells
the manager why the calls still running will end (L{CUT_BY_RESTART}).

It stops before the gateway's service (it is started after it): the calls
of running tasks may still finish while the gateway drains, and keep
their result; those the stop cuts are failed with that reason, as a crash
would have them failed at the next start."""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.tasks.manager import LOAD_WAIT, TaskManager
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every

EXPIRE_EVERY = 60.0
"""Seconds between two looks for expired tasks."""
CUT_BY_RESTART = "the gateway stopped while the task ran; its call was cut and is not run again"
"""Why a task that was not over when its gateway stopped is failed."""


class TaskKeeping(Service):
    """Loads the tasks at start and expires them while the gateway runs."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.tasks")

    def __init__(
        self,
        manager: TaskManager,
        clock: IReactorTime,
        predecessor: Deferred[None] | None = None,
        wait: float = LOAD_WAIT,
    ) -> None:
        """
        @param predecessor: fires when a restart's predecessor has exited
            (C{None}: no predecessor). Until then it may still finish (or
            cut) tasks and write them to the journal, so the journal is read
            then, and C{tasks/*} requests (and search mode's C{get_result})
            wait for it.
        @param wait: seconds a request waits for that at most (the time a
            predecessor may take to exit, and a margin); past it, a task
            not known yet is answered as not read yet, never as unknown.
        """
        self.manager = manager
        self.store = manager.store
        self._predecessor = predecessor
        self._wait = wait
        self._loop = Every(clock, EXPIRE_EVERY, manager.expire)

    def startService(self) -> None:
        super().startService()
        if self._predecessor is None:
            self._load()
        else:
            self.manager.holdUntilLoaded(self._wait)
            self._predecessor.addBoth(self._afterPredecessor)
        self._loop.start()

    def _afterPredecessor(self, result: object) -> object:
        self._load()
        return result  # the Deferred is shared: what it carries goes on

    def _load(self) -> None:
        count = self.store.load(CUT_BY_RESTART)
        self.manager.loaded()
        if count:
            self.log.info("tasks: {count} kept from before the start", count=count)

    def stopService(self) -> None:
        if self._loop.running:
            self._loop.stop()
        self.manager.stopping = CUT_BY_RESTART
        self.store.mayCompact = False  # a successor may be appending to it already
        super().stopService()
