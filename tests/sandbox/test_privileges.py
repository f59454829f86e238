"""Dropping every capability before Landlock, against a recorder standing
in for the kernel: the order of the steps, what each asks, what a process
without C{CAP_SETPCAP} skips, and what a refusal does. (Nothing is ever
dropped in the test's own process: the launcher's real drop is
tests/integration/sandbox/test_sandbox_mechanisms.py's.)"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from mcpgateway.sandbox import privileges
from mcpgateway.sandbox.privileges import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    PR_SET_SECUREBITS,
    SECUREBITS,
    dropAll,
    lastCap,
)

Call = tuple[str, int, int] | tuple[str, int, int, int]


class Kernel:
    """C{prctl} and C{capset} as L{dropAll} asks them, recorded; C{refuse}
    maps an option (or C{"capset"}) to the errno it fails with."""

    def __init__(self, refuse: dict[int | str, int] | None = None, bounding: int = 41) -> None:
        self.refuse = refuse or {}
        self.bounding = bounding
        self.calls: list[Call] = []

    def prctl(self, option: int, argument: int) -> int:
        self.calls.append(("prctl", option, argument))
        if option in self.refuse:
            return -self.refuse[option]
        if option == PR_CAPBSET_READ:
            return 1 if argument < self.bounding else -errno.EINVAL
        return 0

    def capset(self, effective: int, permitted: int, inheritable: int) -> int:
        self.calls.append(("capset", effective, permitted, inheritable))
        return -self.refuse["capset"] if "capset" in self.refuse else 0


@pytest.fixture
def lastCapFile(tmp_path: Path) -> str:
    path = tmp_path / "cap_last_cap"
    path.write_text("40\n")
    return str(path)


def test_root_drops_the_bounding_set_locks_the_securebits_then_empties_every_set(
    lastCapFile: str,
) -> None:
    kernel = Kernel()
    dropAll(kernel, lastCapFile)
    assert kernel.calls == [
        *(("prctl", PR_CAPBSET_DROP, capability) for capability in range(41)),
        ("prctl", PR_SET_SECUREBITS, SECUREBITS),
        ("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL),
        ("capset", 0, 0, 0),
    ]


def test_the_securebits_are_noroot_no_setuid_fixup_no_ambient_raise_all_locked() -> None:
    assert SECUREBITS == 0b1110_1111  # every bit and its lock, KEEP_CAPS locked off


def test_without_cap_setpcap_it_skips_what_needs_it_and_still_empties_every_set(
    lastCapFile: str,
) -> None:
    kernel = Kernel(refuse={PR_CAPBSET_DROP: errno.EPERM})
    dropAll(kernel, lastCapFile)
    assert kernel.calls == [
        ("prctl", PR_CAPBSET_DROP, 0),
        ("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL),
        ("capset", 0, 0, 0),
    ]


def test_a_kernel_without_ambient_capabilities_is_fine(lastCapFile: str) -> None:
    kernel = Kernel(refuse={PR_CAP_AMBIENT: errno.EINVAL})
    dropAll(kernel, lastCapFile)
    assert kernel.calls[-1] == ("capset", 0, 0, 0)


@pytest.mark.parametrize(
    ("refused", "what"),
    [
        (PR_SET_SECUREBITS, "PR_SET_SECUREBITS"),
        (PR_CAP_AMBIENT, "PR_CAP_AMBIENT_CLEAR_ALL"),
        ("capset", "capset"),
    ],
)
def test_a_step_the_kernel_refuses_is_an_error_naming_it(
    lastCapFile: str, refused: int | str, what: str
) -> None:
    kernel = Kernel(refuse={refused: errno.EPERM})
    with pytest.raises(OSError, match=f"dropping the capabilities: {what}: Operation not"):
        dropAll(kernel, lastCapFile)


def test_a_bounding_drop_refused_for_another_reason_is_an_error(lastCapFile: str) -> None:
    with pytest.raises(OSError, match="PR_CAPBSET_DROP: Invalid argument"):
        dropAll(Kernel(refuse={PR_CAPBSET_DROP: errno.EINVAL}), lastCapFile)


def test_the_last_capability_is_the_kernels(lastCapFile: str, tmp_path: Path) -> None:
    assert lastCap(Kernel(), lastCapFile) == 40
    # Without /proc: the bounding set is read until the kernel knows no more.
    assert lastCap(Kernel(bounding=38), str(tmp_path / "missing")) == 37
    assert lastCap(Kernel(bounding=99), str(tmp_path / "missing")) == 63


def test_the_real_library_binds_prctl_and_capset() -> None:
    """Only its binding: nothing is asked of the kernel that changes this
    process (the bounding set is read, never dropped)."""
    libc = privileges.Libc()
    assert libc.prctl(PR_CAPBSET_READ, 0) in (0, 1)
    assert libc.prctl(PR_CAPBSET_READ, 4096) == -errno.EINVAL
