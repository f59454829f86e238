"""What tests/sandbox/test_confine.py shares with the other tests: ARGV, ENV,
requestOf, sandbox, sandboxEvents, spec."""

from __future__ import annotations

import json
from typing import Any

from twisted.logger import LogEvent

from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.profile import parseSandbox
from mcpgateway.sandbox.request import launcherCommand

ARGV = ["/usr/bin/node", "/srv/a/index.js", "stdio"]
ENV = {"HOME": "/home/u", "PATH": "/usr/bin"}


def spec(name: str = "a", **entry: Any) -> ServerSpec:
    return ServerSpec(
        name=name,
        command=entry.pop("command", "node"),
        cwd=entry.pop("cwd", None),
        mode=entry.pop("mode", "global"),
        executable="/usr/bin/node",
        sandbox=parseSandbox(entry),
    )


def sandbox(default: str = "auto", **kwargs: Any) -> Sandbox:
    return Sandbox(default, "/home/u/.mcpgateway", pid=lambda: 42, cwd=lambda: "/", **kwargs)


def requestOf(argv: list[str]) -> dict[str, Any]:
    assert argv[: len(launcherCommand())] == launcherCommand()
    request: dict[str, Any] = json.loads(argv[len(launcherCommand())])
    assert argv[len(launcherCommand()) + 1] == "--"
    return request


def sandboxEvents(events: list[LogEvent]) -> list[LogEvent]:
    return [e for e in events if str(e.get("log_format", "")).startswith("sandbox:")]
