"""C{mcpgateway token new}: a token printed once, its hash stored 0600;
the CLI's bearer token for a gateway run with authentication."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.auth.tokenfile import parseTokens, tokenHash
from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.output import CliError
from mcpgateway.cli.token import parseExpires
from tests.cli.support import Cli


def test_token_new_prints_the_token_alone_and_stores_its_hash(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    code, out, err = cli("token", "new", "alice", "--file", str(path))
    assert code == 0
    token = out.strip()
    assert re.fullmatch(r"mcpgw_[A-Za-z0-9_-]{43}", token) and out == token + "\n"
    assert "a token for alice: every server" in err and "only time it is shown" in err
    assert token not in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (entry,) = parseTokens(path.read_bytes(), str(path))
    assert entry.sha256 == tokenHash(token) and entry.principal == "alice"
    assert token not in path.read_text()


def test_token_new_with_servers_admin_expiry_as_json(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    cli("token", "new", "alice", "--file", str(path))
    code, out, _ = cli(
        "token",
        "new",
        "ci@team",
        "--servers",
        "github, fs",
        "--admin",
        "--expires",
        "30d",
        "--file",
        str(path),
        "--json",
    )
    assert code == 0
    document = json.loads(out)
    assert document["principal"] == "ci@team" and document["servers"] == ["fs", "github"]
    assert document["admin"] is True
    assert abs(document["expires"] - (time.time() + 30 * 86400)) < 60
    entries = parseTokens(path.read_bytes(), str(path))
    assert [e.principal for e in entries] == ["alice", "ci@team"]
    assert entries[1].sha256 == tokenHash(document["token"])
    assert entries[1].servers == frozenset({"github", "fs"}) and entries[1].admin


def test_token_new_uses_the_environment_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    path = tmp_path / "env-tokens.json"
    monkeypatch.setenv("MCPGATEWAY_AUTH_TOKENS", str(path))
    code, _, _ = cli("token", "new", "bob")
    assert code == 0 and path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say which tokens file: --file FILE (or set MCPGATEWAY_AUTH_TOKENS)"),
        (["--file", "{f}", "--expires", "yesterday"], "--expires 'yesterday': give a duration"),
        (["--file", "{f}", "--expires", "2001-01-01"], "--expires '2001-01-01' is in the past"),
        (["--file", "{f}", "--servers", ","], "--servers: name at least one server"),
    ],
)
def test_token_new_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
    cli: Cli,
) -> None:
    monkeypatch.delenv("MCPGATEWAY_AUTH_TOKENS", raising=False)
    path = tmp_path / "tokens.json"
    words = [a.replace("{f}", str(path)) for a in args]
    code, out, err = cli("token", "new", "alice", *words)
    assert code == 2 and out == ""
    assert err.startswith(f"mcpgateway: {message}")
    assert not path.exists()


def test_token_new_refuses_a_bad_name_and_an_invalid_file(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "tokens.json"
    code, out, err = cli("token", "new", "a b", "--file", str(path))
    assert code == 1 and out == "" and "cannot name a principal" in err
    path.write_text('{"version": 1, "tokens": [{"principal": "x"}]}')
    code, out, err = cli("token", "new", "alice", "--file", str(path))
    assert code == 1 and out == ""
    assert err == f"mcpgateway: {path}: tokens[0].sha256: must be 64 lowercase hex characters\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", 1000 + 5400),
        ("12h", 1000 + 43200),
        ("2w", 1000 + 2 * 604800),
        ("2027-01-01", 1798761600),
        ("2027-01-01T00:00:00Z", 1798761600),
        ("2027-01-01T01:00:00+01:00", 1798761600),
        ("1798761600", 1798761600),
    ],
)
def test_parse_expires(text: str, expected: float) -> None:
    assert parseExpires(text, 1000) == expected


def test_parse_expires_refuses_nonsense() -> None:
    with pytest.raises(CliError):
        parseExpires("soon", 0)


# -- the client's bearer token ---------------------------------------------------------


class RecordingOpener:
    def __init__(self) -> None:
        self.headers: list[dict[str, Any]] = []

    def open(self, request: Any, *, timeout: float) -> Any:
        self.headers.append({k.lower(): v for k, v in request.header_items()})
        raise OSError("no gateway here")


@pytest.mark.parametrize(
    ("environ", "health", "api"),
    [
        ({}, None, None),
        ({"MCPGATEWAY_TOKEN": "mcpgw_t"}, "Bearer mcpgw_t", "Bearer mcpgw_t"),
        ({"MCPGATEWAY_API_TOKEN": "api"}, "Bearer api", "Bearer api"),
        (
            {"MCPGATEWAY_TOKEN": "mcpgw_t", "MCPGATEWAY_API_TOKEN": "api"},
            "Bearer mcpgw_t",
            "Bearer api",
        ),
    ],
)
def test_the_cli_sends_mcpgateway_token(
    environ: dict[str, str], health: str | None, api: str | None
) -> None:
    opener = RecordingOpener()
    client = GatewayClient(opener, environ=environ)
    with pytest.raises(CliError):
        client.getJson("http://127.0.0.1:9/health", 1)
    assert opener.headers[0].get("authorization") == health
    assert client.headers().get("Authorization") == api
