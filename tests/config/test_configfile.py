"""Each served spec knows the file its entry is written in
(L{mcpgateway.core.spec.ServerSpec.configFile}): what C{doctor} and the
console name."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcpgateway.config.servers import loadConfig, parseConfig
from mcpgateway.config.serversfile import ServersFile

ENTRY = {"command": sys.executable}


def test_a_files_entries_carry_it_and_the_demo_none(tmp_path: Path) -> None:
    loaded = parseConfig({"mcpServers": {"a": ENTRY}}, "/home/u/.claude.json", {}, "user")
    assert loaded.servers["a"].configFile == "/home/u/.claude.json"
    assert all(spec.configFile is None for spec in loadConfig(None).servers.values())


def test_the_gateways_own_entries_carry_its_servers_file(tmp_path: Path) -> None:
    servers = ServersFile(tmp_path)
    servers.path.write_text(json.dumps({"mcpServers": {"own": ENTRY}}))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {"main": ENTRY}}))
    merged = servers.merge(loadConfig(config))
    assert merged.servers["own"].configFile == str(servers.path)
    assert merged.servers["main"].configFile == str(config)


def test_the_file_is_not_part_of_what_a_server_is() -> None:
    one = parseConfig({"mcpServers": {"a": ENTRY}}, "/one.json", {}).servers["a"]
    other = parseConfig({"mcpServers": {"a": ENTRY}}, "/other.json", {}).servers["a"]
    assert one == other and one.configFile != other.configFile
