"""The system-call filter: the rules it asks libseccomp for (through a
recorder standing in for the library), what they refuse for each
mechanism and network (read by a small evaluator of libseccomp's
comparisons), how the launcher hands it to bubblewrap or loads it under
Landlock, and, where libseccomp is installed, what the kernel answers a
process that loaded it."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox import landlock, launch, privileges, seccomp
from mcpgateway.sandbox.launch import plan
from mcpgateway.sandbox.seccomp import (
    BWRAP,
    CLONE_NAMESPACES,
    CMP_EQ,
    CMP_MASKED_EQ,
    LANDLOCK,
    NETWORK_HOST,
    NETWORK_NONE,
    NETWORK_PROXY,
    TIOCLINUX,
    TIOCSTI,
    VARIANTS,
    blocks,
    build,
    errnoAction,
    refused,
    rules,
)
from tests.support.sandbox.layout import request, tree
from tests.support.sandbox.seccomp import (
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_UNIX,
    BWRAPPED,
    IPPROTO_MPTCP,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPPROTO_UDPLITE,
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

COMMAND = ["/usr/bin/node", "server.js"]
CLONE_NEWUSER = 0x10000000
PROGRAM = b"\x06\x00\x00\x00\x00\x00\xff\x7f"
"""One BPF instruction (C{ret ALLOW}): what the recorder exports."""


class Recorder:
    """libseccomp as L{seccomp.build} sees it, recording what it is asked."""

    def __init__(self, unknown: tuple[str, ...] = (), refuse: str | None = None) -> None:
        self.unknown = unknown
        self.refuse = refuse
        self.names: list[str] = []
        self.arches: list[str] = []
        self.added: list[tuple[str, int, tuple[seccomp.Comparison, ...]]] = []
        self.released: list[int] = []
        self.loaded: list[int] = []

    def new(self) -> int:
        return 7

    def addArch(self, context: int, name: str) -> None:
        self.arches.append(name)

    def resolve(self, name: str) -> int:
        if name in self.unknown:
            return seccomp.NR_ERROR
        if name not in self.names:
            self.names.append(name)
        return self.names.index(name)

    def addRule(
        self, context: int, action: int, number: int, comparisons: tuple[seccomp.Comparison, ...]
    ) -> int:
        name = self.names[number]
        if name == self.refuse:
            return -errno.EINVAL
        self.added.append((name, action, comparisons))
        return 0

    def export(self, context: int, fd: int) -> None:
        os.write(fd, PROGRAM)

    def load(self, context: int) -> None:
        self.loaded.append(context)

    def release(self, context: int) -> None:
        self.released.append(context)


def test_the_calls_a_server_has_no_use_for_fail_with_eperm() -> None:
    for name in (
        "ptrace",
        "process_vm_readv",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "mount",
        "umount2",
        "pivot_root",
        "setns",
        "unshare",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "syslog",
        "open_by_handle_at",
        "quotactl",
        "uselib",
        "lookup_dcookie",
        "vm86",
    ):
        assert refusal(name) == errno.EPERM, name
    for allowed in ("read", "openat", "clone", "execve", "ioctl", "socket", "mknod", "prctl"):
        assert refusal(allowed) is None, allowed


def test_clone3_and_the_new_mount_calls_are_enosys_so_the_c_library_falls_back() -> None:
    for name in ("clone3", "open_tree", "move_mount", "fsopen", "fsmount", "io_uring_setup"):
        assert refusal(name) == errno.ENOSYS, name


def test_clone_is_refused_a_new_namespace_of_any_kind_and_allowed_threads() -> None:
    threads = 0x003D0F00  # what glibc's pthread_create asks
    assert refusal("clone", threads) is None
    assert refusal("clone", 0x01200011) is None  # fork()
    for bit in CLONE_NAMESPACES:
        assert refusal("clone", threads | bit) == errno.EPERM, hex(bit)
    assert refusal("clone", CLONE_NEWUSER | (1 << 40)) == errno.EPERM


def test_on_s390_the_flags_are_clones_second_argument() -> None:
    [first, *_] = [c for name, _, c in rules("s390x", **BWRAPPED) if name == "clone"]
    assert first[0][0] == 1
    [first, *_] = [c for name, _, c in rules("aarch64", **BWRAPPED) if name == "clone"]
    assert first[0][0] == 0


@given(st.integers(0, 2**32 - 1))
def test_only_tiocsti_and_tioclinux_of_the_ioctls_whatever_the_upper_bits(upper: int) -> None:
    for request_ in (TIOCSTI, TIOCLINUX):
        assert refusal("ioctl", 0, (upper << 32) | request_) == errno.EPERM
    assert refusal("ioctl", 0, (upper << 32) | 0x5401) is None  # TCGETS


@given(st.integers(0, 2**64 - 1), st.sampled_from(VARIANTS))
def test_sockets_of_unix_ip_and_netlink_only(family: int, variant: tuple[str, str]) -> None:
    mechanism, network = variant
    expected = None if family in (0, 1, 2, 10, 16) else errno.EAFNOSUPPORT
    if family in (AF_UNIX, AF_INET, AF_INET6) and mechanism == LANDLOCK:
        return  # below: Landlock's own
    assert refusal("socket", family, 1, 0, mechanism=mechanism, network=network) == expected


def ipAnswer(mechanism: str, network: str, family: int, kind: int, protocol: int) -> int | None:
    """What an IP socket of C{kind} (flags and all) and C{protocol} should
    get: the rules' intent, written plainly."""
    if mechanism == LANDLOCK and network == NETWORK_NONE:
        return errno.EAFNOSUPPORT
    kinds = (SOCK_STREAM,) if (mechanism, network) == (LANDLOCK, NETWORK_PROXY) else (1, 2)
    if kind & 0xF not in kinds or protocol not in (0, IPPROTO_TCP, IPPROTO_UDP):
        return errno.EACCES
    return None


