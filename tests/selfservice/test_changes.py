"""What the person is shown before a server is added: whitespace and control
characters made visible, a long command line cut saying what it leaves out
and how many arguments there are, and each path of this machine an image's
container would get asked for by its own box."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from mcpgateway.registry.client import RegistryAnswer, RegistryApi, RegistryClient
from mcpgateway.selfservice.changes import (
    SHOWN_LINE,
    confirmationOf,
    describeServer,
    fromCommand,
    fromUrl,
)
from mcpgateway.selfservice.gatewayapi import GatewayApi
from mcpgateway.selfservice.tools import ElicitationAnswer, SelfServiceTools
from tests.fixtures.registry_server import RecordedRegistry
from tests.selfservice.support import (
    CANNOT,
    TOKEN,
    URL,
    YES,
    FakeGateway,
    Person,
    server,
    textOf,
)


def question(**args: Any) -> str:
    return confirmationOf(fromCommand({"name": "x", "command": "tool", **args}))


def test_padding_cannot_push_the_tail_of_a_command_line_out_of_view() -> None:
    message = question(args=["--safe" + " " * 1000 + "--evil", "x\t\ty", "a b"])
    line = message.splitlines()[1]
    assert line == (
        "The gateway will run this command line (3 arguments):"
        " tool '--safe⟨1000 spaces⟩--evil' 'x⟨2 tabs⟩y' 'a b'"
    )
    assert "  " not in message


def test_line_breaks_and_control_characters_cannot_make_lines_of_their_own() -> None:
    message = question(args=["a\nNothing is added unless you confirm.\n", "\x1b[2J", "\u202eb"])
    assert message.count("\n") == 3  # the question's own four lines
    assert "'a⟨1 line break⟩Nothing is added unless you confirm.⟨1 line break⟩'" in message
    assert "'\\x1b[2J' '\\u202eb'" in message


def test_a_long_command_line_is_cut_saying_what_it_leaves_out() -> None:
    args = [f"--option-{i:03}=" + "v" * 30 for i in range(200)]
    lines = question(args=args).splitlines()
    line = lines[1]
    assert line.startswith("The gateway will run this command line (200 arguments): tool ")
    shown = line.split(": ", 1)[1]
    assert len(shown) < SHOWN_LINE + 60
    # "tool" and 200 arguments of 43 characters: 8804 characters; the 14th argument
    # is cut, the 186 after it are not shown at all
    assert shown[:SHOWN_LINE] == ("tool " + " ".join(args))[:SHOWN_LINE]
    assert shown.endswith(f"… and 186 more arguments ({8804 - SHOWN_LINE} more characters)")
    assert lines[-1] == "Nothing is added unless you confirm."
    one = question(args=["y" * 4000])
    assert one.splitlines()[1].endswith(f"… and {4000 + 5 - SHOWN_LINE} more characters")


def test_a_long_url_and_many_names_are_cut_too() -> None:
    url = "https://mcp.example.com/" + "p" * 3000
    message = confirmationOf(fromUrl({"name": "r", "url": url}))
    assert f"… and {len(url) - SHOWN_LINE} more characters (Streamable HTTP)" in message
    env = {f"VAR_{i:02}": "v" for i in range(50)}
    message = question(env=env)
    assert "VAR_39 … and 10 more names" in message and "VAR_40" not in message


def test_what_runs_is_cut_when_removing_too() -> None:
    padded = server("notes", args=["-m", "notes", "pad" + " " * 3000 + "tail"] * 2)
    text = describeServer(padded)
    assert text.startswith(
        "runs this command line (6 arguments): python3 -m notes 'pad⟨3000 spaces⟩tail'"
    )
    assert len(text) < SHOWN_LINE + 200


# -- an image's host paths ---------------------------------------------------------------

POSTGRES = "io.github.acme/postgres"
MOUNT = "/srv/results (read-write, at /results in the container)"


def plainPostgres() -> RegistryClient:
    """The recorded registry, its postgres server asking for no secret."""
    recorded = RecordedRegistry.fromDirectory()
    for _, response in recorded.responses:
        for package in response["server"].get("packages", []):
            for variable in package.get("environmentVariables", []):
                variable["isSecret"] = False

    def fetch(url: str) -> RegistryAnswer:
        parts = urllib.parse.urlsplit(url)
        status, body = recorded.answer(parts.path + (f"?{parts.query}" if parts.query else ""))
        return RegistryAnswer(status, json.dumps(body).encode())

    return RegistryClient(RegistryApi.at("http://registry.test"), fetch)


def addPostgres(gateway: FakeGateway, person: Person, results: str) -> dict[str, Any]:
    tools = SelfServiceTools(GatewayApi(URL, TOKEN, gateway.send), plainPostgres)
    args = {
        "server": POSTGRES,
        "name": "pg",
        "settings": {"results_dir": results},
        "env": {"DATABASE_URL": "postgres://h/db"},
    }
    return tools.call("add_server", args, person)


def test_each_host_path_is_a_box_of_its_own() -> None:
    gateway, person = FakeGateway(), Person(YES)
    result = addPostgres(gateway, person, "/srv/results")
    [(message, schema)] = person.asked
    assert f"Its container gets these paths of this machine, each only if you tick it: {MOUNT}" in (
        message
    )
    assert schema["required"] == ["confirm", "hostPath1"]
    assert schema["properties"]["hostPath1"]["title"] == f"Give the container {MOUNT}"
    assert textOf(result) == "The person did not approve the path /srv/results: nothing was added."
    assert gateway.changes == []
    ticked = ElicitationAnswer("accept", {"confirm": True, "hostPath1": True})
    result = addPostgres(gateway, Person(ticked), "/srv/results")
    assert not result["isError"], result
    [(_, _, body)] = gateway.changes
    assert "--mount=type=bind,src=/srv/results,dst=/results" in body["args"]


def test_without_elicitation_the_command_approves_the_exact_path() -> None:
    gateway = FakeGateway()
    result = addPostgres(gateway, Person(CANNOT), "/srv/./results/")
    assert textOf(result).endswith(
        "\n  mcpgateway add io.github.acme/postgres --as pg --set results_dir=/srv/./results/"
        " --env DATABASE_URL --allow-host-path /srv/results"
    )
    assert gateway.changes == []


def test_a_path_never_given_is_refused_before_anyone_is_asked() -> None:
    for results, why in (("/", "root directory"), ("../x", "relative"), ("/run/x", "/run/x")):
        gateway, person = FakeGateway(), Person(YES)
        result = addPostgres(gateway, person, results)
        assert result["isError"] and why in textOf(result)
        assert person.asked == [] and gateway.changes == []
