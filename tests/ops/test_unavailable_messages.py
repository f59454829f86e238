"""What the gateway says when a server cannot be used: a command given by
its path "was not found" or "is not an executable file", never "not found on PATH" (no PATH
was searched), in the same words as C{servers add}; a child
that never answered C{initialize} "did not answer" it, it did not
"refuse" it. The pool, the child's upstream and the start's log line."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import tap
from mcpgateway.core.spec import DEFAULT_START_TIMEOUT
from mcpgateway.core.upstream import ServerUnavailable
from tests.fakes import FakeProcessReactor, FakeSession, capturedGatewayLogs
from tests.support.core.pools.pool import PoolCase, clientInitialize, describe

GONE = "/nonexistent/bin/foo"


class CommandByPathTests(PoolCase):
    # A path that does not exist was "not found or is not
    # executable" to the running gateway, where `servers add` says "was not
    # found"; both now use mcpgateway.core.spawn.notFound.
    def assertWhy(self, command: str, where: str) -> None:
        pool = self.makePool(dataclasses.replace(self.spec, executable=None, command=command))
        failure = self.failureResultOf(
            pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25")), ServerUnavailable
        )
        self.assertEqual(
            str(failure.value), f"server 'srv' cannot start: command '{command}' {where}"
        )
        self.assertEqual(describe(pool)["error"], f"command '{command}' {where}")

    def test_a_missing_path_was_not_found(self) -> None:
        self.assertWhy(GONE, "was not found")

    def test_a_path_that_is_there_is_not_an_executable_file(self) -> None:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        plain = folder / "server"
        plain.write_text("#!/bin/sh\n")  # there, and not executable (mode 0644)
        self.assertWhy(str(plain), "is not an executable file")

    def test_a_bare_name_is_still_looked_up_on_path(self) -> None:
        self.assertWhy("nosuch", "was not found on PATH")

    def test_a_bare_name_its_entry_gives_a_path_for_was_looked_up_there(self) -> None:
        """Not the gateway's C{PATH}: C{status} then names no other."""
        self.spec = dataclasses.replace(self.spec, env=(("PATH", "/opt/tools/bin"),))
        self.assertWhy("nosuch", "was not found on the PATH its entry sets")


class SilentChildTests(PoolCase):
    def test_a_child_that_never_answers_initialize_did_not_refuse_it(self) -> None:
        d = self.pool.open(FakeSession("a"), clientInitialize(0, "2025-11-25"))
        self.reactor.advance(DEFAULT_START_TIMEOUT)
        failure = self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(
            str(failure.value),
            f"server 'srv' did not answer initialize within {DEFAULT_START_TIMEOUT:g} s",
        )

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
