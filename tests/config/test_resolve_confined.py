"""The resolver's own installs run in the sandbox of the server they are
for: what it spawns under each setting (the launcher, its request; the
installer itself when the server runs unconfined), said once when
unconfined, a refusal told in one line, the proxy held while it runs.
Fake processes, the fake reactor's clock: no install runs."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessTerminated
from twisted.logger import LogEvent, LogLevel
from twisted.python.failure import Failure

from mcpgateway.config.resolve import Resolver
from mcpgateway.core.spawn import SecretsUnavailable
from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.profile import parseSandbox
from mcpgateway.sandbox.request import launcherCommand
from tests.fakes import FakeProcessReactor, HandThreads, capturedGatewayLogs
from tests.support.config.executables import scripts
from tests.support.config.resolve import NPM, UV, fired, npmInstalls, pending, prefixOf
from tests.support.sandbox import proxyplan
from tests.support.sandbox.childtmp_removals import recordedRemovals

SETSID = "/usr/bin/setsid"
REGISTRY = "http://127.0.0.1:4873/"


class FakeProxy(proxyplan.FakeProxy):
    """The allow-list proxy: the sockets asked for, the ends held; an
    install never learns."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[Deferred[None]] = []

    def recorderFor(self, server: str, record: str) -> str:
        raise AssertionError("an install never learns")

    def status(self, server: str) -> dict[str, Any] | None:
        return None

    def hold(self, ended: Deferred[None]) -> None:
        self.held.append(ended)


def entry(name: str = "srv", *args: str, **sandbox: Any) -> ServerSpec:
    return ServerSpec(
        name=name,
        command="npx",
        args=args or ("-y", "pkg@1.0.0"),
        env=(("npm_config_registry", REGISTRY),),
        executable="/usr/bin/npx",
        sandbox=parseSandbox(sandbox),
    )


def uvEntry(**sandbox: Any) -> ServerSpec:
    return ServerSpec(
        name="py",
        command="uvx",
        args=("tool@1.0",),
        executable="/usr/bin/uvx",
        sandbox=parseSandbox(sandbox),
    )


def resolverFor(
    tmp_path: Path,
    reactor: FakeProcessReactor,
    default: str,
    home: str = "/home/u",
    **kwargs: Any,
) -> tuple[Resolver, Sandbox, FakeProxy]:
    proxy = FakeProxy()
    box = Sandbox(default, str(tmp_path / "state"), pid=lambda: 42, cwd=lambda: "/", proxy=proxy)
    binDir = scripts(tmp_path / "bin", "node")
    resolver = Resolver(
        tmp_path / "state",
        reactor,
        reactor,
        {"PATH": str(binDir), "HOME": home},
        npm=NPM,
        uv=UV,
        setsid=SETSID,
        sandbox=box,
        **kwargs,
    )
    return resolver, box, proxy


