"""The readers the C{mcpgateway} command looks at a state directory with,
from outside: whether the gateway's lock is held, C{state.json} with the
reason it is unusable, and whether a pid is a gateway (a fake C{/proc})."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.ops.statedir import (
    STATE_FILE,
    InstanceLock,
    isGatewayProcess,
    lockHeld,
    readState,
    readStateOrError,
)


def test_lock_held_follows_the_instance_lock(tmp_path: Path) -> None:
    assert not lockHeld(tmp_path)
    assert not (tmp_path / "gateway.lock").exists()  # probing never creates it
    lock = InstanceLock(tmp_path)
    lock.acquire()
    try:
        assert lockHeld(tmp_path)
        assert lockHeld(tmp_path)  # the probe released its own shared lock
    finally:
        lock.release()
    assert (tmp_path / "gateway.lock").exists()
    assert not lockHeld(tmp_path)  # a lock file nobody holds: a gateway that is gone


def test_read_state_or_error(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    assert readStateOrError(tmp_path) == (None, None)
    path.write_text(json.dumps({"pid": 7, "port": 9100}))
    assert readStateOrError(tmp_path) == ({"pid": 7, "port": 9100}, None)
    path.write_text("{not json")
    state, error = readStateOrError(tmp_path)
    assert state is None and error is not None
    assert error.startswith(f"{path}: Expecting property name")
    path.write_text("[1]")
    assert readStateOrError(tmp_path) == (None, f"{path}: not a JSON object")
    path.unlink()
    path.mkdir()
    state, error = readStateOrError(tmp_path)
    assert state is None and error is not None and error.startswith(f"{path}: ")


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(max_size=40)
    | st.text(max_size=40).map(str.encode)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=3).map(
        lambda d: json.dumps(d).encode()
    )
)
def test_read_state_or_error_agrees_with_read_state(content: bytes) -> None:
    """Whatever the file holds: the state L{readState} reads, or a reason."""
    with tempfile.TemporaryDirectory() as directory:
        stateDir = Path(directory)
        (stateDir / STATE_FILE).write_bytes(content)
        state, error = readStateOrError(stateDir)
        assert (state is None) != (error is None)
        assert state == readState(stateDir)


def test_is_gateway_process_reads_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "41").mkdir()
    (tmp_path / "41" / "cmdline").write_bytes(b"python\0-m\0twisted\0mcpgateway\0")
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cmdline").write_bytes(b"node\0server.js\0")
    assert isGatewayProcess(41, str(tmp_path))
    assert not isGatewayProcess(42, str(tmp_path))
    assert not isGatewayProcess(43, str(tmp_path))  # gone
    assert isinstance(isGatewayProcess(os.getpid()), bool)  # the real /proc
