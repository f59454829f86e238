"""The pages of principals' logins to remote servers (C{/oauth/start},
C{/oauth/callback}) on a fake login: where they send the browser, what
they say when a login cannot go on, and that nothing is cached or leaked
through the referrer."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.remote.oauth.links import LinkError
from mcpgateway.remote.oauth.login import LoginError
from mcpgateway.web.upstreamlogin import MAX_PARAM, UpstreamLoginPages
from tests.fakes import capturedGatewayLogs


class FakeLogin:
    """Answers as L{mcpgateway.remote.oauth.weblogin.WebLogin} would."""

    def __init__(self, start: Deferred[str], finish: Deferred[str] | None = None) -> None:
        self._start = start
        self._finish = finish if finish is not None else succeed("linear")
        self.started: list[tuple[str, str]] = []
        self.finished: list[tuple[str, str | None, str | None]] = []

    def start(self, server: str, ticket: str) -> Deferred[str]:
        self.started.append((server, ticket))
        return self._start

    def finish(self, state: str, code: str | None, error: str | None) -> Deferred[str]:
        self.finished.append((state, code, error))
        return self._finish


def get(login: FakeLogin, path: list[bytes], **args: str) -> DummyRequest:
    request = DummyRequest(path)
    request.args = {k.encode(): [v.encode()] for k, v in args.items()}
    pages = UpstreamLoginPages(login)  # type: ignore[arg-type]
    body = pages.render_GET(request)  # type: ignore[arg-type]
    if body is not NOT_DONE_YET:
        assert isinstance(body, bytes)
        request.write(body)
        request.finish()
    return request


def header(request: DummyRequest, name: bytes) -> Any:
    values = request.responseHeaders.getRawHeaders(name)
    return None if values is None else values[0]


def text(request: DummyRequest) -> str:
    return b"".join(request.written).decode()


def test_start_redirects_to_the_authorization_server_and_is_never_cached() -> None:
    login = FakeLogin(succeed("https://auth.example.com/authorize?x=1"))
    request = get(login, [b"start", b"linear"], ticket="T")
    assert login.started == [("linear", "T")]
    assert request.responseCode == 302
    assert header(request, b"location") == b"https://auth.example.com/authorize?x=1"
    assert header(request, b"cache-control") == b"no-store"
    assert header(request, b"referrer-policy") == b"no-referrer"


def test_a_bad_link_is_a_page_that_says_why_escaped() -> None:
    login = FakeLogin(fail(LinkError("the link is <not> valid")))
    request = get(login, [b"start", b"linear"], ticket="T")
    assert request.responseCode == 400
    assert "the link is &lt;not&gt; valid" in text(request)
    assert header(request, b"content-security-policy") == b"default-src 'none'"


def test_a_link_without_a_ticket_or_with_a_huge_one_is_refused_before_any_login() -> None:
    login = FakeLogin(succeed("unused"))
    assert get(login, [b"start", b"linear"]).responseCode == 400
    assert get(login, [b"start", b"linear"], ticket="x" * (MAX_PARAM + 1)).responseCode == 400
    assert login.started == []


def test_the_callback_keeps_the_tokens_and_says_the_server_can_be_called() -> None:
    login = FakeLogin(succeed("unused"))
    request = get(login, [b"callback"], state="S", code="C")
    assert login.finished == [("S", "C", None)]
    assert request.responseCode == 200
    assert "can now call linear" in text(request)


def test_a_refused_authorization_is_a_page_that_says_so() -> None:
    login = FakeLogin(succeed("unused"), fail(LoginError("the authorization server refused")))
    request = get(login, [b"callback"], state="S", error="access_denied")
    assert login.finished == [("S", None, "access_denied")]
    assert request.responseCode == 400
    assert "refused" in text(request)


def test_an_unexpected_failure_is_a_502_that_points_at_the_log() -> None:
    login = FakeLogin(fail(RuntimeError("boom")))
    with capturedGatewayLogs() as events:
        request = get(login, [b"start", b"linear"], ticket="T")
    assert [e["log_failure"].check(RuntimeError) for e in events if "log_failure" in e] == [
        RuntimeError
    ]
    assert request.responseCode == 502
    assert "boom" not in text(request) and "log" in text(request)


def test_other_paths_are_not_found() -> None:
    login = FakeLogin(succeed("unused"))
    assert get(login, [b"elsewhere"]).responseCode == 404
    assert get(login, [b"start"]).responseCode == 404
