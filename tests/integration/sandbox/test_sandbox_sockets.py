"""UNIX sockets in a confined child, for real, under both mechanisms, as
root and as an ordinary user (the real launcher, tests/integration/
sandboxkit.py's L{runLauncher}):

 - a datagram sent to a pathname socket reaches any unconnected datagram
   socket the sender can name (C{/dev/log}, journald's): under Landlock a
   C{socketpair(AF_UNIX, SOCK_DGRAM)} forged syslog lines that way. Two
   datagram sockets of the host's (one in C{/tmp}, where C{/dev/log}'s
   kind lives outside a bubblewrap child's view, one in the child's own
   working directory, which it sees) receive nothing from a child that
   tries a datagram pair, a C{SOCK_RAW} pair (a datagram one, to the
   kernel) and a datagram socket; its stream pair still works, and
   refuses the destination, and its seqpacket pair delivers to its own
   peer, never to the address it names;
 - headless Chromium (Debian's C{chromium}) takes a screenshot under
   bubblewrap, and under Landlock without network (its single-instance
   UNIX socket listens; nothing connects out); under Landlock with
   network it dies on the UNIX socket the filter refuses, and the
   gateway says so, in C{/health} and in C{doctor}, which then fails;
 - @playwright/mcp fails under Landlock either way (with network,
   Chromium's socket; without, Playwright's connect to its own browser's
   socket), each time said, and C{doctor} fails.

Bubblewrap, Landlock, libseccomp, root and C{useradd} must be there (CI has
them all; C{scripts/install-test-backends} installs Chromium); a case
skips, saying why, only where one is missing."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox import failures, seccomp
from tests.integration.gateway import REPO, RunningGateway, npmServer, waitFor, writeConfig
from tests.integration.sandboxkit import (
    Account,
    accountOrSkip,
    launcherBase,
    launcherPython,
    launcherRequest,
    runLauncher,
    toolCall,
)
from tests.support.integration.detached import runCli

pytestmark = pytest.mark.integration

DATAGRAMS = """
import errno, json, os, socket
targets = json.loads(os.environ["TARGETS"])
out = {}


def attempt(name, action):
    try:
        out[name] = ["ok", action()]
    except OSError as e:
        out[name] = ["refused", errno.errorcode.get(e.errno, str(e.errno))]


def pair(kind):
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    with a, b:
        for target in targets:
            a.sendto(b"forged by a pair", target)
        return "sent"


def datagram():
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for target in targets:
            s.sendto(b"forged by a socket", target)
        return "sent"


def stream():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        a.sendall(b"x")
        got = b.recv(1).decode()
        try:
            a.sendto(b"forged by a stream", targets[0])
        except OSError as e:
            return [got, errno.errorcode.get(e.errno)]
        return [got, "sent"]


def seqpacket():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        a.sendto(b"to its peer", targets[0])
        return b.recv(64).decode()


