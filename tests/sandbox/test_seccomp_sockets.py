"""The system-call filter's rules of UNIX sockets and pairs (a stream or a
seqpacket one only: a datagram one reaches any datagram socket it can
name), of C{connect} under Landlock without network, and of C{listen} and
TCP Fast Open behind the proxy's port (past Landlock's rule of the port):
what the rules say (L{refusal}), and what the kernel answers a process
that loaded them."""

from __future__ import annotations

import errno
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox.seccomp import (
    BWRAP,
    CMP_EQ,
    LANDLOCK,
    MSG_FASTOPEN,
    NETWORK_HOST,
    NETWORK_NONE,
    NETWORK_PROXY,
    SOCKETCALL_SENDS,
    VARIANTS,
    rules,
)
from tests.support.sandbox.seccomp import (
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_UNIX,
    MSG_DONTWAIT,
    MSG_NOSIGNAL,
    NEEDS_LIBSECCOMP,
    NEEDS_X86_64,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    childAnswers,
    refusal,
    unfilteredHere,
)

FLAGS = st.sampled_from((0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC, 1 << 40))


@given(st.sampled_from(VARIANTS), st.integers(0, 15), FLAGS)
def test_a_unix_socketpair_is_a_stream_or_seqpacket_one(
    variant: tuple[str, str], kind: int, flags: int
) -> None:
    """A datagram pair's socket sends to any unconnected datagram socket
    it names (C{/dev/log}); C{SOCK_RAW} is one too, to the kernel."""
    mechanism, network = variant
    got = refusal("socketpair", AF_UNIX, kind | flags, 0, mechanism=mechanism, network=network)
    assert got == (None if kind in (SOCK_STREAM, SOCK_SEQPACKET) else errno.EACCES), kind


@given(st.sampled_from(VARIANTS), st.integers(0, 15), FLAGS)
def test_a_unix_socket_is_a_stream_or_seqpacket_one_where_it_is_made_at_all(
    variant: tuple[str, str], kind: int, flags: int
) -> None:
    mechanism, network = variant
    got = refusal("socket", AF_UNIX, kind | flags, 0, mechanism=mechanism, network=network)
    if mechanism == LANDLOCK and network != NETWORK_NONE:
        assert got == errno.EAFNOSUPPORT  # no UNIX socket at all
    else:
        assert got == (None if kind in (SOCK_STREAM, SOCK_SEQPACKET) else errno.EACCES), kind


@given(st.sampled_from(VARIANTS), st.integers(0, 2**64 - 1).filter(lambda f: f != AF_UNIX))
def test_a_socketpair_of_another_family_is_refused(variant: tuple[str, str], family: int) -> None:
    """(The family's code, which a pair would reach, is never loaded.)"""
    mechanism, network = variant
    got = refusal("socketpair", family, SOCK_STREAM, 0, mechanism=mechanism, network=network)
    assert got == errno.EAFNOSUPPORT


def test_under_bubblewrap_the_proxys_forwarder_keeps_its_unix_stream_socket() -> None:
    assert refusal("socket", AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) is None
    assert refusal("socket", AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) == errno.EACCES
    assert refusal("socket", AF_UNIX, SOCK_RAW, 0) == errno.EACCES
    assert refusal("connect", 3, 0, 110) is None and refusal("listen", 3, 5) is None


@pytest.mark.parametrize("call, flags", [("sendto", 3), ("sendmsg", 2), ("sendmmsg", 3)])
def test_behind_the_proxys_port_no_tcp_fast_open_and_no_listen(call: str, flags: int) -> None:
    """C{MSG_FASTOPEN} connects an unconnected TCP socket past the
    C{connect} Landlock checks; C{listen} would bind a port on every
    address, which Landlock's bind rule never sees."""

    def sent(mechanism: str, network: str, chosen: int) -> int | None:
        arguments = [3, 0, 0, 0, 0, 0]
        arguments[flags] = chosen
        return refusal(call, *arguments, mechanism=mechanism, network=network)

    proxied = {"mechanism": LANDLOCK, "network": NETWORK_PROXY}
    fastOpen = MSG_FASTOPEN | MSG_NOSIGNAL | MSG_DONTWAIT
    assert sent(LANDLOCK, NETWORK_PROXY, fastOpen) == errno.EOPNOTSUPP
    assert sent(LANDLOCK, NETWORK_PROXY, fastOpen | 1 << 40) == errno.EOPNOTSUPP
    assert sent(LANDLOCK, NETWORK_PROXY, MSG_NOSIGNAL | MSG_DONTWAIT) is None
    assert refusal("listen", 3, 128, **proxied) == errno.EACCES
    for mechanism, network in VARIANTS:
        if (mechanism, network) != (LANDLOCK, NETWORK_PROXY):
            assert sent(mechanism, network, fastOpen) is None
            assert refusal("listen", 3, 128, mechanism=mechanism, network=network) is None


