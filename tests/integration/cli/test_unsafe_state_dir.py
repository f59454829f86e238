"""A state directory other users can write in, a workspace key others may
read or that is another user's, and a cluster key that is another user's,
are refused at start, in one line, by C{mcpgateway start} and by the
gateway run by hand (C{twistd -n}, C{twist})."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, refusedStart, twistCommand, twistdCommand
from tests.support.auth.tokens import addToken

pytestmark = pytest.mark.integration


def test_a_group_writable_state_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / "state"
    state.mkdir(parents=True)
    state.chmod(0o770)
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("MCPGATEWAY_HOME", None)
    started = refusedStart(
        [sys.executable, "-m", "mcpgateway.cli", "start", "--state-dir", str(state)],
        home,
        env,
        code=None,
    )
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and f"chmod 700 {state}" in lines[0], started.stderr
    byHand = refusedStart(
        [*twistdCommand(), "--port", "tcp:0:interface=127.0.0.1", "--state-dir", str(state)],
        home,
        env,
        code=None,
    )
    assert f"chmod 700 {state}" in byHand.stderr + byHand.stdout


LAUNCHERS = {
    "mcpgateway start": [sys.executable, "-m", "mcpgateway.cli", "start"],
    "twistd -n": twistdCommand(),
    "twist": twistCommand(),
}


def refusal(argv: list[str], home: Path) -> list[str]:
    """The lines a refused start wrote (stdout and stderr); it must exit non-zero."""
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("MCPGATEWAY_HOME", None)
    done = refusedStart(argv, home, env, code=None)
    return (done.stdout + done.stderr).strip().splitlines()


def serving(launcher: str, state: Path) -> list[str]:
    argv = [*LAUNCHERS[launcher], "--state-dir", str(state)]
    if launcher != "mcpgateway start":
        argv += ["--port", "tcp:0:interface=127.0.0.1"]
    return argv


def workspaceKey(tmp_path: Path) -> tuple[Path, Path]:
    """A state directory under C{tmp_path}/home and a workspace key in it:
    both paths."""
    state = tmp_path / "home" / "state"
    state.mkdir(parents=True, mode=0o700)
    key = state / "workspace.key"
    key.write_text(os.urandom(32).hex() + "\n")
    return state, key


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_workspace_key_others_may_read_is_refused_in_one_line(
    tmp_path: Path, launcher: str
) -> None:
    state, key = workspaceKey(tmp_path)
    key.chmod(0o644)
    lines = refusal(serving(launcher, state), tmp_path / "home")
    assert len(lines) == 1 and f"chmod 600 {key}" in lines[0], lines


NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user needs root"
)


@NEEDS_ROOT
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_workspace_key_of_another_user_is_refused_in_one_line(
    tmp_path: Path, launcher: str
) -> None:
    state, key = workspaceKey(tmp_path)
    key.chmod(0o600)
    os.chown(key, 65534, -1)
    lines = refusal(serving(launcher, state), tmp_path / "home")
    assert len(lines) == 1 and "belongs to uid 65534" in lines[0], lines


@NEEDS_ROOT
@pytest.mark.parametrize("launcher", ["twist", "twistd -n"])
def test_a_cluster_key_of_another_user_is_refused_in_one_line(
    tmp_path: Path, launcher: str
) -> None:
    home = tmp_path / "home"
    state = home / "state"
    state.mkdir(parents=True, mode=0o700)
    key = home / "cluster.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    key.chmod(0o600)
    os.chown(key, 65534, -1)
    tokens = home / "tokens.json"
    addToken(tokens, "alice")
    argv = [
        *serving(launcher, state),
        "--auth-tokens",
        str(tokens),
        "--cluster-key-file",
        str(key),
        "--replica-id",
        "r1",
        "--cluster-advertise",
        "http://127.0.0.1:9",
    ]
    lines = refusal(argv, home)
    assert len(lines) == 1 and f"chown 0 {key}" in lines[0], lines
