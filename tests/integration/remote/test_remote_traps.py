"""What can go wrong between the gateway and a remote MCP server, for real:
a real gateway, real SDK clients, real remote servers on loopback.

- A call whose answer stream drops mid-call (tests/fixtures/flaky_remote.py:
  the SDK's server with an event store closes the stream after a progress
  notification; or a TCP proxy between the gateway and the server cuts the
  connection after the first notification's event) completes with its
  result and every progress notification once: the gateway resumed the
  stream with a C{GET} carrying the last event id it had, again from that id
  when a resume came back empty (the server had not noticed the drop). A
  server that ends the stream after every event (it polls) is followed to
  the end; a call whose resumes keep coming back empty is answered with an
  error.
- A server that moves to another authorization server (its 401 names a new
  C{resource_metadata}; tests/fixtures/oauth_server.py's C{/admin/delegate})
  has its calls refused with an error naming C{mcpgateway login SERVER};
  that login finds the new authorization server from the new challenge, and
  the same client session's calls work again, without a gateway restart.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.continuitykit import CutProxy
from tests.integration.gateway import (
    REPO,
    FixtureServer,
    RunningGateway,
    errorText,
    waitFor,
    writeConfig,
)
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.remote_oauth import login

pytestmark = pytest.mark.integration

FLAKY = REPO / "tests" / "fixtures" / "flaky_remote.py"


class FlakyRemote(FixtureServer):
    """tests/fixtures/flaky_remote.py on a free loopback port."""

    def __init__(self, log: Path) -> None:
        super().__init__(FLAKY, log)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/admin/stats", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyRemote]:
    server = FlakyRemote(tmp_path / "flaky.log")
    yield server
    server.stop()


def textOf(result: Any) -> str:
    return "".join(getattr(item, "text", "") for item in result.content)


def callSlow(url: str, **arguments: float) -> tuple[str, list[float]]:
    """One SDK session calls C{slow}; its text and the progress it saw."""
    seen: list[float] = []

    async def onProgress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async def main() -> str:
        async with Client(url, mode="legacy") as client:
            with anyio.fail_after(15):
                result = await client.call_tool("slow", arguments, progress_callback=onProgress)
            return textOf(result)

    return anyio.run(main), seen


def armedBehind(proxy: CutProxy, start: Any, home: Path) -> RunningGateway:
    """A gateway serving the remote C{flaky} through C{proxy}, armed to cut
    the connection that carries the first progress notification."""
    config = writeConfig(
        home / "gateway.json",
        {"flaky": {"type": "http", "url": f"http://127.0.0.1:{proxy.port}/mcp"}},
    )
    gateway: RunningGateway = start("--config", str(config))
    proxy.arm(b"notifications/progress")
    return gateway


def test_a_stream_the_server_drops_mid_call_is_resumed_with_last_event_id(
    start: Any, home: Path, flaky: FlakyRemote
) -> None:
    """The server closes the call's stream after its first progress
    notification: the call completes with its result and all three
    notifications, once each, and the one GET that resumed the stream
    carried the id of the last event the gateway had from it."""
    config = writeConfig(home / "gateway.json", {"flaky": {"type": "http", "url": flaky.url()}})
    gateway: RunningGateway = start("--config", str(config))

    text, progress = callSlow(gateway.url("flaky"), steps=3, drops=1)

    assert text == "slow: done after 3 steps"
    assert progress == [1, 2, 3]
    stats = flaky.stats()
    assert stats["drops"] == 1
    assert len(stats["resumes"]) == 1, stats
    # The id the gateway resumed from is one the server gave on that stream.
    assert stats["resumes"][0] in stats["eventIds"]
    assert "resuming it after event " + stats["resumes"][0] in gateway.text()


@pytest.mark.parametrize("serverNotices", [True, False], ids=["closed", "half-open"])
def test_a_connection_cut_mid_call_is_resumed_with_last_event_id(
    start: Any, home: Path, flaky: FlakyRemote, serverNotices: bool
) -> None:
    """A TCP proxy between the gateway and the server cuts the call's
    connection right after the event of its first progress notification (no
    clean end of the stream: the connection just goes). The call completes,
    and the GET that resumed it names that event's id.

    Half-open, the server's side of the cut connection stays open: the
    server still holds the call's stream, so the SDK answers a resume with
    the events it stored since, in a stream that then ends at once. The
    gateway resumes again, after a backoff, from the last event it has, and
    gets the rest: never from an event before one it already had."""
    proxy = CutProxy(flaky.port, keepUpstream=not serverNotices)
    try:
        gateway = armedBehind(proxy, start, home)

        text, progress = callSlow(gateway.url("flaky"), steps=3, drops=0)

        assert text == "slow: done after 3 steps", gateway.text()
        assert progress == [1, 2, 3]
        assert proxy.cuts == 1 and proxy.cutEventId is not None
        resumes = [
            s.headers["last-event-id"]
            for s in proxy.requests("GET")
            if s.headers.get("last-event-id")
        ]
        assert resumes and resumes[0] == proxy.cutEventId, resumes
        # On a loaded machine the server has stored more of the call's events by
        # the first resume, which replays them and ends: the next resume goes on
        # from the last of them.
        order = [int(eventId.removeprefix("e")) for eventId in resumes]
        assert order == sorted(order), resumes
        stats = flaky.stats()
        assert set(resumes) <= set(stats["eventIds"]), (resumes, stats)
        assert stats["drops"] == 0
    finally:
        proxy.close()


def test_a_server_that_ends_its_stream_after_every_event_is_followed_to_the_end(
    start: Any, home: Path, flaky: FlakyRemote
) -> None:
    """A server that ends a long call's stream after each notification (it
    polls, as the SDK's C{close_sse_stream} is meant for) is resumed each
    time, more often than the gateway's bound on resumes that bring nothing:
    each one brought the next notification."""
    config = writeConfig(home / "gateway.json", {"flaky": {"type": "http", "url": flaky.url()}})
    gateway: RunningGateway = start("--config", str(config))

    text, progress = callSlow(gateway.url("flaky"), steps=6, drops=5, pause=0.05)

    assert text == "slow: done after 6 steps"
    assert progress == [1, 2, 3, 4, 5, 6]
    stats = flaky.stats()
    assert stats["drops"] == 5 and len(stats["resumes"]) == 5, stats
    assert len(set(stats["resumes"])) == 5  # each resumed from where the last one ended


def test_a_stream_whose_resumes_bring_nothing_is_answered_with_an_error(
    start: Any, home: Path, flaky: FlakyRemote
) -> None:
    """The call's connection is cut, half-open, while the server works on
    for seconds: every resume comes back empty. After three of them (a
    backoff apart) the call is answered with an error naming the server,
    long before the server would have answered."""
    proxy = CutProxy(flaky.port, keepUpstream=True)
    try:
        gateway = armedBehind(proxy, start, home)

        with pytest.raises(BaseException) as caught:
            callSlow(gateway.url("flaky"), steps=2, drops=0, pause=8.0)

        said = errorText(caught.value)
        assert "server 'flaky'" in said and "ended the request's stream" in said, said
        resumes = [s for s in proxy.requests("GET") if s.headers.get("last-event-id")]
        assert len(resumes) == 3
    finally:
        proxy.close()


def test_a_server_that_moves_to_another_authorization_server_needs_a_new_login(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> None:
    """The server stops trusting the authorization server the gateway logged
    in with, and its 401 names new metadata naming another one (the old
    authorization server still refreshes the old token: the server refuses
    the refreshed one too). The client's call gets an error naming
    C{mcpgateway login guarded}; that login finds the new authorization
    server from the new challenge alone (the well-known metadata still names
    the old one), and the same client session's next calls carry its token,
    with no gateway restart."""
    first, second = oauth(), oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{first.base}/mcp"}}
    )
    gateway: RunningGateway = start("--config", str(config))
    assert waitFor(lambda: (home / "state" / "state.json").exists(), timeout=10)
    assert login(home, "guarded").returncode == 0

    async def main() -> tuple[str, str, str, str]:
        async with Client(gateway.url("guarded"), mode="legacy") as c:
            before = textOf(await c.call_tool("echo", {"message": "before"}))
            post(f"{first.base}/admin/delegate", {"authorization_server": second.base})
            try:
                refused = textOf(await c.call_tool("echo", {"message": "moved"}))
            except Exception as e:  # the JSON-RPC error, as the SDK raises it
                refused = errorText(e)
            done = await anyio.to_thread.run_sync(login, home, "guarded")
            assert done.returncode == 0, done.stderr
            after = textOf(await c.call_tool("echo", {"message": "after"}))
            return before, refused, after, textOf(await c.call_tool("whoami", {}))

    before, refused, after, who = anyio.run(main)
    assert before == "Echo: before"
    assert "mcpgateway login guarded" in refused, refused
    assert after == "Echo: after"
    firstStats, secondStats = oauthStats(first), oauthStats(second)
    assert firstStats["registrations"] == 1 and firstStats["authorizations"] == 1
    assert secondStats["registrations"] == 1 and secondStats["authorizations"] == 1
    assert secondStats["authorize_resources"] == [f"{first.base}/mcp"]
    assert json.loads(who)["resource"] == f"{first.base}/mcp"
    # The server binds its sessions to the credential: the new login's token
    # got a new upstream session under the same client session.
    assert waitFor(lambda: "initializing a new one" in gateway.text(), timeout=5)
    assert gateway.process.poll() is None


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


def oauthStats(server: OAuthServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.base}/admin/stats", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]
