# -*- test-case-name: tests.core.tasks.test_store -*-
"""The tasks of one gateway, in memory and in C{<state-dir>/tasks.journal}.

A task's handle must not reach its client before the task is stored for
good (the Tasks extension: a C{tasks/get} right after the
C{CreateTaskResult} finds it, whatever happened in between). So each new
task's record is appended to the journal, one JSON line, and flushed to
the disk (C{fdatasync}) before its handle is returned; so is each change
that ends it (its result or error), so a finished task's result outlives a
crash. The changes in between (input asked, answers given) reach the
kernel only: a crash loses at most that the task was waiting, and a task
that was not over when its gateway went away is C{failed} in the next one,
with the reason, never run again behind its client's back
(L{TaskStore.load}).

The journal is rewritten with only the live tasks (atomically) when it
holds many more lines than tasks, and at each start. A task is forgotten
once its time to live is over; one whose result is larger than
C{maxResultBytes} keeps it in memory only (after a restart it is
C{failed}, saying so). Appending costs one C{write} (and one
C{fdatasync} at creation and end) of a few hundred bytes on the reactor
thread, as the session journal's (docs/guide/tasks.md has the figures).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from mcpgateway.core.tasks.model import FAILED, Task
from mcpgateway.runtime import logs
from mcpgateway.runtime.atomicfile import writeFileAtomic

JOURNAL_NAME = "tasks.journal"
MAX_JOURNAL_BYTES = 256 * 1024 * 1024
"""A journal larger than this is not read whole (its tail is lost)."""
_encoder = json.JSONEncoder(sort_keys=True, allow_nan=False, ensure_ascii=True)


class TaskStore:
    """Every task of the gateway, kept in its journal.

    @param path: the journal (C{None}: memory only, as in unit tests).
    @param now: the wall clock (tasks are dated with it).
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.tasks")

    def __init__(
        self,
        path: Path | None,
        maxResultBytes: int = 1024 * 1024,
        now: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.path = path
        self.maxResultBytes = maxResultBytes
        self._now = now if now is not None else time.time
        self._tasks: dict[str, Task] = {}
        self._lines = 0
        self.mayCompact = False
        """Whether appending may rewrite the journal: only once this process
        has read it (L{load}) and until it stops (a restart's predecessor
        and successor append to one journal while both run)."""
        self.writes = 0
        self.syncs = 0
        self.onChange: Callable[[Task], object] | None = None
        """Told each change L{update} keeps (the manager's watchers,
        L{mcpgateway.core.tasks.watching})."""
        self.onExpiry: Callable[[Task], object] | None = None
        """Told of each task whose time to live is over, just before it is
        forgotten (the manager ends one still running, so that its
        watchers hear its end)."""

    def now(self) -> float:
        """The wall clock tasks are dated with."""
        return self._now()

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def get(self, taskId: str) -> Task | None:
        """The task C{taskId}, unless its time to live is over."""
        task = self._tasks.get(taskId)
        if task is None:
            return None
        if task.expired(self._now()):
            self._lapse(task)
            return None
        return task

    def create(self, task: Task) -> bool:
        """Keep a new task, on the disk before this returns; whether it is
        kept there (a task the disk refused is still served from memory)."""
        self._tasks[task.taskId] = task
        return self._append(task.record(), durable=True)

    def update(self, task: Task) -> None:
        """Keep what changed of C{task}: to the disk (C{fdatasync}) when it
        is over, to the kernel otherwise."""
        task.lastUpdatedAt = self._now()
        record = task.record()
        if task.result is not None and _size(task.result) > self.maxResultBytes:
            record["result"] = None
            record["resultOmitted"] = True
        self._append(record, durable=task.terminal)
        if self.onChange is not None:
            self.onChange(task)

    def forget(self, task: Task) -> None:
        """Drop C{task} (its time to live is over)."""
        if self._tasks.pop(task.taskId, None) is not None:
            self._append({"forgotten": task.taskId}, durable=False)

    def expire(self) -> int:
        """Forget every task whose time to live is over; how many."""
        now = self._now()
        gone = [task for task in self._tasks.values() if task.expired(now)]
        for task in gone:
            self._lapse(task)
        return len(gone)

    def _lapse(self, task: Task) -> None:
        """Forget C{task}, whose time to live is over (L{onExpiry} first)."""
        if self.onExpiry is not None:
            self.onExpiry(task)
        self.forget(task)

    # -- the journal -------------------------------------------------------------

    def _append(self, record: dict[str, Any], durable: bool) -> bool:
        if self.path is None:
            return True
        line = _encoder.encode(record).encode("ascii") + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                if durable:
                    os.fdatasync(fd)
                    self.syncs += 1
            finally:
                os.close(fd)
        except OSError as e:
            self.log.warn(
                "task journal {path}: cannot append ({why}); the task lives in memory only",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return False
        self.writes += 1
        self._lines += 1
        if self.mayCompact and self._lines > 2 * len(self._tasks) + 1000:
            self.compact()
        return True

    def load(self, why: str) -> int:
        """Read the journal (at start): the tasks still alive, a task that
        was not over C{failed} with C{why}; then rewrite it with those only.
        The tasks this process made before (a restart's successor reads the
        journal once its predecessor has exited) are kept as they are. How
        many tasks it holds then."""
        data = self._read()
        if data is None:
            self.mayCompact = True
            return len(self._tasks)
        mine = dict(self._tasks)  # made by this process before the load: kept as they are
        skipped = self._replay(data)
        if skipped:
            self.log.warn(
                "task journal {path}: {count} line(s) skipped (not a whole record)",
                path=str(self.path),
                count=skipped,
            )
        self._tasks.update(mine)
        now = self._now()
        for task in list(self._tasks.values()):
            if task.taskId in mine:
                continue
            if task.expired(now):
                del self._tasks[task.taskId]
            elif not task.terminal:
                task.status, task.statusMessage = FAILED, why
                task.error = {"code": -32603, "message": why}
                task.inputRequests, task.requestState, task.answered = None, None, {}
                task.lastUpdatedAt = now
        self.compact()
        self.mayCompact = True
        return len(self._tasks)

    def readOnly(self) -> int:
        """Read the journal as it stands, for a reader that never writes it
        (another replica's: L{mcpgateway.core.tasks.archive}); the store
        then forgets its path, so nothing is ever written back. How many
        tasks it holds."""
        data = self._read()
        self.path = None
        if data is not None:
            self._replay(data)
        return len(self._tasks)

    def _read(self) -> bytes | None:
        if self.path is None:
            return None
        try:
            with self.path.open("rb") as f:
                return f.read(MAX_JOURNAL_BYTES)
        except FileNotFoundError:
            return None
        except OSError as e:
            self.log.warn(
                "task journal {path}: cannot be read ({why}); its tasks are lost",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return None

    def _replay(self, data: bytes) -> int:
        skipped = 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                skipped += 1
                continue
            if isinstance(entry, dict) and set(entry) == {"forgotten"}:
                self._tasks.pop(str(entry["forgotten"]), None)
                continue
            task = Task.fromRecord(entry)
            if task is None:
                skipped += 1
                continue
            if isinstance(entry, dict) and entry.get("resultOmitted"):
                task.status = FAILED
                task.statusMessage = task.statusMessage or (
                    "its result was larger than the gateway keeps across a restart"
                )
                task.error = {"code": -32603, "message": task.statusMessage}
            self._tasks[task.taskId] = task
        return skipped

    def compact(self) -> None:
        """Rewrite the journal with the live tasks only (atomically)."""
        if self.path is None:
            return
        lines = []
        for task in self._tasks.values():
            record = task.record()
            if task.result is not None and _size(task.result) > self.maxResultBytes:
                record["result"] = None
                record["resultOmitted"] = True
            lines.append(_encoder.encode(record).encode("ascii") + b"\n")
        try:
            writeFileAtomic(self.path, b"".join(lines))
        except OSError as e:
            self.log.warn(
                "task journal {path}: cannot be rewritten ({why})",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return
        self._lines = len(lines)


def _size(value: Any) -> int:
    return len(_encoder.encode(value))
