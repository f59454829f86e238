# -*- test-case-name: tests.sandbox.test_detect, tests.sandbox.test_mechanism -*-
"""The probe, run by the gateway once it has daemonized: which mechanism
confines its children (L{mcpgateway.sandbox.probe}, in a launcher of its
own: C{launch.py --probe}), read back as JSON, off the reactor's thread
of work (a child process, waited for as any other).

The probe is the warden's too (L{ProbeWarden}, the gateway's
L{mcpgateway.ops.warden.Warden}), as a package install is: it gets the
gateway's marker in its environment and is told to the warden as it
starts, so a gateway killed while it runs (C{SIGKILL}) leaves no probe
behind: the warden stops it, and what it started (a bubblewrap trial, its
version asked), once the gateway is gone. The state directory's ledger
does not name it (L{mcpgateway.ops.warden.Warden.helperSpawned}): a
gateway and its warden both killed while it runs leave it to end by
itself (its bubblewrap trial dies with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from mcpgateway.sandbox.confine import ProbeWarden, Sandbox
from mcpgateway.sandbox.request import launcherCommand

MECHANISMS = ("bwrap", "landlock", "seatbelt", "none")
PROBE = "sandbox probe"
"""What the warden and the ledger call the probe (in place of a server's
name: it is started on behalf of every confined child)."""
MAX_OUTPUT = 1024 * 1024
"""The most of the probe's stdout, and of its stderr, kept, in bytes (its
answer is a few kilobytes)."""


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
    ended = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    why = f"the probe failed: {lines[-1] if lines else ended}"
    return {
        "bwrap": {"works": False, "error": why},
        "landlock": {"abi": 0, "error": why},
        "mechanism": "none",
    }


class _Output(ProcessProtocol):
    """Collects the probe's stdout and stderr; C{done} fires with them and
    its exit status (a negative one: the signal that killed it)."""

    def __init__(self) -> None:
        self.done: Deferred[tuple[bytes, bytes, int]] = Deferred()
        self._out = bytearray()
        self._err = bytearray()

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def outReceived(self, data: bytes) -> None:
        self._out += data[: MAX_OUTPUT - len(self._out)]

    def errReceived(self, data: bytes) -> None:
        self._err += data[: MAX_OUTPUT - len(self._err)]

    def processEnded(self, reason: Failure) -> None:
        status = reason.value
        code = getattr(status, "exitCode", None)
        if code is None:
            code = -int(getattr(status, "signal", None) or 0)
        self.done.callback((bytes(self._out), bytes(self._err), int(code)))


def probe(
    reactor: IReactorProcess,
    environ: Mapping[str, str],
    python: str | None = None,
    warden: ProbeWarden | None = None,
) -> Deferred[dict[str, Any]]:
    """Run C{launch.py --probe} and read what it found; with C{warden},
    the probe gets its marker and is told to it until it ends (see the
    module docstring).

    @raise OSError: the probe cannot be started.
    """
    argv = [*(launcherCommand() if python is None else launcherCommand(python)), "--probe"]
    env = dict(environ)
    if warden is not None:  # what the probe starts is found by it too
        env[warden.marker[0]] = warden.marker[1]
    output = _Output()
    transport = reactor.spawnProcess(output, argv[0], argv, env=env)
    pid = transport.pid
    if warden is not None and pid is not None and not output.done.called:
        warden.helperSpawned(PROBE, pid, ledger=False)  # it stops it if the gateway dies

        def ended(result: tuple[bytes, bytes, int]) -> tuple[bytes, bytes, int]:
            warden.helperExited(pid)
            return result

        output.done.addCallback(ended)
    return output.done.addCallback(lambda result: parse(*result))


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
