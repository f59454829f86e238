"""The 2025-11-25 tasks the gateway makes for a child that serves none: the
capability announced to 2025-11-25 sessions only, tools listed as optional
task tools, a task-augmented call stored before its CreateTaskResult and
run on the child without its task field, tasks/get, tasks/result (waiting
until the task is over), tasks/list (the session's own, newest first, in
pages) and tasks/cancel (the child's call cancelled), and nobody else's
task ever found; a call past the caps never reaches the child; a task ends,
and its session's watcher with it, when its session ends or its time to
live runs out (the session told, a waiting tasks/result answered)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.tasks.handshake import (
    PAGE,
    STATUS_METHOD,
    TASK_NOT_FOUND,
    TASKS_CAPABILITY,
    HandshakeTasks,
    Sink,
    announced,
    optionalTasks,
    speaksTasks,
)
from mcpgateway.core.tasks.manager import CALL_CANCELLED, TTL_OVER, TaskManager, TaskTerms
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import RELATED_TASK
from mcpgateway.protocol import jsonrpc
from tests.support.core.router import fanoutOf

NOW = 1_800_000_000.0


class FakeChild:
    """The session's child: each request a Deferred the test fires."""

    def __init__(self) -> None:
        self.sent: list[tuple[jsonrpc.Message, Deferred[jsonrpc.Message]]] = []
        self.about: list[Sink | None] = []
        """Where the child's messages about each request go."""

    def forward(self, message: jsonrpc.Message, about: Sink | None) -> Deferred[jsonrpc.Message]:
        cancelled: list[bool] = []
        d: Deferred[jsonrpc.Message] = Deferred(lambda _: cancelled.append(True))
        d.cancelled = cancelled  # type: ignore[attr-defined]
        self.sent.append((message, d))
        self.about.append(about)
        return d


class ListeningSession(Session):
    """A session whose own stream is a list."""

    def __init__(self, sessionId: str) -> None:
        super().__init__(sessionId, "srv", "2025-11-25", {}, {}, NOW)
        self.scope, self.principal = "", ""
        self.heard: list[jsonrpc.Message] = []

    def deliver(self, message: jsonrpc.Message) -> bool:
        self.heard.append(message)
        return True


def session(sessionId: str = "s-1", version: str = "2025-11-25", principal: str = "") -> Session:
    made = Session(sessionId, "srv", version, {}, {}, NOW)
    made.scope, made.principal = "", principal
    return made


def setUp(limits: TaskTerms | None = None) -> tuple[HandshakeTasks, FakeChild, TaskStore]:
    store = TaskStore(None, now=lambda: NOW)
    return HandshakeTasks(TaskManager(store, Clock(), limits), "srv"), FakeChild(), store


def request(method: str, requestId: int = 1, **params: Any) -> jsonrpc.Message:
    return {"jsonrpc": "2.0", "id": requestId, "method": method, "params": params}


def answered(d: Deferred[jsonrpc.Message]) -> jsonrpc.Message:
    box: list[jsonrpc.Message] = []
    d.addCallback(box.append)
    assert box, "not answered yet"
    return box[0]


def create(tasks: HandshakeTasks, child: FakeChild, who: Session, ttl: int = 60_000) -> str:
    message = request("tools/call", name="slow", arguments={"n": 1}, task={"ttl": ttl})
    answer = answered(tasks.serve(who, message, child.forward))
    return str(answer["result"]["task"]["taskId"])


def askingTask() -> tuple[HandshakeTasks, FakeChild, TaskStore, ListeningSession, str, Sink]:
    """A task of session s-1 whose child's call is under way: the tasks, the
    child, the store, the session, the task's id and where the child's
    messages about the call go."""
    tasks, child, store = setUp()
    who = ListeningSession("s-1")
    taskId = create(tasks, child, who)
    about = child.about[0]
    assert about is not None
    return tasks, child, store, who, taskId, about


def test_the_capability_is_announced_to_2025_11_25_sessions_whose_child_has_none() -> None:
    bare = jsonrpc.resultResponse(0, {"capabilities": {"tools": {}}})
    assert announced(bare, "2025-11-25")["result"]["capabilities"]["tasks"] == TASKS_CAPABILITY
    assert announced(bare, "2025-06-18") == bare
    own = jsonrpc.resultResponse(0, {"capabilities": {"tasks": {"list": {}}}})
    assert announced(own, "2025-11-25") == own


