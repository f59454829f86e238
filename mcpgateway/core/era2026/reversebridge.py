# -*- test-case-name: tests.core.era2026.test_era2026child -*-
"""The reverse bridge of a 2026-only child: its questions, asked of a handshake session.

A 2026-07-28 server sends no requests: when it needs a client's input
during a C{tools/call}, C{prompts/get} or C{resources/read}, it answers
with an C{InputRequiredResult} (C{inputRequests} under keys, a
C{requestState}) and expects the call again with C{inputResponses}. A
handshake session knows nothing of rounds: it answers requests of its
child on the stream of its call. A L{ReverseBridge} (one per
L{Era2026ChildAdapter<mcpgateway.core.era2026.child.Era2026ChildAdapter>},
which feeds it what concerns a bridged call) makes the one into the other:

 - each C{inputRequests} entry becomes a real request of the child to the
   session, fed to the router with the L{childhints.HINT_RELATED} hint (so
   it goes on that very call's stream); a URL elicitation gets an
   C{elicitationId}, a form elicitation loses C{mode} for a session older
   than 2025-11-25;
 - the session's answers are caught on their way to the child; once all
   are in, the call goes to the child again under a new id with the params
   it first had, the answers as C{inputResponses} and the child's
   C{requestState}, and the session's request is answered with what that
   retry brings (at most L{MAX_ROUNDS} rounds, then -32603). A result that
   asks nothing but carries a C{requestState} is retried after a back-off
   (L{STATE_ONLY_DELAY}, doubling up to L{STATE_ONLY_MAX_DELAY});
 - a client's error answer fails the call with that error
   (C{inputResponses} cannot carry one) and withdraws the questions still
   open; the session's cancel withdraws them too and cancels a retry in
   flight on the child.

The bridge knows its adapter only through the callables it is handed
(writing to the child, naming an id, making an envelope, delivering a final
answer), so that the adapter holds the bridge and never the other way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from mcpgateway.core.era2026.translate import withEnvelope
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import SessionLike
from mcpgateway.protocol import childhints, era2026form, jsonrpc
from mcpgateway.protocol.jsonrpc import Message

__all__ = ["MAX_ROUNDS", "STATE_ONLY_DELAY", "STATE_ONLY_MAX_DELAY", "ReverseBridge"]

MAX_ROUNDS = 10
"""C{InputRequiredResult}s one handshake call may go through (more: -32603)."""
STATE_ONLY_DELAY = 0.05
"""Seconds before retrying an C{InputRequiredResult} that asks nothing (doubling)."""
STATE_ONLY_MAX_DELAY = 0.25
INPUT_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
"""What an C{inputRequests} entry may ask of a client."""


class _Bridged:
    """A handshake session's call that the child answered with an
    C{InputRequiredResult}: its rounds, from the first to the final answer."""

    __slots__ = (
        "answers",
        "asking",
        "childId",
        "current",
        "method",
        "params",
        "rounds",
        "session",
        "state",
        "stateOnly",
        "timer",
    )

    def __init__(
        self, childId: int, method: str, params: dict[str, Any], session: SessionLike | None
    ) -> None:
        self.childId = childId
        """The router's id of the call (the session's request)."""
        self.method = method
        self.params = params
        """The params as the child got them first (envelope included)."""
        self.session = session
        self.rounds = 0
        self.current: Any = None
        """The id of the child request in flight for it (C{None}: none, the
        client is being asked)."""
        self.asking: dict[str, str] = {}
        """The ids of the requests to the client not yet answered, to their keys."""
        self.answers: dict[str, Any] = {}
        self.state: str | None = None
        self.stateOnly = 0
        """State-only rounds in a row (for the retry back-off)."""
        self.timer: IDelayedCall | None = None


class ReverseBridge:
    """The reverse bridge of one 2026-only child process.

    @ivar inputRounds: C{InputRequiredResult}s bridged to handshake sessions.
    """

    def __init__(
        self,
        router: Router,
        clock: IReactorTime,
        write: Callable[[Message], None],
        nextId: Callable[[str], str],
        envelope: Callable[[SessionLike | None], dict[str, Any]],
        deliver: Callable[[int, str, Message], None],
    ) -> None:
        """
        @param router: the child's router (the questions and failures go to it).
        @param write: writes one message to the child (nothing once it is gone).
        @param nextId: a fresh id of the adapter's own, for a kind of request.
        @param envelope: the C{_meta} envelope of a request made for a session.
        @param deliver: hands the router the final answer of a bridged call
            (the router's id of the call, its method, the child's answer).
        """
        self._router = router
        self._clock = clock
        self._write = write
        self._nextId = nextId
        self._envelope = envelope
        self._deliver = deliver
        self._sent: dict[int, dict[str, Any]] = {}
        """Params of the calls of handshake sessions (and the gateway) that
        may be answered with an C{InputRequiredResult}, by router id."""
        self._bridged: dict[int, _Bridged] = {}
        self._retries: dict[str, _Bridged] = {}
        self._asking: dict[str, _Bridged] = {}
        self._closed = False
        self.inputRounds = 0

    def close(self) -> None:
        """The child is gone: no retry is written, no timer runs."""
        self._closed = True
        for call in self._bridged.values():
            if call.timer is not None and call.timer.active():
                call.timer.cancel()
        self._bridged.clear()
        self._retries.clear()
        self._asking.clear()
        self._sent.clear()

    # -- what the adapter feeds it ------------------------------------------------------

    def track(self, childId: int, params: dict[str, Any]) -> None:
        """The call C{childId}, which the child may answer with an
        C{InputRequiredResult}, went to it with C{params}."""
        self._sent[childId] = params

    def untrack(self, childId: int) -> dict[str, Any] | None:
        """The child answered C{childId}: the params the call went with
        (C{None}: not a call L{track}ed), forgotten."""
        return self._sent.pop(childId, None)

    def inputRequired(
        self,
        childId: int,
        method: str,
        params: dict[str, Any] | None,
        session: SessionLike | None,
        result: dict[str, Any],
    ) -> None:
        """The child answered the call C{childId} of C{session} (C{None}: the
        gateway) with C{result}, an C{InputRequiredResult}: the first round
        (C{params}: what L{untrack} gave; C{None}: the call is not retried)."""
        call = _Bridged(childId, method, params or {}, session)
        self._bridged[childId] = call
        self._inputRequired(call, result, params is not None)

    def retried(self, retryId: str, message: Message) -> bool:
        """The child's answer C{message} to C{retryId}, if that is a retry in
        flight (false: it is not, or no longer)."""
        call = self._retries.pop(retryId, None)
        if call is None:
            return False
        call.current = None
        result = message.get("result")
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            self._inputRequired(call, result, True)
            return True
        self._bridged.pop(call.childId, None)
        self._deliver(call.childId, call.method, message)
        return True

    def answer(self, message: Message) -> bool:
        """A client's answer to one of the bridge's questions (false: to
        none it is waiting for)."""
        questionId = message.get("id")
        call = self._asking.pop(questionId, None) if isinstance(questionId, str) else None
        if call is None or not isinstance(questionId, str):
            return False
        key = call.asking.pop(questionId)
        error = message.get("error")
        if "error" in message:
            # inputResponses cannot carry an error: the call fails with it.
            self._fail(call, error if isinstance(error, dict) else None)
            return True
        result = message.get("result")
        call.answers[key] = (
            {k: v for k, v in result.items() if k != "_meta"}
            if isinstance(result, dict)
            else result
        )
        if not call.asking:
            self._retry(call)
        return True

    def cancelled(self, childId: int, reason: str | None) -> bool:
        """The session cancelled its call C{childId}: whether it was bridged
        (then it is over here: its questions withdrawn, a retry cancelled)."""
        self._sent.pop(childId, None)
        call = self._bridged.pop(childId, None)
        if call is None:
            return False
        self._end(call, reason)
        return True

    # -- the rounds ---------------------------------------------------------------------

    def _inputRequired(self, call: _Bridged, result: dict[str, Any], retryable: bool) -> None:
        """The child wants input for C{call}: ask its session."""
        call.rounds += 1
        requests = result.get("inputRequests", {})
        state = result.get("requestState")
        problem = None
        if not retryable or call.method not in era2026form.MRTR_METHODS:
            problem = f"asked for input during {call.method}"
        elif call.session is None:
            problem = "asked the gateway itself for input"
        elif call.rounds > MAX_ROUNDS:
            problem = f"asked for input more than {MAX_ROUNDS} times in one {call.method}"
        elif (
            not isinstance(requests, dict)
            or (state is not None and not isinstance(state, str))
            or (not requests and state is None)
            or not all(_inputEntry(entry) for entry in requests.values())
        ):
            problem = "answered with a malformed InputRequiredResult"
        if problem is not None:
            text = f"server '{self._router.name}' {problem}"
            self._fail(call, {"code": jsonrpc.INTERNAL_ERROR, "message": text})
            return
        assert isinstance(requests, dict)
        call.state = state
        call.answers = {}
        if not requests:
            # Only a state: try again after a back-off (as the SDK clients do).
            delay = min(STATE_ONLY_DELAY * 2**call.stateOnly, STATE_ONLY_MAX_DELAY)
            call.stateOnly += 1
            call.timer = self._clock.callLater(delay, self._retry, call)
            return
        call.stateOnly = 0
        self.inputRounds += 1
        questions = [(self._nextId("in"), key, entry) for key, entry in requests.items()]
        for questionId, key, _ in questions:
            call.asking[questionId] = key
            self._asking[questionId] = call
        for questionId, _, entry in questions:
            if call.childId not in self._bridged:
                return  # refused on the way (a missing capability): the call is over
            self._router.childMessage(self._question(questionId, entry, call))

    def _question(self, questionId: str, entry: dict[str, Any], call: _Bridged) -> Message:
        """An C{inputRequests} entry as the child's request to the session."""
        method = entry["method"]
        params = dict(entry.get("params") or {})
        if method == "elicitation/create":
            if params.get("mode") == "url":
                params.setdefault("elicitationId", str(uuid.uuid4()))  # 2025-11-25 needs one
            elif params.get("mode") == "form" and _olderThan(call.session, "2025-11-25"):
                del params["mode"]
        meta = params.get("_meta")
        params["_meta"] = {
            **(meta if isinstance(meta, dict) else {}),
            childhints.HINT_RELATED: call.childId,
        }
        return jsonrpc.request(questionId, method, params)

    def _retry(self, call: _Bridged) -> None:
        """Every question of the round was answered: the child gets the call again."""
        call.timer = None
        if self._closed or self._bridged.get(call.childId) is not call:
            return
        retryId = self._nextId("retry")
        params = withEnvelope(call.params, self._envelope(call.session))
        if call.answers:
            params["inputResponses"] = call.answers
        if call.state is not None:
            params["requestState"] = call.state
        call.current = retryId
        self._retries[retryId] = call
        self._write(jsonrpc.request(retryId, call.method, params))

    def _fail(self, call: _Bridged, error: dict[str, Any] | None) -> None:
        """End C{call}: its session's request gets C{error}."""
        self._end(call, "the call failed")
        self._bridged.pop(call.childId, None)
        if error is None or not isinstance(error.get("code"), int):
            error = {"code": jsonrpc.INTERNAL_ERROR, "message": "the client answered with an error"}
        self._router.childMessage({"jsonrpc": "2.0", "id": call.childId, "error": error})

    def _end(self, call: _Bridged, reason: str | None) -> None:
        """Forget C{call}: questions not answered are withdrawn from the
        session, a retry in flight is cancelled on the child."""
        if call.timer is not None and call.timer.active():
            call.timer.cancel()
        call.timer = None
        asking, call.asking = call.asking, {}
        for questionId in asking:
            self._asking.pop(questionId, None)
            self._router.childMessage(
                jsonrpc.notification("notifications/cancelled", {"requestId": questionId})
            )
        current, call.current = call.current, None
        if current is not None and self._retries.pop(current, None) is call:
            params: dict[str, Any] = {"requestId": current}
            if reason:
                params["reason"] = reason
            self._write(jsonrpc.notification("notifications/cancelled", params))


def _inputEntry(entry: Any) -> bool:
    """Whether an C{inputRequests} value is something a client can be asked."""
    return (
        isinstance(entry, dict)
        and entry.get("method") in INPUT_METHODS
        and isinstance(entry.get("params", {}), dict)
    )


def _olderThan(session: SessionLike | None, version: str) -> bool:
    negotiated = getattr(session, "protocolVersion", None)
    return isinstance(negotiated, str) and negotiated < version