attempt("dgramPair", lambda: pair(socket.SOCK_DGRAM))
attempt("rawPair", lambda: pair(socket.SOCK_RAW))
attempt("dgramSocket", datagram)
attempt("streamPair", stream)
attempt("seqpacketPair", seqpacket)
print(json.dumps(out))
"""

CASES = [
    ("bwrap", "none", "root"),
    ("bwrap", "none", "user"),
    ("landlock", "none", "root"),
    ("landlock", "none", "user"),
    ("landlock", "host", "root"),
    ("landlock", "host", "user"),
]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def owner(request: pytest.FixtureRequest, user: str) -> Account | None:
    account: Account | None = request.getfixturevalue("account") if user == "user" else None
    return account


def datagramSink(path: Path, account: Account | None) -> socket.socket:
    """An unconnected datagram socket at C{path} (as C{/dev/log} is),
    writable by everyone: only the sandbox stands between a child and it."""
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(path))
    path.chmod(0o666)
    if account is not None:
        os.chown(path, account.uid, account.gid)
    sink.setblocking(False)
    return sink


def received(sink: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(sink.recv(256))
        except BlockingIOError:
            return got


@pytest.mark.parametrize(("mechanism", "network", "user"), CASES, ids="-".join)
def test_no_datagram_reaches_a_socket_of_the_host_and_stream_pairs_still_work(
    mechanism: str, network: str, user: str, request: pytest.FixtureRequest
) -> None:
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")
    account = owner(request, user)
    python = launcherPython(account)
    base = launcherBase(account)
    hostDir = Path(f"/tmp/mcpgw-log-{secrets.token_hex(6)}")
    hostDir.mkdir(mode=0o755)
    sinks: list[socket.socket] = []
    try:
        sinks += [
            datagramSink(hostDir / "log", account),
            datagramSink(base / "ws" / "log", account),
        ]
        targets = [str(hostDir / "log"), str(base / "ws" / "log")]
        # Unconfined, each sink receives what is sent to it: the check of the check.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            for target in targets:
                probe.sendto(b"unconfined", target)
        assert [received(sink) for sink in sinks] == [[b"unconfined"], [b"unconfined"]]
        asked = launcherRequest(mechanism, base, python, {"mode": network})
        argv = [python, "-I", "-S", "-c", DATAGRAMS]
        done = runLauncher(asked, argv, {"TARGETS": json.dumps(targets)}, account, python)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        got = [received(sink) for sink in sinks]
    finally:
        for sink in sinks:
            sink.close()
        shutil.rmtree(hostDir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    assert got == [[], []], out
    assert out["dgramPair"] == out["rawPair"] == ["refused", "EACCES"]
    # A UNIX socket of a Landlock child with network is refused whole.
    landlocked = mechanism == "landlock" and network != "none"
    assert out["dgramSocket"] == ["refused", "EAFNOSUPPORT" if landlocked else "EACCES"]
    assert out["streamPair"] == ["ok", ["x", "EISCONN"]]  # it refuses a destination
    assert out["seqpacketPair"] == ["ok", "to its peer"]  # it ignores one


# Chromium.

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = "data:text/html,<body style='background:%23fd0'><h1>confined by Landlock</h1></body>"
PNG = b"\x89PNG\r\n\x1a\n"
BROWSER = REPO / "tests" / "fixtures" / "browser_server.py"


def chromiumOrSkip() -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            "no Chromium: scripts/install-test-backends installs Debian's package when run as root"
        )
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")


def headless(out: Path) -> list[str]:
    """Chromium taking a screenshot of L{PAGE} into C{out}, with a profile
    in its C{TMPDIR} (as @playwright/mcp gives it one of its own)."""
    script = (
        'exec "$0" --headless --no-sandbox --disable-gpu --user-data-dir="$TMPDIR/profile"'
        ' --screenshot="$1" "$2"'
    )
    return ["/bin/sh", "-c", script, CHROMIUM, str(out), PAGE]


def screenshot(mechanism: str, network: str, account: Account | None) -> tuple[int, str, bytes]:
    """Chromium run by the real launcher under C{mechanism} with
    C{network} as C{account}: its status, its stderr, and the start of the
    file it wrote (empty when none)."""
    python = launcherPython(account)
    base = launcherBase(account)
    out = base / "out" / "shot.png"
    out.parent.mkdir()
    if account is not None:
        account.own(out.parent)
    try:
        profile = {"filesystem": {"allowWrite": [str(out.parent)]}}
        asked = launcherRequest(mechanism, base, python, {"mode": network}, profile=profile)
        done = runLauncher(asked, headless(out), {}, account, python)
        made = out.read_bytes()[:8] if out.is_file() else b""
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return done.returncode, done.stderr, made


@pytest.mark.parametrize(
    ("mechanism", "user"),
    [("bwrap", "root"), ("bwrap", "user"), ("landlock", "root"), ("landlock", "user")],
    ids="-".join,
)
def test_chromium_takes_a_screenshot_without_network(
    mechanism: str, user: str, request: pytest.FixtureRequest
) -> None:
    chromiumOrSkip()
    code, errors, made = screenshot(mechanism, "none", owner(request, user))
    assert (code, made) == (0, PNG), errors


@pytest.mark.parametrize("user", ["root", "user"])
def test_under_landlock_with_network_chromium_dies_on_its_unix_socket_and_is_told_why(
    user: str, request: pytest.FixtureRequest
) -> None:
    chromiumOrSkip()
    code, errors, made = screenshot("landlock", "host", owner(request, user))
    assert code != 0 and made == b""
    [line] = [line for line in errors.splitlines() if "socket() failed" in line]
    assert "Address family not supported by protocol" in line
    said = failures.explain(line, "host", "/home/u", "/home/u/.mcpgateway", "landlock")
    assert said == failures.UNIX_REFUSED


@pytest.fixture
def shortHome() -> Iterator[Path]:
    """A home (and state directory, C{home/state}) with a short path: under
    Landlock Chromium makes its single-instance socket in the child's
    C{TMPDIR}, C{<state-dir>/sandbox/<server>/tmp/<pid>}, and a socket's
    path has at most 107 bytes (pytest's own temporary paths are longer)."""
    home = Path(tempfile.mkdtemp(prefix="mcpgw-"))
    (home / "state").mkdir()
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_a_browser_server_under_landlock_with_network_fails_doctor_until_it_has_none(
    shortHome: Path,
) -> None:
    """The error result of a browser that died names the refusal: the
    gateway records it (C{/health}, C{doctor}); the same server without
    network takes its screenshot."""
    chromiumOrSkip()
    home = shortHome
    out = home / "out"
    out.mkdir()

    def entry(sandbox: dict[str, Any]) -> dict[str, Any]:
        sandbox["filesystem"] = {"allowWrite": [str(out)]}
        return {
            "command": sys.executable,
            "args": [str(BROWSER)],
            "env": {"CHROMIUM": CHROMIUM},
            "sandbox": sandbox,
        }

    config = writeConfig(
        home / "servers.json",
        {
            "browser": entry({"network": {"allowedDomains": ["example.com"]}}),
            "offline": entry({}),
        },
    )
    gateway = RunningGateway(["--config", str(config), "--sandbox", "landlock"], home)
    try:
        browse(gateway, home, out)
    finally:
        gateway.stop()


def browse(gateway: RunningGateway, home: Path, out: Path) -> None:
    """The offline server's screenshot, the networked one's refusal, and
    what C{/health} and C{doctor} say of it."""
    shot = out / "offline.png"
    answer = toolCall(gateway.url("offline"), "screenshot", {"url": PAGE, "path": str(shot)})
    assert answer == {"text": f"wrote {shot}", "isError": False}
    assert shot.read_bytes()[:8] == PNG
    answer = toolCall(gateway.url("browser"), "screenshot", {"url": PAGE, "path": str(out / "x")})
    assert answer["isError"] is True and "socket() failed" in answer["text"], answer
    told = "a tool call failed, likely because of the sandbox: " + failures.UNIX_REFUSED

    def refusals(server: str) -> list[str]:
        return list(gateway.health()["servers"][server].get("sandboxRefusals") or [])

    assert waitFor(lambda: refusals("browser") == [told], 10), gateway.health()
    assert refusals("offline") == []
    doctor = json.loads(runCli(home, "doctor", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "sandboxRefusals"]
    assert check["status"] == "fail" and f"browser: {told}" in check["details"]
    assert doctor["ok"] is False


def test_playwright_under_landlock_fails_either_way_and_doctor_says_why(
    shortHome: Path,
) -> None:
    """@playwright/mcp (the test backends' version) under Landlock: with
    network Chromium dies on its UNIX socket, without network Playwright
    cannot connect to its own browser's socket; each error result is
    explained, and C{doctor} fails (bubblewrap runs both: the compat
    benchmark's browsing)."""
    chromiumOrSkip()
    playwright = npmServer("PLAYWRIGHT_MCP_JS")
    home = shortHome
    browser = ["--browser", "chromium", "--executable-path", CHROMIUM, "--headless"]
    argv = [*playwright, *browser, "--no-sandbox", "--isolated"]

    def entry(network: dict[str, Any]) -> dict[str, Any]:
        sandbox = {"filesystem": {"allowWrite": ["~/.cache/ms-playwright"]}, **network}  # its lock
        return {"command": argv[0], "args": argv[1:], "sandbox": sandbox}

    config = writeConfig(
        home / "servers.json",
        {
            "online": entry({"network": {"allowedDomains": ["example.com"]}}),
            "offline": entry({}),
        },
    )
    gateway = RunningGateway(["--config", str(config), "--sandbox", "landlock"], home)
    try:
        for name in ("online", "offline"):
            answer = toolCall(gateway.url(name), "browser_navigate", {"url": PAGE})
            assert answer["isError"] is True, answer
        likely = "a tool call failed, likely because of the sandbox: "
        expected = {
            "online": [likely + failures.UNIX_REFUSED],
            "offline": [likely + failures.UNIX_CONNECT],
        }

        def refusals() -> dict[str, list[str]]:
            servers = gateway.health()["servers"]
            return {name: list(servers[name].get("sandboxRefusals") or []) for name in expected}

        assert waitFor(lambda: refusals() == expected, 10), (refusals(), gateway.text())
        doctor = json.loads(runCli(home, "doctor", "--json").stdout)
        [check] = [c for c in doctor["checks"] if c["name"] == "sandboxRefusals"]
        assert check["status"] == "fail" and doctor["ok"] is False
    finally:
        gateway.stop()
