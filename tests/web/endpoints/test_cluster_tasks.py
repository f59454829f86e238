"""Tasks on a cluster replica's web side: a tasks/* request for a task
another replica made (its id sealed with that replica's address) is
forwarded to it, with the 2026-07-28 routing headers; a task held here, a
peer's request and a request whose owner could not be reached are served
here (from the shared task directory when the owner's journal is there)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.cluster.sealing import Address
from mcpgateway.cluster.taskids import TaskIdSealer, TaskOwner
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.tasks.archive import TaskArchive, journalName
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import COMPLETED, Task
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.rerouting import ROUTED_IDS
from mcpgateway.web.teamcluster import ClusterServices, TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Response, spec
from tests.support.web.cluster_web import ClusterHarness, FakeForwarder, FakePeers, FakeRouter
from tests.support.web.fakeera2026 import body, headersFor
from tests.support.web.team_web import FakeGate, FakeQuota, RecordingAudit

KEY = os.urandom(32)
HERE, THERE = Address("10.0.0.1", 9100), Address("10.0.0.2", 9100)
NOW = 1_800_000_000.0
WITH_TASKS: dict[str, Any] = {"extensions": {EXTENSION: {}}}


def sealerOf(label: str, at: Address) -> TaskIdSealer:
    return TaskIdSealer((KEY,), label, lambda: at)


class CountingOpener:
    """A replica's task ids, counting each id it opens (an AES-GCM open)."""

    def __init__(self, sealer: TaskIdSealer) -> None:
        self._sealer = sealer
        self.opened: list[str] = []

    def owner(self, taskId: str, server: str, scope: str, principal: str) -> TaskOwner | None:
        self.opened.append(taskId)
        return self._sealer.owner(taskId, server, scope, principal)


class TasksHarness(ClusterHarness):
    """A replica r1 whose gateway serves tasks, its ids sealed; r2 is L{THERE}."""

    def __init__(self, directory: Path | None = None) -> None:
        self.reactor = FakeProcessReactor()
        mine = sealerOf("r1", HERE)
        self.opener = CountingOpener(mine)

        def labelOf(taskId: str, server: str, scope: str, principal: str) -> str | None:
            owner = mine.owner(taskId, server, scope, principal)
            return None if owner is None else owner.label

        archive = None if directory is None else TaskArchive(directory, "r1", labelOf, lambda: NOW)
        self.tasks = TaskManager(
            TaskStore(None, now=lambda: NOW), Clock(), newId=mine.newId, archive=archive
        )
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor), tasks=self.tasks)
        self.router = FakeRouter(self.gateway)
        self.forwarder = FakeForwarder()
        self.peers = FakePeers()
        self.cluster = ClusterServices(
            self.router,
            self.forwarder,
            self.peers,
            "r1",
            lambda: "http://10.0.0.1:9100",
            self.opener,
        )
        self.gate, self.quota, self.audit = FakeGate(), FakeQuota(), RecordingAudit()
        self.team = TeamServices(self.gate, self.quota, self.audit, cluster=self.cluster)
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=False, team=self.team)

    def tasksRequest(self, who: str, method: str, taskId: str, **headers: str) -> Response:
        message = body(method, 4, {"taskId": taskId}, capabilities=WITH_TASKS)
        sent: dict[str, Any] = {
            **headersFor(message),
            "authorization": f"Bearer {who}",
            **headers,
        }
        return self.request("POST", "/srv/mcp", message, headers=sent)


def othersTask(principal: str = "key-alice") -> str:
    return sealerOf("r2", THERE).newId("srv", "", principal)


def test_another_replicas_task_is_forwarded_with_its_routing_headers() -> None:
    h = TasksHarness()
    taskId = othersTask()
    response = h.tasksRequest("alice", "tasks/get", taskId)
    [(request, owner, _principal, _body, _)] = h.forwarder.calls
    assert owner == THERE
    assert request.getHeader(b"mcp-name") == taskId.encode()
    assert request.getHeader(b"mcp-method") == b"tasks/get"
    h.forwarder.answer(body=b'{"jsonrpc": "2.0", "id": 4, "result": {"status": "working"}}')
    assert response.status == 200 and response.json()["result"] == {"status": "working"}


def test_a_task_of_another_principal_is_not_forwarded_and_is_unknown() -> None:
    h = TasksHarness()
    response = h.tasksRequest("bob", "tasks/get", othersTask("key-alice"))
    assert h.forwarder.calls == []
    assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS


