"""The flow rule on the path of a C{tools/call} to C{/<server>/mcp}
(L{mcpgateway.flow.step} as L{mcpgateway.web.endpoints.mcppost} asks it):
what a client gathered across its sessions holds an C{egress} call until a
person's yes, or answers it with a denial after the wait."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from mcpgateway.flow.held import HeldState
from mcpgateway.flow.labels import GATHERED
from mcpgateway.flow.ledger import narrowed
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import WAIT_SECONDS
from tests.http import spec
from tests.support.filesrun import filesRun
from tests.support.jsonvalues import jsonValues
from tests.support.web.flowworld import SERVERS, World, answerOf, denialOf


def test_a_client_with_untrusted_and_private_is_held_on_an_egress_tool() -> None:
    w = World()
    post = w.trifecta()
    before = len(w.forwarded("post"))
    response = w.post("post", post, "send", {"to": "x"})
    assert not response.complete
    assert len(w.forwarded("post")) == before
    [held] = w.store.pending()
    assert (held.server, held.tool, dict(held.arguments)) == ("post", "send", {"to": "x"})
    assert held.client == ("", "pid", "4242")
    assert {label.value for label in held.labels} == {"untrusted", "private", "egress"}


def test_a_call_nobody_decides_is_denied_with_the_envelope_after_the_wait() -> None:
    w = World()
    response = w.post("post", w.trifecta(), "send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS - 1)
    assert response.events() == []  # kept open: a stream of keep-alives
    w.h.reactor.advance(1)
    assert response.complete
    [held] = w.store.pending()
    denial = denialOf(response)
    assert denial["heldCall"] == held.id
    assert denial["outcome"] == "held"
    assert denial["labels"] == ["untrusted", "private", "egress"]
    assert f"mcpgateway approvals allow {held.id}" in denial["remedy"]
    assert w.forwarded("post") == []


def test_an_allow_during_the_wait_forwards_the_exact_call() -> None:
    w = World()
    response = w.post("post", w.trifecta(), "send", {"to": "x", "n": 1})
    [held] = w.store.pending()
    w.h.reactor.advance(5)
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x", "n": 1}
    w.answer("post", "posted")
    assert response.complete
    assert answerOf(response)["result"]["content"][0]["text"] == "posted"
    assert w.store.get(held.id).state is HeldState.USED


def test_a_denial_during_the_wait_answers_at_once() -> None:
    w = World()
    response = w.post("post", w.trifecta(), "send", {"to": "x"})
    [held] = w.store.pending()
    w.store.deny(held.id, "owner", "not there")
    assert response.complete
    denial = denialOf(response)
    assert denial["outcome"] == "denied" and "not there" in str(answerOf(response))
    assert w.forwarded("post") == []


def test_a_retry_after_a_later_yes_is_forwarded_once_and_a_replay_refused() -> None:
    w = World()
    post = w.trifecta()
    first = w.post("post", post, "send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    [held] = w.store.pending()
    assert first.complete
    w.store.allow(held.id, "owner")
    retry = w.post("post", post, "send", {"to": "x"})
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"}
    w.answer("post")
    assert answerOf(retry)["result"]["content"][0]["text"] == "done"
    replay = w.post("post", post, "send", {"to": "x"})
    assert not replay.complete  # held again, as a new call: the yes was used
    assert len(w.forwarded("post")) == 1
    assert len(w.store.pending()) == 1


def test_changed_arguments_are_held_again() -> None:
    w = World()
    post = w.trifecta()
    w.post("post", post, "send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    [held] = w.store.pending()
    w.store.allow(held.id, "owner")
    changed = w.post("post", post, "send", {"to": "y"})
    assert not changed.complete
    assert w.forwarded("post") == []
    [again] = w.store.pending()
    assert dict(again.arguments) == {"to": "y"}


def test_flow_origin_narrows() -> None:
    w = World()
    post = w.trifecta()
    response = w.post("post", post, "send", {"to": "x"}, meta={"flowOrigin": ["private"]})
    assert w.store.pending() == []
    w.answer("post")
    assert answerOf(response)["result"]["content"][0]["text"] == "done"
    both = {"flowOrigin": {"labels": ["private", "untrusted"]}}
    assert not w.post("post", post, "send", {"to": "x"}, meta=both).complete
    assert len(w.store.pending()) == 1


def test_the_setting_turns_the_rule_off() -> None:
    w = World(FlowSettings(default=False))
    assert not w.step.active
    post = w.trifecta()
    response = w.post("post", post, "send", {"to": "x"})
    w.answer("post")
    assert response.complete and w.store.pending() == []
    specs = {name: w.step._specs[name] for name in SERVERS}
    w.step.use(specs, FlowSettings(default=True), w.h.gateway.catalogs)  # a reload turns it on
    assert w.step.active
    assert not w.post("post", post, "send", {"to": "x"}).complete


def test_a_gateway_no_server_of_which_gives_private_data_is_idle() -> None:
    w = World()
    w.step.use({"web": spec("web")}, FlowSettings(), w.h.gateway.catalogs)
    assert not w.step.active


def test_labels_are_the_clients_across_its_sessions_and_not_another_pids() -> None:
    w = World()
    w.call("web", w.open("web", 4242), "read")
    w.call("files", w.open("files", 4242), "read")
    other = w.open("post", 5151)
    response = w.post("post", other, "send", {"to": "x"})
    w.answer("post")
    assert response.complete and w.store.pending() == []
    mine = w.open("post", 4242)
    assert not w.post("post", mine, "send", {"to": "x"}).complete
    assert len(w.store.pending()) == 1


def test_an_error_answer_gathers_nothing() -> None:
    w = World()
    web = w.open("web")
    response = w.post("web", web, "read")
    sent = w.forwarded("web")[-1]
    w.procs["web"].reply(
        {"jsonrpc": "2.0", "id": sent["id"], "error": {"code": -1, "message": "x"}}
    )
    assert response.complete
    w.call("files", w.open("files"), "read")
    post = w.open("post")
    response = w.post("post", post, "send")
    w.answer("post")
    assert response.complete and w.store.pending() == []
    w.call("web", web, "read")  # a result gathers
    assert not w.post("post", post, "send").complete


def test_a_closed_session_takes_its_clients_labels_with_it() -> None:
    w = World()
    web = w.open("web", 7)
    w.call("web", web, "read")
    files = w.open("files", 7)
    w.call("files", files, "read")
    assert len(w.step.ledger) == 1
    w.h.request("DELETE", "/web/mcp", session=web)
    assert len(w.step.ledger) == 1  # its other session lives on
    w.h.request("DELETE", "/files/mcp", session=files)
    assert len(w.step.ledger) == 0


def test_an_allowed_call_works_out_no_labels_and_an_idle_step_runs_nothing() -> None:
    """A tool's labels are worked out once (its catalog, or its first call
    unlisted): a warm call runs only the step, the ledger and the rule of
    the flow package; an idle step (no server gives private data) none."""
    w = World()
    web = w.open("web")
    w.call("web", web, "read")
    ran = filesRun(lambda: w.call("web", web, "read"))
    flow = sorted(path for path in ran if path.startswith("flow/"))
    assert flow == ["flow/ledger.py", "flow/rule.py", "flow/step.py"]
    w.step.active = False
    ran = filesRun(lambda: w.call("web", web, "read"))
    assert not any(path.startswith("flow/") for path in ran)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=jsonValues(text=8, keys=4, items=3, leaves=4, infinity=False),
    arguments=jsonValues(text=8, keys=4, items=3, leaves=6, infinity=False),
    meta=jsonValues(text=10, keys=10, items=3, leaves=4, infinity=False),
)
def test_whatever_a_held_client_sends_never_reaches_the_egress_server(
    name: Any, arguments: Any, meta: Any
) -> None:
    """A call of a client holding C{untrusted} and C{private} to a server
    all of whose tools are C{egress} is held or denied, whatever its name,
    arguments and C{_meta} (a C{flowOrigin} that narrows excepted), and
    never fails the gateway."""
    w = World()
    post = w.trifecta()
    narrows = narrowed(GATHERED, meta) != GATHERED
    params = {"name": name, "arguments": arguments, "_meta": meta}
    message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    response = w.h.request("POST", "/post/mcp", message, session=post)
    if narrows:
        return
    assert w.forwarded("post") == []
    if response.complete:
        answer = answerOf(response)
        assert "error" in answer or answer["result"]["isError"] is True, answer
    else:
        assert len(w.store.pending()) == 1


def test_a_held_calls_arguments_must_be_an_object_and_a_call_without_params_goes_on() -> None:
    """A call is held with its exact arguments, or not at all: arguments
    that are not an object are refused; a call naming no tool (no
    C{params}) is the server's to refuse."""
    w = World()
    post = w.trifecta()
    response = w.post("post", post, "send", [1, 2])
    assert denialOf(response)["outcome"] == "refused"
    assert w.store.pending() == [] and w.forwarded("post") == []
    bare = {"jsonrpc": "2.0", "id": 8, "method": "tools/call"}
    w.h.request("POST", "/post/mcp", bare, session=post)
    assert len(w.forwarded("post")) == 1


def test_a_call_whose_session_ends_while_it_waits_is_never_forwarded() -> None:
    w = World()
    post = w.trifecta()
    w.post("post", post, "send", {"to": "x"})
    [held] = w.store.pending()
    w.h.request("DELETE", "/post/mcp", session=post)
    w.store.allow(held.id, "owner")  # the person's yes comes too late for that request
    w.h.reactor.advance(WAIT_SECONDS)
    assert w.forwarded("post") == []
    assert w.step._waiting == {}
