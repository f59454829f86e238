"""A session moved to a fresh child of its own (its child crashed, or its
server was promoted to one child a session) replays what it told its
first child: its own initialize, then its initialized notification, its
log level and its subscription, before the request that moved it."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeSession

Message = dict[str, Any]

REPLAYED = ["notifications/initialized", "logging/setLevel", "resources/subscribe"]
"""What a session with a log level and one subscription replays after its
initialize, in order."""


def replayedTo(
    case: SynchronousTestCase,
    proc: FakeProcess,
    session: Session | FakeSession,
    initResult: Message,
    then: str,
) -> list[Message]:
    """Check that C{proc} got C{session}'s own initialize (its capabilities
    and client info), answer it with C{initResult}, and check that the
    replay and then the request of method C{then} follow: those messages."""
    [init] = proc.takeMessages()
    case.assertEqual(init["method"], "initialize")
    case.assertEqual(init["params"]["capabilities"], session.capabilities)
    case.assertEqual(init["params"]["clientInfo"], session.clientInfo)
    proc.reply(jsonrpc.resultResponse(init["id"], initResult))
    sent = proc.takeMessages()
    case.assertEqual([m["method"] for m in sent], [*REPLAYED, then])
    return sent
