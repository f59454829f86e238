"""The gateway raises its soft open-files limit to its hard limit as it
starts listening, and says so; a limit it cannot raise is said, not fatal."""

from __future__ import annotations

import resource

from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactor

from mcpgateway.ops import openfiles
from mcpgateway.ops.openfiles import UNLIMITED_FILES, raiseOpenFiles
from mcpgateway.ops.services import ListenerService
from tests.fakes import capturedGatewayLogs


class Limits:
    """getrlimit and setrlimit of one process, kept here."""

    def __init__(self, soft: int, hard: int, refuse: bool = False) -> None:
        self.now = (soft, hard)
        self.refuse = refuse
        self.set: list[tuple[int, tuple[int, int]]] = []

    def get(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.now

    def put(self, which: int, value: tuple[int, int]) -> None:
        if self.refuse:
            raise ValueError("not allowed")
        self.set.append((which, value))
        self.now = value


def test_the_soft_limit_is_raised_to_the_hard_limit_and_said() -> None:
    limits = Limits(1024, 524288)
    with capturedGatewayLogs() as events:
        assert raiseOpenFiles(limits.get, limits.put) == (524288, 524288)
    assert limits.set == [(resource.RLIMIT_NOFILE, (524288, 524288))]
    [said] = [e for e in events if e["log_namespace"] == openfiles.__name__]
    assert said["log_level"].name == "info" and (said["soft"], said["hard"]) == (1024, 524288)


def test_a_limit_at_its_hard_limit_is_left_alone() -> None:
    limits = Limits(20000, 20000)
    with capturedGatewayLogs() as events:
        assert raiseOpenFiles(limits.get, limits.put) == (20000, 20000)
    assert limits.set == []
    assert [e["log_level"].name for e in events if e["log_namespace"] == openfiles.__name__] == [
        "debug"
    ]


def test_an_unlimited_hard_limit_raises_the_soft_one_to_a_number() -> None:
    limits = Limits(256, resource.RLIM_INFINITY)
    raiseOpenFiles(limits.get, limits.put)
    assert limits.set == [(resource.RLIMIT_NOFILE, (UNLIMITED_FILES, resource.RLIM_INFINITY))]


def test_a_refused_raise_is_said_and_the_limits_stay() -> None:
    limits = Limits(1024, 4096, refuse=True)
    with capturedGatewayLogs() as events:
        assert raiseOpenFiles(limits.get, limits.put) == (1024, 4096)
    [said] = [e for e in events if e["log_namespace"] == openfiles.__name__]
    assert said["log_level"].name == "warn" and said["why"] == "not allowed"


def test_the_listener_raises_the_limit_before_it_listens() -> None:
    order: list[str] = []

    class Endpoint:
        def listen(self, factory: object) -> Deferred[object]:
            order.append("listen")
            return Deferred()

    service = ListenerService(
        Endpoint(),  # type: ignore[arg-type]
        "tcp:9100",
        object(),
        MemoryReactor(),
        openFiles=lambda: order.append("raise"),
    )
    service.startService()
    assert order == ["raise", "listen"]
