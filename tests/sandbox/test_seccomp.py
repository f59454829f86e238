"""The system-call filter: the rules it asks libseccomp for (through a
recorder standing in for the library), what they refuse (read by a small
evaluator of libseccomp's comparisons), how the launcher hands it to
bubblewrap or loads it under Landlock, and, where libseccomp is
installed, what the kernel answers a process that loaded it."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox import landlock, launch, seccomp
from mcpgateway.sandbox.launch import plan
from mcpgateway.sandbox.seccomp import (
    CLONE_NAMESPACES,
    CMP_EQ,
    CMP_GE,
    CMP_MASKED_EQ,
    CMP_NE,
    TIOCLINUX,
    TIOCSTI,
    build,
    errnoAction,
    rules,
)
from tests.sandbox.test_layout import request, tree

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


def refusal(name: str, *arguments: int) -> int | None:
    """The errno the deny list answers C{name(arguments...)} with, or
    C{None}: allowed (libseccomp's comparisons, read as it reads them)."""
    args = (*arguments, *(0,) * (6 - len(arguments)))
    for call, code, comparisons in rules("x86_64"):
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
    [first, *_] = [c for name, _, c in rules("s390x") if name == "clone"]
    assert first[0][0] == 1
    [first, *_] = [c for name, _, c in rules("aarch64") if name == "clone"]
    assert first[0][0] == 0


@given(st.integers(0, 2**32 - 1))
def test_only_tiocsti_and_tioclinux_of_the_ioctls_whatever_the_upper_bits(upper: int) -> None:
    for request_ in (TIOCSTI, TIOCLINUX):
        assert refusal("ioctl", 0, (upper << 32) | request_) == errno.EPERM
    assert refusal("ioctl", 0, (upper << 32) | 0x5401) is None  # TCGETS


@given(st.integers(0, 2**64 - 1))
def test_sockets_of_unix_ip_and_netlink_only(family: int) -> None:
    expected = None if family in (0, 1, 2, 10, 16) else errno.EAFNOSUPPORT
    assert refusal("socket", family, 1, 0) == expected


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
    build(recorder, "x86_64")
    assert recorder.added and all(action >> 16 == 0x0005 for _, action, _ in recorder.added)
    assert ("ptrace", errnoAction(errno.EPERM), ()) in recorder.added
    assert ("clone3", errnoAction(errno.ENOSYS), ()) in recorder.added
    newUser = ((0, CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER),)
    assert ("clone", errnoAction(errno.EPERM), newUser) in recorder.added
    tiocsti = ((1, CMP_MASKED_EQ, 0xFFFFFFFF, TIOCSTI),)
    assert ("ioctl", errnoAction(errno.EPERM), tiocsti) in recorder.added
    assert len(recorder.added) == len(rules("x86_64"))


def test_the_32_bit_architecture_of_a_64_bit_machine_is_filtered_too() -> None:
    for machine, arches in (("x86_64", ["x86"]), ("aarch64", ["arm"]), ("riscv64", [])):
        recorder = Recorder()
        build(recorder, machine)
        assert recorder.arches == arches, machine


def test_a_call_this_libseccomp_does_not_know_is_left_out_and_named() -> None:
    recorder = Recorder(unknown=("mount_setattr", "quotactl_fd"))
    _, unknown = build(recorder, "x86_64")
    assert sorted(unknown) == ["mount_setattr", "quotactl_fd"]
    assert {name for name, _, _ in recorder.added}.isdisjoint(unknown)


def test_a_rule_libseccomp_refuses_is_an_error_naming_it_and_the_context_is_freed() -> None:
    recorder = Recorder(refuse="keyctl")
    with pytest.raises(OSError, match="the rule for keyctl"):
        build(recorder, "x86_64")
    assert recorder.released == [7]


def test_the_program_is_a_memory_file_at_its_start_that_bubblewrap_inherits() -> None:
    recorder = Recorder()
    fd = seccomp.program(recorder)
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


def test_under_bubblewrap_the_launcher_hands_the_program_over_as_an_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", syscalls="filtered")
    _, argv, _ = plan(asked, COMMAND, {})
    fd = int(argv[argv.index("--seccomp") + 1])
    try:
        assert argv.index("--seccomp") < argv.index("--") and os.read(fd, 64) == PROGRAM
    finally:
        os.close(fd)


def test_an_unfiltered_entry_gets_no_filter_and_neither_does_learning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", syscalls="unfiltered")
    _, argv, _ = plan(asked, COMMAND, {})
    assert "--seccomp" not in argv
    # Learning runs the server under strace, which the filter's ptrace rule refuses.
    assert launch.filterProgram({**asked, "syscalls": "filtered", "learn": {}}) is None


def test_without_libseccomp_the_child_runs_without_the_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seccomp, "library", lambda: None)
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", syscalls="filtered")
    _, argv, _ = plan(asked, COMMAND, {})
    assert "--seccomp" not in argv and argv[-2:] == COMMAND


