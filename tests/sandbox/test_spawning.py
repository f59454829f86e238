"""The spawner with a sandbox: a confined child starts as its launcher,
leads its own process group, and what its sandbox refused is told once
and is part of how it ended."""

from __future__ import annotations

import signal
from collections.abc import Mapping

from twisted.internet.defer import Deferred
from twisted.logger import LogLevel

from mcpgateway.core.child import ChildProtocol
from mcpgateway.core.spawn import ConfinedChild
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner

SPEC = ServerSpec(name="srv", command="srv", args=("--flag",), cwd="/work", executable="/opt/srv")


class Confiner:
    """Confines every server but C{free}; refusals are lines with DENIED."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str], dict[str, str]]] = []
        self.ended: list[Deferred[None]] = []
        self.pids: list[int | None] = []

    def command(
        self, spec: ServerSpec, argv: list[str], environ: Mapping[str, str]
    ) -> list[str] | None:
        self.asked.append((spec.name, argv, dict(environ)))
        return None if spec.name == "free" else ["/py", "launch.py", "{}", "--", *argv]

    def explain(self, spec: ServerSpec, line: str, environ: Mapping[str, str]) -> str | None:
        return f"the sandbox denied {line.split()[-1]}" if "DENIED" in line else None

    def spawned(self, spec: ServerSpec, ended: Deferred[None], pid: int | None = None) -> None:
        self.ended.append(ended)
        self.pids.append(pid)


def spawn(
    spec: ServerSpec, setsid: str | None = None
) -> tuple[FakeProcessReactor, ChildProtocol, list[str], list[tuple[int, int]]]:
    reactor = FakeProcessReactor()
    heard: list[str] = []
    killed: list[tuple[int, int]] = []
    spawner = fakeSpawner(
        reactor,
        environ={"PATH": "/usr/bin"},
        setsid=setsid,
        confiner=Confiner(),
        killGroup=lambda pid, sig: killed.append((pid, sig)),
    )
    child = spawner.spawn(spec, lambda m: None, heard.append, lambda c: None)
    assert isinstance(child, ChildProtocol)
    return reactor, child, heard, killed


def test_a_confined_child_starts_as_its_launcher_in_its_own_group_without_setsid() -> None:
    reactor, child, _, killed = spawn(SPEC, setsid="/usr/bin/setsid")
    [(executable, args, env, path)] = reactor.spawned
    assert (executable, args) == ("/py", ["/py", "launch.py", "{}", "--", "/opt/srv", "--flag"])
    assert (env, path) == ({"PATH": "/usr/bin"}, "/work")
    assert isinstance(child, ConfinedChild)
    child.signal("TERM")
    assert killed == [(1000, signal.SIGTERM)]


def test_a_server_left_unconfined_starts_as_before() -> None:
    free = ServerSpec(name="free", command="srv", executable="/opt/srv")
    reactor, child, _, _ = spawn(free, setsid="/usr/bin/setsid")
    [(_, args, _, _)] = reactor.spawned
    assert args == ["/usr/bin/setsid", "/opt/srv"] and type(child) is ChildProtocol


def test_a_refusal_is_logged_once_and_ends_up_in_how_the_child_ended() -> None:
    reactor, child, heard, _ = spawn(SPEC)
    with capturedGatewayLogs() as events:
        reactor.lastProcess.stderr(b"DENIED /home/u/.ssh\nDENIED /home/u/.ssh\nplain\nDENIED /x\n")
        reactor.lastProcess.exit(1)
    assert heard == ["DENIED /home/u/.ssh", "DENIED /home/u/.ssh", "plain", "DENIED /x"]
    warned = [e["note"] for e in events if e.get("log_level") == LogLevel.warn and "note" in e]
    assert warned == ["the sandbox denied /home/u/.ssh", "the sandbox denied /x"]
    assert child.howItEnded() == "exited with code 1 (the sandbox denied /home/u/.ssh)"


def test_a_child_without_refusals_ends_as_any_other() -> None:
    reactor, child, _, _ = spawn(SPEC)
    reactor.lastProcess.exit(0)
    assert child.howItEnded() == "exited with code 0"


def test_a_confined_childs_end_is_told_to_its_sandbox_an_unconfined_ones_not() -> None:
    """The sandbox keeps what a confined child uses outside (its network
    proxy) until the child has ended."""
    confiner = Confiner()
    spawner = fakeSpawner(FakeProcessReactor(), environ={}, confiner=confiner)
    child = spawner.spawn(SPEC, lambda m: None, lambda line: None, lambda c: None)
    assert confiner.ended == [child.ended]
    assert confiner.pids == [child.pid] and child.pid is not None  # its temporary directory's
    free = ServerSpec(name="free", command="free", executable="/opt/free")
    spawner.spawn(free, lambda m: None, lambda line: None, lambda c: None)
    assert len(confiner.ended) == 1
