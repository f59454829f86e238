"""A client's answer to a question a restart's predecessor asked it, POSTed
to the successor, reaches the child that asked, through the predecessor
(L{mcpgateway.ops.lateanswers}): two real gateways and sites with fake
children, the predecessor's and the successor's ends of a real link."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent

from mcpgateway.core.sessions import Session
from mcpgateway.ops import lateanswers
from mcpgateway.ops.handover import LISTENING, STOP, Inherited, Predecessor, Successor
from mcpgateway.ops.lateanswers import AnswerPassing, SuccessorWords, encodeAnswer
from mcpgateway.protocol import childhints
from mcpgateway.startup.handoverwiring import answerTaking
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, capturedGatewayLogs
from tests.http import Harness, Response

CAPS: dict[str, Any] = {"sampling": {}}
ASKED = 99
"""The child's own id of its sampling request."""
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "ask"}}


class Adoption:
    """The successor's adoption: whether the children have not come yet."""

    holding = True


class Restart:
    """A predecessor with a session whose call waits for its client's
    answer to the child's sampling request, and a successor that restored
    that session, joined by a hand-over link."""

    def __init__(self, linkFd: int) -> None:
        self.old = Harness()
        self.sid = self.old.initialize(capabilities=CAPS)
        self.child: FakeProcess = self.old.process()
        self.call = self.old.request("POST", "/srv/mcp", CALL, session=self.sid)
        sent = [m for m in self.child.sentMessages() if m.get("method") == "tools/call"]
        self.callId = sent[-1]["id"]
        meta = {childhints.HINT_RELATED: self.callId}
        self.child.reply(
            {
                "jsonrpc": "2.0",
                "id": ASKED,
                "method": "sampling/createMessage",
                "params": {"messages": [], "maxTokens": 5, "_meta": meta},
            }
        )
        self.linkReactors = (FakeProcessReactor(), FakeProcessReactor())
        """Where the predecessor's and the successor's ends of the link are adopted."""
        self.predecessor = Predecessor(
            self.linkReactors[0],
            ["twistd"],
            {},
            lambda: 97,
            lambda: 98,
            lambda: None,
            lambda: Deferred(),  # its connections stay open: the call's among them
            pidfile=lambda: None,
        )
        self.predecessor.answers = answerTaking(self.old.gateway, self.old.site).take
        self.new = Harness()
        old = self.old.gateway.sessions.get(self.sid)
        assert old is not None
        self.restored = Session.fromRecord(old.record())
        self.new.gateway.sessions.add(self.restored)
        self.new.gateway.pools["srv"].restore(self.restored)
        self.adoption = Adoption()
        self.successor = Successor(self.linkReactors[1], Inherited(4242, linkFd=linkFd), Deferred())
        self.successor.startService()
        self.new.gateway.answersElsewhere = AnswerPassing(self.successor, self.adoption)

    def link(self) -> tuple[Any, StringTransport, Any]:
        """Connect both ends of the link; the predecessor is handing over:
        (its end, the successor's transport, the successor's end)."""
        assert self.predecessor.restart()
        _, _, factory = self.linkReactors[0].adoptedStreamConnections[-1]
        ours = factory.buildProtocol(None)
        ours.makeConnection(StringTransport())
        _, _, theirs = self.linkReactors[1].adoptedStreamConnections[-1]
        side = theirs.buildProtocol(None)
        transport = StringTransport()
        side.makeConnection(transport)
        self.successor.listening(9100)
        ours.dataReceived(transport.value())  # listening: it hands over
        transport.clear()
        assert self.predecessor.state == "handing over"
        return ours, transport, side

    def question(self) -> int:
        """The gateway id the client was asked under, on its call's stream."""
        self.old.reactor.advance(1.0)
        asked = [e for e in events(self.call) if e.get("method") == "sampling/createMessage"]
        assert len(asked) == 1, events(self.call)
        gatewayId = asked[0]["id"]
        assert isinstance(gatewayId, int)
        return gatewayId

    def answer(self, gatewayId: Any, sid: str | None = None) -> Response:
        """The client POSTs its answer to the successor."""
        body = {"jsonrpc": "2.0", "id": gatewayId, "result": {"role": "assistant", "model": "m"}}
        return self.new.request("POST", "/srv/mcp", body, session=sid or self.sid)

    def childGot(self) -> list[dict[str, Any]]:
        """The answers the child got to its sampling request."""
        return [m for m in self.child.sentMessages() if m.get("id") == ASKED and "method" not in m]


def events(response: Response) -> list[dict[str, Any]]:
    return response.events()


