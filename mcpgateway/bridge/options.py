# -*- test-case-name: tests.bridge.test_main -*-
"""The bridge's command line, shared by C{mcpgateway bridge} and C{python
-m mcpgateway.bridge}. Standard library only: the CLI imports it without
loading Twisted."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 60.0
"""Seconds a request waits for an unreachable gateway before the bridge
answers it with an error (the gateway's own default request timeout), and
the most the bridge waits for answers once stdin ends."""
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
_SERVER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class BridgeOptions:
    """What the bridge was asked to do."""

    target: str
    """A server name of the gateway, or a full C{http(s)://} URL."""
    stateDir: Path
    port: int | None = None
    """The port of a gateway the bridge starts (default: C{mcpgateway start}'s)."""
    autostart: bool = True
    timeout: float = DEFAULT_TIMEOUT
    logLevel: str = "info"

    @property
    def isUrl(self) -> bool:
        return isUrl(self.target)


def isUrl(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def checkTarget(target: str) -> str | None:
    """Why C{target} is neither a URL nor a server name, or C{None}."""
    if isUrl(target) or _SERVER_NAME.fullmatch(target):
        return None
    return (
        f"{target!r} is neither a server name (letters, digits, '-', '_', '.'; at most 64)"
        " nor an http:// URL"
    )


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"out of range (0, 86400]: {value!r}")
    return seconds


def _port(value: str) -> int:
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise argparse.ArgumentTypeError(f"not a TCP port: {value!r}")
    return int(value)


def addArguments(parser: argparse.ArgumentParser) -> None:
    """The bridge's own arguments (C{--state-dir} is the caller's)."""
    parser.add_argument(
        "target",
        metavar="SERVER|URL",
        help="a server of the running gateway (http://127.0.0.1:PORT/SERVER/mcp), or a URL",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        help="the port of the gateway the bridge starts when none runs (default 9100)",
    )
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="do not start a gateway when none runs (wait for one instead)",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="how long a request waits for an unreachable gateway before it gets an error,"
        " and the most the bridge waits for answers once stdin ends"
        f" (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="what the bridge writes to stderr (default info)",
    )


def fromNamespace(args: argparse.Namespace, stateDir: Path) -> BridgeOptions:
    return BridgeOptions(
        target=args.target,
        stateDir=stateDir,
        port=args.port,
        autostart=not args.no_start,
        timeout=args.timeout,
        logLevel=args.log_level,
    )


def leaveOutTLS(words: list[str]) -> bool:
    """Keep pyOpenSSL out of a bridge that speaks plain HTTP (as the gateway
    does, L{mcpgateway.startup.endpoints.leaveOutTLS}): about a third of its start time.
    Call before Twisted is imported; C{words} is the command line (an
    C{https://} target keeps TLS). Returns whether it did so."""
    if any("https://" in word for word in words) or "OpenSSL" in sys.modules:
        return False
    if "twisted.internet.reactor" in sys.modules:
        return False
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]
    return True