def test_a_task_held_here_is_served_here() -> None:
    h = TasksHarness()
    taskId = sealerOf("r1", HERE).newId("srv", "", "key-alice")
    h.tasks.store.create(Task(taskId, "srv", "", "key-alice", "slow", NOW, 60_000, 500))
    response = h.tasksRequest("alice", "tasks/get", taskId)
    assert h.forwarder.calls == []
    assert response.json()["result"]["status"] == "working"


def test_an_unreachable_owner_is_answered_from_the_shared_directory(tmp_path: Path) -> None:
    taskId = othersTask()
    owners = TaskStore(tmp_path / journalName("r2"), now=lambda: NOW)
    done = Task(taskId, "srv", "", "key-alice", "slow", NOW, 60_000, 500, status=COMPLETED)
    done.result = {"content": [{"type": "text", "text": "built"}]}
    owners.create(done)
    h = TasksHarness(tmp_path)
    response = h.tasksRequest("alice", "tasks/get", taskId)
    h.forwarder.calls[0][4].callback(False)  # the owner could not be reached
    assert len(h.forwarder.calls) == 1
    result = response.json()["result"]
    assert result["status"] == COMPLETED and result["result"]["content"][0]["text"] == "built"


def test_a_peers_request_is_never_forwarded_again() -> None:
    h = TasksHarness()
    message = body("tasks/get", 4, {"taskId": othersTask("key-bob")}, capabilities=WITH_TASKS)
    sent = {**headersFor(message), "mcp-gateway-peer": "ok:bob"}
    response = h.request("POST", "/srv/mcp", message, headers=sent)
    assert h.forwarder.calls == []
    assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS


def test_a_task_polled_on_the_aggregate_endpoint_is_forwarded_to_its_owner() -> None:
    h = TasksHarness()
    taskId = othersTask()  # made by member "srv" on r2, through /mcp or /srv/mcp alike
    message = body("tasks/get", 4, {"taskId": taskId}, capabilities=WITH_TASKS)
    sent = {**headersFor(message), "authorization": "Bearer alice"}
    h.request("POST", "/mcp", message, headers=sent)
    [(_request, owner, _principal, _body, _)] = h.forwarder.calls
    assert owner == THERE


def listenFor(h: TasksHarness, who: str, taskIds: list[str]) -> Response:
    message = body(
        "subscriptions/listen",
        "listen-1",
        {"notifications": {"taskIds": taskIds}},
        capabilities=WITH_TASKS,
    )
    sent = {**headersFor(message), "authorization": f"Bearer {who}"}
    return h.request("POST", "/srv/mcp", message, headers=sent)


def test_a_listen_naming_another_replicas_task_is_forwarded_to_its_owner() -> None:
    h = TasksHarness()
    mine = sealerOf("r1", HERE).newId("srv", "", "key-alice")
    h.tasks.store.create(Task(mine, "srv", "", "key-alice", "slow", NOW, 60_000, 500))
    taskId = othersTask()
    listenFor(h, "alice", [mine, "junk", taskId])
    [(request, owner, _principal, _body, _)] = h.forwarder.calls
    assert owner == THERE
    assert request.getHeader(b"mcp-method") == b"subscriptions/listen"


def test_a_listen_naming_only_tasks_held_here_or_another_principals_stays_here() -> None:
    h = TasksHarness()
    mine = sealerOf("r1", HERE).newId("srv", "", "key-alice")
    h.tasks.store.create(Task(mine, "srv", "", "key-alice", "slow", NOW, 60_000, 500))
    listenFor(h, "alice", [mine])
    listenFor(h, "bob", [othersTask("key-alice")])
    assert h.forwarder.calls == []


def test_a_listen_of_many_ids_opens_a_few_of_them_and_none_of_this_replicas() -> None:
    h = TasksHarness()
    forged = sealerOf("r2", THERE).newId("srv", "", "key-bob")  # opens for bob only
    crafted = [f"r2.{forged.partition('.')[2][:-4]}{i:04d}" for i in range(256)]
    listenFor(h, "alice", crafted)
    assert len(h.opener.opened) <= ROUTED_IDS  # one task server: one open per id
    assert h.forwarder.calls == []

    h.opener.opened.clear()
    listenFor(h, "alice", [forged] * 256)  # one id, named again and again
    assert h.opener.opened == [forged]

    h.opener.opened.clear()
    mine = [sealerOf("r1", HERE).newId("srv", "", "key-alice") for _ in range(255)]
    theirs = othersTask()
    listenFor(h, "alice", [*mine, theirs])
    assert h.opener.opened == [theirs]  # this replica's own ids are never opened
    [(_request, owner, _principal, _body, _)] = h.forwarder.calls
    assert owner == THERE
