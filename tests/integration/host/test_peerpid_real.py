"""Finding a real loopback client's pid in the real C{/proc}.

The test process listens; a child python process connects and waits on its stdin.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from mcpgateway.ops.peerpid import (
    clientRoot,
    findClientPid,
    findClientPids,
    ownerOfSocket,
    socketInode,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc"),
]

CLIENT = """
import socket, sys
family, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(family)
s.connect((host, port))
sys.stdout.write("connected\\n")
sys.stdout.flush()
sys.stdin.read()
"""

Connection = tuple["subprocess.Popen[str]", socket.socket]


def connect(server: socket.socket, family: int, host: str, *extra: str) -> Connection:
    """Start a child connecting from C{family} to C{host}; accept it."""
    server.settimeout(10)
    port = server.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(int(family)), host, str(port), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    connection, _ = server.accept()
    assert child.stdout is not None
    assert child.stdout.readline() == "connected\n"
    return child, connection


@pytest.fixture
def connections() -> Iterator[Callable[..., Connection]]:
    made: list[Connection] = []
    servers: list[socket.socket] = []

    def make(
        family: int,
        bindHost: str,
        connectFamily: int,
        connectHost: str,
        *extra: str,
        dualStack: bool = False,
    ) -> Connection:
        server = socket.socket(family)
        servers.append(server)
        if dualStack:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        server.bind((bindHost, 0))
        server.listen()
        made.append(connect(server, connectFamily, connectHost, *extra))
        return made[-1]

    yield make
    for child, connection in made:
        connection.close()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    for server in servers:
        server.close()


def lookUp(connection: socket.socket, **kwargs: object) -> tuple[int | None, float]:
    peer, local = connection.getpeername(), connection.getsockname()
    started = time.perf_counter()
    pid = findClientPid(peer[0], peer[1], local[0], local[1], **kwargs)  # type: ignore[arg-type]
    return pid, time.perf_counter() - started


def ipv6Loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")


def test_ipv4_client(connections: Callable[..., Connection]) -> None:
    child, connection = connections(socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1")
    pid, seconds = lookUp(connection)
    assert pid == child.pid
    assert seconds < 2
    # The child's parent is this python (same exe), yet the child is its own client.
    assert clientRoot(child.pid) == child.pid
    assert lookUp(connection, hints=[child.pid])[0] == child.pid
    print(
        f"\nlookup: {seconds * 1000:.1f} ms, "
        f"{sum(name.isdigit() for name in os.listdir('/proc'))} processes"
    )


def test_many_clients_in_one_scan(connections: Callable[..., Connection]) -> None:
    """Three clients' connections, each attributed to its own process by one
    call (one read of the tables, one walk of /proc)."""
    made = [connections(socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1") for _ in range(3)]
    asked = []
    for _child, connection in made:
        peer, local = connection.getpeername(), connection.getsockname()
        asked.append((peer[0], peer[1], local[0], local[1], 0))
    assert findClientPids(asked) == [child.pid for child, _ in made]


def test_other_user_not_found(connections: Callable[..., Connection]) -> None:
    _child, connection = connections(socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1")
    assert lookUp(connection, uid=os.getuid() + 1)[0] is None


def test_helper_flag_walks_up_to_this_process(connections: Callable[..., Connection]) -> None:
    """A child marked C{--type=utility} running our exe is attributed to us."""
    child, connection = connections(
        socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1", "--type=utility"
    )
    peer, local = connection.getpeername(), connection.getsockname()
    assert ownerOfSocket(peer[0], peer[1], local[0], local[1]) == child.pid
    assert lookUp(connection)[0] == os.getpid()


def test_ipv6_client(connections: Callable[..., Connection]) -> None:
    ipv6Loopback()
    child, connection = connections(socket.AF_INET6, "::1", socket.AF_INET6, "::1")
    assert lookUp(connection)[0] == child.pid


@pytest.mark.parametrize(
    "clientFamily", [socket.AF_INET, socket.AF_INET6], ids=["ipv4-client", "dual-stack-client"]
)
def test_dual_stack_gateway(connections: Callable[..., Connection], clientFamily: int) -> None:
    """A gateway on :: sees an IPv4 client as ::ffff:127.0.0.1; the client's socket is
    in tcp (IPv4 socket) or in tcp6 with a mapped address (dual-stack socket)."""
    ipv6Loopback()
    host = "127.0.0.1" if clientFamily == socket.AF_INET else "::ffff:127.0.0.1"
    child, connection = connections(socket.AF_INET6, "::", clientFamily, host, dualStack=True)
    assert connection.getpeername()[0] == "::ffff:127.0.0.1"
    assert lookUp(connection)[0] == child.pid


def test_closed_connection_not_found(connections: Callable[..., Connection]) -> None:
    child, connection = connections(socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1")
    peer, local = connection.getpeername(), connection.getsockname()
    assert child.stdin is not None
    child.stdin.close()
    child.wait(10)
    assert findClientPid(peer[0], peer[1], local[0], local[1]) is None


FROM_PORT = """
import socket, sys
host, port, fromPort = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((host, fromPort))
    s.connect((host, port))
except OSError as e:
    sys.stdout.write(f"refused {e}\\n")
    sys.exit(0)
sys.stdout.write("connected\\n")
sys.stdout.flush()
sys.stdin.read()
"""


def test_a_known_inode_names_no_one_once_its_port_is_another_processs() -> None:
    """The client's socket inode, named at accept (as the door names it),
    finds the client while it holds the socket; once the client closed
    that connection and another process connected from the same port,
    it finds no one, where the ports name that other process."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(10)
        port = server.getsockname()[1]
        first = subprocess.Popen(  # its port reusable (SO_REUSEADDR), as the second's
            [sys.executable, "-c", FROM_PORT, "127.0.0.1", str(port), "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        accepted, (_, clientPort) = server.accept()
        assert first.stdout is not None and first.stdout.readline() == "connected\n"
        inode = socketInode("127.0.0.1", clientPort, "127.0.0.1", port)
        assert inode is not None
        ends = ("127.0.0.1", clientPort, "127.0.0.1", port)
        assert findClientPids([(*ends, inode)]) == [first.pid]
        assert first.stdin is not None
        first.stdin.close()  # the client closes its connection first, and exits
        first.wait(10)
        accepted.close()
        second = subprocess.Popen(
            [sys.executable, "-c", FROM_PORT, "127.0.0.1", str(port), str(clientPort)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert second.stdout is not None
            said = second.stdout.readline()
            if said != "connected\n":
                pytest.skip(f"the kernel gives the port to no other connection here: {said}")
            reused, _ = server.accept()
            with reused:
                assert findClientPids([(*ends, 0)]) == [second.pid]  # by the ports
                assert findClientPids([(*ends, inode)]) == [None]
        finally:
            assert second.stdin is not None
            second.stdin.close()
            second.wait(10)
