"""Launch keys a user adds next to the gateway's URL in a client's file:
found on every pass, refused with the fix, the entry still adopted."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.ignoredkeys import (
    LAUNCH_KEYS,
    addedLaunchKeys,
    fixFor,
    ignoredKeys,
    ignoredLine,
)
from mcpgateway.config.workspaces import WorkspaceKeys
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write
from tests.support.json_values import jsonValues

WRITTEN = {"url": "http://127.0.0.1:9100/fs/mcp"}
OTHER_KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in LAUNCH_KEYS)


@settings(deadline=None)  # a loaded machine: the values are large, not slow
@given(
    st.dictionaries(st.sampled_from(sorted(LAUNCH_KEYS)), jsonValues(), min_size=1),
    st.dictionaries(OTHER_KEYS, jsonValues()),
)
def test_added_launch_keys_are_found_and_no_other(
    launch: dict[str, Any], other: dict[str, Any]
) -> None:
    entry = {**WRITTEN, **other, **launch}
    assert addedLaunchKeys(entry, WRITTEN) == tuple(sorted(launch))
    assert addedLaunchKeys({**WRITTEN, **other}, WRITTEN) == ()


@settings(deadline=None)  # a loaded machine: the values are large, not slow
@given(st.sampled_from(sorted(LAUNCH_KEYS)), jsonValues())
def test_a_key_the_gateway_wrote_itself_is_not_an_addition(key: str, value: Any) -> None:
    written = {**WRITTEN, key: value}
    assert addedLaunchKeys(dict(written), written) == ()


def test_the_fix_names_servers_edit_or_the_whole_entry() -> None:
    assert fixFor("fs", ("env",)) == (
        "mcpgateway servers edit fs --set env=JSON, then take env out of the gateway's entry"
    )
    assert "replace the gateway's entry with the whole stdio entry" in fixFor("fs", ("sandbox",))
    line = ignoredLine(ignoredKeys("fs", "/h/.cursor/mcp.json", ("env", "sandbox")))
    assert line.startswith("/h/.cursor/mcp.json: env, sandbox of 'fs' next to the gateway's URL")
    assert "mcpgateway servers edit fs --set env=JSON" in line


def test_the_engine_refuses_keys_added_to_its_entry_and_keeps_it_adopted(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    servers = {"fs": {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"]}}
    path = write(host.home / ".cursor/mcp.json", json.dumps({"mcpServers": servers}))
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    assert not gateway.ignored
    data = json.loads(path.read_text())
    data["mcpServers"]["fs"] |= {"env": {"DEBUG": "1"}, "disabled": False}
    path.write_text(json.dumps(data))
    report = gateway.sync(urlFor)
    assert report.files[0].removed == []  # still the gateway's
    [problem] = gateway.ignored
    assert (problem.server, problem.file, problem.keys) == ("fs", str(path), ("env",))
    assert "mcpgateway servers edit fs --set env=JSON" in problem.fix
    gateway.sync(urlFor)  # found on every pass, not once
    assert len(gateway.ignored) == 1
    data["mcpServers"]["fs"].pop("env")
    path.write_text(json.dumps(data))
    gateway.sync(urlFor)
    assert len(gateway.ignored) == 0


def test_claude_codes_file_gets_the_same_refusal_and_names_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".claude.json"
    config.write_text(json.dumps({"mcpServers": {"mem": {"command": sys.executable}}}))
    source = AdoptedClaudeConfig(
        config, tmp_path / "state", "127.0.0.1", {"PATH": ""}, keys=WorkspaceKeys(bytes(32))
    )
    source.load()
    source.listening(9100)
    data = json.loads(config.read_text())
    data["mcpServers"]["mem"]["sandbox"] = {"network": True}
    config.write_text(json.dumps(data))
    loaded = source.load()
    assert loaded.servers["mem"].configFile == str(config)
    [problem] = source.ignoredKeys
    assert (problem.server, problem.keys) == ("mem", ("sandbox",))
    assert ignoredLine(problem) in loaded.warnings
    assert "replace the gateway's entry with the whole stdio entry" in problem.fix
    source.stopping()