@given(
    st.sampled_from(VARIANTS),
    st.sampled_from((AF_INET, AF_INET6)),
    st.integers(0, 15),
    st.sampled_from((0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC, 1 << 40)),
    st.integers(0, 2**64 - 1) | st.integers(0, 300),
)
def test_an_ip_socket_is_tcp_or_udp_and_no_other_kind(
    variant: tuple[str, str], family: int, kind: int, flags: int, protocol: int
) -> None:
    mechanism, network = variant
    expected = ipAnswer(mechanism, network, family, kind | flags, protocol)
    got = refusal("socket", family, kind | flags, protocol, mechanism=mechanism, network=network)
    assert got == expected, (family, kind, protocol)


def test_mptcp_sctp_udplite_and_raw_are_refused_under_every_mechanism() -> None:
    for mechanism, network in VARIANTS:
        for family in (AF_INET, AF_INET6):
            for kind, protocol in (
                (SOCK_STREAM, IPPROTO_MPTCP),
                (SOCK_STREAM, IPPROTO_SCTP),
                (SOCK_SEQPACKET, 0),  # SCTP by its type
                (SOCK_DGRAM, IPPROTO_UDPLITE),
                (SOCK_RAW, 0),
                (SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 1),
                (SOCK_DGRAM, 1),  # ICMP
            ):
                answer = refusal(
                    "socket", family, kind, protocol, mechanism=mechanism, network=network
                )
                assert answer in (errno.EACCES, errno.EAFNOSUPPORT), (mechanism, network, kind)


def test_under_bubblewrap_unix_sockets_tcp_and_udp_stay() -> None:
    for family in (AF_INET, AF_INET6):
        for kind, protocol in ((SOCK_STREAM, 0), (SOCK_STREAM, 6), (SOCK_DGRAM, 0), (2, 17)):
            assert refusal("socket", family, kind | SOCK_CLOEXEC, protocol) is None
    assert refusal("socket", AF_UNIX, SOCK_STREAM, 0) is None  # the proxy's forwarder's
    assert refusal("socket", AF_NETLINK, SOCK_RAW, 0) is None  # getaddrinfo's


def test_under_landlock_with_network_no_unix_socket_but_socketpair_and_netlink() -> None:
    for network in (NETWORK_PROXY, NETWORK_HOST):
        landlocked = {"mechanism": LANDLOCK, "network": network}
        for kind in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET | SOCK_CLOEXEC):
            assert refusal("socket", AF_UNIX, kind, 0, **landlocked) == errno.EAFNOSUPPORT
        assert refusal("socket", AF_UNIX | 1 << 32, SOCK_STREAM, 0, **landlocked) is not None
        assert refusal("socketpair", AF_UNIX, SOCK_STREAM, 0, **landlocked) is None
        assert refusal("socket", AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0, **landlocked) is None
        assert refusal("connect", 3, 0, 16, **landlocked) is None  # TCP, to the proxy's port


