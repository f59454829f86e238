"""The wire to a child that speaks only MCP 2026-07-28: envelopes made for
handshake sessions, what the adapter answers itself, the upstream listen, the
reverse bridge (a child's InputRequiredResult as real requests on a handshake
session's stream, then the retry), 2026 clients passed through with their
requestState sealed, and the pure helpers. A real router and fanout, a
recording child, a fake clock."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.child import RELISTEN_DELAY
from mcpgateway.core.era2026.mrtr import bindingOf
from mcpgateway.core.era2026.reversebridge import MAX_ROUNDS, STATE_ONLY_DELAY
from mcpgateway.core.era2026.translate import (
    era2026Capabilities,
    era2026Only,
    handshakeResult,
    initializeResultOf,
)
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.requeststate import INVALID_STATE, Binding, StateError, StateWrapper
from tests.fakes import FakeProcessReactor, FakeSession, RecordingSink, fakeSpawner
from tests.support.core.era2026.era2026child import (
    DISCOVER,
    GATEWAY_INFO,
    SERVER_INFO,
    AdapterCase,
    Message,
    complete,
)

PV = era2026form.PROTOCOL_VERSION_KEY
CAPS = era2026form.CAPABILITIES_KEY
INFO = era2026form.CLIENT_INFO_KEY
LEVEL = era2026form.LOG_LEVEL_KEY
FORM = {"mode": "form", "message": "Sure?", "requestedSchema": {"type": "object"}}
ELICIT = {"method": "elicitation/create", "params": FORM}
SAMPLE = {
    "method": "sampling/createMessage",
    "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "2+2"}}]},
}


def inputRequired(requests: dict[str, Any], state: str | None = "st-1") -> dict[str, Any]:
    result: dict[str, Any] = {"resultType": "input_required", "inputRequests": requests}
    if state is not None:
        result["requestState"] = state
    return result


class EnvelopeTests(AdapterCase):
    def test_a_handshake_sessions_request_gets_an_envelope_made_from_the_session(self) -> None:
        self.session.logLevel = "info"
        d, _, sent = self.handshakeCall(token="tok")
        meta = sent["params"]["_meta"]
        self.assertEqual(meta[PV], "2026-07-28")
        self.assertEqual(
            meta[CAPS],
            {"roots": {}, "sampling": {}, "elicitation": {"form": {}, "url": {}}},
        )
        self.assertEqual(meta[INFO], {"name": "claude-ai", "version": "0.1.0"})
        self.assertEqual(meta[LEVEL], "info")
        self.assertEqual(meta["progressToken"], sent["id"])  # the router's token
        self.reply(jsonrpc.resultResponse(sent["id"], complete()))
        self.assertEqual(self.successResultOf(d)["id"], 3)

    def test_envelope_keys_a_handshake_client_sent_are_replaced(self) -> None:
        message = jsonrpc.request(
            1,
            "tools/list",
            {"_meta": {CAPS: {"sampling": {}}, PV: "1999-01-01", "custom": 1}},
        )
        self.router.request(self.session, message, None)
        [sent] = self.taken()
        meta = sent["params"]["_meta"]
        self.assertEqual(meta[PV], "2026-07-28")
        self.assertIn("elicitation", meta[CAPS])
        self.assertEqual(meta["custom"], 1)

    def test_the_gateways_own_requests_carry_its_envelope(self) -> None:
        self.router.call("tools/list")
        [sent] = self.taken()
        self.assertEqual(sent["params"]["_meta"], {PV: "2026-07-28", CAPS: {}, INFO: GATEWAY_INFO})

    def test_set_level_is_answered_here_and_goes_with_each_request(self) -> None:
        d = self.router.request(
            self.session, jsonrpc.request(1, "logging/setLevel", {"level": "debug"}), None
        )
        self.assertEqual(self.successResultOf(d), jsonrpc.resultResponse(1, {}))
        self.assertEqual(self.taken(), [])
        self.router.request(self.session, jsonrpc.request(2, "tools/list"), None)
        [sent] = self.taken()
        self.assertEqual(sent["params"]["_meta"][LEVEL], "debug")

    def test_a_session_ping_is_answered_here_and_a_gateway_ping_is_a_discover(self) -> None:
        d = self.router.request(self.session, jsonrpc.request(1, "ping"), None)
        self.assertEqual(self.successResultOf(d)["result"], {})
        self.assertEqual(self.taken(), [])
        self.router.call("ping")
        [probe] = self.taken()
        self.assertEqual(probe["method"], "server/discover")
        self.assertEqual(probe["params"]["_meta"][CAPS], {})

    def test_client_notifications_but_cancelled_are_dropped(self) -> None:
        self.router.clientNotification(
            self.session, jsonrpc.notification("notifications/roots/list_changed")
        )
        self.assertEqual(self.taken(), [])

    def test_a_request_of_the_child_is_refused_and_reaches_no_client(self) -> None:
        self.handshakeCall()
        self.reply(jsonrpc.request(7, "sampling/createMessage", {"messages": []}))
        [refusal] = self.taken()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (7, jsonrpc.METHOD_NOT_FOUND))
        self.assertEqual(self.session.delivered, [])
        self.assertEqual(self.adapter.refusedRequests, 1)

    def test_a_sessions_initialize_is_answered_from_discover(self) -> None:
        d = self.router.forward(
            self.session, jsonrpc.request(0, "initialize", {"protocolVersion": "2025-03-26"}), None
        )
        result = self.successResultOf(d)["result"]
        self.assertEqual(result["protocolVersion"], "2025-03-26")
        self.assertEqual(result["serverInfo"], SERVER_INFO)
        self.assertEqual(self.taken(), [])


class ResultTests(AdapterCase):
    def test_a_handshake_session_gets_a_2025_result(self) -> None:
        d, _, sent = self.handshakeCall()
        self.reply(
            jsonrpc.resultResponse(
                sent["id"],
                complete(structuredContent=[1, 2], _meta={"k": 1, **complete()["_meta"]}),
            )
        )
        result = self.successResultOf(d)["result"]
        self.assertEqual(
            result,
            {
                "content": [{"type": "text", "text": "done"}],
                "structuredContent": {"result": [1, 2]},
                "_meta": {"k": 1},
            },
        )

    def test_errors_reach_the_handshake_session_as_they_are(self) -> None:
        d, _, sent = self.handshakeCall()
        self.reply(jsonrpc.errorResponse(sent["id"], -32602, "bad arguments"))
        self.assertEqual(self.successResultOf(d)["error"]["message"], "bad arguments")


class ListenTests(AdapterCase):
    def test_the_upstream_listen_follows_the_lists_the_child_says_change(self) -> None:
        [listen] = self.listens
        self.assertTrue(listen["id"].startswith("mcpgw-"))
        self.assertEqual(
            listen["params"]["notifications"],
            {"toolsListChanged": True, "resourcesListChanged": True},
        )
        self.assertEqual(listen["params"]["_meta"][CAPS], {})

    def test_subscriptions_are_answered_here_and_their_union_is_listened_to(self) -> None:
        [first] = self.listens
        other = FakeSession("b")
        self.router.attach(other)
        for session, uri in (
            (self.session, "file:///a"),
            (other, "file:///a"),
            (other, "file:///b"),
        ):
            d = self.router.request(
                session, jsonrpc.request(1, "resources/subscribe", {"uri": uri}), None
            )
            self.assertEqual(self.successResultOf(d)["result"], {})
        self.clock.advance(0)
        sent = self.taken()
        listens = [m for m in sent if m.get("method") == "subscriptions/listen"]
        self.assertEqual(len(listens), 1)  # one listen for the three subscribes
        self.assertEqual(
            listens[0]["params"]["notifications"]["resourceSubscriptions"],
            ["file:///a", "file:///b"],
        )
        self.assertIn(
            jsonrpc.notification(
                "notifications/cancelled", {"requestId": first["id"], "reason": "listening again"}
            ),
            sent,
        )
        # The child's update reaches the subscribers of that URI, untagged.
        self.reply(
            jsonrpc.notification(
                "notifications/resources/updated",
                {
                    "uri": "file:///b",
                    "_meta": {era2026form.SUBSCRIPTION_ID_KEY: listens[0]["id"]},
                },
            )
        )
        self.assertEqual(self.session.delivered, [])
        self.assertEqual(
            other.delivered,
            [jsonrpc.notification("notifications/resources/updated", {"uri": "file:///b"})],
        )
        # The last unsubscribe of b: listened to again without it.
        self.router.request(
            other, jsonrpc.request(2, "resources/unsubscribe", {"uri": "file:///b"}), None
        )
        self.clock.advance(0)
        [again] = [m for m in self.taken() if m.get("method") == "subscriptions/listen"]
        self.assertEqual(again["params"]["notifications"]["resourceSubscriptions"], ["file:///a"])

    def test_list_changes_reach_every_session(self) -> None:
        [listen] = self.listens
        self.reply(
            jsonrpc.notification(
                "notifications/tools/list_changed",
                {"_meta": {era2026form.SUBSCRIPTION_ID_KEY: listen["id"]}},
            )
        )
        self.assertEqual(
            self.session.delivered, [jsonrpc.notification("notifications/tools/list_changed")]
        )

    def test_a_listen_the_child_ends_is_opened_again_after_a_while(self) -> None:
        [listen] = self.listens
        self.reply(jsonrpc.notification("notifications/cancelled", {"requestId": listen["id"]}))
        self.clock.advance(RELISTEN_DELAY - 0.01)
        self.assertEqual(self.taken(), [])
        self.clock.advance(0.01)
        [again] = self.taken()
        self.assertEqual(again["method"], "subscriptions/listen")
        # A graceful end too (the delay doubles until the child acknowledges).
        self.reply(jsonrpc.resultResponse(again["id"], {"resultType": "complete"}))
        self.clock.advance(RELISTEN_DELAY)
        self.assertEqual(self.taken(), [])
        self.clock.advance(RELISTEN_DELAY)
        [third] = self.taken()
        self.assertEqual(third["method"], "subscriptions/listen")

    def test_a_refused_listen_is_not_tried_again_until_the_subscriptions_change(self) -> None:
        [listen] = self.listens
        self.reply(jsonrpc.errorResponse(listen["id"], -32601, "no listen here"))
        self.clock.advance(120)
        self.assertEqual(self.taken(), [])
        self.router.request(
            self.session, jsonrpc.request(1, "resources/subscribe", {"uri": "file:///a"}), None
        )
        self.clock.advance(0)
        self.assertEqual([m["method"] for m in self.taken()], ["subscriptions/listen"])

    def test_a_child_without_subscribe_refuses_subscriptions(self) -> None:
        self.adapter.discovered({**DISCOVER, "capabilities": {"resources": {}}})
        d = self.router.request(
            self.session, jsonrpc.request(1, "resources/subscribe", {"uri": "file:///a"}), None
        )
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertEqual(self.router.fanout.subscriptions, {})  # type: ignore[attr-defined]


class ReverseBridgeTests(AdapterCase):
    def test_an_elicitation_round_trip_for_a_handshake_session(self) -> None:
        d, sink, first = self.handshakeCall(token="tok")
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT})))
        # A real request of the child, on the session's POST stream, without hints.
        [asked] = sink.messages
        self.assertEqual(asked["method"], "elicitation/create")
        self.assertEqual(asked["params"], FORM)
        self.assertIsInstance(asked["id"], int)  # the router's gateway id
        self.assertEqual(self.taken(), [])
        self.assertNoResult(d)
        answer = {"action": "accept", "content": {"ok": True}}
        self.assertTrue(
            self.router.clientResponse(self.session, jsonrpc.resultResponse(asked["id"], answer))
        )
        [retry] = self.taken()
        self.assertEqual(retry["method"], "tools/call")
        self.assertNotEqual(retry["id"], first["id"])
        self.assertTrue(retry["id"].startswith("mcpgw-"))
        params = retry["params"]
        self.assertEqual(params["name"], "book")
        self.assertEqual(params["arguments"], {"n": 1})
        self.assertEqual(params["inputResponses"], {"confirm": answer})
        self.assertEqual(params["requestState"], "st-1")
        self.assertEqual(params["_meta"]["progressToken"], first["id"])
        self.assertEqual(params["_meta"][PV], "2026-07-28")
        # Progress of the retry reaches the session with its own token.
        self.reply(
            jsonrpc.notification(
                "notifications/progress", {"progressToken": first["id"], "progress": 1}
            )
        )
        self.assertEqual(sink.messages[-1]["params"], {"progressToken": "tok", "progress": 1})
        self.reply(jsonrpc.resultResponse(retry["id"], complete()))
        response = self.successResultOf(d)
        self.assertEqual(response["id"], 3)
        self.assertEqual(response["result"], {"content": [{"type": "text", "text": "done"}]})
        self.assertEqual(self.adapter.inputRounds, 1)

    def test_every_question_of_a_round_is_answered_before_the_retry(self) -> None:
        _d, sink, first = self.handshakeCall()
        self.reply(
            jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT, "math": SAMPLE}))
        )
        asked = {m["method"]: m for m in sink.messages}
        self.assertEqual(set(asked), {"elicitation/create", "sampling/createMessage"})
        sampled = {"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"}
        self.router.clientResponse(
            self.session,
            jsonrpc.resultResponse(asked["sampling/createMessage"]["id"], sampled),
        )
        self.assertEqual(self.taken(), [])  # still one to go
        self.router.clientResponse(
            self.session,
            jsonrpc.resultResponse(asked["elicitation/create"]["id"], {"action": "decline"}),
        )
        [retry] = self.taken()
        self.assertEqual(
            retry["params"]["inputResponses"],
            {"math": sampled, "confirm": {"action": "decline"}},
        )

    def test_rounds_follow_each_other_with_the_childs_new_state(self) -> None:
        d, sink, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"a": ELICIT}, "s1")))
        self.router.clientResponse(
            self.session, jsonrpc.resultResponse(sink.messages[-1]["id"], {"action": "accept"})
        )
        [retry] = self.taken()
        self.reply(jsonrpc.resultResponse(retry["id"], inputRequired({"b": ELICIT}, "s2")))
        self.router.clientResponse(
            self.session, jsonrpc.resultResponse(sink.messages[-1]["id"], {"action": "cancel"})
        )
        [second] = self.taken()
        self.assertEqual(second["params"]["requestState"], "s2")
        self.assertEqual(second["params"]["inputResponses"], {"b": {"action": "cancel"}})
        self.reply(jsonrpc.resultResponse(second["id"], complete()))
        self.assertIn("result", self.successResultOf(d))

    def test_a_client_error_fails_the_call_and_withdraws_the_other_questions(self) -> None:
        d, sink, first = self.handshakeCall()
        self.reply(
            jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT, "math": SAMPLE}))
        )
        asked = {m["method"]: m for m in sink.messages}
        self.router.clientResponse(
            self.session,
            jsonrpc.errorResponse(asked["sampling/createMessage"]["id"], -1, "User rejected"),
        )
        response = self.successResultOf(d)
        self.assertEqual(response["error"], {"code": -1, "message": "User rejected"})
        self.assertEqual(self.taken(), [])  # nothing to retry
        # Withdrawn on the stream the question went on, ahead of the call's answer.
        withdrawn = [m for m in sink.messages if m.get("method") == "notifications/cancelled"]
        self.assertEqual(
            [m["params"]["requestId"] for m in withdrawn], [asked["elicitation/create"]["id"]]
        )
        self.assertEqual(self.session.delivered, [])
        self.assertFalse(self.router.asking(self.session, asked["elicitation/create"]["id"]))

    def test_a_question_the_session_cannot_answer_fails_the_call(self) -> None:
        self.session.capabilities = {}
        d, sink, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"math": SAMPLE})))
        self.assertEqual(sink.messages, [])
        response = self.successResultOf(d)
        self.assertEqual(response["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertIn("sampling", response["error"]["message"])

    def test_at_most_ten_rounds(self) -> None:
        d, sink, first = self.handshakeCall()
        current = first["id"]
        for round in range(MAX_ROUNDS):
            self.reply(jsonrpc.resultResponse(current, inputRequired({"a": ELICIT}, f"s{round}")))
            self.router.clientResponse(
                self.session, jsonrpc.resultResponse(sink.messages[-1]["id"], {"action": "accept"})
            )
            [retry] = self.taken()
            current = retry["id"]
        self.reply(jsonrpc.resultResponse(current, inputRequired({"a": ELICIT}, "s-last")))
        response = self.successResultOf(d)
        self.assertEqual(response["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIn("more than 10 times", response["error"]["message"])
        self.assertEqual(len(sink.messages), MAX_ROUNDS)

    def test_a_state_only_round_is_retried_after_a_back_off(self) -> None:
        _d, _, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({}, "wait")))
        self.assertEqual(self.taken(), [])
        self.clock.advance(STATE_ONLY_DELAY)
        [retry] = self.taken()
        self.assertEqual(retry["params"]["requestState"], "wait")
        self.assertNotIn("inputResponses", retry["params"])
        self.reply(jsonrpc.resultResponse(retry["id"], inputRequired({}, "wait")))
        self.clock.advance(STATE_ONLY_DELAY)
        self.assertEqual(self.taken(), [])  # doubled
        self.clock.advance(STATE_ONLY_DELAY)
        self.assertEqual(len(self.taken()), 1)

    def test_a_url_elicitation_gets_an_elicitation_id_for_2025(self) -> None:
        _, sink, first = self.handshakeCall()
        url = {
            "method": "elicitation/create",
            "params": {"mode": "url", "message": "go", "url": "https://x"},
        }
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"u": url})))
        [asked] = sink.messages
        self.assertEqual(asked["params"]["url"], "https://x")
        self.assertIsInstance(asked["params"]["elicitationId"], str)

    def test_an_older_session_gets_a_form_elicitation_without_mode(self) -> None:
        self.session.protocolVersion = "2025-06-18"
        _, sink, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT})))
        self.assertNotIn("mode", sink.messages[0]["params"])

    def test_a_cancel_while_the_client_is_asked_withdraws_the_questions(self) -> None:
        d, sink, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT})))
        self.router.clientNotification(
            self.session, jsonrpc.notification("notifications/cancelled", {"requestId": 3})
        )
        self.failureResultOf(d)
        self.assertEqual(self.taken(), [])  # the child's call was over already
        self.assertFalse(self.router.asking(self.session, sink.messages[0]["id"]))
        # A late answer goes nowhere.
        self.router.clientResponse(
            self.session, jsonrpc.resultResponse(sink.messages[0]["id"], {"action": "accept"})
        )
        self.assertEqual(self.taken(), [])

    def test_a_cancel_during_a_retry_cancels_the_retry_on_the_child(self) -> None:
        d, sink, first = self.handshakeCall()
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT})))
        self.router.clientResponse(
            self.session, jsonrpc.resultResponse(sink.messages[0]["id"], {"action": "accept"})
        )
        [retry] = self.taken()
        self.router.clientNotification(
            self.session,
            jsonrpc.notification("notifications/cancelled", {"requestId": 3, "reason": "bored"}),
        )
        self.failureResultOf(d)
        self.assertEqual(
            self.taken(),
            [
                jsonrpc.notification(
                    "notifications/cancelled", {"requestId": retry["id"], "reason": "bored"}
                )
            ],
        )
        self.reply(jsonrpc.resultResponse(retry["id"], complete()))  # late: dropped
        self.assertEqual(self.adapter.lateReplies, 1)

    def test_input_required_for_the_gateways_own_call_fails_it(self) -> None:
        d = self.router.call("tools/call", {"name": "book"})
        [sent] = self.taken()
        self.reply(jsonrpc.resultResponse(sent["id"], inputRequired({"confirm": ELICIT})))
        self.assertIn("gateway itself", self.successResultOf(d)["error"]["message"])

    def test_input_required_on_a_list_fails_it(self) -> None:
        d = self.router.request(self.session, jsonrpc.request(1, "tools/list"), RecordingSink())
        [sent] = self.taken()
        self.reply(jsonrpc.resultResponse(sent["id"], inputRequired({"confirm": ELICIT})))
        self.assertIn("during tools/list", self.successResultOf(d)["error"]["message"])

    def test_a_malformed_input_required_fails_the_call(self) -> None:
        d, sink, first = self.handshakeCall()
        self.reply(
            jsonrpc.resultResponse(first["id"], inputRequired({"x": {"method": "tasks/get"}}))
        )
        self.assertIn("malformed", self.successResultOf(d)["error"]["message"])
        self.assertEqual(sink.messages, [])


def era2026(method: str = "tools/call", **fields: Any) -> Era2026Request:
    params = fields.pop("params", {"name": "book", "arguments": {"n": 1}})
    return Era2026Request(
        clientId=fields.pop("clientId", "c-1"),
        method=method,
        params=params,
        capabilities=fields.pop("capabilities", {"elicitation": {}}),
        clientInfo=fields.pop("clientInfo", {"name": "pinned", "version": "1"}),
        **fields,
    )


class PassThroughTests(AdapterCase):
    def call(
        self, request: Era2026Request, scope: str = "public"
    ) -> tuple[Deferred[Message], RecordingSink, list[Message]]:
        sink = RecordingSink()
        d = self.adapter.serveEra2026(request, sink, SERVER_INFO, scope)
        return d, sink, self.taken()

    def test_the_clients_envelope_goes_to_the_child(self) -> None:
        _d, _, [sent] = self.call(
            era2026(logLevel="warning", params={"name": "x", "_meta": {"progressToken": 5}})
        )
        meta = sent["params"]["_meta"]
        self.assertEqual(meta[CAPS], {"elicitation": {}})
        self.assertEqual(meta[INFO], {"name": "pinned", "version": "1"})
        self.assertEqual(meta[LEVEL], "warning")
        self.assertEqual(meta["progressToken"], sent["id"])
        self.assertNotIn("inputResponses", sent["params"])

    def test_the_tasks_extension_is_not_passed_on(self) -> None:
        caps: dict[str, Any] = {
            "extensions": {"io.modelcontextprotocol/tasks": {}, "x": {}},
            "sampling": {},
        }
        _, _, [sent] = self.call(era2026(capabilities=caps))
        self.assertEqual(sent["params"]["_meta"][CAPS], {"extensions": {"x": {}}, "sampling": {}})

    def test_input_required_passes_with_its_state_sealed_and_the_retry_opens_it(self) -> None:
        d, _, [first] = self.call(era2026())
        self.reply(
            jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT}, "child-st"))
        )
        result = self.successResultOf(d)["result"]
        self.assertEqual(result["resultType"], "input_required")
        self.assertEqual(result["inputRequests"], {"confirm": ELICIT})
        self.assertNotEqual(result["requestState"], "child-st")
        self.assertEqual(result["_meta"], {era2026form.SERVER_INFO_KEY: SERVER_INFO})
        answers = {"confirm": {"action": "accept"}}
        d2, _, [retry] = self.call(
            era2026(clientId="c-2", inputResponses=answers, requestState=result["requestState"])
        )
        self.assertEqual(retry["params"]["requestState"], "child-st")
        self.assertEqual(retry["params"]["inputResponses"], answers)
        self.reply(jsonrpc.resultResponse(retry["id"], complete()))
        done = self.successResultOf(d2)
        self.assertEqual(done["id"], "c-2")
        self.assertEqual(done["result"]["resultType"], "complete")

    def test_a_state_for_another_call_never_reaches_the_child(self) -> None:
        d, _, [first] = self.call(era2026())
        self.reply(jsonrpc.resultResponse(first["id"], inputRequired({"confirm": ELICIT}, "st")))
        token = self.successResultOf(d)["result"]["requestState"]
        for other in (
            era2026(params={"name": "book", "arguments": {"n": 2}}, requestState=token),
            era2026(params={"name": "other", "arguments": {"n": 1}}, requestState=token),
            era2026(requestState=token, scope="ws"),
            era2026(requestState=token, credentialKey="someone-else"),
            era2026(requestState=token + "-TAMPERED"),
        ):
            refused, _, sent = self.call(other)
            self.assertEqual(sent, [])
            error = self.successResultOf(refused)["error"]
            self.assertEqual(
                (error["code"], error["message"]), (jsonrpc.INVALID_PARAMS, INVALID_STATE)
            )

    def test_the_childs_cache_hints_are_kept_and_private_stays_private(self) -> None:
        d, _, [sent] = self.call(era2026("tools/list", params={}))
        self.reply(
            jsonrpc.resultResponse(
                sent["id"],
                {"resultType": "complete", "tools": [], "ttlMs": 900, "cacheScope": "public"},
            )
        )
        result = self.successResultOf(d)["result"]
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (900, "public"))
        d, _, [sent] = self.call(era2026("tools/list", params={}), scope="private")
        self.reply(
            jsonrpc.resultResponse(sent["id"], {"resultType": "complete", "tools": [], "ttlMs": -1})
        )
        result = self.successResultOf(d)["result"]
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (0, "private"))

    def test_results_the_gateway_cannot_serve_are_errors(self) -> None:
        d, _, [sent] = self.call(era2026("tools/list", params={}))
        self.reply(jsonrpc.resultResponse(sent["id"], inputRequired({"confirm": ELICIT})))
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.INTERNAL_ERROR)
        d, _, [sent] = self.call(era2026())
        self.reply(jsonrpc.resultResponse(sent["id"], {"resultType": "task", "task": {}}))
        self.assertIn("'task'", self.successResultOf(d)["error"]["message"])

    def test_progress_reaches_the_request_with_the_clients_token(self) -> None:
        _d, sink, [sent] = self.call(era2026(params={"name": "x", "_meta": {"progressToken": "p"}}))
        self.reply(
            jsonrpc.notification(
                "notifications/progress", {"progressToken": sent["id"], "progress": 2}
            )
        )
        self.assertEqual(sink.messages[-1]["params"], {"progressToken": "p", "progress": 2})

    def test_a_disconnect_cancels_the_request_on_the_child(self) -> None:
        d, _, [sent] = self.call(era2026())
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(
            self.taken(),
            [jsonrpc.notification("notifications/cancelled", {"requestId": sent["id"]})],
        )


class GatewayTests(SynchronousTestCase):
    """Through a real gateway and pool: discover for 2026 clients and
    initialize for handshake ones come from the child's discover; a 2026
    call passes through the pool to the adapter, not the MRTR bridge."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        spec = ServerSpec(name="srv", command="srv", executable="/bin/srv", era="era2026")
        self.gateway = Gateway({"srv": spec}, fakeSpawner(self.reactor))

    def discovered(self) -> list[Message]:
        """Answer the child's discover; what it got next but its listen."""
        proc = self.reactor.lastProcess
        [probe] = proc.takeMessages()
        self.assertEqual(probe["method"], "server/discover")
        proc.reply(jsonrpc.resultResponse(probe["id"], DISCOVER))
        self.reactor.advance(0)
        return [m for m in proc.takeMessages() if m["method"] != "subscriptions/listen"]

    def test_handshake_initialize_and_era2026_discover(self) -> None:
        _session, opened = self.gateway.opener.openSession(
            "srv", jsonrpc.request(0, "initialize", {"capabilities": {}}), "2025-11-25"
        )
        self.discovered()
        result = self.successResultOf(opened)["result"]
        self.assertEqual(result["serverInfo"], SERVER_INFO)
        self.assertEqual(result["instructions"], "era2026 only")
        self.assertNotIn("extensions", result["capabilities"])
        found = self.successResultOf(
            self.gateway.era2026Call("srv", era2026("server/discover", params={}), RecordingSink())
        )
        self.assertEqual(found["result"]["supportedVersions"], ["2026-07-28"])
        self.assertEqual(found["result"]["_meta"], {era2026form.SERVER_INFO_KEY: SERVER_INFO})

    def test_a_era2026_call_passes_through(self) -> None:
        d = self.gateway.era2026Call("srv", era2026(), RecordingSink())
        [sent] = self.discovered()
        self.assertEqual(sent["params"]["_meta"][CAPS], {"elicitation": {}})
        self.reactor.lastProcess.reply(
            jsonrpc.resultResponse(sent["id"], inputRequired({"confirm": ELICIT}, "child-st"))
        )
        result = self.successResultOf(d)["result"]
        self.assertTrue(result["requestState"].startswith("m1."))
        self.assertEqual(self.gateway.era2026Stats("srv").suspendedCalls, 0)  # nothing kept


