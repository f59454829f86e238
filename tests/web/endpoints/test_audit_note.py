"""The audit record of a request that failed carries the
JSON-RPC code its client was answered with (C{-32000} for a server's
failure, not C{-32603}, the gateway's own defect), an C{initialize}
that opened no session names none, and a request of an aggregate endpoint
names the member request it resolved to."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.memberpolicy import MemberCall
from mcpgateway.core.decision import ALLOWED, Decision
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.endpoints.auditnote import AuditNote, shortName
from tests.support.web.team_web import TeamHarness, call, initializeOfACrash


def test_a_failed_initialize_is_audited_with_the_code_answered_and_no_session() -> None:
    h = TeamHarness()
    error = initializeOfACrash(h, "alice")
    [record] = h.audit.records
    assert (record.method, record.outcome, record.code) == (
        "initialize",
        "error",
        error["code"],
    )
    assert record.code == jsonrpc.SERVER_UNAVAILABLE
    assert record.session is None  # its client got no Mcp-Session-Id


def test_an_initialize_that_opened_a_session_names_it() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    [record] = h.audit.records
    assert (record.outcome, record.code, record.session) == ("ok", None, shortId(sid))


def test_a_request_whose_child_cannot_start_is_audited_with_the_code_answered() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    h.process().exit(3)
    response = call(h, sid, 2)
    h.reactor.advance(1.0)  # a new child is started for it after a pause, and exits at once
    h.process().exit(3)
    assert response.complete
    [answer] = response.events()
    assert answer["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
    record = h.audit.records[-1]
    assert (record.method, record.outcome, record.code, record.session) == (
        "tools/call",
        "error",
        jsonrpc.SERVER_UNAVAILABLE,
        shortId(sid),
    )


def test_each_failure_is_noted_with_the_code_its_client_gets() -> None:
    for error, outcome, code in (
        (ServerUnavailable("server 'x' exited with code 3"), "error", jsonrpc.SERVER_UNAVAILABLE),
        (SessionGone("gone"), "error", jsonrpc.SERVER_UNAVAILABLE),
        (RuntimeError("a defect"), "error", jsonrpc.INTERNAL_ERROR),
        (CancelledError(), "cancelled", None),
    ):
        note = AuditNote(0.0)
        reason = Failure(error)
        assert note.failed(reason) is reason
        assert (note.outcome, note.code) == (outcome, code), error


def test_a_session_without_a_short_id_is_named_by_the_hash_not_a_prefix() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    bare = cast(Session, SimpleNamespace(id=secret))
    assert shortName(bare) == shortId(secret)
    assert shortName(bare) not in secret


def test_a_member_request_is_noted_with_its_first_refusal() -> None:
    """An aggregate request names the member request it resolved to; a
    batch names its own endpoint, and keeps its first refusal."""
    note = AuditNote(0.0)
    note.message({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "a__x"}})
    refused = Decision("denied", ("no-x",), "refused")
    note.memberDecided(MemberCall("tools/call", "a", "x"), ALLOWED)
    assert (note.member, note.decision) == (("a", "tools/call", "x"), None)
    note.memberDecided(MemberCall("tools/call", "a", "x"), refused)
    note.memberDecided(MemberCall("tools/call", "b", "y"), Decision("denied", ("other",)))
    assert (note.member, note.decision) == (("b", "tools/call", "y"), refused)
    batch = AuditNote(0.0)
    batch.message([{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}])
    batch.memberDecided(MemberCall("tools/call", "a", "x"), refused)
    assert (batch.member, batch.decision) == (None, refused)
