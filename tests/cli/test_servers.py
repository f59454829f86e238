"""C{mcpgateway servers ...}: the management API calls, their output, the
token, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli import main
from tests.cli.support import Cli, FakeGateway, api, lastCall, outputLines

# -- servers and logs: the management API ---------------------------------------------

SERVERS: list[dict[str, Any]] = [
    {
        "name": "demo",
        "origin": "config",
        "mode": "stateless",
        "share": "workspace",
        "state": "running",
        "children": 1,
        "pids": [11],
        "requests": 5,
        "inFlight": 0,
        "restarts": 0,
        "failures": 0,
        "circuit": "closed",
        "sessions": 2,
    },
    {
        "name": "extra",
        "origin": "api",
        "mode": "stateful",
        "state": "error",
        "children": 0,
        "pids": [],
        "requests": 0,
        "inFlight": 0,
        "restarts": 3,
        "failures": 5,
        "circuit": "open",
        "sessions": 0,
        "error": "server 'extra' is failing: 5 failure(s)",
    },
]
SUMMARY = {"name": "demo2", "origin": "api", "mode": "stateless", "state": "stopped", "children": 0}


def test_servers_list_prints_a_table(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers", 200, {"servers": SERVERS})
    # Its share; from a gateway that sends only the older "mode" ("extra"), the share it means.
    assert outputLines(cli, "servers", "list") == [
        "NAME   STATE    SHARE      CHILDREN  SESSIONS  REQUESTS  RESTARTS  FROM",
        "demo   running  workspace  1         2         5         0         config",
        "extra  error    session    0         0         0         3         api",
        "  ! extra: server 'extra' is failing: 5 failure(s)",
    ]
    method, path, headers, body = lastCall(running)
    assert (method, path, body) == ("GET", "/api/v1/servers", None)
    assert "authorization" not in headers


def test_servers_list_json_and_no_servers(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/servers", 200, {"servers": SERVERS})
    code, out, _ = cli("servers", "list", "--json")
    assert code == 0 and json.loads(out) == {"servers": SERVERS}
    api(running, "GET", "/servers", 200, {"servers": []})
    code, out, _ = cli("servers", "list")
    assert code == 0 and "no servers" in out


def test_the_token_is_sent_from_the_environment(
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "tok-123")
    api(running, "GET", "/servers", 200, {"servers": []})
    assert cli("servers", "list")[0] == 0
    assert lastCall(running)[2]["authorization"] == "Bearer tok-123"


def test_a_refused_token_is_one_line(
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    refusal = {"error": "this gateway's management API needs Authorization: Bearer <token>"}
    api(running, "GET", "/servers", 401, refusal)
    code, out, err = cli("servers", "list")
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: {refusal['error']}; MCPGATEWAY_API_TOKEN is not set\n"
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "wrong")
    code, out, err = cli("servers", "list")
    assert err == f"mcpgateway: {refusal['error']}\n"
    assert "wrong" not in err
    code, out, err = cli("servers", "list", "--json")
    assert json.loads(out) == {"ok": False, "error": refusal["error"]}


def test_servers_commands_need_a_running_gateway(cli: Cli) -> None:
    for args in (
        ["servers", "list"],
        ["servers", "remove", "x"],
        ["servers", "restart", "x"],
    ):  # `logs` says more: tests.cli.test_logs
        code, _out, err = cli(*args)
        assert code == 1
        assert err == "mcpgateway: the gateway is not running; `mcpgateway start` starts it\n"


def test_an_older_gateway_without_the_api_is_named(running: FakeGateway, cli: Cli) -> None:
    code, _, err = cli("servers", "list")
    assert code == 1
    assert "this gateway has no management API (/api/v1); restart it" in err


def test_servers_add_posts_the_command_and_its_options(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FROM_SHELL", "shell-value")
    monkeypatch.chdir(tmp_path)
    api(running, "POST", "/servers", 201, {**SUMMARY, "mode": "stateful", "share": "session"})
    code = main(
        [
            "servers",
            "add",
            "--state-dir",
            str(stateDir),
            "demo2",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--env",
            "FROM_SHELL",
            "--share",
            "session",
            "--cwd",
            "work",
            "--",
            "./bin/server",
            "-m",
            "mod",
            "--verbose",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"added demo2 (share: session): http://127.0.0.1:{running.port}/demo2/mcp\n"
    method, path, headers, body = lastCall(running)
    assert (method, path) == ("POST", "/api/v1/servers")
    assert headers["content-type"] == "application/json"
    assert body == {
        "name": "demo2",
        "command": str(tmp_path / "bin" / "server"),
        "args": ["-m", "mod", "--verbose"],
        "env": {"A": "1", "B": "x=y", "FROM_SHELL": "shell-value"},
        "share": "session",
        "cwd": str(tmp_path / "work"),
    }


def test_servers_add_minimal_and_json(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(running, "POST", "/servers", 201, SUMMARY)
    code = main(["--json", "--state-dir", str(stateDir), "servers", "add", "demo2", "python3"])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "server": SUMMARY,
        "url": f"http://127.0.0.1:{running.port}/demo2/mcp",
    }
    assert lastCall(running)[3] == {"name": "demo2", "command": "python3", "args": []}


@pytest.mark.parametrize("share", ["global", "workspace", "credential", "session"])
def test_servers_add_share_takes_every_scope_word(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, share: str
) -> None:
    api(running, "POST", "/servers", 201, {**SUMMARY, "share": share})
    credential = ["--credential-env", "TOKEN"] if share == "credential" else []
    argv = ["servers", "add", "--state-dir", str(stateDir), "--share", share, *credential]
    code = main([*argv, "s", "--", "cmd"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"added s (share: {share}): http://127.0.0.1:{running.port}/s/mcp\n"
    assert lastCall(running)[3]["share"] == share


def test_servers_add_credential_env_is_carried_to_the_api(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    """--credential-env NAME (repeatable, each once)
    reaches the API as the entry's credentialEnv."""
    api(running, "POST", "/servers", 201, {**SUMMARY, "share": "credential"})
    code = main(
        [
            "servers",
            "add",
            "--state-dir",
            str(stateDir),
            "--share",
            "credential",
            "--credential-env",
            "GITHUB_TOKEN",
            "--credential-env",
            "GH_HOST",
            "--credential-env",
            "GITHUB_TOKEN",
            "gh",
            "--",
            "github-mcp",
        ]
    )
    assert (code, capsys.readouterr().err) == (0, "")
    assert lastCall(running)[3] == {
        "name": "gh",
        "command": "github-mcp",
        "args": [],
        "credentialEnv": ["GITHUB_TOKEN", "GH_HOST"],
        "share": "credential",
    }