class HelperTests(SynchronousTestCase):
    def test_era2026_only_refusals(self) -> None:
        def refusal(supported: Any) -> dict[str, Any]:
            return {"code": -32022, "message": "x", "data": {"supported": supported}}

        self.assertEqual(era2026Only(refusal(["2026-07-28"])), ("2026-07-28",))
        self.assertEqual(
            era2026Only(refusal(["2027-01-01", "2026-07-28"])), ("2027-01-01", "2026-07-28")
        )
        for other in (
            refusal(["2026-07-28", "2025-11-25"]),
            refusal(["2024-10-07"]),
            refusal([]),
            refusal("2026-07-28"),
            {"code": -32602, "data": {"supported": ["2026-07-28"]}},
            None,
        ):
            self.assertIsNone(era2026Only(other), other)

    @settings(max_examples=200, deadline=None)
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
            max_leaves=20,
        )
    )
    def test_era2026_only_never_raises(self, value: Any) -> None:
        found = era2026Only({"code": -32022, "data": {"supported": value}})
        self.assertTrue(found is None or all(isinstance(v, str) for v in found))
        era2026Only(value)

    def test_capabilities_for_a_era2026_child(self) -> None:
        self.assertEqual(
            era2026Capabilities(
                {"roots": {"listChanged": True}, "tasks": {}, "sampling": {"tools": {}}, "x": 1}
            ),
            {"roots": {}, "sampling": {"tools": {}}},
        )

    def test_an_initialize_result_from_a_discover(self) -> None:
        self.assertEqual(
            initializeResultOf({"capabilities": {"tools": {}, "extensions": {}}}, "srv"),
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "srv", "version": "unknown"},
            },
        )

    def test_a_tool_list_for_2025(self) -> None:
        result = handshakeResult(
            "tools/list",
            {
                "resultType": "complete",
                "ttlMs": 1,
                "cacheScope": "public",
                "tools": [
                    {"name": "a", "outputSchema": {"type": "array"}},
                    {"name": "b", "outputSchema": {"type": "object"}},
                    "junk",
                ],
            },
        )
        self.assertEqual(
            result,
            {
                "tools": [
                    {
                        "name": "a",
                        "outputSchema": {
                            "type": "object",
                            "properties": {"result": {"type": "array"}},
                            "required": ["result"],
                        },
                    },
                    {"name": "b", "outputSchema": {"type": "object"}},
                    "junk",
                ]
            },
        )


