"""C{--remote {keep,adopt}}: parsed and checked by the gateway's options,
read from C{servers.json} when not given (the command line wins), and
handed to the adoption (the Claude config's and the other clients')."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.startup.preflight import listeningPort, preflight
from tests.support.startup.options import parseIn, refusal


def test_keep_is_the_default(tmp_path: Path) -> None:
    assert parseIn(tmp_path)["remote"] == "keep"
    assert parseIn(tmp_path, "--rewrite-config")["remote"] == "keep"


def test_the_command_line_wins_over_the_file(tmp_path: Path) -> None:
    """C{"remote"} in C{servers.json} is the setting when C{--remote} is not
    given; C{--remote} overrides it either way."""
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "servers.json").write_text(json.dumps({"remote": "adopt"}))
    assert parseIn(tmp_path, "--rewrite-config")["remote"] == "adopt"
    assert parseIn(tmp_path, "--rewrite-config", "--remote", "keep")["remote"] == "keep"
    (tmp_path / "st" / "servers.json").write_text(json.dumps({"remote": "keep"}))
    assert parseIn(tmp_path, "--rewrite-config", "--remote", "adopt")["remote"] == "adopt"


@pytest.mark.parametrize(
    "extra,message",
    [
        (("--rewrite-config", "--remote", "always"), "--remote 'always': use keep or adopt"),
        (("--remote", "adopt"), "--remote adopt needs --rewrite-config"),
    ],
)
def test_bad_values_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    assert message in refusal(tmp_path, capsys, *extra)


def test_a_bad_value_in_the_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "servers.json").write_text(json.dumps({"remote": True}))
    with pytest.raises(SystemExit):
        parseIn(tmp_path, "--rewrite-config")
    assert 'servers.json: "remote" must be "keep" or "adopt", not true' in capsys.readouterr().err


def test_adopting_serves_the_remote_entries_of_claude_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With C{--remote adopt}, the user-scope remote entry of the Claude
    config is among the servers the preflight loads; with C{keep} it is not."""
    monkeypatch.setenv("HOME", str(tmp_path))
    claude = tmp_path / ".claude.json"
    remote = {"type": "http", "url": "http://127.0.0.1:3999/mcp"}
    claude.write_text(json.dumps({"mcpServers": {"r": remote}}))
    for setting, served in (("keep", []), ("adopt", ["r"])):
        options = parseIn(tmp_path, "--rewrite-config", "--clients", "none", "--remote", setting)
        found = preflight(options, "127.0.0.1")
        try:
            assert sorted(found.loaded.servers) == served
        finally:
            found.lock.release()


def test_listening_port() -> None:
    assert listeningPort({"endpoint": "tcp:9100:interface=127.0.0.1"}) == 9100
    assert listeningPort({"endpoint": "tcp:port=9200"}) == 9200
    assert listeningPort({"endpoint": "tcp:0:interface=127.0.0.1"}) is None
    assert listeningPort({"endpoint": "unix:/run/gw.sock"}) is None
