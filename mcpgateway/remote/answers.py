# -*- test-case-name: tests.remote.test_streamable,tests.remote.test_httpsse -*-
"""What a child of a remote MCP server owes the router: every message the
server sends, and an answer to every request it was given.

L{Answers} keeps the requests sent and not answered yet, by id; hands each
message of the server to the router as if a process had written it (a
response settles its request); and answers a request the server will not
answer with a JSON-RPC error naming the server and why, as the router
expects of a child. The gateway's own requests (L{OWN_ID}: the
C{initialize} of a session the server lost) are never the router's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.logger import Logger

from mcpgateway.protocol import childhints, jsonrpc
from mcpgateway.runtime import logs

OWN_ID = "mcpgateway-reinitialize"
"""The id prefix of the gateway's own requests to a remote server."""


class Lived(Protocol):
    """A child that may have ended."""

    exited: bool


class Counted(Lived, Protocol):
    """What L{Answers} reads and counts on the child it delivers for."""

    responses: int
    bytesIn: int


class Answers:
    """The requests of one remote child, and the router's side of its messages.

    @param name: the server's name, for the log and the errors.
    @param url: the server's URL, for the errors.
    @param child: the child, whose counters this keeps and whose end stops
        what goes to the router.
    @param onMessage: the router: told of every message of the server.
    @param said: says a line about what went wrong (the child's "stderr").
    @param initAnswered: told of each C{initialize} request and its answer.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        name: str,
        url: str,
        child: Counted,
        onMessage: Callable[[jsonrpc.Message], None],
        said: Callable[[str], None],
        initAnswered: Callable[[jsonrpc.Message, jsonrpc.Message], None],
    ) -> None:
        self._name = name
        self._url = url
        self._child = child
        self._onMessage = onMessage
        self._said = said
        self._initAnswered = initAnswered
        self._unanswered: dict[Any, jsonrpc.Message] = {}
        """Requests sent and not answered yet, by the C{(type, id)} of their id."""
        self._resumes: dict[Any, int] = {}
        self._authRetried: set[Any] = set()

    # -- the requests ---------------------------------------------------------

    def sent(self, message: jsonrpc.Message) -> None:
        """C{message} goes to the server: a request is owed its answer."""
        if "id" in message and "method" in message:
            self._unanswered[keyOf(message["id"])] = message

    def forget(self, message: jsonrpc.Message) -> None:
        """C{message} is to be sent again (it is owed from then on)."""
        if "id" in message and "method" in message:
            self._unanswered.pop(keyOf(message["id"]), None)

    def owed(self, message: jsonrpc.Message) -> bool:
        """Whether an answer to C{message}'s id is still owed."""
        return "id" in message and keyOf(message["id"]) in self._unanswered

    def resumes(self, message: jsonrpc.Message) -> int:
        """How often in a row the stream of request C{message} was resumed
        without bringing anything new."""
        return self._resumes.get(keyOf(message["id"]), 0)

    def resumed(self, message: jsonrpc.Message, tries: int) -> None:
        """The stream of request C{message} is resumed: the C{tries}th time in a row."""
        self._resumes[keyOf(message["id"])] = tries

    def retried(self, message: jsonrpc.Message) -> bool:
        """Whether C{message} was sent again after a 401 already."""
        return _retryKey(message) in self._authRetried

    def retrying(self, message: jsonrpc.Message, retrying: bool = True) -> None:
        """C{message} is sent again after a 401 (or, C{retrying} false, not
        after all: a later 401 may retry it)."""
        if retrying:
            self._authRetried.add(_retryKey(message))
        else:
            self._authRetried.discard(_retryKey(message))

    # -- the answers ------------------------------------------------------------

    def answerError(self, message: jsonrpc.Message, code: int, text: str, data: Any = None) -> None:
        """Answer request C{message} with a JSON-RPC error, when it is still owed."""
        if self._unanswered.pop(keyOf(message["id"]), None) is None:
            return
        self._resumes.pop(keyOf(message["id"]), None)
        if self._child.exited or isOwn(message):
            return
        self._onMessage(jsonrpc.errorResponse(message["id"], code, text, data))

    def failed(self, message: jsonrpc.Message, why: str) -> None:
        """C{message} did not reach the server: say so, and answer it (a
        request of the router's)."""
        text = f"server '{self._name}': the remote server at {self._url} {why}"
        self._said(text)
        if "id" in message and "method" in message and not isOwn(message):
            self.answerError(message, jsonrpc.SERVER_UNAVAILABLE, text)

    def deliverData(self, data: bytes, about: jsonrpc.Message | None = None) -> None:
        """Deliver the message(s) of C{data}; a request among them that came
        on the stream answering request C{about} is that request's
        (Streamable HTTP: a server sends a request related to a client's on
        that request's stream), and says so to the router
        (L{childhints.HINT_RELATED}): a child shared by many sessions asks
        exactly the session whose call it serves."""
        self._child.bytesIn += len(data)
        try:
            value = jsonrpc.loads(data, allowLoneSurrogates=True)
        except Exception as e:
            self._said(f"server '{self._name}' sent a non-JSON message ({e}); skipped")
            return
        for item in value if isinstance(value, list) else [value]:
            if type(item) is dict and item:  # some servers send {} events to keep a stream alive
                self._deliver(relatedTo(item, about))

    def _deliver(self, message: jsonrpc.Message) -> None:
        child = self._child
        if "method" not in message and "id" in message:
            key = keyOf(message["id"])
            request = self._unanswered.pop(key, None)
            self._resumes.pop(key, None)
            self._authRetried.discard(key)
            if request is not None and request.get("method") == "initialize":
                self._initAnswered(request, message)
                if isOwn(message):
                    return
            child.responses += 1
        if child.exited:
            return
        try:
            self._onMessage(message)
        except Exception:
            self.log.failure("routing a message from server {server} failed", server=self._name)


def isOwn(message: jsonrpc.Message) -> bool:
    """Whether C{message} (a request, or its answer) is the gateway's own."""
    return str(message.get("id")).startswith(OWN_ID)


def relatedTo(message: jsonrpc.Message, about: jsonrpc.Message | None) -> jsonrpc.Message:
    """C{message} with the router's hint that it serves request C{about},
    when it is a server's request that came on C{about}'s stream. The
    gateway's hints are the gateway's: any a remote server wrote itself are
    dropped, so it cannot steer its request to another session."""
    if "method" not in message or "id" not in message:
        return message
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    related = (
        about is not None and "id" in about and about.get("method") not in (None, "initialize")
    )
    if not related and not (isinstance(meta, dict) and any(h in meta for h in childhints.HINTS)):
        return message
    if params is not None and not isinstance(params, dict):
        return message
    kept = {k: v for k, v in (meta or {}).items() if k not in childhints.HINTS}
    if related:
        assert about is not None
        kept[childhints.HINT_RELATED] = about["id"]
    rest = {k: v for k, v in (params or {}).items() if k != "_meta"}
    if kept:
        rest["_meta"] = kept
    return {**message, "params": rest}


def keyOf(requestId: Any) -> tuple[str, Any]:
    """A request id as a dict key: C{1} and C{"1"} are different ids."""
    return (type(requestId).__name__, requestId)


def _retryKey(message: jsonrpc.Message) -> Any:
    """What marks C{message} as sent again after a 401: its id's key (a
    notification, which has none: the message itself)."""
    return keyOf(message.get("id")) if "id" in message else id(message)
