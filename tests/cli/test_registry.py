"""C{mcpgateway registry search} and C{registry show} against the recorded
registry, answered without a network (a fake fetch)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from mcpgateway.cli.main import main, makeParser
from mcpgateway.cli.output import CliError, Output
from mcpgateway.cli.registry import (
    RegistrySeams,
    cmdRegistrySearch,
    cmdRegistryShow,
    runSearch,
    runShow,
)
from mcpgateway.registry.client import RegistryAnswer, RegistryError
from tests.fixtures.registry_server import RecordedRegistry
from tests.registry.support import ROOT, document, recordedFetch


class Run:
    """Runs a registry command with the recorded registry; its output."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.seams = RegistrySeams(
            fetch=recordedFetch(RecordedRegistry.fromDirectory(), self.urls), environ={}
        )
        self.stdout, self.stderr = io.StringIO(), io.StringIO()

    def __call__(self, *argv: str) -> int:
        args = makeParser().parse_args([*argv, "--registry", ROOT])
        out = Output(args.json, self.stdout, self.stderr)
        if args.action == "search":
            return runSearch(args, out, self.seams)
        return runShow(args, out, self.seams)

    @property
    def lines(self) -> list[str]:
        return self.stdout.getvalue().splitlines()

    def json(self) -> Any:
        return json.loads(self.stdout.getvalue())


def test_the_commands_are_registered() -> None:
    parser = makeParser()
    assert parser.parse_args(["registry", "search", "x"]).handler is cmdRegistrySearch
    assert parser.parse_args(["registry", "show", "a/b"]).handler is cmdRegistryShow


def test_search_prints_a_table() -> None:
    run = Run()
    assert run("registry", "search", "acme") == 0
    assert [line.split(None, 3) for line in run.lines[:-1]] == [
        ["NAME", "VERSION", "INSTALLS", "DESCRIPTION"],
        [
            "io.github.acme/dotnet-tools",
            "0.5.0",
            "nuget,mcpb",
            "Random numbers and weather from a .NET tool",
        ],
        ["io.github.acme/postgres", "2.1.0", "oci", "Read-only SQL over a PostgreSQL database"],
        ["io.github.acme/time", "0.6.2", "pypi", "Time and time zone conversions"],
        [
            "io.github.acme/weather",
            "1.4.2",
            "npm,remote",
            "Forecasts and current conditions from the Acme weather API",
        ],
    ]
    assert run.lines[0].index("VERSION") == run.lines[1].index("0.5.0")  # in columns
    assert run.lines[-1].startswith("`mcpgateway add NAME` installs one")
    assert run.urls == [f"{ROOT}/v0.1/servers?search=acme&version=latest&limit=20"]


def test_search_cuts_a_long_description_and_escapes_control_characters() -> None:
    long = document(name="a.b/c\x1b[2J", description="x" * 80)
    seams = RegistrySeams(
        fetch=lambda url: RegistryAnswer(200, json.dumps({"servers": [long]}).encode()), environ={}
    )
    stdout = io.StringIO()
    runSearch(
        makeParser().parse_args(["registry", "search", "c", "--registry", ROOT]),
        Output(False, stdout, io.StringIO()),
        seams,
    )
    row = stdout.getvalue().splitlines()[1]
    assert row.startswith("a.b/c\\x1b[2J ") and row.endswith(" " + "x" * 59 + "…")


def test_search_says_when_there_is_more_or_nothing() -> None:
    run = Run()
    run("registry", "search", "", "--limit", "2")
    assert run.lines[-2].startswith(f"(more in {ROOT}: --limit N")
    run = Run()
    run("registry", "search", "no such thing")
    assert run.lines == [f"(nothing in {ROOT} matches 'no such thing')"]
    with pytest.raises(CliError, match="--limit must be at least 1"):
        Run()("registry", "search", "x", "--limit", "0")


def test_search_as_json() -> None:
    run = Run()
    run("registry", "search", "weather", "--json")
    document = run.json()
    assert document["registry"] == ROOT and document["more"] is False
    assert [s["name"] for s in document["servers"]] == [
        "io.github.acme/dotnet-tools",
        "io.github.acme/weather",
    ]
    assert document["servers"][1]["installs"] == ["npm", "remote"]


