"""What each mechanism does not confine on this machine: each line there
only where what it says holds (the ABI, libseccomp, root, C{/proc}'s
C{hidepid}), and what neither confines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.sandbox import gaps
from mcpgateway.sandbox.gaps import (
    LISTENING,
    ROOT,
    SHOWN_SOCKETS,
    SYSTEM_V,
    bwrapGaps,
    landlockGaps,
    neitherGaps,
    procHidesOthers,
)


def test_the_gaps_of_landlock_with_the_filter_on_a_recent_kernel() -> None:
    found = landlockGaps(True, 7)
    assert not any("(no libseccomp)" in gap for gap in found)
    assert not any("ABI <" in gap for gap in found)
    assert any("by port" in gap for gap in found)
    assert LISTENING in found and SYSTEM_V in found and ROOT not in found
    assert found[-1].startswith("other processes: no pid namespace (the child sees every process")


def test_without_libseccomp_sockets_and_the_filtered_calls_are_gaps() -> None:
    found = landlockGaps(False, 7)
    assert any(gap.startswith("pathname UNIX sockets") and "/dev/log" in gap for gap in found)
    assert any(gap.startswith("UDP and IP protocols other than TCP") for gap in found)
    assert any("ptrace" in gap for gap in found)
    assert any(gap.startswith("TCP past an allow list's port: TCP Fast Open") for gap in found)
    assert LISTENING not in found  # no filter: the UNIX sockets line says more
    old = landlockGaps(False, 5)  # no abstract scope either
    assert any(gap.startswith("UNIX sockets, pathname and abstract") for gap in old)


@pytest.mark.parametrize(
    ("abi", "gap"),
    [
        (3, "an allow list: the child shares the host's network (ABI < 4: no TCP rules)"),
        (2, "truncating a file the child may only read (ABI < 3)"),
        (4, "ioctl on the devices the child may open (ABI < 5)"),
        (
            5,
            "signals: the child may signal every process of its user (as root: almost every"
            " process) (ABI < 6)",
        ),
    ],
)
def test_what_an_older_abi_leaves_open(abi: int, gap: str) -> None:
    assert gap in landlockGaps(True, abi)
    assert gap not in landlockGaps(True, 7)


def test_an_old_kernel_without_the_filter_leaves_tcp_open_too() -> None:
    assert "TCP: a child without network still connects anywhere (ABI < 4)" in (
        landlockGaps(False, 3)
    )
    assert (
        landlockGaps(True, 0) == landlockGaps(False, 0) == ["anything: this kernel has no Landlock"]
    )


def test_a_root_gateways_children_and_a_hidden_proc() -> None:
    assert ROOT in landlockGaps(True, 7, root=True)
    hidden = landlockGaps(True, 7, procHidden=True)[-1]
    assert "hidepid hides the others" in hidden and "sees every process" not in hidden


def test_what_bubblewrap_does_not_confine_here() -> None:
    assert bwrapGaps({"disableUserns": True}, True, False) == [SHOWN_SOCKETS]
    [noFilter, _] = bwrapGaps({"disableUserns": True}, False, False)
    assert "no system-call filter" in noFilter and "datagrams" in noFilter
    [root, _] = bwrapGaps({"disableUserns": False}, True, True)
    assert root == ROOT
    assert len(bwrapGaps({"disableUserns": False}, False, False)) == 3  # user namespaces


def test_what_neither_confines() -> None:
    cpu, memory = neitherGaps(8192)
    assert "CPU" in cpu and "8 GiB" in memory and "/tmp is memory" in memory


def mountinfo(tmp_path: Path, *options: str) -> str:
    """A C{mountinfo} file whose last C{/proc} mount has C{options}."""
    lines = ["22 27 0:21 / /proc rw,relatime - proc proc rw"]
    lines += [f"63 22 0:39 / /proc rw,relatime - proc proc {o}" for o in options]
    lines.append("23 27 0:22 / /sys rw - sysfs sysfs rw,hidepid=invisible")
    path = tmp_path / "mountinfo"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("options", "groups", "hidden"),
    [
        ((), [1000], False),
        (("rw,hidepid=invisible",), [1000], True),
        (("rw,hidepid=2",), [1000], True),
        (("rw,hidepid=noaccess",), [1000], True),
        (("rw,hidepid=off",), [1000], False),
        (("rw,hidepid=invisible",), [0], False),  # root's group sees all (gid=0 by default)
        (("rw,hidepid=invisible,gid=27",), [1000, 27], False),
        (("rw,hidepid=invisible,gid=27",), [0], True),
        (("rw,hidepid=invisible", "rw"), [1000], False),  # the last mount is the one seen
    ],
)
def test_whether_proc_hides_the_other_processes(
    tmp_path: Path, options: tuple[str, ...], groups: list[int], hidden: bool
) -> None:
    assert procHidesOthers(mountinfo(tmp_path, *options), groups) is hidden


def test_an_unreadable_mountinfo_hides_nothing(tmp_path: Path) -> None:
    assert procHidesOthers(str(tmp_path / "missing"), [1000]) is False
    assert isinstance(gaps.procHidesOthers(), bool)  # this machine's, as the probe asks
