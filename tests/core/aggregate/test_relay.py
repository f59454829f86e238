"""The aggregate's relay between a client and its members
(L{mcpgateway.core.aggregate.relay.MemberRelay}), on its own: what crosses
is re-keyed per aggregate session."""

from __future__ import annotations

from typing import Any, cast

from mcpgateway.core.aggregate.relay import MemberRelay
from mcpgateway.core.aggregate.session import AggregateSession, MemberSession, idKey
from mcpgateway.protocol import jsonrpc
from tests.fakes import RecordingSink
from tests.support.core.aggregate.relay import FakePool, member, session


def alphaOnly() -> tuple[MemberRelay, AggregateSession, MemberSession]:
    """A relay, an aggregate session and its one member, of server C{alpha}."""
    relay = MemberRelay()
    parent = session()
    return relay, parent, member(relay, parent, "alpha")


def poolOf(member: MemberSession) -> FakePool:
    return cast(FakePool, member.pool)


def test_two_members_asking_request_1_get_ids_of_the_session_own() -> None:
    relay = MemberRelay()
    parent = session()
    alpha, beta = member(relay, parent, "alpha"), member(relay, parent, "beta")
    sink = RecordingSink()
    asking = jsonrpc.request(1, "sampling/createMessage", {})
    assert relay.fromChild(alpha, asking, sink)
    assert relay.fromChild(beta, asking, sink)
    first, second = (m["id"] for m in sink.messages)
    assert first != second
    assert relay.answer(parent, jsonrpc.resultResponse(second, {"ok": True}))
    assert poolOf(beta).answered == [(beta, jsonrpc.resultResponse(1, {"ok": True}))]
    assert poolOf(alpha).answered == []


def test_an_answer_the_session_was_never_asked_for_is_refused() -> None:
    relay, parent, alpha = alphaOnly()
    assert not relay.answer(parent, jsonrpc.resultResponse(1, {}))
    assert poolOf(alpha).answered == []


def test_a_question_no_stream_took_is_forgotten() -> None:
    relay, parent, alpha = alphaOnly()
    refusing = RecordingSink(accept=False)
    assert not relay.fromChild(alpha, jsonrpc.request(1, "roots/list", {}), refusing)
    assert parent.asks == {}


def test_a_childs_list_changed_is_the_aggregates_to_send() -> None:
    relay, _, alpha = alphaOnly()
    sink = RecordingSink()
    changed = jsonrpc.notification("notifications/tools/list_changed")
    assert relay.fromChild(alpha, changed, sink)
    assert sink.messages == []


def test_the_status_of_a_task_the_session_did_not_create_is_dropped() -> None:
    relay, _, alpha = alphaOnly()
    sink = RecordingSink()
    status = jsonrpc.notification("notifications/tasks/status", {"taskId": "child-task"})
    assert relay.fromChild(alpha, status, sink)
    assert sink.messages == []


def test_a_childs_log_message_names_its_server() -> None:
    relay, _, alpha = alphaOnly()
    sink = RecordingSink()
    logged = jsonrpc.notification("notifications/message", {"level": "info", "data": "x"})
    assert relay.fromChild(alpha, logged, sink)
    params: dict[str, Any] = sink.messages[0]["params"]
    assert params["logger"] == "alpha"


def test_a_clients_cancel_goes_to_the_member_its_request_went_to_only() -> None:
    relay = MemberRelay()
    parent = session()
    alpha, beta = member(relay, parent, "alpha"), member(relay, parent, "beta")
    parent.inflight[idKey(7)] = beta
    cancel = jsonrpc.notification("notifications/cancelled", {"requestId": 7})
    relay.notify(parent, cancel)
    relay.notify(parent, jsonrpc.notification("notifications/cancelled", {"requestId": 8}))
    assert poolOf(beta).notified == [(beta, cancel)]
    assert poolOf(alpha).notified == []


def test_a_childs_resource_update_names_its_uri_as_the_aggregate_shows_it() -> None:
    relay, _, alpha = alphaOnly()
    sink = RecordingSink()
    for uri in ("ui://clock/app.html", "skill://refunds/SKILL.md", "file:///a.txt"):
        updated = jsonrpc.notification("notifications/resources/updated", {"uri": uri})
        assert relay.fromChild(alpha, updated, sink)
    assert [m["params"]["uri"] for m in sink.messages] == [
        "ui://alpha/clock/app.html",
        "skill://alpha/refunds/SKILL.md",
        "file:///a.txt",
    ]