BINDING = Binding("srv", "", "tools/call", "book", b"d" * 32)


class StateWrapperTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.wrapper = StateWrapper(b"k" * 32)

    @settings(max_examples=100, deadline=None)
    @given(st.text())
    def test_any_state_round_trips(self, state: str) -> None:
        self.assertEqual(self.wrapper.unwrap(self.wrapper.wrap(state, BINDING), BINDING), state)

    def test_every_binding_field_counts(self) -> None:
        token = self.wrapper.wrap("st", BINDING)
        changes: tuple[tuple[str, str | bytes], ...] = (
            ("server", "other"),
            ("route", "ws"),
            ("method", "prompts/get"),
            ("target", "x"),
            ("argsDigest", b"e" * 32),
            ("principal", "p"),
        )
        for field, value in changes:
            with self.assertRaises(StateError):
                self.wrapper.unwrap(token, dataclasses.replace(BINDING, **{field: value}))  # type: ignore[arg-type]
        with self.assertRaises(StateError):
            StateWrapper(b"j" * 32).unwrap(token, BINDING)

    def test_every_tampering_is_refused(self) -> None:
        token = self.wrapper.wrap("child-state", BINDING)
        for i in range(len(token)):
            for replacement in "A_":
                forged = token[:i] + replacement + token[i + 1 :]
                if forged == token:
                    continue
                with self.assertRaises(StateError):
                    self.wrapper.unwrap(forged, BINDING)
        for forged in (
            token + "-TAMPERED",
            token[:-1],
            "v1.abc",
            "",
            "m1.",
            "m1." + "A" * (2 << 20),
        ):
            with self.assertRaises(StateError):
                self.wrapper.unwrap(forged, BINDING)

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    def test_any_string_it_did_not_wrap_is_a_state_error(self, token: str) -> None:
        """Whatever the string, it is refused with L{StateError} (nothing
        else escapes), and never taken for a state: only C{wrap} makes one."""
        with self.assertRaises(StateError):
            self.wrapper.unwrap(token, BINDING)

    def test_the_binding_of_a_request(self) -> None:
        request = era2026(scope="ws", credentialKey="ck")
        binding = bindingOf("srv", request)
        self.assertEqual((binding.route, binding.target), ("ws/c:ck", "book"))
        self.assertEqual(json.loads(json.dumps(binding.method)), "tools/call")
