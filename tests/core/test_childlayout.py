"""What a confined child's sandbox gives it, as the digest a kept child is
compared by: what changes it (what the sandbox probe found among it, each
change named), and what does not (no process, no file but a throwaway
copy of sources)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core.childlayout import (
    SANDBOX_CODE,
    launchLayout,
    layoutOf,
    othersOf,
    probeChanges,
    probedOf,
    sandboxCode,
    usesProxy,
)
from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox.profile import LEARN, SandboxProfile

REQUEST: dict[str, Any] = {
    "v": 1,
    "server": "files",
    "mechanism": "bwrap",
    "bwrap": "/usr/bin/bwrap",
    "landlock": 4,
    "gatewayFiles": ["/home/u/servers.json"],
    "privateFiles": [],
    "stateDir": "/home/u/.mcpgateway",
    "others": ["/srv/other"],
    "profile": {"setting": "on"},
    "network": {"mode": "none", "allowedDomains": []},
    "parent": 4711,
    "dieWithParent": False,
}


def test_what_only_names_the_process_leaves_the_layout_alone() -> None:
    other = {
        **REQUEST,
        "parent": 99,
        "dieWithParent": True,
        "bwrap": "/usr/local/bin/bwrap",  # another caller's PATH: the program, not the layout
        "searchPath": "/usr/local/bin:/usr/bin",  # where a launcher looks for it, likewise
        "landlock": 0,  # Landlock's ABI says nothing of a bubblewrap child
        "network": {"mode": "none", "allowedDomains": [], "proxy": "/run/9.sock"},
    }
    assert layoutOf(other) == layoutOf(REQUEST)


LANDLOCKED = {**REQUEST, "mechanism": "landlock", "bwrap": None, "disableUserns": True}


@pytest.mark.parametrize(
    ("before", "now", "said"),
    [
        (REQUEST, LANDLOCKED, "the mechanism (when it started: bubblewrap; here: Landlock)"),
        (
            {**REQUEST, "mechanism": "auto"},  # started before its gateway's probe answered
            REQUEST,
            "the mechanism (when it started: not known: its gateway's probe had not answered;"
            " here: bubblewrap)",
        ),
        (REQUEST, {**REQUEST, "mechanism": "none"}, "(when it started: bubblewrap; here: none)"),
        (LANDLOCKED, {**LANDLOCKED, "landlock": 6}, "Landlock ABI (when it started: 4; here: 6)"),
        (
            REQUEST,
            {**REQUEST, "disableUserns": True},
            "whether bubblewrap forbids the child user namespaces",
        ),
        (
            REQUEST,
            {**REQUEST, "privateFiles": ["/etc/vendor/secret.key"]},  # a root gateway's probe
            "the files only root may read, which its sandbox masks",
        ),
    ],
)
def test_what_the_probe_found_that_lays_the_child_out_changes_the_layout(
    before: dict[str, Any], now: dict[str, Any], said: str
) -> None:
    assert layoutOf(before) != layoutOf(now)
    why = probeChanges(probedOf(before), probedOf(now))
    assert why is not None and why.startswith("what the sandbox probe finds here differs: ")
    assert said in why


def test_the_root_only_files_are_compared_as_a_set() -> None:
    one = {**REQUEST, "privateFiles": ["/etc/shadow", "/etc/gshadow"]}
    other = {**REQUEST, "privateFiles": ["/etc/gshadow", "/etc//shadow", "/etc/shadow"]}
    assert layoutOf(one) == layoutOf(other) and probedOf(one) == probedOf(other)
    assert probedOf(REQUEST)["privateFiles"] == ""


FINDING = st.dictionaries(
    st.sampled_from(["mechanism", "landlock", "disableUserns", "privateFiles", "other"]),
    st.one_of(st.text(max_size=8), st.integers(), st.booleans()),
)


@given(FINDING, FINDING)
def test_a_change_is_named_exactly_when_a_finding_differs(
    before: dict[str, Any], now: dict[str, Any]
) -> None:
    """What a record says was found comes from another process: any
    object is compared, and only the findings that lay a child out count."""
    keys = ("mechanism", "landlock", "disableUserns", "privateFiles")
    same = all(before.get(k) == now.get(k) for k in keys)
    assert (probeChanges(before, now) is None) is same
    assert probeChanges(before, before) is None


@pytest.mark.parametrize(
    "change",
    [
        {"gatewayFiles": ["/home/u/servers.json", "/home/u/tokens.json"]},  # a new --auth-tokens
        {"gatewayFiles": ["/home/u/other.json"]},  # another --config
        {"others": ["/srv/other", "/srv/added"]},  # a server added meanwhile
        {"stateDir": "/elsewhere"},
        {"network": {"mode": "allow", "allowedDomains": ["example.com"]}},
        {"profile": {"setting": "on", "denyRead": ["~/notes"]}},
    ],
)
def test_what_a_child_may_see_or_reach_changes_the_layout(change: dict[str, Any]) -> None:
    assert layoutOf({**REQUEST, **change}) != layoutOf(REQUEST)


def test_the_sandboxs_code_is_part_of_the_layout(tmp_path: Path) -> None:
    (tmp_path / "layout.py").write_text("DENY = ['~/.ssh']\n")
    before = sandboxCode(tmp_path)
    assert sandboxCode(tmp_path) == before
    (tmp_path / "layout.py").write_text("DENY = []\n")  # another version's deny list
    after = sandboxCode(tmp_path)
    assert after != before
    assert layoutOf(REQUEST, before) != layoutOf(REQUEST, after)
    assert len(SANDBOX_CODE) == 64 and layoutOf(REQUEST) == layoutOf(REQUEST, SANDBOX_CODE)


class Confiner:
    def __init__(self, mode: str, proxy: object = None) -> None:
        self.mode = mode
        self.proxy = proxy

    def request(self, spec: ServerSpec, argv: list[str], environ: dict[str, str]) -> Any:
        return {**REQUEST, "server": spec.name, "network": {"mode": self.mode}}


def test_the_other_servers_paths_a_record_keeps_are_absolute_bounded_and_at_most_256() -> None:
    many = [f"/srv/s{n}" for n in range(300)]
    assert othersOf({"others": many}) == tuple(many[:256])
    assert othersOf({"others": ["rel", 7, "/" + "x" * 5000, "/ok"]}) == ("/ok",)
    assert othersOf({}) == ()


def test_a_launch_layout_says_whether_the_child_reaches_the_proxy() -> None:
    spec = ServerSpec(name="files", command="srv")
    learning = ServerSpec(name="files", command="srv", sandbox=SandboxProfile(setting=LEARN))
    assert launchLayout(Confiner("allow", object()), spec, [], {})[1]
    assert not launchLayout(Confiner("allow"), spec, [], {})[1]  # no proxy at all
    assert not launchLayout(Confiner("none", object()), spec, [], {})[1]
    assert launchLayout(Confiner("none", object()), learning, [], {})[1]  # its recording proxy
    assert launchLayout(object(), spec, [], {}) == ("", False, {}, (), None)  # no request
    laidOut = launchLayout(Confiner("none"), spec, [], {})
    assert laidOut.probed == probedOf(REQUEST)
    assert laidOut.others == othersOf(REQUEST) and laidOut.request is not None
    assert usesProxy({"network": {"mode": "allow"}}) and not usesProxy({"network": "x"})
