"""The global npmrc an install with C{--prefix} is told to read: the one
npm reads without a prefix, where a registry mirror, a proxy or a
certificate authority is set for the whole system."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.resolve import Resolver
from mcpgateway.config.wrappers import GLOBAL_CONFIG_VARIABLES, npmGlobalConfig
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor


def nodeInstall(root: Path) -> tuple[Path, Path]:
    """A node install under C{root} as nvm or a distribution lays it out:
    C{bin/node} and C{bin/npm}, npm a script run by the C{node} on C{PATH}."""
    bin = root / "bin"
    bin.mkdir(parents=True)
    node = bin / "node"
    node.write_bytes(b"\x7fELF")
    node.chmod(0o755)
    cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text("#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n")
    cli.chmod(0o755)
    npm = bin / "npm"
    npm.symlink_to(cli)
    return node, npm


def test_it_is_the_etc_npmrc_above_the_folder_of_the_node_on_path(tmp_path: Path) -> None:
    node, npm = nodeInstall(tmp_path / "node-v20")
    found = npmGlobalConfig(str(npm), {"PATH": str(node.parent)})
    assert found == str(tmp_path / "node-v20" / "etc" / "npmrc")


def test_a_node_reached_through_a_symlink_counts_where_it_really_is(tmp_path: Path) -> None:
    """npm's prefix comes from the real path of the node it runs under
    (C{process.execPath}), as a version manager's shims and current links
    leave it."""
    nodeInstall(tmp_path / "versions" / "v22.1.0")
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "versions" / "v22.1.0")
    found = npmGlobalConfig(str(current / "bin" / "npm"), {"PATH": str(current / "bin")})
    assert found == str(tmp_path / "versions" / "v22.1.0" / "etc" / "npmrc")


def test_prefix_in_the_environment_is_npms_global_prefix(tmp_path: Path) -> None:
    node, npm = nodeInstall(tmp_path / "node")
    env = {"PATH": str(node.parent), "PREFIX": "/opt/company"}
    assert npmGlobalConfig(str(npm), env) == "/opt/company/etc/npmrc"


def test_destdir_goes_before_the_prefix_found_from_node(tmp_path: Path) -> None:
    node, npm = nodeInstall(tmp_path / "node")
    env = {"PATH": str(node.parent), "DESTDIR": "/stage"}
    assert npmGlobalConfig(str(npm), env) == "/stage" + str(tmp_path / "node" / "etc" / "npmrc")


@pytest.mark.parametrize("name", GLOBAL_CONFIG_VARIABLES)
def test_a_global_config_the_environment_names_is_left_to_npm(tmp_path: Path, name: str) -> None:
    node, npm = nodeInstall(tmp_path / "node")
    assert npmGlobalConfig(str(npm), {"PATH": str(node.parent), name: "/etc/npmrc"}) is None


def test_nothing_is_named_when_npms_node_cannot_be_found(tmp_path: Path) -> None:
    node, npm = nodeInstall(tmp_path / "node")
    assert npmGlobalConfig(str(npm), {"PATH": str(tmp_path / "empty")}) is None
    assert npmGlobalConfig(str(tmp_path / "missing-npm"), {"PATH": str(node.parent)}) is None


def test_nothing_is_named_for_an_npm_that_is_not_run_by_node(tmp_path: Path) -> None:
    npm = tmp_path / "npm"
    npm.write_bytes(b"\x7fELF\x02\x01\x01")
    npm.chmod(0o755)
    assert npmGlobalConfig(str(npm), {"PATH": str(tmp_path)}) is None


names = st.sampled_from(["PATH", "PREFIX", "DESTDIR", *GLOBAL_CONFIG_VARIABLES])
values = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))


@given(env=st.dictionaries(names, values))
def test_any_environment_gives_an_etc_npmrc_or_nothing(env: dict[str, str]) -> None:
    """The environment is the user's: whatever it holds, the answer is a
    file named C{etc/npmrc} or nothing, and never an exception."""
    found = npmGlobalConfig("/usr/bin/npm", env)
    if any(env.get(name) for name in GLOBAL_CONFIG_VARIABLES):
        assert found is None
    elif env.get("PREFIX"):
        assert found is not None and found.startswith(env["PREFIX"])
        assert found.endswith("/etc/npmrc")
    else:
        assert found is None or found.endswith("/etc/npmrc")


def test_the_resolvers_npm_install_reads_the_systems_global_npmrc(tmp_path: Path) -> None:
    """C{npm install --prefix FOLDER} alone would read C{FOLDER/etc/npmrc}:
    the install is told the system's with C{--globalconfig}."""
    node, npm = nodeInstall(tmp_path / "node")
    reactor = FakeProcessReactor()
    resolver = Resolver(
        tmp_path / "state",
        reactor,
        reactor,
        {"PATH": str(node.parent), "HOME": "/home/u"},
        npm=str(npm),
        setsid=None,
    )
    spec = ServerSpec(name="srv", command="npx", args=("-y", "pkg@1.0.0"), executable=str(npm))
    resolver.resolve(spec)
    [(_, argv, _, _)] = reactor.spawned
    at = argv.index("--globalconfig")
    assert argv[at + 1] == str(tmp_path / "node" / "etc" / "npmrc")
    assert argv[argv.index("--prefix") + 1] != str(tmp_path / "node")
