"""The attacks that got out of a confined child, for real, under both
mechanisms (bubblewrap and Landlock), as root and as an ordinary user.

The real launcher (tests/integration/sandboxkit.py's L{runLauncher}), its
parent a stand-in for the gateway with a secret in its environment,
confines a small Python program that tries each attack and prints what it
got: a multipath TCP (MPTCP) connection to a listener on loopback
(Landlock's network rules know TCP alone), a raw IP socket, an exotic IP
protocol (UDP-Lite), UDP to a listener on loopback, a pathname UNIX socket
in a directory the child sees and one in C{/tmp/ssh-*} (an agent's), the
gateway's C{/proc/PID/environ}, an address added to the host's loopback
(netlink C{RTM_NEWADDR}), TCP Fast Open's connect (C{MSG_FASTOPEN}) and a
listening TCP socket, and what capabilities it holds; C{socketpair}
must still work, and so must a plain server, under a mechanism the
gateway's probe found and one named before it answered. Each attack runs
once per mechanism and user (a launcher start each, some 0.1 s), its
answers shared by the cases below. Under Landlock also: behind the allow
list's proxy port only TCP to that port goes out (neither TCP Fast Open nor
a listening socket gets past Landlock's rule of that port), and one child
of a server cannot read another's temporary files.

Bubblewrap, Landlock, libseccomp, root and C{useradd} must be there (CI has
them all); a case skips, saying why, only where one is missing.
"""

from __future__ import annotations

import errno
import json
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox import seccomp
from tests.integration.sandboxkit import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    RTM_NEWADDR,
    Account,
    accountOrSkip,
    launcherBase,
    launcherPython,
    launcherRequest,
    netlinkSource,
    removeLoopbackAddress,
    runLauncher,
    unixListener,
)

pytestmark = pytest.mark.integration

SECRET = "gateway-api-token-" + secrets.token_hex(8)
"""In the gateway stand-in's environment only."""

ATTACKS = (
    netlinkSource()
    + f"""

import errno, json, os, socket, sys
ADD, ADDING = {RTM_NEWADDR}, {NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE}
targets = json.loads(os.environ["TARGETS"])
out = {{}}


def attempt(name, action):
    try:
        out[name] = ["ok", action()]
    except OSError as e:
        out[name] = ["refused", errno.errorcode.get(e.errno, str(e.errno))]


def connect(family, kind, protocol, address):
    with socket.socket(family, kind, protocol) as s:
        s.settimeout(5)
        s.connect(address)
        return "connected"


def made(family, kind, protocol):
    socket.socket(family, kind, protocol).close()
    return "made"


def sent(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"out", ("127.0.0.1", port))
        return "sent"


def fastOpen(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.sendto(b"out", socket.MSG_FASTOPEN, address)
        return "sent"


def listening():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.listen(1)
        return "listening"


def pair():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        return b.recv(1).decode()


def environ():
    with open("/proc/" + os.environ["GATEWAY_PID"] + "/environ", "rb") as f:
        return "the secret" if {SECRET.encode()!r} in f.read() else "read"


loopback = ("127.0.0.1", targets["tcp"])
attempt("mptcp", lambda: connect(socket.AF_INET, socket.SOCK_STREAM, 262, loopback))
attempt("tcp", lambda: connect(socket.AF_INET, socket.SOCK_STREAM, 0, loopback))
attempt("fastOpen", lambda: fastOpen(loopback))
attempt("listen", listening)
if "proxy" in targets:
    proxy = ("127.0.0.1", targets["proxy"])
    attempt("tcpProxy", lambda: connect(socket.AF_INET, socket.SOCK_STREAM, 0, proxy))
    attempt("mptcpProxy", lambda: connect(socket.AF_INET, socket.SOCK_STREAM, 262, proxy))
attempt("raw", lambda: made(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 1))
attempt("udplite", lambda: made(socket.AF_INET6, socket.SOCK_DGRAM, 136))
attempt("udp", lambda: sent(targets["udp"]))
for name in ("visible", "agent"):
    attempt(name, lambda: connect(socket.AF_UNIX, socket.SOCK_STREAM, 0, targets[name]))
attempt("socketpair", pair)
attempt("environ", environ)
attempt("netlink", lambda: addressAsk(ADD, targets["address"], ADDING))
with open("/proc/self/status") as status:
    out["status"] = dict(line.split(":", 1) for line in status.read().splitlines())
print(json.dumps(out))
"""
)

