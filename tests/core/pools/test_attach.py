"""L{mcpgateway.core.pools.attach}: a session adopted by (or released from)
a shared child keeps the child's log level the lowest any session asked
for, and walks the child's sessions only when a level is in play: a
restart restores 100,000 sessions one at a time, and a walk of all of them
for each would take hours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.pools.attach import adopt, release
from mcpgateway.core.sessions import Session
from mcpgateway.core.status import Lifecycle


class Walked(set[Session]):
    """A router's sessions that count how often they are walked."""

    walks = 0

    def __iter__(self) -> Iterator[Session]:
        self.walks += 1
        return super().__iter__()


class Router:
    def __init__(self) -> None:
        self.sessions = Walked()
        self.fanout = SharedFanout()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def attach(self, session: Session) -> None:
        self.sessions.add(session)

    def call(self, method: str, params: dict[str, Any]) -> None:
        self.calls.append((method, params))


class Upstream:
    def __init__(self, state: Lifecycle) -> None:
        self.router = Router()
        self.state = state


def session(n: int, level: str | None = None) -> Session:
    made = Session(f"s{n}", "srv", "2025-11-25", {}, {}, 0.0)
    made.logLevel = level
    return made


def test_sessions_without_a_level_are_adopted_without_a_walk() -> None:
    upstream = Upstream(Lifecycle.RUNNING)
    for n in range(50):
        adopt(upstream, session(n))  # type: ignore[arg-type]
    assert upstream.router.sessions.walks == 0
    assert upstream.router.fanout.childLogLevel is None and upstream.router.calls == []


def test_the_lowest_level_is_still_the_childs() -> None:
    upstream = Upstream(Lifecycle.RUNNING)
    router = upstream.router
    adopt(upstream, session(0))  # type: ignore[arg-type]
    adopt(upstream, session(1, "warning"))  # type: ignore[arg-type]
    adopt(upstream, session(2, "debug"))  # type: ignore[arg-type]
    adopt(upstream, session(3))  # type: ignore[arg-type]
    assert router.fanout.childLogLevel == "debug"
    assert router.calls == [
        ("logging/setLevel", {"level": "warning"}),
        ("logging/setLevel", {"level": "debug"}),
    ]


def test_a_child_not_running_forgets_the_level_with_the_last_session_that_set_it() -> None:
    upstream = Upstream(Lifecycle.STOPPED)
    router = upstream.router
    quiet, loud = session(0), session(1, "info")
    levels = []
    adopt(upstream, quiet)  # type: ignore[arg-type]
    adopt(upstream, loud)  # type: ignore[arg-type]
    levels.append(router.fanout.childLogLevel)
    release(upstream, loud, "ended")  # type: ignore[arg-type]
    levels.append(router.fanout.childLogLevel)
    assert levels == ["info", None]
    walks = router.sessions.walks
    release(upstream, quiet, "ended")  # type: ignore[arg-type]
    assert router.sessions.walks == walks  # no level in play: no walk