def test_under_landlock_without_network_a_unix_socket_listens_but_connects_nowhere() -> None:
    """Chromium listens on its single-instance socket as it starts; no
    socket of a child without network may connect (no IP one is left)."""
    landlocked = {"mechanism": LANDLOCK, "network": NETWORK_NONE}
    for kind in (SOCK_STREAM, SOCK_SEQPACKET | SOCK_CLOEXEC, SOCK_STREAM | SOCK_NONBLOCK):
        assert refusal("socket", AF_UNIX, kind, 0, **landlocked) is None
    assert refusal("socket", AF_UNIX, SOCK_DGRAM, 0, **landlocked) == errno.EACCES
    assert refusal("connect", 3, 0, 110, **landlocked) == errno.ECONNREFUSED
    assert refusal("listen", 3, 5, **landlocked) is None
    for variant in VARIANTS:
        if variant != (LANDLOCK, NETWORK_NONE):
            mechanism, network = variant
            assert refusal("connect", 3, 0, 16, mechanism=mechanism, network=network) is None


def test_under_landlock_the_network_decides_the_ip_sockets() -> None:
    def answers(network: str) -> tuple[int | None, ...]:
        landlocked = {"mechanism": LANDLOCK, "network": network}
        return tuple(
            refusal("socket", AF_INET6, kind, 0, **landlocked) for kind in (SOCK_STREAM, SOCK_DGRAM)
        )

    # None: no IP socket at all (Landlock keeps no UDP, nor TCP before ABI 4).
    assert answers(NETWORK_NONE) == (errno.EAFNOSUPPORT, errno.EAFNOSUPPORT)
    # Behind the proxy's port: TCP (Landlock keeps it to the port), no UDP.
    assert answers(NETWORK_PROXY) == (None, errno.EACCES)
    assert answers(NETWORK_HOST) == (None, None)


@given(st.integers(0, 40), st.integers(0, 40), st.sampled_from((4, 8, 64)))
def test_blocks_match_exactly_their_range(low: int, span: int, width: int) -> None:
    high = min(low + span, (1 << width) - 1)
    if low > high:
        return
    found = blocks(low, high, width)
    for value in range(min(1 << width, 64)):
        matched = [b for mask, b in found if value & mask == b]
        assert len(matched) == (1 if low <= value <= high else 0), value


def test_the_refused_values_are_the_ones_not_allowed() -> None:
    assert refused((1, 2), 16, 4) == [(0xF, 0), (0xF, 3), (0xC, 4), (0x8, 8)]
    full = 2**64 - 1
    assert refused((0, 6, 17), 18, 64) == [
        (full, 1), (full & ~1, 2), (full & ~1, 4), (full, 7), (full & ~7, 8), (full, 16),
    ]  # fmt: skip


def test_device_nodes_are_refused_a_fifo_is_not() -> None:
    assert refusal("mknodat", 0, 0, 0o020600) == errno.EPERM  # a character device
    assert refusal("mknodat", 0, 0, 0o060600) == errno.EPERM  # a block device
    assert refusal("mknod", 0, 0o020600) == errno.EPERM
    assert refusal("mknodat", 0, 0, 0o010600) is None  # a FIFO
    assert refusal("mknod", 0, 0o140600) is None  # a socket


def test_personality_stays_linux() -> None:
    assert refusal("personality", 0) is None
    assert refusal("personality", 0x0040000) == errno.EPERM  # ADDR_NO_RANDOMIZE


def test_every_rule_is_an_errno_never_a_kill() -> None:
    recorder = Recorder()
    build(recorder, "x86_64", **BWRAPPED)
    assert recorder.added and all(action >> 16 == 0x0005 for _, action, _ in recorder.added)
    assert ("ptrace", errnoAction(errno.EPERM), ()) in recorder.added
    assert ("clone3", errnoAction(errno.ENOSYS), ()) in recorder.added
    newUser = ((0, CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER),)
    assert ("clone", errnoAction(errno.EPERM), newUser) in recorder.added
    tiocsti = ((1, CMP_MASKED_EQ, 0xFFFFFFFF, TIOCSTI),)
    assert ("ioctl", errnoAction(errno.EPERM), tiocsti) in recorder.added
    assert len(recorder.added) == len(rules("x86_64", **BWRAPPED))


