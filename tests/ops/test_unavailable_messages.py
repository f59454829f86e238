"""What the gateway says when a server cannot be used (smoke test C,
wording a and b): a command given by its path is "not found" or "not
executable", never "not found on PATH" (no PATH was searched); a child
that never answered C{initialize} "did not answer" it, it did not
"refuse" it. The pool, the child's upstream and the start's log line."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import tap
from mcpgateway.core.upstream import ServerUnavailable
from tests.core.test_pool import SPEC, PoolCase, clientInitialize, describe
from tests.fakes import FakeProcessReactor, FakeSession, capturedGatewayLogs

GONE = "/nonexistent/bin/foo"


class CommandByPathTests(PoolCase):
    def test_a_missing_path_is_not_said_to_be_on_path(self) -> None:
        pool = self.makePool(dataclasses.replace(self.spec, executable=None, command=GONE))
        failure = self.failureResultOf(
            pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25")), ServerUnavailable
        )
        self.assertEqual(
            str(failure.value),
            f"server 'srv' cannot start: command '{GONE}' was not found or is not executable",
        )
        self.assertEqual(describe(pool)["error"], f"command '{GONE}' not found or not executable")

    def test_a_bare_name_is_still_looked_up_on_path(self) -> None:
        pool = self.makePool(dataclasses.replace(self.spec, executable=None, command="nosuch"))
        failure = self.failureResultOf(
            pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25")), ServerUnavailable
        )
        self.assertEqual(
            str(failure.value), "server 'srv' cannot start: command 'nosuch' was not found on PATH"
        )
        self.assertEqual(describe(pool)["error"], "command 'nosuch' not found on PATH")


class SilentChildTests(PoolCase):
    def test_a_child_that_never_answers_initialize_did_not_refuse_it(self) -> None:
        d = self.pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25"))
        self.reactor.advance(SPEC.requestTimeout)
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(str(failure.value), "server 'srv' did not answer initialize within 10 s")

    def test_a_child_that_answers_with_an_error_refused_it(self) -> None:
        d = self.pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25"))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        # Even with the code a timeout has: the child answered.
        proc.reply(
            {"jsonrpc": "2.0", "id": init["id"], "error": {"code": -32001, "message": "busy"}}
        )
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(str(failure.value), "server 'srv' refused initialize: busy")


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (GONE, "not found"),
        ("no-such-command-4711", "not found on PATH"),
        ("DIRECTORY", "not executable"),
    ],
)
def test_the_start_logs_why_a_command_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, where: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if command == "DIRECTORY":
        command = str(tmp_path)
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "demo": {"command": sys.executable},
                    "broken": {"command": command},
                }
            }
        )
    )
    options = tap.Options()
    options.parseOptions(
        ["--port", "9303", "--config", str(config), "--state-dir", str(tmp_path / "st")]
    )
    with capturedGatewayLogs() as events:
        tap.makeService(options, FakeProcessReactor())
    warned: list[dict[str, Any]] = [
        e for e in events if "its endpoint answers with an error" in e.get("log_format", "")
    ]
    assert [(e["server"], e["command"], e["where"]) for e in warned] == [("broken", command, where)]
