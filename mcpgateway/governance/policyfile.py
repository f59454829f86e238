# -*- test-case-name: tests.governance.test_policy_gate -*-
"""The policy file of C{--policy}, read again when it changes.

The file is looked at every L{INTERVAL} seconds (its modification time
and size, as the other watched files are). A changed file that parses
replaces the policy at once; one that does not keeps the last good
policy, says why in one log line, and shows it on C{/health}
(L{PolicyFile.health}) until a good one is read. A policy file that does
not parse at start-up refuses the start (L{PolicyFile.load} raises).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from mcpgateway.config.watched import fingerprint
from mcpgateway.governance.policy import Default, Policy, PolicyError, loadPolicy
from mcpgateway.runtime import logs

INTERVAL = 2.0
MAX_FILE = 4 * 1024 * 1024
"""The largest policy file read."""


def readPolicy(path: Path, default: Default) -> Policy:
    """The policy of C{path}; L{PolicyError} (one line) when it cannot be
    read or does not parse."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise PolicyError(f"{path}: {e.strerror or e}") from None
    if len(data) > MAX_FILE:
        raise PolicyError(f"{path}: larger than {MAX_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8") from None
    try:
        return loadPolicy(text, default)
    except PolicyError as e:
        raise PolicyError(f"{path}: {e}") from None


class PolicyFile(Service):
    """The policy of one file, kept current."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.policy")

    def __init__(self, path: Path, default: Default, clock: IReactorTime) -> None:
        self.path = path
        self.default: Default = default
        self._clock = clock
        self.current: Policy | None = None
        self.error: str | None = None
        """Why the file on disk is not the policy in force (C{None}: it is)."""
        self.loadedAt: float | None = None
        self.reloads = 0
        self._seen: tuple[int, int] | None = None
        self._loop: LoopingCall | None = None

    def load(self) -> Policy:
        """Read the file now (start-up): L{PolicyError} when it is no policy."""
        self._seen = fingerprint(self.path)
        policy = readPolicy(self.path, self.default)
        self.current = policy
        self.error = None
        self.loadedAt = self._clock.seconds()
        self._warn(policy)
        return policy

    def _warn(self, policy: Policy) -> None:
        """One line for each mistake the schema finds in C{policy}."""
        for warning in policy.warnings:
            self.log.warn(
                "policy {path}: {warning}; a policy that reads what is not there fails to"
                " evaluate, and refuses every request in its scope",
                path=str(self.path),
                warning=warning,
                policyWarning=warning,
            )

    def __call__(self) -> Policy | None:
        """The policy in force."""
        return self.current

    def check(self) -> bool:
        """Read the file again if it changed; whether a new policy is in force."""
        seen = fingerprint(self.path)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            policy = readPolicy(self.path, self.default)
        except PolicyError as e:
            self.error = str(e)
            self.log.warn(
                "policy file not reloaded, the last good policy stays: {why}",
                why=self.error,
                policyReloadFailed=str(self.path),
            )
            return False
        self.current = policy
        self.error = None
        self.loadedAt = self._clock.seconds()
        self.reloads += 1
        self.log.info(
            "policy reloaded from {path}: {count} policies",
            path=str(self.path),
            count=len(policy),
            policyReloaded=str(self.path),
        )
        self._warn(policy)
        return True

    def startService(self) -> None:
        super().startService()
        self._loop = LoopingCall(self.check)
        self._loop.clock = self._clock
        self._loop.start(INTERVAL, now=False)

    def stopService(self) -> Any:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        return super().stopService()

    def health(self) -> dict[str, Any]:
        """What C{/health} shows of the policy."""
        return {
            "file": str(self.path),
            "default": self.default,
            "policies": 0 if self.current is None else len(self.current),
            "loadedAt": self.loadedAt,
            "reloads": self.reloads,
            "error": self.error,
            "warnings": [] if self.current is None else list(self.current.warnings),
        }