def test_the_registry_comes_from_the_option_then_the_environment() -> None:
    urls: list[str] = []

    def fetch(url: str) -> RegistryAnswer:
        urls.append(url)
        return RegistryAnswer(200, b'{"servers": []}')

    seams = RegistrySeams(fetch=fetch, environ={"MCPGATEWAY_REGISTRY": "https://mirror.test/v0"})
    out = Output(False, io.StringIO(), io.StringIO())
    runSearch(makeParser().parse_args(["registry", "search", "x"]), out, seams)
    runSearch(makeParser().parse_args(["registry", "search", "x", "--registry", ROOT]), out, seams)
    seams.environ = {}
    runSearch(makeParser().parse_args(["registry", "search", "x"]), out, seams)
    assert [url.split("/servers")[0] for url in urls] == [
        "https://mirror.test/v0",
        f"{ROOT}/v0.1",
        "https://registry.modelcontextprotocol.io/v0.1",
    ]


def test_a_registry_that_fails_is_one_line() -> None:
    def unreachable(url: str) -> RegistryAnswer:
        raise RegistryError(f"no answer from {url}: connection refused")

    run = Run()
    run.seams.fetch = unreachable
    with pytest.raises(CliError, match=r"no answer from .*: connection refused"):
        run("registry", "search", "x")
    run.seams.fetch = lambda url: RegistryAnswer(200, b"<html>")
    with pytest.raises(CliError, match="did not answer JSON"):
        run("registry", "search", "x")
    with pytest.raises(CliError, match="must be an http"):
        runSearch(
            makeParser().parse_args(["registry", "search", "x", "--registry", "ftp://x"]),
            Output(False, io.StringIO(), io.StringIO()),
            run.seams,
        )


def test_main_prints_a_registry_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["registry", "search", "x", "--registry", "nonsense"])
    assert code == 2
    assert capsys.readouterr().err == (
        "mcpgateway: registry URL 'nonsense': must be an http:// or https:// URL\n"
    )


def test_show_tells_what_add_would_install_and_ask() -> None:
    run = Run()
    assert run("registry", "show", "io.github.acme/postgres") == 0
    assert run.lines == [
        "io.github.acme/postgres 2.1.0",
        "  Read-only SQL over a PostgreSQL database",
        "installs:",
        "  → oci ghcr.io/acme/postgres-mcp:2.1.0 (stdio)",
        "asks for (`mcpgateway add` prompts, or give them with --env/--set):",
        "  --env DATABASE_URL=... (required, secret): postgres://user:password@host/db",
        "  --env PG_STATEMENT_TIMEOUT=... (default 30000): Milliseconds per query",
        "  --set results_dir=... (required): A directory on this machine",
    ]
    assert run.urls == [f"{ROOT}/v0.1/servers/io.github.acme%2Fpostgres/versions/latest"]


def test_show_marks_the_choice_and_the_refusals() -> None:
    run = Run()
    run("registry", "show", "io.github.acme/weather", "--version", "1.4.2")
    assert "  → npm @acme/weather-mcp@1.4.2 (stdio)" in run.lines
    assert "  ✓ remote streamable-http https://mcp.acme.example/weather/mcp" in run.lines
    run = Run()
    run("registry", "show", "io.github.acme/dotnet-tools")
    assert run.lines[3:] == [
        "  ✗ nuget Acme.SampleMcpServer@0.5.0 (stdio)",
        "      registry type 'nuget' is not installed by name (npm, pypi and oci packages"
        " are, and remotes)",
        "  ✗ mcpb https://github.com/acme/dotnet-tools/releases/download/v0.5.0/tools.mcpb@0.5.0"
        " (stdio)",
        "      registry type 'mcpb' is not installed by name (npm, pypi and oci packages"
        " are, and remotes)",
        "`mcpgateway add` cannot install it: nothing above can be",
    ]


def test_show_as_json_and_an_unknown_name() -> None:
    run = Run()
    run("registry", "show", "com.example/search", "--json")
    document = run.json()
    assert document["installs"] is True and document["refusal"] is None
    assert [o["chosen"] for o in document["options"]] == [True, False]
    assert [(a["key"], a["option"], a["secret"]) for a in document["asks"]] == [
        ("tenant", "--set", False),
        ("X-API-Key", "--set", True),
    ]
    with pytest.raises(CliError) as caught:
        Run()("registry", "show", "io.github.acme/nope")
    assert caught.value.message == (
        f"the registry has no server named 'io.github.acme/nope' ({ROOT});"
        " `mcpgateway registry search TEXT` finds names"
    )
