"""Tasks on a cluster, for real: two replicas behind HAProxy, one cluster
key, one task directory both mount (tests/integration/cluster.py).

A slow call through HAProxy becomes a task on the replica that ran it; its
id names that replica, so a tasks/get on the other replica (HAProxy
bypassed) is forwarded to it and answers the same; with HAProxy routing on
the Mcp-Name label (deploy/haproxy.cfg), polls reach the owner with no
forward at all; and once the owner is killed, the other replica answers the
finished task from the owner's journal in the shared directory. A listen
naming the task, sent to the other replica, is forwarded to the owner,
which tells it the task's status as it changes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import RunningCluster
from tests.integration.gateway import REPO
from tests.support.integration.tasks import Client2026

pytestmark = pytest.mark.integration
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[RunningCluster]:
    shared = tmp_path / "tasks"
    shared.mkdir()
    running = RunningCluster(
        tmp_path / "cluster",
        {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}},
        replicas=2,
        labelRouting=True,
        extraArgs=["--task-dir", str(shared)],
    )
    yield running
    running.stop()


def forwarded(cluster: RunningCluster, replica: str) -> int:
    return int(cluster.health(replica)["cluster"]["forwarded"])


def test_a_task_is_read_on_either_replica_and_after_its_owner_died(
    pair: RunningCluster, tmp_path: Path
) -> None:
    alice = pair.authorization["alice"]
    client = Client2026(pair.url("conformance"), alice)
    handle = client.call("slow_compute", {"seconds": 1.5, "label": "cluster"})
    assert handle["resultType"] == "task", handle
    taskId = handle["taskId"]
    owner, _, _ = taskId.partition(".")
    other = next(r for r in pair.ids if r != owner)
    assert owner in pair.ids, taskId

    # Polled through HAProxy: the label routes every poll to the owner.
    done = client.until(taskId, "completed", "failed")
    assert done["status"] == "completed", done
    assert forwarded(pair, other) == 0

    # Asked of the other replica directly: forwarded to the owner.
    direct = Client2026(pair.replicaUrl(other, "conformance"), alice)
    seen = direct.get(taskId)
    assert seen["status"] == "completed" and seen["result"] == done["result"]
    assert forwarded(pair, other) == 1

    # Another principal's poll finds nothing, on either replica.
    bob = Client2026(pair.replicaUrl(other, "conformance"), pair.authorization["bob"])
    refused = bob.request("tasks/get", {"taskId": taskId}, taskId)
    assert refused["error"]["code"] == -32602, refused

    # The owner is gone: the other replica reads the shared journal.
    pair.kill(owner)
    after = direct.get(taskId)
    assert after["status"] == "completed" and after["result"] == done["result"]
    assert (tmp_path / "tasks" / f"tasks-{owner}.journal").is_file()


def test_a_listen_on_the_other_replica_is_told_by_the_owner(pair: RunningCluster) -> None:
    alice = pair.authorization["alice"]
    client = Client2026(pair.url("conformance"), alice)
    handle = client.call("slow_compute", {"seconds": 2, "label": "listened"})
    taskId = handle["taskId"]
    owner, _, _ = taskId.partition(".")
    other = next(r for r in pair.ids if r != owner)
    frames = Client2026(pair.replicaUrl(other, "conformance"), alice).listen(taskId)
    ack, *statuses, end = frames
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"]["notifications"] == {"taskIds": [taskId]}
    told = [frame["params"]["status"] for frame in statuses]
    assert told == ["working", "completed"], frames
    assert statuses[-1]["params"]["result"]["content"][0]["text"] == "computed listened after 2.0s"
    assert end["id"] == "listen-1" and end["result"]["resultType"] == "complete"
    assert forwarded(pair, other) == 1
