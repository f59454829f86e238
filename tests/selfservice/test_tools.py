"""The tools of the C{gateway} server: every change is asked first, shows
what runs (command line, environment names, URL; never a value), and is
made through the API only on an explicit yes; a decline, a cancel or an
unchecked box changes nothing; a client that cannot be asked gets the
C{mcpgateway} command to run instead."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.selfservice.gatewayapi import GatewayApi
from mcpgateway.selfservice.tools import ElicitationAnswer, SelfServiceTools, notConfirmed
from tests.selfservice.support import (
    CANNOT,
    NO,
    TOKEN,
    URL,
    YES,
    FakeGateway,
    Person,
    registryClient,
    server,
    textOf,
    toolsOver,
)

EVERYTHING = "io.github.modelcontextprotocol/everything"
EVERYTHING_LINE = "npx -y @modelcontextprotocol/server-everything@2026.8.31 stdio"
COMMAND = {
    "name": "notes",
    "command": "python3",
    "args": ["-m", "notes", "--dir", "/tmp/my notes"],
    "env": {"NOTES_TOKEN": "value-never-shown-1234", "NOTES_MODE": "rw"},
}


def add(gateway: FakeGateway, person: Person, **args: Any) -> dict[str, Any]:
    return toolsOver(gateway).call("add_server", args, person)


# -- adding ----------------------------------------------------------------------------


def test_a_registry_server_is_shown_as_its_exact_command_line() -> None:
    gateway, person = FakeGateway(), Person(NO)
    add(gateway, person, server=EVERYTHING)
    [(message, schema)] = person.asked
    assert f"run this command line (3 arguments): {EVERYTHING_LINE}" in message
    assert "'everything'" in message
    assert "Environment variables (names only): none" in message
    assert f"Source: {EVERYTHING} 2026.8.31 from the MCP registry (npm)" in message
    assert schema["properties"]["confirm"]["type"] == "boolean"
    assert schema["required"] == ["confirm"]


def test_a_decline_adds_nothing_and_says_so() -> None:
    gateway, person = FakeGateway(), Person(NO)
    answer = add(gateway, person, server=EVERYTHING)
    assert textOf(answer) == "The person declined: nothing was added."
    assert gateway.changes == []


@pytest.mark.parametrize(
    "answer",
    [
        ElicitationAnswer("cancel"),
        ElicitationAnswer("accept", {"confirm": False}),
        ElicitationAnswer("accept", {}),
        ElicitationAnswer("accept", {"confirm": "true"}),
    ],
)
def test_anything_but_an_explicit_yes_adds_nothing(answer: ElicitationAnswer) -> None:
    gateway = FakeGateway()
    result = add(gateway, Person(answer), **COMMAND)
    assert "nothing was added" in textOf(result)
    assert gateway.changes == []


def test_a_yes_adds_the_registry_entry_through_the_api() -> None:
    gateway = FakeGateway()
    result = add(gateway, Person(YES), server=EVERYTHING)
    assert gateway.changes == [
        (
            "POST",
            "/api/v1/servers",
            {
                "name": "everything",
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31", "stdio"],
            },
        )
    ]
    assert not result["isError"]
    assert "Added 'everything'" in textOf(result)
    assert "everything__<tool>" in textOf(result)
    [(_, _, _, headers)] = [r for r in gateway.requests if r[0] == "POST"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_command_shows_its_environment_names_never_their_values() -> None:
    gateway, person = FakeGateway(), Person(YES)
    add(gateway, person, **COMMAND)
    [(message, _)] = person.asked
    assert "python3 -m notes --dir '/tmp/my notes'" in message
    assert "Environment variables (names only): NOTES_MODE, NOTES_TOKEN" in message
    assert "value-never-shown-1234" not in message and "rw" not in message.split("\n")[2]
    [(_, _, body)] = gateway.changes
    assert body["env"] == COMMAND["env"]


def test_a_url_shows_the_url_and_its_transport() -> None:
    gateway, person = FakeGateway(), Person(YES)
    add(gateway, person, name="remote", url="https://mcp.example.com/mcp", transport="sse")
    [(message, _)] = person.asked
    assert "connect to: https://mcp.example.com/mcp (HTTP+SSE)" in message
    assert gateway.changes == [
        (
            "POST",
            "/api/v1/servers",
            {"name": "remote", "type": "sse", "url": "https://mcp.example.com/mcp"},
        )
    ]


@pytest.mark.parametrize(
    ("args", "cli"),
    [
        ({"server": EVERYTHING}, f"mcpgateway add {EVERYTHING} --as everything"),
        (
            {"server": "io.github.acme/time", "settings": {"local-timezone": "Europe/Paris"}},
            "mcpgateway add io.github.acme/time --as time --set local-timezone=Europe/Paris",
        ),
        (
            COMMAND,
            "mcpgateway servers add --env NOTES_TOKEN --env NOTES_MODE notes --"
            " python3 -m notes --dir '/tmp/my notes'",
        ),
        (
            {"name": "remote", "url": "https://mcp.example.com/mcp", "transport": "sse"},
            "mcpgateway servers add --transport sse remote https://mcp.example.com/mcp",
        ),
    ],
)
def test_without_elicitation_the_tool_names_the_cli_command(args: dict[str, Any], cli: str) -> None:
    gateway = FakeGateway()
    result = add(gateway, Person(CANNOT), **args)
    assert result["isError"]
    text = textOf(result)
    assert "could not be asked to confirm" in text
    assert "does not support elicitation mode 'form'" in text
    assert "Nothing was added" in text
    assert text.endswith(f"\n  {cli}")
    assert gateway.changes == []


def test_a_registry_setting_is_on_the_command_line_shown() -> None:
    gateway, person = FakeGateway(), Person(YES)
    add(gateway, person, server="io.github.acme/time", settings={"local-timezone": "Asia/Tokyo"})
    [(message, _)] = person.asked
    assert "uvx mcp-server-time@0.6.2 --local-timezone=Asia/Tokyo" in message


def test_a_server_that_needs_a_secret_is_left_to_the_cli() -> None:
    gateway, person = FakeGateway(), Person(YES)
    result = add(gateway, person, server="io.github.acme/weather", env={"WEATHER_API_KEY": "k"})
    text = textOf(result)
    assert result["isError"] and person.asked == [] and gateway.changes == []
    assert "needs secret values (weather.WEATHER_API_KEY)" in text
    assert "k" not in text.split("\n")[-1].split()  # the value is on no command line
    assert text.endswith("mcpgateway add io.github.acme/weather --as weather --env WEATHER_API_KEY")
    missing = add(gateway, person, server="io.github.acme/weather")
    assert "needs secret values (WEATHER_API_KEY)" in textOf(missing)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ({**COMMAND, "scope": "workspace"}, "the client gives none (MCP roots)"),
        ({**COMMAND, "scope": "project"}, "scope must be 'global' or 'workspace'"),
        ({**COMMAND, "env": {"NODE_OPTIONS": "--require /tmp/x.js"}}, "NODE_OPTIONS steers"),
        ({**COMMAND, "env": {"PATH": "/tmp/evil"}}, "PATH steers"),
        ({**COMMAND, "env": {"TOKEN": "${MCPGATEWAY_API_TOKEN}"}}, "'${' is not accepted"),
        ({**COMMAND, "args": ["${HOME}"]}, "'${' is not accepted"),
        (
            {"server": "io.github.acme/time", "settings": {"local-timezone": "${env:X}"}},
            "'${' is not accepted",
        ),
        ({**COMMAND, "name": "gateway"}, "a server named 'gateway' already"),
        ({**COMMAND, "name": "taken"}, "a server named 'taken' already"),
        ({**COMMAND, "name": "no/slash"}, "1-64 letters"),
        ({**COMMAND, "url": "https://x"}, "give exactly one of"),
        ({"name": "r", "url": "file:///etc/passwd"}, "is not an http(s) URL"),
        ({"server": "io.example/none"}, "the registry has no server named 'io.example/none'"),
        ({"server": EVERYTHING, "env": {"OTHER": "1"}}, "asks for no value named OTHER"),
    ],
)
def test_what_cannot_be_added_is_refused_before_anyone_is_asked(
    args: dict[str, Any], why: str
) -> None:
    gateway, person = FakeGateway(server("taken")), Person(YES)
    result = add(gateway, person, **args)
    assert result["isError"], result
    assert why in textOf(result)
    assert person.asked == [] and gateway.changes == []


def test_a_refusal_of_the_api_after_the_yes_is_an_error_result() -> None:
    gateway = FakeGateway()
    gateway.refuse = (400, "command: 'nowhere' was not found on PATH")
    result = add(gateway, Person(YES), name="x", command="nowhere")
    assert result["isError"]
    assert textOf(result) == "the gateway refused: command: 'nowhere' was not found on PATH"


# -- removing, enabling, disabling -------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "change", "cli"),
    [
        ("remove_server", ("DELETE", "/api/v1/servers/notes", None), "remove"),
        ("enable_server", ("PATCH", "/api/v1/servers/notes", {"enabled": True}), "enable"),
        ("disable_server", ("PATCH", "/api/v1/servers/notes", {"enabled": False}), "disable"),
    ],
)
def test_every_change_is_asked_first(tool: str, change: tuple[str, str, Any], cli: str) -> None:
    notes = server("notes", env={"NOTES_TOKEN": "***"})
    for answer, changes in ((NO, []), (YES, [change])):
        gateway, person = FakeGateway(notes), Person(answer)
        toolsOver(gateway).call(tool, {"name": "notes"}, person)
        [(message, _)] = person.asked
        assert "'notes'" in message and "Nothing" in message
        assert gateway.changes == changes
    gateway = FakeGateway(notes)
    result = toolsOver(gateway).call(tool, {"name": "notes"}, Person(CANNOT))
    assert result["isError"] and gateway.changes == []
    assert textOf(result).endswith(f"\n  mcpgateway servers {cli} notes")


def test_removing_and_enabling_show_what_runs() -> None:
    notes = server("notes", env={"NOTES_TOKEN": "***"})
    for tool in ("remove_server", "enable_server"):
        person = Person(NO)
        toolsOver(FakeGateway(notes)).call(tool, {"name": "notes"}, person)
        [(message, _)] = person.asked
        assert (
            "runs this command line (2 arguments): python3 -m notes;"
            " environment variables (names only): NOTES_TOKEN"
        ) in message


@pytest.mark.parametrize(
    ("tool", "name", "why"),
    [
        ("remove_server", "gateway", "the gateway's own: not removed"),
        ("disable_server", "gateway", "the gateway's own: not disabled"),
        ("remove_server", "missing", "no server named 'missing'"),
        ("remove_server", "fromconfig", "comes from a config file"),
        ("enable_server", "missing", "no server named 'missing'"),
    ],
)
def test_what_cannot_be_changed_is_refused_before_anyone_is_asked(
    tool: str, name: str, why: str
) -> None:
    gateway, person = FakeGateway(server("fromconfig", origin="config")), Person(YES)
    result = toolsOver(gateway).call(tool, {"name": name}, person)
    assert result["isError"] and why in textOf(result)
    assert person.asked == [] and gateway.changes == []


# -- reading -----------------------------------------------------------------------------


def test_find_server_lists_the_registry_matches() -> None:
    result = toolsOver(FakeGateway()).call("find_server", {"query": "time"}, Person(NO))
    text = textOf(result)
    assert "- io.github.acme/time 0.6.2 (pypi): Time and time zone conversions" in text
    assert "add_server(server=<its name>)" in text
    empty = toolsOver(FakeGateway()).call("find_server", {"query": "zzz-none"}, Person(NO))
    assert textOf(empty) == "No server of the MCP registry matches 'zzz-none'."


def test_list_servers_lists_the_gateways_servers() -> None:
    gateway = FakeGateway(server("notes"), server("demo", origin="config"))
    text = textOf(toolsOver(gateway).call("list_servers", {}, Person(NO)))
    assert text.splitlines() == [
        "The gateway's servers (2):",
        "- notes: running, share global, added through the API",
        "- demo: running, share global, config",
    ]


def test_without_the_gateways_address_nothing_can_change() -> None:
    tools = SelfServiceTools(None, registryClient)
    result = tools.call("add_server", COMMAND, Person(YES))
    assert result["isError"] and "--self-service" in textOf(result)


def test_an_unreachable_gateway_is_an_error_result() -> None:
    def down(*_: Any) -> tuple[int, bytes]:
        from mcpgateway.selfservice.gatewayapi import ApiError

        raise ApiError(0, "the gateway at http://127.0.0.1:1 did not answer: refused")

    tools = SelfServiceTools(GatewayApi(URL, TOKEN, down), registryClient)
    result = tools.call("list_servers", {}, Person(NO))
    assert result["isError"] and "did not answer" in textOf(result)


def test_an_answer_that_is_not_a_yes_reads_as_no() -> None:
    assert notConfirmed(YES, "added", "cli") is None
    refused = notConfirmed(ElicitationAnswer("something"), "added", "cli")
    assert (
        refused is not None and textOf(refused) == "The person did not confirm: nothing was added."
    )


def test_scope_workspace_adds_it_for_the_callers_first_root() -> None:
    """The session's workspace is its first C{file://} root: the person is
    told so, the API gets it, and the CLI form names it."""
    gateway, person = FakeGateway(), Person(YES)
    roots = ["https://not-a-dir", "file:///home/u/my%20project/", "file:///other"]
    result = toolsOver(gateway).call(
        "add_server", {**COMMAND, "scope": "workspace"}, person, lambda: roots
    )
    assert not result["isError"], result
    [(message, _)] = person.asked
    assert "for the sessions of workspace /home/u/my project only?" in message
    [(method, path, body)] = gateway.changes
    assert (method, path, body["workspace"]) == ("POST", "/api/v1/servers", "/home/u/my project")
    assert "for the sessions of workspace /home/u/my project only" in textOf(result)
    refused = toolsOver(FakeGateway()).call(
        "add_server", {**COMMAND, "scope": "workspace"}, Person(CANNOT), lambda: roots
    )
    assert "mcpgateway servers add --workspace '/home/u/my project' " in textOf(refused)
