"""The resolver: a spec's references replaced by their values for the spawner
only, each failure named (never a value), and 1Password's CLI run as a
child of the reactor with a timeout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.python.failure import Failure

from mcpgateway.config.references import Reference
from mcpgateway.config.servers import parseEntry
from mcpgateway.core.spec import ServerSpec
from mcpgateway.secrets.resolve import (
    MAX_FILE,
    MAX_OUTPUT,
    OnePasswordCli,
    SecretError,
    SecretResolver,
)
from mcpgateway.secrets.store import SecretStore
from tests.fakes import FakeProcessReactor
from tests.secrets.support import FakeOnePassword, inline
from tests.support.auth.jwks import result

SECRET = "tok-0123456789-abcdef"


def resolver(
    tmp_path: Path,
    secrets: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    items: dict[str, str] | None = None,
) -> tuple[SecretResolver, FakeOnePassword]:
    store = SecretStore(tmp_path / "state", keyring=None)
    for name, value in (secrets or {}).items():
        store.put(name, value)
    onePassword = FakeOnePassword(items)
    made = SecretResolver(
        FakeProcessReactor(),
        tmp_path / "state",
        environ or {},
        inline,
        store=store,
        onePassword=onePassword,
    )
    return made, onePassword


def entry(**fields: Any) -> ServerSpec:
    return parseEntry("srv", {"command": "true", **fields}, {"PATH": "/bin", "HOME": "/home/u"})


def test_env_and_args_get_the_values_the_spec_keeps_the_references(tmp_path: Path) -> None:
    made, onePassword = resolver(
        tmp_path,
        {"gh": SECRET},
        {"FROM_ENV": "env-value-1"},
        {"op://Dev/GitHub/token": "op-value-12"},
    )
    (tmp_path / "token").write_text("file-value-1\n")
    spec = entry(
        args=["--token=${keyring:gh}", "${op://Dev/GitHub/token}"],
        env={"A": "${env:FROM_ENV}", "B": "x ${file:" + str(tmp_path / "token") + "} y"},
    )
    launch, redact = result(made.resolve(spec))
    assert launch.args == ("--token=" + SECRET, "op-value-12")
    assert dict(launch.env) == {"A": "env-value-1", "B": "x file-value-1 y"}
    assert spec.args[0] == "--token=${keyring:gh}"  # the kept spec is unchanged
    assert launch == replace(spec, args=launch.args, env=launch.env)
    assert onePassword.reads == ["op://Dev/GitHub/token"]
    assert redact(f"echo {SECRET} file-value-1") == "echo ${keyring:gh} ${file:%s}" % (
        tmp_path / "token"
    )


def test_a_file_reference_expands_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "t").write_text("home-secret\r\n")
    made, _ = resolver(tmp_path)
    launch, _ = result(made.resolve(entry(env={"T": "${file:~/t}"})))
    assert dict(launch.env)["T"] == "home-secret"


def test_only_the_entrys_own_references_are_resolved(tmp_path: Path) -> None:
    """Text that looks like a reference but came from a .env file, a client's
    credential header or a ${VAR}'s value reaches the child as it is."""
    made, _ = resolver(tmp_path, {"gh": SECRET})
    spec = parseEntry(
        "srv",
        {"command": "true", "env": {"OWN": "${keyring:gh}", "VIA": "${SMUGGLED}"}},
        {"PATH": "/bin", "SMUGGLED": "${file:/etc/passwd}"},
    )
    assert spec.references == frozenset({"${keyring:gh}"})
    withHeader = replace(spec, env=(*spec.env, ("CLIENT", "${keyring:gh} ${env:HOME}")))
    launch, _ = result(made.resolve(withHeader))
    env = dict(launch.env)
    assert env["OWN"] == SECRET and env["VIA"] == "${file:/etc/passwd}"
    assert env["CLIENT"] == SECRET + " ${env:HOME}"


def test_every_failure_is_named_and_no_value_is_said(tmp_path: Path) -> None:
    made, _ = resolver(tmp_path, {"gh": SECRET}, {})
    spec = entry(
        env={
            "A": "${keyring:missing}",
            "B": "${env:NOT_SET}",
            "C": "${file:/nonexistent/x}",
            "D": "${op://V/I/F}",
            "E": "${keyring:gh}",
        }
    )
    with pytest.raises(SecretError) as caught:
        result(made.resolve(spec))
    message = str(caught.value)
    for part in (
        "${keyring:missing}: the secret store has no secret 'missing' (mcpgateway secret set",
        "${env:NOT_SET}: the gateway's environment has no NOT_SET",
        "${file:/nonexistent/x}: cannot be read (No such file or directory)",
        "${op://V/I/F}: 'op read' failed",
    ):
        assert part in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"x" * (MAX_FILE + 1), "larger than"),
        (b"a\0b", "NUL"),
    ],
)
def test_a_file_that_cannot_be_a_value_is_refused(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "f").write_bytes(content)
    made, _ = resolver(tmp_path)
    with pytest.raises(SecretError, match=why):
        result(made.resolve(entry(env={"T": "${file:" + str(tmp_path / "f") + "}"})))


def test_a_directory_is_not_a_secret_file(tmp_path: Path) -> None:
    made, _ = resolver(tmp_path)
    with pytest.raises(SecretError, match="not a regular file"):
        result(made.resolve(entry(env={"T": "${file:" + str(tmp_path) + "}"})))


