"""The held calls' webhook (L{mcpgateway.flow.webhook}): each call newly
held is posted once to the C{"flow"} setting's URL, as a summary that
never carries its arguments; a failed or slow post is logged by the
URL's host only (a URL may carry a token), and the call waits all the
same; the setting's URL is checked where it is read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.labels import Label
from mcpgateway.flow.rule import FlowSettingsError, parseFlowSettings
from mcpgateway.flow.webhook import TIMEOUT, HeldCallWebhook, body, checkedUrl
from tests.fakes import capturedGatewayLogs

URL = "https://hooks.example.test/services/T000/SECRET-TOKEN"
CLIENT = ("", "pid", "4242")
LABELS = frozenset({Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS})


class Posts:
    """A fake poster: records each post; answers as told."""

    def __init__(self, answer: Any = 200) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answer = answer

    def __call__(self, url: str, data: bytes) -> Deferred[int]:
        self.sent.append((url, json.loads(data)))
        if isinstance(self.answer, Exception):
            return fail(self.answer)
        if self.answer is None:
            return Deferred()  # never answers
        return succeed(self.answer)


def world(url: str | None = URL, answer: Any = 200) -> tuple[Clock, HeldCalls, Posts, Any]:
    clock, posts = Clock(), Posts(answer)
    webhook = HeldCallWebhook(clock, lambda: url, posts)
    return clock, HeldCalls(clock, webhook), posts, webhook


def hold(store: HeldCalls, arguments: dict[str, Any]) -> Any:
    return store.hold("", CLIENT, "github", "create_issue", arguments, "v1", LABELS, "why")


def test_a_call_held_is_posted_once_and_its_decision_is_not() -> None:
    _, store, posts, webhook = world()
    call = hold(store, {"repo": "me/private"})
    [(url, sent)] = posts.sent
    assert url == URL
    assert sent["event"] == "held"
    assert sent["call"]["id"] == call.id and sent["call"]["digest"] == call.digest
    assert (sent["call"]["server"], sent["call"]["tool"]) == ("github", "create_issue")
    assert sent["call"]["labels"] == ["egress", "private", "untrusted"]
    assert sent["decide"]["allow"] == f"mcpgateway approvals allow {call.id}"
    store.allow(call.id, "owner")
    assert len(posts.sent) == 1 and webhook.sent == 1


@given(secret=st.text(min_size=8, max_size=30).map(lambda s: "SECRET" + s))
def test_no_argument_ever_reaches_the_webhook(secret: str) -> None:
    _, store, posts, _ = world()
    hold(store, {"body": secret, secret: [secret]})
    [(_, sent)] = posts.sent
    assert "arguments" not in sent["call"]
    assert secret not in json.dumps(sent, ensure_ascii=False)


def test_without_a_url_nothing_is_posted() -> None:
    _, store, posts, _ = world(url=None)
    hold(store, {})
    assert posts.sent == []


@pytest.mark.parametrize("answer", [500, ConnectionRefusedError("refused"), None])
def test_a_post_that_fails_is_logged_by_host_and_the_call_waits(answer: Any) -> None:
    clock, store, _, webhook = world(answer=answer)
    with capturedGatewayLogs() as events:
        call = hold(store, {})
        clock.advance(TIMEOUT)
    assert webhook.failed == 1 and webhook.sent == 0
    assert [c.id for c in store.pending()] == [call.id]
    told = [e for e in events if str(e.get("log_namespace")).startswith("mcpgateway.flow.webhook")]
    assert len(told) == 1 and told[0]["host"] == "hooks.example.test"
    assert "SECRET-TOKEN" not in repr(told[0])


def test_a_post_answered_is_logged_by_host_only() -> None:
    _, store, _, webhook = world()
    with capturedGatewayLogs() as events:
        hold(store, {})
    told = [e for e in events if str(e.get("log_namespace")).startswith("mcpgateway.flow.webhook")]
    assert webhook.sent == 1 and told[0]["host"] == "hooks.example.test"
    assert "SECRET-TOKEN" not in repr(told)


def test_the_summary_names_who_what_and_until_when() -> None:
    clock, store, _, _ = world(url=None)
    clock.advance(100)
    call = hold(store, {"x": 1})
    shown = body(call)["call"]
    assert shown["client"] == list(CLIENT) and shown["expiry"] == call.expiry
    assert shown["reason"] == "why"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ftp://example.test/x",
        "https://",
        "not a url",
        5,
        None,
        "http://[::1",
        "x" * 3000,
        "http://hooks.example.test/T0/SECRET",  # a token in clear across a network
    ],
)
def test_a_webhook_must_be_an_http_url_with_a_host(value: Any) -> None:
    with pytest.raises(ValueError, match=r"flow\.webhook"):
        checkedUrl(value, "flow.webhook")


@pytest.mark.parametrize(
    "value", [URL, "http://127.0.0.1:8088/held", "http://[::1]:8088/held", "http://localhost/x"]
)
def test_https_anywhere_and_http_to_loopback_are_webhooks(value: str) -> None:
    assert checkedUrl(value, "flow.webhook") == value


def test_the_flow_setting_takes_a_webhook() -> None:
    assert parseFlowSettings({"webhook": URL}).webhook == URL
    assert parseFlowSettings({"default": False}).webhook is None
    with pytest.raises(FlowSettingsError, match=r"flow\.webhook"):
        parseFlowSettings({"webhook": "file:///etc/passwd"})
    with pytest.raises(FlowSettingsError, match="unknown key"):
        parseFlowSettings({"hook": URL})
