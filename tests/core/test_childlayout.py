"""What a confined child's sandbox gives it, as the digest a kept child is
compared by: what changes it, and what does not (no process, no file but
a throwaway copy of sources)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.childlayout import (
    SANDBOX_CODE,
    launchLayout,
    layoutOf,
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
        "mechanism": "auto",
        "bwrap": None,
        "landlock": 0,
        "privateFiles": ["/etc/shadow"],
        "network": {"mode": "none", "allowedDomains": [], "proxy": "/run/9.sock"},
    }
    assert layoutOf(other) == layoutOf(REQUEST)


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


def test_a_launch_layout_says_whether_the_child_reaches_the_proxy() -> None:
    spec = ServerSpec(name="files", command="srv")
    learning = ServerSpec(name="files", command="srv", sandbox=SandboxProfile(setting=LEARN))
    assert launchLayout(Confiner("allow", object()), spec, [], {})[1]
    assert not launchLayout(Confiner("allow"), spec, [], {})[1]  # no proxy at all
    assert not launchLayout(Confiner("none", object()), spec, [], {})[1]
    assert launchLayout(Confiner("none", object()), learning, [], {})[1]  # its recording proxy
    assert launchLayout(object(), spec, [], {}) == ("", False)  # no request to show
    assert usesProxy({"network": {"mode": "allow"}}) and not usesProxy({"network": "x"})