@pytest.mark.parametrize(
    "machine, multiplexed",
    [("x86_64", True), ("i686", True), ("s390x", True), ("aarch64", False), ("riscv64", False)],
)
def test_socketcalls_sends_are_refused_whole_behind_the_proxys_port(
    machine: str, multiplexed: bool
) -> None:
    """A rule that compared C{sendto}'s flags would compare C{socketcall}'s
    own registers, which its caller chooses."""
    made = rules(machine, mechanism=LANDLOCK, network=NETWORK_PROXY)
    whole = [c for name, _, c in made if name == "socketcall"]
    expected = [((0, CMP_EQ, number, 0),) for number in SOCKETCALL_SENDS] if multiplexed else []
    assert whole == expected
    for mechanism, network in ((BWRAP, NETWORK_HOST), (LANDLOCK, NETWORK_NONE)):
        others = rules(machine, mechanism=mechanism, network=network)
        assert not any(name == "socketcall" for name, _, _ in others)


# The kernel's answers, where libseccomp is installed (x86_64's numbers).

SOCKETPAIR, CONNECT, LISTEN, SENDTO, SENDMSG, SENDMMSG = 53, 42, 50, 44, 46, 307
PAIRS = [
    [family, kind]
    for family in (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
    for kind in (1, 2, 3, 5, 1 | SOCK_CLOEXEC, 2 | SOCK_NONBLOCK, 5 | SOCK_CLOEXEC)
]
"""The pairs the kernel is asked for (families whose code is built in: no
module is loaded for the unfiltered run)."""
SOCKET_CALLS = """
answers = {}
for family, kind in json.loads(sys.argv[3]):
    pair = (ctypes.c_int * 2)()
    got = call(53, family, kind, 0, pair)
    if got == "ok":
        os.close(pair[0])
        os.close(pair[1])
    answers[f"pair {family} {kind}"] = got
for name, number, flags in json.loads(sys.argv[4]):
    arguments = [-1, 0, 0, 0, 0, 0]
    if flags is not None:
        arguments[flags[0]] = flags[1]
    answers[name] = call(number, *arguments)
print(json.dumps(answers))
"""
CALLS: list[tuple[str, int, tuple[int, int] | None]] = [
    ("connect", CONNECT, None),
    ("listen", LISTEN, None),
    ("sendto fastopen", SENDTO, (3, MSG_FASTOPEN)),
    ("sendto", SENDTO, (3, MSG_NOSIGNAL)),
    ("sendmsg fastopen", SENDMSG, (2, MSG_FASTOPEN)),
    ("sendmmsg fastopen", SENDMMSG, (3, MSG_FASTOPEN)),
]
"""Each call on no socket (fd -1): refused by the filter, or C{EBADF}."""
NAMES = {CONNECT: "connect", LISTEN: "listen", SENDTO: "sendto", SENDMSG: "sendmsg"}
NAMES[SENDMMSG] = "sendmmsg"


@NEEDS_LIBSECCOMP
@NEEDS_X86_64
@pytest.mark.parametrize("variant", VARIANTS, ids=":".join)
def test_the_kernel_answers_each_pair_and_call_as_the_rules_say(variant: tuple[str, str]) -> None:
    if not unfilteredHere():
        pytest.skip("this test runs under a seccomp filter already (a container's)")
    mechanism, network = variant
    asked = (json.dumps(PAIRS), json.dumps(CALLS))
    filtered = childAnswers(SOCKET_CALLS, f"{mechanism}:{network}", *asked)
    unfiltered = childAnswers(SOCKET_CALLS, "unfiltered", *asked)
    chosen = {"mechanism": mechanism, "network": network}
    for family, kind in PAIRS:
        key = f"pair {family} {kind}"
        code = refusal("socketpair", family, kind, 0, **chosen)
        assert filtered[key] == (unfiltered[key] if code is None else errno.errorcode[code]), key
    for name, number, flags in CALLS:
        arguments = [3, 0, 0, 0, 0, 0]
        if flags is not None:
            arguments[flags[0]] = flags[1]
        code = refusal(NAMES[number], *arguments, **chosen)
        assert unfiltered[name] == "EBADF"
        assert filtered[name] == ("EBADF" if code is None else errno.errorcode[code]), name
    assert filtered["pair 1 2"] == "EACCES" and filtered["pair 1 1"] == "ok"
