"""Whether a kept child's sandbox is the one this gateway process would
give a child of its server: the gateway's own files, the other servers,
the network, what its sandbox probe found (fakes only: no process)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.adopted import (
    LAID_OUT_OTHERWISE,
    LayoutCheck,
    compareLayout,
    probeAnswered,
    unmaskedWhy,
)
from mcpgateway.core.childlayout import layoutOf, probedOf, unmaskedOthers
from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.sandbox.layout import request, tree

SPEC = ServerSpec(name="files", command="npx", args=("-y", "pkg"), executable="/usr/bin/npx")


class Confiner:
    """Lays children out as a gateway with C{gatewayFiles} and servers
    naming C{others} would."""

    default = "auto"
    proxy = None

    def __init__(
        self, gatewayFiles: list[str], mechanism: str = "bwrap", others: tuple[str, ...] = ()
    ) -> None:
        self.gatewayFiles = gatewayFiles
        self.mechanism = mechanism
        self.others = others
        self.asked: list[tuple[str, str]] = []

    def request(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> Any:
        self.asked.append((spec.command, environ.get("M", "")))
        return laidOut(spec.command, self.gatewayFiles, self.mechanism, self.others)


def laidOut(
    command: str, gatewayFiles: list[str], mechanism: str = "bwrap", others: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A launch request, as the fake confiner makes it."""
    return {
        "command": command,
        "gatewayFiles": gatewayFiles,
        "mechanism": mechanism,
        "parent": 1,
        "others": list(others),
    }


class Upstream:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec


def handed(
    layout: str, confinement: str = "auto", probed: Any = None, others: Any = None
) -> HandedChild:
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
        others=others,
    )


FILES = ["/home/u/servers.json"]


def keptWith(others: tuple[str, ...], record: bool = True) -> HandedChild:
    """A kept child started while the servers named C{others} (recorded,
    or a record from before others were kept)."""
    before = laidOut("/usr/bin/node", FILES, others=others)
    return handed(layoutOf(before), probed=probedOf(before), others=others if record else None)


def comparedNow(kept: HandedChild, others: tuple[str, ...], files: list[str] = FILES) -> Any:
    spawner = fakeSpawner(FakeProcessReactor(), confiner=Confiner(files, others=others))
    return compareLayout(spawner, Upstream(SPEC), kept)  # type: ignore[arg-type]


def test_a_kept_child_whose_servers_named_more_is_kept_as_it_hides_more() -> None:
    kept = keptWith(("/opt/a", "/srv/b"))
    assert comparedNow(kept, ("/opt/a",)) == (None, None)


def test_servers_added_since_a_kept_child_started_are_read_off_the_files() -> None:
    kept = keptWith(("/opt/a",))
    compared = comparedNow(kept, ("/opt/a", "/home/u/venvs/tool/bin/python"))
    assert compared.why is None and compared.check is not None
    check = compared.check
    assert check.before == ("/opt/a",)
    assert check.now["others"] == ["/opt/a", "/home/u/venvs/tool/bin/python"]
    assert check.argv == ["/usr/bin/npx", "-y", "pkg"]


def test_other_servers_and_something_else_changed_is_not_kept() -> None:
    kept = keptWith(("/opt/a",))
    compared = comparedNow(kept, ("/opt/a", "/srv/new"), files=[*FILES, "/home/u/tokens.json"])
    assert compared == (LAID_OUT_OTHERWISE, None)


def test_a_record_without_the_other_servers_is_compared_whole() -> None:
    kept = keptWith(("/opt/a",), record=False)
    assert comparedNow(kept, ("/opt/a", "/srv/new")) == (LAID_OUT_OTHERWISE, None)
    assert comparedNow(kept, ("/opt/a",)) == (None, None)


class Built:
    """What the launcher's layout builder gives: the masks."""

    def __init__(self, masked: list[tuple[str, bool]]) -> None:
        self.masked = masked


