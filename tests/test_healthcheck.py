"""mcpgateway.healthcheck: the container's probe, without sockets (a fake
C{get} stands for the HTTP exchange; the real one is exercised against real
gateways, http and https, in tests/integration/host/test_container.py)."""

from __future__ import annotations

import http.client
import io
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway import healthcheck
from mcpgateway.healthcheck import (
    GatewayAddress,
    Unhealthy,
    check,
    judge,
    main,
    readTarget,
    targetOf,
)
from tests.support.runtime.fresh import freshJson

OK = json.dumps({"status": "ok", "version": "0.1.0", "pid": 7, "uptime": 12.5}).encode()


class FakeGet:
    """Answers per scheme: an C{(status, body)} or an exception to raise."""

    def __init__(self, http: Any = None, https: Any = None) -> None:
        self.answers = {False: http, True: https}
        self.calls: list[tuple[GatewayAddress, bool, float]] = []

    def __call__(self, target: GatewayAddress, tls: bool, timeout: float) -> tuple[int, bytes]:
        self.calls.append((target, tls, timeout))
        answer = self.answers[tls]
        if answer is None:
            raise AssertionError(f"unexpected {'https' if tls else 'http'} attempt")
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[no-any-return]


class FakeClock:
    def __init__(self, step: float = 0.0) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


def writeState(stateDir: Path, **state: Any) -> Path:
    stateDir.mkdir(parents=True, exist_ok=True)
    path = stateDir / "state.json"
    path.write_text(json.dumps(state))
    return path


# state.json


def test_target_from_a_state_file_the_gateway_writes(tmp_path: Path) -> None:
    writeState(tmp_path, pid=41, port=9100, interface="127.0.0.1", version="0.1.0")
    assert readTarget(tmp_path) == GatewayAddress("127.0.0.1", 9100, None, 41)


@pytest.mark.parametrize(
    ("interface", "host"),
    [
        (None, "127.0.0.1"),
        ("", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("::", "::1"),
        ("::1", "::1"),
        ("127.0.0.2", "127.0.0.2"),
        ("10.1.2.3", "10.1.2.3"),
        (7, "127.0.0.1"),
    ],
)
def test_the_host_is_the_bound_interface_or_loopback(interface: Any, host: str) -> None:
    assert targetOf({"port": 9100, "interface": interface}, "s").host == host


@pytest.mark.parametrize(("value", "tls"), [(True, True), (False, False), ("yes", None), (1, None)])
def test_tls_only_from_a_boolean(value: Any, tls: bool | None) -> None:
    assert targetOf({"port": 9100, "tls": value}, "s").tls is tls
    assert targetOf({"port": 9100}, "s").tls is None


@pytest.mark.parametrize("port", [None, "9100", -1, 65536, True, 1.5, [9100]])
def test_a_state_without_a_usable_port_is_unhealthy(port: Any) -> None:
    with pytest.raises(Unhealthy, match=r"^s: no valid port"):
        targetOf({"port": port}, "s")


def test_port_zero_is_a_unix_socket() -> None:
    with pytest.raises(Unhealthy, match="UNIX socket"):
        targetOf({"port": 0}, "s")


def test_no_state_file_says_the_gateway_is_not_listening(tmp_path: Path) -> None:
    with pytest.raises(Unhealthy, match=r"state\.json: the gateway is not listening"):
        readTarget(tmp_path)


@pytest.mark.parametrize(
    ("text", "why"), [("{", "is not JSON"), ("[1, 2]", "not a JSON object"), ("", "is not JSON")]
)
def test_an_unusable_state_file_says_why(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "state.json").write_text(text)
    with pytest.raises(Unhealthy, match=why):
        readTarget(tmp_path)


def test_an_unreadable_state_file_says_why(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    with pytest.raises(Unhealthy, match=r"^cannot read .*state\.json"):
        readTarget(tmp_path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"port": json_values},
            optional={"interface": json_values, "tls": json_values, "pid": json_values},
        ),
    )
)
def test_any_json_gives_a_target_or_a_reason(state: Any) -> None:
    try:
        target = targetOf(state, "s")
    except Unhealthy as e:
        assert str(e).startswith("s: ")
        assert "\n" not in str(e)
    else:
        assert 0 < target.port <= 65535
        assert target.tls in (True, False, None)
        assert target.host