def test_a_child_speaks_tasks_only_when_it_takes_task_augmented_tool_calls() -> None:
    assert speaksTasks({"capabilities": {"tasks": {"requests": {"tools": {"call": {}}}}}})
    assert not speaksTasks({"capabilities": {"tasks": {"list": {}}}})
    assert not speaksTasks({"capabilities": {}})
    assert not speaksTasks(None)


def test_tools_without_a_word_on_tasks_are_listed_as_optional_task_tools() -> None:
    listed = jsonrpc.resultResponse(
        2, {"tools": [{"name": "a"}, {"name": "b", "execution": {"taskSupport": "forbidden"}}]}
    )
    tools = optionalTasks(listed)["result"]["tools"]
    assert tools[0]["execution"] == {"taskSupport": "optional"}
    assert tools[1]["execution"] == {"taskSupport": "forbidden"}


def test_only_2025_11_25_task_requests_and_lists_are_wanted() -> None:
    tasks, _, _ = setUp()
    call = request("tools/call", name="x", task={})
    assert tasks.wants(session(), call)
    assert tasks.wants(session(), request("tools/list"))
    assert tasks.wants(session(), request("tasks/result", taskId="t"))
    assert not tasks.wants(session(), request("tools/call", name="x"))
    assert not tasks.wants(session(version="2025-06-18"), call)


def test_a_task_augmented_call_is_stored_then_run_without_its_task_field() -> None:
    tasks, child, store = setUp()
    taskId = create(tasks, child, session(), ttl=5_000)
    [(sent, _)] = child.sent
    assert sent["params"] == {"name": "slow", "arguments": {"n": 1}}
    [task] = list(store)
    assert task.taskId == taskId and task.session == "s-1" and task.ttlMs == 5_000
    shown = answered(tasks.serve(session(), request("tasks/get", taskId=taskId), child.forward))
    assert shown["result"]["status"] == "working" and shown["result"]["ttl"] == 5_000


def test_tasks_result_waits_for_the_call_and_carries_the_related_task() -> None:
    tasks, child, _ = setUp()
    taskId = create(tasks, child, session())
    waiting = tasks.serve(session(), request("tasks/result", 7, taskId=taskId), child.forward)
    box: list[jsonrpc.Message] = []
    waiting.addCallback(box.append)
    assert box == []
    child.sent[0][1].callback(
        jsonrpc.resultResponse(1, {"content": [{"type": "text", "text": "ok"}]})
    )
    [result] = box
    assert result["id"] == 7
    assert result["result"]["content"][0]["text"] == "ok"
    assert result["result"]["_meta"][RELATED_TASK] == {"taskId": taskId}


def test_a_failed_call_is_the_error_of_tasks_result() -> None:
    tasks, child, _ = setUp()
    taskId = create(tasks, child, session())
    child.sent[0][1].callback(jsonrpc.errorResponse(1, -32602, "bad arguments", {"why": "n"}))
    failed = answered(tasks.serve(session(), request("tasks/result", taskId=taskId), child.forward))
    assert failed["error"] == {"code": -32602, "message": "bad arguments", "data": {"why": "n"}}


def test_cancel_cancels_the_childs_call_and_a_terminal_task_cannot_be_cancelled() -> None:
    tasks, child, _ = setUp()
    taskId = create(tasks, child, session())
    first = answered(tasks.serve(session(), request("tasks/cancel", taskId=taskId), child.forward))
    assert first["result"]["status"] == "cancelled"
    assert child.sent[0][1].cancelled == [True]  # type: ignore[attr-defined]
    again = answered(tasks.serve(session(), request("tasks/cancel", taskId=taskId), child.forward))
    assert again["error"]["code"] == jsonrpc.INVALID_PARAMS
    result = answered(tasks.serve(session(), request("tasks/result", taskId=taskId), child.forward))
    assert result["error"]["message"] == "Task cancelled"


def test_another_sessions_or_principals_task_is_not_found() -> None:
    tasks, child, _ = setUp()
    taskId = create(tasks, child, session("s-1", principal="p-a"))
    for other in (session("s-2", principal="p-a"), session("s-1", principal="p-b")):
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            answer = answered(tasks.serve(other, request(method, taskId=taskId), child.forward))
            assert answer["error"] == {"code": jsonrpc.INVALID_PARAMS, "message": TASK_NOT_FOUND}


