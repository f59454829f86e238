"""The variables the dynamic loader reads are held while a child's launcher
and bubblewrap run on the host, and given back to the confined child alone."""

from __future__ import annotations

import os
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox.loaderenv import HELD, SHELL, held, restored, steersLoader, wrapper
from mcpgateway.sandbox.request import homeOf

CHILD = {
    "PATH": "/usr/bin:/bin",
    "LD_PRELOAD": "/repo/evil.so",
    "LD_LIBRARY_PATH": "/repo/lib",
    "GCONV_PATH": "/repo/gconv",
    "DYLD_INSERT_LIBRARIES": "/repo/evil.dylib",
    "TOKEN": "plain",
}


def test_a_launcher_starts_with_no_variable_the_loader_reads() -> None:
    launcher = held(CHILD)
    assert not any(steersLoader(name) for name in launcher)
    assert launcher[f"{HELD}LD_PRELOAD"] == "/repo/evil.so"
    assert launcher["TOKEN"] == "plain" and launcher["PATH"] == "/usr/bin:/bin"


def test_only_the_gateway_names_a_held_variable() -> None:
    planted = {**CHILD, f"{HELD}LD_AUDIT": "/repo/audit.so", f"{HELD}X; rm -rf ~": "1"}
    launcher = held(planted)
    assert f"{HELD}LD_AUDIT" not in launcher and f"{HELD}X; rm -rf ~" not in launcher


def test_the_launcher_gives_them_back_for_the_child_alone() -> None:
    launcher = held(CHILD)
    notes: list[str] = []
    loader = restored(launcher, notes)
    assert loader == {k: v for k, v in CHILD.items() if steersLoader(k)}
    assert not any(name.startswith(HELD) for name in launcher) and notes == []


def test_a_name_no_shell_can_set_is_dropped_and_said() -> None:
    launcher = {"PATH": "/bin", f"{HELD}LD_$(id)": "x", f"{HELD}LD_PRELOAD": "/a.so"}
    notes: list[str] = []
    assert restored(launcher, notes) == {"LD_PRELOAD": "/a.so"}
    assert len(notes) == 1 and "LD_$(id)" in notes[0]


def test_the_wrapper_sets_them_in_the_sandbox_from_the_environment() -> None:
    environ = {"PATH": "/usr/bin:/bin"}
    prefix = wrapper({"LD_BIND_NOW": "1", "GCONV_PATH": "/a b/$HOME;x"}, environ)
    assert prefix[0] == SHELL and "/a b" not in " ".join(prefix)  # values never on a command line
    done = subprocess.run(
        [*prefix, "/bin/sh", "-c", 'printf "%s|%s|%s" "$LD_BIND_NOW" "$GCONV_PATH" "$(env)"'],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    bind, gconv, rest = done.stdout.split("|", 2)
    assert (bind, gconv) == ("1", "/a b/$HOME;x") and HELD not in rest


def test_no_variable_no_wrapper() -> None:
    environ: dict[str, str] = {}
    assert wrapper({}, environ) == [] and environ == {}


@given(
    st.dictionaries(
        st.text(st.characters(codec="ascii", exclude_characters="=\0"), min_size=1, max_size=12),
        st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=12),
        max_size=8,
    )
)
def test_any_environment_round_trips_through_the_launcher(child: dict[str, str]) -> None:
    launcher = held(child)
    assert not any(steersLoader(name) for name in launcher)
    notes: list[str] = []
    loader = restored(launcher, notes)
    kept = {k: v for k, v in child.items() if not k.startswith(HELD)}
    assert {**launcher, **loader} == {
        k: v for k, v in kept.items() if not steersLoader(k) or k in loader
    }
    assert all(steersLoader(name) for name in loader)


def test_an_entrys_home_is_its_childs_never_the_sandboxs() -> None:
    environ = {"HOME": "/nonexistent"}
    assert homeOf(environ, (("HOME", "/nonexistent"),)) == os.path.expanduser("~")
    assert homeOf({"HOME": "/home/alice"}, (("TOKEN", "x"),)) == "/home/alice"
