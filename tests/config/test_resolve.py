"""npx/uvx resolution without real processes: the installs are L{FakeProcess}es
whose "work" the test does itself (it writes the tree npm or uv would leave
under the C{--prefix}/C{UV_TOOL_DIR} the resolver asked for) before feeding
the exit code; time is the fake reactor's clock."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.logger import LogEvent, LogLevel

from mcpgateway.config import resolve, wrappers
from mcpgateway.config.resolve import CACHE_FILE, Resolver
from mcpgateway.config.wrappers import nodeCommand, parseWrapper, summarize
from mcpgateway.core.spec import EntryOrigin, ServerSpec
from tests.fakes import FakeProcessReactor, capturedGatewayLogs
from tests.support.config.executables import scripts
from tests.support.config.resolve import NPM, UV, fired, npmInstalls, pending, prefixOf

DAY = 86400.0
NODE_SHEBANG = b"#!/usr/bin/env node\nconsole.log('hi')\n"


# -- helpers ----------------------------------------------------------------------


def npx(
    *args: str, name: str = "srv", env: dict[str, str] | None = None, command: str = "npx"
) -> ServerSpec:
    return ServerSpec(
        name=name,
        command=command,
        args=args,
        env=tuple(sorted((env or {}).items())),
        mode="stateful",
        executable="/usr/bin/" + os.path.basename(command),
    )


def uvx(*args: str, name: str = "srv") -> ServerSpec:
    return ServerSpec(name=name, command="uvx", args=args, executable="/usr/bin/uvx")


@pytest.fixture
def binDir(tmp_path: Path) -> Path:
    """A PATH folder with a fake C{node}."""
    return scripts(tmp_path / "bin", "node")


@pytest.fixture
def reactor() -> FakeProcessReactor:
    return FakeProcessReactor()


@pytest.fixture
def stateDir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def resolver(stateDir: Path, reactor: FakeProcessReactor, binDir: Path) -> Resolver:
    return makeResolver(stateDir, reactor, binDir)


def makeResolver(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, **kwargs: Any
) -> Resolver:
    kwargs.setdefault("npm", NPM)
    kwargs.setdefault("uv", UV)
    kwargs.setdefault("setsid", None)
    return Resolver(stateDir, reactor, reactor, {"PATH": str(binDir), "HOME": "/home/u"}, **kwargs)


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    with capturedGatewayLogs() as events:
        yield events


def warnings(events: list[LogEvent]) -> list[LogEvent]:
    return [e for e in events if e["log_level"] == LogLevel.warn]


def readCache(stateDir: Path) -> dict[str, Any]:
    return json.loads((stateDir / CACHE_FILE).read_text())  # type: ignore[no-any-return]


# -- wrapperOf --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("npx", ["-y", "pkg"], ("npx", "pkg", [])),
        ("npx", ["--yes", "pkg@1", "a", "b"], ("npx", "pkg@1", ["a", "b"])),
        ("npx", ["pkg", "-y", "--port", "3"], ("npx", "pkg", ["-y", "--port", "3"])),
        ("npx", ["-y", "@org/pkg@2", "stdio"], ("npx", "@org/pkg@2", ["stdio"])),
        ("npx", ["@org/pkg"], ("npx", "@org/pkg", [])),
        (
            "npx",
            ["-y", "@upstash/context7-mcp@latest"],
            ("npx", "@upstash/context7-mcp@latest", []),
        ),
        ("npx", ["-y", "pkg@^1.2"], ("npx", "pkg@^1.2", [])),
        ("npx", ["-p", "pkg", "bin"], ("npx", "pkg", ["bin"])),
        (
            "npx",
            ["-y", "--package", "@org/pkg@3", "tool", "x"],
            ("npx", "@org/pkg@3", ["tool", "x"]),
        ),
        ("npx", ["--package=pkg", "bin", "--flag"], ("npx", "pkg", ["bin", "--flag"])),
        ("npx", ["-y", "--", "pkg", "a"], ("npx", "pkg", ["a"])),
        ("/usr/local/bin/npx", ["-y", "pkg"], ("npx", "pkg", [])),
        ("uvx", ["pkg"], ("uvx", "pkg", [])),
        ("uvx", ["mcp-server-fetch@1.2.0", "--x"], ("uvx", "mcp-server-fetch@1.2.0", ["--x"])),
        ("uvx", ["--from", "x", "y"], ("uvx", "x", ["y"])),
        ("uvx", ["--from=x[cli]==2", "y", "z"], ("uvx", "x[cli]==2", ["y", "z"])),
        ("uvx", ["--python", "3.12", "pkg"], ("uvx", "pkg", [])),
    ],
)
def test_wrapper_of_parses_npx_and_uvx_forms(
    resolver: Resolver, command: str, args: list[str], expected: tuple[str, str, list[str]]
) -> None:
    spec = ServerSpec(name="s", command=command, args=tuple(args))
    assert resolver.wrapperOf(spec) == expected


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("node", ["server.js"]),
        ("python3", ["-m", "npx"]),
        ("npx", []),
        ("npx", ["-y"]),
        ("npx", ["--registry", "https://r.example", "pkg"]),  # unknown flag
        ("npx", ["-c", "echo hi"]),
        ("npx", ["-p", "a", "-p", "b", "bin"]),  # two packages
        ("npx", ["-p", "pkg"]),  # no command
        ("npx", ["github:user/repo"]),  # not a registry spec
        ("npx", ["./local/dir"]),
        ("npx", ["https://example.com/pkg.tgz"]),
        ("npx", ["alias@npm:pkg@1"]),
        ("npm", ["exec", "pkg"]),
        ("uvx", []),
        ("uvx", ["--with", "x", "pkg"]),  # unknown flag
        ("uvx", ["--from", "x"]),
        ("uvx", ["pkg==1.0"]),
        ("uvx", ["--from", "x", "./script.py"]),
    ],
)
def test_wrapper_of_is_none_for_other_commands_and_unknown_forms(
    resolver: Resolver, command: str, args: list[str]
) -> None:
    assert resolver.wrapperOf(ServerSpec(name="s", command=command, args=tuple(args))) is None


def test_cache_keys_tell_apart_what_selects_the_binary() -> None:
    keys = {
        parseWrapper(spec).key  # type: ignore[union-attr]
        for spec in [
            npx("-y", "pkg"),
            npx("pkg@1"),
            npx("-p", "pkg", "other"),
            uvx("pkg"),
            uvx("--python", "3.12", "pkg"),
            uvx("--from", "pkg", "other"),
        ]
    }
    assert keys == {
        "npx:pkg",
        "npx:pkg@1",
        "npx:pkg#other",
        "uvx:pkg",
        "uvx:pkg?python=3.12",
        "uvx:pkg#other",
    }


# -- npx: resolving -----------------------------------------------------------------


def test_npx_installs_the_exact_version_into_the_state_dir_and_runs_node_on_the_bin(
    resolver: Resolver,
    reactor: FakeProcessReactor,
    stateDir: Path,
    binDir: Path,
    logged: list[LogEvent],
) -> None:
    spec = npx(
        "-y",
        "@org/server@1.2.3",
        "stdio",
        "--verbose",
        env={"npm_config_registry": "https://registry.example", "TOKEN": "t"},
    )
    d = resolver.resolve(spec)
    pending(d)
    [(executable, argv, env, path)] = reactor.spawned
    prefix = prefixOf(reactor)
    assert executable == NPM
    assert argv == [
        NPM,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--loglevel=error",
        "--prefer-offline",
        "@org/server@1.2.3",
    ]
    assert prefix.parent == stateDir / "npx" and prefix.is_dir()
    assert prefix.name.startswith("@org+server@1.2.3-")
    assert path == str(prefix)
    # The entry's env reaches npm (private registries, proxies), on top of the gateway's.
    assert env == {
        "PATH": str(binDir),
        "HOME": "/home/u",
        "npm_config_registry": "https://registry.example",
        "TOKEN": "t",
    }
    assert reactor.lastProcess.stdinClosed

    packageDir = npmInstalls(
        reactor, "@org/server", {"bin": "dist/index.js"}, {"dist/index.js": NODE_SHEBANG}
    )
    resolved = fired(d)
    binFile = str(packageDir / "dist" / "index.js")
    assert resolved.command == resolved.executable == str(binDir / "node")
    assert resolved.args == (binFile, "stdio", "--verbose")
    # Everything else is the entry's own.
    assert (resolved.name, resolved.env, resolved.mode, resolved.cwd) == (
        spec.name,
        spec.env,
        spec.mode,
        spec.cwd,
    )

    cache = readCache(stateDir)
    assert cache == {
        "version": 1,
        "entries": {
            "npx:@org/server@1.2.3": {"command": [str(binDir / "node"), binFile], "resolvedAt": 0}
        },
    }
    [info] = [e for e in logged if e["log_level"] == LogLevel.info]
    assert info["server"] == "srv" and info["package"] == "@org/server@1.2.3"
    assert "{command}" in info["log_format"] and not warnings(logged)


def test_npx_without_a_version_installs_latest_and_does_not_prefer_the_offline_cache(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    resolver.resolve(npx("-y", "pkg"))
    argv = reactor.spawned[0][1]
    assert argv[-1] == "pkg@latest" and "--prefer-offline" not in argv


def test_npx_with_a_range_or_tag_is_installed_as_written(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    resolver.resolve(npx("pkg@^2"))
    resolver.resolve(npx("other@next"))
    assert [argv[-1] for _, argv, _, _ in reactor.spawned] == ["pkg@^2", "other@next"]
    assert not any("--prefer-offline" in argv for _, argv, _, _ in reactor.spawned)


@pytest.mark.parametrize(
    ("name", "bins", "expected"),
    [
        ("@org/tool", {"tool-admin": "a.js", "tool": "t.js", "zz": "z.js"}, "t.js"),
        ("tool", {"tool": "t.js", "other": "o.js"}, "t.js"),
        ("@org/server-everything", {"mcp-server-everything": "dist/index.js"}, "dist/index.js"),
    ],
)
def test_npx_picks_the_bin_named_like_the_package_else_the_only_one(
    resolver: Resolver, reactor: FakeProcessReactor, name: str, bins: dict[str, str], expected: str
) -> None:
    d = resolver.resolve(npx("-y", name + "@1.0.0"))
    packageDir = npmInstalls(
        reactor, name, {"bin": bins}, {path: NODE_SHEBANG for path in bins.values()}
    )
    assert fired(d).args == (str(packageDir / expected),)


def test_npx_with_several_bins_and_none_named_like_the_package_runs_as_configured(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path, logged: list[LogEvent]
) -> None:
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    npmInstalls(
        reactor,
        "pkg",
        {"bin": {"a": "a.js", "b": "b.js"}},
        {"a.js": NODE_SHEBANG, "b.js": NODE_SHEBANG},
    )
    assert fired(d) is spec
    [warning] = warnings(logged)
    assert warning["server"] == "srv"
    assert "several bins (a, b)" in warning["why"]
    assert not (stateDir / CACHE_FILE).exists()


def test_npx_package_form_runs_the_named_bin(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    d = resolver.resolve(npx("-y", "-p", "@org/kit@2.0.0", "kit-server", "--stdio"))
    packageDir = npmInstalls(
        reactor,
        "@org/kit",
        {"bin": {"kit": "k.js", "kit-server": "s.js"}},
        {"k.js": NODE_SHEBANG, "s.js": NODE_SHEBANG},
    )
    assert fired(d).args == (str(packageDir / "s.js"), "--stdio")
    assert list(readCache(stateDir)["entries"]) == ["npx:@org/kit@2.0.0#kit-server"]


def test_npx_package_form_also_finds_a_bin_of_a_dependency(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    d = resolver.resolve(npx("-p", "wrapper@1.0.0", "dep-bin"))
    prefix = prefixOf(reactor)
    depBin = prefix / "node_modules" / "dep" / "cli.js"
    depBin.parent.mkdir(parents=True)
    depBin.write_bytes(NODE_SHEBANG)
    (prefix / "node_modules" / ".bin").mkdir()
    (prefix / "node_modules" / ".bin" / "dep-bin").symlink_to("../dep/cli.js")
    npmInstalls(reactor, "wrapper", {"bin": "w.js"}, {"w.js": NODE_SHEBANG})
    assert fired(d).args == (str(depBin),)


def test_npx_package_without_a_bin_runs_as_configured_with_a_warning(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    spec = npx("-y", "lib@1.0.0", "x")
    d = resolver.resolve(spec)
    npmInstalls(reactor, "lib", {"main": "index.js"})
    assert fired(d) is spec
    [warning] = warnings(logged)
    assert (warning["server"], warning["kind"], warning["package"]) == ("srv", "npx", "lib@1.0.0")
    assert warning["why"] == "package lib declares no bin"
    assert warning["command"] == "npx -y lib@1.0.0 x"


def test_npm_failure_runs_as_configured_with_a_warning_saying_why(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path, logged: list[LogEvent]
) -> None:
    spec = npx("-y", "@org/missing@1.0.0")
    d = resolver.resolve(spec)
    reactor.lastProcess.stderr(
        b'npm warn Unknown user config "nodedir".\nnpm error code E404\n'
        b"npm error 404 Not Found - GET https://registry.npmjs.org/@org%2fmissing\n"
        b"npm error A complete log of this run can be found in: /x.log\n"
    )
    reactor.lastProcess.exit(1)
    assert fired(d) is spec
    [warning] = warnings(logged)
    assert warning["why"] == (
        "npm install failed (exit code 1): 404 Not Found - GET"
        " https://registry.npmjs.org/@org%2fmissing"
    )
    assert not (stateDir / CACHE_FILE).exists()


def test_npm_that_cannot_be_spawned_runs_as_configured(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    reactor.spawnError = OSError(2, "No such file or directory")
    spec = npx("-y", "pkg@1.0.0")
    assert fired(resolver.resolve(spec)) is spec
    assert "cannot run /opt/fake/bin/npm" in warnings(logged)[0]["why"]


def test_without_npm_nothing_is_spawned(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, logged: list[LogEvent]
) -> None:
    resolver = makeResolver(stateDir, reactor, binDir, npm=None)
    spec = ServerSpec(
        name="srv",
        command="npx",
        args=("-y", "pkg@1.0.0"),
        executable=str(stateDir / "nowhere" / "npx"),
    )
    assert fired(resolver.resolve(spec)) is spec
    assert reactor.spawned == []
    assert warnings(logged)[0]["why"] == "npm was not found"


def test_npm_is_found_beside_the_entrys_npx_when_not_given(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, tmp_path: Path
) -> None:
    tools = scripts(tmp_path / "tools", "npx", "npm")
    resolver = makeResolver(stateDir, reactor, binDir, npm=None)
    resolver.resolve(
        ServerSpec(name="s", command="npx", args=("pkg@1.0.0",), executable=str(tools / "npx"))
    )
    assert reactor.spawned[0][0] == str(tools / "npm")


def test_an_install_that_hangs_is_killed_after_the_timeout(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, logged: list[LogEvent]
) -> None:
    resolver = makeResolver(stateDir, reactor, binDir, timeout=60)
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    reactor.advance(59)
    pending(d)
    reactor.advance(1)
    assert reactor.lastProcess.signals == ["KILL"]
    assert fired(d) is spec
    assert warnings(logged)[0]["why"] == "npm install took longer than 60s and was killed"
    assert not reactor.getDelayedCalls()


def test_node_missing_from_path_runs_as_configured(
    stateDir: Path, reactor: FakeProcessReactor, tmp_path: Path, logged: list[LogEvent]
) -> None:
    resolver = Resolver(stateDir, reactor, reactor, {"PATH": str(tmp_path / "empty")}, npm=NPM)
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(d) is spec
    assert warnings(logged)[0]["why"] == "'node' is not on PATH"


def test_node_is_looked_up_on_the_path_of_the_entrys_env(
    stateDir: Path, reactor: FakeProcessReactor, tmp_path: Path, binDir: Path
) -> None:
    resolver = Resolver(stateDir, reactor, reactor, {"PATH": str(tmp_path / "empty")}, npm=NPM)
    d = resolver.resolve(npx("-y", "pkg@1.0.0", env={"PATH": str(binDir)}))
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(d).executable == str(binDir / "node")


# -- the bin file -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"#!/usr/bin/env node\n", "cli.js", ["NODE", "BIN"]),
        (b"#!/usr/bin/env node\n", "cli", ["NODE", "BIN"]),
        (
            b"#! /usr/bin/env -S node --no-warnings --enable-source-maps\n",
            "cli",
            ["NODE", "--no-warnings", "--enable-source-maps", "BIN"],
        ),
        (
            b"#!/opt/node/bin/node --max-old-space-size=512\n",
            "cli",
            ["/opt/node/bin/node", "--max-old-space-size=512", "BIN"],
        ),
        (b"'use strict';\n", "cli.mjs", ["NODE", "BIN"]),
        (b"#!/bin/sh\nexec something\n", "cli.sh", ["BIN"]),
        (b"\x7fELF\x02\x01\x01", "server", ["BIN"]),
    ],
)
def test_node_command_runs_node_scripts_with_node_and_anything_else_as_itself(
    tmp_path: Path, binDir: Path, head: bytes, name: str, expected: list[str]
) -> None:
    binFile = tmp_path / name
    binFile.write_bytes(head)
    binFile.chmod(0o755)
    replacements = {"NODE": str(binDir / "node"), "BIN": str(binFile)}
    assert nodeCommand(binFile, str(binDir)) == [replacements.get(w, w) for w in expected]


def test_node_command_refuses_a_file_that_is_neither_node_nor_executable(tmp_path: Path) -> None:
    binFile = tmp_path / "data.txt"
    binFile.write_bytes(b"hello\n")
    with pytest.raises(wrappers.ResolveError, match="neither a node script nor executable"):
        nodeCommand(binFile, None)


def test_summarize_keeps_the_telling_lines_of_npm_and_uv_output() -> None:
    npmOutput = (
        "npm error code ECONNREFUSED\nnpm error syscall connect\n"
        "npm error FetchError: request to http://127.0.0.1:9/ms failed\n"
        "npm error     at ClientRequest.<anonymous> (x.js:1:1)\n"
        "npm error   code: 'ECONNREFUSED',\nnpm error }\n"
    )
    assert summarize(npmOutput, count=1) == "FetchError: request to http://127.0.0.1:9/ms failed"
    uvOutput = "error: No solution found\n  cause: Because x was not found\n"
    assert summarize(uvOutput) == "No solution found; cause: Because x was not found"
    assert summarize("npm error code E1\n") == "npm error code E1"


# -- the cache ----------------------------------------------------------------------


def resolveOnce(
    resolver: Resolver, reactor: FakeProcessReactor, spec: ServerSpec | None = None
) -> ServerSpec:
    d = resolver.resolve(spec or npx("-y", "pkg@1.0.0", "a"))
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    return fired(d)


def test_a_fresh_cache_entry_is_used_without_spawning(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path, binDir: Path
) -> None:
    first = resolveOnce(resolver, reactor)
    reactor.advance(7 * DAY - 1)
    again = fired(resolver.resolve(npx("-y", "pkg@1.0.0", "a", name="other")))
    assert len(reactor.spawned) == 1
    assert (again.command, again.args, again.name) == (first.command, first.args, "other")
    # A new gateway (a new resolver on the same state dir) uses it too.
    fresh = makeResolver(stateDir, reactor, binDir)
    assert fired(fresh.resolve(npx("-y", "pkg@1.0.0", "b"))).args == (first.args[0], "b")
    assert len(reactor.spawned) == 1


def test_an_expired_entry_is_resolved_again(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    resolveOnce(resolver, reactor)
    reactor.advance(7 * DAY)
    d = resolver.resolve(npx("-y", "pkg@1.0.0"))
    assert len(reactor.spawned) == 2
    reactor.lastProcess.exit(0)
    fired(d)
    assert readCache(stateDir)["entries"]["npx:pkg@1.0.0"]["resolvedAt"] == 7 * DAY


def test_the_ttl_is_configurable(stateDir: Path, reactor: FakeProcessReactor, binDir: Path) -> None:
    resolver = makeResolver(stateDir, reactor, binDir, ttl=60)
    resolveOnce(resolver, reactor)
    reactor.advance(59)
    fired(resolver.resolve(npx("-y", "pkg@1.0.0")))
    reactor.advance(1)
    resolver.resolve(npx("-y", "pkg@1.0.0"))
    assert len(reactor.spawned) == 2


def test_a_cached_binary_that_is_gone_is_resolved_again(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    first = resolveOnce(resolver, reactor)
    os.unlink(first.args[0])
    d = resolver.resolve(npx("-y", "pkg@1.0.0", "a"))
    assert len(reactor.spawned) == 2
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(d) == first


def test_a_cached_node_that_is_gone_is_resolved_again(
    resolver: Resolver, reactor: FakeProcessReactor, binDir: Path
) -> None:
    resolveOnce(resolver, reactor)
    os.unlink(binDir / "node")
    resolver.resolve(npx("-y", "pkg@1.0.0"))
    assert len(reactor.spawned) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 2, "entries": {}}',
        b'{"version": 1, "entries": []}',
        b'{"version": 1, "entries": {"npx:pkg@1.0.0": {"command": "node", "resolvedAt": 0}}}',
        b'{"version": 1, "entries": {"npx:pkg@1.0.0": {"command": ["/x"], "resolvedAt": "0"}}}',
        b"\xff\xfe",
    ],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path, content: bytes
) -> None:
    stateDir.mkdir()
    (stateDir / CACHE_FILE).write_bytes(content)
    resolved = resolveOnce(resolver, reactor)
    assert readCache(stateDir)["entries"]["npx:pkg@1.0.0"]["command"] == [
        resolved.command,
        resolved.args[0],
    ]


def test_entries_of_other_packages_are_kept(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    resolveOnce(resolver, reactor)
    d = resolver.resolve(npx("-y", "other@2.0.0"))
    npmInstalls(reactor, "other", {"bin": "o.js"}, {"o.js": NODE_SHEBANG})
    fired(d)
    assert sorted(readCache(stateDir)["entries"]) == ["npx:other@2.0.0", "npx:pkg@1.0.0"]
    assert os.stat(stateDir / CACHE_FILE).st_mode & 0o777 == 0o600


def test_concurrent_resolutions_of_one_package_share_one_install(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    first = resolver.resolve(npx("-y", "pkg@1.0.0", "a", name="one"))
    second = resolver.resolve(npx("--yes", "pkg@1.0.0", "b", name="two"))
    other = resolver.resolve(npx("-y", "pkg@2.0.0", name="three"))
    assert len(reactor.spawned) == 2  # pkg@1.0.0 once, pkg@2.0.0 once
    pending(first)
    pending(second)
    packageDir = npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG}, index=0)
    binFile = str(packageDir / "cli.js")
    one, two = fired(first), fired(second)
    assert (one.name, one.args) == ("one", (binFile, "a"))
    assert (two.name, two.args) == ("two", (binFile, "b"))
    pending(other)
    # A later one starts a new resolution only if the first failed; here the cache serves it.
    fired(resolver.resolve(npx("-y", "pkg@1.0.0", name="four")))
    assert len(reactor.spawned) == 2


def test_a_repositorys_entry_installs_its_own_never_what_the_users_entry_runs(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    """A repository's entry of a package (which chose its registry, its
    C{PATH}, and whose child may write into the install) resolves into an
    install and a cache entry of its project's: the user's entry of that
    package, and another project's, install their own."""
    clone = "/home/u/clone"
    origin = EntryOrigin(f"{clone}/.mcp.json", clone, "digest")
    repository = replace(
        npx("-y", "pkg@1.0.0", env={"npm_config_registry": "http://evil.example/"}), origin=origin
    )
    theirs = resolveOnce(resolver, reactor, repository)
    mine = resolver.resolve(npx("-y", "pkg@1.0.0", name="mine"))
    assert len(reactor.spawned) == 2  # not served from the repository's install
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(mine).args[0] != theirs.args[0]
    other = replace(repository, origin=EntryOrigin("/home/u/other/.mcp.json", "/home/u/other", "d"))
    resolver.resolve(other)
    assert len(reactor.spawned) == 3
    entries = readCache(stateDir)["entries"]
    assert sorted(entries) == ["npx:pkg@1.0.0", f"npx:pkg@1.0.0 project={clone}"]
    assert entries[f"npx:pkg@1.0.0 project={clone}"]["command"][1] == theirs.args[0]
    assert len(os.listdir(stateDir / "npx")) == 3
    # The user's own entries keep the folders they always had.
    assert parseWrapper(npx("-y", "pkg@1.0.0")).folder == wrappers.safeName("pkg@1.0.0")  # type: ignore[union-attr]


