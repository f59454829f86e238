"""The gateway's own package installs in their server's sandbox: the
profile an install gets, and the view of the file system its request
gives (its own install folder writable, over the state directory's mask;
no other)."""

from __future__ import annotations

from pathlib import Path

from mcpgateway.sandbox.installs import installProfile, installSpec
from mcpgateway.sandbox.layout import build
from mcpgateway.sandbox.profile import parseSandbox
from tests.support.sandbox.confine import spec
from tests.support.sandbox.layout import bound, request, tree

NPM = "/usr/bin/npm"


def test_an_install_keeps_its_entrys_rules_never_learns_and_gets_only_its_registries() -> None:
    entry = parseSandbox(
        {
            "sandbox": {
                "filesystem": {"denyRead": ["~/x"], "allowWrite": ["~/data/"]},
                "network": {"allowedDomains": ["api.x.org"], "deniedDomains": ["bad.x.org"]},
                "limits": {"processes": 64},
                "syscalls": "unfiltered",
            }
        }
    )
    profile = installProfile(entry)
    assert profile.filesystem == entry.filesystem and profile.limits == entry.limits
    assert profile.syscalls == "unfiltered" and profile.setting == "on"
    assert profile.network.mode is None and profile.network.allowedDomains == ()
    assert profile.network.deniedDomains == ("bad.x.org",)
    assert installProfile(parseSandbox({"sandbox": "learn"})).setting == "on"
    assert installProfile(parseSandbox({"sandbox": False})).setting == "off"
    assert installProfile(parseSandbox({})).setting == "unset"
    for word in ("none", "host"):
        assert installProfile(parseSandbox({"sandbox": {"network": word}})).network.mode is None


def test_an_installs_spec_runs_its_installer_in_its_folder() -> None:
    server = spec("srv", command="npx", cwd="/work/project", mode="workspace")
    install = installSpec(server, NPM, "/s/npx/pkg")
    assert (install.name, install.command, install.cwd) == ("srv", NPM, "/s/npx/pkg")
    assert install.mode != "workspace" and install.env == server.env


def test_an_install_writes_its_own_folder_and_nothing_else_of_the_state_directory(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    state = home / ".mcpgateway"
    target = state / "npx" / "pkg"
    (state / "npx" / "other").mkdir()
    asked = request(tmp_path, command=NPM, cwd=str(target), install=str(target))
    layout = build(asked, [NPM, "install", "--prefix", str(target), "pkg@1"], {"HOME": str(home)})
    seen = bound(layout)
    assert seen[str(target)] is True
    assert str(home / ".npm") not in seen  # never the user's npm cache
    assert [p for p in seen if p.startswith(str(state)) and p != str(target)] == []
    assert (str(target), True) in layout.reopened
    cache = state / "caches" / "srv" / "npm"  # npm's cache: the install's own
    assert [p for p, w in layout.reopened if w] == [str(cache), str(target)]
    assert layout.caches.variables == {"npm_config_cache": str(cache / "cache")}


def test_an_uv_install_keeps_the_folders_of_its_own_that_the_gateway_named(
    tmp_path: Path,
) -> None:
    """C{uv tool install} into C{<state>/uvx/<package>}: the tool folders
    the gateway names are in the install itself, and kept; uv's cache is
    the install's own, never the user's (nor what the entry says)."""
    home = tree(tmp_path)
    state = home / ".mcpgateway"
    target = state / "uvx" / "pkg"
    target.mkdir(parents=True)
    uv = "/usr/bin/uv"
    asked = request(
        tmp_path, command=uv, cwd=str(target), install=str(target), entryEnv=["UV_CACHE_DIR"]
    )
    environ = {
        "UV_TOOL_DIR": str(target / "tools"),
        "UV_TOOL_BIN_DIR": str(target / "bin"),
        "UV_PYTHON_INSTALL_DIR": str(target / "python"),
        "UV_CACHE_DIR": str(home / ".cache/uv"),
    }
    layout = build(asked, [uv, "tool", "install", "pkg"], environ)
    own = state / "caches" / "srv" / "uv"
    assert layout.caches.variables == {
        "UV_CACHE_DIR": str(own / "cache"),
        "UV_TOOL_DIR": str(target / "tools"),
        "UV_TOOL_BIN_DIR": str(target / "bin"),
        "UV_PYTHON_INSTALL_DIR": str(target / "python"),
        "UV_PYTHON_BIN_DIR": str(own / "python-bin"),
    }
    assert [p for p, w in layout.reopened if w] == [str(own), str(target)]
    assert str(home / ".cache/uv") not in bound(layout)
    assert layout.notes == [
        f"UV_CACHE_DIR={home}/.cache/uv in its env is ignored: the sandbox names uv's caches"
        f" (UV_CACHE_DIR={own}/cache)"
    ]


def test_only_the_requests_install_folder_is_reopened_writable(tmp_path: Path) -> None:
    home = tree(tmp_path)
    state = home / ".mcpgateway"
    other = state / "npx" / "pkg"
    # an entry's allowWrite naming an install folder: not lifted over the state directory
    rules = {"filesystem": {"allowWrite": [str(other)]}}
    layout = build(request(tmp_path, profile=rules), ["/usr/bin/node", "x.js"], {})
    assert [p for p, w in layout.reopened if w] == []
    # an install folder outside the installs' folders: not lifted either (npm's own cache is)
    (state / "sandbox").mkdir()
    elsewhere = request(tmp_path, command=NPM, install=str(state / "sandbox"))
    layout = build(elsewhere, [NPM, "install"], {})
    assert [p for p, w in layout.reopened if w] == [str(state / "caches" / "srv" / "npm")]
