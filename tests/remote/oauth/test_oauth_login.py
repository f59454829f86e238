"""C{mcpgateway login}'s loopback callback, without a socket: only the
redirect with the login's own C{state} ends the wait (any other request
gets a 400 page and the login goes on waiting), and what the authorization
server says is escaped."""

from __future__ import annotations

import threading
from io import BytesIO
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.remote.oauth.login import _Callback, callbackAnswer

STATE = "the-logins-own-state"


class Connection:
    """What C{BaseHTTPRequestHandler} reads a request from and writes to."""

    def __init__(self, request: bytes) -> None:
        self._in = BytesIO(request)
        self.sent = b""

    def makefile(self, mode: str, *args: Any) -> BytesIO:
        return self._in

    def sendall(self, data: bytes) -> None:
        self.sent += data


def answered(path: str) -> tuple[int, str, type[_Callback]]:
    """One request to a fresh login's listener: the status, the page, and
    the handler class (its C{done} and C{result})."""

    class handler(_Callback):  # noqa: N801 (as login() makes it)
        result: dict[str, str] = {}
        done = threading.Event()
        expected = STATE

    connection = Connection(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    handler(connection, ("127.0.0.1", 50000), None)  # type: ignore[arg-type]
    head, _, body = connection.sent.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(), handler


def test_the_redirect_with_the_logins_state_ends_the_wait() -> None:
    status, page, handler = answered(f"/callback?code=C&state={STATE}")
    assert status == 200 and "has the server's authorization" in page
    assert handler.done.is_set()
    assert handler.result == {"code": "C", "state": STATE}


def test_a_request_without_the_logins_state_is_a_400_and_the_login_goes_on_waiting() -> None:
    for path in (
        "/callback?code=C&state=someone-elses",
        "/callback?code=C",
        "/callback?error=access_denied",
        "/callback",
    ):
        status, page, handler = answered(path)
        assert status == 400, path
        assert "goes on waiting" in page
        assert not handler.done.is_set() and handler.result == {}


def test_what_the_authorization_server_says_is_escaped() -> None:
    hostile = "%3Cscript%3Ealert(1)%3C/script%3E"
    status, page, handler = answered(f"/callback?error={hostile}&state={STATE}")
    assert status == 200 and handler.done.is_set()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    status, page, _ = answered(f"/callback?error={hostile}&state=wrong")
    assert status == 400 and "<script>" not in page and "alert" not in page


def test_the_page_loads_nothing_and_is_not_kept() -> None:
    connection = Connection(f"GET /callback?code=C&state={STATE} HTTP/1.1\r\n\r\n".encode())

    class handler(_Callback):  # noqa: N801
        result: dict[str, str] = {}
        done = threading.Event()
        expected = STATE

    handler(connection, ("127.0.0.1", 50000), None)  # type: ignore[arg-type]
    head = connection.sent.partition(b"\r\n\r\n")[0].decode().lower()
    assert "content-security-policy: default-src 'none'" in head
    assert "cache-control: no-store" in head


@given(
    st.dictionaries(st.sampled_from(["code", "error", "error_description", "state"]), st.text()),
    st.text(max_size=40),
)
def test_any_answer_is_escaped_and_ends_the_wait_only_with_the_state(
    query: dict[str, str], expected: str
) -> None:
    status, page, ends = callbackAnswer(query, expected)
    assert ends == (bool(expected) and query.get("state") == expected)
    assert status == (200 if ends else 400)
    shown = page.removeprefix("<p>").removesuffix("</p>")
    assert "<" not in shown and ">" not in shown