@pytest.fixture
def linkFd() -> Iterator[int]:
    """The successor's end of a link: a descriptor its L{Successor} closes
    as it starts (closed here again, a number reused since, would close
    another test's file)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        yield os.dup(a.fileno())


@pytest.fixture
def restart(linkFd: int) -> Restart:
    return Restart(linkFd)


def test_an_answer_posted_to_the_successor_reaches_the_child_and_the_call_its_result(
    restart: Restart,
) -> None:
    ours, transport, _ = restart.link()
    gatewayId = restart.question()
    with capturedGatewayLogs() as logged:
        posted = restart.answer(gatewayId)
        assert posted.status == 202
        ours.dataReceived(transport.value())  # the link carries it to the predecessor
    assert restart.childGot() == [
        {"jsonrpc": "2.0", "id": ASKED, "result": {"role": "assistant", "model": "m"}}
    ]
    texts = [formatEvent(e) for e in logged]
    assert not any("dropped" in text for text in texts), texts
    restart.child.reply({"jsonrpc": "2.0", "id": restart.callId, "result": {"content": []}})
    last = events(restart.call)[-1]
    assert last == {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    assert restart.old.gateway.pools["srv"].clientRequestsInFlight() == 0  # the child may move


def test_no_answer_is_passed_once_the_children_have_come(restart: Restart) -> None:
    _, transport, _ = restart.link()
    gatewayId = restart.question()
    restart.adoption.holding = False  # a child of the successor's own may have asked it now
    assert restart.answer(gatewayId).status == 202
    assert transport.value() == b""
    assert restart.childGot() == []


def test_no_answer_is_passed_once_the_link_has_closed(restart: Restart) -> None:
    _, transport, side = restart.link()
    gatewayId = restart.question()
    side.connectionLost(None)  # the predecessor has exited
    assert restart.answer(gatewayId).status == 202
    assert transport.value() == b""


def test_a_session_opened_by_the_successor_answers_there(restart: Restart) -> None:
    _, transport, _ = restart.link()
    sid = restart.new.initialize(capabilities=CAPS)
    assert restart.answer(5, sid).status == 202
    assert transport.value() == b""


def test_an_answer_of_another_session_never_reaches_the_child(restart: Restart) -> None:
    """The other session was restored too, and answers the id the child's
    question was asked under: the predecessor asked it of one session only."""
    ours, transport, _ = restart.link()
    gatewayId = restart.question()
    other = restart.old.initialize(capabilities=CAPS, requestId=2)
    record = restart.old.gateway.sessions.get(other)
    assert record is not None
    restart.new.gateway.sessions.add(Session.fromRecord(record.record()))
    assert restart.answer(gatewayId, other).status == 202
    ours.dataReceived(transport.value())
    assert restart.childGot() == []


@pytest.mark.parametrize("name", ["server", "scope", "principal"])
def test_an_answer_naming_the_session_otherwise_is_dropped(restart: Restart, name: str) -> None:
    ours, _, _ = restart.link()
    gatewayId = restart.question()
    setattr(restart.restored, name, "another")
    message = {"jsonrpc": "2.0", "id": gatewayId, "result": {}}
    line = encodeAnswer(restart.restored, message)
    assert line is not None
    with capturedGatewayLogs() as logged:
        ours.dataReceived(line)
    assert restart.childGot() == []
    assert any("dropped" in formatEvent(e) for e in logged)


def test_an_answer_before_the_successor_listens_is_not_taken(restart: Restart) -> None:
    assert restart.predecessor.restart()
    _, _, factory = restart.linkReactors[0].adoptedStreamConnections[-1]
    ours = factory.buildProtocol(None)
    ours.makeConnection(StringTransport())
    gatewayId = restart.question()
    line = encodeAnswer(restart.restored, {"jsonrpc": "2.0", "id": gatewayId, "result": {}})
    assert line is not None
    ours.dataReceived(line)
    assert restart.childGot() == []


# -- the successor's lines ------------------------------------------------------------


def test_words_and_answers_are_read_whole_however_the_link_splits_them() -> None:
    said: list[bytes] = []
    answered: list[dict[str, Any]] = []
    words = SuccessorWords(said.append, answered.append)
    session = FakeSession("s1")
    line = encodeAnswer(session, {"jsonrpc": "2.0", "id": 3, "result": {"text": "a\nb"}})
    assert line is not None
    stream = LISTENING + line + b"adopted\n" + line + STOP
    for byte in range(len(stream)):
        words.feed(stream[byte : byte + 1])
    assert said == [LISTENING, b"adopted\n", STOP]
    assert [a["message"]["result"] for a in answered] == [{"text": "a\nb"}] * 2
    assert answered[0]["session"] == "s1"


def test_an_answer_that_is_not_json_is_dropped_and_the_link_goes_on() -> None:
    said: list[bytes] = []
    answered: list[dict[str, Any]] = []
    words = SuccessorWords(said.append, answered.append)
    with capturedGatewayLogs() as logged:
        words.feed(b"answer {not json\nanswer [1]\n" + STOP)
    assert (said, answered) == ([STOP], [])
    assert sum("not JSON" in formatEvent(e) for e in logged) == 2


def test_an_overlong_line_is_skipped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lateanswers, "MAX_LINE", 16)
    said: list[bytes] = []
    words = SuccessorWords(said.append, lambda record: None)
    words.feed(b"x" * 40)
    words.feed(b"y" * 40 + STOP[:2])
    words.feed(b"\n" + STOP)
    assert said == [STOP]
    assert encodeAnswer(FakeSession("s"), {"jsonrpc": "2.0", "id": 1, "result": {}}) is None
