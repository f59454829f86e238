"""Property-based tests of what the C{mcpgateway} command reads from outside:
C{/health} answers (whatever a gateway, an older one, or another program on
the port says), client configs of any shape, and any command line. None of
them may crash the command or make it print a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.cli.checks import DoctorContext, checkResolution
from mcpgateway.cli.childexits import checkChildExits
from mcpgateway.cli.clientconfig import _entries, classifyEntries, gatewayEntries
from mcpgateway.cli.main import _commandOf, makeParser
from mcpgateway.cli.output import UsageError
from mcpgateway.cli.serverrequests import checkServerRequests
from mcpgateway.cli.status import renderStatus, serverNotes
from mcpgateway.cli.statusnotes import checkHeldCalls, checkVersion, noteLines
from mcpgateway.ops.gatewayprobe import GatewayProbe

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)

SERVER = st.fixed_dictionaries(
    {},
    optional={
        "mode": st.sampled_from(["stateful", "stateless"]) | JSON,
        "children": st.integers(-1, 3) | JSON,
        "requests": st.integers(0, 10) | JSON,
        "warning": st.text(max_size=20) | JSON,
        "error": st.text(max_size=20) | JSON,
        "ambiguousServerRequests": st.integers(-2, 5) | st.booleans() | JSON,
        "refusedServerRequests": st.integers(-2, 5) | st.booleans() | JSON,
        "state": st.sampled_from(["running", "degraded", "restarting", "stopped"]) | JSON,
        "failures": st.integers(-1, 5) | JSON,
        "restarts": st.integers(-1, 5) | JSON,
        "lastExit": st.text(max_size=20) | JSON,
        "resolution": st.fixed_dictionaries(
            {},
            optional={
                "state": st.sampled_from(["pending", "failed", "resolved", "other"]) | JSON,
                "detail": st.text(max_size=20) | JSON,
            },
        )
        | JSON,
    },
)
HEALTH = st.fixed_dictionaries(
    {"status": st.just("ok")},
    optional={
        "servers": st.dictionaries(st.text(min_size=1, max_size=6), SERVER | JSON, max_size=4)
        | JSON,
        "uptime": JSON,
        "rssBytes": JSON,
        "version": st.sampled_from(["0.1.0", "9.9.9"]) | JSON,
        "approvals": st.fixed_dictionaries({}, optional={"pending": st.integers(-1, 3) | JSON})
        | JSON,
    },
)


@settings(max_examples=150, deadline=None)
@given(health=HEALTH)
def test_any_health_answer_gives_checks_and_a_status_screen(health: dict[str, Any]) -> None:
    found = GatewayProbe(Path("/nonexistent"), {"pid": 7, "port": 9100}, alive=True, locked=True)
    ctx = DoctorContext(Path("/nonexistent"), found, health=health)
    for check in (checkResolution, checkServerRequests, checkChildExits, checkHeldCalls):
        result = check(ctx)
        assert result.status in ("pass", "info", "fail")
        assert (result.fix is not None) == (result.status == "fail")
        assert all(isinstance(line, str) for line in result.details)
    version = checkVersion(ctx)
    assert (version.fix is not None) == (version.status == "fail")
    lines = renderStatus(found, health, [])
    assert lines[0].startswith("mcpgateway ") and all(isinstance(line, str) for line in lines)
    assert all(isinstance(line, str) for line in noteLines(health, {"python": "/x/python"}))


@settings(max_examples=150, deadline=None)
@given(server=SERVER)
def test_a_refused_count_or_a_failed_resolution_always_shows(server: dict[str, Any]) -> None:
    found = GatewayProbe(Path("/x"), {"pid": 7, "port": 9100}, alive=True, locked=True)
    ctx = DoctorContext(Path("/x"), found, health={"status": "ok", "servers": {"s": server}})
    count = server.get("ambiguousServerRequests")
    refused = isinstance(count, int) and not isinstance(count, bool) and count > 0
    assert (checkServerRequests(ctx).status == "fail") == refused
    resolution = server.get("resolution")
    failed = isinstance(resolution, dict) and resolution.get("state") == "failed"
    assert (checkResolution(ctx).status == "fail") == failed
    notes = "\n".join(serverNotes(server))
    if refused or (isinstance(server.get("warning"), str) and server["warning"]):
        assert "! " in notes
    if failed:
        assert "npx/uvx resolution failed" in notes


ENTRY = (
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["http", "stdio", "sse", "streamable-http"]) | JSON,
            "url": st.sampled_from(
                [
                    "http://127.0.0.1:9100/a/mcp",
                    "http://localhost:9100/b/mcp",
                    "http://[::1]:9100/c/mcp",
                    "http://127.0.0.1:99999/x",
                    "http://[bad/mcp",
                    "https://example.com/mcp",
                ]
            )
            | JSON,
            "command": JSON,
        },
    )
    | JSON
)
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "mcpServers": st.dictionaries(st.text(max_size=5), ENTRY, max_size=4) | JSON,
        "projects": st.dictionaries(
            st.text(max_size=5),
            st.fixed_dictionaries(
                {},
                optional={
                    "mcpServers": st.dictionaries(st.text(max_size=5), ENTRY, max_size=3) | JSON
                },
            )
            | JSON,
            max_size=3,
        )
        | JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(data=CONFIG)
def test_any_client_config_is_classified_without_error(data: dict[str, Any]) -> None:
    counts = classifyEntries(data, 9100)
    via = gatewayEntries(data, 9100)
    assert len(via) == counts["gateway"]
    assert sum(counts.values()) == len(list(_entries(data)))


WORDS = st.lists(
    st.sampled_from(
        [
            "start",
            "stop",
            "status",
            "doctor",
            "restore",
            "servers",
            "list",
            "add",
            "restart",
            "logs",
            "--json",
            "--state-dir",
            "--port",
            "0",
            "9100",
            "--bogus",
            "--",
            "x",
            "--config",
            "--no-rewrite",
            "-h",
        ]
    )
    | st.text(max_size=6),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(words=WORDS)
def test_any_command_line_parses_or_is_one_usage_error(words: list[str]) -> None:
    try:
        args = makeParser().parse_args(words)
    except UsageError as e:
        assert "\n" not in e.message
        command = _commandOf(words)
        assert command.startswith("mcpgateway")
    except SystemExit as e:  # --help
        assert e.code == 0
    else:
        assert isinstance(args, argparse.Namespace) and callable(args.handler)
