"""Whether a kept child's sandbox is the one this gateway process would
give a child of its server: the gateway's own files, the other servers,
the network (fakes only: no process)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mcpgateway.core.adopted import layoutMatches
from mcpgateway.core.childlayout import layoutOf
from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, fakeSpawner

SPEC = ServerSpec(name="files", command="npx", args=("-y", "pkg"), executable="/usr/bin/npx")


class Confiner:
    """Lays children out as a gateway with C{gatewayFiles} would."""

    default = "auto"
    proxy = None

    def __init__(self, gatewayFiles: list[str]) -> None:
        self.gatewayFiles = gatewayFiles
        self.asked: list[tuple[str, str]] = []

    def request(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> Any:
        self.asked.append((spec.command, environ.get("M", "")))
        return {"command": spec.command, "gatewayFiles": self.gatewayFiles, "parent": 1}


class Upstream:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec


def handed(layout: str, confinement: str = "auto") -> HandedChild:
    return HandedChild(
        "files", "", "f", 10, 10, confinement=confinement, layout=layout, command="/usr/bin/node"
    )


def test_a_kept_child_is_laid_out_as_this_gateway_would_lay_out_its_command() -> None:
    confiner = Confiner(["/home/u/servers.json"])
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner, marker=("M", "7-ab"))
    # Laid out for its resolved program, as its launcher was, whatever the entry's command.
    same = layoutOf({"command": "/usr/bin/node", "gatewayFiles": ["/home/u/servers.json"]})
    assert layoutMatches(spawner, Upstream(SPEC), handed(same))  # type: ignore[arg-type]
    assert confiner.asked == [("/usr/bin/node", "7-ab")]


def test_a_kept_child_with_fewer_masks_than_this_gateway_gives_is_not_kept() -> None:
    old = layoutOf({"command": "/usr/bin/node", "gatewayFiles": ["/home/u/servers.json"]})
    confiner = Confiner(["/home/u/servers.json", "/home/u/tokens.json"])  # --auth-tokens now
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    assert not layoutMatches(spawner, Upstream(SPEC), handed(old))  # type: ignore[arg-type]
    assert not layoutMatches(spawner, Upstream(SPEC), handed(""))  # type: ignore[arg-type]


def test_an_unconfined_child_has_no_layout_to_compare() -> None:
    spawner = fakeSpawner(FakeProcessReactor(), confiner=Confiner([]))
    one = replace(handed("whatever"), confinement="")
    assert layoutMatches(spawner, Upstream(SPEC), one)  # type: ignore[arg-type]