def test_the_rules_asked_for_follow_the_mechanism_and_the_network() -> None:
    def sockets(mechanism: str, network: str) -> list[tuple[seccomp.Comparison, ...]]:
        recorder = Recorder()
        build(recorder, "x86_64", mechanism=mechanism, network=network)
        return [c for name, _, c in recorder.added if name == "socket"]

    unix = ((0, CMP_EQ, AF_UNIX, 0),)
    assert unix not in sockets(BWRAP, NETWORK_NONE)
    assert unix not in sockets(LANDLOCK, NETWORK_NONE)  # it may listen, not connect
    for network in (NETWORK_PROXY, NETWORK_HOST):
        assert unix in sockets(LANDLOCK, network)
    everyIp = ((0, CMP_EQ, AF_INET, 0),)
    assert everyIp in sockets(LANDLOCK, NETWORK_NONE)
    assert everyIp not in sockets(LANDLOCK, NETWORK_HOST)
    # bubblewrap's network namespace makes its network moot
    assert sockets(BWRAP, NETWORK_NONE) == sockets(BWRAP, NETWORK_HOST)


def test_the_32_bit_architecture_of_a_64_bit_machine_is_filtered_too() -> None:
    for machine, arches in (("x86_64", ["x86"]), ("aarch64", ["arm"]), ("riscv64", [])):
        recorder = Recorder()
        build(recorder, machine, **BWRAPPED)
        assert recorder.arches == arches, machine


def test_a_call_this_libseccomp_does_not_know_is_left_out_and_named() -> None:
    recorder = Recorder(unknown=("mount_setattr", "quotactl_fd"))
    _, unknown = build(recorder, "x86_64", **BWRAPPED)
    assert sorted(unknown) == ["mount_setattr", "quotactl_fd"]
    assert {name for name, _, _ in recorder.added}.isdisjoint(unknown)


def test_a_rule_libseccomp_refuses_is_an_error_naming_it_and_the_context_is_freed() -> None:
    recorder = Recorder(refuse="keyctl")
    with pytest.raises(OSError, match="the rule for keyctl"):
        build(recorder, "x86_64", **BWRAPPED)
    assert recorder.released == [7]


def test_the_program_is_a_memory_file_at_its_start_that_bubblewrap_inherits() -> None:
    recorder = Recorder()
    fd = seccomp.program(seccomp.Filter(recorder, BWRAP))
    try:
        assert os.get_inheritable(fd) and os.read(fd, 64) == PROGRAM
    finally:
        os.close(fd)
    assert recorder.released == [7]


def test_without_libseccomp_the_status_says_so_and_there_is_no_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str = seccomp.LIBRARY) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(seccomp, "LibSeccomp", missing)
    assert seccomp.library() is None
    found = seccomp.status()
    assert found["works"] is False and "libseccomp2" in str(found["error"])


# The launcher's use of it.


def bwrapPlan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, library: Any, syscalls: str
) -> tuple[dict[str, Any], list[str]]:
    """The launcher's request for a bubblewrap child whose system calls are
    C{syscalls}, in a tree made under C{tmp_path}, and the argv it plans
    with C{library} as libseccomp."""
    monkeypatch.setattr(seccomp, "library", library)
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", syscalls=syscalls)
    _, argv, _ = plan(asked, COMMAND, {})
    return asked, argv


def test_under_bubblewrap_the_launcher_hands_the_program_over_as_an_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, argv = bwrapPlan(tmp_path, monkeypatch, Recorder, "filtered")
    fd = int(argv[argv.index("--seccomp") + 1])
    try:
        assert argv.index("--seccomp") < argv.index("--") and os.read(fd, 64) == PROGRAM
    finally:
        os.close(fd)


def test_an_unfiltered_entry_gets_no_filter_and_neither_does_learning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked, argv = bwrapPlan(tmp_path, monkeypatch, Recorder, "unfiltered")
    assert "--seccomp" not in argv
    # Learning runs the server under strace, which the filter's ptrace rule refuses.
    assert launch.filterProgram({**asked, "syscalls": "filtered", "learn": {}}) is None


