"""Whether a kept child's sandbox is the one this gateway process would
give a child of its server: the gateway's own files, the other servers,
the network, what its sandbox probe found (fakes only: no process)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.adopted import LAID_OUT_OTHERWISE, probeAnswered, whyLaidOutOtherwise
from mcpgateway.core.childlayout import layoutOf, probedOf
from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, fakeSpawner

SPEC = ServerSpec(name="files", command="npx", args=("-y", "pkg"), executable="/usr/bin/npx")


class Confiner:
    """Lays children out as a gateway with C{gatewayFiles} would."""

    default = "auto"
    proxy = None

    def __init__(self, gatewayFiles: list[str], mechanism: str = "bwrap") -> None:
        self.gatewayFiles = gatewayFiles
        self.mechanism = mechanism
        self.asked: list[tuple[str, str]] = []

    def request(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> Any:
        self.asked.append((spec.command, environ.get("M", "")))
        return laidOut(spec.command, self.gatewayFiles, self.mechanism)


def laidOut(command: str, gatewayFiles: list[str], mechanism: str = "bwrap") -> dict[str, Any]:
    """A launch request, as the fake confiner makes it."""
    return {"command": command, "gatewayFiles": gatewayFiles, "mechanism": mechanism, "parent": 1}


class Upstream:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec


def handed(layout: str, confinement: str = "auto", probed: Any = None) -> HandedChild:
    return HandedChild(
        "files",
        "",
        "f",
        10,
        10,
        confinement=confinement,
        layout=layout,
        command="/usr/bin/node",
        probed=probed or {},
    )


def test_a_kept_child_is_laid_out_as_this_gateway_would_lay_out_its_command() -> None:
    confiner = Confiner(["/home/u/servers.json"])
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner, marker=("M", "7-ab"))
    # Laid out for its resolved program, as its launcher was, whatever the entry's command.
    same = layoutOf(laidOut("/usr/bin/node", ["/home/u/servers.json"]))
    assert whyLaidOutOtherwise(spawner, Upstream(SPEC), handed(same)) is None  # type: ignore[arg-type]
    assert confiner.asked == [("/usr/bin/node", "7-ab")]


def test_a_kept_child_with_fewer_masks_than_this_gateway_gives_is_not_kept() -> None:
    before = laidOut("/usr/bin/node", ["/home/u/servers.json"])
    confiner = Confiner(["/home/u/servers.json", "/home/u/tokens.json"])  # --auth-tokens now
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    old = handed(layoutOf(before), probed=probedOf(before))
    assert whyLaidOutOtherwise(spawner, Upstream(SPEC), old) == LAID_OUT_OTHERWISE  # type: ignore[arg-type]
    assert whyLaidOutOtherwise(spawner, Upstream(SPEC), handed("")) is not None  # type: ignore[arg-type]


def test_a_kept_child_this_gateways_probe_would_lay_out_otherwise_says_so() -> None:
    before = laidOut("/usr/bin/node", ["/home/u/servers.json"])  # bubblewrap, back then
    confiner = Confiner(["/home/u/servers.json"], mechanism="landlock")  # no bubblewrap now
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    old = handed(layoutOf(before), probed=probedOf(before))
    why = whyLaidOutOtherwise(spawner, Upstream(SPEC), old)  # type: ignore[arg-type]
    assert why == (
        "what the sandbox probe finds here differs: the mechanism (when it started:"
        " bubblewrap; here: Landlock)"
    )


def test_an_unconfined_child_has_no_layout_to_compare() -> None:
    spawner = fakeSpawner(FakeProcessReactor(), confiner=Confiner([]))
    one = replace(handed("whatever"), confinement="")
    assert whyLaidOutOtherwise(spawner, Upstream(SPEC), one) is None  # type: ignore[arg-type]


class Probing(Confiner):
    """A sandbox whose probe has not answered yet."""

    def __init__(self, probing: Deferred[dict[str, Any]] | None) -> None:
        super().__init__([])
        self.found: dict[str, Any] | None = None
        self.probing = probing
        self.started = 0

    def detect(self) -> Deferred[dict[str, Any]] | None:
        self.started += 1
        return self.probing


def test_a_kept_child_is_compared_once_the_probe_has_answered() -> None:
    probing: Deferred[dict[str, Any]] = Deferred()
    heard: list[Any] = []
    probing.addCallback(heard.append)  # the sandbox's own callback
    confiner = Probing(probing)
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    answered = probeAnswered(spawner)
    assert answered is not None and not answered.called and confiner.started == 1
    probing.callback({"mechanism": "bwrap"})
    assert answered.called and heard == [{"mechanism": "bwrap"}]


def test_nothing_is_waited_for_once_the_probe_answered_or_without_one() -> None:
    answeredBefore = Probing(succeed({"mechanism": "bwrap"}))
    answeredBefore.found = {"mechanism": "bwrap"}
    for confiner in (answeredBefore, Probing(None), Confiner([])):
        spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
        assert probeAnswered(spawner) is None
    assert answeredBefore.started == 0