def test_servers_add_refuses_share_credential_without_credential_env(
    running: FakeGateway, cli: Cli
) -> None:
    """Nothing is sent: a credential server no client can give credentials
    to would be one shared child under another name."""
    api(running, "POST", "/servers", 201, SUMMARY)
    code, out, err = cli("servers", "add", "--share", "credential", "gh", "--", "x")
    assert (code, out) == (2, "")
    assert err == (
        "mcpgateway: --share credential needs --credential-env NAME (repeatable): the"
        " variables a client sends as X-Mcp-Env-NAME headers, one child per set of their"
        " values (docs/guide/scopes.md)\n"
    )
    assert running.calls == []


@pytest.mark.parametrize(
    ("scope", "shown"),
    [
        (["--share", "global"], "--share global"),
        (["--share", "workspace"], "--share workspace"),
        (["--mode", "stateless"], "--mode stateless"),
    ],
)
def test_servers_add_refuses_a_wider_share_with_credential_env(
    running: FakeGateway,
    scope: list[str],
    shown: str,
    cli: Cli,
) -> None:
    """A server with credential variables has a child per
    set of their values whatever it is called; calling it global (or
    workspace) is refused, exit 2, and nothing is sent."""
    api(running, "POST", "/servers", 201, SUMMARY)
    code, out, err = cli("servers", "add", *scope, "--credential-env", "X", "g", "--", "x")
    assert (code, out) == (2, "")
    assert err == (
        f"mcpgateway: {shown} with --credential-env: a server with credential variables"
        " gets a child per set of their values, which is --share credential (the default"
        " with --credential-env); drop one of the two (docs/guide/scopes.md)\n"
    )
    assert running.calls == []