def test_under_landlock_the_launcher_loads_the_filter_into_itself_after_landlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filtersLoaded: list[object]
) -> None:
    order: list[str] = []
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: order.append("landlock"))
    monkeypatch.setattr(seccomp, "install", lambda lib: order.append("seccomp"))
    monkeypatch.setattr(seccomp, "library", Recorder)
    tree(tmp_path)
    asked = request(tmp_path, mechanism="landlock", landlock=7)
    executable, argv, _ = plan(asked, COMMAND, {})
    assert (executable, argv, order) == ("/usr/bin/node", COMMAND, ["landlock", "seccomp"])
    order.clear()
    plan({**asked, "syscalls": "unfiltered"}, COMMAND, {})
    assert order == ["landlock"]


def test_nothing_to_confine_with_loads_no_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filtersLoaded: list[object]
) -> None:
    monkeypatch.setattr(seccomp, "library", Recorder)
    plan(request(tmp_path, mechanism="none"), COMMAND, {})
    assert filtersLoaded == []


# The kernel's answers, where libseccomp is installed.

NEEDS_LIBSECCOMP = pytest.mark.skipif(
    seccomp.library() is None or not sys.platform.startswith("linux"),
    reason="libseccomp is not installed here",
)

FILTERED_CHILD = """
import ctypes, errno, json, os, sys, threading
sys.path.insert(0, sys.argv[2])
from mcpgateway.sandbox import seccomp
if sys.argv[1] == "filtered":
    seccomp.install(seccomp.library())
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(*args):
    ctypes.set_errno(0)
    done = libc.syscall(*args)
    return "ok" if done >= 0 else errno.errorcode[ctypes.get_errno()]
child = os.spawnv(os.P_NOWAIT, "/bin/sleep", ["sleep", "30"])
answers = {
    "ptrace": call(101, 16, child, 0, 0),
    "clone3": call(435, 0, 0),
    "unshare": call(272, 0x10000000),
    "keyctl": call(250, 0, -3, 0),
    "packet": call(41, 17, 3, 0),
    "tcp": call(41, 2, 1, 0),
}
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
os.kill(child, 9)
os.waitpid(child, 0)
answers["fork"] = os.waitstatus_to_exitcode(os.waitpid(os.spawnv(os.P_NOWAIT, "/bin/true",
    ["true"]), 0)[1])
print(json.dumps(answers))
"""


def childAnswers(mode: str) -> dict[str, Any]:
    root = str(Path(launch.__file__).parents[2])
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", FILTERED_CHILD, mode, root],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin")},
        cwd=root,
        timeout=60,
        check=True,
    )
    answers: dict[str, Any] = json.loads(done.stdout)
    return answers


@NEEDS_LIBSECCOMP
def test_the_kernel_refuses_a_filtered_process_what_the_list_says_and_no_more() -> None:
    answers = childAnswers("filtered")
    assert answers == {
        "ptrace": "EPERM",
        "clone3": "ENOSYS",
        "unshare": "EPERM",
        "keyctl": "EPERM",
        "packet": "EAFNOSUPPORT",
        "tcp": "ok",
        "fork": 0,  # threads and processes still start: glibc falls back to clone
    }
    with open("/proc/self/status") as status:
        if "\nSeccomp:\t0" not in status.read():
            return  # this test runs under a filter already (a container's)
    unfiltered = childAnswers("unfiltered")
    assert (unfiltered["ptrace"], unfiltered["clone3"]) == ("ok", "EINVAL")


@NEEDS_LIBSECCOMP
def test_the_status_of_the_real_library() -> None:
    found = seccomp.status()
    assert found["works"] is True and found["error"] is None
    unknown = found["unknown"]
    assert isinstance(unknown, list)
    assert found["rules"] == len([name for name, _, _ in rules() if name not in unknown])
    library = seccomp.library()
    assert library is not None
    fd = seccomp.program(library)
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    assert size > 0 and size % 8 == 0  # whole BPF instructions