def test_two_entries_asking_one_package_for_different_bins_share_the_install(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    plain = resolver.resolve(npx("-y", "kit@1.0.0", name="plain"))
    named = resolver.resolve(npx("-y", "-p", "kit@1.0.0", "kit-admin", name="named"))
    assert len(reactor.spawned) == 1  # never two npm processes in one folder
    packageDir = npmInstalls(
        reactor,
        "kit",
        {"bin": {"kit": "k.js", "kit-admin": "a.js"}},
        {"k.js": NODE_SHEBANG, "a.js": NODE_SHEBANG},
    )
    assert fired(plain).args == (str(packageDir / "k.js"),)
    assert fired(named).args == (str(packageDir / "a.js"),)
    assert sorted(readCache(stateDir)["entries"]) == ["npx:kit@1.0.0", "npx:kit@1.0.0#kit-admin"]


def test_concurrent_resolutions_that_fail_all_run_as_configured(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    specs = [npx("-y", "pkg@1.0.0", name=name) for name in ("one", "two")]
    ds = [resolver.resolve(spec) for spec in specs]
    assert len(reactor.spawned) == 1
    reactor.lastProcess.exit(1)
    assert [fired(d) for d in ds] == specs
    assert [w["server"] for w in warnings(logged)] == ["one", "two"]
    # The failure is not remembered: the next request tries again.
    resolver.resolve(specs[0])
    assert len(reactor.spawned) == 2


def test_a_failed_refresh_keeps_the_expired_binary_that_still_exists(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    first = resolveOnce(resolver, reactor)
    reactor.advance(8 * DAY)
    d = resolver.resolve(npx("-y", "pkg@1.0.0", "a"))
    reactor.lastProcess.exit(1)
    assert fired(d) == first
    [warning] = warnings(logged)
    assert "cannot refresh" in warning["log_format"] and warning["days"] == 8


def test_an_unexpected_error_is_logged_and_the_entry_runs_as_configured(
    resolver: Resolver,
    reactor: FakeProcessReactor,
    logged: list[LogEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(resolve, "pickBin", broken)
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(d) is spec
    assert any(e.get("log_failure") is not None for e in logged)
    assert "RuntimeError('boom')" in warnings(logged)[0]["why"]


def test_an_unwritable_cache_still_resolves(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path, logged: list[LogEvent]
) -> None:
    stateDir.mkdir()
    (stateDir / CACHE_FILE).mkdir()  # a directory where the file should be
    resolved = resolveOnce(resolver, reactor)
    assert resolved.command.endswith("node")
    assert "cannot write the resolution cache" in warnings(logged)[0]["log_format"]


def test_not_a_wrapper_is_returned_as_is(resolver: Resolver, reactor: FakeProcessReactor) -> None:
    spec = ServerSpec(name="s", command="/usr/bin/node", args=("server.js",))
    assert fired(resolver.resolve(spec)) is spec
    unknown = npx("--registry", "https://r", "pkg")
    assert fired(resolver.resolve(unknown)) is unknown
    assert reactor.spawned == []


# -- uvx ----------------------------------------------------------------------------


def uvInstalls(reactor: FakeProcessReactor, tool: str, commands: list[str], code: int = 0) -> Path:
    """Play C{uv tool install}: a tool env under C{UV_TOOL_DIR} and links to
    its commands in C{UV_TOOL_BIN_DIR}."""
    env = reactor.spawned[-1][2]
    assert env is not None
    toolBin = Path(env["UV_TOOL_DIR"]) / tool / "bin"
    linkDir = Path(env["UV_TOOL_BIN_DIR"])
    assert not toolBin.exists()
    scripts(toolBin, *commands, text="#!/x/bin/python\n")
    linkDir.mkdir(parents=True, exist_ok=True)
    for command in commands:
        (linkDir / command).symlink_to(toolBin / command)
    reactor.lastProcess.exit(code)
    return toolBin


def test_uvx_installs_the_tool_into_the_state_dir_and_runs_its_script(
    resolver: Resolver, reactor: FakeProcessReactor, stateDir: Path
) -> None:
    spec = uvx("mcp-server-time", "--local-timezone", "UTC")
    d = resolver.resolve(spec)
    [(executable, argv, env, path)] = reactor.spawned
    assert executable == UV
    assert argv == [UV, "tool", "install", "--upgrade", "mcp-server-time"]
    assert env is not None and path is not None
    assert Path(path).parent == stateDir / "uvx"
    assert env["UV_TOOL_DIR"] == str(Path(path) / "tools")
    assert env["UV_TOOL_BIN_DIR"] == str(Path(path) / "bin")
    toolBin = uvInstalls(reactor, "mcp-server-time", ["mcp-server-time"])
    resolved = fired(d)
    assert resolved.command == resolved.executable == str(toolBin / "mcp-server-time")
    assert resolved.args == ("--local-timezone", "UTC")
    assert list(readCache(stateDir)["entries"]) == ["uvx:mcp-server-time"]


def test_uvx_with_a_version_and_python(resolver: Resolver, reactor: FakeProcessReactor) -> None:
    resolver.resolve(uvx("--python", "3.12", "pkg@1.0"))
    assert reactor.spawned[0][1] == [UV, "tool", "install", "--python", "3.12", "pkg@1.0"]


def test_uvx_from_runs_the_named_command(resolver: Resolver, reactor: FakeProcessReactor) -> None:
    d = resolver.resolve(uvx("--from", "kit[cli]==2.0", "kit-server", "x"))
    assert reactor.spawned[0][1][-1] == "kit[cli]==2.0"
    toolBin = uvInstalls(reactor, "kit", ["kit", "kit-server"])
    assert fired(d).command == str(toolBin / "kit-server")


def test_uvx_package_without_that_command_runs_as_configured(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    spec = uvx("pkg")
    d = resolver.resolve(spec)
    uvInstalls(reactor, "pkg", ["something-else"])
    assert fired(d) is spec
    assert warnings(logged)[0]["why"] == "pkg provides no command 'pkg'"


def test_uvx_without_uv_runs_as_configured(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, logged: list[LogEvent]
) -> None:
    resolver = makeResolver(stateDir, reactor, binDir, uv=None)
    spec = ServerSpec(name="s", command="uvx", args=("pkg",), executable=None)
    assert fired(resolver.resolve(spec)) is spec
    assert reactor.spawned == []
    assert warnings(logged)[0]["why"] == "uv was not found"


# -- stopping, and what an install cut short leaves ---------------------------------


SETSID = "/usr/bin/setsid"


def unfired(d: Deferred[Any]) -> None:
    """Assert that C{d} has no result (waiting, or chained to what never fires)."""
    results: list[object] = []
    d.addBoth(results.append)
    assert results == [], results


class GroupKiller:
    """Records C{killpg} calls and ends the fake process leading each group."""

    def __init__(self, reactor: FakeProcessReactor) -> None:
        self.reactor = reactor
        self.calls: list[tuple[int, int]] = []

    def __call__(self, pgid: int, sig: int) -> None:
        self.calls.append((pgid, sig))
        for process in self.reactor.processes:
            if process.originalPid == pgid and not process.ended:
                process.exit(signal=sig)


def test_stop_kills_the_process_group_of_every_install_and_says_it_was_stopped(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path, logged: list[LogEvent]
) -> None:
    killer = GroupKiller(reactor)
    resolver = makeResolver(stateDir, reactor, binDir, setsid=SETSID, killGroup=killer)
    first = resolver.resolve(npx("-y", "@modelcontextprotocol/server-memory", name="memory"))
    second = resolver.resolve(uvx("mcp-server-time", name="time"))
    assert [argv[:2] for _, argv, _, _ in reactor.spawned] == [[SETSID, NPM], [SETSID, UV]]
    assert resolver.installing() == 2
    resolver.stop()
    assert killer.calls == [(p.originalPid, 9) for p in reactor.processes]
    assert resolver.installing() == 0
    unfired(first)  # their servers are not started: the gateway is going away
    unfired(second)
    assert not warnings(logged)
    texts = [e.get("why", "") for e in logged]
    assert "npm install was stopped: the gateway is stopping" in texts
    assert "uv tool install was stopped: the gateway is stopping" in texts
    assert not any("exit code" in text for text in texts)
    assert not reactor.getDelayedCalls()  # the install timeouts are gone
    assert not (stateDir / CACHE_FILE).exists()


def test_stop_runs_when_the_reactor_shuts_down(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path
) -> None:
    resolver = makeResolver(stateDir, reactor, binDir)
    assert (resolver.stop, (), {}) in reactor.triggers["before"]["shutdown"]


def test_without_setsid_stop_kills_the_installer_itself(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    d = resolver.resolve(npx("-y", "pkg@1.0.0"))
    resolver.stop()
    resolver.stop()  # idempotent
    assert reactor.lastProcess.signals == ["KILL"]
    unfired(d)


def test_after_stop_nothing_is_installed(resolver: Resolver, reactor: FakeProcessReactor) -> None:
    resolver.stop()
    d = resolver.resolve(npx("-y", "pkg@1.0.0"))
    assert reactor.spawned == []
    unfired(d)


def test_an_install_group_that_is_gone_is_killed_through_its_transport(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path
) -> None:
    def gone(pgid: int, sig: int) -> None:
        raise ProcessLookupError()

    resolver = makeResolver(stateDir, reactor, binDir, setsid=SETSID, killGroup=gone)
    resolver.resolve(npx("-y", "pkg@1.0.0"))
    resolver.stop()
    assert reactor.lastProcess.signals == ["KILL"]


def test_an_installer_killed_from_elsewhere_says_by_which_signal(
    resolver: Resolver, reactor: FakeProcessReactor, logged: list[LogEvent]
) -> None:
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    reactor.lastProcess.exit(signal=15)
    assert fired(d) is spec
    assert warnings(logged)[0]["why"] == "npm install was killed by signal 15"


def test_an_install_stopped_halfway_is_installed_afresh_by_the_next_gateway(
    stateDir: Path, reactor: FakeProcessReactor, binDir: Path
) -> None:
    """The reported ENOTEMPTY: npm run again over a half-written tree."""
    resolver = makeResolver(stateDir, reactor, binDir)
    resolver.resolve(npx("-y", "pkg@1.0.0"))
    prefix = prefixOf(reactor)
    half = prefix / "node_modules" / ".pkg-Xy12ab"  # npm's staging folder, left behind
    half.mkdir(parents=True)
    (half / "index.js").write_text("half")
    assert (prefix / wrappers.MARKER).read_text().strip() == str(os.getpid())
    resolver.stop()
    assert (prefix / wrappers.MARKER).exists()  # what it left is not to be trusted

    nextReactor = FakeProcessReactor()
    discarded: list[Path] = []

    def discard(path: Path) -> None:
        discarded.append(path)
        shutil.rmtree(path)

    again = makeResolver(stateDir, nextReactor, binDir, discard=discard)
    d = again.resolve(npx("-y", "pkg@1.0.0"))
    assert prefixOf(nextReactor) == prefix
    assert not half.exists()  # npm starts from an empty folder
    assert sorted(p.name for p in prefix.iterdir()) == [wrappers.MARKER]
    assert len(discarded) == 1 and discarded[0].name.startswith(".discarded-")
    assert not discarded[0].exists()
    npmInstalls(nextReactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG})
    assert fired(d).args[0] == str(prefix / "node_modules" / "pkg" / "cli.js")
    assert not (prefix / wrappers.MARKER).exists()


@pytest.mark.parametrize(
    ("marker", "installedAgain"),
    [(os.getpid, True), (os.getppid, False)],
    ids=["an install cut short", "another live gateway installing"],
)
def test_a_cached_binary_in_a_marked_folder_is_trusted_only_while_its_installer_lives(
    stateDir: Path,
    reactor: FakeProcessReactor,
    binDir: Path,
    marker: Callable[[], int],
    installedAgain: bool,
) -> None:
    """A later install there was cut short (the gateway was killed: the
    marker names no other live gateway) and the cached binary is not
    trusted; a folder another live gateway installs into is left alone."""
    resolver = makeResolver(stateDir, reactor, binDir)
    d = resolver.resolve(npx("-y", "pkg@1.0.0"))
    prefix = npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": NODE_SHEBANG}).parents[1]
    fired(d)
    (prefix / wrappers.MARKER).write_text(f"{marker()}\n")
    nextReactor = FakeProcessReactor()
    again = makeResolver(stateDir, nextReactor, binDir).resolve(npx("-y", "pkg@1.0.0"))
    if installedAgain:
        pending(again)
        assert len(nextReactor.spawned) == 1  # installed again, not the cached binary
    else:
        fired(again)
        assert nextReactor.spawned == []


def test_an_install_that_fails_on_its_own_leaves_no_marker(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    spec = npx("-y", "pkg@1.0.0")
    d = resolver.resolve(spec)
    prefix = prefixOf(reactor)
    reactor.lastProcess.exit(1)
    assert fired(d) is spec
    assert not (prefix / wrappers.MARKER).exists()  # npm tidied up: install over it next time


class WardenOfInstalls:
    """The gateway's warden, as the resolver tells it of its installers."""

    marker = ("MCPGATEWAY_CHILD_OF", "7-ab")

    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []

    def helperSpawned(self, server: str, pid: int) -> None:
        self.told.append((server, pid))

    def helperExited(self, pid: int) -> None:
        self.told.append(("exited", pid))


def test_an_installer_is_marked_and_told_to_the_warden_until_it_ends(
    resolver: Resolver, reactor: FakeProcessReactor
) -> None:
    warden = WardenOfInstalls()
    resolver.warden = warden
    d = resolver.resolve(npx("-y", "@org/server@1.2.3", name="files"))
    [(_, _, env, _)] = reactor.spawned
    # What npm starts (a postinstall's daemon, in a session of its own) is found by it.
    assert env is not None and env["MCPGATEWAY_CHILD_OF"] == "7-ab"
    pid = reactor.lastProcess.pid
    assert warden.told == [("files", pid)]
    npmInstalls(reactor, "@org/server", {"bin": "dist/index.js"}, {"dist/index.js": NODE_SHEBANG})
    fired(d)
    assert warden.told == [("files", pid), ("exited", pid)]