@pytest.mark.parametrize("scope", [[], ["--share", "session"], ["--mode", "stateful"]])
def test_servers_add_sends_credential_env_without_a_share_or_with_session(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, scope: list[str]
) -> None:
    api(running, "POST", "/servers", 201, {**SUMMARY, "share": "credential"})
    code = main(
        ["servers", "add", "--state-dir", str(stateDir), *scope, "--credential-env", "X", "g", "x"]
    )
    assert (code, capsys.readouterr().err) == (0, "")
    assert lastCall(running)[3]["credentialEnv"] == ["X"]


@pytest.mark.parametrize("name", ["1TOKEN", "A-B", "", "X=1"])
def test_servers_add_refuses_a_credential_env_that_is_no_variable_name(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, name: str
) -> None:
    argv = ["servers", "add", "--state-dir", str(stateDir), f"--credential-env={name}", "s", "x"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"mcpgateway: --credential-env {name!r}: not an environment variable")
    assert running.calls == []


def test_servers_add_shows_the_apis_refusal_of_a_credential_env(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    """A name of the right shape the gateway refuses (its own variables,
    LD_PRELOAD): the gateway's message, exit 1."""
    message = "'credentialEnv' may not list LD_PRELOAD: a client must not set ..."
    api(running, "POST", "/servers", 400, {"error": message})
    argv = ["servers", "add", "--state-dir", str(stateDir), "--credential-env", "LD_PRELOAD"]
    code = main([*argv, "s", "x"])
    assert (code, capsys.readouterr().err) == (1, f"mcpgateway: {message}\n")
    assert lastCall(running)[3]["credentialEnv"] == ["LD_PRELOAD"]


@pytest.mark.parametrize(("mode", "share"), [("stateless", "global"), ("stateful", "session")])
def test_servers_add_mode_is_the_older_spelling_of_share(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway, mode: str, share: str
) -> None:
    """C{--mode stateless|stateful} (the older words) still works, as the
    share it means; an older gateway's summary without C{share} too."""
    api(running, "POST", "/servers", 201, {**SUMMARY, "mode": mode})
    code = main(["servers", "add", "--state-dir", str(stateDir), "--mode", mode, "s", "--", "cmd"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"added s (share: {share}): http://127.0.0.1:{running.port}/s/mcp\n"
    sent = lastCall(running)[3]
    assert (sent["mode"], "share" in sent) == (mode, False)  # what every gateway takes


def test_servers_add_refuses_share_and_mode_together_and_unknown_words(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    base = ["servers", "add", "--state-dir", str(stateDir)]
    assert main([*base, "--share", "global", "--mode", "stateful", "s", "--", "cmd"]) == 2
    err = capsys.readouterr().err
    assert "argument --mode: not allowed with argument --share" in err
    assert main([*base, "--share", "stateful", "s", "--", "cmd"]) == 2
    assert "argument --share: invalid choice: 'stateful'" in capsys.readouterr().err
    assert running.calls == []


def test_servers_add_help_speaks_of_share(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["servers", "add", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: mcpgateway servers add [--env KEY=VALUE]... [--share SHARE]")
    assert "--share {global,workspace,credential,session}" in text
    assert "stateless is --share global, stateful is --share session" in text


def test_servers_add_refusals_are_one_line(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    api(running, "POST", "/servers", 400, {"error": "env: key(s) not allowed: LD_PRELOAD"})
    base = ["servers", "add", "--state-dir", str(stateDir)]
    assert main([*base, "x", "--env", "LD_PRELOAD=/x.so", "--", "cmd"]) == 1
    assert capsys.readouterr().err == "mcpgateway: env: key(s) not allowed: LD_PRELOAD\n"
    calls = len(running.calls)
    assert main([*base, "x", "--env", "=v", "--", "cmd"]) == 1
    assert "--env '=v': must be KEY=VALUE" in capsys.readouterr().err
    assert main([*base, "x", "--env", "NOT_SET_HERE", "--", "cmd"]) == 1
    assert "NOT_SET_HERE is not set in this shell" in capsys.readouterr().err
    assert len(running.calls) == calls  # refused before asking the gateway
    assert main([*base, "x"]) == 2  # no command
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "method", "path", "body", "answer", "printed"),
    [
        (
            ["remove", "demo2"],
            "DELETE",
            "/servers/demo2",
            None,
            {"removed": "demo2"},
            "removed demo2",
        ),
        (
            ["enable", "demo2"],
            "PATCH",
            "/servers/demo2",
            {"enabled": True},
            {**SUMMARY, "state": "stopped"},
            "enabled demo2 (state: stopped)",
        ),
        (
            ["disable", "demo2"],
            "PATCH",
            "/servers/demo2",
            {"enabled": False},
            {**SUMMARY, "state": "disabled"},
            "disabled demo2: its children are stopped and its"
            " requests refused until `mcpgateway servers enable`",
        ),
        (
            ["restart", "demo2"],
            "POST",
            "/servers/demo2/restart",
            None,
            {"restarted": "demo2", "stopped": [41, 42]},
            "restarted demo2: stopped pid 41, 42; the next request (a client's start-up included)"
            " starts a fresh child",
        ),
        (
            ["restart", "demo2"],
            "POST",
            "/servers/demo2/restart",
            None,
            {"restarted": "demo2", "stopped": []},
            "restarted demo2 (no child was running)",
        ),
        (
            ["reset-circuit", "demo2"],
            "POST",
            "/servers/demo2/reset-circuit",
            None,
            {**SUMMARY, "state": "stopped", "circuit": "closed"},
            "reset the circuit of demo2 (state: stopped)",
        ),
    ],
)
def test_server_changes(
    running: FakeGateway,
    args: list[str],
    method: str,
    path: str,
    body: Any,
    answer: Any,
    printed: str,
    cli: Cli,
) -> None:
    api(running, method, path, 200, answer)
    code, out, err = cli("servers", *args)
    assert (code, out, err) == (0, printed + "\n", "")
    assert lastCall(running)[:2] == (method, "/api/v1" + path)
    assert lastCall(running)[3] == body
    code, out, _ = cli("servers", *args, "--json")
    assert json.loads(out) == {"ok": True, **answer}


@pytest.mark.parametrize(
    "args",
    [
        ["remove", "nope"],
        ["enable", "nope"],
        ["disable", "nope"],
        ["restart", "nope"],
        ["reset-circuit", "nope"],
    ],
)
def test_server_changes_of_unknown_servers(running: FakeGateway, args: list[str], cli: Cli) -> None:
    for method in ("DELETE", "PATCH", "POST"):
        for suffix in ("", "/restart", "/reset-circuit"):
            api(running, method, "/servers/nope" + suffix, 404, {"error": "no server named 'nope'"})
    code, out, err = cli("servers", *args)
    assert (code, out, err) == (1, "", "mcpgateway: no server named 'nope'\n")


def test_remove_of_a_main_config_server_says_why(running: FakeGateway, cli: Cli) -> None:
    message = "server 'demo' comes from /home/u/.claude.json; remove it there, or disable it here"
    api(running, "DELETE", "/servers/demo", 409, {"error": message})
    assert cli("servers", "remove", "demo")[2] == f"mcpgateway: {message}\n"


def test_servers_add_with_a_url_adds_a_remote_server_with_its_headers(
    running: FakeGateway, cli: Cli
) -> None:
    api(running, "POST", "/servers", 201, {**SUMMARY, "share": "session"})
    code, out, err = cli(
        "servers",
        "add",
        "--transport",
        "sse",
        "--header",
        "Authorization: Bearer abc",
        "--header",
        "X-Team:  core ",
        "linear",
        "https://mcp.example.com/sse",
    )
    assert (code, err) == (0, "")
    assert out == (
        f"added linear (remote, share: session): http://127.0.0.1:{running.port}/linear/mcp"
        " -> https://mcp.example.com/sse\n"
    )
    assert lastCall(running)[3] == {
        "name": "linear",
        "type": "sse",
        "url": "https://mcp.example.com/sse",
        "headers": {"Authorization": "Bearer abc", "X-Team": "core"},
    }


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (["--env", "A=1"], "--env is for a stdio server"),
        (["--share", "workspace"], "shared --share global or --share session"),
        (["--header", "no colon"], "must be 'Name: value'"),
    ],
)
def test_servers_add_refuses_what_a_remote_server_cannot_have(
    running: FakeGateway,
    options: list[str],
    why: str,
    cli: Cli,
) -> None:
    code, _, err = cli("servers", "add", *options, "far", "http://x/mcp")
    assert code == 2
    assert why in err


def test_servers_add_refuses_remote_options_for_a_command(running: FakeGateway, cli: Cli) -> None:
    code, _, err = cli("servers", "add", "--transport", "sse", "x", "--", "cmd")
    assert code == 2
    assert "give its URL" in err


def test_servers_add_and_remove_for_one_workspace(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    running: FakeGateway,
    tmp_path: Path,
    cli: Cli,
) -> None:
    """C{--workspace DIR} (absolute) goes in the body of the add and in the
    query of the remove."""
    project = tmp_path / "project"
    api(running, "POST", "/servers", 201, SUMMARY)
    argv = ["--state-dir", str(stateDir), "servers", "add", "--workspace", str(project)]
    assert main([*argv, "demo2", "python3"]) == 0
    assert lastCall(running)[3]["workspace"] == str(project)
    capsys.readouterr()
    removal = {"removed": "demo2", "workspace": str(project)}
    query = f"/servers/demo2?workspace={str(project).replace('/', '%2F')}"
    api(running, "DELETE", query, 200, removal)
    code, out, err = cli("servers", "remove", "demo2", "--workspace", str(project))
    assert (code, out, err) == (0, f"removed demo2 for workspace {project}\n", "")
    assert lastCall(running)[:2] == ("DELETE", "/api/v1" + query)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("htps://mcp.example.com/mcp", "is not a URL the gateway reaches"),
        ("http:/mcp.example.com/mcp", "is not a URL the gateway reaches"),
        ("ws://mcp.example.com/mcp", "is not a URL the gateway reaches"),
        ("wss://mcp.example.com/mcp", "is not a URL the gateway reaches"),
        ("https//mcp.example.com/mcp", "is not a URL the gateway reaches"),
        ("http:mcp.example.com", "is not a URL the gateway reaches"),
        ("hxxps://mcp.example.com", "is not a URL the gateway reaches"),
        ("file:///usr/bin/server", "is not a URL the gateway reaches"),
        ("https:///mcp", "is not a URL: it names no host"),
        ("https://[::1/mcp", "is not a URL: it names no host"),
    ],
)
def test_servers_add_with_a_mistyped_url_says_it_is_not_one(
    running: FakeGateway, typed: str, why: str, cli: Cli
) -> None:
    calls = len(running.calls)
    code, out, err = cli("servers", "add", "far", typed)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and f"{typed!r} {why}" in err
    if "reaches" in why:
        assert "starts with http:// or https://" in err
    assert len(running.calls) == calls  # neither a command nor a remote was sent


def test_servers_add_with_a_url_and_arguments_is_refused(running: FakeGateway, cli: Cli) -> None:
    code, _, err = cli("servers", "add", "far", "https://x.example/mcp", "sse")
    assert code == 2
    assert "a remote server's URL takes no arguments (https://x.example/mcp sse)" in err


def test_a_command_with_a_drive_or_a_colon_is_still_a_command(
    capsys: pytest.CaptureFixture[str], stateDir: Path, running: FakeGateway
) -> None:
    api(running, "POST", "/servers", 201, SUMMARY)
    assert main(["--state-dir", str(stateDir), "servers", "add", "s", "--", "C:/x", "a:b"]) == 0
    assert lastCall(running)[3]["command"].endswith("/C:/x")
    assert lastCall(running)[3]["args"] == ["a:b"]