MECHANISMS = ("bwrap", "landlock")
USERS = ("root", "user")


class Attacked:
    """What the attacks got in one sandbox."""

    def __init__(
        self, mechanism: str, user: str, out: dict[str, Any], hostUdp: bytes, hostTcp: int
    ) -> None:
        self.mechanism = mechanism
        self.user = user
        self.out = out
        self.hostUdp = hostUdp
        """What the host's UDP listener on loopback received."""
        self.hostTcp = hostTcp
        """The connections the host's TCP listener on loopback took."""

    def __getitem__(self, name: str) -> list[Any]:
        answer: list[Any] = self.out[name]
        return answer

    def capabilities(self) -> dict[str, int]:
        status: dict[str, str] = self.out["status"]
        return {name: int(status[name].strip(), 16) for name in status if name.startswith("Cap")}


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def attack(
    mechanism: str,
    account: Account | None,
    network: dict[str, Any] | None = None,
    proxy: bool = False,
) -> Attacked:
    """Run L{ATTACKS} confined by C{mechanism} as C{account} (C{None}:
    root), against listeners of the host's."""
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")
    python = launcherPython(account)
    base = launcherBase(account)
    agentDir = Path(f"/tmp/ssh-{secrets.token_hex(6)}")
    listeners: list[socket.socket] = []
    address = f"127.77.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    try:
        tcp, proxyListener = socket.socket(), socket.socket()
        udp = socket.socket(type=socket.SOCK_DGRAM)
        listeners += [tcp, proxyListener, udp]
        for s in (tcp, proxyListener):
            s.bind(("127.0.0.1", 0))
            s.listen(8)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        visible = base / "ws" / "agent.sock"  # the child's working directory: it sees it
        agent = agentDir / "agent.1"
        listeners += [unixListener(visible, account), unixListener(agent, account)]
        targets: dict[str, Any] = {
            "tcp": tcp.getsockname()[1],
            "udp": udp.getsockname()[1],
            "visible": str(visible),
            "agent": str(agent),
            "address": address,
        }
        if proxy:
            port = proxyListener.getsockname()[1]
            targets["proxy"] = port
            network = {"mode": "allow", "allowedDomains": ["x.org"], "proxyPort": port}
        request = launcherRequest(mechanism, base, python, network)
        done = runLauncher(
            request,
            [python, "-I", "-S", "-c", ATTACKS],
            {"TARGETS": json.dumps(targets), "GATEWAY_SECRET": SECRET},
            account,
            python,
        )
        assert done.returncode == 0, done.stderr
        try:
            received = udp.recv(64)
        except BlockingIOError:
            received = b""
        out: dict[str, Any] = json.loads(done.stdout)
        return Attacked(mechanism, "user" if account else "root", out, received, accepted(tcp))
    finally:
        removeLoopbackAddress(address)
        for s in listeners:
            s.close()
        shutil.rmtree(agentDir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def accepted(listener: socket.socket) -> int:
    """The connections C{listener} has waiting (taken, and closed)."""
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.fixture(scope="module", params=[(m, u) for m in MECHANISMS for u in USERS], ids="-".join)
def attacked(request: pytest.FixtureRequest) -> Attacked:
    """The attacks' answers under one mechanism as one user (once per module)."""
    mechanism, user = request.param
    owner = request.getfixturevalue("account") if user == "user" else None
    return attack(mechanism, owner)


def refusedBy(attacked: Attacked, bubblewrap: str, landlock: str) -> list[str]:
    """The refusal each mechanism gives: the system-call filter's (or the
    namespace's) under bubblewrap, the filter's for an IP socket without
    network under Landlock."""
    return ["refused", bubblewrap if attacked.mechanism == "bwrap" else landlock]


# 1. IP sockets that are not TCP or UDP.


def test_mptcp_does_not_reach_a_listener_on_loopback(attacked: Attacked) -> None:
    assert attacked["mptcp"] == refusedBy(attacked, "EACCES", "EAFNOSUPPORT")
    assert attacked["tcp"] == refusedBy(attacked, "ECONNREFUSED", "EAFNOSUPPORT")
    # TCP Fast Open's connect: its own namespace's loopback, or no IP socket.
    assert attacked["fastOpen"] == refusedBy(attacked, "ECONNREFUSED", "EAFNOSUPPORT")
    assert attacked.hostTcp == 0


def test_no_raw_ip_socket(attacked: Attacked) -> None:
    assert attacked["raw"] == refusedBy(attacked, "EACCES", "EAFNOSUPPORT")


def test_no_exotic_ip_protocol(attacked: Attacked) -> None:
    assert attacked["udplite"] == refusedBy(attacked, "EACCES", "EAFNOSUPPORT")


def test_udp_does_not_reach_a_listener_on_loopback(attacked: Attacked) -> None:
    if attacked.mechanism == "bwrap":
        assert attacked["udp"] == ["ok", "sent"]  # to its own namespace's loopback
    else:
        assert attacked["udp"] == ["refused", "EAFNOSUPPORT"]
    assert attacked.hostUdp == b""


@pytest.mark.parametrize("user", USERS)
def test_behind_the_proxys_port_under_landlock_only_tcp_to_that_port(
    user: str, request: pytest.FixtureRequest
) -> None:
    owner = request.getfixturevalue("account") if user == "user" else None
    attacked = attack("landlock", owner, proxy=True)
    assert attacked["tcpProxy"] == ["ok", "connected"]
    assert attacked["tcp"] == ["refused", "EACCES"]  # Landlock: another port
    # TCP Fast Open would connect past Landlock's rule; listen would take a port.
    unsupported = errno.errorcode[errno.EOPNOTSUPP]  # ENOTSUP: the same number on Linux
    assert attacked["fastOpen"] == ["refused", unsupported] and attacked.hostTcp == 0
    assert attacked["listen"] == ["refused", "EACCES"]
    assert attacked["mptcpProxy"] == attacked["mptcp"] == ["refused", "EACCES"]  # the filter
    assert attacked["udp"] == ["refused", "EACCES"] and attacked.hostUdp == b""
    assert attacked["raw"] == attacked["udplite"] == ["refused", "EACCES"]
    assert attacked["agent"] == ["refused", "EAFNOSUPPORT"]


# 2. Pathname UNIX sockets.


def test_no_unix_socket_of_an_agent_in_tmp(attacked: Attacked) -> None:
    # Bubblewrap's /tmp is the child's own: the agent's directory is not there.
    # Under Landlock a child without network makes a UNIX socket, to listen
    # on (Chromium's); it connects nowhere.
    assert attacked["agent"] == refusedBy(attacked, "ENOENT", "ECONNREFUSED")


def test_a_unix_socket_in_a_directory_the_child_sees(attacked: Attacked) -> None:
    if attacked.mechanism == "landlock":
        assert attacked["visible"] == ["refused", "ECONNREFUSED"]
    else:
        # Bubblewrap shows a socket only where the entry names its directory
        # (the proxy's own is one): reached, as docs/guide/sandbox.md says.
        assert attacked["visible"] == ["ok", "connected"]


def test_socketpair_still_works(attacked: Attacked) -> None:
    assert attacked["socketpair"] == ["ok", "x"]


def test_a_child_without_network_listens_on_no_port(attacked: Attacked) -> None:
    # Bubblewrap's loopback is its own namespace's; Landlock's child has no IP socket.
    assert attacked["listen"] == (
        ["ok", "listening"] if attacked.mechanism == "bwrap" else ["refused", "EAFNOSUPPORT"]
    )


# 3. Capabilities.


def test_no_capability_is_left(attacked: Attacked) -> None:
    held = attacked.capabilities()
    assert (held["CapInh"], held["CapPrm"], held["CapEff"], held["CapAmb"]) == (0, 0, 0, 0)
    if attacked.user == "root":  # still root, powerless, and nothing to gain back
        assert held["CapBnd"] == 0
        assert attacked.out["status"]["Uid"].split()[0] == "0"


def test_the_gateways_environment_is_refused(attacked: Attacked) -> None:
    # Bubblewrap's pid namespace has no such process.
    assert attacked["environ"] == refusedBy(attacked, "ENOENT", "EACCES")


def test_no_address_on_the_hosts_loopback(attacked: Attacked) -> None:
    assert attacked["netlink"] == ["refused", "EPERM"]


# And a server still runs.


@pytest.mark.parametrize("probed", [True, False], ids=["probed", "named"])
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_plain_python_server_still_runs(
    mechanism: str, user: str, probed: bool, request: pytest.FixtureRequest
) -> None:
    """And under a mechanism named before the gateway's probe answered
    (C{--sandbox bubblewrap|landlock}: no bubblewrap path, no Landlock ABI
    in the request), the launcher finds it itself."""
    owner = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    try:
        asked = launcherRequest(mechanism, base, python)
        if not probed:
            asked.update(bwrap=None, landlock=0)
        program = "import os, sys; print('serving', os.environ['TMPDIR'], sys.version_info[0])"
        done = runLauncher(asked, [python, "-I", "-S", "-c", program], {}, owner, python)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert done.returncode == 0 and done.stdout.startswith("serving "), done.stderr
    tmp = done.stdout.split()[1]
    if mechanism == "bwrap":
        assert tmp == "/tmp"
    else:  # the child's own: its pid's
        assert Path(tmp).parent == base / "state" / "sandbox" / "attacks" / "tmp"
        assert Path(tmp).name.isdigit()
    assert done.stderr == ""


# 4. A Landlock child's temporary directory is its own.


@pytest.mark.parametrize("user", USERS)
def test_a_landlock_child_cannot_read_another_childs_temporary_files(
    user: str, request: pytest.FixtureRequest
) -> None:
    """Two children of one server (two people's, with per-user children)."""
    owner = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    writes = (
        "import os; path = os.path.join(os.environ['TMPDIR'], 'mine')\n"
        "open(path, 'w').write('first child'); print(path)"
    )
    reads = (
        "import json, os\n"
        "out = {}\n"
        "theirs = os.environ['THEIRS']\n"
        "for name, path in (('file', theirs), ('dir', os.path.dirname(theirs))):\n"
        "    try:\n"
        "        out[name] = open(path).read() if name == 'file' else os.listdir(path)\n"
        "    except OSError as e:\n"
        "        out[name] = e.strerror\n"
        "print(json.dumps(out))"
    )
    try:
        asked = launcherRequest("landlock", base, python)
        first = runLauncher(asked, [python, "-I", "-S", "-c", writes], {}, owner, python)
        assert first.returncode == 0, first.stderr
        theirs = first.stdout.strip()
        argv = [python, "-I", "-S", "-c", reads]  # (a path an argument names is its own)
        second = runLauncher(asked, argv, {"THEIRS": theirs}, owner, python)
        assert second.returncode == 0, second.stderr
        assert Path(theirs).read_text() == "first child"  # it is there, in its own directory
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert json.loads(second.stdout) == {"file": "Permission denied", "dir": "Permission denied"}
