# -*- test-case-name: tests.core.tasks.test_archive -*-
"""Other replicas' tasks, read from their journals in a shared task directory.

One job: when a C{tasks/get} reaches a cluster replica for a task another
replica made, and that replica cannot be reached (its request could not be
forwarded), answer from the owner's journal, when the replicas keep their
journals in one directory they all mount (C{--task-dir}, docs/guide/tasks.md).
Each replica writes only its own journal (C{tasks-<replica-id>.journal});
the others read it, never write it. A finished task is served from it as
its owner would; an unfinished one shows what its owner last wrote (its
owner may be only unreachable for a moment, so it is not declared failed
here: the owner does that when it starts again with its journal).

A journal is read again only when its file changed (inode, size or
modification time): a miss costs one C{stat}.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mcpgateway.core.tasks.model import Task
from mcpgateway.core.tasks.store import TaskStore

LabelOf = Callable[[str, str, str, str], str | None]
"""The owner label a task id seals for (id, server, route, principal), or C{None}."""


def journalName(replica: str | None) -> str:
    """The file a replica's journal is kept in: C{tasks.journal} for a
    single gateway, C{tasks-<replica-id>.journal} on a cluster replica (so
    that replicas may share the directory)."""
    return "tasks.journal" if replica is None else f"tasks-{replica}.journal"


class PeerJournal:
    """One other replica's journal, read-only, read again when it changes."""

    def __init__(self, path: Path, now: Callable[[], float]) -> None:
        self.path = path
        self._now = now
        self._seen: tuple[int, int, int] | None = None
        self._store = TaskStore(None, now=now)
        self.reads = 0

    def get(self, taskId: str) -> Task | None:
        """The task as the journal last says, unless its time to live is over."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen != self._seen:
            store = TaskStore(self.path, now=self._now)
            store.readOnly()
            self._store, self._seen = store, seen
            self.reads += 1
        return self._store.get(taskId)


class TaskArchive:
    """The shared task directory's other journals, for a replica's misses."""

    def __init__(
        self, directory: Path, ownLabel: str, labelOf: LabelOf, now: Callable[[], float]
    ) -> None:
        """
        @param directory: where every replica keeps its journal.
        @param ownLabel: this replica's label (its own journal is never read here).
        @param labelOf: opens a sealed task id (L{mcpgateway.cluster.taskids}).
        """
        self._directory = directory
        self._ownLabel = ownLabel
        self._labelOf = labelOf
        self._now = now
        self._journals: dict[str, PeerJournal] = {}

    def find(self, taskId: str, server: str, scope: str, principal: str) -> Task | None:
        """The task C{taskId} of another replica, when its id opens for this
        server, route and principal and its owner's journal holds it."""
        label = self._labelOf(taskId, server, scope, principal)
        if label is None or label == self._ownLabel:
            return None
        journal = self._journals.get(label)
        if journal is None:
            path = self._directory / journalName(label)
            journal = self._journals[label] = PeerJournal(path, self._now)
        task = journal.get(taskId)
        if task is None or (task.server, task.scope, task.principal) != (server, scope, principal):
            return None
        return task