def test_what_the_kept_child_lacks_is_what_only_the_new_servers_mask() -> None:
    """The layout builder decides what each other server's path hides
    (here: those under /home/u/work, where the child works)."""

    def build(request: Any, argv: list[str], environ: Any) -> Built:
        shown = [p for p in request["others"] if p.startswith("/home/u/work/")]
        return Built([("/home/u/.ssh", True), *((p, True) for p in shown)])

    now = laidOut("/usr/bin/node", FILES, others=("/opt/a", "/home/u/work/x", "/home/u/y"))
    assert unmaskedOthers(build, now, ("/opt/a",), [], {}) == ("/home/u/work/x",)
    assert unmaskedOthers(build, now, ("/opt/a", "/home/u/work/x"), [], {}) == ()
    check = LayoutCheck(now, ("/opt/a",), ["/usr/bin/node"], {})
    assert "/home/u/work/x" in unmaskedWhy(unmaskedOthers(build, check.now, check.before, [], {}))


def test_a_kept_child_is_laid_out_as_this_gateway_would_lay_out_its_command() -> None:
    confiner = Confiner(["/home/u/servers.json"])
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner, marker=("M", "7-ab"))
    # Laid out for its resolved program, as its launcher was, whatever the entry's command.
    same = layoutOf(laidOut("/usr/bin/node", ["/home/u/servers.json"]))
    assert compareLayout(spawner, Upstream(SPEC), handed(same)) == (None, None)  # type: ignore[arg-type]
    assert confiner.asked == [("/usr/bin/node", "7-ab")]


def test_a_kept_child_with_fewer_masks_than_this_gateway_gives_is_not_kept() -> None:
    before = laidOut("/usr/bin/node", ["/home/u/servers.json"])
    confiner = Confiner(["/home/u/servers.json", "/home/u/tokens.json"])  # --auth-tokens now
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    old = handed(layoutOf(before), probed=probedOf(before))
    assert compareLayout(spawner, Upstream(SPEC), old).why == LAID_OUT_OTHERWISE  # type: ignore[arg-type]
    assert compareLayout(spawner, Upstream(SPEC), handed("")).why is not None  # type: ignore[arg-type]


def test_a_kept_child_this_gateways_probe_would_lay_out_otherwise_says_so() -> None:
    before = laidOut("/usr/bin/node", ["/home/u/servers.json"])  # bubblewrap, back then
    confiner = Confiner(["/home/u/servers.json"], mechanism="landlock")  # no bubblewrap now
    spawner = fakeSpawner(FakeProcessReactor(), confiner=confiner)
    old = handed(layoutOf(before), probed=probedOf(before))
    why = compareLayout(spawner, Upstream(SPEC), old).why  # type: ignore[arg-type]
    assert why == (
        "what the sandbox probe finds here differs: the mechanism (when it started:"
        " bubblewrap; here: Landlock)"
    )


def test_an_unconfined_child_has_no_layout_to_compare() -> None:
    spawner = fakeSpawner(FakeProcessReactor(), confiner=Confiner([]))
    one = replace(handed("whatever"), confinement="")
    assert compareLayout(spawner, Upstream(SPEC), one).why is None  # type: ignore[arg-type]


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


def test_the_launchers_own_layout_says_what_an_added_server_hides(tmp_path: Path) -> None:
    """The real layout: a server added inside the node package the kept
    child runs from is masked for a new child, so the kept one, which
    sees it, is not kept; one added out of the child's sight changes
    nothing it sees."""
    tree(tmp_path)
    mine = tmp_path / "proj/node_modules/@m/srv/dist/index.js"
    theirs = tmp_path / "proj/node_modules/@m/other/dist"
    theirs.mkdir(parents=True)
    (theirs / "index.js").write_text("")
    venv = tmp_path / "home" / "venvs" / "tool" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("")
    argv = ["/usr/bin/node", str(mine)]
    outOfSight = request(tmp_path, others=[str(venv / "python")])
    assert LayoutCheck(outOfSight, (), argv, {}).unmasked() == ()
    inSight = request(tmp_path, others=[str(venv / "python"), str(theirs / "index.js")])
    assert LayoutCheck(inSight, (), argv, {}).unmasked() == (
        str(tmp_path / "proj/node_modules/@m/other"),
    )
    assert LayoutCheck(inSight, (str(theirs / "index.js"),), argv, {}).unmasked() == ()
