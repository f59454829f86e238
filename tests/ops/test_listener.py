"""L{ListenerService}: "listening on" is said once listening's work is done."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.testing import MemoryReactor
from twisted.logger import capturedLogs
from zope.interface import implementer

from mcpgateway.ops.services import ListenerService


@implementer(IListeningPort)
class Port:
    """A listening port that says where it listens."""

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 9100)

    def startListening(self) -> None:
        pass

    def stopListening(self) -> None:
        pass


@implementer(IStreamServerEndpoint)
class Endpoint:
    """An endpoint that listens at once."""

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        return succeed(Port())


def test_the_line_comes_after_what_listening_sets_in_motion() -> None:
    """Tests, C{start} and people wait for the line and then read
    C{state.json} (written by C{onListening}): it must exist by then."""
    said: list[bool] = []
    with capturedLogs() as events:

        def onListening(port: int) -> None:
            said.append(any(e.get("log_format") == "listening on {where}" for e in events))

        ListenerService(
            Endpoint(), "tcp:9100", object(), MemoryReactor(), onListening=onListening
        ).startService()
    assert said == [False]
    assert [e["where"] for e in events if e.get("log_format") == "listening on {where}"] == [
        "127.0.0.1:9100"
    ]


def test_the_line_is_said_when_what_listening_sets_in_motion_fails() -> None:
    """C{start} waits for it: without it, it would wait its whole timeout."""

    def onListening(port: int) -> None:
        raise RuntimeError("state directory gone")

    with capturedLogs() as events:
        service = ListenerService(
            Endpoint(), "tcp:9100", object(), MemoryReactor(), onListening=onListening
        )
        service.startService()
    assert [e["where"] for e in events if e.get("log_format") == "listening on {where}"] == [
        "127.0.0.1:9100"
    ]