# the answer


def test_a_200_with_status_ok_is_healthy() -> None:
    assert judge(200, OK) == "answered 200 (pid 7, up 12 s)"
    assert judge(200, b'{"status": "ok"}') == "answered 200"


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (503, OK, "answered HTTP 503"),
        (401, b"", "answered HTTP 401"),
        (200, b"<html>", "not JSON"),
        (200, b'{"status": "draining"}', "status 'draining'"),
        (200, b"[]", "without"),
        (200, b"\xff", "not JSON"),
    ],
)
def test_anything_else_is_unhealthy(status: int, body: bytes, why: str) -> None:
    with pytest.raises(Unhealthy, match=why):
        judge(status, body)


def test_an_oversized_body_is_unhealthy() -> None:
    with pytest.raises(Unhealthy, match="more than"):
        judge(200, b" " * (healthcheck.MAX_BODY + 1))


# http, https


def test_plain_http_first_when_the_state_does_not_say() -> None:
    get = FakeGet(http=(200, OK))
    line = check(GatewayAddress("127.0.0.1", 9100), get)
    assert line.startswith("http://127.0.0.1:9100/health answered 200")
    assert [tls for _, tls, _ in get.calls] == [False]


@pytest.mark.parametrize(
    "refusal",
    [
        http.client.BadStatusLine("\x15\x03\x01\x00\x02\x02F"),
        http.client.RemoteDisconnected("closed"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_a_port_that_does_not_speak_http_is_tried_over_https(refusal: Exception) -> None:
    get = FakeGet(http=refusal, https=(200, OK))
    line = check(GatewayAddress("127.0.0.1", 9443), get)
    assert line.startswith("https://127.0.0.1:9443/health answered 200")
    assert [tls for _, tls, _ in get.calls] == [False, True]


def test_the_state_saying_tls_goes_straight_to_https() -> None:
    get = FakeGet(https=(200, OK))
    assert check(GatewayAddress("::1", 9443, tls=True), get).startswith("https://[::1]:9443/health")
    assert [tls for _, tls, _ in get.calls] == [True]


def test_the_state_saying_plain_never_tries_https() -> None:
    get = FakeGet(http=http.client.RemoteDisconnected("closed"))
    with pytest.raises(Unhealthy, match="closed the connection without an answer"):
        check(GatewayAddress("127.0.0.1", 9100, tls=False), get)
    assert len(get.calls) == 1


def test_connection_refused_is_not_retried_over_https() -> None:
    get = FakeGet(http=ConnectionRefusedError(111, "Connection refused"))
    with pytest.raises(Unhealthy) as caught:
        check(GatewayAddress("127.0.0.1", 9100, pid=7), get)
    assert str(caught.value) == (
        "http://127.0.0.1:9100/health: connection refused (nothing listens there)"
        " (state.json names pid 7)"
    )
    assert len(get.calls) == 1


def test_both_failures_are_named_when_neither_scheme_answers() -> None:
    get = FakeGet(
        http=http.client.RemoteDisconnected("closed"),
        https=ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    )
    with pytest.raises(Unhealthy) as caught:
        check(GatewayAddress("127.0.0.1", 9100), get)
    message = str(caught.value)
    assert message.startswith("http://127.0.0.1:9100/health: closed the connection")
    assert "; https://127.0.0.1:9100/health: TLS failed" in message


def test_an_unhealthy_https_answer_names_the_url() -> None:
    get = FakeGet(http=http.client.RemoteDisconnected("closed"), https=(500, b""))
    with pytest.raises(Unhealthy, match=r"^https://127\.0\.0\.1:9100/health answered HTTP 500$"):
        check(GatewayAddress("127.0.0.1", 9100), get)


def test_a_timeout_is_unhealthy() -> None:
    get = FakeGet(http=TimeoutError("timed out"))
    with pytest.raises(Unhealthy, match="no answer in time"):
        check(GatewayAddress("127.0.0.1", 9100), get)


def test_the_whole_check_shares_one_deadline() -> None:
    """The https attempt after a failed plain one gets what is left of the 2 s."""
    clock = FakeClock(step=0.5)  # each reading of the clock is 0.5 s later than the last
    get = FakeGet(http=http.client.RemoteDisconnected("closed"), https=(200, OK))
    check(GatewayAddress("127.0.0.1", 9100), get, timeout=2.0, clock=clock)
    assert [timeout for _, _, timeout in get.calls] == [1.5, 1.0]


def test_no_time_left_for_https_is_unhealthy() -> None:
    clock = FakeClock(step=1.0)
    get = FakeGet(http=http.client.RemoteDisconnected("closed"))
    with pytest.raises(Unhealthy, match=r"https://127\.0\.0\.1:9100/health: no time left"):
        check(GatewayAddress("127.0.0.1", 9100), get, timeout=2.0, clock=clock)
    assert len(get.calls) == 1


def test_self_signed_certificates_pass_on_loopback_only() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        context = healthcheck.tlsContext(host)
        assert context.verify_mode == ssl.CERT_NONE
        assert not context.check_hostname
    for host in ("10.1.2.3", "::ffff:10.1.2.3", "gateway.example"):
        context = healthcheck.tlsContext(host)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname


# the command


def run(argv: list[str], environ: dict[str, str], get: Any) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = main(argv, environ, out, get)
    return status, out.getvalue().splitlines()


def test_exit_0_and_one_line_when_healthy(tmp_path: Path) -> None:
    writeState(tmp_path / "state", pid=7, port=9100, interface="127.0.0.1")
    get = FakeGet(http=(200, OK))
    status, lines = run([], {"MCPGATEWAY_HOME": str(tmp_path / "state")}, get)
    assert status == 0
    assert lines == [
        "mcpgateway healthcheck: healthy:"
        " http://127.0.0.1:9100/health answered 200 (pid 7, up 12 s)"
    ]
    assert get.calls[0][2] == pytest.approx(2.0, abs=0.5)


def test_exit_1_and_one_line_when_not(tmp_path: Path) -> None:
    writeState(tmp_path, pid=7, port=9100)
    status, lines = run(
        ["--state-dir", str(tmp_path)], {}, FakeGet(http=ConnectionRefusedError(111, "refused"))
    )
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith("mcpgateway healthcheck: unhealthy: http://127.0.0.1:9100/health")


def test_state_dir_option_wins_over_the_environment(tmp_path: Path) -> None:
    writeState(tmp_path / "a", port=9101)
    writeState(tmp_path / "b", port=9102)
    get = FakeGet(http=(200, OK))
    status, _ = run(
        ["--state-dir", str(tmp_path / "b")], {"MCPGATEWAY_HOME": str(tmp_path / "a")}, get
    )
    assert status == 0
    assert get.calls[0][0].port == 9102


def test_home_default_when_nothing_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    writeState(tmp_path / ".mcpgateway", port=9100)
    status, _ = run([], {}, FakeGet(http=(200, OK)))
    assert status == 0


def test_no_state_file_exits_1(tmp_path: Path) -> None:
    status, lines = run(["--state-dir", str(tmp_path)], {}, FakeGet())
    assert status == 1
    assert lines == [
        f"mcpgateway healthcheck: unhealthy: no {tmp_path / 'state.json'}:"
        " the gateway is not listening (still starting, or not running)"
    ]


@pytest.mark.parametrize("argv", [["--bogus"], ["--timeout", "x"], ["--timeout", "0"], ["a"]])
def test_usage_errors_exit_1_not_2(tmp_path: Path, argv: list[str]) -> None:
    """Docker reserves exit status 2 of a HEALTHCHECK."""
    status, lines = run(argv, {}, FakeGet())
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith("mcpgateway healthcheck: unhealthy: usage: ")


def test_the_timeout_option_bounds_the_check(tmp_path: Path) -> None:
    writeState(tmp_path, port=9100)
    get = FakeGet(http=(200, OK))
    run(["--state-dir", str(tmp_path), "--timeout", "0.25"], {}, get)
    assert 0 < get.calls[0][2] <= 0.25


def test_standard_library_only() -> None:
    """It starts fast and imports neither Twisted nor any other dependency."""
    code = (
        "import json, sys; import mcpgateway.healthcheck;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('twisted', 'klein', 'zope', 'mcpgateway', 'treq', 'jwt'))))"
    )
    assert freshJson(code) == [
        "mcpgateway",
        "mcpgateway.healthcheck",
        "mcpgateway.runtime",
        "mcpgateway.runtime.addresses",
        "mcpgateway.runtime.paths",
    ]
