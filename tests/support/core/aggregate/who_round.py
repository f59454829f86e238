"""The round of an aggregate's 2026 call whose member asked L{whoQuestion}
(C{e-1}, keyed C{who}): what the client sees asked, the answer it gives,
and what the member's child then gets (core and web tests alike)."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.protocol import era2026form
from tests.fakes import FakeProcess

ACCEPTED = {"action": "accept", "content": {}}
"""The client's answer to the question: accepted, no fields."""

WHO_ACCEPTED = {"who": ACCEPTED}
"""A retry's C{inputResponses}: the answer under the question's key."""


def checkAskedWho(case: SynchronousTestCase, result: dict[str, Any]) -> None:
    """C{result} asks the client the member's question (and only it), in
    the gateway's name."""
    case.assertEqual(result["resultType"], "input_required")
    case.assertEqual(list(result["inputRequests"]), ["who"])
    case.assertEqual(result["_meta"][era2026form.SERVER_INFO_KEY]["name"], "mcpgateway")


def checkWhoAnswered(case: SynchronousTestCase, proc: FakeProcess) -> None:
    """The member's child got the client's answer to C{e-1}."""
    answers = [m for m in proc.sentMessages() if m.get("id") == "e-1" and "result" in m]
    case.assertEqual(answers[0]["result"], ACCEPTED)
