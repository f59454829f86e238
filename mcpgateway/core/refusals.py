# -*- test-case-name: tests.core.test_refusals -*-
"""What the sandbox likely refused a confined child's tool calls, read off
their error results.

A confined server refused a file or the network often does not fail: it
answers the call with an error (C{isError}, or a JSON-RPC error) whose text
has the refusal in the server's own words (C{EROFS: read-only file system,
open '/x'}), which would otherwise reach the caller and nobody else. The
router hands each answer of a confined child to its L{RefusalCheck}
(L{mcpgateway.core.router.Router.resultCheck}). Of an ordinary answer the
check looks at the method and C{isError} only; it reads an answer to a
tool call (or a task's result) that is an error (L{looksRefused}): the
first L{SCAN_LIMIT} characters of its text, line by line, as a child's
stderr is read (L{mcpgateway.sandbox.failures}). Each refusal found goes
to the server's record (L{mcpgateway.core.stats.RequestStats.refused}:
its status, C{/health}'s C{sandboxRefusals}, C{mcpgateway status} and
C{doctor}, the console) and is logged once per server and path.

A file not found outside the home may be the sandbox's doing (it is not in
the child's view) or may not exist at all: the check looks for it (or, for
a write, its directory) on this machine, off the reactor's thread, and
tells it only when it is there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.sandbox import failures

RESULTS = frozenset({"tools/call", "tasks/result"})
"""The methods whose answers carry a tool's result (a call's, or a task's
once it is over): the answers read, when they are errors."""
SCAN_LIMIT = 4096
"""The most characters of an answer's text read."""
MAX_LINES = 32
"""The most lines of it read."""
MAX_CONTENT = 16
"""The most content items of a result read."""
MAX_LOOKED = 64
"""The most paths one child's check looks for on this machine."""
LIKELY = "a tool call failed, likely because of the sandbox: "
"""How a refusal read off a tool's result starts: the result is the
server's, so the sandbox is the likely cause, not a sure one."""

Record = Callable[[str, str], None]
"""Takes a refusal: what it is known by (its path) and its line."""


def looksRefused(message: Message) -> bool:
    """Whether a child's answer is an error that may carry a refusal: a
    JSON-RPC error, or a result with C{"isError": true}."""
    if "error" in message:
        return True
    result = message.get("result")
    return type(result) is dict and result.get("isError") is True


def errorText(message: Message, limit: int = SCAN_LIMIT) -> str:
    """The text of an error answer (L{looksRefused}): a JSON-RPC error's
    message and string data, a result's text contents, at most C{limit}
    characters (each part cut before it is joined)."""
    parts: list[str] = []
    left = limit

    def add(value: Any) -> None:
        nonlocal left
        if isinstance(value, str) and left > 0:
            parts.append(value[:left])
            left -= len(parts[-1]) + 1

    error = message.get("error")
    if isinstance(error, dict):
        add(error.get("message"))
        add(error.get("data"))
    result = message.get("result")
    content = result.get("content") if isinstance(result, dict) else None
    if isinstance(content, list):
        for item in content[:MAX_CONTENT]:
            if isinstance(item, dict) and item.get("type") == "text":
                add(item.get("text"))
    return "\n".join(parts)


def _found(path: str, writes: bool) -> str | None:
    """C{path} if it exists here, else (for a write) its directory if that
    does, else C{None} (blocking: in a thread)."""
    if os.path.lexists(path):
        return path
    directory = os.path.dirname(path)
    if writes and directory not in ("", "/") and os.path.isdir(directory):
        return directory
    return None


class RefusalCheck:
    """Reads the error answers of one confined child (see the module)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        server: str,
        explain: Callable[[str], str | None],
        home: str,
        record: Record,
        runInThread: RunInThread | None = None,
        found: Callable[[str, bool], str | None] = _found,
    ) -> None:
        """
        @param explain: what the sandbox refused in one line, and the key
            that allows it (the child's own reading of its stderr,
            L{mcpgateway.core.spawn.Confiner.explain}).
        @param home: the child's home directory.
        @param record: takes each refusal found (the server's record).
        @param runInThread: looks for a file not found on this machine,
            off the reactor; C{None}: such a file is not told.
        @param found: the look itself (blocking).
        """
        self.server = server
        self._explain = explain
        self._home = home
        self._record = record
        self._runInThread = runInThread
        self._foundHere = found
        self._looked: set[str] = set()
        self.scans = 0
        """Answers read so far."""

    def __call__(self, method: str, message: Message) -> None:
        """The child answered a request of C{method} with C{message}: read
        it if it is a tool's result that is an error (L{RESULTS},
        L{looksRefused}); never raises (the answer goes on to its client
        whatever happens here)."""
        if method not in RESULTS or not looksRefused(message):
            return
        self.scans += 1
        try:
            self._read(message)
        except Exception:
            self.log.failure(
                "server {server}: reading a tool's error result failed", server=self.server
            )

    def _read(self, message: Message) -> None:
        for line in errorText(message).splitlines()[:MAX_LINES]:
            note = self._explain(line)
            if note is not None:
                self._record(failures.deniedPath(line) or note, LIKELY + note)
                continue
            unseen = failures.unseenPath(line, self._home)
            if unseen is not None:
                self._lookFor(*unseen)

    def _lookFor(self, path: str, writes: bool) -> None:
        """Tell a file not found in the sandbox if it exists here (each
        path looked for once, L{MAX_LOOKED} at most)."""
        if self._runInThread is None or path in self._looked or len(self._looked) >= MAX_LOOKED:
            return
        self._looked.add(path)
        looking = self._runInThread(self._foundHere, path, writes)
        looking.addCallback(self._sawHere, path, writes)
        looking.addErrback(self._lookFailed, path)

    def _sawHere(self, found: str | None, path: str, writes: bool) -> None:
        if found is not None:
            note = failures.unseenNote(path, writes, found, self._home)
            self._record(path, LIKELY + note)

    def _lookFailed(self, failure: Failure, path: str) -> None:
        self.log.failure(
            "server {server}: looking for {path} on this machine failed",
            failure,
            server=self.server,
            path=path,
        )