def test_tasks_list_is_the_sessions_own_newest_first_in_pages() -> None:
    tasks, child, store = setUp()
    made = []
    for i in range(PAGE + 3):
        taskId = create(tasks, child, session())
        store.get(taskId).createdAt = NOW + i  # type: ignore[union-attr]
        made.append(taskId)
    create(tasks, child, session("s-2"))
    first = answered(tasks.serve(session(), request("tasks/list"), child.forward))["result"]
    assert [t["taskId"] for t in first["tasks"]] == made[::-1][:PAGE]
    rest = answered(
        tasks.serve(session(), request("tasks/list", cursor=first["nextCursor"]), child.forward)
    )["result"]
    assert [t["taskId"] for t in rest["tasks"]] == made[::-1][PAGE:]
    assert "nextCursor" not in rest
    bad = answered(tasks.serve(session(), request("tasks/list", cursor="x"), child.forward))
    assert bad["error"]["code"] == jsonrpc.INVALID_PARAMS


def test_no_room_refuses_the_task_and_the_call_never_reaches_the_child() -> None:
    tasks, child, store = setUp(TaskTerms(maxTasks=1))
    create(tasks, child, session())
    lifted: list[Any] = []

    def untime(requestId: Any) -> bool:
        lifted.append(requestId)
        return True

    message = request("tools/call", 3, name="slow", task={})
    refused = answered(tasks.serve(session(), message, child.forward, untime))
    assert refused["error"]["code"] == jsonrpc.TOO_MANY_REQUESTS and len(store) == 1
    assert len(child.sent) == 1 and lifted == []  # the first task's call only


def test_a_call_sent_when_no_task_can_be_made_after_all_is_cancelled() -> None:
    tasks, child, store = setUp()
    tasks.manager.begin = lambda *args, **kwargs: None  # type: ignore[method-assign]
    refused = answered(
        tasks.serve(session(), request("tools/call", 3, name="slow", task={}), child.forward)
    )
    assert refused["error"]["code"] == jsonrpc.TOO_MANY_REQUESTS and len(store) == 0
    [(_, sent)] = child.sent
    assert sent.cancelled == [True]  # type: ignore[attr-defined]


def test_tools_list_goes_to_the_child_and_comes_back_marked() -> None:
    tasks, child, _ = setUp()
    listing = tasks.serve(session(), request("tools/list"), child.forward)
    child.sent[0][1].callback(jsonrpc.resultResponse(1, {"tools": [{"name": "a"}]}))
    assert answered(listing)["result"]["tools"][0]["execution"] == {"taskSupport": "optional"}


def test_a_tasks_call_is_untimed_by_its_request_id() -> None:
    tasks, child, _ = setUp()
    lifted: list[Any] = []

    def untime(requestId: Any) -> bool:
        lifted.append(requestId)
        return True

    message = request("tools/call", 42, name="slow", task={})
    answered(tasks.serve(session(), message, child.forward, untime))
    assert lifted == [42] and len(child.sent) == 1


def test_a_childs_question_during_a_task_makes_it_input_required_until_answered() -> None:
    tasks, child, store, who, taskId, about = askingTask()
    question = jsonrpc.request(41, "elicitation/create", {"message": "sure?"})
    assert about(question)
    status, heard = who.heard
    assert heard["id"] == 41
    assert heard["params"]["_meta"] == {RELATED_TASK: {"taskId": taskId}}
    assert status["method"] == STATUS_METHOD
    assert status["params"]["status"] == "input_required"
    [task] = list(store)
    assert task.status == "input_required"
    shown = answered(tasks.serve(who, request("tasks/get", taskId=taskId), child.forward))
    assert shown["result"]["status"] == "input_required"
    tasks.answered(who, jsonrpc.resultResponse(41, {"action": "accept"}))
    assert task.status == "working"
    assert who.heard[-1]["params"]["status"] == "working"


def test_each_status_change_reaches_the_session_that_made_the_task_only() -> None:
    tasks, child, _ = setUp()
    maker, other = ListeningSession("s-1"), ListeningSession("s-2")
    taskId = create(tasks, child, maker)
    create(tasks, child, other)
    assert maker.heard == []  # the CreateTaskResult said "working" already
    child.sent[0][1].callback(jsonrpc.resultResponse(1, {"content": []}))
    [done] = maker.heard
    got = answered(tasks.serve(maker, request("tasks/get", taskId=taskId), child.forward))
    assert done == {"jsonrpc": "2.0", "method": STATUS_METHOD, "params": got["result"]}
    assert done["params"]["status"] == "completed" and "ttl" in done["params"]
    assert "_meta" not in done["params"]
    assert other.heard == []
    assert not tasks.manager.watchers.watching(taskId)  # its end was its last


