"""The name an entry chooses (C{"serverInfo"}) is the name clients see on
its routes: the shared, per-session and 2026-07-28 answers, handshake children
and 2026 ones; the catalog keeps the child's own."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.identity import presentedInfo, presentedResult
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import era2026form, jsonrpc
from tests.fakes import FakeProcessReactor, FakeSession, RecordingSink, fakeSpawner
from tests.support.core.pools.pool import sharedOf

Message = dict[str, Any]

PLAIN = ServerSpec(name="srv", command="srv", executable="/bin/srv", requestTimeout=10.0)
CHOSEN = dataclasses.replace(PLAIN, displayName="Team search", displayTitle="Search (staging)")
CHILD_INFO = {"name": "child", "version": "9", "title": "Child"}
SHOWN_INFO = {"name": "Team search", "version": "9", "title": "Search (staging)"}
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": CHILD_INFO,
}
DISCOVER = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {"tools": {}},
    "_meta": {era2026form.SERVER_INFO_KEY: CHILD_INFO},
    "ttlMs": 0,
    "cacheScope": "public",
}


def clientInitialize(requestId: Any) -> Message:
    return jsonrpc.request(
        requestId,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c"}},
    )


def era2026(clientId: Any, method: str, params: dict[str, Any] | None = None) -> Era2026Request:
    return Era2026Request(clientId=clientId, method=method, params=params or {}, capabilities={})


def test_nothing_chosen_leaves_the_childs_answer_as_it_is() -> None:
    assert presentedResult(INIT_RESULT, PLAIN) is INIT_RESULT
    assert presentedInfo(CHILD_INFO, PLAIN) is CHILD_INFO


def test_a_chosen_name_replaces_the_childs_and_keeps_the_rest() -> None:
    named = dataclasses.replace(PLAIN, displayName="Team search")
    shown = presentedResult(INIT_RESULT, named)
    assert shown["serverInfo"] == {**CHILD_INFO, "name": "Team search"}
    assert shown["capabilities"] == INIT_RESULT["capabilities"]
    assert INIT_RESULT["serverInfo"] == CHILD_INFO  # the child's answer is not changed
    assert presentedResult(INIT_RESULT, CHOSEN)["serverInfo"] == SHOWN_INFO


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_a_child_without_a_server_info_object_still_gets_the_chosen_name(info: Any) -> None:
    shown = presentedInfo(info, CHOSEN)
    assert shown["name"] == "Team search"
    assert shown["title"] == "Search (staging)"


class PoolTests(SynchronousTestCase):
    def pool(self, mode: str) -> Any:
        self.reactor = FakeProcessReactor()
        pool = makePool(dataclasses.replace(CHOSEN, mode=mode), fakeSpawner(self.reactor))
        assert isinstance(pool, ServerPool) and isinstance(
            pool.placement, (SharedPlacement, SessionPlacement)
        )
        return pool

    def test_a_shared_childs_sessions_see_the_chosen_name(self) -> None:
        pool = self.pool("stateless")
        d = pool.open(FakeSession("a"), clientInitialize(0))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        self.assertEqual(self.successResultOf(d)["result"]["serverInfo"], SHOWN_INFO)
        late = self.successResultOf(pool.open(FakeSession("b"), clientInitialize(1)))
        self.assertEqual(late["result"]["serverInfo"], SHOWN_INFO)
        shared = sharedOf(pool).shared
        assert shared is not None
        self.assertEqual(shared.childInitializeResult, INIT_RESULT)

    def test_a_sessions_own_child_is_shown_by_the_chosen_name(self) -> None:
        pool = self.pool("stateful")
        session = FakeSession("a")
        d = pool.open(session, clientInitialize(0))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        self.assertEqual(self.successResultOf(d)["result"]["serverInfo"], SHOWN_INFO)
        upstream = pool.upstreamFor(session)
        assert upstream is not None
        self.assertEqual(upstream.sessionInitializeResult, INIT_RESULT)  # the catalog's


class Era2026Tests(SynchronousTestCase):
    def test_discover_and_answers_of_a_handshake_child_carry_the_chosen_name(self) -> None:
        reactor = FakeProcessReactor()
        gateway = Gateway({"srv": CHOSEN}, fakeSpawner(reactor))
        d = gateway.era2026Call("srv", era2026(1, "server/discover"), RecordingSink())
        proc = reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        found = self.successResultOf(d)["result"]
        self.assertEqual(found["_meta"], {era2026form.SERVER_INFO_KEY: SHOWN_INFO})
        listed = gateway.era2026Call("srv", era2026(2, "tools/list"), RecordingSink())
        [forwarded] = [m for m in proc.takeMessages() if m.get("method") == "tools/list"]
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        meta = self.successResultOf(listed)["result"]["_meta"]
        self.assertEqual(meta[era2026form.SERVER_INFO_KEY], SHOWN_INFO)

    def test_a_era2026_childs_own_server_info_is_replaced_everywhere(self) -> None:
        reactor = FakeProcessReactor()
        spec = dataclasses.replace(CHOSEN, era="era2026")
        gateway = Gateway({"srv": spec}, fakeSpawner(reactor))
        _session, opened = gateway.opener.openSession("srv", clientInitialize(0), "2025-11-25")
        proc = reactor.lastProcess
        [probe] = proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(probe["id"], DISCOVER))
        reactor.advance(0)
        self.assertEqual(
            self.successResultOf(opened)["result"]["serverInfo"]["name"], "Team search"
        )
        proc.takeMessages()
        listed = gateway.era2026Call("srv", era2026(2, "tools/list"), RecordingSink())
        [forwarded] = [m for m in proc.takeMessages() if m.get("method") == "tools/list"]
        answer = {**DISCOVER, "tools": [], "_meta": {era2026form.SERVER_INFO_KEY: CHILD_INFO}}
        del answer["supportedVersions"], answer["capabilities"]
        proc.reply(jsonrpc.resultResponse(forwarded["id"], answer))
        meta = self.successResultOf(listed)["result"]["_meta"]
        self.assertEqual(meta[era2026form.SERVER_INFO_KEY]["name"], "Team search")
