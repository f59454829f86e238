# -*- test-case-name: tests.ops.test_lateanswers -*-
"""A client's answer to a request a restart's predecessor sent it, which
reaches the successor: passed back over the hand-over link to the process
that asked (L{mcpgateway.ops.handover}).

A child asks a client something (C{sampling/createMessage},
C{elicitation/create}, C{roots/list}) while a call of that client runs; a
person may take seconds to answer. A restart meanwhile leaves the call,
its stream and the child with the old process until the call ends (its
connection is open), but the client POSTs its answer on a new connection,
which the successor accepts. Only the old process knows the request the
answer is for (its id, the child's own id, the session it was asked of),
so the successor passes the answer back (L{AnswerPassing}), and the old
process gives it to the session it names as if the client had sent it
there (L{AnswerTaking}): the child gets its answer, the call its result on
its stream, and the child, with nothing in flight any more, moves to the
successor with the others.

The successor passes an answer back only while the children have not
come from the old process: every child start is held until then
(L{mcpgateway.ops.childhandover.ChildAdoption}), so no child of its own
can have asked a client anything, and every answer of a session restored
from the old process is that process's. Once the children have come, the
old process has no connection left to answer on, and nothing is passed.
The old process checks the session the answer names against its own (its
id, its server, route and principal) and gives the answer to that
session's request only (L{mcpgateway.core.childasks.ChildAsks}): an answer
is never taken for another session's.

On the link, from the successor, each line is either a word of the
hand-over (C{listening}, C{adopted}, C{stop}) or C{answer} and one JSON
object (L{encodeAnswer}); L{SuccessorWords} reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from twisted.logger import Logger

from mcpgateway.core.sessions import shortId
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

ANSWER = b"answer "
"""How a line that carries a client's answer starts."""
MAX_LINE = 64 * 1024 * 1024
"""The longest line read from the link, in bytes (an answer with an image
fits): a longer one is skipped whole."""
NAMES = ("server", "scope", "principal")
"""What of the session an answer names must be the same in the old process."""

log = Logger(observer=logs.observer, namespace="mcpgateway.ops.lateanswers")


def encodeAnswer(session: Any, message: Message) -> bytes | None:
    """The line that passes C{session}'s answer C{message} back (C{None}:
    it is over L{MAX_LINE})."""
    record = {"session": session.id, "message": message}
    record.update((name, getattr(session, name, "")) for name in NAMES)
    line = ANSWER + json.dumps(record, separators=(",", ":")).encode() + b"\n"
    return line if len(line) <= MAX_LINE else None


class SuccessorWords:
    """Reads what a successor writes on the link, one line at a time: each
    word of the hand-over goes to C{said} (with its newline), each answer's
    record to C{answered}. A line that is not whole JSON after C{answer} is
    dropped with one log line; the stream goes on."""

    def __init__(
        self, said: Callable[[bytes], None], answered: Callable[[dict[str, Any]], None]
    ) -> None:
        self._said = said
        self._answered = answered
        self._buffer = b""
        self._skipping = False
        """Whether the rest of an overlong line is still to come."""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            line, newline, rest = self._buffer.partition(b"\n")
            if not newline:
                if len(self._buffer) > MAX_LINE:
                    self._buffer, self._skipping = b"", True
                return
            self._buffer = rest
            if self._skipping:
                self._skipping = False
            elif line.startswith(ANSWER):
                self._answer(line[len(ANSWER) :])
            else:
                self._said(line + b"\n")

    def _answer(self, body: bytes) -> None:
        try:
            record = json.loads(body)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            log.warn("restart: the next process passed back an answer that is not JSON; dropped")
            return
        self._answered(record)


class SuccessorLink(Protocol):
    """The successor's end of the hand-over link (L{mcpgateway.ops.handover.Successor})."""

    @property
    def predecessorPid(self) -> int: ...

    def tell(self, data: bytes) -> bool:
        """Write C{data} to the predecessor; whether the link was up."""
        ...


class Holding(Protocol):
    """What says whether the predecessor's children have come
    (L{mcpgateway.ops.childhandover.ChildAdoption})."""

    @property
    def holding(self) -> bool: ...


class AnswerPassing:
    """In a restart's successor: passes a client's answer back to the
    predecessor, which asked the question (see the module docstring); the
    gateway's C{answersElsewhere} while the hand-over is under way."""

    def __init__(self, link: SuccessorLink, adoption: Holding) -> None:
        self._link = link
        self._adoption = adoption

    def takes(self, session: Any, message: Message) -> bool:
        """Pass C{session}'s answer C{message} back, when it is the
        predecessor's: the session was restored from its sessions, and its
        children have not come; whether it was passed back."""
        restored = getattr(session, "restored", False) and not getattr(session, "visiting", False)
        if not restored or not self._adoption.holding:
            return False
        line = encodeAnswer(session, message)
        if line is None or not self._link.tell(line):
            return False
        log.info(
            "restart: session {sid} answered request id {id!r} of the previous process (pid"
            " {pid}); passed back to it",
            sid=shortId(session.id),
            id=message.get("id"),
            pid=self._link.predecessorPid,
        )
        return True


class Answering(Protocol):
    """What takes a client's answer for one endpoint's sessions
    (L{mcpgateway.web.endpoints.backends.Backend})."""

    def answer(self, session: Any, message: Message) -> bool: ...


class AnswerTaking:
    """In a restart's predecessor: gives each answer the successor passes
    back to the session it names, through that session's endpoint, as if
    its client had sent it here (see the module docstring)."""

    def __init__(
        self,
        sessions: Callable[[str], Any],
        backendOf: Callable[[Any], Answering | None],
    ) -> None:
        """
        @param sessions: this process's session of an id, or C{None}.
        @param backendOf: what serves a session's endpoint, or C{None}.
        """
        self._sessions = sessions
        self._backendOf = backendOf

    def take(self, record: dict[str, Any]) -> None:
        sessionId, message = record.get("session"), record.get("message")
        session = self._sessions(sessionId) if isinstance(sessionId, str) else None
        if (
            session is None
            or not isinstance(message, dict)
            or jsonrpc.classify(message) is not jsonrpc.Kind.RESPONSE
            or any(getattr(session, name, None) != record.get(name) for name in NAMES)
        ):
            log.warn(
                "restart: an answer the next process passed back is not one of a session"
                " of this process; dropped"
            )
            return
        backend = self._backendOf(session)
        if backend is None:
            log.warn(
                "restart: session {sid}'s answer passed back by the next process has no"
                " endpoint here any more; dropped",
                sid=shortId(session.id),
            )
            return
        if backend.answer(session, message):
            log.info(
                "restart: session {sid}'s answer to request id {id!r}, passed back by the next"
                " process, goes to the server that asked it",
                sid=shortId(session.id),
                id=message.get("id"),
            )
