"""What must fail before daemonizing fails in one line, and lets go of the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway import tap
from mcpgateway.ops.statedir import InstanceLock
from mcpgateway.preflight import PreflightError, preflight


def options(tmp_path: Path, *extra: str) -> tap.Options:
    parsed = tap.Options()
    parsed.parseOptions(["--state-dir", str(tmp_path / "st"), *extra])
    return parsed


def test_a_second_gateway_on_the_same_state_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    first = preflight(options(tmp_path), "127.0.0.1")
    try:
        with pytest.raises(PreflightError, match="another gateway is running"):
            preflight(options(tmp_path), "127.0.0.1")
    finally:
        first.lock.release()
    assert (tmp_path / "st").stat().st_mode & 0o777 == 0o700


def test_a_broken_config_is_one_line_and_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    broken = tmp_path / "servers.json"
    broken.write_text('{"mcpServers": {')
    with pytest.raises(PreflightError) as refused:
        preflight(options(tmp_path, "--config", str(broken)), "127.0.0.1")
    assert "\n" not in str(refused.value) and str(broken) in str(refused.value)
    lock = InstanceLock(tmp_path / "st")
    lock.acquire()  # not left held
    lock.release()


def test_rewrite_without_a_client_config_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PreflightError, match="pass --config PATH"):
        preflight(options(tmp_path, "--rewrite-config"), "127.0.0.1")


def test_what_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "true"}}}))
    found = preflight(
        options(tmp_path, "--config", str(config), "--log-file", str(tmp_path / "g.log")),
        "127.0.0.1",
    )
    try:
        assert found.configPath == config and list(found.loaded.servers) == ["a"]
        assert found.orphans == [] and found.logFile is not None
        assert not (tmp_path / "g.log").exists()  # opened only in startService
    finally:
        found.lock.release()
