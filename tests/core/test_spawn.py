"""The Spawner: one frozen value carries everything a spawn needs."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.testing import MemoryReactorClock

from mcpgateway.core.child import ChildProtocol
from mcpgateway.core.spawn import Spawner, notFound
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime.turnwrites import Flusher, Unflushed
from tests.fakes import FakeProcessReactor, fakeSpawner

SPEC = ServerSpec(
    name="srv",
    command="srv",
    args=("--flag",),
    env=(("OWN", "1"),),
    cwd="/work",
    executable="/opt/srv",
)


def spawnOne(spawner: Spawner) -> ChildProtocol:
    child = spawner.spawn(SPEC, lambda message: None, lambda line: None, lambda child: None)
    assert isinstance(child, ChildProtocol)
    return child


def test_the_gateways_own_variables_never_reach_a_child_whatever_the_caller_passed() -> None:
    reactor = FakeProcessReactor()
    spawner = Spawner(
        reactor=reactor,
        clock=reactor,
        setsid=None,
        environ={
            "PATH": "/usr/bin",
            "MCPGATEWAY_API_TOKEN": "secret",
            "NOTIFY_SOCKET": "/run/notify",
            "LISTEN_FDS": "1",
        },
    )
    assert dict(spawner.environ) == {"PATH": "/usr/bin"}
    spawnOne(spawner)
    [(_, _, env, _)] = reactor.spawned
    assert env == {"PATH": "/usr/bin", "OWN": "1"}


def test_without_setsid_the_child_is_spawned_directly_and_signalled_alone() -> None:
    reactor = FakeProcessReactor()
    child = spawnOne(fakeSpawner(reactor))
    [(executable, args, _, path)] = reactor.spawned
    assert (executable, args, path) == ("/opt/srv", ["/opt/srv", "--flag"], "/work")
    child.signal("TERM")
    assert reactor.lastProcess.signals == ["TERM"]


def test_with_setsid_the_child_gets_its_own_group_and_the_group_is_signalled() -> None:
    reactor = FakeProcessReactor()
    killed: list[tuple[int, int]] = []
    child = spawnOne(
        fakeSpawner(
            reactor, setsid="/usr/bin/setsid", killGroup=lambda pid, sig: killed.append((pid, sig))
        )
    )
    [(executable, args, _, _)] = reactor.spawned
    assert (executable, args) == ("/usr/bin/setsid", ["/usr/bin/setsid", "/opt/srv", "--flag"])
    child.signal("TERM")
    assert killed == [(1000, signal.SIGTERM)] and reactor.lastProcess.signals == []


def test_the_spawner_is_frozen() -> None:
    spawner = fakeSpawner(FakeProcessReactor())
    with pytest.raises(dataclasses.FrozenInstanceError):
        spawner.setsid = "/usr/bin/setsid"  # type: ignore[misc]


def test_why_a_command_cannot_be_run_tells_a_missing_path_from_one_that_is_not_executable(
    tmp_path: Path,
) -> None:
    # The running gateway and `servers add` share these words.
    plain = tmp_path / "server"
    plain.write_text("#!/bin/sh\n")
    assert notFound("no-such-command-4711") == "was not found on PATH"
    assert notFound(str(tmp_path / "gone")) == "was not found"
    assert notFound(str(plain)) == "is not an executable file"
    assert notFound(str(tmp_path)) == "is not an executable file"  # a directory


def test_each_child_has_the_start_time_read_as_it_was_spawned() -> None:
    reactor = FakeProcessReactor()
    child = spawnOne(fakeSpawner(reactor, startTimeOf=lambda pid: pid * 10))
    assert child.pid == 1000 and child.startTime == 10000


class LayingOut:
    """A confiner that confines every child and shows its launch request."""

    def __init__(self, network: str, proxy: object = None) -> None:
        self.network = network
        self.proxy = proxy
        self.default = "auto"

    def command(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> list[str]:
        return ["launcher", "--", *argv]

    def request(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> dict[str, Any]:
        return {
            "server": spec.name,
            "gatewayFiles": ["/etc/gw.json"],
            "network": {"mode": self.network, "proxy": "/run/p.sock"},
            "parent": 4711,
        }

    def explain(self, spec: ServerSpec, line: str, environ: dict[str, str]) -> str | None:
        return None

    def spawned(self, spec: ServerSpec, ended: Any, pid: int | None = None) -> None:
        pass


@pytest.mark.parametrize(("network", "proxied"), [("none", False), ("allow", True)])
def test_a_confined_child_knows_its_layout_and_whether_it_reaches_the_proxy(
    network: str, proxied: bool
) -> None:
    from mcpgateway.core.childlayout import layoutOf
    from mcpgateway.core.spawn import ConfinedChild

    confiner = LayingOut(network, proxy=object())
    child = spawnOne(fakeSpawner(FakeProcessReactor(), confiner=confiner, startTimeOf=lambda p: 1))
    assert isinstance(child, ConfinedChild)
    assert child.layout == layoutOf(confiner.request(SPEC, [], {})) and child.proxied is proxied
    # Without a proxy nothing reaches one, whatever the allow list.
    plain = spawnOne(fakeSpawner(FakeProcessReactor(), confiner=LayingOut("allow")))
    assert isinstance(plain, ConfinedChild) and not plain.proxied


class RecordingFlusher:
    """A L{Flusher} that records what it is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, FileDescriptor]] = []

    def adopt(self, descriptor: FileDescriptor) -> None:
        self.asked.append(("adopt", descriptor))

    def sendIfFinal(self, descriptor: FileDescriptor) -> None:
        self.asked.append(("sendIfFinal", descriptor))

    def sendNow(self, descriptor: FileDescriptor) -> None:
        self.asked.append(("sendNow", descriptor))


def spawnedWithPipes(flusher: Flusher | None) -> tuple[Spawner, ChildProtocol, FileDescriptor]:
    """A spawner (with C{flusher}, unless C{None}) and the child it spawned,
    whose transport has a stdin descriptor, as Twisted's process has."""
    clock = MemoryReactorClock()
    stdin = FileDescriptor(clock)

    class Process:
        pid = 7
        pipes = {0: stdin}

    class Reactor:
        def spawnProcess(self, protocol: ChildProtocol, *args: Any, **kwargs: Any) -> Process:
            process = Process()
            protocol.makeConnection(process)
            return process

    fields: dict[str, Any] = {} if flusher is None else {"flusher": flusher}
    spawner = Spawner(
        reactor=cast(IReactorProcess, Reactor()), clock=clock, environ={}, setsid=None, **fields
    )
    return spawner, spawnOne(spawner), stdin


def test_a_childs_stdin_is_written_through_the_flusher_the_spawner_is_handed() -> None:
    flusher = RecordingFlusher()
    _, child, stdin = spawnedWithPipes(flusher)
    assert flusher.asked == [("adopt", stdin)]
    child.hurry()
    assert flusher.asked == [("adopt", stdin), ("sendIfFinal", stdin)]


def test_a_spawner_handed_no_flusher_leaves_its_childrens_stdin_to_twisted() -> None:
    spawner, child, stdin = spawnedWithPipes(None)
    assert isinstance(spawner.flusher, Unflushed)
    own = FileDescriptor.startWriting
    child.hurry()
    assert "startWriting" not in vars(stdin) and type(stdin).startWriting is own
