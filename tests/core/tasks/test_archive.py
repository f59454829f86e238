"""Another replica's tasks, read from its journal in a shared directory:
found by the label its id seals, only for the server, route and principal
it was made for, read again when the journal changes, and served by the
manager read-only (tasks/get answers; nothing changes a task whose owner is
away)."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.tasks.archive import PeerJournal, TaskArchive, journalName
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import COMPLETED, WORKING, Task
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.protocol import jsonrpc

NOW = 1_800_000_000.0


def now() -> float:
    return NOW


def task(taskId: str, status: str = COMPLETED, principal: str = "p-alice") -> Task:
    made = Task(taskId, "srv", "", principal, "slow", NOW, 3_600_000, 500, status=status)
    if status == COMPLETED:
        made.result = {"content": [{"type": "text", "text": "done"}]}
    return made


def labelOf(taskId: str, server: str, scope: str, principal: str) -> str | None:
    """A stand-in for the sealer: C{"<label>.<anything>"} opens for anyone."""
    label, dot, _ = taskId.partition(".")
    return label if dot else None


def ownersJournal(directory: Path, label: str = "r2") -> TaskStore:
    return TaskStore(directory / journalName(label), now=now)


def test_journal_names() -> None:
    assert journalName(None) == "tasks.journal"
    assert journalName("r2") == "tasks-r2.journal"


def test_another_replicas_finished_task_is_found_in_its_journal(tmp_path: Path) -> None:
    owner = ownersJournal(tmp_path)
    owner.create(task("r2.a"))
    archive = TaskArchive(tmp_path, "r1", labelOf, now)
    found = archive.find("r2.a", "srv", "", "p-alice")
    assert found is not None and found.status == COMPLETED
    assert found.result == {"content": [{"type": "text", "text": "done"}]}


def test_only_its_server_route_and_principal_find_it(tmp_path: Path) -> None:
    ownersJournal(tmp_path).create(task("r2.a"))
    archive = TaskArchive(tmp_path, "r1", labelOf, now)
    assert archive.find("r2.a", "srv", "", "p-bob") is None
    assert archive.find("r2.a", "other", "", "p-alice") is None
    assert archive.find("r2.a", "srv", "ws", "p-alice") is None


def test_its_own_label_and_an_unsealed_id_are_never_looked_up(tmp_path: Path) -> None:
    ownersJournal(tmp_path, "r1").create(task("r1.a"))
    archive = TaskArchive(tmp_path, "r1", labelOf, now)
    assert archive.find("r1.a", "srv", "", "p-alice") is None
    assert archive.find("plain", "srv", "", "p-alice") is None
    assert archive.find("r3.a", "srv", "", "p-alice") is None  # no such journal


def test_a_journal_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    owner = ownersJournal(tmp_path)
    running = task("r2.a", WORKING)
    owner.create(running)
    journal = PeerJournal(tmp_path / journalName("r2"), now)
    seen = journal.get("r2.a")
    assert seen is not None and seen.status == WORKING
    assert journal.get("r2.a") is not None and journal.reads == 1
    running.status = COMPLETED
    owner.update(running)
    ended = journal.get("r2.a")
    assert ended is not None and ended.status == COMPLETED and journal.reads == 2


def test_the_reader_never_writes_the_owners_journal(tmp_path: Path) -> None:
    owner = ownersJournal(tmp_path)
    owner.create(task("r2.a", WORKING))
    before = (tmp_path / journalName("r2")).read_bytes()
    journal = PeerJournal(tmp_path / journalName("r2"), now)
    assert journal.get("r2.a") is not None
    assert (tmp_path / journalName("r2")).read_bytes() == before


def request(method: str, taskId: str) -> Era2026Request:
    return Era2026Request(
        clientId=5,
        method=method,
        params={"taskId": taskId},
        capabilities={"extensions": {EXTENSION: {}}},
        principal="p-alice",
        inputResponses={} if method == "tasks/update" else None,
    )


def manager(directory: Path) -> TaskManager:
    archive = TaskArchive(directory, "r1", labelOf, now)
    return TaskManager(TaskStore(None, now=now), Clock(), archive=archive)


def never(*_: object) -> object:
    raise AssertionError("nothing runs for another replica's task")


def test_the_manager_answers_tasks_get_from_the_archive(tmp_path: Path) -> None:
    ownersJournal(tmp_path).create(task("r2.a"))
    answer = manager(tmp_path).serve("srv", request("tasks/get", "r2.a"), never)  # type: ignore[arg-type]
    result = answer["result"]
    assert result["status"] == COMPLETED and result["result"]["content"][0]["text"] == "done"


def test_nothing_changes_a_task_whose_owner_is_away(tmp_path: Path) -> None:
    store = ownersJournal(tmp_path)
    store.create(task("r2.done"))
    store.create(task("r2.running", WORKING))
    made = manager(tmp_path)
    cancelled = made.serve("srv", request("tasks/cancel", "r2.done"), never)  # type: ignore[arg-type]
    assert cancelled["result"] == {"resultType": "complete"}
    for method in ("tasks/cancel", "tasks/update"):
        refused = made.serve("srv", request(method, "r2.running"), never)  # type: ignore[arg-type]
        assert refused["error"]["code"] == jsonrpc.INTERNAL_ERROR
        assert "cannot be reached" in refused["error"]["message"]


def test_an_unknown_task_is_still_invalid_params(tmp_path: Path) -> None:
    answer = manager(tmp_path).serve("srv", request("tasks/get", "r2.zzz"), never)  # type: ignore[arg-type]
    assert answer["error"]["code"] == jsonrpc.INVALID_PARAMS
