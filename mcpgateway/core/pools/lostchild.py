# -*- test-case-name: tests.core.pools.test_lostchild -*-
"""Telling a session, once, that its child was started anew:
L{LostChildNotices}.

A child whose pipes the gateway lost (a stop and a start, a crash, a
reboot, a child a restart could not hand over, a session's child that
exited, a shared child that exited or was stopped while the gateway runs)
is started anew, and what it held in memory for the session is
gone: a browser's pages, a REPL's variables. The gateway replays the
session's C{initialize}, so the client's session id keeps working and
nothing else would tell it. The session's next answer says so: a
C{notifications/message} at level C{warning} (logger C{mcpgateway}) goes
first, on that answer's stream (else on the session's GET stream), unless
the session's C{logging/setLevel} asked for fewer; and the answer's result
carries C{_meta} L{NOTICE_KEY}. Once per child started anew: the notice is
taken by the first answer that has a result (an error answer leaves it for
the next).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.exchange import Sink
from mcpgateway.core.sessions import SessionLike
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS

NOTICE_KEY = "mcpgateway/childRestarted"
"""The C{_meta} key of the first result after a session's child was
started anew (its value: C{true})."""

_WARNING = LOG_LEVELS.index("warning")


class LostChildNotices:
    """The sessions of one server whose child was started anew and that
    were not told yet (by session id: why, for the notice's text)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self._untold: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._untold)

    def __contains__(self, session: SessionLike) -> bool:
        return session.id in self._untold

    def mark(self, session: SessionLike, why: str) -> None:
        """C{session}'s child was started anew (C{why}): its next answer says so."""
        self._untold[session.id] = why

    def lost(self, served: Iterable[SessionLike], why: str) -> None:
        """A shared child that C{served} these sessions was let go of
        (C{why}: it exited, or the gateway stopped it): what it held of
        them is gone, whatever child serves them next."""
        for session in served:
            self.mark(session, f"its shared child {why}")

    def forget(self, session: SessionLike) -> None:
        """Nothing to tell C{session} (it ended, or its child was kept)."""
        self._untold.pop(session.id, None)

    def told(
        self, answer: Deferred[jsonrpc.Message], session: SessionLike, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """C{answer}, telling C{session} first if it is to be told."""
        if session.id not in self._untold:
            return answer
        return answer.addCallback(self.tell, session, related)

    def tell(
        self, answer: jsonrpc.Message, session: SessionLike, related: Sink | None
    ) -> jsonrpc.Message:
        """C{answer} as C{session} gets it: with the notice, if it has one
        pending and C{answer} has a result."""
        result = answer.get("result")
        why = self._untold.get(session.id)
        if why is None or not isinstance(result, dict):
            return answer
        del self._untold[session.id]
        level = session.logLevel
        if level not in LOG_LEVELS or LOG_LEVELS.index(level) <= _WARNING:
            notice = self.notice(why)
            if related is None or not related(notice):
                session.deliver(notice)
        meta = result.get("_meta")
        flagged: dict[str, Any] = {**(meta if isinstance(meta, dict) else {}), NOTICE_KEY: True}
        return {**answer, "result": {**result, "_meta": flagged}}

    def notice(self, why: str) -> jsonrpc.Message:
        """The warning a session gets."""
        text = (
            f"server '{self.server}': the child serving this session was started anew ({why});"
            " what the previous child held in memory for this session is lost"
        )
        return jsonrpc.notification(
            "notifications/message", {"level": "warning", "logger": "mcpgateway", "data": text}
        )
