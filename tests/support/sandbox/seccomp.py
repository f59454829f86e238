"""What tests/sandbox/test_seccomp.py and test_seccomp_sockets.py share: the
sockets' numbers, a reading of the deny list's rules (L{refusal}), and a
process that loads a filter and reports what the kernel answers it
(L{childAnswers})."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox import launch, seccomp
from mcpgateway.sandbox.seccomp import BWRAP, CMP_EQ, CMP_GE, CMP_MASKED_EQ, CMP_NE, NETWORK_HOST

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE, IPPROTO_MPTCP = 6, 17, 132, 136, 262
MSG_DONTWAIT, MSG_NOSIGNAL = 0x40, 0x4000
BWRAPPED = {"mechanism": BWRAP, "network": NETWORK_HOST}
"""The sockets' numbers (x86_64's flags), and bubblewrap's filter."""


def refusal(
    name: str,
    *arguments: int,
    mechanism: str = BWRAP,
    network: str = NETWORK_HOST,
    machine: str = "x86_64",
) -> int | None:
    """The errno the deny list for C{mechanism} and C{network} answers
    C{name(arguments...)} with, or C{None}: allowed (libseccomp's
    comparisons, read as it reads them: a rule earlier in the list wins)."""
    args = (*arguments, *(0,) * (6 - len(arguments)))
    for call, code, comparisons in seccomp.rules(machine, mechanism=mechanism, network=network):
        if call == name and all(holds(c, args) for c in comparisons):
            return code
    return None


def holds(comparison: seccomp.Comparison, args: tuple[int, ...]) -> bool:
    index, operator, a, b = comparison
    value = args[index]
    return {
        CMP_NE: value != a,
        CMP_EQ: value == a,
        CMP_GE: value >= a,
        CMP_MASKED_EQ: value & a == b,
    }[operator]


NEEDS_LIBSECCOMP = pytest.mark.skipif(
    seccomp.library() is None or not sys.platform.startswith("linux"),
    reason="libseccomp is not installed here",
)
NEEDS_X86_64 = pytest.mark.skipif(
    os.uname().machine != "x86_64", reason="the child's system call numbers are x86_64's"
)


def unfilteredHere() -> bool:
    """Whether this process runs without a seccomp filter (a container's
    would answer some calls before the child's own)."""
    with open("/proc/self/status") as status:
        return "\nSeccomp:\t0" in status.read()


def childAnswers(program: str, mode: str, *arguments: str) -> dict[str, Any]:
    """What C{program} prints (JSON), run unfiltered or under the filter
    C{mode} (C{mechanism:network}), loaded into a child process of its
    own, never this one: its C{sys.argv} is C{mode}, the checkout, then
    C{arguments}; it loads the filter with L{LOAD_FILTER}."""
    root = str(Path(launch.__file__).parents[2])
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LOAD_FILTER + program, mode, root, *arguments],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin")},
        cwd=root,
        timeout=60,
        check=True,
    )
    answers: dict[str, Any] = json.loads(done.stdout)
    return answers


LOAD_FILTER = """
import ctypes, errno, json, os, sys
sys.path.insert(0, sys.argv[2])
from mcpgateway.sandbox import seccomp
if sys.argv[1] != "unfiltered":
    mechanism, network = sys.argv[1].split(":")
    seccomp.install(seccomp.Filter(seccomp.library(), mechanism, network))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(*args):
    ctypes.set_errno(0)
    done = libc.syscall(*args)
    if done >= 0 and args[0] == 41:
        os.close(done)
    return "ok" if done >= 0 else errno.errorcode[ctypes.get_errno()]
"""
"""The start of a child's program: the filter of C{sys.argv[1]} loaded,
and C{call(number, *arguments)}, a system call's C{"ok"} or errno name."""
