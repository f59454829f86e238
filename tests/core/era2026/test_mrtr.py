"""The MRTR bridge: 2026 calls on a handshake child, their rounds, tokens,
capability checks, TTL, progress, logs, and how the router attributes a
child's questions when 2026 calls are in flight."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.mrtr import COALESCE, MAX_OUTSTANDING, InputBridge
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.requeststate import INVALID_STATE, StateCodec
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs, scheduled
from tests.support.core.era2026.mrtr import (
    ACCEPT,
    ALL_CAPS,
    ARGS,
    ELICIT,
    TIMEOUT,
    BridgeCase,
    Message,
    ok,
)
from tests.support.json_values import jsonScalars, jsonValues

SAMPLE = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}
FORM_ELICITATION = {"method": "elicitation/create", "params": {**ELICIT, "mode": "form"}}
"""The elicitation the client is asked, as the gateway words it (form mode)."""
SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}


def progress(token: Any, value: int) -> Message:
    return jsonrpc.notification(
        "notifications/progress", {"progressToken": token, "progress": value, "total": 100}
    )


class RoundTripTests(BridgeCase):
    def suspendOnBoth(self) -> str:
        """Call 7 suspended on an elicitation (child id 5) and a sampling
        (child id 6) asked in one round: the token."""
        d, _, _ = self.call(7)
        self.ask(5)
        self.ask(6, "sampling/createMessage", SAMPLE)
        self.clock.advance(COALESCE)
        _, state = self.inputRequired(d, 7)
        return state

    def test_one_elicitation_round_trip(self) -> None:
        """The child's call runs on under one child id; its question goes
        out as an input request; the answer reaches it under its own id; the
        final answer carries the retry's id."""
        d1, sink1, call = self.call(7, token=7)
        assert call is not None
        childId = call["id"]
        self.assertEqual(call["method"], "tools/call")
        self.assertEqual(call["params"]["name"], "book")
        self.assertEqual(call["params"]["arguments"], ARGS)
        self.assertEqual(call["params"]["_meta"], {"progressToken": childId})
        self.ask(5)
        self.assertNoResult(d1)
        self.clock.advance(COALESCE)
        requests, state = self.inputRequired(d1, 7)
        self.assertEqual(
            requests,
            {"elicitation-1": FORM_ELICITATION},
        )
        self.assertTrue(state.startswith("v1."))
        self.assertEqual(self.bridge.suspended(), 1)
        self.assertEqual(self.bridge.inputRounds, 1)
        self.assertEqual(self.take(), [])

        d2, sink2, _ = self.call(8, token=8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(self.sent, [])  # the child got the answer (taken by call())
        self.assertEqual(self.bridge.suspended(), 0)
        self.router.childMessage(progress(childId, 50))
        self.router.childMessage(ok(childId, {"content": [{"type": "text", "text": "booked"}]}))
        self.assertEqual(
            self.successResultOf(d2), ok(8, {"content": [{"type": "text", "text": "booked"}]})
        )
        self.assertEqual(sink2.messages, [progress(8, 50)])
        self.assertEqual(sink1.messages, [])
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(scheduled(self.clock), [])

    def test_the_answer_goes_to_the_child_under_its_own_id(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        sink = RecordingSink()
        self.bridge.call(
            self.router,
            self.request(
                8, state=state, responses={"elicitation-1": {**ACCEPT, "resultType": "x"}}
            ),
            sink,
        )
        self.assertEqual(self.take(), [ok(5, ACCEPT)])

    def test_ids_are_echoed_verbatim(self) -> None:
        d1, _, call = self.call("1", token="1")
        assert call is not None
        self.ask(5)
        self.clock.advance(COALESCE)
        _, state = self.inputRequired(d1, "1")
        d2, _, _ = self.call(1, state=state, responses={"elicitation-1": ACCEPT})
        self.router.childMessage(ok(call["id"], {"content": []}))
        response = self.successResultOf(d2)
        self.assertEqual(response["id"], 1)
        self.assertIs(type(response["id"]), int)

    def test_three_questions_within_the_window_go_out_together(self) -> None:
        d, _, _ = self.call(7)
        self.ask(5)
        self.clock.advance(0.02)
        self.ask(6, "sampling/createMessage", SAMPLE)
        self.clock.advance(0.02)
        self.ask(7, "roots/list")
        self.assertNoResult(d)
        self.clock.advance(COALESCE - 0.04)
        requests, _ = self.inputRequired(d, 7)
        self.assertEqual(
            requests,
            {
                "elicitation-1": FORM_ELICITATION,
                "sampling-1": {"method": "sampling/createMessage", "params": SAMPLE},
                "roots-1": {"method": "roots/list"},
            },
        )

    def test_a_question_after_the_window_waits_for_the_next_round(self) -> None:
        _call, state, _ = self.suspendOnElicitation()
        self.ask(6, "sampling/createMessage", SAMPLE)  # suspended: queued
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        requests, state2 = self.inputRequired(d2, 8)
        self.assertEqual(list(requests), ["sampling-1"])
        self.assertNotEqual(state2, state)

    def test_hint_keys_and_generated_keys(self) -> None:
        d, _, _ = self.call(7)
        self.ask(5, key="user_name")
        self.ask(6, key="user_name")  # used already in this call
        self.ask(7, key="not a key!")  # not a usable key
        self.ask(8, "sampling/createMessage", SAMPLE, key="x" * 65)
        self.ask(9, "roots/list", key="client_roots")
        self.clock.advance(COALESCE)
        requests, _ = self.inputRequired(d, 7)
        self.assertEqual(
            sorted(requests),
            ["client_roots", "elicitation-1", "elicitation-2", "sampling-1", "user_name"],
        )
        # The hints never reach the client.
        self.assertEqual(requests["user_name"]["params"], {**ELICIT, "mode": "form"})
        self.assertEqual(requests["client_roots"], {"method": "roots/list"})

    def test_generated_keys_count_over_the_call_life(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.ask(6)
        self.clock.advance(COALESCE)
        requests, _ = self.inputRequired(d2, 8)
        self.assertEqual(list(requests), ["elicitation-2"])

    def test_multi_round_token_rotation(self) -> None:
        """Each round has its own token; an old one is refused like any bad one."""
        call, state1, _ = self.suspendOnElicitation()
        d2, _, _ = self.call(8, state=state1, responses={"elicitation-1": ACCEPT})
        self.ask(6, key="step2")
        self.clock.advance(COALESCE)
        _, state2 = self.inputRequired(d2, 8)
        self.assertNotEqual(state1, state2)
        old, _, _ = self.call(9, state=state1, responses={"step2": ACCEPT})
        self.assertEqual(
            self.successResultOf(old),
            jsonrpc.errorResponse(9, jsonrpc.INVALID_PARAMS, INVALID_STATE),
        )
        self.assertEqual(self.bridge.badRequestStates, 1)
        d3, _, _ = self.call(10, state=state2, responses={"step2": ACCEPT})
        self.router.childMessage(ok(call["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d3), ok(10, {"content": []}))

    def test_a_token_is_good_for_one_retry(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertNoResult(d2)
        replay, _, sent = self.call(9, state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(
            self.successResultOf(replay),
            jsonrpc.errorResponse(9, jsonrpc.INVALID_PARAMS, INVALID_STATE),
        )
        self.assertIsNone(sent)  # the child heard nothing of it
        self.assertNoResult(d2)

    def test_a_tampered_token_is_refused_and_the_real_one_still_works(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
        for bad in (state + "-TAMPERED", flipped, state[:-4], "v1.", "x" * 300, ""):
            d, _, sent = self.call(9, state=bad, responses={"elicitation-1": ACCEPT})
            self.assertEqual(
                self.successResultOf(d),
                jsonrpc.errorResponse(9, jsonrpc.INVALID_PARAMS, INVALID_STATE),
                bad,
            )
            self.assertIsNone(sent)
        self.assertEqual(self.bridge.badRequestStates, 6)
        self.assertEqual(self.bridge.suspended(), 1)
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertNoResult(d2)

    def test_a_token_is_bound_to_its_request(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        answers = {"elicitation-1": ACCEPT}
        for other in (
            {"arguments": {"when": "today"}},
            {"name": "cancel"},
            {"method": "prompts/get"},
            {"method": "resources/read"},
        ):
            d, _, _ = self.call(9, state=state, responses=answers, **other)
            self.assertEqual(
                self.successResultOf(d),
                jsonrpc.errorResponse(9, jsonrpc.INVALID_PARAMS, INVALID_STATE),
                other,
            )
        # The arguments' key order does not matter.
        d2, _, _ = self.call(
            8, state=state, responses=answers, arguments=dict(reversed(list(ARGS.items())))
        )
        self.assertNoResult(d2)

    def test_missing_keys_are_asked_again_with_a_new_token(self) -> None:
        state = self.suspendOnBoth()
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        requests, state2 = self.inputRequired(d2, 8)
        self.assertEqual(
            requests, {"sampling-1": {"method": "sampling/createMessage", "params": SAMPLE}}
        )
        self.assertNotEqual(state, state2)
        d3, _, _ = self.call(9, state=state2, responses={"sampling-1": SAMPLED})
        self.assertEqual(self.take(), [])
        self.assertNoResult(d3)
        self.assertEqual(self.bridge.inputRounds, 2)

    def test_the_answers_go_to_the_child(self) -> None:
        state = self.suspendOnBoth()
        self.bridge.call(
            self.router,
            self.request(
                8, state=state, responses={"elicitation-1": ACCEPT, "sampling-1": SAMPLED}
            ),
            RecordingSink(),
        )
        self.assertEqual(self.take(), [ok(5, ACCEPT), ok(6, SAMPLED)])

    def test_extra_keys_are_ignored(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        sink = RecordingSink()
        d2 = self.bridge.call(
            self.router,
            self.request(
                8, state=state, responses={"elicitation-1": ACCEPT, "bogus": {"anything": 1}}
            ),
            sink,
        )
        self.assertEqual(self.take(), [ok(5, ACCEPT)])
        self.assertNoResult(d2)

    def test_malformed_answers_are_refused_and_end_the_call(self) -> None:
        call, state, _ = self.suspendOnElicitation()
        d2 = self.bridge.call(
            self.router,
            self.request(8, state=state, responses={"elicitation-1": {"action": "maybe"}}),
            RecordingSink(),
        )
        response = self.successResultOf(d2)
        self.assertEqual(response["id"], 8)
        self.assertEqual(response["error"]["code"], jsonrpc.INVALID_PARAMS)
        self.assertIn("elicitation-1", response["error"]["message"])
        sent = self.take()
        self.assertEqual(sent[0], ok(5, {"action": "cancel"}))
        self.assertEqual(sent[1]["method"], "notifications/cancelled")
        self.assertEqual(sent[1]["params"]["requestId"], call["id"])
        self.assertEqual(self.bridge.suspended(), 0)

    def test_answers_not_an_object_are_refused(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        request = dataclasses.replace(self.request(8, state=state), inputResponses=["no"])  # type: ignore[arg-type]
        d = self.bridge.call(self.router, request, RecordingSink())
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.INVALID_PARAMS)

    def test_answers_without_a_token_make_a_fresh_call(self) -> None:
        """A retry without requestState is a new call: its answers are not
        for any question the gateway asked."""
        _first, _, firstCall = self.call(7)
        assert firstCall is not None
        d, _, call = self.call(8, responses={"elicitation-1": ACCEPT})
        assert call is not None
        self.assertEqual(call["method"], "tools/call")
        self.assertNotEqual(call["id"], firstCall["id"])
        self.assertNotIn("inputResponses", call["params"])
        self.assertNotIn("requestState", call["params"])
        self.assertNoResult(d)

    def test_a_question_during_a_list_is_refused_to_the_child(self) -> None:
        d, sink, call = self.call(7, method="tools/list")
        assert call is not None
        self.ask(5, "sampling/createMessage", SAMPLE)
        [refusal] = self.take()
        self.assertEqual(refusal["id"], 5)
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertEqual(self.bridge.refusedServerRequests, 1)  # what doctor counts
        self.assertNoResult(d)
        self.router.childMessage(ok(call["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(d), ok(7, {"tools": []}))
        self.assertEqual(sink.messages, [])

    def test_an_unknown_question_is_refused_to_the_child(self) -> None:
        d, _, _ = self.call(7)
        self.ask(5, "tools/list")
        [refusal] = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (5, jsonrpc.METHOD_NOT_FOUND))
        self.assertEqual(self.bridge.refusedServerRequests, 1)
        self.assertNoResult(d)

    def test_too_many_questions_are_refused_to_the_child(self) -> None:
        d, _, _ = self.call(7)
        for childId in range(100, 100 + MAX_OUTSTANDING + 1):
            self.ask(childId)
        [refusal] = self.take()
        self.assertEqual(refusal["id"], 100 + MAX_OUTSTANDING)
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertEqual(self.bridge.refusedServerRequests, 1)  # the one over the bound
        self.clock.advance(COALESCE)
        requests, _ = self.inputRequired(d, 7)
        self.assertEqual(len(requests), MAX_OUTSTANDING)

    def test_a_question_the_child_withdraws_is_forgotten(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        self.router.childMessage(
            jsonrpc.notification("notifications/cancelled", {"requestId": 5, "reason": "gave up"})
        )
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(self.take(), [])
        self.assertNoResult(d2)

    def test_prompts_and_reads_are_bridged_too(self) -> None:
        for method, name in (("prompts/get", "greet"), ("resources/read", "file:///a")):
            d, _, call = self.call(7, method=method, name=name)
            assert call is not None
            self.ask(5, key="user_context")
            self.clock.advance(COALESCE)
            requests, state = self.inputRequired(d, 7)
            self.assertEqual(list(requests), ["user_context"])
            d2, _, _ = self.call(
                8, method=method, name=name, state=state, responses={"user_context": ACCEPT}
            )
            self.router.childMessage(ok(call["id"], {"messages": []}))
            self.assertEqual(self.successResultOf(d2), ok(8, {"messages": []}))


class CapabilityTests(BridgeCase):
    def test_a_missing_capability_ends_the_call_with_32021(self) -> None:
        d, _, call = self.call(7, caps={})
        assert call is not None
        self.ask(5, "sampling/createMessage", SAMPLE)
        response = self.successResultOf(d)
        self.assertEqual(response["id"], 7)
        self.assertEqual(response["error"]["code"], jsonrpc.MISSING_CAPABILITY)
        self.assertEqual(response["error"]["data"], {"requiredCapabilities": {"sampling": {}}})
        refusal, cancelled = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (5, jsonrpc.METHOD_NOT_FOUND))
        self.assertEqual(cancelled["method"], "notifications/cancelled")
        self.assertEqual(cancelled["params"]["requestId"], call["id"])
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(scheduled(self.clock), [])

    def test_sampling_with_tools_needs_sampling_tools(self) -> None:
        d, _, _ = self.call(7, caps={"sampling": {}})
        self.ask(5, "sampling/createMessage", {**SAMPLE, "tools": []})
        self.assertEqual(
            self.successResultOf(d)["error"]["data"],
            {"requiredCapabilities": {"sampling": {"tools": {}}}},
        )

    def test_url_mode_needs_elicitation_url(self) -> None:
        d, _, _ = self.call(7, caps={"elicitation": {}})
        self.ask(
            5, params={"mode": "url", "message": "go", "url": "https://x", "elicitationId": "e"}
        )
        self.assertEqual(
            self.successResultOf(d)["error"]["data"],
            {"requiredCapabilities": {"elicitation": {"url": {}}}},
        )

    def test_an_optional_question_is_refused_alone(self) -> None:
        """The child marked it optional: it hears -32601, the call goes on."""
        d, _, _ = self.call(7, caps={"sampling": {}})
        self.ask(5, optional=True)
        [refusal] = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (5, jsonrpc.METHOD_NOT_FOUND))
        self.assertNoResult(d)
        self.ask(6, "sampling/createMessage", SAMPLE)
        self.clock.advance(COALESCE)
        requests, _ = self.inputRequired(d, 7)
        self.assertEqual(list(requests), ["sampling-1"])
        self.assertEqual(self.bridge.refusedServerRequests, 1)  # the one asked is not

    def test_a_hintless_roots_question_without_roots_is_refused_alone(self) -> None:
        """A child's own start-up C{roots/list} (server-everything) lands on
        the only call in flight: a client without roots does not lose its
        call; the child hears -32601, as from a direct client."""
        d, _, call = self.call(7, caps={})
        assert call is not None
        with capturedGatewayLogs() as events:
            self.ask(5, "roots/list")
        [refusal] = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (5, jsonrpc.METHOD_NOT_FOUND))
        self.assertIn("roots", refusal["error"]["message"])
        self.assertEqual(
            [(e["question"], e["names"]) for e in events if "question" in e],
            [("roots/list", "roots")],
        )
        self.clock.advance(COALESCE)
        self.assertNoResult(d)
        self.router.childMessage(ok(call["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d), ok(7, {"content": []}))
        self.assertEqual(self.take(), [])
        self.assertEqual(self.router.inFlight, 0)

    def test_the_roots_of_a_call_held_behind_the_roots_barrier_are_asked_at_once(self) -> None:
        """A child that reads its client's roots is told they changed before
        a call whose client declares them, and the call is held until it has
        them: its question is all it asks for the call then, so the round
        goes without waiting for more; once answered, the call reaches it."""
        self.ask(3, "roots/list")  # at its start, nobody's call in flight: no roots
        self.assertEqual(self.take(), [ok(3, {"roots": []})])
        self.clock.advance(1.0)  # and it has applied them
        d, _, told = self.call(7)
        self.assertEqual(told, jsonrpc.notification("notifications/roots/list_changed"))
        self.ask(5, "roots/list")
        self.clock.advance(0)
        requests, state = self.inputRequired(d, 7)
        self.assertEqual(requests, {"roots-1": {"method": "roots/list"}})
        roots = {"roots": [{"uri": "file:///work/alpha", "name": "alpha"}]}
        retry = self.request(8, state=state, responses={"roots-1": roots})
        self.bridge.call(self.router, retry, RecordingSink())
        [answer] = self.take()
        self.assertEqual(answer, ok(5, roots))
        self.clock.advance(1.0)  # the child has applied them
        [call] = self.take()
        self.assertEqual(call["method"], "tools/call")

    def test_a_hinted_roots_question_without_roots_ends_the_call(self) -> None:
        """With C{relatedRequestId} the child says the call needs the roots: -32021."""
        d, _, call = self.call(7, caps={})
        assert call is not None
        self.ask(5, "roots/list", related=call["id"])
        self.assertEqual(
            self.successResultOf(d)["error"]["data"], {"requiredCapabilities": {"roots": {}}}
        )

    def test_each_round_is_checked_with_its_own_capabilities(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        d2, _, _ = self.call(
            8, caps={"elicitation": {}}, state=state, responses={"elicitation-1": ACCEPT}
        )
        self.take()
        self.ask(6, "sampling/createMessage", SAMPLE)
        self.assertEqual(
            self.successResultOf(d2)["error"]["data"], {"requiredCapabilities": {"sampling": {}}}
        )

    def test_a_queued_question_is_checked_with_the_retry_capabilities(self) -> None:
        call, state, _ = self.suspendOnElicitation()
        self.ask(6, "roots/list", related=call["id"])  # while suspended
        d2, _, _ = self.call(
            8, caps={"elicitation": {}}, state=state, responses={"elicitation-1": ACCEPT}
        )
        self.assertEqual(
            self.successResultOf(d2)["error"]["data"], {"requiredCapabilities": {"roots": {}}}
        )
        self.assertEqual(self.bridge.suspended(), 0)
        self.assertEqual(self.router.inFlight, 0)

    def test_url_elicitation_required_becomes_a_restart_round(self) -> None:
        """A child's -32042: the client opens the URLs, the retry starts the call afresh."""
        d, _, call = self.call(7)
        assert call is not None
        entries = [
            {"mode": "url", "elicitationId": "e-77", "url": "https://svc/x", "message": "Connect"}
        ]
        self.router.childMessage(
            jsonrpc.errorResponse(
                call["id"],
                era2026form.URL_ELICITATION_REQUIRED,
                "auth",
                {"elicitations": entries},
            )
        )
        requests, state = self.inputRequired(d, 7)
        self.assertEqual(
            requests,
            {
                "elicitation-1": {
                    "method": "elicitation/create",
                    "params": {"mode": "url", "message": "Connect", "url": "https://svc/x"},
                }
            },
        )
        d2, _, again = self.call(8, state=state, responses={"elicitation-1": {"action": "accept"}})
        assert again is not None
        self.assertEqual(again["method"], "tools/call")
        self.assertNotEqual(again["id"], call["id"])
        self.router.childMessage(ok(again["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d2), ok(8, {"content": []}))

    def test_url_elicitation_required_without_url_support_is_32021(self) -> None:
        d, _, call = self.call(7, caps={"elicitation": {"form": {}}})
        assert call is not None
        self.router.childMessage(
            jsonrpc.errorResponse(
                call["id"],
                era2026form.URL_ELICITATION_REQUIRED,
                "auth",
                {"elicitations": [{"mode": "url", "url": "https://svc/x", "message": "m"}]},
            )
        )
        error = self.successResultOf(d)["error"]
        self.assertEqual(error["code"], jsonrpc.MISSING_CAPABILITY)
        self.assertEqual(error["data"], {"requiredCapabilities": {"elicitation": {"url": {}}}})


class LifetimeTests(BridgeCase):
    def test_ttl_expiry_answers_the_child_and_cancels_its_call(self) -> None:
        d1, _, call = self.call(7)
        assert call is not None
        self.ask(5)
        self.ask(6, "sampling/createMessage", SAMPLE)
        self.ask(7, "roots/list")
        self.clock.advance(COALESCE)
        _, state = self.inputRequired(d1, 7)
        self.clock.advance(599.9)
        self.assertEqual(self.take(), [])
        self.clock.advance(0.1)
        sent = self.take()
        self.assertEqual(sent[0], ok(5, {"action": "cancel"}))
        self.assertEqual((sent[1]["id"], sent[1]["error"]["code"]), (6, jsonrpc.INTERNAL_ERROR))
        self.assertEqual((sent[2]["id"], sent[2]["error"]["code"]), (7, jsonrpc.INTERNAL_ERROR))
        self.assertEqual(sent[3]["method"], "notifications/cancelled")
        self.assertEqual(sent[3]["params"]["requestId"], call["id"])
        self.assertEqual(len(sent), 4)
        self.assertEqual((self.bridge.suspended(), self.bridge.inputExpired), (0, 1))
        self.assertEqual(self.router.inFlight, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        late, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(self.successResultOf(late)["error"]["message"], INVALID_STATE)

    def test_the_router_timeout_is_held_while_suspended(self) -> None:
        _call, state, _ = self.suspendOnElicitation()
        self.clock.advance(TIMEOUT * 10)
        self.assertEqual(self.take(), [])
        self.assertEqual(self.router.inFlight, 1)
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.clock.advance(TIMEOUT - 0.1)
        self.assertNoResult(d2)
        self.clock.advance(0.1)
        response = self.successResultOf(d2)
        self.assertEqual((response["id"], response["error"]["code"]), (8, jsonrpc.REQUEST_TIMEOUT))

    def test_a_tasks_call_has_no_router_timeout_even_after_a_round(self) -> None:
        untimed = replace(self.request(7, token=7), untimed=True)
        d = self.bridge.call(self.router, untimed, RecordingSink())
        [call] = self.take()
        self.clock.advance(TIMEOUT * 10)
        self.assertNoResult(d)  # a timed call would have been answered -32001 by now
        self.ask(5)
        self.clock.advance(COALESCE)
        _, state = self.inputRequired(d, 7)
        retry = replace(
            untimed, clientId=8, requestState=state, inputResponses={"elicitation-1": ACCEPT}
        )
        d2 = self.bridge.call(self.router, retry, RecordingSink())
        self.take()
        self.clock.advance(TIMEOUT * 10)
        self.assertNoResult(d2)
        self.router.childMessage(ok(call["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d2)["result"]["content"], [])

    def test_the_final_answer_while_suspended_comes_with_the_next_retry(self) -> None:
        call, state, _ = self.suspendOnElicitation()
        self.router.childMessage(ok(call["id"], {"content": [{"type": "text", "text": "gave up"}]}))
        self.assertEqual(self.take(), [ok(5, {"action": "cancel"})])
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(
            self.successResultOf(d2), ok(8, {"content": [{"type": "text", "text": "gave up"}]})
        )
        self.assertEqual(self.bridge.suspended(), 0)
        self.assertEqual(scheduled(self.clock), [])

    def test_a_child_that_exits_while_suspended_gives_its_error_to_the_retry(self) -> None:
        _, state, _ = self.suspendOnElicitation()
        self.router.childExited("exited with code 1")
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        response = self.successResultOf(d2)
        self.assertEqual((response["id"], response["error"]["code"]), (8, jsonrpc.CHILD_EXITED))

    def test_a_disconnect_of_an_attached_round_cancels_the_call(self) -> None:
        d, _, call = self.call(7)
        assert call is not None
        d.cancel()
        self.failureResultOf(d, CancelledError)
        [cancelled] = self.take()
        self.assertEqual(
            cancelled,
            jsonrpc.notification(
                "notifications/cancelled",
                {"requestId": call["id"], "reason": "client disconnected"},
            ),
        )
        self.assertEqual(self.router.inFlight, 0)

    def test_a_disconnect_of_a_retry_answers_the_child_and_cancels(self) -> None:
        call, state, _ = self.suspendOnElicitation()
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.ask(6, "sampling/createMessage", SAMPLE)  # in the window
        d2.cancel()
        self.failureResultOf(d2, CancelledError)
        error, cancelled = self.take()
        self.assertEqual((error["id"], error["error"]["code"]), (6, jsonrpc.INTERNAL_ERROR))
        self.assertEqual(cancelled["params"]["requestId"], call["id"])
        self.assertEqual(scheduled(self.clock), [])

    def test_the_end_of_an_input_required_answer_is_no_disconnect(self) -> None:
        d1, _, _call = self.call(7)
        self.ask(5)
        self.clock.advance(COALESCE)
        self.inputRequired(d1, 7)
        d1.cancel()  # the response was written; the HTTP request ends
        self.assertEqual(self.take(), [])
        self.assertEqual(self.bridge.suspended(), 1)

    def test_stop_all_ends_the_suspended_calls(self) -> None:
        call, _state, _ = self.suspendOnElicitation()
        attached, _, _other = self.call(9, name="other")
        self.bridge.stopAll("the gateway is shutting down")
        sent = self.take()
        self.assertEqual(sent[0], ok(5, {"action": "cancel"}))
        self.assertEqual(
            sent[1],
            jsonrpc.notification(
                "notifications/cancelled",
                {"requestId": call["id"], "reason": "the gateway is shutting down"},
            ),
        )
        self.assertEqual(len(sent), 2)
        self.assertEqual(self.bridge.suspended(), 0)
        self.assertNoResult(attached)  # its child answers it (or the router fails it)
        self.clock.advance(COALESCE + TIMEOUT - self.clock.seconds() - 0.001)
        self.assertNoResult(attached)  # its own timeout is still to come
        self.clock.advance(0.001)
        answer = self.successResultOf(attached)  # its own timeout, at its own time
        self.assertEqual((answer["id"], answer["error"]["code"]), (9, jsonrpc.REQUEST_TIMEOUT))
        self.assertEqual(scheduled(self.clock), [])


class BoundTests(BridgeCase):
    maxSuspended = 1

    def test_over_the_bound_a_call_gets_32004_and_is_cancelled(self) -> None:
        _, _, _ = self.suspendOnElicitation()
        d, _, call = self.call(9, name="other")
        assert call is not None
        self.ask(6, related=call["id"])
        self.clock.advance(COALESCE)
        response = self.successResultOf(d)
        self.assertEqual(
            (response["id"], response["error"]["code"]), (9, jsonrpc.TOO_MANY_REQUESTS)
        )
        answer, cancelled = self.take()
        self.assertEqual(answer, ok(6, {"action": "cancel"}))
        self.assertEqual(cancelled["params"]["requestId"], call["id"])
        self.assertEqual(self.bridge.suspended(), 1)  # no eviction


class ProgressAndLogTests(BridgeCase):
    def test_progress_buffered_while_suspended_and_retagged(self) -> None:
        call, state, sink1 = self.suspendOnElicitation()
        childId = call["id"]
        self.router.childMessage(progress(childId, 10))
        self.assertEqual(sink1.messages, [])
        self.router.childMessage(progress(childId, 20))
        d2, sink2, _ = self.call(8, token="t8", state=state, responses={"elicitation-1": ACCEPT})
        self.assertEqual(sink2.messages, [progress("t8", 20)])  # the latest only
        self.router.childMessage(progress(childId, 30))
        self.assertEqual(sink2.messages, [progress("t8", 20), progress("t8", 30)])
        self.assertNoResult(d2)

    def test_progress_is_dropped_for_a_round_without_token(self) -> None:
        call, state, _ = self.suspendOnElicitation()
        self.router.childMessage(progress(call["id"], 10))
        _d2, sink2, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        self.router.childMessage(progress(call["id"], 30))
        self.assertEqual(sink2.messages, [])

    def test_round_one_progress_carries_round_one_token(self) -> None:
        _d, sink, call = self.call(7, token="p7")
        assert call is not None
        self.router.childMessage(progress(call["id"], 1))
        self.assertEqual(sink.messages, [progress("p7", 1)])

    def test_logs_reach_a_era2026_call_only_when_it_asked(self) -> None:
        logged = jsonrpc.notification("notifications/message", {"level": "info", "data": "x"})
        debug = jsonrpc.notification("notifications/message", {"level": "debug", "data": "y"})
        _d, sink, call = self.call(7, logLevel="info")
        assert call is not None
        self.router.childMessage(logged)
        self.router.childMessage(debug)
        self.assertEqual(sink.messages, [logged])
        self.router.childMessage(ok(call["id"], {"content": []}))
        _d2, sink2, _call2 = self.call(8)
        self.router.childMessage(logged)
        self.assertEqual(sink2.messages, [])

    def test_logs_never_reach_a_era2026_call_with_others_in_flight(self) -> None:
        logged = jsonrpc.notification("notifications/message", {"level": "error", "data": "x"})
        _, sink, _ = self.call(7, logLevel="debug")
        handshake = FakeSession("handshake", logLevel="info")
        self.router.attach(handshake)
        self.router.request(
            handshake, jsonrpc.request(1, "tools/call", {"name": "t"}), RecordingSink()
        )
        self.router.childMessage(logged)
        self.assertEqual(sink.messages, [])
        # Two clients: the line names neither, so neither gets it.
        self.assertEqual(handshake.delivered, [])


class AttributionTests(BridgeCase):
    def handshake(self, sid: str) -> tuple[FakeSession, RecordingSink, int]:
        session = FakeSession(sid, capabilities=ALL_CAPS)
        self.router.attach(session)
        sink = RecordingSink()
        self.router.request(session, jsonrpc.request(1, "tools/call", {"name": "t"}), sink)
        [out] = self.take()
        return session, sink, out["id"]

    def test_the_hint_routes_exactly_among_handshake_and_era2026_calls(self) -> None:
        _a, sinkA, _idA = self.handshake("a")
        _b, sinkB, idB = self.handshake("b")
        m1, _, call1 = self.call(7)
        m2, _, call2 = self.call(8)
        assert call1 is not None and call2 is not None
        self.ask(50, related=call2["id"], key="for_m2")
        self.ask(51, "sampling/createMessage", SAMPLE, related=idB)
        self.assertEqual(self.take(), [])
        self.assertEqual(sinkA.messages, [])
        [toB] = sinkB.messages
        self.assertEqual(toB["method"], "sampling/createMessage")
        self.assertEqual(toB["params"], SAMPLE)  # the hint is not shown to the client
        self.clock.advance(COALESCE)
        requests, _ = self.inputRequired(m2, 8)
        self.assertEqual(list(requests), ["for_m2"])
        self.assertNoResult(m1)
        self.assertEqual(self.router.ambiguousServerRequests, 0)
        self.assertEqual(self.told, [])

    def test_a_hint_naming_nothing_in_flight_is_refused(self) -> None:
        self.call(7)
        self.ask(50, related=999)
        self.ask(51, related="1")
        for refusal, childId in zip(self.take(), (50, 51), strict=True):
            self.assertEqual(
                (refusal["id"], refusal["error"]["code"]), (childId, jsonrpc.INTERNAL_ERROR)
            )

    def test_a_hint_reaches_a_suspended_call(self) -> None:
        """A push tool may ask again while its first question waits."""
        call, state, _ = self.suspendOnElicitation()
        self.call(9, name="other")  # a second caller: no proof without the hint
        self.ask(6, "roots/list", related=call["id"])
        self.assertEqual(self.take(), [])
        d2, _, _ = self.call(8, state=state, responses={"elicitation-1": ACCEPT})
        requests, _ = self.inputRequired(d2, 8)
        self.assertEqual(list(requests), ["roots-1"])

    def test_without_hint_a_era2026_and_a_handshake_caller_are_ambiguous_but_no_promotion(
        self,
    ) -> None:
        _, sinkA, _ = self.handshake("a")
        m, _, _ = self.call(7)
        self.ask(50)
        [refusal] = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (50, jsonrpc.INTERNAL_ERROR))
        self.assertIn("relatedRequestId", refusal["error"]["message"])
        self.assertEqual(sinkA.messages, [])
        # Refused and counted; a question never promotes (the pool is not told).
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 1))
        self.clock.advance(COALESCE)
        self.assertNoResult(m)

    def test_a_suspended_call_counts_as_a_candidate(self) -> None:
        self.suspendOnElicitation()
        _d, _, _ = self.call(9, name="other")
        self.ask(6)
        [refusal] = self.take()
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 1))

    def test_handshake_only_ambiguity_is_refused_without_promotion(self) -> None:
        self.handshake("a")
        self.handshake("b")
        self.ask(50)
        [refusal] = self.take()
        self.assertIn("refused, and the server keeps its share", refusal["error"]["message"])
        self.assertEqual((self.told, self.router.ambiguousServerRequests), ([], 1))

    def test_a_lone_era2026_call_is_the_proven_requester(self) -> None:
        d, _, _ = self.call(7)
        self.ask(50)
        self.assertEqual(self.take(), [])
        self.clock.advance(COALESCE)
        self.assertEqual(list(self.inputRequired(d, 7)[0]), ["elicitation-1"])

    def test_a_lone_era2026_call_beside_idle_sessions_of_its_principal_is_the_requester(
        self,
    ) -> None:
        """Another window of the same person, attached but not calling, does
        not make the question of the one call in flight ambiguous."""
        idle = FakeSession("idle", capabilities=ALL_CAPS)
        idle.principal = ""  # type: ignore[attr-defined]
        self.router.attach(idle)
        d, _, _ = self.call(7)
        self.ask(50)
        self.assertEqual(self.take(), [])
        self.clock.advance(COALESCE)
        self.assertEqual(list(self.inputRequired(d, 7)[0]), ["elicitation-1"])
        self.assertEqual((idle.delivered, self.router.ambiguousServerRequests), ([], 0))

    def test_a_lone_era2026_call_beside_another_principals_session_is_ambiguous(self) -> None:
        other = FakeSession("other", capabilities=ALL_CAPS)
        other.principal = "bob"  # type: ignore[attr-defined]
        self.router.attach(other)
        self.call(7)
        self.ask(50)
        [refusal] = self.take()
        self.assertEqual((refusal["id"], refusal["error"]["code"]), (50, jsonrpc.INTERNAL_ERROR))
        self.assertEqual(other.delivered, [])


class FinishTests(SynchronousTestCase):
    INFO = {"name": "child", "version": "9"}

    def test_a_result_gets_its_result_type_and_cache_hints(self) -> None:
        done = era2026form.era2026Answer("tools/list", ok(3, {"tools": []}), self.INFO, "public")
        self.assertEqual(done["result"]["resultType"], "complete")
        self.assertEqual((done["result"]["ttlMs"], done["result"]["cacheScope"]), (0, "public"))
        self.assertEqual(done["result"]["_meta"], {era2026form.SERVER_INFO_KEY: self.INFO})

    def test_an_input_required_result_gets_the_server_info_only(self) -> None:
        result = {"resultType": "input_required", "inputRequests": {}, "requestState": "s"}
        done = era2026form.era2026Answer("tools/call", ok(3, result), self.INFO, "public")
        self.assertEqual(
            done["result"], {**result, "_meta": {era2026form.SERVER_INFO_KEY: self.INFO}}
        )

    def test_errors_are_translated(self) -> None:
        done = era2026form.era2026Answer(
            "resources/read", jsonrpc.errorResponse(3, -32002, "nope", {"uri": "x"}), None, "public"
        )
        self.assertEqual(done["error"], {"code": -32602, "message": "nope", "data": {"uri": "x"}})
        kept = jsonrpc.errorResponse(
            3, jsonrpc.MISSING_CAPABILITY, "m", {"requiredCapabilities": {}}
        )
        self.assertEqual(era2026form.era2026Answer("tools/call", kept, None, "public"), kept)

    def test_a_result_that_is_no_object_is_an_internal_error(self) -> None:
        done = era2026form.era2026Answer("tools/call", ok(3, [1]), None, "public")
        self.assertEqual((done["id"], done["error"]["code"]), (3, jsonrpc.INTERNAL_ERROR))


JSON = jsonValues(jsonScalars(floats=st.floats(allow_nan=False)), leaves=10)
ANSWER = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"action": st.sampled_from(["accept", "decline", "cancel", "maybe"])},
        optional={"content": JSON},
    ),
    st.fixed_dictionaries(
        {"role": st.sampled_from(["assistant", "user", 1]), "content": JSON, "model": JSON}
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.one_of(
        JSON, st.dictionaries(st.sampled_from(["elicitation-1", "sampling-1", "x"]), ANSWER)
    ),
    goodState=st.booleans(),
    badState=st.text(max_size=300),
)
def test_any_retry_is_answered_and_the_child_gets_only_valid_answers(
    answers: Any, goodState: bool, badState: str
) -> None:
    """Whatever a retry carries, it gets one answer with its id (an
    InputRequiredResult, nothing yet, or -32602), the child hears only
    well-formed answers to its own questions, and nothing raises."""
    clock = Clock()
    router = Router("srv", clock, TIMEOUT, SharedFanout())
    sent: list[Message] = []
    router.attachChild(sent.append)
    bridge = InputBridge("srv", clock, StateCodec(b"k" * 32))
    params = {"name": "book", "arguments": ARGS}
    first = bridge.call(
        router, Era2026Request(7, "tools/call", params, capabilities=ALL_CAPS), RecordingSink()
    )
    router.childMessage(jsonrpc.request(5, "elicitation/create", ELICIT))
    router.childMessage(jsonrpc.request(6, "sampling/createMessage", SAMPLE))
    clock.advance(COALESCE)
    answered: list[Message] = []
    first.addCallback(answered.append)
    state = answered.pop()["result"]["requestState"]
    sent.clear()
    with capturedGatewayLogs() as events:
        retry = bridge.call(
            router,
            Era2026Request(
                8,
                "tools/call",
                params,
                capabilities=ALL_CAPS,
                inputResponses=answers,
                requestState=state if goodState else badState,
            ),
            RecordingSink(),
        )
    assert not [e for e in events if e.get("log_failure") is not None]
    methods = {5: "elicitation/create", 6: "sampling/createMessage"}
    for message in sent:
        if "result" in message and message["result"] != {"action": "cancel"}:
            assert (
                era2026form.inputResponseProblem(methods[message["id"]], message["result"]) is None
            )
    retry.addCallback(answered.append)
    if answered:
        [response] = answered
        assert response["id"] == 8
        assert "result" in response or response["error"]["code"] == jsonrpc.INVALID_PARAMS
        if "result" in response:
            assert response["result"]["resultType"] == "input_required"
    else:
        assert goodState