def test_a_remote_servers_headers_get_the_values(tmp_path: Path) -> None:
    made, _ = resolver(tmp_path, {"api": SECRET, "bad": "line\nbreak"})
    spec = parseEntry(
        "remote",
        {
            "type": "http",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${keyring:api}", "X-Bad": "${keyring:bad}"},
        },
        {},
    )
    assert spec.remote is not None and spec.references == {"${keyring:api}", "${keyring:bad}"}
    with pytest.raises(SecretError, match=r"header 'X-Bad': the value of \$\{keyring:bad\}"):
        result(made.resolve(spec))
    good = replace(spec, remote=replace(spec.remote, headers=spec.remote.headers[:1]))
    launch, _ = result(made.resolve(good))
    assert launch.remote.headers == (("Authorization", "Bearer " + SECRET),)
    assert good.remote is not None and "${keyring:api}" in good.remote.headers[0][1]


def test_a_reference_no_longer_in_the_spec_is_not_read(tmp_path: Path) -> None:
    made, onePassword = resolver(tmp_path)
    spec = entry(env={"T": "${op://V/I/F}"})
    launch, _ = result(made.resolve(replace(spec, env=(("T", "overridden"),))))
    assert dict(launch.env) == {"T": "overridden"} and onePassword.reads == []


# -- 1Password's CLI -----------------------------------------------------------------


class OpCase:
    def __init__(self, found: str | None = "/usr/bin/op", timeout: float = 60.0) -> None:
        self.reactor = FakeProcessReactor()
        self.environ = {"PATH": "/usr/bin", "OP_SERVICE_ACCOUNT_TOKEN": "ops", "MCPGATEWAY_X": "1"}
        self.looked: list[Any] = []

        def which(name: str, path: str | None = None) -> str | None:
            self.looked.append((name, path))
            return found

        self.cli = OnePasswordCli(self.reactor, self.environ, timeout, which)

    def read(self) -> Deferred[str]:
        return self.cli.read(Reference("op", "op://Dev/GitHub/token"))


def test_op_read_runs_off_the_reactor_with_the_gateways_environment() -> None:
    case = OpCase()
    d = case.read()
    proc = case.reactor.lastProcess
    assert proc.args == ["/usr/bin/op", "read", "--no-newline", "op://Dev/GitHub/token"]
    assert proc.env == {"PATH": "/usr/bin", "OP_SERVICE_ACCOUNT_TOKEN": "ops"}
    assert proc.stdinClosed and case.looked == [("op", "/usr/bin")]
    proc.stdout(b"op-" + b"value")
    proc.exit(0)
    assert result(d) == "op-value"
    assert case.reactor.getDelayedCalls() == []


class HelperWarden:
    marker = ("MCPGATEWAY_CHILD_OF", "7-ab")

    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []

    def helperSpawned(self, server: str, pid: int) -> None:
        self.told.append((server, pid))

    def helperExited(self, pid: int) -> None:
        self.told.append(("exited", pid))


def test_op_read_is_marked_and_told_to_the_warden_until_it_ends(tmp_path: Path) -> None:
    case = OpCase()
    warden = HelperWarden()
    made = SecretResolver(case.reactor, tmp_path, case.environ, inline, onePassword=case.cli)
    made.watchedBy(warden)  # the gateway's warden stops an `op read` its death cut short
    d = case.read()
    proc = case.reactor.lastProcess
    pid = proc.pid
    assert proc.env is not None and proc.env["MCPGATEWAY_CHILD_OF"] == "7-ab"
    assert warden.told == [("1Password", pid)]
    proc.stdout(b"v")
    proc.exit(0)
    assert result(d) == "v" and warden.told == [("1Password", pid), ("exited", pid)]


def test_op_missing_is_a_clear_error() -> None:
    case = OpCase(found=None)
    with pytest.raises(SecretError, match=r"^\$\{op://Dev/GitHub/token\}: 1Password's CLI 'op'"):
        result(case.read())
    assert case.reactor.processes == []


def test_op_failing_says_its_first_line_and_status() -> None:
    case = OpCase()
    d = case.read()
    case.reactor.lastProcess.stderr(b"\n[ERROR] 2026/01/01 \x1b[31mcould not read secret\n more\n")
    case.reactor.lastProcess.exit(1)
    with pytest.raises(SecretError) as caught:
        result(d)
    assert str(caught.value) == (
        "${op://Dev/GitHub/token}: 'op read' failed (exit status 1):"
        " [ERROR] 2026/01/01  [31mcould not read secret"
    )


def test_op_that_never_answers_is_killed_at_the_timeout() -> None:
    case = OpCase(timeout=5.0)
    d = case.read()
    case.reactor.advance(4.9)
    assert not d.called
    case.reactor.advance(0.2)
    assert case.reactor.lastProcess.signals == ["KILL"]
    with pytest.raises(SecretError, match="did not answer within 5 s"):
        result(d)


def test_op_with_a_huge_answer_is_refused() -> None:
    case = OpCase()
    d = case.read()
    case.reactor.lastProcess.stdout(b"x" * (MAX_OUTPUT + 10))
    case.reactor.lastProcess.exit(0)
    with pytest.raises(SecretError, match="larger than"):
        result(d)


def test_op_that_cannot_be_spawned_says_so() -> None:
    case = OpCase()
    case.reactor.spawnError = OSError(13, "Permission denied")
    with pytest.raises(SecretError, match="'op' cannot be run"):
        result(case.read())


def test_the_process_end_reasons_give_the_status() -> None:
    from mcpgateway.secrets.resolve import _Collect

    for reason, code in (
        (ProcessDone(0), 0),
        (ProcessTerminated(exitCode=3), 3),
        (ProcessTerminated(signal=9), None),
    ):
        d: Deferred[Any] = Deferred()
        _Collect(d).processEnded(Failure(reason))
        assert result(d) == (b"", b"", code)