def launched(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The launcher's request and the command after its C{--}."""
    size = len(launcherCommand())
    assert argv[:size] == launcherCommand(), argv
    assert argv[size + 1] == "--"
    request: dict[str, Any] = json.loads(argv[size])
    return request, argv[size + 2 :]


def unconfinedNotes(events: list[LogEvent]) -> list[LogEvent]:
    return [e for e in events if "its package install" in str(e.get("log_format", ""))]


def test_an_install_runs_through_the_launcher_with_its_folder_and_registry_only(
    tmp_path: Path,
) -> None:
    reactor = FakeProcessReactor()
    resolver, _, proxy = resolverFor(tmp_path, reactor, "auto")
    resolving = resolver.resolve(entry())
    [(executable, argv, env, path)] = reactor.spawned
    request, command = launched(argv)
    target = command[3]
    assert Path(target).parent == tmp_path / "state" / "npx"
    # the installer itself, no setsid: the launcher leads a process group of its own
    assert executable == argv[0] and command[:4] == [NPM, "install", "--prefix", target]
    assert SETSID not in argv and path == target
    assert request["install"] == target and request["cwd"] == target
    assert request["command"] == NPM and request["server"] == "srv"
    assert request["stateDir"] == str(tmp_path / "state") and not request["workspace"]
    assert request["entryEnv"] == ["npm_config_registry"]
    # its network: npm's registry and the one its environment names, through the
    # proxy: its socket and its port, the probe not having answered (a launcher
    # that falls back to Landlock needs the port)
    assert request["network"] == {
        "mode": "allow",
        "allowedDomains": ["registry.npmjs.org", "127.0.0.1:4873"],
        "proxy": "/run/gw/srv.sock",
        "proxyPort": 40000,
    }
    assert proxy.asked == [("srv", ("registry.npmjs.org", "127.0.0.1:4873"), ())] * 2
    assert env is not None and env["npm_config_registry"] == REGISTRY
    # it runs to the end, its proxy held until then; the server is resolved as before
    [ended] = proxy.held
    pending(ended)
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": b"#!/usr/bin/env node\n"})
    assert ended.called
    resolved = fired(resolving)
    assert resolved.args[0].endswith("/node_modules/pkg/cli.js")


def test_an_install_never_learns_and_keeps_its_entrys_rules_but_not_its_network(
    tmp_path: Path,
) -> None:
    reactor = FakeProcessReactor()
    resolver, _, proxy = resolverFor(tmp_path, reactor, "off")
    resolver.resolve(entry("a", sandbox="learn"))
    network = {"allowedDomains": ["api.example.com"], "deniedDomains": ["bad.example.com"]}
    rules = {"filesystem": {"denyRead": ["~/notes"]}, "network": network}
    resolver.resolve(entry("b", "-y", "other@2.0.0", sandbox=rules))
    learning, _ = launched(reactor.spawned[0][1])
    assert "learn" not in learning and learning["profile"]["setting"] == "on"
    assert learning["syscalls"] == "filtered"
    ruled, _ = launched(reactor.spawned[1][1])
    assert ruled["profile"]["filesystem"]["denyRead"] == ["~/notes"]
    assert ruled["network"]["allowedDomains"] == ["registry.npmjs.org", "127.0.0.1:4873"]
    assert proxy.asked[-1] == (
        "b",
        ("registry.npmjs.org", "127.0.0.1:4873"),
        ("bad.example.com",),
    )


@pytest.mark.parametrize(
    ("default", "sandbox", "why"),
    [("off", {}, "--sandbox off"), ("auto", {"sandbox": False}, '"sandbox": false')],
)
def test_an_unconfined_servers_install_runs_as_before_said_once(
    tmp_path: Path, default: str, sandbox: dict[str, Any], why: str
) -> None:
    reactor = FakeProcessReactor()
    resolver, _, proxy = resolverFor(tmp_path, reactor, default)
    with capturedGatewayLogs() as events:
        resolver.resolve(entry(**sandbox))
        resolver.resolve(entry("srv", "-y", "other@1.0.0", **sandbox))
    assert [argv[:3] for _, argv, _, _ in reactor.spawned] == [[SETSID, NPM, "install"]] * 2
    [note] = unconfinedNotes(events)
    assert note["log_level"] == LogLevel.info and why in note["why"]
    assert note["server"] == "srv" and note["label"] == "npm install"
    assert proxy.asked == [] and proxy.held == []


def test_without_a_sandbox_the_install_runs_as_before(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    resolver = Resolver(tmp_path / "s", reactor, reactor, {"HOME": "/h"}, npm=NPM, setsid=SETSID)
    resolver.resolve(entry())
    [(_, argv, _, _)] = reactor.spawned
    assert argv[:3] == [SETSID, NPM, "install"]


def test_an_install_the_sandbox_refused_says_so_in_one_line(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto")
    with capturedGatewayLogs() as events:
        resolving = resolver.resolve(entry())
        process = reactor.processes[-1]
        target = prefixOf(reactor)
        process.stderr(f"npm error enoent ENOENT: no such file, open '{target}/x'\n".encode())
        process.stderr(b"npm error EACCES: permission denied, open '/home/u/.ssh/id_rsa'\n")
        process.exit(1)
    fired(resolving)
    why = resolver.failureOf(entry())
    assert why is not None and "\n" not in why
    assert why.startswith("npm install failed (exit code 1): the sandbox hides ~/.ssh/id_rsa")
    assert '"allowRead": ["~/.ssh"]' in why
    [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert warning["why"] == why


def test_a_failure_of_its_own_is_told_in_the_installers_words(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto")
    resolving = resolver.resolve(entry())
    process = reactor.processes[-1]
    process.stderr(b"npm error 404 Not Found - GET http://127.0.0.1:4873/pkg\n")
    process.exit(1)
    fired(resolving)
    assert resolver.failureOf(entry()) == (
        "npm install failed (exit code 1): 404 Not Found - GET http://127.0.0.1:4873/pkg"
    )


def test_stop_kills_a_confined_installs_whole_group(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    killed: list[tuple[int, int]] = []
    resolver, _, proxy = resolverFor(
        tmp_path, reactor, "auto", killGroup=lambda pid, sig: killed.append((pid, sig))
    )
    resolving = resolver.resolve(entry())
    pid = reactor.processes[-1].pid
    assert pid is not None
    resolver.stop()
    assert [group for group, _ in killed] == [pid]
    reactor.processes[-1].exit(signal=9)
    assert proxy.held[0].called
    results: list[object] = []
    resolving.addBoth(results.append)
    assert results == []  # the gateway is stopping: the server is not started
    assert not (tmp_path / "state" / "npx-cache.json").exists()


def test_what_an_install_left_in_its_group_is_killed_when_it_exits(tmp_path: Path) -> None:
    """The launcher exits while its sandbox's processes still hold its
    pipes (no warden, no C{--die-with-parent} ends them): its group is
    killed then, so its end, and the resolution's failure, are seen."""
    reactor = FakeProcessReactor()
    killed: list[tuple[int, int]] = []
    resolver, _, _ = resolverFor(
        tmp_path, reactor, "auto", killGroup=lambda pid, sig: killed.append((pid, sig))
    )
    resolving = resolver.resolve(entry())
    process = reactor.processes[-1]
    assert process.pid is not None
    process.proto.processExited(Failure(ProcessTerminated(exitCode=1)))
    assert killed == [(process.pid, signal.SIGKILL)]
    pending(resolving)  # its pipes close once the group is gone
    process.exit(1)
    assert fired(resolving) == entry()


def test_an_install_whose_group_is_already_gone_still_ends(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()

    def gone(pid: int, sig: int) -> None:
        raise ProcessLookupError()

    resolver, _, _ = resolverFor(tmp_path, reactor, "auto", killGroup=gone)
    resolving = resolver.resolve(entry())
    process = reactor.processes[-1]
    process.proto.processExited(Failure(ProcessTerminated(exitCode=1)))
    process.exit(1)
    assert fired(resolving) == entry()


def test_a_uv_install_runs_confined_its_python_kept_in_its_own_folder(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    resolver, _, proxy = resolverFor(tmp_path, reactor, "auto")
    resolver.resolve(uvEntry())
    [(_, argv, env, _)] = reactor.spawned
    request, command = launched(argv)
    target = Path(request["install"])
    assert target.parent == tmp_path / "state" / "uvx"
    assert command[:3] == [UV, "tool", "install"] and request["install"] == str(target)
    assert request["command"] == UV
    assert "pypi.org" in request["network"]["allowedDomains"]
    assert env is not None and env["UV_PYTHON_INSTALL_DIR"] == str(target / "python")
    assert env["UV_TOOL_DIR"] == str(target / "tools")
    assert proxy.asked[0][0] == "py"


def test_an_installs_temporary_directory_is_removed_once_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Landlock (or before the probe answered) its launcher makes it
    one, as a child's: removed when the install ends."""
    removed = recordedRemovals(monkeypatch)
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto")
    resolver.resolve(entry())
    installer = reactor.lastProcess
    assert removed == []
    npmInstalls(reactor, "pkg", {"bin": "cli.js"}, {"cli.js": b"#!/usr/bin/env node\n"})
    assert removed == [(str(tmp_path / "state"), "srv", installer.originalPid)]


ACME_NPMRC = "@acme:registry=http://npm.acme.internal/\n//npm.acme.internal/:_authToken=tok-9f3\n"
NOT_FOUND = (
    b"npm error code E404\n"
    b"npm error 404 Not Found - GET https://registry.npmjs.org/@acme%2fsome-mcp - Not found\n"
)


def acmeEntry(**sandbox: Any) -> ServerSpec:
    """An entry of a package only the company's registry has, which the
    user's C{~/.npmrc} names for its scope."""
    return ServerSpec(
        name="acme",
        command="npx",
        args=("-y", "@acme/some-mcp@1.0.0"),
        executable="/usr/bin/npx",
        sandbox=parseSandbox(sandbox),
    )


def npmrcHome(tmp_path: Path) -> str:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".npmrc").write_text(ACME_NPMRC)
    return str(home)


def test_a_confined_install_that_missed_the_registry_of_npmrc_says_how_to_name_it(
    tmp_path: Path,
) -> None:
    """The sandbox hides C{~/.npmrc}: npm asked the public registry. The
    failure says, on a line of its own, which registry the file names and
    the entry C{env} that names it, its token by reference; the file is
    read in a worker thread, and its token is nowhere."""
    reactor = FakeProcessReactor()
    threads = HandThreads()
    home = npmrcHome(tmp_path)
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto", home=home, runInThread=threads)
    with capturedGatewayLogs() as events:
        resolving = resolver.resolve(acmeEntry())
        reactor.processes[-1].stderr(NOT_FOUND)
        reactor.processes[-1].exit(1)
        pending(resolving)  # the file is being read, off the reactor's thread
        threads.runAll()
    fired(resolving)
    why = resolver.failureOf(acmeEntry())
    assert why is not None
    failed, hint = why.split("\n")
    assert failed == (
        "npm install failed (exit code 1): 404 Not Found - GET"
        " https://registry.npmjs.org/@acme%2fsome-mcp - Not found"
    )
    assert hint.startswith(
        "~/.npmrc names @acme's registry http://npm.acme.internal/, which the gateway's"
        " install does not read"
    )
    assert '"npm_config_@acme:registry": "http://npm.acme.internal/"' in hint
    assert (
        '"npm_config_//npm.acme.internal/:_authToken": "${keyring:npm-npm.acme.internal}"' in hint
    )
    [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert warning["why"] == why
    assert not [e for e in events if "tok-9f3" in repr(e)]


def test_the_hint_is_the_confined_installs_only(tmp_path: Path) -> None:
    """Unconfined, npm reads C{~/.npmrc} itself: its failure is its own."""
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "off", home=npmrcHome(tmp_path))
    resolving = resolver.resolve(acmeEntry())
    reactor.processes[-1].stderr(NOT_FOUND)
    reactor.processes[-1].exit(1)
    fired(resolving)
    assert resolver.failureOf(acmeEntry()) == (
        "npm install failed (exit code 1): 404 Not Found - GET"
        " https://registry.npmjs.org/@acme%2fsome-mcp - Not found"
    )


def test_an_install_that_npmrc_has_nothing_to_say_of_fails_as_it_did(tmp_path: Path) -> None:
    """Another package's failure, or one killed for taking too long, is not
    told of C{~/.npmrc}; the file is read through the reactor's pool."""
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto", home=npmrcHome(tmp_path), timeout=5)
    other = entry("other", "-y", "plain-mcp@1.0.0")
    resolving = resolver.resolve(other)
    reactor.processes[-1].stderr(b"npm error 404 Not Found - GET https://registry.npmjs.org/x\n")
    reactor.processes[-1].exit(1)
    fired(resolving)
    why = resolver.failureOf(other)
    assert why is not None and "\n" not in why and "npmrc" not in why
    resolving = resolver.resolve(acmeEntry())
    reactor.advance(5)  # killed: its group, and so the fake, ends
    fired(resolving)
    why = resolver.failureOf(acmeEntry())
    assert why is not None and "took longer than 5s" in why and "npmrc" not in why


class KeyringOf:
    """The spawner's secret resolver, with one secret in its store (and
    the reference text put back where its value shows)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def resolve(self, spec: ServerSpec) -> Deferred[tuple[ServerSpec, Any]]:
        missing = sorted(spec.references - set(self.values))
        if missing:
            return fail(SecretsUnavailable(f"{missing[0]}: no such secret"))
        env = tuple((k, self.values.get(v, v)) for k, v in spec.env)

        def redact(text: str) -> str:
            for reference, value in self.values.items():
                text = text.replace(value, reference)
            return text

        return succeed((replace(spec, env=env), redact))


TOKEN_KEY = "npm_config_//npm.acme.internal/:_authToken"


def withToken(reference: str = "${keyring:npm-acme}") -> ServerSpec:
    """The entry of the hint's fix: the scope's registry, its token by reference."""
    return replace(
        acmeEntry(),
        env=(("npm_config_@acme:registry", "http://npm.acme.internal/"), (TOKEN_KEY, reference)),
        references=frozenset({reference}),
    )


def test_an_install_gets_the_secrets_its_entrys_env_references(tmp_path: Path) -> None:
    """As the server's children do: the token reaches npm in its
    environment; the resolution keeps the reference, and a failure that
    shows the token shows the reference instead."""
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto")
    resolver.secrets = KeyringOf({"${keyring:npm-acme}": "tok-77"})
    resolving = resolver.resolve(withToken())
    [(_, argv, env, _)] = reactor.spawned
    assert env is not None and env[TOKEN_KEY] == "tok-77" and "tok-77" not in " ".join(argv)
    request, _ = launched(argv)
    assert "npm.acme.internal" in request["network"]["allowedDomains"]
    reactor.processes[-1].stderr(b"npm error 403 Forbidden - token tok-77 has no access\n")
    reactor.processes[-1].exit(1)
    assert fired(resolving) == withToken()  # run as configured: its references as written
    why = resolver.failureOf(withToken())
    assert why is not None and "tok-77" not in why and "token ${keyring:npm-acme}" in why


def test_an_install_whose_secret_cannot_be_read_fails_saying_which(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    resolver, _, _ = resolverFor(tmp_path, reactor, "auto")
    resolver.secrets = KeyringOf({})
    fired(resolver.resolve(withToken()))
    assert reactor.spawned == []
    assert resolver.failureOf(withToken()) == (
        "its secrets were not read: ${keyring:npm-acme}: no such secret"
    )
