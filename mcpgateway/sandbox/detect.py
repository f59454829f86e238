# -*- test-case-name: tests.sandbox.test_detect, tests.sandbox.test_mechanism -*-
"""The probe, run by the gateway once it has daemonized: which mechanism
confines its children (L{mcpgateway.sandbox.probe}, in a launcher of its
own: C{launch.py --probe}), read back as JSON, off the reactor's thread
of work (a child process, waited for as any other).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.utils import getProcessOutputAndValue

from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.request import launcherCommand

MECHANISMS = ("bwrap", "landlock", "seatbelt", "none")


def parse(out: bytes, err: bytes, code: int) -> dict[str, Any]:
    """The probe's answer; what a probe that failed says, as one that found
    nothing (mechanism C{none}, the reason as bubblewrap's and Landlock's
    error)."""
    try:
        found = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        found = None
    if (
        code == 0
        and isinstance(found, dict)
        and found.get("mechanism")
        in (
            "bwrap",
            "landlock",
            "none",
        )
    ):
        return found
    lines = err.decode("utf-8", "replace").strip().splitlines()
    why = f"the probe failed: {lines[-1] if lines else f'exit status {code}'}"
    return {
        "bwrap": {"works": False, "error": why},
        "landlock": {"abi": 0, "error": why},
        "mechanism": "none",
    }


def probe(
    reactor: IReactorProcess, environ: Mapping[str, str], python: str | None = None
) -> Deferred[dict[str, Any]]:
    """Run C{launch.py --probe} and read what it found."""
    argv = launcherCommand() if python is None else launcherCommand(python)
    running: Deferred[tuple[bytes, bytes, int]] = getProcessOutputAndValue(
        argv[0], [*argv[1:], "--probe"], env=dict(environ), reactor=reactor
    )
    return running.addCallback(lambda result: parse(*result))


class SandboxService(Service):
    """Starts the probe when the gateway starts (after daemonizing: a
    process started before would belong to the parent that exits), when
    every server is confined by default (C{--sandbox auto}, or a mechanism
    it names: the probe says whether that one works); with C{--sandbox off}
    the first confined child starts it. And sweeps, in a worker thread, the
    temporary directories of Landlock children that no longer run
    (L{mcpgateway.sandbox.childtmp})."""

    name = "sandbox"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def startService(self) -> None:
        super().startService()
        if self.sandbox.default != "off":
            self.sandbox.detect()
        self.sandbox.sweep()
