"""Tasks of two sessions on one shared server-everything child, on the
server's own endpoint C{/<server>/mcp}: each session reaches, lists and hears
of its own tasks only (the child's task ids are one space for both)."""

from __future__ import annotations

import pytest

from tests.integration.gateway import RunningGateway, waitFor
from tests.support.integration.aggregate_shield import VERSION
from tests.support.integration.aggregate_tasks import Client
from tests.support.mcpclient import Listener

pytestmark = pytest.mark.integration

TOOL = "simulate-research-query"
STATUS = "notifications/tasks/status"


class GetStream(Listener):
    """A session's standalone SSE stream, read on a thread into C{messages}."""

    def __init__(self, port: int, sid: str) -> None:
        headers = {"mcp-session-id": sid, "mcp-protocol-version": VERSION}
        super().__init__(f"http://127.0.0.1:{port}/everything/mcp", headers, 60)

    def statuses(self) -> list[tuple[str, str]]:
        return [
            (m["params"]["taskId"], m["params"]["status"])
            for m in list(self.messages)
            if m.get("method") == STATUS
        ]


def begin(client: Client, topic: str) -> str:
    """Start a research task for C{client}; its id."""
    answer = client.request(
        "tools/call", {"name": TOOL, "arguments": {"topic": topic}, "task": {"ttl": 60000}}
    )
    assert answer["result"]["task"]["status"] == "working", answer
    return str(answer["result"]["task"]["taskId"])


def test_two_sessions_on_a_shared_child_see_their_own_tasks_only(
    sharedEverything: RunningGateway,
) -> None:
    gateway = sharedEverything
    url = f"http://127.0.0.1:{gateway.port}/everything/mcp"
    mine, theirs = Client(url), Client(url)
    assert mine.capabilities["tasks"]["requests"] == {"tools": {"call": {}}}, mine.capabilities
    myStream, theirStream = GetStream(gateway.port, mine.sid), GetStream(gateway.port, theirs.sid)

    own, other = begin(mine, "gateways"), begin(theirs, "proxies")
    assert own != other
    line = gateway.health()["servers"]["everything"]
    assert (line["share"], line["children"], line["sessions"]) == ("global", 1, 2), line
    # One child for both: the other session's id is the child's too, yet never reached.
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        for client, taskId in ((theirs, own), (mine, other)):
            refused = client.request(method, {"taskId": taskId})
            assert refused["error"] == {
                "code": -32602,
                "message": "Failed to retrieve task: Task not found",
            }, (method, refused)
    assert [t["taskId"] for t in mine.request("tasks/list", {})["result"]["tasks"]] == [own]
    assert [t["taskId"] for t in theirs.request("tasks/list", {})["result"]["tasks"]] == [other]
    polled = mine.request("tasks/get", {"taskId": own})["result"]
    assert polled["taskId"] == own and polled["status"] in ("working", "completed"), polled

    result = mine.request("tasks/result", {"taskId": own})["result"]  # blocks ~4 s
    assert "Research Report: gateways" in result["content"][0]["text"], result
    result = theirs.request("tasks/result", {"taskId": other})["result"]
    assert "Research Report: proxies" in result["content"][0]["text"], result

    # Each session heard of its own task's progress, and of no other.
    assert waitFor(lambda: (own, "completed") in myStream.statuses())
    assert waitFor(lambda: (other, "completed") in theirStream.statuses())
    assert {taskId for taskId, _ in myStream.statuses()} == {own}, myStream.messages
    assert {taskId for taskId, _ in theirStream.statuses()} == {other}, theirStream.messages

    # Fetched: kept (a retry of tasks/result still reaches it), still its owner's only.
    again = mine.request("tasks/result", {"taskId": own})["result"]
    assert "Research Report: gateways" in again["content"][0]["text"], again
    assert mine.request("tasks/get", {"taskId": own})["result"]["status"] == "completed"
    assert theirs.request("tasks/get", {"taskId": own})["error"]["code"] == -32602
    assert [t["taskId"] for t in mine.request("tasks/list", {})["result"]["tasks"]] == [own]