def test_a_cancelled_task_tells_its_session_once() -> None:
    tasks, child, _ = setUp()
    who = ListeningSession("s-1")
    taskId = create(tasks, child, who)
    answered(tasks.serve(who, request("tasks/cancel", taskId=taskId), child.forward))
    assert [m["params"]["status"] for m in who.heard] == ["cancelled"]


def test_a_withdrawn_question_ends_the_wait_and_progress_reaches_the_session() -> None:
    tasks, _, store, who, _, about = askingTask()
    about(jsonrpc.request(41, "sampling/createMessage", {}))
    about(jsonrpc.request(42, "elicitation/create", {}))
    [task] = list(store)
    cancelled = jsonrpc.notification("notifications/cancelled", {"requestId": 41})
    assert not about(cancelled)  # the router tells the session itself
    assert task.status == "input_required"  # 42 still waits
    tasks.answered(who, jsonrpc.resultResponse(42, {"action": "decline"}))
    assert task.status == "working"
    progress = jsonrpc.notification("notifications/progress", {"progressToken": 1, "progress": 1})
    assert about(progress)
    assert who.heard[-1] == progress


def test_a_task_that_is_over_stays_over_when_its_question_is_answered() -> None:
    tasks, child, store, who, _, about = askingTask()
    about(jsonrpc.request(41, "elicitation/create", {}))
    child.sent[0][1].callback(jsonrpc.resultResponse(1, {"content": []}))
    tasks.answered(who, jsonrpc.resultResponse(41, {"action": "accept"}))
    [task] = list(store)
    assert task.status == "completed"


def test_a_session_that_ends_takes_its_tasks_watcher_and_question_with_it() -> None:
    store = TaskStore(None, now=lambda: NOW)
    tasks = HandshakeTasks(TaskManager(store, Clock(), TaskTerms(maxPerPrincipal=1)), "srv")
    router = Router("srv", Clock(), 10.0, fanoutOf(None))
    router.attachChild(lambda message: None)
    who = ListeningSession("s-1")
    router.attach(who)
    routed = Routed(router, who)
    message = request("tools/call", name="slow", arguments={}, task={"ttl": 60_000})
    taskId = answered(tasks.serve(who, message, routed.forward))["result"]["task"]["taskId"]
    [task] = list(store)
    [about] = routed.about
    assert about is not None
    about(jsonrpc.request(41, "elicitation/create", {}))  # never answered
    assert task.status == "input_required" and tasks._asking
    router.detach(who, "client process 7 exited")  # the gateway ends the session
    assert task.status == "failed" and task.statusMessage == CALL_CANCELLED
    assert not tasks.manager.watchers.watching(taskId)
    assert tasks._asking == {}
    assert tasks.manager.hasTaskCapacity("")  # its principal may make another task


def test_a_task_whose_time_to_live_runs_out_tells_its_session_and_its_waiting_result() -> None:
    tasks, child, store = setUp()
    who = ListeningSession("s-1")
    taskId = create(tasks, child, who, ttl=1_000)
    waiting = tasks.serve(who, request("tasks/result", 7, taskId=taskId), child.forward)
    store._now = lambda: NOW + 2
    assert tasks.manager.expire() == 1
    [told] = who.heard
    assert told["method"] == STATUS_METHOD
    assert told["params"]["status"] == "failed" and told["params"]["statusMessage"] == TTL_OVER
    assert answered(waiting)["error"]["message"] == TTL_OVER
    assert child.sent[0][1].cancelled == [True]  # type: ignore[attr-defined]
    assert not tasks.manager.watchers.watching(taskId)


class Routed:
    """The session's child behind a real router: what the gateway does to
    the router when the session ends reaches the task's call."""

    def __init__(self, router: Router, session: Session) -> None:
        self.router, self.session = router, session
        self.about: list[Sink | None] = []

    def forward(self, message: jsonrpc.Message, about: Sink | None) -> Deferred[jsonrpc.Message]:
        self.about.append(about)
        return self.router.request(self.session, message, about)