def test_without_libseccomp_the_child_runs_without_the_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, argv = bwrapPlan(tmp_path, monkeypatch, lambda: None, "filtered")
    assert "--seccomp" not in argv and argv[-2:] == COMMAND


def test_under_landlock_the_launcher_loads_the_filter_into_itself_after_landlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filtersLoaded: list[object]
) -> None:
    order: list[str] = []
    loaded: list[seccomp.Filter] = []
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: order.append("landlock"))
    monkeypatch.setattr(privileges, "dropAll", lambda: order.append("capabilities"))

    def install(chosen: seccomp.Filter) -> None:
        order.append("seccomp")
        loaded.append(chosen)

    monkeypatch.setattr(seccomp, "install", install)
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    monkeypatch.setattr(launch, "guarded", os.getpid())  # the launcher's own process
    asked = request(tmp_path, mechanism="landlock", landlock=7)
    executable, argv, _ = plan(asked, COMMAND, {})
    assert (executable, argv) == ("/usr/bin/node", COMMAND)
    assert order == ["capabilities", "landlock", "seccomp"]
    [filtered] = loaded
    assert (filtered.mechanism, filtered.network) == (LANDLOCK, NETWORK_NONE)
    order.clear()
    plan({**asked, "syscalls": "unfiltered"}, COMMAND, {})
    assert order == ["capabilities", "landlock"]


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({"mode": "none"}, NETWORK_NONE),
        ({"mode": "host"}, NETWORK_HOST),
        ({"mode": "allow", "allowedDomains": ["x.org"], "proxyPort": 4000}, NETWORK_PROXY),
        ({"mode": "allow", "allowedDomains": ["x.org"]}, NETWORK_HOST),  # no proxy: warned
        ({"mode": "allow", "allowedDomains": ["x.org"], "proxy": "/s.sock"}, NETWORK_NONE),
    ],
)
def test_under_landlock_the_filter_is_made_for_the_childs_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: dict[str, Any], expected: str
) -> None:
    loaded: list[seccomp.Filter] = []
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: None)
    monkeypatch.setattr(seccomp, "install", loaded.append)
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    plan(request(tmp_path, mechanism="landlock", landlock=7, network=network), COMMAND, {})
    assert [(f.mechanism, f.network) for f in loaded] == [(LANDLOCK, expected)]


def test_under_landlock_without_libseccomp_the_launcher_says_what_stays_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    restricted: list[int] = []
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: restricted.append(1))
    monkeypatch.setattr(seccomp, "library", lambda: None)
    tree(tmp_path)
    executable, _, _ = plan(request(tmp_path, mechanism="landlock", landlock=7), COMMAND, {})
    err = capsys.readouterr().err
    assert executable == "/usr/bin/node" and restricted == [1]  # its files still confined
    assert err.startswith(launch.PREFIX) and err.count("\n") == 1
    assert "libseccomp is not installed" in err and "UNIX sockets" in err
    plan(request(tmp_path, mechanism="landlock", landlock=7, syscalls="unfiltered"), COMMAND, {})
    assert capsys.readouterr().err == ""  # its entry's own choice: nothing to say


def test_under_bubblewrap_the_filter_keeps_unix_sockets_for_the_proxys_forwarder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[seccomp.Filter] = []

    def program(chosen: seccomp.Filter) -> int:
        made.append(chosen)
        return os.open(os.devnull, os.O_RDONLY)

    monkeypatch.setattr(seccomp, "program", program)
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    network = {"mode": "allow", "allowedDomains": ["x.org"], "proxy": "/s.sock"}
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", network=network)
    _, argv, _ = plan(asked, COMMAND, {})
    os.close(int(argv[argv.index("--seccomp") + 1]))
    [chosen] = made
    assert chosen.mechanism == BWRAP
    mine = {"mechanism": chosen.mechanism, "network": chosen.network}
    assert refusal("socket", AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, **mine) is None
    assert refusal("connect", 3, 0, 110, **mine) is None


def test_nothing_to_confine_with_loads_no_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filtersLoaded: list[object]
) -> None:
    monkeypatch.setattr(seccomp, "library", Recorder)
    plan(request(tmp_path, mechanism="none"), COMMAND, {})
    assert filtersLoaded == []


