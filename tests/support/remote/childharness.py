"""A remote child (HTTP+SSE or Streamable HTTP) on a fake agent and a
L{Clock}, for the transports' unit tests: what the child hands the client,
its stderr lines, its requests and its end; and the check of the gateway's
error for a server it cannot reach."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from twisted.internet.task import Clock

from mcpgateway.core.child import Child
from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from tests.remote.fakehttp import FakeAgent, Sent

ChildT = TypeVar("ChildT", bound=Child)
ChildClass = Callable[
    [
        str,
        RemoteEndpoint,
        FakeAgent,
        Clock,
        Callable[[jsonrpc.Message], None],
        Callable[[str], None],
    ],
    ChildT,
]


class ChildHarness(Generic[ChildT]):
    """C{child}, made by C{childClass} for the server C{name} at
    C{endpoint}, its agent and clock fakes the test drives."""

    def __init__(self, childClass: ChildClass[ChildT], name: str, endpoint: RemoteEndpoint) -> None:
        self.clock = Clock()
        self.agent = FakeAgent()
        self.out: list[jsonrpc.Message] = []
        self.stderr: list[str] = []
        self.child = childClass(
            name, endpoint, self.agent, self.clock, self.out.append, self.stderr.append
        )

    def received(self) -> list[jsonrpc.Message]:
        """What the child handed the client since the last look."""
        out, self.out[:] = list(self.out), []
        return out

    def request(self, message: jsonrpc.Message) -> Sent:
        """The client's C{message}, sent: the one POST it makes."""
        self.child.send(message)
        return self.agent.one(b"POST")

    def ended(self) -> bool:
        """Whether the child has ended (and with it the session)."""
        ended: list[object] = []
        self.child.ended.addBoth(ended.append)
        return bool(ended)


def assertUnavailableFrom(
    message: jsonrpc.Message, requestId: Any, name: str, url: str, *words: str
) -> None:
    """C{message} answers C{requestId} with the gateway's error naming the
    server C{name}, its C{url} and C{words}."""
    assert message["id"] == requestId
    assert message["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE == -32000
    text = message["error"]["message"]
    assert f"server '{name}'" in text and url in text
    for word in words:
        assert word in text
