# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.test_toolgate -*-
"""The small translations the aggregate endpoint applies to what a member
answers and to what it shows: task ids retagged, cursors shown, tool
fingerprints, an endpoint's mode, a tool error as the model sees it, and
why a withheld tool's name is not callable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.session import AggregateSession
from mcpgateway.core.aggregate.types import TASKS_SINCE, EndpointSpec, TaskTable
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.taskterms import RELATED_TASK
from mcpgateway.core.toolgate import PoolPins
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message


def tasksCapability(session: AggregateSession) -> dict[str, Any]:
    """The C{tasks} server capability the session is offered (empty before
    2025-11-25): task-augmented C{tools/call} (for the tools whose
    C{execution.taskSupport} allows it), C{tasks/list} and C{tasks/cancel}."""
    if session.protocolVersion < TASKS_SINCE:
        return {}
    return {"tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}}


def retagged(tasks: TaskTable, server: str, message: Message, key: str) -> Message:
    """C{message} with the related-task tag (C{_meta} L{RELATED_TASK}) of
    its C{key} (C{"params"} or C{"result"}) naming the session's id of the
    task C{server}'s child names; without the tag when the task is not one
    the session keeps (a child's id is never shown)."""
    payload = message.get(key)
    meta = payload.get("_meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or RELATED_TASK not in meta:
        return message
    assert isinstance(payload, dict)
    tag = meta[RELATED_TASK]
    taskId = tasks.idOf(server, tag.get("taskId")) if isinstance(tag, dict) else None
    kept = {name: value for name, value in meta.items() if name != RELATED_TASK}
    if taskId is not None:
        assert isinstance(tag, dict)
        kept[RELATED_TASK] = {**tag, "taskId": taskId}
    payload = {name: value for name, value in payload.items() if name != "_meta"}
    if kept:
        payload["_meta"] = kept
    return {**message, key: payload}


def shownCursor(cursor: Any) -> str:
    """A client's cursor as an error may quote it (short, one line)."""
    text = cursor if isinstance(cursor, str) else jsonrpc.dumps(cursor).decode("utf-8", "replace")
    text = repr(text[:40] + ("…" if len(text) > 40 else ""))
    return text


def fingerprints(view: View) -> dict[str, str]:
    return dict(view.fingerprints)


def withMode(spec: EndpointSpec, mode: str) -> EndpointSpec:
    from dataclasses import replace

    shield = replace(spec.shield, enabled=True) if mode == "search" else spec.shield
    return replace(spec, mode=mode, shield=shield)


def toolError(error: Mapping[str, Any]) -> Exception:
    from mcpgateway.core.aggregate.tools import ToolCallError

    return ToolCallError(
        int(error.get("code", jsonrpc.INTERNAL_ERROR)), str(error.get("message", ""))
    )


def withheldReason(
    namer: Namer, pools: Mapping[str, PoolPins], view: View, name: str
) -> str | None:
    """Why C{name}, which the view does not list, is not callable when it
    names a member's tool its pins withhold (L{mcpgateway.core.toolgate}):
    the policy's reason, which names the command that approves it;
    C{None} when it names none."""
    for server, member in view.members.items():
        pool = pools.get(server)
        pins = pool.toolPins if pool is not None else None
        if pool is None or pins is None:
            continue
        for original in pins.withheld(pool.spec):
            if name in (original, namer.name(server, original, member.filter.alias)):
                return pins.refusal(pool.spec, original)
    return None