# The kernel's answers, where libseccomp is installed.

FILTERED_CHILD = """
child = os.spawnv(os.P_NOWAIT, "/bin/sleep", ["sleep", "30"])
answers = {
    "ptrace": call(101, 16, child, 0, 0),
    "clone3": call(435, 0, 0),
    "unshare": call(272, 0x10000000),
    "keyctl": call(250, 0, -3, 0),
    "packet": call(41, 17, 3, 0),
    "tcp": call(41, 2, 1, 0),
}
sockets = {}
for family, kind, protocol in json.loads(sys.argv[3]):
    sockets[f"{family} {kind} {protocol}"] = call(41, family, kind, protocol)
pair = (ctypes.c_int * 2)()
answers["socketpair"] = call(53, 1, 1, 0, pair)
answers["sockets"] = sockets
import threading
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
os.kill(child, 9)
os.waitpid(child, 0)
answers["fork"] = os.waitstatus_to_exitcode(os.waitpid(os.spawnv(os.P_NOWAIT, "/bin/true",
    ["true"]), 0)[1])
print(json.dumps(answers))
"""
SOCKETS = [
    [family, kind, protocol]
    for family in (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
    for kind in (1, 2, 3, 5, 1 | SOCK_NONBLOCK | SOCK_CLOEXEC, 2 | SOCK_CLOEXEC, 3 | SOCK_CLOEXEC)
    for protocol in (0, 1, 6, 17, 58, 132, 136, 255, 262)
]
"""The sockets the kernel is asked for: each family, type and protocol."""


@NEEDS_LIBSECCOMP
@NEEDS_X86_64
def test_the_kernel_refuses_a_filtered_process_what_the_list_says_and_no_more() -> None:
    answers = childAnswers(FILTERED_CHILD, "bwrap:host", json.dumps(SOCKETS))
    del answers["sockets"]
    assert answers == {
        "ptrace": "EPERM",
        "clone3": "ENOSYS",
        "unshare": "EPERM",
        "keyctl": "EPERM",
        "packet": "EAFNOSUPPORT",
        "tcp": "ok",
        "socketpair": "ok",
        "fork": 0,  # threads and processes still start: glibc falls back to clone
    }
    if not unfilteredHere():
        return  # this test runs under a filter already (a container's)
    unfiltered = childAnswers(FILTERED_CHILD, "unfiltered", json.dumps(SOCKETS))
    assert (unfiltered["ptrace"], unfiltered["clone3"]) == ("ok", "EINVAL")


@NEEDS_LIBSECCOMP
@NEEDS_X86_64
@pytest.mark.parametrize("variant", VARIANTS, ids=":".join)
def test_the_kernel_answers_each_socket_as_the_rules_say(variant: tuple[str, str]) -> None:
    """Every family, type and protocol asked of the kernel: refused with
    the rules' errno where they refuse it, and otherwise what the kernel
    answers without the filter (libseccomp's tree of a rule's comparisons
    is what is checked, against the evaluator's reading of the rules)."""
    if not unfilteredHere():
        pytest.skip("this test runs under a seccomp filter already (a container's)")
    mechanism, network = variant
    filtered = childAnswers(FILTERED_CHILD, f"{mechanism}:{network}", json.dumps(SOCKETS))
    unfiltered = childAnswers(FILTERED_CHILD, "unfiltered", json.dumps(SOCKETS))["sockets"]
    assert filtered["socketpair"] == "ok"
    for family, kind, protocol in SOCKETS:
        key = f"{family} {kind} {protocol}"
        code = refusal("socket", family, kind, protocol, mechanism=mechanism, network=network)
        expected = unfiltered[key] if code is None else errno.errorcode[code]
        assert filtered["sockets"][key] == expected, key


@NEEDS_LIBSECCOMP
def test_the_status_of_the_real_library() -> None:
    found = seccomp.status()
    assert found["works"] is True and found["error"] is None
    unknown = found["unknown"]
    assert isinstance(unknown, list)
    made = rules(**BWRAPPED)
    assert found["rules"] == len([name for name, _, _ in made if name not in unknown])
    library = seccomp.library()
    assert library is not None
    fd = seccomp.program(seccomp.Filter(library, BWRAP))
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    assert size > 0 and size % 8 == 0  # whole BPF instructions
