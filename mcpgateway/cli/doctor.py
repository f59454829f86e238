# -*- test-case-name: tests.cli.test_doctor -*-
"""C{mcpgateway doctor}: run every check of L{mcpgateway.cli.checks} and
print each as ✓ (pass), ○ (info) or ✗ (fail, with a fix); exit 0 only when
nothing fails. A check that crashes is a failure of its own, and the others
still run."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mcpgateway.cli.checks import (
    Check,
    DoctorContext,
    checkBackup,
    checkClassification,
    checkClaudeConfig,
    checkClientBackups,
    checkEnvFiles,
    checkGatewayRunning,
    checkHealth,
    checkLogFile,
    checkNpxCache,
    checkPoolCapacity,
    checkPromotions,
    checkResolution,
    checkStateDir,
    checkWorkspaceKey,
)
from mcpgateway.cli.childexits import checkChildExits
from mcpgateway.cli.configreport import checkConfigEntries
from mcpgateway.cli.context import CliContext, defaultContext
from mcpgateway.cli.output import LEGEND, SYMBOLS, Output, Parser, Subcommands
from mcpgateway.cli.remotechecks import checkRemoteLogins
from mcpgateway.cli.sandbox import checkSandbox
from mcpgateway.cli.sandboxrefusals import checkSandboxRefusals
from mcpgateway.cli.serverrequests import checkServerRequests
from mcpgateway.cli.statusnotes import checkHeldCalls, checkVersion
from mcpgateway.cli.tools import checkPins
from mcpgateway.ops.gatewayprobe import resolveStateDir

DoctorCheck = Callable[[DoctorContext], Check]

DOCTOR_CHECKS: list[tuple[str, DoctorCheck]] = [
    ("gateway", checkGatewayRunning),
    ("health", checkHealth),
    ("version", checkVersion),
    ("childExits", checkChildExits),
    ("heldCalls", checkHeldCalls),
    ("configEntries", checkConfigEntries),
    ("resolution", checkResolution),
    ("serverRequests", checkServerRequests),
    ("remoteLogins", checkRemoteLogins),
    ("promotions", checkPromotions),
    ("poolLimits", checkPoolCapacity),
    ("backup", checkBackup),
    ("claudeConfig", checkClaudeConfig),
    ("clientBackups", checkClientBackups),
    ("npxCache", checkNpxCache),
    ("classification", checkClassification),
    ("stateDir", checkStateDir),
    ("workspaceKey", checkWorkspaceKey),
    ("envFiles", checkEnvFiles),
    ("logFile", checkLogFile),
    ("pins", checkPins),
    ("sandbox", checkSandbox),
    ("sandboxRefusals", checkSandboxRefusals),
]


def runChecks(
    stateDir: Path,
    cli: CliContext | None = None,
    checks: Sequence[tuple[str, DoctorCheck]] = DOCTOR_CHECKS,
) -> Iterator[tuple[str, Check]]:
    """Each check's name and result, in order (C{cli}: the real seams unless given)."""
    cli = cli or defaultContext()
    ctx = DoctorContext(stateDir, cli.probe(stateDir), cli=cli)
    for name, check in checks:
        try:
            result = check(ctx)
        except Exception as e:  # a bug in one check must not hide the others
            result = Check(
                "fail",
                f"{name}: check failed: {type(e).__name__}: {e}",
                "report this as a bug in mcpgateway doctor",
            )
        yield name, result


def cmdDoctor(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    results = list(runChecks(stateDir, ctx))
    ok = all(check.status != "fail" for _, check in results)
    if out.json:
        out.emit(
            {
                "checks": [
                    {
                        "name": name,
                        "status": check.status,
                        "message": check.message,
                        "fix": check.fix,
                        "details": list(check.details),
                    }
                    for name, check in results
                ],
                "ok": ok,
            }
        )
        return 0 if ok else 1
    out.line()
    for _, check in results:
        out.line(f"  {out.paint(SYMBOLS[check.status], check.status)} {check.message}")
        for detail in check.details:
            out.line(f"    {detail}")
        if check.status == "fail" and check.fix:
            out.line(f"    → {check.fix}")
    passed = sum(check.status == "pass" for _, check in results)
    issues = sum(check.status == "fail" for _, check in results)
    out.line()
    summary = f"{passed} passed, {issues} issue(s)"
    out.line(out.paint(summary, "fail" if issues else "pass"))
    if any(name == "health" and check.details for name, check in results):
        out.line()  # the servers' lines are marked with their share
        out.line(LEGEND)
    return 0 if ok else 1


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "doctor",
        parents=common,
        help="check the gateway, its config and state (exit 0 if all pass)",
        description="Check the gateway (running, /health, the version it runs against the"
        " one installed, children that exited and were started again, the calls waiting"
        " for your yes, the config entries it does not"
        " serve and the client files it did not adopt, npx/uvx resolution, server-to-"
        "client requests refused, promoted servers, pool limits),"
        " the config backup, the Claude config, every other client's backup, the npx"
        " cache, classification.json, the state directory's mode (private to you),"
        " the workspace key, the .env files and the log file,"
        " reading each file as the gateway and `restore` do. Each check is ✓"
        " (pass), ○ (info) or ✗ (fail, with a fix); exit 0 only when nothing"
        " fails.",
    ).set_defaults(handler=cmdDoctor)
