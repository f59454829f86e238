# -*- test-case-name: tests.cli.test_start_team -*-
"""The team options of C{mcpgateway start} (docs/guide/team.md,
docs/guide/policy.md): authentication, the Cedar policy and the audit log,
passed through to the gateway as given, as C{--sandbox} is. A file an
option names is made absolute here, so the gateway (started elsewhere,
perhaps detached) reads the file the user meant; the gateway checks each
value itself, and refuses a start it cannot serve in one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

FILE_OPTIONS = (
    ("--auth-tokens", "FILE", "a team's tokens file: every MCP request needs a bearer token"),
    ("--policy", "FILE", "a Cedar policy deciding every call (docs/guide/policy.md)"),
    ("--audit-log", "FILE", "one sealed JSON line per MCP request (docs/guide/team.md)"),
    (
        "--audit-key-file",
        "FILE",
        "the audit chain's HMAC key, outside the log's folder (default: <state-dir>/audit.key)",
    ),
)
"""The options that name a file: C{(option, metavar, help)}."""

VALUE_OPTIONS = (
    ("--oauth-issuer", "URL", "accept OAuth 2.1 access tokens of this issuer"),
    ("--resource-uri", "URL", "the gateway's canonical URI, the audience tokens must name"),
    ("--oauth-scopes", "LIST", "scopes every access token must carry, comma-separated"),
)
"""The options passed on as they are: C{(option, metavar, help)}."""


def dest(option: str) -> str:
    """The argparse attribute of C{option}."""
    return option.removeprefix("--").replace("-", "_")


def addTeamOptions(start: argparse.ArgumentParser) -> None:
    """Give C{start} the gateway's team options."""
    team = start.add_argument_group("team gateway (passed to the gateway)")
    for option, metavar, text in FILE_OPTIONS + VALUE_OPTIONS:
        team.add_argument(option, metavar=metavar, default=None, help=text)
    team.add_argument(
        "--policy-default",
        choices=("deny", "allow"),
        default=None,
        help="what a request no policy decides gets (default deny)",
    )
    team.add_argument(
        "--audit-payloads",
        action="store_true",
        help="keep the arguments and results in the audit log, redacted",
    )


def teamArgv(args: argparse.Namespace) -> list[str]:
    """The gateway options of C{start}'s team options, as given (files absolute)."""
    argv: list[str] = []
    for option, _, _ in FILE_OPTIONS:
        value = getattr(args, dest(option), None)
        if value is not None:
            argv += [option, str(Path(value).expanduser().absolute())]
    for option, _, _ in VALUE_OPTIONS:
        value = getattr(args, dest(option), None)
        if value is not None:
            argv += [option, value]
    if getattr(args, "policy_default", None) is not None:
        argv += ["--policy-default", args.policy_default]
    if getattr(args, "audit_payloads", False):
        argv.append("--audit-payloads")
    return argv
